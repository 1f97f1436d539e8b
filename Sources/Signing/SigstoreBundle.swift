import Crypto
import Foundation

/// A sigstore bundle v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`), as protojson: camelCase names,
/// int64 values as strings, bytes as standard base64. Built in this one place for every bundle we write; the
/// keyless work moves it into its own module.
public struct SigstoreBundle: Codable, Sendable, Equatable {
    public static let mediaTypeV03 = "application/vnd.dev.sigstore.bundle.v0.3+json"

    public struct VerificationMaterial: Codable, Sendable, Equatable {
        public struct PublicKeyHint: Codable, Sendable, Equatable { public var hint: String }
        public struct RawBytes: Codable, Sendable, Equatable { public var rawBytes: String }
        public var publicKey: PublicKeyHint?
        public var certificate: RawBytes?
        public var tlogEntries: [TransparencyLogEntry]
        /// RFC 3161 timestamps over the signature; absent when there are none.
        public var timestampVerificationData: TimestampVerificationData?
    }

    /// `timestampVerificationData`: each `signedTimestamp` is a DER RFC 3161 `TimeStampResponse`, base64.
    public struct TimestampVerificationData: Codable, Sendable, Equatable {
        public struct RFC3161: Codable, Sendable, Equatable { public var signedTimestamp: String }
        public var rfc3161Timestamps: [RFC3161]
    }

    public struct Envelope: Codable, Sendable, Equatable {
        public struct Signature: Codable, Sendable, Equatable {
            public var sig: String
            public var keyid: String?
        }
        public var payload: String
        public var payloadType: String
        public var signatures: [Signature]
    }

    /// A signature over an artifact's bytes (what `hashedrekord` logs).
    public struct MessageSignature: Codable, Sendable, Equatable {
        public struct MessageDigest: Codable, Sendable, Equatable {
            public var algorithm: String
            public var digest: String
        }
        public var messageDigest: MessageDigest
        public var signature: String
    }

    public var mediaType: String
    public var verificationMaterial: VerificationMaterial
    public var messageSignature: MessageSignature?
    public var dsseEnvelope: Envelope?

    /// A bundle for a signature over `message` (a simplesigning payload), made by `publicKeyDER` or by the
    /// certificate `certificateDER`.
    public init(
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
    public init(
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
    public func serialized() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding these value types cannot fail.
        return (try? encoder.encode(self)) ?? Data()
    }
}

/// One transparency-log entry as a bundle carries it (`dev.sigstore.rekor.v1.TransparencyLogEntry`).
public struct TransparencyLogEntry: Codable, Sendable, Equatable {
    public struct LogID: Codable, Sendable, Equatable { public var keyId: String }
    public struct KindVersion: Codable, Sendable, Equatable {
        public var kind: String
        public var version: String
    }
    public struct InclusionPromise: Codable, Sendable, Equatable { public var signedEntryTimestamp: String }
    public struct InclusionProof: Codable, Sendable, Equatable {
        public struct Checkpoint: Codable, Sendable, Equatable {
            public var envelope: String
            public init(envelope: String) { self.envelope = envelope }
        }
        public var logIndex: String
        /// Base64, as protojson writes bytes.
        public var rootHash: String
        public var treeSize: String
        public var hashes: [String]
        /// Always written by us; absent in some v0.1 bundles of other clients.
        public var checkpoint: Checkpoint?

        public init(logIndex: String, rootHash: String, treeSize: String, hashes: [String], checkpoint: Checkpoint?) {
            self.logIndex = logIndex
            self.rootHash = rootHash
            self.treeSize = treeSize
            self.hashes = hashes
            self.checkpoint = checkpoint
        }
    }

    public var logIndex: String
    public var logId: LogID
    public var kindVersion: KindVersion
    public var integratedTime: String
    public var inclusionPromise: InclusionPromise?
    public var inclusionProof: InclusionProof?
    public var canonicalizedBody: String

    public init(
        logIndex: Int64, logID: Data, kind: String, version: String, integratedTime: Int64,
        signedEntryTimestamp: Data?, inclusionProof: InclusionProof?, canonicalizedBody: Data
    ) {
        self.logIndex = String(logIndex)
        self.logId = LogID(keyId: logID.base64EncodedString())
        self.kindVersion = KindVersion(kind: kind, version: version)
        self.integratedTime = String(integratedTime)
        self.inclusionPromise = signedEntryTimestamp.map {
            InclusionPromise(signedEntryTimestamp: $0.base64EncodedString())
        }
        self.inclusionProof = inclusionProof
        self.canonicalizedBody = canonicalizedBody.base64EncodedString()
    }
}
