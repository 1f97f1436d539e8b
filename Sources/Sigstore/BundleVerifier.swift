import Crypto
import Foundation
import Signing
import X509

/// What a bundle is checked against: the artifact's bytes, or only its SHA-256 digest.
package enum BundleArtifact: Sendable {
    case bytes(Data)
    case sha256(Data)

    package var digest: Data {
        switch self {
        case .bytes(let data): return Data(SHA256.hash(data: data))
        case .sha256(let digest): return digest
        }
    }
}

/// Who must have signed a bundle: a key (`--key`), or a keyless identity.
package enum BundleAuthority: Sendable {
    case key(PublicKey)
    case keyless(identity: IdentityMatch, issuer: IdentityMatch)
}

/// A bundle that passed: who signed it, when the log says, and the verified statement for DSSE bundles.
package struct VerifiedBundle: Sendable {
    package var mediaType: String
    package var signer: String
    /// When the signature was made: the Rekor v1 entry's integrated time, else the first verified timestamp's.
    package var integratedTime: Date
    /// The log entry's index; -1 for a bundle signed with no log (its time comes from a timestamp).
    package var logIndex: Int64
    /// Whether `integratedTime` is a log's (Rekor v1) rather than a timestamp authority's.
    package var timeFromLog = false
    /// The authorities whose RFC 3161 timestamps the bundle carries, each verified.
    package var timestampedBy: [String] = []
    package var statement: Data?

    /// How the signature's time is known, for a report: "logged at T as entry N", or for a bundle whose time is a
    /// timestamp's, "logged as entry N (a log that gives no time)" or "not logged", then "timestamped at T"; and the
    /// timestamp authorities.
    package var when: String {
        let stamped = timestampedBy.isEmpty ? "" : " (RFC 3161: \(timestampedBy.joined(separator: ", ")))"
        if timeFromLog { return "logged at \(integratedTime) as entry \(logIndex)\(stamped)" }
        let logged = logIndex >= 0 ? "logged as entry \(logIndex) (a log that gives no time)" : "not logged"
        return "\(logged), timestamped at \(integratedTime)\(stamped)"
    }
}

/// How many independent proofs a bundle must carry, as sigstore-go's verifier options count them
/// (`WithTransparencyLog(n)`, `WithSignedTimestamps(n)`): verified transparency-log entries (Rekor v1 or v2) and
/// verified RFC 3161 timestamps. Whatever the thresholds, every entry and timestamp a bundle carries must verify, and
/// a keyless bundle needs a time to judge its certificate at (a Rekor v1 integrated time or a timestamp).
package struct VerificationThresholds: Sendable, Equatable {
    /// Verified log entries required; nil: the path's default — a bundle needs one (sigstore-go, cosign and
    /// sigstore-python require one), a cosign layer or a run's annotations what its signer needs. 0 accepts a bundle
    /// signed with no log (cosign's `--insecure-ignore-tlog`).
    package var logEntries: Int?
    /// Verified RFC 3161 timestamps required (cosign v3's `--use-signed-timestamps` asks for one).
    package var signedTimestamps: Int

    package init(logEntries: Int? = nil, signedTimestamps: Int = 0) {
        self.logEntries = logEntries
        self.signedTimestamps = signedTimestamps
    }
}

/// Sigstore bundle verification (v0.1–v0.3; message signature or DSSE; `hashedrekord`, `dsse` and `intoto` log
/// entries from Rekor v1, `hashedrekord` and `dsse` 0.0.2 entries from Rekor v2; RFC 3161 timestamps), as sigstore-go
/// does it: every Rekor v1 entry verifies with a trusted log key valid at its integrated time (SET; inclusion proof and
/// checkpoint required from v0.2); every Rekor v2 entry's checkpoint is signed by a trusted log and its inclusion proof
/// leads to it (`RekorV2Entry`); every timestamp verifies against a trusted timestamp authority; the certificate is
/// judged at every time these give (chain to a Fulcio CA, SCT, identity, issuer) or the key is the one given; the
/// signature verifies over the artifact (or the DSSE envelope, whose statement must name the artifact's digest); and
/// each log entry records this very signature, verifier and content.
package enum BundleVerifier {
    static let mediaTypes: [String: Int] = [
        "application/vnd.dev.sigstore.bundle+json;version=0.1": 1,
        "application/vnd.dev.sigstore.bundle+json;version=0.2": 2,
        "application/vnd.dev.sigstore.bundle+json;version=0.3": 3,
        "application/vnd.dev.sigstore.bundle.v0.3+json": 3,
    ]

    package static func verify(
        _ data: Data, artifact: BundleArtifact, authority: BundleAuthority, trustedRoot: TrustedRoot,
        thresholds: VerificationThresholds = .init(), now: Date = Date()
    ) async throws(CertificateCheckError) -> VerifiedBundle {
        let bundle = try ParsedBundle(data)
        let timestamps = try await verifyTimestamps(
            bundle.signedTimestamps, signature: bundle.signatureBytes, trustedRoot: trustedRoot)
        var entries: [RekorEntry] = []
        var v2Entries: [RekorV2Entry.Verified] = []
        for raw in bundle.entries {
            if RekorV2Entry.isV2(raw) {
                v2Entries.append(try RekorV2Entry.verify(raw, logs: trustedRoot.tlogs))
                continue
            }
            let entry = try RekorEntry(bundled: raw)
            guard entry.logIndex >= 0 else { throw CertificateCheckError("a log entry has a negative log index") }
            try checkEntryTime(entry, logs: trustedRoot.tlogs, now: now)
            try RekorClient.verify(entry, logs: trustedRoot.tlogs, requireInclusionProof: bundle.version >= 2)
            entries.append(entry)
        }
        try checkTimeSources(v1: entries, v2: v2Entries, timestamps: timestamps)
        try checkThresholds(thresholds, logEntries: entries.count + v2Entries.count, timestamps: timestamps.count)
        let entry = entries.first
        let key: PublicKey
        let signer: String
        var verifiedLeaf: Certificate?
        switch authority {
        case .key(let given):
            guard bundle.certificates.isEmpty else {
                throw CertificateCheckError("the bundle is signed with a certificate, not with a key")
            }
            key = given
            signer = "key"
        case .keyless(let identity, let issuer):
            guard let leaf = bundle.certificates.first else {
                throw CertificateCheckError("the bundle has no certificate (it is signed with a key: give --key)")
            }
            let policy = KeylessPolicy(identity: identity, issuer: issuer, trustedRoot: trustedRoot)
            // The certificate must hold at every entry's time, or with no entry at every timestamp's; the first
            // answer is reported.
            var first: VerifiedSigner?
            for e in entries.isEmpty ? [nil] : entries.map(Optional.some) {
                let checked = try await KeylessVerifier.verify(
                    leaf: leaf, chain: Array(bundle.certificates.dropFirst()), entry: e, policy: policy,
                    requireInclusionProof: bundle.version >= 2, timestamps: timestamps)
                first = first ?? checked
            }
            let verified = first!
            try checkTimestampsWithin(leaf, timestamps)
            key = verified.publicKey
            signer = "\(verified.identity) (\(verified.issuer))"
            verifiedLeaf = leaf
        }
        let verifierPEMs = verifiedLeaf.flatMap { try? [$0.serializeAsPEM().pemString + "\n"] } ?? [key.pem]
        let statement = try checkContent(bundle, artifact: artifact, key: key)
        for e in entries {
            try checkBody(e, bundle: bundle, artifact: artifact, verifierPEM: verifierPEMs[0])
        }
        let verifierDER = verifiedLeaf != nil ? bundle.leafDER ?? Data() : key.derRepresentation
        for e in v2Entries {
            try checkV2Body(e, bundle: bundle, artifact: artifact, verifierDER: verifierDER)
        }
        return VerifiedBundle(
            mediaType: bundle.mediaType, signer: signer,
            integratedTime: entry?.integratedDate ?? timestamps.first?.genTime ?? now,
            logIndex: entry?.logIndex ?? v2Entries.first?.logIndex ?? -1, timeFromLog: entry != nil,
            timestampedBy: timestamps.map(\.authority), statement: statement)
    }

    /// A bundle's RFC 3161 timestamps are a time source like a log entry's integrated time, and a verifier must
    /// check every time source a bundle carries: ignored, a timestamp outside the certificate's validity went
    /// through (the conformance case `intoto-tsa-timestamp-outside-cert-validity_fail` verified before this check).
    /// Each must verify (`RFC3161.verify`) against the trusted root's timestamp authorities; with no root naming
    /// one, the bundle is refused, not half-checked.
    package static func verifyTimestamps(
        _ timestamps: [Data], signature: Data, trustedRoot: TrustedRoot?
    ) async throws(CertificateCheckError) -> [VerifiedTimestamp] {
        guard !timestamps.isEmpty else { return [] }
        let count = "\(timestamps.count) RFC 3161 timestamp\(timestamps.count == 1 ? "" : "s")"
        guard let trustedRoot, !trustedRoot.timestampAuthorities.isEmpty else {
            throw CertificateCheckError(
                "the bundle carries \(count), and no trusted root names a timestamp authority to check "
                    + "\(timestamps.count == 1 ? "it" : "them") against (give a trusted root that lists them)")
        }
        var verified: [VerifiedTimestamp] = []
        for (index, der) in timestamps.enumerated() {
            do {
                verified.append(
                    try await RFC3161.verify(
                        response: der, signature: signature, authorities: trustedRoot.timestampAuthorities))
            } catch {
                throw CertificateCheckError("RFC 3161 timestamp \(index + 1) of \(timestamps.count): \(error.reason)")
            }
        }
        return verified
    }

    /// A bundle needs a time source: a Rekor v1 entry's integrated time, or a verified RFC 3161 timestamp. Rekor v2
    /// entries give no time, so a bundle with one needs a timestamp (`rekor2-no-timestamp_fail`), and every timestamp
    /// must fall within the validity the trusted root gives that log's key — which must have a start
    /// (`trust-root-tlog-missing-validity-start_fail`: a missing bound is not an open one).
    static func checkTimeSources(
        v1: [RekorEntry], v2: [RekorV2Entry.Verified], timestamps: [VerifiedTimestamp]
    ) throws(CertificateCheckError) {
        if !v2.isEmpty && timestamps.isEmpty {
            throw CertificateCheckError(
                "the bundle's Rekor v2 entry gives no time, and the bundle carries no RFC 3161 timestamp: a Rekor v2 "
                    + "entry must come with a signed timestamp")
        }
        guard !v1.isEmpty || !timestamps.isEmpty else {
            throw CertificateCheckError("the bundle has no transparency-log entry and no RFC 3161 timestamp")
        }
        for entry in v2 {
            guard let validity = entry.log.validFor, validity.start != nil else {
                throw CertificateCheckError("the trusted root's log \(entry.log.baseURL) has no validity start")
            }
            for stamp in timestamps where !validity.contains(stamp.genTime) {
                throw CertificateCheckError(
                    "the RFC 3161 timestamp of \(stamp.authority) (\(stamp.genTime)) is outside the validity of log "
                        + "\(entry.log.baseURL)'s key in the trusted root")
            }
        }
    }

    /// At least as many verified log entries and timestamps as asked; each shortfall says which flag sets it.
    static func checkThresholds(
        _ thresholds: VerificationThresholds, logEntries: Int, timestamps: Int
    ) throws(CertificateCheckError) {
        func required(_ n: Int) -> String { "\(n) \(n == 1 ? "is" : "are") required" }
        let neededEntries = thresholds.logEntries ?? 1
        if logEntries < neededEntries {
            let carried = logEntries == 1 ? "1 verified log entry" : "\(logEntries) verified log entries"
            throw CertificateCheckError(
                "the bundle carries \(carried), and \(required(neededEntries)) (--tlog-threshold; 0 accepts "
                    + "a bundle signed with no transparency log, dated by its timestamps alone)")
        }
        if timestamps < thresholds.signedTimestamps {
            let carried =
                timestamps == 1 ? "1 verified RFC 3161 timestamp" : "\(timestamps) verified RFC 3161 timestamps"
            throw CertificateCheckError(
                "the bundle carries \(carried), and \(required(thresholds.signedTimestamps)) (--timestamp-threshold)")
        }
    }

    /// The Rekor v2 entry records this signature, by this signer, over this content: the artifact's digest for a
    /// message signature; for a DSSE envelope, the digest of its PAE (`hashedrekord`, how Rekor v2 logs envelopes) or
    /// of its payload (`dsse` 0.0.2 of older bundles).
    static func checkV2Body(
        _ entry: RekorV2Entry.Verified, bundle: ParsedBundle, artifact: BundleArtifact, verifierDER: Data
    ) throws(CertificateCheckError) {
        let digest: Data
        switch (entry.body.kind, bundle.content) {
        case ("hashedrekord", .message):
            digest = artifact.digest
        case ("hashedrekord", .dsse(let json)), ("dsse", .dsse(let json)):
            guard let envelope = try? JSONDecoder().decode(DSSE.Envelope.self, from: json),
                let payload = Data(base64Encoded: envelope.payload)
            else { throw CertificateCheckError("the bundle's DSSE envelope is malformed") }
            let hashed =
                entry.body.kind == "dsse" ? payload : DSSE.pae(payloadType: envelope.payloadType, payload: payload)
            digest = Data(SHA256.hash(data: hashed))
        default:
            throw CertificateCheckError("a \(entry.body.kind) 0.0.2 log entry does not match the bundle's content")
        }
        guard entry.body.records(digest: digest, signature: bundle.signatureBytes, verifierDER: verifierDER) else {
            throw CertificateCheckError(
                "the Rekor v2 entry \(entry.logIndex) of \(entry.log.baseURL) does not record this signature and content"
            )
        }
    }

    /// A keyless signature must have been made while its certificate was valid: every verified timestamp's time
    /// lies within the leaf's validity.
    package static func checkTimestampsWithin(
        _ leaf: Certificate, _ timestamps: [VerifiedTimestamp]
    ) throws(CertificateCheckError) {
        for stamp in timestamps where stamp.genTime < leaf.notValidBefore || stamp.genTime > leaf.notValidAfter {
            throw CertificateCheckError(
                "the RFC 3161 timestamp of \(stamp.authority) (\(stamp.genTime)) is outside the signing certificate's "
                    + "validity (\(leaf.notValidBefore) to \(leaf.notValidAfter))")
        }
    }

    /// The entry's time is not in the future, and its log key's validity has a start (`RekorClient.verify` holds
    /// the time to that validity).
    static func checkEntryTime(
        _ entry: RekorEntry, logs: [TrustedRoot.LogInstance], now: Date
    ) throws(CertificateCheckError) {
        guard entry.integratedDate <= now.addingTimeInterval(60) else {
            throw CertificateCheckError("the log entry's integrated time \(entry.integratedDate) is in the future")
        }
        guard let log = logs.first(where: { $0.keyID == entry.logID }) else {
            throw CertificateCheckError("the entry is from log \(entry.logID.hexString), which is not a trusted log")
        }
        guard let validity = log.validFor, validity.start != nil else {
            throw CertificateCheckError("the trusted root's log \(log.baseURL) has no validity start")
        }
    }

    /// The signature over the artifact (message signature, also over its digest when only that is given), or over
    /// the DSSE envelope, whose in-toto statement must name the artifact's digest. Returns the statement.
    static func checkContent(
        _ bundle: ParsedBundle, artifact: BundleArtifact, key: PublicKey
    ) throws(CertificateCheckError) -> Data? {
        switch bundle.content {
        case .message(let digest, let signature):
            if let digest, digest != artifact.digest {
                throw CertificateCheckError("the bundle's message digest is not the artifact's")
            }
            let valid: Bool
            switch artifact {
            case .bytes(let data): valid = key.isValidSignature(signature, for: data)
            case .sha256(let d): valid = key.isValidSignature(signature, forSHA256Digest: d)
            }
            guard valid else { throw CertificateCheckError("the signature does not verify over the artifact") }
            return nil
        case .dsse(let envelope):
            guard let payload = DSSE.verify(envelope: envelope, publicKey: key) else {
                throw CertificateCheckError("the DSSE envelope's signature does not verify")
            }
            let statement = try? JSONSerialization.jsonObject(with: payload) as? [String: Any]
            let digests = (statement?["subject"] as? [[String: Any]] ?? []).compactMap {
                ($0["digest"] as? [String: String])?["sha256"]
            }
            guard digests.contains(artifact.digest.hexString) else {
                throw CertificateCheckError("the statement names no subject with the artifact's digest")
            }
            return payload
        }
    }

    /// The log recorded this content: hashedrekord (digest, signature, verifier), dsse (payload hash, signatures
    /// and verifier), intoto 0.0.2 (payload hash, double-base64 signatures, verifier).
    static func checkBody(
        _ entry: RekorEntry, bundle: ParsedBundle, artifact: BundleArtifact, verifierPEM: String
    ) throws(CertificateCheckError) {
        let mismatch = CertificateCheckError("the log entry does not record this signature and content")
        switch (entry.kind, bundle.content) {
        case ("hashedrekord", .message(_, let signature)):
            do {
                try RekorClient.check(
                    entry,
                    matches: .hashedRekord(
                        payloadSHA256: artifact.digest, signature: signature, verifierPEM: verifierPEM), log: "")
            } catch { throw mismatch }
        case ("dsse", .dsse(let envelope)):
            do {
                try RekorClient.check(entry, matches: .dsse(envelope: envelope, verifierPEM: verifierPEM), log: "")
            } catch { throw mismatch }
        case ("intoto", .dsse(let envelope)):
            try checkInToto(entry, envelope: envelope, verifierPEM: verifierPEM)
        default:
            throw CertificateCheckError("a \(entry.kind) log entry does not match the bundle's content")
        }
    }

    static func checkInToto(_ entry: RekorEntry, envelope: Data, verifierPEM: String) throws(CertificateCheckError) {
        let mismatch = CertificateCheckError("the intoto log entry does not record this envelope")
        guard let body = try? JSONSerialization.jsonObject(with: entry.body) as? [String: Any],
            let content = (body["spec"] as? [String: Any])?["content"] as? [String: Any],
            let recorded = content["envelope"] as? [String: Any],
            let env = try? JSONDecoder().decode(DSSE.Envelope.self, from: envelope),
            let payload = Data(base64Encoded: env.payload),
            (content["payloadHash"] as? [String: Any])?["value"] as? String
                == Data(SHA256.hash(data: payload)).hexString,
            let signatures = recorded["signatures"] as? [[String: Any]]
        else { throw mismatch }
        for ours in env.signatures {
            let doubled = Data(ours.sig.utf8).base64EncodedString()
            guard
                signatures.contains(where: {
                    $0["sig"] as? String == doubled
                        && (($0["publicKey"] as? String).flatMap { Data(base64Encoded: $0) }).map {
                            RekorClient.sameDER(String(decoding: $0, as: UTF8.self), verifierPEM)
                        } == true
                })
            else { throw mismatch }
        }
    }
}

extension TransparencyLogEntry {
    /// A bundle's `verificationMaterial.tlogEntries` as JSONSerialization read it; nil when it is not a list of
    /// entries. `isValidJSONObject` first: JSONSerialization traps (it does not throw) on a top-level string or number
    /// — a bundle with `"tlogEntries": 1` crashed the verifier (found by the sigstore-bundle fuzz harness).
    package static func list(fromJSON value: Any) -> [TransparencyLogEntry]? {
        guard JSONSerialization.isValidJSONObject(value), let data = try? JSONSerialization.data(withJSONObject: value)
        else { return nil }
        return try? JSONDecoder().decode([TransparencyLogEntry].self, from: data)
    }
}

/// A bundle's parts, with the shape checked.
package struct ParsedBundle {
    enum Content {
        case message(digest: Data?, signature: Data)
        case dsse(Data)
    }

    let mediaType: String
    package let version: Int
    /// Leaf first; empty for a key-signed bundle.
    package let certificates: [Certificate]
    /// The leaf's DER as the bundle gives it (what a Rekor v2 entry records).
    package let leafDER: Data?
    package let entries: [TransparencyLogEntry]
    /// `timestampVerificationData.rfc3161Timestamps[].signedTimestamp`: DER `TimeStampResponse`s.
    package let signedTimestamps: [Data]
    let content: Content
    /// The DSSE envelope's JSON, for a DSSE bundle.
    package var dsseEnvelope: Data? {
        if case .dsse(let envelope) = content { return envelope }
        return nil
    }
    /// The signature bytes a timestamp authority timestamps: the message signature, or the DSSE envelope's (its
    /// only) signature.
    package let signatureBytes: Data

    package init(_ data: Data) throws(CertificateCheckError) {
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CertificateCheckError("the bundle is not JSON")
        }
        mediaType = json["mediaType"] as? String ?? ""
        guard let version = BundleVerifier.mediaTypes[mediaType] else {
            throw CertificateCheckError("media type \"\(mediaType)\" is not a sigstore bundle version we know")
        }
        self.version = version
        let material = json["verificationMaterial"] as? [String: Any] ?? [:]
        (certificates, leafDER) = try Self.certificates(material, version: version)
        if let list = material["tlogEntries"] {
            guard let decoded = TransparencyLogEntry.list(fromJSON: list) else {
                throw CertificateCheckError("the bundle's tlogEntries are malformed")
            }
            entries = decoded
        } else {
            entries = []
        }
        signedTimestamps = try Self.signedTimestamps(material)
        (content, signatureBytes) = try Self.content(json)
    }

    package static func signedTimestamps(_ material: [String: Any]) throws(CertificateCheckError) -> [Data] {
        guard let data = material["timestampVerificationData"] else { return [] }
        guard let object = data as? [String: Any] else {
            throw CertificateCheckError("the bundle's timestampVerificationData is malformed")
        }
        guard let list = object["rfc3161Timestamps"] else { return [] }
        guard let entries = list as? [[String: Any]] else {
            throw CertificateCheckError("the bundle's rfc3161Timestamps are malformed")
        }
        var out: [Data] = []
        for entry in entries {
            guard let text = entry["signedTimestamp"] as? String, let der = protojsonBytes(text), !der.isEmpty
            else {
                throw CertificateCheckError("an RFC 3161 timestamp of the bundle is not base64")
            }
            out.append(der)
        }
        return out
    }

    /// Bytes as protojson reads them: base64, standard or URL-safe, padded or not, with line breaks skipped (Go's
    /// decoder skips `\r` and `\n`; the conformance case `rekor2-timestamp-with-incorrect-time_fail` carries a
    /// timestamp wrapped at 76 columns, and must fail for its time, not for its wrapping).
    static func protojsonBytes(_ text: String) -> Data? {
        var standard = String(
            text.unicodeScalars.compactMap { scalar -> Character? in
                switch scalar {
                case "\r", "\n": return nil
                case "-": return "+"
                case "_": return "/"
                default: return Character(scalar)
                }
            })
        standard += String(repeating: "=", count: (4 - standard.utf8.count % 4) % 4)
        return Data(base64Encoded: standard)
    }

    static func certificates(
        _ material: [String: Any], version: Int
    ) throws(CertificateCheckError) -> ([Certificate], leafDER: Data?) {
        var raws: [String] = []
        if let chain = material["x509CertificateChain"] as? [String: Any] {
            raws = (chain["certificates"] as? [[String: Any]] ?? []).compactMap { $0["rawBytes"] as? String }
            guard !raws.isEmpty else { throw CertificateCheckError("the bundle's certificate chain is empty") }
        } else if let one = (material["certificate"] as? [String: Any])?["rawBytes"] as? String {
            raws = [one]
        } else if material["publicKey"] == nil {
            throw CertificateCheckError("the bundle has neither a certificate nor a public key")
        }
        var out: [Certificate] = []
        var leafDER: Data?
        for raw in raws {
            guard let der = Data(base64Encoded: raw), let certificate = try? Certificate(derEncoded: Array(der)) else {
                throw CertificateCheckError("a certificate of the bundle does not parse")
            }
            leafDER = leafDER ?? der
            out.append(certificate)
        }
        // A root (self-signed CA) in the bundle would let the bundle choose its own trust; refused, as sigstore-go.
        if out.dropFirst().contains(where: { $0.subject == $0.issuer }) {
            throw CertificateCheckError("the bundle's certificate chain contains a root certificate")
        }
        return (out, leafDER)
    }

    static func content(_ json: [String: Any]) throws(CertificateCheckError) -> (Content, signature: Data) {
        if let message = json["messageSignature"] as? [String: Any] {
            guard let signature = (message["signature"] as? String).flatMap({ Data(base64Encoded: $0) }) else {
                throw CertificateCheckError("the bundle's message signature is not base64")
            }
            let digest = ((message["messageDigest"] as? [String: Any])?["digest"] as? String).flatMap {
                Data(base64Encoded: $0)
            }
            return (.message(digest: digest, signature: signature), signature)
        }
        if let envelope = json["dsseEnvelope"] as? [String: Any],
            let data = try? JSONSerialization.data(withJSONObject: envelope, options: [.sortedKeys])
        {
            guard let env = try? JSONDecoder().decode(DSSE.Envelope.self, from: data), env.signatures.count == 1,
                Data(base64Encoded: env.payload) != nil, let signature = Data(base64Encoded: env.signatures[0].sig)
            else {
                throw CertificateCheckError("the bundle's DSSE envelope is malformed or has more than one signature")
            }
            return (.dsse(data), signature)
        }
        throw CertificateCheckError("the bundle has neither a message signature nor a DSSE envelope")
    }
}
