import ChainsConfig
import ChainsTesting
import Foundation
import HTTPTransport
import Signing
import Sigstore
import Synchronization
import Testing
import X509

@testable import ChainsCore

/// The RFC 3161 client on the pipeline's timestamp seam, against a real authority: `openssl ts -reply` behind an
/// HTTP server that answers `POST` as sigstore's timestamp-authority does. Every signature's timestamp verifies
/// against the trusted root's authority, goes into the bundle, and is verified again before a retry reuses it;
/// the authority's failures are typed (retryable or not) and name it.
@Suite("RFC 3161 timestamp authority: openssl's, over HTTP, through the signing service")
struct RFC3161AuthorityTests {
    let key = try! PrivateKey.generate(.ecdsaP256)
    let digest = "sha256:" + String(repeating: "cd", count: 32)

    /// The requests the authority got.
    final class Requests: Sendable {
        let count = Mutex(0)
    }

    /// The authority over HTTP; `answer` may replace openssl's reply (a fault).
    static func serve(
        _ tsa: OpenSSLTimestampAuthority, requests: Requests = Requests(),
        answer: (@Sendable (ServedRequest) -> ServedResponse?)? = nil
    ) async throws -> TestHTTPServer {
        try await tsa.serve(seen: { requests.count.withLock { $0 += 1 } }, answer: answer)
    }

    static func authority(_ tsa: OpenSSLTimestampAuthority) throws -> TrustedRoot.CertificateAuthority {
        try tsa.certificateAuthority(uri: "tsa.test")
    }

    @Test("each signature is timestamped by the authority, verified against the trusted root, and kept in its bundle")
    func signsThroughTheAuthority() async throws {
        let dir = try TemporaryDirectory()
        let tsa = try OpenSSLTimestampAuthority(directory: dir)
        let requests = Requests()
        let server = try await Self.serve(tsa, requests: requests)
        let http = try AsyncHTTPClientTransport()
        let authority = try Self.authority(tsa)
        let client = TimestampClient(
            address: URL(string: "http://127.0.0.1:\(server.port)/api/v1/timestamp")!, transport: http,
            authorities: [authority])
        let seam = RFC3161TimestampAuthority(client: client, authorities: [authority])
        let service = try SigningService(
            config: .defaults,
            signers: FixedSigners(signer: KeySigner(key: key, hash: .sha256Always, origin: "test")),
            backends: [TektonStorage(), RecordingStorage(kind: .oci)], cluster: ObjectStore(),
            timestamps: seam)
        let outcome = await service.sign(
            try annotatedRun(image: "registry.example.com/team-a/app", digest: digest, annotations: [:]))
        #expect(outcome.succeeded, "\(outcome.failures)")
        #expect(requests.count.withLock { $0 } == 2)
        for artifact in outcome.artifacts {
            // An attempt record's timestamp is verified the same way before a retry reuses it.
            let stamp = try #require(artifact.timestamps.first)
            let signature = try #require(artifact.signed.bundleSignature)
            try await seam.verify(stamp, signature: signature)
            await #expect(throws: CertificateCheckError.self) {
                try await seam.verify(stamp, signature: signature + Data([1]))
            }
            let bundle = try JSONEncoder().encode(try artifact.signed.sigstoreBundle())
            let parsed = try ParsedBundle(bundle)
            #expect(parsed.signedTimestamps.count == 1)
            let root = try TrustedRoot(
                json: Data(#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#.utf8),
                source: "t")
            var withAuthority = root
            withAuthority.timestampAuthorities = [authority]
            // What a verifier does with the bundle: every timestamp over its signature, from a trusted authority.
            let verified = try await BundleVerifier.verifyTimestamps(
                parsed.signedTimestamps, signature: parsed.signatureBytes, trustedRoot: withAuthority)
            #expect(verified.count == 1 && abs(verified[0].genTime.timeIntervalSinceNow) < 120)
            // Without that authority in the root, the same bundle is refused.
            await #expect(throws: CertificateCheckError.self) {
                _ = try await BundleVerifier.verifyTimestamps(
                    parsed.signedTimestamps, signature: parsed.signatureBytes, trustedRoot: root)
            }
        }
        await server.stop()
        try await http.shutdown()
    }

    @Test(
        "an authority that is down, answers garbage, refuses, or is not the trusted one: a typed failure naming it",
        arguments: [
            ("503", true, "HTTP 503"), ("garbage", true, "does not verify"), ("400", false, "HTTP 400"),
            ("stranger", false, "not from a trusted timestamp authority"),
        ])
    func failures(fault: String, retryable: Bool, fragment: String) async throws {
        let dir = try TemporaryDirectory()
        let tsa = try OpenSSLTimestampAuthority(directory: dir)
        let stranger = try OpenSSLTimestampAuthority(directory: dir, name: "stranger")
        let server = try await Self.serve(tsa) { _ in
            switch fault {
            case "503": return ServedResponse(status: 503, body: Data("busy".utf8))
            case "garbage": return ServedResponse(status: 200, body: Data("<html>proxy</html>".utf8))
            case "400": return ServedResponse(status: 400, body: Data("unsupported digest".utf8))
            default: return nil
            }
        }
        let http = try AsyncHTTPClientTransport()
        let trusted = try Self.authority(fault == "stranger" ? stranger : tsa)
        let address = "http://127.0.0.1:\(server.port)/api/v1/timestamp"
        let client = TimestampClient(address: URL(string: address)!, transport: http, authorities: [trusted])
        do {
            _ = try await client.timestamp(signature: Data("sig".utf8))
            Issue.record("\(fault): a timestamp was returned")
        } catch let error as TimestampError {
            #expect(error.isRetryable == retryable, "\(error)")
            #expect(
                "\(error)".hasPrefix("timestamp authority \(address): ") && "\(error)".contains(fragment), "\(error)")
            #expect(ChainsError.classify(error, stage: .signing).isRetryable == retryable)
        }
        await server.stop()
        try await http.shutdown()
    }
}
