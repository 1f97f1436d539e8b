import ChainsConfig
import Foundation
import Signing
import Sigstore
import X509

/// What the log recorded for one signed artifact.
package struct TransparencyRecord: Sendable {
    /// The entry for the payload's signature: `hashedrekord` for simplesigning, `dsse` for in-toto envelopes.
    package var entry: LogEntry
    /// For an image signed with the `sigstore-bundle` encoding: the entry for the bundle's own envelope (cosign v3's
    /// image statement), which is what a bundle verifier matches.
    package var bundleEnvelopeEntry: LogEntry?
    /// Where the log's key came from, for the summary.
    package var keySource: String
    /// The same signature in the other logs, when several are written to (`TransparencyLogs`); this record is the
    /// first log's, the one the run's annotation and cosign's layer annotation name.
    package var others: [TransparencyRecord] = []

    /// The entry a sigstore bundle of this artifact carries.
    package var bundleEntry: TransparencyLogEntry { (bundleEnvelopeEntry ?? entry).bundleEntry }
    /// Every log's entry a sigstore bundle of this artifact carries, this log's first.
    package var bundleEntries: [TransparencyLogEntry] { [bundleEntry] + others.map(\.bundleEntry) }
}

/// Several transparency logs at once (a signing config's `rekorTlogConfig` selecting `ALL` or `EXACT n` of several):
/// every signature is logged in each, concurrently; the bundle carries every entry, the run's annotation names the
/// first log's. All or none: one log failing fails the artifact's logging, and the retry writes to them all again —
/// each log answers a signature it already holds with that entry (Rekor's 409, Rekor v2's deduplication), so no
/// log gets a second entry of ours.
package struct TransparencyLogs: TransparencyLog {
    package let members: [any TransparencyLog]

    package init(_ members: [any TransparencyLog]) {
        precondition(!members.isEmpty, "TransparencyLogs needs one log at least")
        self.members = members
    }

    package var address: String { members.map(\.address).joined(separator: ", ") }

    package func record(_ artifact: SignedArtifact) async throws -> TransparencyRecord {
        let records = try await eachConcurrently(members) { try await $0.record(artifact) }
        var first = records[0]
        first.others = Array(records.dropFirst())
        return first
    }
}

/// Where signatures are logged (Rekor). The service calls it after signing and before storing.
package protocol TransparencyLog: Sendable {
    /// The log's address, for messages.
    var address: String { get }
    func record(_ artifact: SignedArtifact) async throws -> TransparencyRecord
}

/// Rekor v1 through `RekorClient`: the verifier is the signer's certificate when keyless, else its public key, as
/// Chains logs it. Every entry comes back checked (SET, inclusion proof, checkpoint, body), and one made earlier
/// for the same signature is found (409), never made twice.
package struct RekorTransparencyLog: TransparencyLog {
    package let client: RekorClient
    package var address: String { client.address.absoluteString }

    package init(client: RekorClient) { self.client = client }

    package func record(_ artifact: SignedArtifact) async throws -> TransparencyRecord {
        let verifier = Self.verifierPEM(artifact)
        let proposal: RekorProposal =
            artifact.format == .simpleSigning
            ? .hashedRekord(payload: artifact.payload, signature: artifact.signature, verifierPEM: verifier)
            : .dsse(envelope: artifact.signature, verifierPEM: verifier)
        let entry = try await client.add(proposal)
        try Self.checkTime(entry, certificate: artifact.certificateChain?.first, log: address)
        var record = TransparencyRecord(
            entry: entry.logEntry,
            keySource: client.logs.isEmpty
                ? "the log's key as the log itself serves it (no trusted root: consistency checked, not who runs the log)"
                : "the trusted root's key for this log")
        if let envelope = artifact.bundleEnvelope, envelope != artifact.signature {
            let bundled = try await client.add(.dsse(envelope: envelope, verifierPEM: verifier))
            try Self.checkTime(bundled, certificate: artifact.certificateChain?.first, log: address)
            record.bundleEnvelopeEntry = bundled.logEntry
        }
        return record
    }

    static func verifierPEM(_ artifact: SignedArtifact) -> String {
        if let leaf = artifact.certificateChain?.first, let pem = try? leaf.serializeAsPEM().pemString {
            return pem + "\n"
        }
        return artifact.publicKey.pem
    }

    /// A keyless signature counts only if the log recorded it while the certificate was valid.
    package static func checkTime(_ entry: RekorEntry, certificate: Certificate?, log: String) throws(RekorError) {
        guard let certificate else { return }
        let time = entry.integratedDate
        guard certificate.notValidBefore <= time, time <= certificate.notValidAfter else {
            throw RekorError(
                address: log, status: nil,
                reason:
                    "entry \(entry.logIndex) was integrated at \(time), outside the certificate's validity (\(certificate.notValidBefore) – \(certificate.notValidAfter))"
            )
        }
    }
}

/// Whether an artifact is logged: every signature, or only one an earlier attempt made (manual mode's retry).
enum LogChoice: Sendable {
    case always(any TransparencyLog)
    case reused(any TransparencyLog)

    func log(reused: Bool) -> (any TransparencyLog)? {
        switch self {
        case .always(let log): return log
        case .reused(let log): return reused ? log : nil
        }
    }
}

/// Which runs are logged: all with `transparency.enabled: "true"`; with `"manual"`, those annotated
/// `chains.tekton.dev/transparency-upload: "true"` that have no `chains.tekton.dev/transparency` yet (Chains' rule).
enum TransparencyRules {
    /// Manual mode, a run that opted in and already has its entry: a retry that reuses an earlier signature logs it
    /// again — Rekor answers with the entry it has (409), not a new one — so the layers and bundles pushed now
    /// carry it.
    static func shouldRelog(_ annotations: [String: String], config: ChainsConfig) -> Bool {
        config.transparency.mode == .manual && annotations[ChainsAnnotations.transparencyUpload] == "true"
            && annotations[ChainsAnnotations.transparency] != nil
    }

    static func shouldLog(_ annotations: [String: String], config: ChainsConfig) -> Bool {
        switch config.transparency.mode {
        case .off: return false
        case .on: return true
        case .manual:
            return annotations[ChainsAnnotations.transparency] == nil
                && annotations[ChainsAnnotations.transparencyUpload] == "true"
        }
    }
}
