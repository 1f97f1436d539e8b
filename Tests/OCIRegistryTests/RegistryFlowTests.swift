import ChainsTesting
import Foundation
import HTTPTransport
import OCI
import RegistryAuth
import Testing

@testable import OCIRegistry

/// Against Debian's real docker-registry (distribution 2.8) in each auth mode.
@Suite("Registry flows against distribution 2.8", .serialized)
struct RegistryFlowTests {
    let payload = Data(#"{"critical":{"identity":{"docker-reference":"x"}},"optional":null}"#.utf8)

    func http(
        _ registry: String, _ security: RegistryConnection.Security = .plainHTTP
    ) throws -> (AsyncHTTPClientTransport, ConnectionPolicy) {
        let policy = ConnectionPolicy(registries: [registry: .init(security)])
        return (try AsyncHTTPClientTransport(policy: policy), policy)
    }

    @Test("token auth: a push user attaches a .sig, read back; a pull-only user is refused with insufficient_scope")
    func tokenPush() async throws {
        let reg = try await TokenRegistry()
        defer { Task { await reg.stop() } }
        let (transport, policy) = try http(reg.address)
        defer { Task { try? await transport.shutdown() } }
        let auth = try await directToken(reg, repository: "team/app")
        let subject = try await pushTestImage(
            transport: transport, registry: reg.address, repository: "team/app", tag: "v1", authorization: auth)
        let client = RegistryClient(transport: transport, policy: policy)
        let repo = try ImageReference(parsingRepository: "\(reg.address)/team/app")
        let pusher = client.session(
            repository: repo, credential: Credential(username: "chains", password: "s3cret-push"),
            scopes: [Scope.push("team/app")])
        let layer = CosignLayer.signature(payload: payload, signature: Data([1, 2, 3]), certificate: "", chain: "")
        let result = try await pusher.attach(layer, as: .signature, to: try Digest(parsingSHA256: subject))
        #expect(!result.alreadyPresent)
        #expect(result.tag == "sha256-\(subject.dropFirst(7)).sig")
        let again = try await pusher.attach(layer, as: .signature, to: try Digest(parsingSHA256: subject))
        #expect(again.alreadyPresent)
        let layers = try await pusher.attachments(.signature, of: try Digest(parsingSHA256: subject))
        #expect(layers.count == 1)
        #expect(layers.first?.payload == payload)
        #expect(layers.first?.descriptor.annotations?["dev.cosignproject.cosign/signature"] == "AQID")

        let reader = client.session(
            repository: repo, credential: Credential(username: "reader", password: "r3ad-only"),
            scopes: [Scope.push("team/app")])
        await #expect {
            _ = try await reader.attach(
                CosignLayer.signature(payload: Data("other".utf8), signature: Data([9]), certificate: "", chain: ""),
                as: .signature, to: try Digest(parsingSHA256: subject))
        } throws: { error in
            guard let e = error as? RegistryError else { return false }
            return e.isAuthorizationFailure && e.description.contains(reg.address)
        }
    }
}
