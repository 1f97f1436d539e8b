import Foundation
import Signing
import Sigstore
import X509

/// Rekor v2 through `RekorV2Client`: every signature as a `hashedrekord` 0.0.2 — a simplesigning signature over the
/// payload's SHA-256, an in-toto envelope's over the SHA-256 of its PAE (Rekor v2 has no DSSE type; sigstore-go and
/// sigstore-python log envelopes this way) — with the signer's certificate when keyless, else its public key. The
/// entry gives no time: the assembly requires a timestamp authority beside it, so every bundle carries one. A retry
/// re-submits the same entry; the log answers that it has it (409) and the client reads it back, never a second one.
package struct RekorV2TransparencyLog: TransparencyLog {
    package let client: RekorV2Client
    package var address: String { client.name }

    package init(client: RekorV2Client) { self.client = client }

    package func record(_ artifact: SignedArtifact) async throws -> TransparencyRecord {
        let certificate = CertificatePEM.leafDER(artifact.certificateChain)
        guard artifact.certificateChain == nil || certificate != nil else {
            throw RekorError(address: address, status: nil, reason: "the signing certificate cannot be encoded")
        }
        let signed: (content: Data, signature: Data) =
            artifact.format == .simpleSigning
            ? (artifact.payload, artifact.signature) : try Self.envelopeParts(artifact.signature, log: address)
        var record = TransparencyRecord(
            entry: try await add(signed, key: artifact.publicKey, certificate: certificate),
            keySource: "the trusted root's key for this log (Rekor v2)")
        if let envelope = artifact.bundleEnvelope, envelope != artifact.signature {
            record.bundleEnvelopeEntry = try await add(
                try Self.envelopeParts(envelope, log: address), key: artifact.publicKey, certificate: certificate)
        }
        return record
    }

    func add(_ signed: (content: Data, signature: Data), key: PublicKey, certificate: Data?) async throws -> LogEntry {
        let proposal: RekorV2Proposal
        do {
            proposal = try RekorV2Proposal(
                signed: signed.content, signature: signed.signature, publicKey: key, certificateDER: certificate)
        } catch {
            throw RekorError(address: address, status: nil, reason: error.reason)
        }
        // The client checks that the entry records exactly this proposal.
        let entry = try await client.add(proposal)
        return LogEntry(
            bundleEntry: entry, logURL: address, annotationValue: "\(address)?logIndex=\(entry.logIndex)",
            integratedTime: nil, cosignBundleAnnotation: nil)
    }

    /// What a DSSE envelope's signature is over (its PAE) and the signature.
    static func envelopeParts(_ json: Data, log: String) throws(RekorError) -> (content: Data, signature: Data) {
        guard let envelope = try? JSONDecoder().decode(DSSE.Envelope.self, from: json),
            envelope.signatures.count == 1, let payload = Data(base64Encoded: envelope.payload),
            let signature = Data(base64Encoded: envelope.signatures[0].sig)
        else {
            throw RekorError(
                address: log, status: nil, reason: "the DSSE envelope to log is not one with one signature")
        }
        return (DSSE.pae(payloadType: envelope.payloadType, payload: payload), signature)
    }
}
