import Crypto
import Foundation
import Signing
import SwiftASN1
import Synchronization
import X509

/// Rekor v1, simulated from its API (spec: rekor openapi.yaml, pkg/api/entries.go, the hashedrekord and dsse 0.0.1
/// types, pkg/util/signed_note.go): `POST /api/v1/log/entries` checks the signature and canonicalises the entry as
/// Rekor does (verifier PEM re-encoded; dsse keeps envelopeHash, payloadHash and the signatures), appends it to an
/// RFC 6962 Merkle tree, and answers 201 with the entry, its signed entry timestamp (RFC 8785 JSON signed by the
/// log key), an inclusion proof and a signed checkpoint; the same entry again is a 409 with `Location`.
/// `GET /api/v1/log/entries/{uuid}`, `GET /api/v1/log/entries?logIndex=N`, `GET /api/v1/log`,
/// `GET /api/v1/log/publicKey`. Only ECDSA P-256 verifiers (what keyless and the default key use).
package final class RekorSimulator: Sendable {
    package struct Stats: Sendable {
        package var created = 0
        package var conflicts = 0
        package var refused = 0
        package var reads = 0
    }
    struct Entry {
        var body: Data
        var integratedTime: Int64
    }
    struct State {
        var entries: [Entry] = []
        var byUUID: [String: Int] = [:]
        var stats = Stats()
        var failures: [(status: Int, remaining: Int)] = []
        var down = false
    }

    let server: TestHTTPServer
    let log: Log
    package var url: String { "http://127.0.0.1:\(server.port)" }
    package var stats: Stats { log.state.withLock { $0.stats } }
    package var entryCount: Int { log.state.withLock { $0.entries.count } }
    package var publicKeyDER: Data { log.key.publicKey.derRepresentation }
    /// This log in a `trusted_root.json`'s `tlogs`.
    package var trustedRootLog: String { TrustedRootLog.json(url: url, publicKeyDER: publicKeyDER) }

    /// The next `count` requests to add an entry get `status`.
    package func fail(status: Int, count: Int) { log.state.withLock { $0.failures.append((status, count)) } }
    /// While down, every request gets 503.
    package func setDown(_ down: Bool) { log.state.withLock { $0.down = down } }
    /// A checkpoint note this log's key signs for any tree — what a log showing different views to different
    /// clients (a split view) would sign.
    package func signedCheckpoint(size: Int, root: Data) -> String { log.checkpoint(size: size, root: root) }

    package init() async throws {
        let log = Log()
        self.log = log
        server = try await TestHTTPServer { request in log.handle(request) }
    }

    package func stop() async { await server.stop() }

    /// The log itself, apart from the server's lifetime.
    final class Log: Sendable {
        let key = P256.Signing.PrivateKey()
        let treeID = Int64.random(in: 1_000_000_000_000...9_000_000_000_000)
        let state = Mutex(State())
        var logID: Data { Data(SHA256.hash(data: key.publicKey.derRepresentation)) }
        var treeIDHex: String { String(format: "%016llx", treeID) }

        func handle(_ request: ServedRequest) -> ServedResponse {
            if state.withLock({ $0.down }) { return Self.error(503, "service unavailable") }
            switch (request.method, request.path) {
            case ("POST", "/api/v1/log/entries"):
                let injected: Int? = state.withLock { s in
                    guard let i = s.failures.firstIndex(where: { $0.remaining > 0 }) else { return nil }
                    s.failures[i].remaining -= 1
                    return s.failures[i].status
                }
                if let injected { return Self.error(injected, "injected") }
                return create(request.body)
            case ("GET", "/api/v1/log/entries"):
                guard let index = request.query["logIndex"]?.first.flatMap(Int.init) else {
                    return Self.error(400, "logIndex is required")
                }
                return read(index: index)
            case ("GET", let path) where path.hasPrefix("/api/v1/log/entries/"):
                let uuid = String(path.dropFirst("/api/v1/log/entries/".count).suffix(64))
                guard let index = state.withLock({ $0.byUUID[uuid] }) else { return Self.error(404, "not found") }
                return read(index: index)
            case ("GET", "/api/v1/log/publicKey"):
                return ServedResponse(
                    status: 200, headers: [("Content-Type", "application/x-pem-file")],
                    body: Data((key.publicKey.pemRepresentation + "\n").utf8))
            case ("GET", "/api/v1/log"):
                let (size, root) = state.withLock { s in (s.entries.count, Self.root(s.entries.map(\.body))) }
                return .json(
                    200,
                    #"{"rootHash":"\#(root.hexString)","treeSize":\#(size),"treeID":"\#(treeID)","signedTreeHead":"\#(checkpoint(size: size, root: root).replacingOccurrences(of: "\n", with: "\\n"))"}"#
                )
            default:
                return Self.error(404, "not found")
            }
        }

        static func error(_ status: Int, _ message: String, headers: [(String, String)] = []) -> ServedResponse {
            .json(status, #"{"code":\#(status),"message":"\#(message)"}"#, headers: headers)
        }

        func create(_ data: Data) -> ServedResponse {
            let body: Data
            do {
                body = try Self.canonicalize(data)
            } catch {
                state.withLock { $0.stats.refused += 1 }
                return Self.error(400, "\(error)")
            }
            let uuid = Self.leafHash(body).hexString
            let outcome: (index: Int, existed: Bool) = state.withLock { s in
                if let index = s.byUUID[uuid] {
                    s.stats.conflicts += 1
                    return (index, true)
                }
                s.entries.append(Entry(body: body, integratedTime: Int64(Date().timeIntervalSince1970)))
                s.byUUID[uuid] = s.entries.count - 1
                s.stats.created += 1
                return (s.entries.count - 1, false)
            }
            let location = "/api/v1/log/entries/\(treeIDHex)\(uuid)"
            if outcome.existed {
                return Self.error(
                    409, "An equivalent entry already exists in the transparency log with UUID \(uuid)",
                    headers: [("Location", location)])
            }
            var response = read(index: outcome.index, counting: false)
            response.status = 201
            response.headers += [("ETag", "\(treeIDHex)\(uuid)"), ("Location", location)]
            return response
        }

        func read(index: Int, counting: Bool = true) -> ServedResponse {
            let snapshot: ([Data], Entry)? = state.withLock { s in
                guard index >= 0, index < s.entries.count else { return nil }
                if counting { s.stats.reads += 1 }
                return (s.entries.map(\.body), s.entries[index])
            }
            guard let (bodies, entry) = snapshot else { return Self.error(404, "not found") }
            let root = Self.root(bodies)
            let proof = Self.path(index, bodies.map(Self.leafHash))
            let uuid = Self.leafHash(entry.body).hexString
            let set = try! key.signature(
                for: Data(
                    #"{"body":"\#(entry.body.base64EncodedString())","integratedTime":\#(entry.integratedTime),"logID":"\#(logID.hexString)","logIndex":\#(index)}"#
                        .utf8)
            ).derRepresentation
            let json: [String: Any] = [
                "\(treeIDHex)\(uuid)": [
                    "body": entry.body.base64EncodedString(), "integratedTime": entry.integratedTime,
                    "logID": logID.hexString, "logIndex": index,
                    "verification": [
                        "signedEntryTimestamp": set.base64EncodedString(),
                        "inclusionProof": [
                            "logIndex": index, "rootHash": root.hexString, "treeSize": bodies.count,
                            "hashes": proof.map(\.hexString), "checkpoint": checkpoint(size: bodies.count, root: root),
                        ],
                    ],
                ]
            ]
            return ServedResponse(
                status: 200, headers: [("Content-Type", "application/json")],
                body: try! JSONSerialization.data(withJSONObject: json))
        }

        func checkpoint(size: Int, root: Data) -> String {
            let text = "rekor.test - \(treeID)\n\(size)\n\(root.base64EncodedString())\n"
            let hint = Data(SHA256.hash(data: key.publicKey.derRepresentation)).prefix(4)
            let signature = try! key.signature(for: Data(text.utf8)).derRepresentation
            return text + "\n\u{2014} rekor.test \((hint + signature).base64EncodedString())\n"
        }

        static func leafHash(_ body: Data) -> Data { TestMerkleTree.leafHash(body) }
        static func root(_ bodies: [Data]) -> Data { TestMerkleTree.root(bodies) }
        static func path(_ m: Int, _ leaves: [Data]) -> [Data] { TestMerkleTree.path(m, leaves) }

        struct Invalid: Error, CustomStringConvertible {
            var description: String
            init(_ d: String) { description = d }
        }

        /// What Rekor stores for a proposed entry, after checking its signature.
        static func canonicalize(_ data: Data) throws -> Data {
            guard let entry = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                entry["apiVersion"] as? String == "0.0.1", let spec = entry["spec"] as? [String: Any]
            else { throw Invalid("unsupported entry: only hashedrekord and dsse 0.0.1 are served") }
            switch entry["kind"] as? String {
            case "hashedrekord": return try hashedRekord(spec)
            case "dsse": return try dsse(spec)
            default: throw Invalid("unsupported entry kind")
            }
        }

        static func hashedRekord(_ spec: [String: Any]) throws -> Data {
            guard let hash = (spec["data"] as? [String: Any])?["hash"] as? [String: Any],
                hash["algorithm"] as? String == "sha256", let hex = hash["value"] as? String,
                let digest = Data(hex: hex), digest.count == 32,
                let signature = spec["signature"] as? [String: Any],
                let sigB64 = signature["content"] as? String, let sig = Data(base64Encoded: sigB64),
                let pemB64 = (signature["publicKey"] as? [String: Any])?["content"] as? String,
                let pem = Data(base64Encoded: pemB64)
            else { throw Invalid("hashedrekord: data.hash, signature.content and publicKey.content are required") }
            let (key, canonicalPEM) = try verifier(String(decoding: pem, as: UTF8.self))
            guard let ecdsa = try? P256.Signing.ECDSASignature(derRepresentation: sig),
                key.isValidSignature(ecdsa, for: Prehashed(bytes: digest))
            else { throw Invalid("hashedrekord: the signature does not verify with the public key") }
            return Data(
                #"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"\#(hex.lowercased())"}},"signature":{"content":"\#(sigB64)","publicKey":{"content":"\#(Data(canonicalPEM.utf8).base64EncodedString())"}}}}"#
                    .utf8)
        }

        static func dsse(_ spec: [String: Any]) throws -> Data {
            guard let proposed = spec["proposedContent"] as? [String: Any],
                let envelopeText = proposed["envelope"] as? String, let verifiers = proposed["verifiers"] as? [String],
                !verifiers.isEmpty,
                let envelope = try? JSONSerialization.jsonObject(with: Data(envelopeText.utf8)) as? [String: Any],
                let payloadType = envelope["payloadType"] as? String,
                let payload = (envelope["payload"] as? String).flatMap({ Data(base64Encoded: $0) }),
                let signatures = envelope["signatures"] as? [[String: Any]], !signatures.isEmpty
            else { throw Invalid("dsse: proposedContent.envelope (a DSSE envelope) and verifiers are required") }
            let keys = try verifiers.map { b64 -> (P256.Signing.PublicKey, String) in
                guard let pem = Data(base64Encoded: b64) else { throw Invalid("dsse: a verifier is not base64") }
                return try verifier(String(decoding: pem, as: UTF8.self))
            }
            var pae = Data("DSSEv1 \(payloadType.utf8.count) \(payloadType) \(payload.count) ".utf8)
            pae += payload
            var stored: [(String, String)] = []
            for signature in signatures {
                guard let sigB64 = signature["sig"] as? String, let sig = Data(base64Encoded: sigB64),
                    let ecdsa = try? P256.Signing.ECDSASignature(derRepresentation: sig),
                    let (_, pem) = keys.first(where: { $0.0.isValidSignature(ecdsa, for: pae) })
                else { throw Invalid("dsse: a signature does not verify with any verifier") }
                stored.append((sigB64, Data(pem.utf8).base64EncodedString()))
            }
            let list = stored.sorted { $0.0 < $1.0 }.map { #"{"signature":"\#($0.0)","verifier":"\#($0.1)"}"# }
            let envelopeHash = Data(SHA256.hash(data: Data(envelopeText.utf8))).hexString
            let payloadHash = Data(SHA256.hash(data: payload)).hexString
            return Data(
                #"{"apiVersion":"0.0.1","kind":"dsse","spec":{"envelopeHash":{"algorithm":"sha256","value":"\#(envelopeHash)"},"payloadHash":{"algorithm":"sha256","value":"\#(payloadHash)"},"signatures":[\#(list.joined(separator: ","))]}}"#
                    .utf8)
        }

        /// A verifier PEM (certificate or public key) → its P-256 key, and the PEM Rekor stores (re-encoded, as Go's
        /// pem.Encode writes it: 64-column lines and a final newline).
        static func verifier(_ pem: String) throws -> (P256.Signing.PublicKey, String) {
            guard let document = try? PEMDocument(pemString: pem) else { throw Invalid("a verifier is not PEM") }
            if document.discriminator == "CERTIFICATE",
                let certificate = try? Certificate(derEncoded: document.derBytes),
                let key = P256.Signing.PublicKey(certificate.publicKey)
            {
                return (key, PEMDocument(type: "CERTIFICATE", derBytes: document.derBytes).pemString + "\n")
            }
            if document.discriminator == "PUBLIC KEY",
                let key = try? P256.Signing.PublicKey(derRepresentation: document.derBytes)
            {
                return (key, PEMDocument(type: "PUBLIC KEY", derBytes: document.derBytes).pemString + "\n")
            }
            throw Invalid("a verifier is not an ECDSA P-256 certificate or public key")
        }
    }
}

/// RFC 6962 §2.1 written from its definitions (MTH and PATH, recursively), apart from the client's iterative check.
package enum TestMerkleTree {
    package static func leafHash(_ body: Data) -> Data { Data(SHA256.hash(data: Data([0]) + body)) }
    static func node(_ l: Data, _ r: Data) -> Data { Data(SHA256.hash(data: Data([1]) + l + r)) }
    /// The largest power of two smaller than `n`.
    static func split(_ n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }
    static func mth(_ leaves: ArraySlice<Data>) -> Data {
        if leaves.isEmpty { return Data(SHA256.hash(data: Data())) }
        if leaves.count == 1 { return leaves.first! }
        let k = split(leaves.count)
        return node(mth(leaves.prefix(k)), mth(leaves.dropFirst(k)))
    }
    /// The tree head of these entry bodies.
    package static func root(_ bodies: [Data]) -> Data { mth(bodies.map(leafHash)[...]) }
    /// The audit path of leaf `m` among these leaf hashes.
    package static func path(_ m: Int, _ leaves: [Data]) -> [Data] { path(m, leaves[...]) }
    static func path(_ m: Int, _ leaves: ArraySlice<Data>) -> [Data] {
        guard leaves.count > 1 else { return [] }
        let k = split(leaves.count)
        if m < k { return path(m, leaves.prefix(k)) + [mth(leaves.dropFirst(k))] }
        return path(m - k, leaves.dropFirst(k)) + [mth(leaves.prefix(k))]
    }
}

/// A SHA-256 digest given as bytes: hashedrekord signs a digest the log never sees the message of.
struct Prehashed: Digest {
    static let byteCount = 32
    let bytes: [UInt8]
    init(bytes: Data) { self.bytes = Array(bytes) }
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }
    func makeIterator() -> IndexingIterator<[UInt8]> { bytes.makeIterator() }
    var description: String { "SHA256 digest: \(Data(bytes).hexString)" }
}
