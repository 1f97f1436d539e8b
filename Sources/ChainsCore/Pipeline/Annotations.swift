/// The `chains.tekton.dev/*` annotation rules (Chains' `pkg/chains/annotations`), as pure functions so that the
/// command line and the controller apply them the same way.
package enum ChainsAnnotations {
    package static let prefix = "chains.tekton.dev/"
    package static let signed = "chains.tekton.dev/signed"
    package static let retries = "chains.tekton.dev/retries"
    package static let transparency = "chains.tekton.dev/transparency"
    package static let transparencyUpload = "chains.tekton.dev/transparency-upload"
    package static let maxRetries = 3

    /// Reconciled ⇔ `signed` is `true` or `failed`; any other value means "sign (again)".
    package static func isReconciled(_ annotations: [String: String]) -> Bool {
        annotations[signed] == "true" || annotations[signed] == "failed"
    }

    /// Chains' `RetryAvailable`: no `retries` yet, or fewer than 3; a non-number means no retry.
    package static func retryAvailable(_ annotations: [String: String]) -> Bool {
        guard let value = annotations[retries] else { return true }
        guard let n = Int(value) else { return false }
        return n < maxRetries
    }

    /// The annotations to write after a failed attempt: `retries` incremented while retries remain,
    /// then `signed: failed` (with `retries` left at 3). Sequence: 0, 1, 2, 3, failed.
    package static func afterFailure(_ annotations: [String: String]) -> [String: String] {
        if retryAvailable(annotations) {
            let next = (annotations[retries].flatMap { Int($0) }).map { $0 + 1 } ?? 0
            return [retries: String(next)]
        }
        return [signed: "failed"]
    }

    /// The annotations to write after success.
    package static func afterSuccess() -> [String: String] { [signed: "true"] }

    /// Ours: the RFC 3161 timestamps over a stored item's signature (base64 DER `TimeStampResponse`s, comma
    /// separated), beside the `tekton` backend's four annotations — what `verify-run` judges a keyless certificate by
    /// when the log gives no time (Rekor v2) or there is no log.
    package static func timestampsKey(shortKey: String) -> String { "chains-in-swift.dev/timestamps-" + shortKey }

    /// Annotation keys the tekton backend writes for one stored item.
    package static func storageKeys(
        shortKey: String
    ) -> (payload: String, signature: String, cert: String, chain: String) {
        (
            prefix + "payload-" + shortKey, prefix + "signature-" + shortKey, prefix + "cert-" + shortKey,
            prefix + "chain-" + shortKey
        )
    }
}
