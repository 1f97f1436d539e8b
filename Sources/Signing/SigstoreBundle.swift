import Crypto
import Foundation

/// A sigstore bundle v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`), as protojson: camelCase names,
/// int64 values as strings, bytes as standard base64. Built in this one place for every bundle we write; the
/// keyless work moves it into its own module.
package struct SigstoreBundle: Codable, Sendable, Equatable {
    package static let mediaTypeV03 = "application/vnd.dev.sigstore.bundle.v0.3+json"

    package struct VerificationMaterial: Codable, Sendable, Equatable {
        package struct PublicKeyHint: Codable, Sendable, Equatable { package var hint: String }
        package struct RawBytes: Codable, Sendable, Equatable { package var rawBytes: String }
        package var publicKey: PublicKeyHint?
        package var certificate: RawBytes?
        package var tlogEntries: [TransparencyLogEntry]
        /// RFC 3161 timestamps over the signature; absent when there are none.
        package var timestampVerificationData: TimestampVerificationData?
    }

    /// `timestampVerificationData`: each `signedTimestamp` is a DER RFC 3161 `TimeStampResponse`, base64.
    package struct TimestampVerificationData: Codable, Sendable, Equatable {
        package struct RFC3161: Codable, Sendable, Equatable { package var signedTimestamp: String }
        package var rfc3161Timestamps: [RFC3161]
    }

    package struct Envelope: Codable, Sendable, Equatable {
        package struct Signature: Codable, Sendable, Equatable {
            package var sig: String
            package var keyid: String?
        }
        package var payload: String
        package var payloadType: String
        package var signatures: [Signature]
    }

    /// A signature over an artifact's bytes (what `hashedrekord` logs).
    package struct MessageSignature: Codable, Sendable, Equatable {
        package struct MessageDigest: Codable, Sendable, Equatable {
            package var algorithm: String
            package var digest: String
        }
        package var messageDigest: MessageDigest
        package var signature: String
    }

    package var mediaType: String
    package var verificationMaterial: VerificationMaterial
    package var messageSignature: MessageSignature?
    package var dsseEnvelope: Envelope?

    /// A bundle for a signature over `message` (a simplesigning payload), made by `publicKeyDER` or by the
    /// certificate `certificateDER`.
    package init(
        message: Data, signature: Data, publicKeyDER: Data, certificateDER: Data?,
        tlogEntries: [TransparencyLogEntry] = [], timestamps: [Data] = []
    ) {
        mediaType = Self.mediaTypeV03
        messageSignature = MessageSignature(
            messageDigest: .init(algorithm: "SHA2_256", digest: Data(SHA256.hash(data: message)).base64EncodedString()),
            signature: signature.base64EncodedString())
        verificationMaterial = Self.material(
            publicKeyDER: publicKeyDER, certificateDER: certificateDER, tlogEntries: tlogEntries,
            timestamps: timestamps)
    }

    static func material(
        publicKeyDER: Data, certificateDER: Data?, tlogEntries: [TransparencyLogEntry], timestamps: [Data]
    ) -> VerificationMaterial {
        let stamped =
            timestamps.isEmpty
            ? nil
            : TimestampVerificationData(
                rfc3161Timestamps: timestamps.map { .init(signedTimestamp: $0.base64EncodedString()) })
        if let certificateDER {
            return .init(
                publicKey: nil, certificate: .init(rawBytes: certificateDER.base64EncodedString()),
                tlogEntries: tlogEntries, timestampVerificationData: stamped)
        }
        let hint = Data(SHA256.hash(data: publicKeyDER)).base64EncodedString()
        return .init(
            publicKey: .init(hint: hint), certificate: nil, tlogEntries: tlogEntries,
            timestampVerificationData: stamped)
    }

    /// A bundle for a DSSE envelope with one signature, made by `publicKeyDER` (hinted by its SHA-256) or by the
    /// certificate `certificateDER` (a keyless signer's leaf), with the log entries of that signature.
    package init(
        envelope json: Data, publicKeyDER: Data, certificateDER: Data?, tlogEntries: [TransparencyLogEntry] = [],
        timestamps: [Data] = []
    ) throws(SigningError) {
        guard let env = try? JSONDecoder().decode(DSSE.Envelope.self, from: json), env.signatures.count == 1 else {
            throw SigningError(
                code: .signingFailed, file: "sigstore bundle", reason: "not a DSSE envelope with one signature")
        }
        mediaType = Self.mediaTypeV03
        let keyID = env.signatures[0].keyid ?? ""
        dsseEnvelope = Envelope(
            payload: env.payload, payloadType: env.payloadType,
            signatures: [.init(sig: env.signatures[0].sig, keyid: keyID.isEmpty ? nil : keyID)])
        verificationMaterial = Self.material(
            publicKeyDER: publicKeyDER, certificateDER: certificateDER, tlogEntries: tlogEntries,
            timestamps: timestamps)
    }

    /// Canonical bytes: sorted keys, no escaped slashes — the same bundle always has the same digest, so a retry
    /// finds the referrer it already pushed.
    package func serialized() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding these value types cannot fail.
        return (try? encoder.encode(self)) ?? Data()
    }
}

/// One transparency-log entry as a bundle carries it (`dev.sigstore.rekor.v1.TransparencyLogEntry`).
package struct TransparencyLogEntry: Codable, Sendable, Equatable {
    package struct LogID: Codable, Sendable, Equatable { package var keyId: String }
    package struct KindVersion: Codable, Sendable, Equatable {
        package var kind: String
        package var version: String
    }
    package struct InclusionPromise: Codable, Sendable, Equatable { package var signedEntryTimestamp: String }
    package struct InclusionProof: Codable, Sendable, Equatable {
        package struct Checkpoint: Codable, Sendable, Equatable {
            package var envelope: String
            package init(envelope: String) { self.envelope = envelope }
        }
        package var logIndex: String
        /// Base64, as protojson writes bytes.
        package var rootHash: String
        package var treeSize: String
        package var hashes: [String]
        /// Always written by us; absent in some v0.1 bundles of other clients.
        package var checkpoint: Checkpoint?

        package init(logIndex: String, rootHash: String, treeSize: String, hashes: [String], checkpoint: Checkpoint?) {
            self.logIndex = logIndex
            self.rootHash = rootHash
            self.treeSize = treeSize
            self.hashes = hashes
            self.checkpoint = checkpoint
        }
    }

    package var logIndex: String
    package var logId: LogID
    package var kindVersion: KindVersion
    /// Rekor v1's integrated time (Unix seconds, as protojson writes int64); absent in a Rekor v2 entry, which gives
    /// no time (protojson omits a zero).
    package var integratedTime: String?
    package var inclusionPromise: InclusionPromise?
    package var inclusionProof: InclusionProof?
    package var canonicalizedBody: String

    package init(
        logIndex: Int64, logID: Data, kind: String, version: String, integratedTime: Int64?,
        signedEntryTimestamp: Data?, inclusionProof: InclusionProof?, canonicalizedBody: Data
    ) {
        self.logIndex = String(logIndex)
        self.logId = LogID(keyId: logID.base64EncodedString())
        self.kindVersion = KindVersion(kind: kind, version: version)
        self.integratedTime = integratedTime.map { String($0) }
        self.inclusionPromise = signedEntryTimestamp.map {
            InclusionPromise(signedEntryTimestamp: $0.base64EncodedString())
        }
        self.inclusionProof = inclusionProof
        self.canonicalizedBody = canonicalizedBody.base64EncodedString()
    }
}
