import ChainsTesting
import Crypto
import Foundation
import Signing
import Testing

@testable import Sigstore

/// The sigstore-conformance suite's 70 bundle-verification cases (v0.0.29: Rekor v1, Rekor v2, RFC 3161 timestamps,
/// trust-root validity; vendored under Conformance/, see its NOTICE.md), each verified with the artifact's bytes and
/// with only its digest, as the suite runs them. Every `_fail` case must fail for its own reason (`reasons`): a case
/// refused for another reason would hide the check it exists for.
@Suite("sigstore-conformance bundle verification")
struct ConformanceTests {
    static let base = PackagePaths.root.appendingPathComponent("Tests/SigstoreTests/Conformance")
    static let defaultIdentity =
        "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
    static let defaultIssuer = "https://token.actions.githubusercontent.com"

    static var cases: [String] {
        let dir = base.appendingPathComponent("bundle-verify")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        // Every directory is a case (`happy-path-v0.1` has a dot in its name: a filter on dots once skipped four).
        return names.filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(
                atPath: dir.appendingPathComponent(name).path, isDirectory: &isDirectory) && isDirectory.boolValue
        }.sorted()
    }

    func text(_ url: URL) -> String? {
        (try? String(contentsOf: url, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Verifies one case both ways; returns nil when it passed, else the reason.
    func run(_ name: String, digestOnly: Bool) async throws -> String? {
        let dir = Self.base.appendingPathComponent("bundle-verify/\(name)")
        let bundle = try Data(contentsOf: dir.appendingPathComponent("bundle.sigstore.json"))
        let artifactFile =
            FileManager.default.fileExists(atPath: dir.appendingPathComponent("artifact").path)
            ? dir.appendingPathComponent("artifact") : Self.base.appendingPathComponent("a.txt")
        let bytes = try Data(contentsOf: artifactFile)
        let artifact: BundleArtifact = digestOnly ? .sha256(Data(SHA256.hash(data: bytes))) : .bytes(bytes)
        let rootFile =
            FileManager.default.fileExists(atPath: dir.appendingPathComponent("trusted_root.json").path)
            ? dir.appendingPathComponent("trusted_root.json")
            : Self.base.appendingPathComponent("public-good-trusted_root.json")
        let root = try TrustedRoot(contentsOf: rootFile)
        let authority: BundleAuthority
        if let pem = text(dir.appendingPathComponent("key.pub")) {
            // A key that does not parse is a failed verification, as the suite counts it.
            guard let key = try? PublicKey(pem: pem + "\n", file: "key.pub") else { return "key.pub does not parse" }
            authority = .key(key)
        } else {
            authority = .keyless(
                identity: .exact(text(dir.appendingPathComponent("identity")) ?? Self.defaultIdentity),
                issuer: .exact(text(dir.appendingPathComponent("issuer")) ?? Self.defaultIssuer))
        }
        do {
            _ = try await BundleVerifier.verify(bundle, artifact: artifact, authority: authority, trustedRoot: root)
            return nil
        } catch {
            return error.description
        }
    }

    /// Why each `_fail` case must fail: a part of our message for the check the case exists for.
    static let reasons: [String: String] = [
        "bundle-empty-certificate-chain_fail": "certificate chain is empty",
        "bundle-from-wrong-instance_fail": "which is not a trusted log",
        "bundle-invalid-base64-signature_fail": "message signature is not base64",
        "bundle-malformed-json_fail": "not JSON",
        "bundle-negative-log-index_fail": "negative log index",
        "bundle-unknown-version_fail": "not a sigstore bundle version we know",
        "bundle-with-root-cert_fail": "contains a root certificate",
        "checkpoint-bad-keyhint_fail": "checkpoint is not signed by the log's key",
        "checkpoint-wrong-roothash_fail": "checkpoint is for another tree",
        "dsse-invalid-sig_fail": "DSSE envelope's signature does not verify",
        "dsse-mismatch-envelope_fail": "log entry does not record this signature and content",
        "dsse-mismatch-sig_fail": "log entry does not record this signature and content",
        "inclusion-proof-corrupted-hash_fail": "inclusion proof does not lead to the root hash",
        "incorrect-public-key_fail": "signed entry timestamp does not verify",
        // Made with an integrated time in the (then) future, which has since passed: still refused, as the
        // certificate had expired by then.
        "integrated-time-in-future_fail": "signing certificate was not valid at",
        "intoto-expired-certificate_fail": "signing certificate was not valid at",
        "intoto-log-entry-mismatch_fail": "intoto log entry does not record this envelope",
        "intoto-missing-inclusion-proof_fail": "has no inclusion proof",
        "intoto-set-outside-signing-cert-validity_fail": "signing certificate was not valid at",
        "intoto-tsa-timestamp-outside-cert-validity_fail": "is outside the signing certificate's validity",
        "invalid-checkpoint-signature_fail": "checkpoint is not signed by the log's key",
        "invalid-ct-key_fail": "no SCT verifies",
        "invalid-inclusion-proof_fail": "inclusion proof does not lead to the root hash",
        "managed-key-no-key_fail": "has no certificate",
        "managed-key-wrong-key_fail": "key.pub does not parse",
        "message-digest-mismatch_fail": "message digest is not the artifact's",
        "rekor2-checkpoint-missing-log-signature_fail": "checkpoint is not signed",
        "rekor2-checkpoint-missing-origin_fail": "checkpoint text is not origin, size, root hash",
        "rekor2-checkpoint-missing-root-hash_fail": "checkpoint text is not origin, size, root hash",
        "rekor2-checkpoint-missing-size_fail": "checkpoint text is not origin, size, root hash",
        "rekor2-checkpoint-no-matching-signature_fail": "is not the name of log",
        "rekor2-dsse-invalid-sig_fail": "DSSE envelope's signature does not verify",
        "rekor2-dsse-mismatch-envelope_fail": "does not record this signature and content",
        "rekor2-dsse-mismatch-sig_fail": "does not record this signature and content",
        "rekor2-no-inclusion-proof_fail": "Rekor v2 entry has no inclusion proof",
        "rekor2-no-timestamp_fail": "must come with a signed timestamp",
        "rekor2-timestamp-outside-trust-root-tsa-validity_fail": "not from a trusted timestamp authority",
        "rekor2-timestamp-outside-tsa-cert-validity_fail": "not from a trusted timestamp authority",
        "rekor2-timestamp-payload-mismatch_fail": "not over this signature",
        "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail": "not from a trusted timestamp authority",
        "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail": "not from a trusted timestamp authority",
        "rekor2-timestamp-with-incorrect-time_fail": "signing certificate was not valid at 2025-07-15",
        "set-invalid-signature_fail": "signed entry timestamp does not verify",
        "signature-mismatch_fail": "signature does not verify over the artifact",
        "trust-root-tlog-missing-validity-start_fail": "has no validity start",
        "wrong-hashedrekord-artifact_fail": "log entry does not record this signature and content",
        "wrong-hashedrekord-cert-and-sig_fail": "log entry does not record this signature and content",
        "wrong-hashedrekord-entry_fail": "log entry does not record this signature and content",
        "wrong-material_fail": "message digest is not the artifact's",
    ]

    @Test("every case: _fail cases fail for their reason, the others pass", arguments: cases)
    func conformanceCase(_ name: String) async throws {
        for digestOnly in [false, true] {
            let failure = try await run(name, digestOnly: digestOnly)
            if name.hasSuffix("_fail") {
                let reason = try #require(Self.reasons[name], "\(name) has no expected reason")
                #expect(
                    failure?.contains(reason) == true,
                    "\(name) (\(digestOnly ? "digest" : "file")): \(failure ?? "verified but must fail")")
            } else {
                #expect(failure == nil, "\(name) (\(digestOnly ? "digest" : "file")): \(failure ?? "")")
            }
        }
    }

    @Test("a timestamp outside the certificate's validity is not ignored: the bundle is refused for it")
    func timestampNotIgnored() async throws {
        let name = "intoto-tsa-timestamp-outside-cert-validity_fail"
        for digestOnly in [false, true] {
            let failure = try await run(name, digestOnly: digestOnly)
            #expect(
                failure?.contains("is outside the signing certificate's validity") == true, "\(failure ?? "verified")")
        }
    }

    @Test("the vendored cases are all there (the suite's 70 bundle-verification cases)")
    func vendored() {
        #expect(Self.cases.count == 70, "\(Self.cases.count)")
        #expect(Self.cases.filter { $0.hasSuffix("_fail") }.count == 49)
        #expect(Set(Self.reasons.keys) == Set(Self.cases.filter { $0.hasSuffix("_fail") }))
    }
}
