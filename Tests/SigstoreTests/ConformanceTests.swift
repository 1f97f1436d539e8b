import ChainsTesting
import Crypto
import Foundation
import Signing
import Testing

@testable import Sigstore

/// The sigstore-conformance suite's Rekor v1 bundle-verification cases (vendored under Conformance/, see its
/// NOTICE.md), each verified with the artifact's bytes and with only its digest, as the suite runs them.
@Suite("sigstore-conformance bundle verification (Rekor v1)")
struct ConformanceTests {
    static let base = PackagePaths.root.appendingPathComponent("Tests/SigstoreTests/Conformance")
    static let defaultIdentity =
        "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
    static let defaultIssuer = "https://token.actions.githubusercontent.com"

    static var cases: [String] {
        let dir = base.appendingPathComponent("bundle-verify")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { !$0.contains(".") }.sorted()
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

    @Test("every case: _fail cases fail, the others pass", arguments: cases)
    func conformanceCase(_ name: String) async throws {
        for digestOnly in [false, true] {
            let failure = try await run(name, digestOnly: digestOnly)
            if name.hasSuffix("_fail") {
                #expect(failure != nil, "\(name) (\(digestOnly ? "digest" : "file")) verified but must fail")
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

    @Test("the vendored cases are all there (37 Rekor v1 cases)")
    func vendored() {
        #expect(Self.cases.count == 37, "\(Self.cases.count)")
    }
}
