import ChainsConfig
import Foundation
import Signing
import Sigstore
import SwiftASN1
import X509

/// What one attempt signed for an artifact, kept on the run when the attempt did not finish, so the next attempt
/// stores and logs the same signature instead of making another. A keyless signature cannot be remade (each
/// certificate has a new key); a second one would be a second `.att` layer and a second Rekor entry for the same
/// payload. Annotation `chains-in-swift.dev/attempt-<short key>`, JSON; removed once the run is signed. Provenance
/// leaves it out (like `chains.tekton.dev/*`).
package struct AttemptRecord: Codable, Sendable, Equatable {
    package static let prefix = "chains-in-swift.dev/attempt-"

    package var format: String
    /// The payload (simplesigning) — for in-toto formats it is inside the envelope, so not repeated.
    package var payload: String?
    /// The raw signature (simplesigning) or the DSSE envelope JSON, base64.
    package var signature: String
    /// The signer's certificate and chain (keyless), PEM; nil for a key.
    package var chain: String?
    /// cosign v3's signed image statement for the `sigstore-bundle` encoding, base64.
    package var bundleEnvelope: String?
    /// RFC 3161 timestamps over the bundle's signature (DER `TimeStampResponse`s, base64), when one was made.
    package var timestamps: [String]?

    package static func key(shortKey: String) -> String { prefix + shortKey }
    /// Starts the warning for a record that was not reused (the controller makes it a Warning Event).
    package static let warningPrefix = "attempt record "

    init(_ artifact: ArtifactOutcome) {
        self.init(
            format: artifact.format, payload: artifact.payload, signature: artifact.signature,
            chain: artifact.certificateChain, bundleEnvelope: artifact.bundleEnvelope,
            timestamps: artifact.timestamps)
    }

    init(_ artifact: SignedArtifact) {
        self.init(
            format: artifact.format, payload: artifact.payload, signature: artifact.signature,
            chain: artifact.certificateChain, bundleEnvelope: artifact.bundleEnvelope,
            timestamps: artifact.timestamps)
    }

    init(
        format: PayloadFormat, payload: Data, signature: Data, chain: [Certificate]?, bundleEnvelope: Data?,
        timestamps: [SignedTimestamp] = []
    ) {
        self.timestamps = timestamps.isEmpty ? nil : timestamps.map { $0.der.base64EncodedString() }
        self.format = format.rawValue
        self.payload = format == .simpleSigning ? payload.base64EncodedString() : nil
        self.signature = signature.base64EncodedString()
        self.chain = chain.map(CertificatePEM.pem)
        self.bundleEnvelope = bundleEnvelope?.base64EncodedString()
    }

    var annotationValue: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// nil when the run carries no record for `shortKey`; a refusal when what it carries is not a record.
    static func read(_ annotations: [String: String], shortKey: String) -> Result<AttemptRecord, RecordRefusal>? {
        guard let text = annotations[key(shortKey: shortKey)] else { return nil }
        do {
            return .success(try JSONDecoder().decode(AttemptRecord.self, from: Data(text.utf8)))
        } catch {
            return .failure(RecordRefusal("it is not an attempt record (not JSON of the record's shape)"))
        }
    }

    /// The earlier attempt's signature, when it is exactly what signing now would make — anything else on the run
    /// may have been put there by whoever can write the run's annotations, and is refused with the reason:
    /// - the format is the one configured now;
    /// - the signer is the one configured now: no certificate and `current` is a key (key, cosign key, KMS), whose
    ///   public key must verify the signature; or a certificate and `current` is keyless, and `checkCertificate`
    ///   (the keyless source: same identity, issued by a Fulcio CA of the trusted root, SCT) accepts it, with
    ///   comfortable validity left (an expired one could no longer be logged inside its validity);
    /// - the payload is byte for byte `planned`, the payload this attempt would sign (for in-toto, inside an
    ///   envelope of the in-toto payload type);
    /// - the bundle statement is there exactly when this attempt would make one, over `bundleStatement`.
    /// - its timestamps are there only when a timestamp authority is configured, and that authority verifies each
    ///   over the signature a bundle carries; none, with an authority configured, is a signature whose timestamp an
    ///   earlier attempt could not get (the authority was down): reused and timestamped now, as long as its
    ///   certificate is still valid now (a timestamp outside it would make a bundle no verifier accepts).
    func reusable(
        for item: PlannedArtifact, planned: Data, bundleStatement: Data?, current: any Signer, now: Date,
        timestampAuthority: (any TimestampAuthority)? = nil,
        checkCertificate: ([Certificate]) async throws -> Void
    ) async throws(RecordRefusal) -> ReusableSignature {
        guard format == item.setting.format.rawValue else {
            throw RecordRefusal("it was made for format \(format), and \(item.setting.format) is configured now")
        }
        guard let signature = Data(base64Encoded: signature) else {
            throw RecordRefusal("its signature is not base64")
        }
        let certificates = try await signerCheck(current: current, now: now, checkCertificate: checkCertificate)
        let key = try certificates.map(Self.leafKey) ?? current.publicKey
        if item.setting.format == .simpleSigning {
            guard let payload = self.payload.flatMap({ Data(base64Encoded: $0) }), payload == planned else {
                throw RecordRefusal("its payload is not the one planned for this artifact now")
            }
            guard key.isValidSignature(signature, for: payload) else {
                throw RecordRefusal("its signature does not verify with \(Self.describe(key, certificates))")
            }
        } else {
            try Self.checkEnvelope(
                signature, payload: planned, key: key, certificates: certificates, what: "its envelope")
        }
        let envelope = try bundleEnvelope.map { text throws(RecordRefusal) -> Data in
            guard let data = Data(base64Encoded: text) else {
                throw RecordRefusal("its bundle statement is not base64")
            }
            return data
        }
        switch (envelope, bundleStatement) {
        case (nil, nil): break
        case (let envelope?, let statement?):
            try Self.checkEnvelope(
                envelope, payload: statement, key: key, certificates: certificates, what: "its bundle statement")
        case (nil, _?): throw RecordRefusal("it has no bundle statement, and storage.oci.encoding-format asks for one")
        case (_?, nil): throw RecordRefusal("it has a bundle statement, which this configuration does not make")
        }
        let stamps = try await checkTimestamps(
            signature: SignedArtifact.bundleSignature(
                format: item.setting.format, signature: signature, bundleEnvelope: envelope),
            authority: timestampAuthority, leaf: certificates?.first, now: now)
        return ReusableSignature(
            payload: planned, signature: signature, chain: certificates, publicKey: key, bundleEnvelope: envelope,
            timestamps: stamps)
    }

    /// The record's timestamps, when they are what this configuration makes: none without a timestamp authority;
    /// with one, each verified by it over `signature` — or none yet (the service then asks for one), if the
    /// certificate, when there is one, is valid `now`.
    func checkTimestamps(
        signature: Data?, authority: (any TimestampAuthority)?, leaf: Certificate? = nil, now: Date = Date()
    ) async throws(RecordRefusal) -> [SignedTimestamp] {
        let encoded = timestamps ?? []
        guard let authority else {
            if encoded.isEmpty { return [] }
            throw RecordRefusal("it carries a timestamp, and this configuration has no timestamp authority")
        }
        guard !encoded.isEmpty else {
            if let leaf, !(leaf.notValidBefore <= now && now <= leaf.notValidAfter) {
                throw RecordRefusal(
                    "it has no timestamp, and its certificate (valid until \(leaf.notValidAfter)) can no longer get "
                        + "one from \(authority.address)")
            }
            return []
        }
        guard let signature else { throw RecordRefusal("the signature its timestamp is over cannot be read") }
        // One per authority, none twice (all or none are kept: a partial set is not ours).
        guard encoded.count == authority.authorityCount, Set(encoded).count == encoded.count else {
            throw RecordRefusal(
                "it carries \(encoded.count) timestamp(s), and this configuration makes \(authority.authorityCount), "
                    + "one from each of \(authority.address)")
        }
        var out: [SignedTimestamp] = []
        for text in encoded {
            guard let der = Data(base64Encoded: text) else { throw RecordRefusal("a timestamp is not base64") }
            let stamp = SignedTimestamp(der: der, authority: authority.address)
            do {
                try await authority.verify(stamp, signature: signature)
            } catch {
                throw RecordRefusal("its timestamp is not one \(authority.address) made over its signature: \(error)")
            }
            out.append(stamp)
        }
        return out
    }

    /// The record's certificate chain when the configured signer is keyless and accepts it; nil when both are keys.
    func signerCheck(
        current: any Signer, now: Date, checkCertificate: ([Certificate]) async throws -> Void
    ) async throws(RecordRefusal) -> [Certificate]? {
        switch (chain, current.certificateChain) {
        case (nil, nil):
            return nil
        case (_?, nil):
            throw RecordRefusal(
                "it was signed with a certificate, and this configuration signs with a key (\(current.origin))")
        case (nil, _?):
            throw RecordRefusal("it was signed with a key, and this configuration signs keylessly")
        case (let pem?, _?):
            guard let documents = try? PEMDocument.parseMultiple(pemString: pem), !documents.isEmpty else {
                throw RecordRefusal("its certificate chain is not PEM")
            }
            let parsed = documents.compactMap { try? Certificate(derEncoded: $0.derBytes) }
            guard parsed.count == documents.count else {
                throw RecordRefusal("a certificate of its chain does not parse")
            }
            guard parsed[0].notValidAfter > now.addingTimeInterval(60) else {
                throw RecordRefusal("its certificate expires at \(parsed[0].notValidAfter), too soon to log it")
            }
            do {
                try await checkCertificate(parsed)
            } catch {
                throw RecordRefusal("its certificate is not one this configuration signs with: \(error)")
            }
            return parsed
        }
    }

    static func leafKey(_ chain: [Certificate]) throws(RecordRefusal) -> PublicKey {
        guard let key = try? PublicKey(certificateKey: chain[0].publicKey) else {
            throw RecordRefusal("its certificate's key is not a supported public key")
        }
        return key
    }

    static func describe(_ key: PublicKey, _ chain: [Certificate]?) -> String {
        chain == nil ? "the configured key (\(key.keyID.prefix(16))…)" : "its certificate's key"
    }

    /// An in-toto DSSE envelope over exactly `payload`, signed by `key`.
    static func checkEnvelope(
        _ data: Data, payload: Data, key: PublicKey, certificates: [Certificate]?, what: String
    ) throws(RecordRefusal) {
        guard let envelope = try? JSONDecoder().decode(DSSE.Envelope.self, from: data) else {
            throw RecordRefusal("\(what) is not a DSSE envelope")
        }
        guard envelope.payloadType == DSSE.inTotoPayloadType, Data(base64Encoded: envelope.payload) == payload else {
            throw RecordRefusal("\(what) is not over the payload planned for this artifact now")
        }
        guard DSSE.verify(envelope: data, publicKey: key) == payload else {
            throw RecordRefusal("\(what) does not verify with \(describe(key, certificates))")
        }
    }
}

/// Why a record on the run is not reused. The artifact is signed anew and the reason said in a warning.
struct RecordRefusal: Error, Sendable, CustomStringConvertible {
    var reason: String
    init(_ reason: String) { self.reason = reason }
    var description: String { reason }
}

/// A signature from an earlier attempt that passed every check of `AttemptRecord.reusable`.
struct ReusableSignature: Sendable {
    var payload: Data
    var signature: Data
    var chain: [Certificate]?
    var publicKey: PublicKey
    var bundleEnvelope: Data?
    var timestamps: [SignedTimestamp]
}

/// Keeps what an attempt signed on the run before anything is pushed, so that an attempt that dies half-way (a
/// killed controller) leaves it for the next one. The controller patches the run; `chains sign` needs none (it
/// writes the run, records included, when the attempt ends).
package protocol AttemptRecorder: Sendable {
    /// `annotations` are `chains-in-swift.dev/attempt-<short key>` records to add to the run.
    func record(_ annotations: [String: String], on run: RunContext) async throws
}

/// Stands for the signer of a reused signature: its key (the current key, or the earlier certificate's), never
/// asked to sign again.
struct ReusedSigner: Signer {
    let publicKey: PublicKey
    let certificateChain: [Certificate]?
    var origin: String {
        "the signature an earlier attempt of this run made"
            + (certificateChain.map {
                " (certificate for \(KeylessVerifier.identities(of: $0[0]).first ?? "\($0[0].subject)"))"
            } ?? "")
    }
    func sign(_ message: Data) throws -> Data {
        throw SigningError(code: .signingFailed, file: "", reason: "a reused signature is not signed again")
    }
}
