import ChainsCore
import ChainsTesting
import Foundation
import HTTPTransport
import OCI
import RegistryAuth
import Synchronization
import Testing

@testable import OCIRegistry

/// Failure scenarios against the real registry, some through a fault-injecting proxy.
@Suite("Registry scenarios", .serialized)
struct ScenarioTests {
    let push = Credential(username: "chains", password: "s3cret-push")

    func layer(_ n: Int) -> CosignLayer {
        CosignLayer.signature(
            payload: Data("payload \(n)".utf8), signature: Data([UInt8(n)]), certificate: "", chain: "")
    }

    func subject(_ n: Int) throws -> Digest { Digest.sha256(of: Data("subject \(n)".utf8)) }

    /// A token-auth registry behind a fault-injecting proxy.
    func proxied(cdnAuthorization: String? = nil) async throws -> (TokenRegistry, RegistryProxy) {
        let reg = try await TokenRegistry()
        return (reg, try await RegistryProxy(upstream: reg.address, cdnAuthorization: cdnAuthorization))
    }

    func stop(_ reg: TokenRegistry, _ proxy: RegistryProxy) async {
        await proxy.stop()
        await reg.stop()
    }

    @Test("a token that expires at the registry mid-run is refreshed once and the push goes on")
    func tokenExpiry() async throws {
        let reg = try await TokenRegistry()
        defer { Task { await reg.stop() } }
        let transport = try AsyncHTTPClientTransport()
        defer { Task { try? await transport.shutdown() } }
        // distribution accepts a token up to 60 s past its `exp`: a token with exp = now - 56 s lives four more
        // seconds — long enough for one push on a loaded machine (one second was not, seen once).
        reg.tokens.setJWTLifetime(-56)
        let client = RegistryClient(transport: transport)
        let repo = try ImageReference(parsingRepository: "\(reg.address)/team/app")
        let session = client.session(repository: repo, credential: push, scopes: [Scope.push("team/app")])
        _ = try await session.attach(layer(1), as: .signature, to: try subject(1))
        let before = reg.tokens.stats.gets
        try await Task.sleep(for: .seconds(4.5))
        _ = try await session.attach(layer(2), as: .signature, to: try subject(2))
        #expect(reg.tokens.stats.gets >= before + 1)
    }

    @Test("a cached token is not used past its expires_in: a new one is fetched before the registry must refuse it")
    func tokenCacheHonoursExpiry() async throws {
        let reg = try await TokenRegistry()
        defer { Task { await reg.stop() } }
        let transport = try AsyncHTTPClientTransport()
        defer { Task { try? await transport.shutdown() } }
        // The registry would accept the token for an hour; the token server says it lives 120 s.
        reg.tokens.setJWTLifetime(3600)
        reg.tokens.setExpiresIn(120)
        final class Clock: Sendable { let now = Mutex(Date()) }
        let clock = Clock()
        let client = RegistryClient(transport: transport, now: { clock.now.withLock { $0 } })
        let repo = try ImageReference(parsingRepository: "\(reg.address)/team/app")
        let session = client.session(repository: repo, credential: push, scopes: [Scope.push("team/app")])
        _ = try await session.attach(layer(21), as: .signature, to: try subject(21))
        let first = reg.tokens.stats.gets
        _ = try await session.attach(layer(22), as: .signature, to: try subject(22))
        #expect(reg.tokens.stats.gets == first, "a fresh token is reused")
        clock.now.withLock { $0 += 121 }
        _ = try await session.attach(layer(23), as: .signature, to: try subject(23))
        #expect(reg.tokens.stats.gets == first + 1, "an expired token is replaced, not sent")
    }

    @Test("a registry that acknowledges a manifest PUT and stores nothing is caught by the read-back")
    func readAfterWrite() async throws {
        let (reg, proxy) = try await proxied()
        defer { Task { await stop(reg, proxy) } }
        let transport = try AsyncHTTPClientTransport()
        defer { Task { try? await transport.shutdown() } }
        let client = RegistryClient(transport: transport)
        let repo = try ImageReference(parsingRepository: "\(proxy.address)/team/app")
        let session = client.session(repository: repo, credential: push, scopes: [Scope.push("team/app")])
        proxy.swallow("/manifests/sha256-", count: 1)
        await #expect {
            _ = try await session.attach(layer(24), as: .signature, to: try subject(24))
        } throws: { error in
            "\(error)".contains("read back") && "\(error)".contains(proxy.address)
        }
        // Once the registry keeps what it is sent, the same push succeeds.
        let result = try await session.attach(layer(24), as: .signature, to: try subject(24))
        #expect(!result.alreadyPresent)
    }

    @Test("503 answers are retried with backoff (Retry-After honoured) and the push succeeds")
    func unavailableThenRecovery() async throws {
        let (reg, proxy) = try await proxied()
        defer { Task { await stop(reg, proxy) } }
        let base = try AsyncHTTPClientTransport()
        defer { Task { try? await base.shutdown() } }
        final class Box: Sendable { let delays = Mutex<[Double]>([]) }
        let box = Box()
        let retrying = RetryingTransport(base, sleep: { d in box.delays.withLock { $0.append(d) } })
        proxy.fail("/manifests/", status: 503, count: 2)
        let client = RegistryClient(transport: retrying)
        let repo = try ImageReference(parsingRepository: "\(proxy.address)/team/app")
        let result = try await client.session(repository: repo, credential: push, scopes: [Scope.push("team/app")])
            .attach(layer(3), as: .signature, to: try subject(3))
        #expect(!result.alreadyPresent)
        #expect(box.delays.withLock { $0 } == [0, 0])
        #expect(proxy.seen.filter { $0.path.contains("/manifests/") }.count >= 4)
    }

    @Test("503 forever gives up after the attempts and names the registry")
    func unavailableForever() async throws {
        let (reg, proxy) = try await proxied()
        defer { Task { await stop(reg, proxy) } }
        let base = try AsyncHTTPClientTransport()
        defer { Task { try? await base.shutdown() } }
        proxy.fail("/manifests/", status: 503, count: 100)
        let client = RegistryClient(transport: RetryingTransport(base, maxAttempts: 3, sleep: { _ in }))
        let repo = try ImageReference(parsingRepository: "\(proxy.address)/team/app")
        await #expect {
            _ = try await client.session(repository: repo, credential: push, scopes: [Scope.push("team/app")])
                .attach(layer(4), as: .signature, to: try subject(4))
        } throws: { error in
            "\(error)".contains(proxy.address) && "\(error)".contains("503")
        }
    }

    @Test("a blob read redirected to another host gets no credentials, and the content still verifies")
    func redirectLeaksNothing() async throws {
        let reg = try await TokenRegistry()
        let cdnAuth = try await directToken(reg, repository: "team/app")
        let proxy = try await RegistryProxy(upstream: reg.address, cdnAuthorization: cdnAuth)
        defer {
            Task {
                await proxy.stop()
                await reg.stop()
            }
        }
        let transport = try AsyncHTTPClientTransport()
        defer { Task { try? await transport.shutdown() } }
        let client = RegistryClient(transport: transport)
        let repo = try ImageReference(parsingRepository: "\(proxy.address)/team/app")
        let session = client.session(repository: repo, credential: push, scopes: [Scope.push("team/app")])
        _ = try await session.attach(layer(5), as: .signature, to: try subject(5))
        proxy.redirectBlobReads(true)
        let layers = try await session.attachments(.signature, of: try subject(5))
        #expect(layers.first?.payload == Data("payload 5".utf8))
        #expect(!proxy.cdnSeen.isEmpty)
        #expect(proxy.cdnSeen.allSatisfy { !$0.hadAuthorization })
        #expect(proxy.seen.contains { $0.path.contains("/blobs/") && $0.hadAuthorization })
    }

    @Test("htpasswd Basic auth: right password pushes, wrong one is refused with 401")
    func basicAuth() async throws {
        let reg = try await RegistryServer(auth: .htpasswd(["chains": "b4sic-pw"]))
        defer { reg.stop() }
        let transport = try AsyncHTTPClientTransport()
        defer { Task { try? await transport.shutdown() } }
        let client = RegistryClient(transport: transport)
        let repo = try ImageReference(parsingRepository: "\(reg.address)/team/app")
        _ = try await client.session(
            repository: repo, credential: Credential(username: "chains", password: "b4sic-pw"), scopes: []
        )
        .attach(layer(6), as: .signature, to: try subject(6))
        await #expect {
            _ = try await client.session(
                repository: repo, credential: Credential(username: "chains", password: "nope"), scopes: []
            )
            .attach(layer(7), as: .signature, to: try subject(7))
        } throws: { ($0 as? RegistryError)?.status == 401 }
    }

    @Test("TLS with a private CA: refused without the CA bundle, works with --registry-ca")
    func privateCA() async throws {
        let reg = try await RegistryServer(auth: .htpasswd(["chains": "tls-pw"]), tls: true)
        defer { reg.stop() }
        let repo = try ImageReference(parsingRepository: "localhost:\(reg.port)/team/app")
        let credential = Credential(username: "chains", password: "tls-pw")
        let plain = try AsyncHTTPClientTransport()
        defer { Task { try? await plain.shutdown() } }
        await #expect {
            _ = try await RegistryClient(transport: plain).session(repository: repo, credential: credential, scopes: [])
                .attach(layer(8), as: .signature, to: try subject(8))
        } throws: { "\($0)".contains("localhost:\(reg.port)") }
        let policy = ConnectionPolicy(registries: [
            "localhost:\(reg.port)": .init(.customCA(path: reg.tls!.certificate.path))
        ])
        let trusted = try AsyncHTTPClientTransport(policy: policy)
        defer { Task { try? await trusted.shutdown() } }
        let result = try await RegistryClient(transport: trusted, policy: policy)
            .session(repository: repo, credential: credential, scopes: [])
            .attach(layer(8), as: .signature, to: try subject(8))
        #expect(!result.alreadyPresent)
    }

    @Test("an identity token is exchanged with the OAuth2 refresh_token POST; the new refresh token is kept")
    func identityToken() async throws {
        let reg = try await TokenRegistry()
        defer { Task { await reg.stop() } }
        let transport = try AsyncHTTPClientTransport()
        defer { Task { try? await transport.shutdown() } }
        let refresh = reg.tokens.issueRefreshToken(for: "chains")
        let client = RegistryClient(transport: transport)
        let repo = try ImageReference(parsingRepository: "\(reg.address)/team/app")
        _ = try await client.session(
            repository: repo, credential: Credential(identityToken: refresh), scopes: [Scope.push("team/app")]
        )
        .attach(layer(9), as: .signature, to: try subject(9))
        #expect(reg.tokens.stats.posts == 1)
        #expect(reg.tokens.stats.gets == 0)
    }

    @Test("what we push reads back with oras (an independent OCI client)")
    func orasReadsIt() async throws {
        let reg = try await RegistryServer()
        defer { reg.stop() }
        let transport = try AsyncHTTPClientTransport()
        defer { Task { try? await transport.shutdown() } }
        let image = try await pushTestImage(
            transport: transport, registry: reg.address, repository: "team/app", tag: "v1")
        let digest = try Digest(parsingSHA256: image)
        let repo = try ImageReference(parsingRepository: "\(reg.address)/team/app")
        let l = layer(10)
        let result = try await RegistryClient(transport: transport).session(
            repository: repo, credential: .anonymous, scopes: []
        )
        .attach(l, as: .signature, to: digest)
        let check = try await Python.run("oras_read.py", [reg.address, "team/app", result.tag])
        #expect(check.status == 0, "\(check.stderr)")
        let lines = check.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("manifest \(result.manifestDigest)"))
        #expect(lines.contains("layer \(l.digest) \(MediaType.cosignSimpleSigning) \(l.payload.count) ok"))
        #expect(lines.contains("annotation dev.cosignproject.cosign/signature=\(Data([10]).base64EncodedString())"))
    }
}

@Suite("Blob uploads", .serialized)
struct BlobUploadTests {
    @Test("a refused monolithic PUT falls back to a chunked PATCH + PUT")
    func chunkedFallback() async throws {
        let reg = try await RegistryServer()
        let proxy = try await RegistryProxy(upstream: reg.address)
        defer {
            Task {
                await proxy.stop()
                reg.stop()
            }
        }
        let transport = try AsyncHTTPClientTransport()
        defer { Task { try? await transport.shutdown() } }
        proxy.fail("/blobs/uploads/", method: "PUT", status: 416, count: 1)
        let session = RegistryClient(transport: transport).session(
            repository: try ImageReference(parsingRepository: "\(proxy.address)/team/app"), credential: .anonymous,
            scopes: [])
        let blob = Data(repeating: 7, count: 100_000)
        let digest = Digest.sha256(of: blob).description
        try await session.uploadBlob(blob, digest: digest)
        #expect(try await session.blobExists(digest))
        #expect(proxy.seen.contains { $0.method == "PATCH" })
    }

    @Test("a blob present in another repository is mounted (201) instead of uploaded")
    func crossRepositoryMount() async throws {
        let reg = try await RegistryServer()
        defer { reg.stop() }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let transport = CountingTransport(http)
        let client = RegistryClient(transport: transport)
        let source = client.session(
            repository: try ImageReference(parsingRepository: "\(reg.address)/team/source"), credential: .anonymous,
            scopes: [])
        let blob = Data("shared layer".utf8)
        let digest = Digest.sha256(of: blob).description
        try await source.uploadBlob(blob, digest: digest)
        transport.reset()
        let target = client.session(
            repository: try ImageReference(parsingRepository: "\(reg.address)/team/target"), credential: .anonymous,
            scopes: [])
        try await target.uploadBlob(blob, digest: digest, mountFrom: "team/source")
        #expect(transport.byMethod == ["POST": 1])
        #expect(try await target.blobExists(digest))
    }

    @Test("storage.oci.repository sends signatures and attestations to another repository")
    func repositoryOverride() async throws {
        let s = try await SignAndPushTests().setup()
        defer { Task { await s.stop() } }
        try s.dir.write(
            "config.yaml", RunFixtures.ociConfig + "  storage.oci.repository: \(s.registry.address)/signatures/store\n")
        let report = try await SignAndPushTests().sign(
            s, run: RunFixtures.taskRun(image: s.image, digest: s.digest),
            objects: s.pushCredentials)
        #expect(report.exitCode == 0, "\(report.facts.joined(separator: "\n"))")
        #expect(
            report.facts.contains {
                $0.hasPrefix("oci: \(s.registry.address)/signatures/store:sha256-") && $0.contains(".sig: pushed")
            })
        let client = RegistryClient(transport: s.transport)
        let verifier = AttachmentVerifier(
            client: client,
            credentials: [
                SourcedCredential(
                    Credential(username: "reader", password: "r3ad-only"),
                    source: .init(kind: .dockerConfig, origin: "t", key: ""))
            ],
            key: s.key.publicKey)
        let image = try ImageReference(parsingDigest: "\(s.image)@\(s.digest)")
        let store = try ImageReference(parsingRepository: "\(s.registry.address)/signatures/store")
        #expect(try await verifier.verifySignatures(image, repository: store).valid.count == 1)
        #expect(try await verifier.verifySignatures(image).checks.isEmpty)
    }
}

@Suite("Insecure registries are opt-in", .serialized)
struct InsecureTests {
    @Test(
        "--insecure-registry (or storage.oci.repository.insecure) accepts an untrusted certificate; the default refuses it"
    )
    func insecure() async throws {
        let reg = try await RegistryServer(tls: true)
        defer { reg.stop() }
        let repo = try ImageReference(parsingRepository: "localhost:\(reg.port)/team/app")
        let layer = CosignLayer.signature(payload: Data("p".utf8), signature: Data([1]), certificate: "", chain: "")
        let subject = Digest.sha256(of: Data("s".utf8))
        for policy in [
            ConnectionPolicy(registries: ["localhost:\(reg.port)": .init(.insecureSkipVerify)]),
            ConnectionPolicy(default: .init(.insecureSkipVerify)),
        ] {
            let transport = try AsyncHTTPClientTransport(policy: policy)
            let result = try await RegistryClient(transport: transport, policy: policy)
                .session(repository: repo, credential: .anonymous, scopes: []).attach(
                    layer, as: .signature, to: subject)
            try await transport.shutdown()
            #expect(result.tag.hasSuffix(".sig"))
        }
        let strict = try AsyncHTTPClientTransport()
        defer { Task { try? await strict.shutdown() } }
        await #expect {
            _ = try await RegistryClient(transport: strict).session(
                repository: repo, credential: .anonymous, scopes: []
            )
            .attach(layer, as: .signature, to: subject)
        } throws: { error in "\(error)".contains("TLS") || "\(error)".contains("certificate") }
    }
}

@Suite("Mount across repositories with token auth", .serialized)
struct TokenMountTests {
    @Test("the token for a mount carries pull on the source repository, so the registry mounts instead of uploading")
    func mountWithToken() async throws {
        let reg = try await TokenRegistry()
        defer { Task { await reg.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let transport = CountingTransport(http)
        let client = RegistryClient(transport: transport)
        let push = Credential(username: "chains", password: "s3cret-push")
        let blob = Data("shared layer for mount".utf8)
        let digest = Digest.sha256(of: blob).description
        try await client.session(
            repository: try ImageReference(parsingRepository: "\(reg.address)/team/source"), credential: push,
            scopes: [Scope.push("team/source")]
        )
        .uploadBlob(blob, digest: digest)
        transport.reset()
        let target = client.session(
            repository: try ImageReference(parsingRepository: "\(reg.address)/team/target"), credential: push,
            scopes: [Scope.push("team/target")])
        try await target.uploadBlob(blob, digest: digest, mountFrom: "team/source")
        // One token request (push on target + pull on source) and one POST answered 201: mounted.
        #expect(transport.byMethod["POST"] == 1)
        #expect(transport.byMethod["PUT"] == nil)
        #expect(try await target.blobExists(digest))
    }
}
