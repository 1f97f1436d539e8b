import ChainsTesting
import Crypto
import Foundation
import Testing

@testable import Sigstore

/// sigstore-python as a real client of our simulated Fulcio and Rekor (it checks what they answer: the SCT, the
/// log entry), and our bundle verifier on what it signs.
@Suite("sigstore-python signs against the simulators; we verify its bundles", .serialized)
struct SigstorePythonSignTests {
    let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
    let identity = "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller"

    @Test("a message-signature bundle and a DSSE bundle, made by sigstore-python, pass verify; altered ones do not")
    func verifiesSigstorePythonBundles() async throws {
        let fulcio = try await FulcioSimulator(issuers: [issuer])
        let rekor = try await RekorSimulator()
        defer {
            Task {
                await fulcio.stop()
                await rekor.stop()
            }
        }
        let dir = try TemporaryDirectory()
        let trust = try dir.write("trust.json", SigstoreTrust.clientTrustConfig(fulcio: fulcio, rekor: rekor))
        let token = try dir.write(
            "token", issuer.token(subject: "system:serviceaccount:tekton-chains:tekton-chains-controller"))
        let artifact = try dir.write("artifact.txt", "built by a pipeline\n")
        let root = try TrustedRoot(
            json: Data(SigstoreTrust.trustedRoot(fulcio: fulcio, rekor: rekor).utf8), source: "test")
        let bytes = try Data(contentsOf: artifact)
        let authority = BundleAuthority.keyless(identity: .exact(identity), issuer: .exact(issuer.url))

        for dsse in [false, true] {
            let out = dir.file(dsse ? "dsse.sigstore.json" : "blob.sigstore.json")
            let signed = try await Python.run(
                "sigstore_sign.py", [trust.path, token.path, artifact.path, out.path] + (dsse ? ["--dsse"] : []))
            #expect(signed.status == 0, "\(signed.stderr)")
            let bundle = try Data(contentsOf: out)
            for input in [BundleArtifact.bytes(bytes), .sha256(Data(SHA256.hash(data: bytes)))] {
                let verified = try await BundleVerifier.verify(
                    bundle, artifact: input, authority: authority, trustedRoot: root)
                #expect(verified.signer.contains(identity) && verified.logIndex >= 0)
                #expect((verified.statement != nil) == dsse)
            }
            // Another identity, another artifact: refused.
            await #expect(throws: CertificateCheckError.self) {
                _ = try await BundleVerifier.verify(
                    bundle, artifact: .bytes(bytes),
                    authority: .keyless(identity: .exact(identity + "-x"), issuer: .exact(issuer.url)),
                    trustedRoot: root)
            }
            await #expect(throws: CertificateCheckError.self) {
                _ = try await BundleVerifier.verify(
                    bundle, artifact: .bytes(bytes + Data("!".utf8)), authority: authority, trustedRoot: root)
            }
        }
        // sigstore-python's requests went to our simulators: two certificates (one per signing context use may be
        // shared), two log entries.
        #expect(fulcio.stats.v2 >= 1 && rekor.entryCount == 2)
    }
}
