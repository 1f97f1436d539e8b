import Foundation
import Signing

/// One transparency-log entry, whatever the log: what a sigstore bundle v0.3 carries (kind and version, log index
/// and id, the canonicalized body, the inclusion proof with its checkpoint; Rekor v1's promise and integrated time
/// when the log gives them), where the log is, and how Tekton Chains names it on the run. Rekor v1's `RekorEntry`
/// is one source (`RekorEntry.logEntry`); a log without promises or integrated times (Rekor v2) leaves them nil.
package struct LogEntry: Sendable, Equatable {
    /// The entry as a sigstore bundle carries it.
    package var bundleEntry: TransparencyLogEntry
    /// The log's address.
    package var logURL: String
    /// The value for `chains.tekton.dev/transparency` (Rekor v1: `<url>/api/v1/log/entries?logIndex=N`).
    package var annotationValue: String
    /// When the log says it integrated the entry (Rekor v1); nil for a log that gives no time.
    package var integratedTime: Int64?
    /// cosign's `dev.sigstore.cosign/bundle` layer annotation, for an entry with a promise (a v1 SET); nil without.
    package var cosignBundleAnnotation: String?

    package init(
        bundleEntry: TransparencyLogEntry, logURL: String, annotationValue: String, integratedTime: Int64?,
        cosignBundleAnnotation: String?
    ) {
        self.bundleEntry = bundleEntry
        self.logURL = logURL
        self.annotationValue = annotationValue
        self.integratedTime = integratedTime
        self.cosignBundleAnnotation = cosignBundleAnnotation
    }

    /// `hashedrekord`, `dsse`, …
    package var kind: String { bundleEntry.kindVersion.kind }
    package var logIndex: Int64 { Int64(bundleEntry.logIndex) ?? -1 }
    package var canonicalizedBody: Data { Data(base64Encoded: bundleEntry.canonicalizedBody) ?? Data() }
}

extension RekorEntry {
    /// The log-neutral form of this Rekor v1 entry.
    package var logEntry: LogEntry {
        LogEntry(
            bundleEntry: bundleEntry, logURL: logURL, annotationValue: annotationValue, integratedTime: integratedTime,
            cosignBundleAnnotation: cosignBundleAnnotation)
    }
}
