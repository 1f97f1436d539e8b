import Foundation
import HTTPTransport
import Logging
import Sigstore

/// A sigstore trusted root through TUF, for `chains sign` (chains-config's `signers.x509.tuf.*`) and
/// `chains trusted-root`.
package enum LocalTrust {
    /// Runs the TUF update against `mirror`, from the pinned `rootFile` or — for sigstore's public-good mirror —
    /// the embedded root, and returns the checked `trusted_root.json` (parsed and as bytes), the checked bytes of
    /// each of `extra` targets (a signing config), and where they came from. Errors name the chains-config key to fix.
    package static func viaTUF(
        mirror text: String, rootFile: String?, cache: URL?, timeout: Duration, logger: Logger, extra: [String] = []
    ) async throws(ChainsError) -> (root: TrustedRoot, json: Data, source: String, extra: [Data]) {
        guard let mirror = URL(string: text), mirror.scheme == "https" || mirror.scheme == "http", mirror.host != nil
        else {
            throw ChainsError(.badInput, "\"\(text)\" is not an https URL", key: "signers.x509.tuf.mirror.url")
        }
        let initial: Data
        if let rootFile {
            guard let data = FileManager.default.contents(atPath: rootFile) else {
                throw ChainsError(.badInput, "cannot be read", file: rootFile, key: "signers.x509.tuf.root.file")
            }
            initial = data
        } else if text == PublicGoodTUFRoot.mirror {
            initial = Data(PublicGoodTUFRoot.json.utf8)
        } else {
            throw ChainsError(
                .badInput,
                "is not sigstore's public-good mirror, so there is no root to start from: pin its root.json with signers.x509.tuf.root.file (Chains trusts whatever root the mirror serves)",
                key: "signers.x509.tuf.mirror.url")
        }
        let http: AsyncHTTPClientTransport
        do {
            http = try AsyncHTTPClientTransport(timeouts: HTTPTimeouts(request: timeout), logger: logger)
        } catch {
            throw ChainsError(.badInput, "\(error)", key: "signers.x509.tuf.mirror.url")
        }
        let location = cache ?? TUFClient.defaultCache(for: mirror)
        let client = TUFClient(
            mirror: mirror, transport: RetryingTransport(http), cache: location, initialRoot: initial)
        do {
            let fetched = try await client.targets(["trusted_root.json"] + extra)
            try? await http.shutdown()
            let root = try TrustedRoot(json: fetched[0], source: "\(text) target trusted_root.json")
            let source = "TUF \(mirror.absoluteString) (target trusted_root.json, cached in \(location.path))"
            return (root, fetched[0], source, Array(fetched.dropFirst()))
        } catch {
            try? await http.shutdown()
            let retryable = (error as? TUFError)?.isRetryable ?? (error is TransportError)
            throw ChainsError(
                .badInput, "\(error)", key: "signers.x509.tuf.mirror.url", underlying: error, isRetryable: retryable)
        }
    }
}
