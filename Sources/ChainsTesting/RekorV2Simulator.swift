import Crypto
import Foundation
import Synchronization
import X509

/// Rekor v2 (rekor-tiles), simulated from its protos, `CLIENTS.md` and `internal/server/service.go`:
/// `POST /api/v2/log/entries` takes a `hashedRekordRequestV002` (digest, signature, and a certificate or public key
/// with key details), refuses anything else (400, as the gRPC gateway maps InvalidArgument), checks the signature over
/// the digest (ECDSA P-256; pure Ed25519 is refused as rekor-tiles v2.3 does), stores the JSON-canonical entry
/// `{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":…}}` in an RFC 6962 tree, and answers —
/// after `writeLatency`, as the real log answers only once a checkpoint covers the entry — 201 with a
/// `TransparencyLogEntry` (no integrated time, no promise; an inclusion proof against a C2SP checkpoint signed with
/// the log's Ed25519 or ECDSA P-256 key under its origin, the URL without scheme; `logId.keyId` the full checkpoint key id). The same
/// entry again is deduplicated as Tessera does: 409 with `x-log-index`. Reads are C2SP tlog-tiles:
/// `GET /api/v2/checkpoint`, `GET /api/v2/tile/<L>/<N>[.p/<W>]`.
package final class RekorV2Simulator: Sendable {
    package struct Stats: Sendable {
        package var created = 0
        package var duplicates = 0
        package var refused = 0
        package var tileReads = 0
    }
    struct State {
        var leaves: [Data] = []
        /// Hashes of complete, aligned subtrees (they never change in an append-only tree), by "start/size".
        var subtrees: [String: Data] = [:]
        var byLeaf: [Data: Int] = [:]
        var stats = Stats()
        var failures: [(status: Int, remaining: Int)] = []
        var down = false
        var writeLatency: Duration = .zero
        /// Answer 504 after storing (a write the client sees time out although the log took it).
        var dropAnswers = 0
    }

    let server: TestHTTPServer
    let log: Log
    package var url: String { "http://127.0.0.1:\(server.port)" }
    package var origin: String { "127.0.0.1:\(server.port)" }
    package var stats: Stats { log.state.withLock { $0.stats } }
    package var entryCount: Int { log.state.withLock { $0.leaves.count } }

    /// How long a write waits for its checkpoint.
    package func setWriteLatency(_ latency: Duration) { log.state.withLock { $0.writeLatency = latency } }
    /// The next `count` writes get `status`, stored nothing.
    package func fail(status: Int, count: Int) { log.state.withLock { $0.failures.append((status, count)) } }
    /// The next `count` writes are stored, then answered with 504 (the answer lost on the way back).
    package func dropAnswers(count: Int) { log.state.withLock { $0.dropAnswers = count } }
    /// While down, every request gets 503.
    package func setDown(_ down: Bool) { log.state.withLock { $0.down = down } }

    /// The checkpoint key id (C2SP signed-note): Ed25519 SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ public key); ECDSA
    /// SHA-256(SubjectPublicKeyInfo), as rekor-tiles computes them.
    package var keyID: Data { log.keyID(origin: origin) }

    /// The log's checkpoint key: Ed25519 (sigstore's public Rekor v2 logs) or ECDSA P-256 (rekor-tiles takes both).
    package enum LogKey: Sendable {
        case ed25519
        case ecdsaP256
    }

    /// The log key's SubjectPublicKeyInfo, DER.
    package var publicKeyDER: Data { log.key.publicKeyDER }

    /// This log in a `trusted_root.json`'s `tlogs`.
    package var trustedRootLog: String {
        #"{"baseUrl": "\#(url)", "hashAlgorithm": "SHA2_256", "publicKey": {"rawBytes": "\#(publicKeyDER.base64EncodedString())", "#
            + #""keyDetails": "\#(log.key.keyDetails)", "validFor": {"start": "2020-01-01T00:00:00Z"}}, "logId": {"keyId": "\#(keyID.base64EncodedString())"}}"#
    }

    /// Logs `canonicalBody` as it is, of `kind` — as rekor-tiles logged `dsse` 0.0.2 requests before it dropped the
    /// type, so tests can make the entries older bundles carry. Returns the answer's status and body (a
    /// `TransparencyLogEntry` for 201).
    package func append(canonicalBody: Data, kind: String) async -> (status: Int, body: Data) {
        let answer = await log.store(canonicalBody, kind: kind, origin: origin)
        return (answer.status, answer.body)
    }

    package init(logKey: LogKey = .ed25519) async throws {
        let log = Log(
            key: logKey == .ed25519 ? .ed25519(Curve25519.Signing.PrivateKey()) : .p256(P256.Signing.PrivateKey()))
        self.log = log
        let origin = Mutex("")
        server = try await TestHTTPServer { request in await log.handle(request, origin: origin.withLock { $0 }) }
        let port = server.port
        origin.withLock { $0 = "127.0.0.1:\(port)" }
    }

    package func stop() async { await server.stop() }

    /// A checkpoint signing key.
    enum Key: Sendable {
        case ed25519(Curve25519.Signing.PrivateKey)
        case p256(P256.Signing.PrivateKey)

        var publicKeyDER: Data {
            switch self {
            case .ed25519(let k): return k.publicKey.derRepresentation
            case .p256(let k): return k.publicKey.derRepresentation
            }
        }
        var keyDetails: String {
            switch self {
            case .ed25519: return "PKIX_ED25519"
            case .p256: return "PKIX_ECDSA_P256_SHA_256"
            }
        }
        func keyID(origin: String) -> Data {
            switch self {
            case .ed25519(let k):
                return Data(SHA256.hash(data: Data(origin.utf8) + [0x0A, 0x01] + k.publicKey.rawRepresentation))
            case .p256(let k):
                return Data(SHA256.hash(data: k.publicKey.derRepresentation))
            }
        }
        /// Ed25519 over the text; ECDSA P-256 with SHA-256, ASN.1 DER.
        func sign(_ text: Data) -> Data {
            switch self {
            case .ed25519(let k): return (try? k.signature(for: text)) ?? Data()
            case .p256(let k): return (try? k.signature(for: text).derRepresentation) ?? Data()
            }
        }
    }

    final class Log: Sendable {
        let key: Key
        let state = Mutex(State())

        init(key: Key) { self.key = key }

        func keyID(origin: String) -> Data { key.keyID(origin: origin) }

        func handle(_ request: ServedRequest, origin: String) async -> ServedResponse {
            if state.withLock({ $0.down }) { return Self.error(503, 14, "service unavailable") }
            switch (request.method, request.path) {
            case ("POST", "/api/v2/log/entries"):
                return await create(request.body, origin: origin)
            case ("GET", "/api/v2/checkpoint"):
                let leaves = state.withLock { $0.leaves }
                return ServedResponse(
                    status: 200, headers: [("Content-Type", "text/plain")],
                    body: Data(checkpoint(leaves, origin: origin).utf8))
            case ("GET", let path) where path.hasPrefix("/api/v2/tile/"):
                return tile(String(path.dropFirst("/api/v2/tile/".count)))
            default:
                return Self.error(404, 5, "not found")
            }
        }

        /// grpc-gateway's error body: `{"code": <gRPC code>, "message": …, "details": []}`.
        static func error(
            _ status: Int, _ code: Int, _ message: String, headers: [(String, String)] = []
        )
            -> ServedResponse
        {
            .json(status, #"{"code":\#(code),"message":"\#(message)","details":[]}"#, headers: headers)
        }

        func create(_ data: Data, origin: String) async -> ServedResponse {
            let injected: Int? = state.withLock { s in
                guard let i = s.failures.firstIndex(where: { $0.remaining > 0 }) else { return nil }
                s.failures[i].remaining -= 1
                return s.failures[i].status
            }
            if let injected { return Self.error(injected, 14, "injected") }
            let body: Data
            do {
                body = try Self.entry(data)
            } catch {
                state.withLock { $0.stats.refused += 1 }
                return Self.error(400, 3, "invalid hashedrekord request")
            }
            return await store(body, kind: "hashedrekord", origin: origin)
        }

        /// Appends a canonical body (deduplicated by its leaf hash) and answers with its entry, once "a checkpoint
        /// covers it".
        func store(_ body: Data, kind: String, origin: String) async -> ServedResponse {
            let leaf = TestMerkleTree.leafHash(body)
            let (index, duplicate, latency): (Int, Bool, Duration) = state.withLock { s in
                if let index = s.byLeaf[leaf] {
                    s.stats.duplicates += 1
                    return (index, true, s.writeLatency)
                }
                s.leaves.append(leaf)
                s.byLeaf[leaf] = s.leaves.count - 1
                s.stats.created += 1
                return (s.leaves.count - 1, false, s.writeLatency)
            }
            if latency > .zero { try? await Task.sleep(for: latency) }
            if duplicate {
                return Self.error(
                    409, 6, "an equivalent entry already exists in the transparency log with index \(index)",
                    headers: [("x-log-index", String(index))])
            }
            let (leaves, drop): ([Data], Bool) = state.withLock { s in
                let drop = s.dropAnswers > 0
                if drop { s.dropAnswers -= 1 }
                return (s.leaves, drop)
            }
            if drop { return Self.error(504, 4, "deadline exceeded") }
            let (proof, root) = state.withLock { s in
                (Self.path(index, 0, leaves.count, &s), Self.hash(0, leaves.count, &s))
            }
            let entry: [String: Any] = [
                "logIndex": String(index), "logId": ["keyId": keyID(origin: origin).base64EncodedString()],
                "kindVersion": ["kind": kind, "version": "0.0.2"],
                "inclusionProof": [
                    "logIndex": String(index), "rootHash": root.base64EncodedString(),
                    "treeSize": String(leaves.count), "hashes": proof.map { $0.base64EncodedString() },
                    "checkpoint": ["envelope": checkpoint(size: leaves.count, root: root, origin: origin)],
                ],
                "canonicalizedBody": body.base64EncodedString(),
            ]
            return .json(201, object: entry)
        }

        /// RFC 6962 MTH of leaves `low ..< high` of the current tree, complete aligned subtrees cached.
        static func hash(_ low: Int, _ high: Int, _ s: inout State) -> Data {
            let count = high - low
            if count == 1 { return s.leaves[low] }
            let complete = count & (count - 1) == 0
            if complete, let cached = s.subtrees["\(low)/\(count)"] { return cached }
            var k = 1
            while k << 1 < count { k <<= 1 }
            let left = hash(low, low + k, &s)
            let value = TestMerkleTree.node(left, hash(low + k, high, &s))
            if complete { s.subtrees["\(low)/\(count)"] = value }
            return value
        }

        /// RFC 6962 PATH of leaf `m` in leaves `low ..< high`.
        static func path(_ m: Int, _ low: Int, _ high: Int, _ s: inout State) -> [Data] {
            guard high - low > 1 else { return [] }
            var k = 1
            while k << 1 < high - low { k <<= 1 }
            if m - low < k { return path(m, low, low + k, &s) + [hash(low + k, high, &s)] }
            return path(m, low + k, high, &s) + [hash(low, low + k, &s)]
        }

        func checkpoint(_ leaves: [Data], origin: String) -> String {
            let root = state.withLock { s in
                leaves.isEmpty ? TestMerkleTree.rootOfLeaves([]) : Self.hash(0, leaves.count, &s)
            }
            return checkpoint(size: leaves.count, root: root, origin: origin)
        }

        /// A C2SP signed note over `origin\nsize\nroot\n`, signed under the origin with the key hint of the key id.
        func checkpoint(size: Int, root: Data, origin: String) -> String {
            let text = "\(origin)\n\(size)\n\(root.base64EncodedString())\n"
            let signature = key.sign(Data(text.utf8))
            let line = (keyID(origin: origin).prefix(4) + signature).base64EncodedString()
            return text + "\n\u{2014} \(origin) \(line)\n"
        }

        /// `<L>/<N path>[.p/<W>]`: the level-`8·L` node hashes of tile N of the current tree.
        func tile(_ path: String) -> ServedResponse {
            var parts = path.split(separator: "/").map(String.init)
            var width = 256
            if parts.count >= 2, parts[parts.count - 2].hasSuffix(".p"), let w = Int(parts[parts.count - 1]) {
                width = w
                parts.removeLast()
                parts[parts.count - 1] = String(parts[parts.count - 1].dropLast(2))
            }
            guard let level = parts.first.flatMap(Int.init),
                let index = Int(parts.dropFirst().map { $0.hasPrefix("x") ? String($0.dropFirst()) : $0 }.joined())
            else { return Self.error(400, 3, "bad tile path") }
            let leaves = state.withLock { s in
                s.stats.tileReads += 1
                return s.leaves
            }
            let nodes = TestMerkleTree.level(8 * level, of: leaves)
            let start = index * 256
            guard start + width <= nodes.count else { return Self.error(404, 5, "tile not found") }
            return ServedResponse(
                status: 200, headers: [("Content-Type", "application/octet-stream")],
                body: nodes[start..<(start + width)].reduce(Data(), +))
        }

        struct Invalid: Error {}

        /// The canonical entry for a request whose signature verifies (keys sorted, no whitespace, as JCS writes
        /// these ASCII-only objects).
        static func entry(_ data: Data) throws -> Data {
            guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any], json.count == 1,
                let request = json["hashedRekordRequestV002"] as? [String: Any],
                let digestText = request["digest"] as? String, let digest = Data(base64Encoded: digestText),
                digest.count == 32, let signature = request["signature"] as? [String: Any],
                let content = signature["content"] as? String, let sig = Data(base64Encoded: content),
                let verifier = signature["verifier"] as? [String: Any],
                let details = verifier["keyDetails"] as? String
            else { throw Invalid() }
            let certificate = (verifier["x509Certificate"] as? [String: Any])?["rawBytes"] as? String
            let publicKey = (verifier["publicKey"] as? [String: Any])?["rawBytes"] as? String
            guard (certificate == nil) != (publicKey == nil), let raw = (certificate ?? publicKey),
                let der = Data(base64Encoded: raw)
            else { throw Invalid() }
            let key: P256.Signing.PublicKey?
            if certificate != nil {
                key = (try? Certificate(derEncoded: Array(der))).flatMap { P256.Signing.PublicKey($0.publicKey) }
            } else {
                key = try? P256.Signing.PublicKey(derRepresentation: der)
            }
            guard details == "PKIX_ECDSA_P256_SHA_256", let key,
                let ecdsa = try? P256.Signing.ECDSASignature(derRepresentation: sig),
                key.isValidSignature(ecdsa, for: Prehashed(bytes: digest))
            else { throw Invalid() }
            let entry: [String: Any] = [
                "apiVersion": "0.0.2", "kind": "hashedrekord",
                "spec": [
                    "hashedRekordV002": [
                        "data": ["algorithm": "SHA2_256", "digest": digestText],
                        "signature": [
                            "content": content,
                            "verifier": [
                                "keyDetails": details,
                                certificate == nil ? "publicKey" : "x509Certificate": ["rawBytes": raw],
                            ],
                        ],
                    ]
                ],
            ]
            return try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys, .withoutEscapingSlashes])
        }
    }
}

extension TestMerkleTree {
    /// The tree head over these leaf hashes.
    package static func rootOfLeaves(_ leaves: [Data]) -> Data { mth(leaves[...]) }
    /// The audit path of leaf `m` among these leaf hashes.
    package static func pathOfLeaves(_ m: Int, _ leaves: [Data]) -> [Data] { path(m, leaves[...]) }
    /// The hashes of the complete subtrees of height `height`, left to right (level 0: the leaves).
    static func level(_ height: Int, of leaves: [Data]) -> [Data] {
        let width = 1 << height
        return stride(from: 0, to: leaves.count - width + 1, by: width).map { mth(leaves[$0..<($0 + width)]) }
    }
}
