import ChainsTesting
import Crypto
import Foundation
import HTTPTransport
import Synchronization
import Testing
import X509

@testable import Sigstore

@Suite("Fulcio: the simulator on its own, our client against it, certificate reuse", .serialized)
struct FulcioTests {
    let k8s = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
    let spiffe = TestOIDCIssuer(url: "https://spire.example.org", kind: .spiffe)
    let sa = "system:serviceaccount:tekton-chains:tekton-chains-controller"

    func raw(_ fulcio: FulcioSimulator, _ body: [String: Any], bearer: String? = nil) async throws -> HTTPResponse {
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        if let bearer { headers["Authorization"] = "Bearer \(bearer)" }
        return try await http.send(
            HTTPRequest(
                method: "POST", url: URL(string: "\(fulcio.url)/api/v2/signingCert")!, headers: headers,
                body: try JSONSerialization.data(withJSONObject: body)))
    }

    func request(token: String, key: P256.Signing.PrivateKey, challenge: String) throws -> [String: Any] {
        [
            "credentials": ["oidcIdentityToken": token],
            "publicKeyRequest": [
                "publicKey": ["algorithm": "ECDSA", "content": key.publicKey.pemRepresentation],
                "proofOfPossession": try key.signature(for: Data(challenge.utf8)).derRepresentation
                    .base64EncodedString(),
            ],
        ]
    }

    @Test("the simulator refuses what Fulcio refuses, with grpc-gateway's error body")
    func simulatorRefuses() async throws {
        let fulcio = try await FulcioSimulator(issuers: [k8s])
        defer { Task { await fulcio.stop() } }
        let key = P256.Signing.PrivateKey()
        let stranger = TestOIDCIssuer(url: k8s.url, kind: .kubernetes)  // same iss, another signing key
        let cases: [(String, String)] = [
            (stranger.token(subject: sa), sa),  // signature not by the issuer
            (k8s.token(subject: sa, audience: "kubernetes"), sa),  // wrong audience
            (k8s.token(subject: sa, now: Date() - 1200), sa),  // expired
            (k8s.token(subject: sa), "someone-else"),  // proof over the wrong claim
        ]
        for (token, challenge) in cases {
            let response = try await raw(fulcio, try request(token: token, key: key, challenge: challenge))
            #expect(response.status == 400)
            let json = try JSONSerialization.jsonObject(with: response.body) as? [String: Any]
            #expect(json?["code"] as? Int == 3 && (json?["message"] as? String)?.isEmpty == false)
        }
        #expect(fulcio.stats.refused == 4)
        // The token may also come in the Authorization header (what sigstore-go sends).
        var body = try request(token: k8s.token(subject: sa), key: key, challenge: sa)
        body["credentials"] = nil
        #expect(try await raw(fulcio, body, bearer: k8s.token(subject: sa)).status == 200)
    }

    @Test("a Kubernetes identity: Fulcio's profile, checked by openssl (chain, EKU codeSigning, critical SAN, OIDs)")
    func certificateProfile() async throws {
        let fulcio = try await FulcioSimulator(issuers: [k8s])
        defer { Task { await fulcio.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let key = P256.Signing.PrivateKey()
        let chain = try await FulcioClient(address: URL(string: fulcio.url)!, transport: http).certificate(
            for: key, token: try IdentityToken(jwt: k8s.token(subject: sa), source: "test"))
        #expect(chain.count == 3)
        let dir = try TemporaryDirectory()
        let leaf = try dir.write("leaf.pem", try chain[0].serializeAsPEM().pemString + "\n")
        let root = try dir.write("root.pem", try chain[2].serializeAsPEM().pemString + "\n")
        let intermediate = try dir.write("int.pem", try chain[1].serializeAsPEM().pemString + "\n")
        let verified = try await runProcess(
            "/usr/bin/openssl",
            ["verify", "-CAfile", root.path, "-untrusted", intermediate.path, "-purpose", "any", leaf.path])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        let text = try await runProcess("/usr/bin/openssl", ["x509", "-in", leaf.path, "-noout", "-text"]).stdout
        #expect(text.contains("X509v3 Subject Alternative Name: critical"))
        #expect(
            text.contains("URI:https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller")
        )
        #expect(text.contains("Code Signing"))
        #expect(text.contains("1.3.6.1.4.1.57264.1.1:") && text.contains("1.3.6.1.4.1.57264.1.8:"))
        #expect(text.contains(k8s.url))
    }

    @Test("v1 when v2 is absent; a 4xx is not retried; 5xx is retried with backoff")
    func apiVersionsAndRetries() async throws {
        let fulcio = try await FulcioSimulator(issuers: [spiffe])
        defer { Task { await fulcio.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let client = FulcioClient(
            address: URL(string: fulcio.url)!, transport: RetryingTransport(http, sleep: { _ in }))
        let token = try IdentityToken(jwt: spiffe.token(subject: "spiffe://example.org/ns/ci/sa/chains"), source: "t")
        fulcio.setV2Enabled(false)
        let viaV1 = try await client.certificate(for: P256.Signing.PrivateKey(), token: token)
        #expect(fulcio.stats.v1 == 1 && fulcio.stats.v2 == 0)
        #expect(
            EphemeralSigner(key: .init(), chain: viaV1, fulcio: "f", tokenSource: "t").identity
                == "spiffe://example.org/ns/ci/sa/chains")
        fulcio.setV2Enabled(true)
        fulcio.fail(status: 503, count: 2)
        _ = try await client.certificate(for: P256.Signing.PrivateKey(), token: token)
        #expect(fulcio.stats.v2 == 1)
        fulcio.fail(status: 400, count: 1)
        await #expect {
            _ = try await client.certificate(for: P256.Signing.PrivateKey(), token: token)
        } throws: { ($0 as? FulcioError)?.status == 400 && ($0 as? FulcioError)?.isRetryable == false }
        #expect(fulcio.stats.v2 == 1)
    }

    @Test("a certificate for another key is refused")
    func wrongKey() async throws {
        let fulcio = try await FulcioSimulator(issuers: [k8s])
        defer { Task { await fulcio.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let client = FulcioClient(address: URL(string: fulcio.url)!, transport: http)
        let chain = try await client.certificate(
            for: P256.Signing.PrivateKey(), token: try IdentityToken(jwt: k8s.token(subject: sa), source: "t"))
        #expect(throws: FulcioError.self) { try client.check(chain, key: P256.Signing.PrivateKey()) }
    }

    @Test("one certificate for many runs: concurrent callers share one Fulcio call; a new one near expiry")
    func reuse() async throws {
        let fulcio = try await FulcioSimulator(issuers: [k8s])
        defer { Task { await fulcio.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let dir = try TemporaryDirectory()
        try dir.write("token", k8s.token(subject: sa))
        final class Clock: Sendable { let now = Mutex(Date()) }
        let clock = Clock()
        let certificates = KeylessCertificates(
            fulcio: FulcioClient(address: URL(string: fulcio.url)!, transport: http),
            providers: [FileTokenProvider(path: dir.file("token").path)], now: { clock.now.withLock { $0 } })
        let keys = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 { group.addTask { try await certificates.signer().publicKey.keyID } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(keys.count == 1)
        #expect(await certificates.fulcioCalls == 1 && fulcio.stats.v2 == 1)
        clock.now.withLock { $0 += 300 }  // half of 600 s gone: still comfortable
        _ = try await certificates.signer()
        #expect(await certificates.fulcioCalls == 1)
        clock.now.withLock { $0 += 150 }  // 150 s left, under a third of its life: a new one
        let renewed = try await certificates.signer()
        #expect(await certificates.fulcioCalls == 2 && !keys.contains(renewed.publicKey.keyID))
    }
}
