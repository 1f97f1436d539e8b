import ChainsCore
import ChainsTesting
import Foundation
import HTTPTransport
import KubeModels
import Signing
import Testing

@testable import CloudCredentials

/// `gcpkms://…/cryptoKeyVersions/N` with the GKE metadata server's token, against simulators of both.
@Suite("KMS signers: gcpkms:// against Cloud KMS and metadata simulators", .serialized)
struct GCPKMSTests {
    let version = "projects/chains/locations/global/keyRings/ci/cryptoKeys/signing/cryptoKeyVersions/1"

    @Test("the Cloud KMS simulator: no or a wrong token 401, another key 404, a short digest 400")
    func simulator() async throws {
        let kms = try await GCPKMSSimulator(version: version) { "ya29.good" }
        defer { Task { await kms.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        func send(_ method: String, _ path: String, token: String?, body: String? = nil) async throws -> Int {
            var headers: HTTPHeaders = [:]
            if let token { headers["Authorization"] = "Bearer \(token)" }
            return try await http.send(
                HTTPRequest(
                    method: method, url: URL(string: kms.endpoint + "v1/" + path)!, headers: headers,
                    body: body.map { Data($0.utf8) })
            ).status
        }
        #expect(try await send("GET", "\(version)/publicKey", token: nil) == 401)
        #expect(try await send("GET", "\(version)/publicKey", token: "ya29.bad") == 401)
        #expect(try await send("GET", "projects/x/publicKey", token: "ya29.good") == 404)
        #expect(
            try await send(
                "POST", "\(version):asymmetricSign", token: "ya29.good", body: #"{"digest":{"sha256":"AAAA"}}"#) == 400)
        #expect(try await send("GET", "\(version)/publicKey", token: "ya29.good") == 200)
    }

    @Test("a run and its image signed with the key version; both verify; a kmsref without a version is named")
    func signs() async throws {
        let metadata = try await GCPMetadataSimulator()
        defer { Task { await metadata.stop() } }
        let kms = try await GCPKMSSimulator(version: version) { metadata.token }
        defer { Task { await kms.stop() } }
        let dir = try TemporaryDirectory()
        func setup(_ kmsref: String) throws -> LocalSetup {
            var setup = LocalSetup(
                configFile: try dir.write(
                    "config.yaml",
                    "artifacts.taskrun.format: slsa/v1\nartifacts.taskrun.signer: kms\nartifacts.oci.signer: kms\n"
                        + "artifacts.oci.storage: tekton\nsigners.kms.kmsref: \(kmsref)\n"))
            setup.environment = [
                "GCE_METADATA_HOST": metadata.host, "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS": kms.endpoint,
            ]
            return setup
        }
        let signed = await signRunFile(
            PackagePaths.example("taskrun-kaniko.yaml"), setup: try setup("gcpkms://\(version)"))
        #expect(signed.exitCode == 0, "\(signed.facts)")
        #expect(signed.text.contains("Cloud KMS key gcpkms://\(version)") && kms.signs == 2, "\(signed.text)")
        #expect(metadata.requests == 1, "one token for the key and both signatures")
        let failures = try await independentFailures(signed, publicKeyPEM: kms.key.publicKey.pemRepresentation, in: dir)
        #expect(failures.isEmpty, "\(failures)")
        #expect(!signed.text.contains(metadata.token))

        let unversioned = await signRunFile(
            PackagePaths.example("taskrun-kaniko.yaml"),
            setup: try setup("gcpkms://projects/chains/locations/global/keyRings/ci/cryptoKeys/signing"))
        #expect(
            unversioned.exitCode == 2 && unversioned.text.contains("signers.kms.kmsref: is not gcpkms://projects/P/"),
            "\(unversioned.text)")
    }
}
