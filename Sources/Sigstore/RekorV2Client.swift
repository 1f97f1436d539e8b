import Crypto
import Foundation
import HTTPTransport
import Signing

/// What to add to a Rekor v2 log: a `hashedrekord` 0.0.2 — the SHA-256 of what was signed (a payload, or a DSSE
/// envelope's PAE: Rekor v2 has no DSSE type), the signature, and the signer as a certificate or a public key with
/// the key details the log checks the signature by.
package struct RekorV2Proposal: Sendable, Equatable {
    package var body: RekorV2Body

    /// `signed` is what the signature is over (its SHA-256 is logged). Refused before anything is sent: a key Rekor
    /// v2 cannot check a signature of ours with — pure Ed25519 (it takes only Ed25519ph), and ECDSA P-384/P-521,
    /// whose key details call for SHA-384/512 where our signatures are logged over SHA-256.
    package init(
        signed: Data, signature: Data, publicKey: PublicKey, certificateDER: Data?
    ) throws(RekorError) {
        let details: String
        switch publicKey {
        case .p256: details = "PKIX_ECDSA_P256_SHA_256"
        case .rsa(let key) where [2048, 3072, 4096].contains(key.keySizeInBits):
            details = "PKIX_RSA_PKCS1V15_\(key.keySizeInBits)_SHA256"
        default:
            throw RekorError(
                address: "", status: nil,
                reason:
                    "Rekor v2 cannot log a \(publicKey.algorithmName) signature of ours (it takes ECDSA P-256 and RSA "
                    + "PKCS#1 v1.5 over SHA-256 here; Ed25519 only pre-hashed): sign with such a key, or log to Rekor v1"
            )
        }
        let verifier = RekorV2Body.Verifier(
            publicKey: certificateDER == nil ? .init(rawBytes: publicKey.derRepresentation.base64EncodedString()) : nil,
            x509Certificate: certificateDER.map { .init(rawBytes: $0.base64EncodedString()) }, keyDetails: details)
        body = RekorV2Body(
            hashedRekord: .init(
                data: .init(sha256: Data(SHA256.hash(data: signed))),
                signature: .init(content: signature.base64EncodedString(), verifier: verifier)))
    }

    /// The `CreateEntryRequest` JSON (`hashedRekordRequestV002`).
    package var request: Data {
        guard let entry = body.spec.hashedRekordV002 else { return Data() }
        let signature: [String: Any] = [
            "content": entry.signature.content,
            "verifier": [
                "keyDetails": entry.signature.verifier.keyDetails,
                entry.signature.verifier.x509Certificate == nil ? "publicKey" : "x509Certificate": [
                    "rawBytes": (entry.signature.verifier.x509Certificate ?? entry.signature.verifier.publicKey)?
                        .rawBytes ?? ""
                ],
            ],
        ]
        let request: [String: Any] = [
            "hashedRekordRequestV002": ["digest": entry.data.digest, "signature": signature]
        ]
        return (try? JSONSerialization.data(withJSONObject: request, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data()
    }
}

/// A Rekor v2 (rekor-tiles) client: `POST /api/v2/log/entries`, which answers once a checkpoint covers the entry (so
/// the transport's deadline must allow 20 s or more). The answer is checked as a verifier checks a bundle
/// (`RekorV2Entry.verify`: a log of the trusted root, its signed checkpoint, the inclusion proof) and its body must be
/// exactly the entry proposed. A log that already holds the entry (409, `x-log-index`, from Tessera's deduplication:
/// a retry after a write that timed out once the log had it) gives no entry back: it is read back from the log's tiles
/// — checkpoint, then the tiles the inclusion proof needs — and checked the same way, never added twice by us.
package struct RekorV2Client: Sendable {
    package var address: URL
    let transport: any HTTPTransport
    /// This log in the trusted root: the key its checkpoints must verify with.
    package var log: TrustedRoot.LogInstance
    package var logs: [TrustedRoot.LogInstance]

    /// Nil when the trusted root does not list a log at `address` (a Rekor v2 log has no key endpoint to fall back on).
    package init?(address: URL, transport: any HTTPTransport, logs: [TrustedRoot.LogInstance]) {
        guard let log = Self.trustedLog(at: address, in: logs) else { return nil }
        self.address = address
        self.transport = transport
        self.log = log
        self.logs = logs
    }

    /// The trusted root's log at `address` (its `baseUrl`, a trailing slash aside).
    package static func trustedLog(at address: URL, in logs: [TrustedRoot.LogInstance]) -> TrustedRoot.LogInstance? {
        let name = trimmed(address.absoluteString)
        return logs.first { trimmed($0.baseURL) == name }
    }

    static func trimmed(_ url: String) -> String { url.hasSuffix("/") ? String(url.dropLast()) : url }
    package var name: String { Self.trimmed(address.absoluteString) }

    func error(_ reason: String, status: Int? = nil, malformed: Bool = false) -> RekorError {
        RekorError(address: name, status: status, reason: reason, malformedAnswer: malformed)
    }

    /// Adds `proposal` and returns the checked entry, as a bundle carries it.
    package func add(_ proposal: RekorV2Proposal) async throws -> TransparencyLogEntry {
        let response = try await transport.send(
            HTTPRequest(
                method: "POST", url: address.appendingPathComponent("api/v2/log/entries"),
                headers: ["Content-Type": "application/json", "Accept": "application/json"], body: proposal.request))
        switch response.status {
        case 200, 201:
            guard let entry = try? JSONDecoder().decode(TransparencyLogEntry.self, from: response.body) else {
                throw error("the answer is not a log entry", status: response.status, malformed: true)
            }
            return try check(entry, proposal: proposal)
        case 409:
            guard let header = response.headers["x-log-index"], let index = UInt64(header) else {
                throw error("the log holds the entry already, but does not say where (no x-log-index)", status: 409)
            }
            return try await existing(index: index, proposal: proposal)
        default:
            throw error(RekorError.message(in: response) ?? "the entry was refused", status: response.status)
        }
    }

    /// The entry verifies (`RekorV2Entry.verify`), is in this log, and records exactly what was proposed.
    func check(_ entry: TransparencyLogEntry, proposal: RekorV2Proposal) throws(RekorError) -> TransparencyLogEntry {
        let verified: RekorV2Entry.Verified
        do throws(CertificateCheckError) {
            guard RekorV2Entry.isV2(entry) else {
                throw CertificateCheckError(
                    "the answer is a \(entry.kindVersion.kind) \(entry.kindVersion.version) entry, not hashedrekord "
                        + "0.0.2")
            }
            verified = try RekorV2Entry.verify(entry, logs: logs)
        } catch {
            throw self.error("the log's answer does not verify: \(error.reason)")
        }
        guard verified.log.keyID == log.keyID else {
            throw error("the entry is from another log of the trusted root (\(verified.log.baseURL))")
        }
        guard verified.body.canonical == proposal.body.canonical else {
            throw error("the log's entry \(verified.logIndex) is not the entry we proposed")
        }
        return entry
    }

    /// The entry at `index`, which the log says records `proposal`: read back from its tiles and checked.
    func existing(index: UInt64, proposal: RekorV2Proposal) async throws -> TransparencyLogEntry {
        let response = try await transport.send(
            HTTPRequest(
                method: "GET", url: address.appendingPathComponent("api/v2/checkpoint"),
                headers: ["Accept": "text/plain"]))
        guard response.status == 200 else {
            throw error("the log's checkpoint cannot be read", status: response.status)
        }
        let envelope = String(decoding: response.body, as: UTF8.self)
        let checkpoint: Checkpoint
        do throws(CertificateCheckError) {
            checkpoint = try Checkpoint(parsing: envelope)
            try RekorV2Entry.checkSigned(checkpoint, by: log)
        } catch {
            throw self.error("the log's checkpoint does not verify: \(error.reason)", malformed: true)
        }
        guard index < checkpoint.size else {
            throw error(
                "the log holds the entry at index \(index), but its checkpoint covers \(checkpoint.size) entries; "
                    + "it may publish a larger one soon", malformed: true)
        }
        var proofs = TileProofs(size: checkpoint.size) { level, tile, width in
            try await readTile(level: level, index: tile, width: width)
        }
        let hashes = try await proofs.inclusionProof(index: index)
        let entry = TransparencyLogEntry(
            logIndex: Int64(index), logID: log.keyID, kind: "hashedrekord", version: "0.0.2", integratedTime: nil,
            signedEntryTimestamp: nil,
            inclusionProof: .init(
                logIndex: String(index), rootHash: checkpoint.rootHash.base64EncodedString(),
                treeSize: String(checkpoint.size), hashes: hashes.map { $0.base64EncodedString() },
                checkpoint: .init(envelope: envelope)),
            canonicalizedBody: proposal.body.canonical)
        return try check(entry, proposal: proposal)
    }

    /// `GET /api/v2/tile/<L>/<N>[.p/<W>]`: `width` hashes of 32 bytes.
    func readTile(level: UInt64, index: UInt64, width: UInt64) async throws -> [Data] {
        let suffix = width < 256 ? ".p/\(width)" : ""
        let response = try await transport.send(
            HTTPRequest(
                method: "GET",
                url: address.appendingPathComponent("api/v2/tile/\(level)/\(TileProofs.path(index))\(suffix)")))
        guard response.status == 200 else {
            throw error("tile \(level)/\(index) cannot be read", status: response.status)
        }
        guard response.body.count >= Int(width) * 32 else {
            throw error(
                "tile \(level)/\(index) holds \(response.body.count) bytes, not \(width) hashes", malformed: true)
        }
        return (0..<Int(width)).map { response.body.subdata(in: ($0 * 32)..<($0 * 32 + 32)) }
    }
}
