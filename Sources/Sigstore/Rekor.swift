import Crypto
import Foundation
import HTTPTransport
import Signing
import SwiftASN1
import X509

/// Rekor refused, failed, or answered something we do not accept. Names the log; never a credential.
package struct RekorError: Error, Sendable, CustomStringConvertible {
    package var address: String
    package var status: Int?
    package var reason: String
    /// An answer that is not a log entry at all (garbage, an empty map): Rekor or a proxy in front of it is broken
    /// now, and may not be when asked again.
    package var malformedAnswer: Bool
    /// Rekor may answer later (5xx, 429, a malformed answer). A refused entry or a log answer that does not verify
    /// will not change.
    package var isRetryable: Bool {
        malformedAnswer || (status.map(HTTPStatusRule.isRetryable) ?? false)
    }

    package init(address: String, status: Int?, reason: String, malformedAnswer: Bool = false) {
        self.address = address
        self.status = status
        self.reason = reason
        self.malformedAnswer = malformedAnswer
    }
    package var description: String { "Rekor \(address): " + (status.map { "HTTP \($0): " } ?? "") + reason }
}

/// What to log: a simplesigning signature (`hashedrekord` 0.0.1) or a DSSE envelope (`dsse` 0.0.1).
package enum RekorProposal: Sendable {
    /// The payload's SHA-256, the raw signature, and the verifier (certificate or public key) as PEM.
    case hashedRekord(payloadSHA256: Data, signature: Data, verifierPEM: String)
    /// The DSSE envelope JSON and the verifier as PEM.
    case dsse(envelope: Data, verifierPEM: String)

    /// A simplesigning signature over `payload`.
    package static func hashedRekord(payload: Data, signature: Data, verifierPEM: String) -> RekorProposal {
        .hashedRekord(payloadSHA256: Data(SHA256.hash(data: payload)), signature: signature, verifierPEM: verifierPEM)
    }

    package var kind: String {
        switch self {
        case .hashedRekord: return "hashedrekord"
        case .dsse: return "dsse"
        }
    }

    /// The ProposedEntry JSON Rekor's API takes.
    package var body: Data {
        let entry: CanonicalJSON
        switch self {
        case .hashedRekord(let digest, let signature, let pem):
            entry = .object([
                "apiVersion": .string("0.0.1"), "kind": .string("hashedrekord"),
                "spec": .object([
                    "data": .object([
                        "hash": .object(["algorithm": .string("sha256"), "value": .string(digest.hexString)])
                    ]),
                    "signature": .object([
                        "content": .string(signature.base64EncodedString()),
                        "publicKey": .object(["content": .string(Data(pem.utf8).base64EncodedString())]),
                    ]),
                ]),
            ])
        case .dsse(let envelope, let pem):
            entry = .object([
                "apiVersion": .string("0.0.1"), "kind": .string("dsse"),
                "spec": .object([
                    "proposedContent": .object([
                        "envelope": .string(String(decoding: envelope, as: UTF8.self)),
                        "verifiers": .array([.string(Data(pem.utf8).base64EncodedString())]),
                    ])
                ]),
            ])
        }
        return entry.serialized
    }
}

/// One log entry as Rekor returns it, checked: the signed entry timestamp, the inclusion proof and the checkpoint
/// verify with the log's key, and the body is what we proposed.
package struct RekorEntry: Sendable {
    /// 80 hex digits: tree ID and the leaf's UUID.
    package var id: String
    package var uuid: String { String(id.suffix(64)) }
    package var logIndex: Int64
    package var integratedTime: Int64
    /// SHA-256 of the log's DER public key.
    package var logID: Data
    /// The canonicalised entry, decoded.
    package var body: Data
    package var kind: String
    package var signedEntryTimestamp: Data
    /// Always there in what the log answers; absent in cosign's layer annotation, which carries only the SET.
    package var inclusionProof: TransparencyLogEntry.InclusionProof?
    /// The log's address, for `chains.tekton.dev/transparency`.
    package var logURL: String

    package init(
        id: String, logIndex: Int64, integratedTime: Int64, logID: Data, body: Data, kind: String,
        signedEntryTimestamp: Data, inclusionProof: TransparencyLogEntry.InclusionProof?, logURL: String
    ) {
        self.id = id
        self.logIndex = logIndex
        self.integratedTime = integratedTime
        self.logID = logID
        self.body = body
        self.kind = kind
        self.signedEntryTimestamp = signedEntryTimestamp
        self.inclusionProof = inclusionProof
        self.logURL = logURL
    }

    package var integratedDate: Date { Date(timeIntervalSince1970: TimeInterval(integratedTime)) }

    /// `<url>/api/v1/log/entries?logIndex=N`, the value Chains writes in `chains.tekton.dev/transparency`.
    package var annotationValue: String { "\(logURL)/api/v1/log/entries?logIndex=\(logIndex)" }

    /// The entry as a sigstore bundle carries it.
    package var bundleEntry: TransparencyLogEntry {
        TransparencyLogEntry(
            logIndex: logIndex, logID: logID, kind: kind, version: "0.0.1", integratedTime: integratedTime,
            signedEntryTimestamp: signedEntryTimestamp, inclusionProof: inclusionProof, canonicalizedBody: body)
    }

    /// cosign's `dev.sigstore.cosign/bundle` layer annotation: the SET and what it signs.
    package var cosignBundleAnnotation: String {
        CanonicalJSON.object([
            "SignedEntryTimestamp": .string(signedEntryTimestamp.base64EncodedString()),
            "Payload": .object([
                "body": .string(body.base64EncodedString()), "integratedTime": .integer(integratedTime),
                "logIndex": .integer(logIndex), "logID": .string(logID.hexString),
            ]),
        ]).text
    }
}

/// A Rekor v1 client: adds an entry (or finds the one already there — never a second), and checks what comes back.
package struct RekorClient: Sendable {
    package var address: URL
    let transport: any HTTPTransport
    /// The log keys entries must verify with (a trusted root's `tlogs`). Empty: the key is fetched from the log
    /// itself, as Tekton Chains does — consistency is checked, not who runs the log; `keySource` says so.
    package var logs: [TrustedRoot.LogInstance]

    package init(address: URL, transport: any HTTPTransport, logs: [TrustedRoot.LogInstance] = []) {
        self.address = address
        self.transport = transport
        self.logs = logs
    }

    var name: String { address.absoluteString }

    func error(_ reason: String, status: Int? = nil, malformed: Bool = false) -> RekorError {
        RekorError(address: name, status: status, reason: reason, malformedAnswer: malformed)
    }

    /// Adds `proposal`; a 409 (the same entry exists) fetches and checks that entry instead.
    package func add(_ proposal: RekorProposal) async throws -> RekorEntry {
        let response = try await transport.send(
            HTTPRequest(
                method: "POST", url: address.appendingPathComponent("api/v1/log/entries"),
                headers: ["Content-Type": "application/json", "Accept": "application/json"], body: proposal.body))
        let entry: RekorEntry
        switch response.status {
        case 201:
            entry =
                try parseEntries(response.body).first ?? { throw error("the answer holds no entry", malformed: true) }()
        case 409:
            guard let location = response.headers["Location"], let uuid = location.split(separator: "/").last else {
                throw error("the entry exists, but the answer does not say where (no Location)", status: 409)
            }
            entry = try await self.entry(uuid: String(uuid))
        default:
            throw failure(response)
        }
        try await verify(entry)
        try Self.check(entry, matches: proposal, log: name)
        return entry
    }

    /// The entry with `uuid` (64 or 80 hex digits), with its inclusion proof.
    package func entry(uuid: String) async throws -> RekorEntry {
        guard uuid.count == 64 || uuid.count == 80, uuid.allSatisfy(\.isHexDigit) else {
            throw error("\"\(uuid.prefix(90))\" is not an entry UUID")
        }
        let response = try await transport.send(
            HTTPRequest(
                method: "GET", url: address.appendingPathComponent("api/v1/log/entries/\(uuid)"),
                headers: ["Accept": "application/json"]))
        guard response.status == 200 else { throw failure(response) }
        guard let entry = try parseEntries(response.body).first else {
            throw error("the answer holds no entry", malformed: true)
        }
        return entry
    }

    /// The entry at global `logIndex`, with its inclusion proof.
    package func entry(logIndex: Int64) async throws -> RekorEntry {
        var components = URLComponents(
            url: address.appendingPathComponent("api/v1/log/entries"), resolvingAgainstBaseURL: false)
        components?.queryItems = [URLQueryItem(name: "logIndex", value: String(logIndex))]
        guard let url = components?.url else { throw error("cannot build the entry URL") }
        let response = try await transport.send(
            HTTPRequest(method: "GET", url: url, headers: ["Accept": "application/json"]))
        guard response.status == 200 else { throw failure(response) }
        guard let entry = try parseEntries(response.body).first else {
            throw error("the answer holds no entry", malformed: true)
        }
        return entry
    }

    func failure(_ response: HTTPResponse) -> RekorError {
        error(RekorError.message(in: response) ?? "the entry was refused", status: response.status)
    }

    package func parseEntries(_ data: Data) throws(RekorError) -> [RekorEntry] {
        guard let map = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw error("the answer is not a log entry map", malformed: true)
        }
        var out: [RekorEntry] = []
        for (id, value) in map {
            guard let e = value as? [String: Any],
                let body = (e["body"] as? String).flatMap({ Data(base64Encoded: $0) }),
                let integrated = (e["integratedTime"] as? NSNumber)?.int64Value,
                let logIndex = (e["logIndex"] as? NSNumber)?.int64Value,
                let logID = (e["logID"] as? String).flatMap(Data.init(hex:)),
                let verification = e["verification"] as? [String: Any],
                let set = (verification["signedEntryTimestamp"] as? String).flatMap({ Data(base64Encoded: $0) })
            else {
                throw error(
                    "entry \(id.prefix(80)) lacks body, times, log ID or signed entry timestamp", malformed: true)
            }
            guard let proof = verification["inclusionProof"] as? [String: Any],
                let proofIndex = (proof["logIndex"] as? NSNumber)?.int64Value,
                let root = (proof["rootHash"] as? String).flatMap(Data.init(hex:)),
                let size = (proof["treeSize"] as? NSNumber)?.int64Value,
                let hashes = proof["hashes"] as? [String], let checkpoint = proof["checkpoint"] as? String
            else { throw error("entry \(id.prefix(80)) has no inclusion proof with a checkpoint") }
            let kind = ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any])?["kind"] as? String ?? ""
            var hashList: [String] = []
            for h in hashes {
                guard let raw = Data(hex: h) else { throw error("entry \(id.prefix(80)): a proof hash is not hex") }
                hashList.append(raw.base64EncodedString())
            }
            out.append(
                RekorEntry(
                    id: id, logIndex: logIndex, integratedTime: integrated, logID: logID, body: body, kind: kind,
                    signedEntryTimestamp: set,
                    inclusionProof: .init(
                        logIndex: String(proofIndex), rootHash: root.base64EncodedString(), treeSize: String(size),
                        hashes: hashList, checkpoint: .init(envelope: checkpoint)),
                    logURL: name.hasSuffix("/") ? String(name.dropLast()) : name))
        }
        return out
    }

    /// The log's keys: the trusted root's, else the one the log publishes.
    func logKeys() async throws -> [TrustedRoot.LogInstance] {
        if !logs.isEmpty { return logs }
        let response = try await transport.send(
            HTTPRequest(
                method: "GET", url: address.appendingPathComponent("api/v1/log/publicKey"),
                headers: ["Accept": "application/x-pem-file"]))
        guard response.status == 200,
            let document = try? PEMDocument(pemString: String(decoding: response.body, as: UTF8.self))
        else { throw error("the log's public key cannot be read", status: response.status) }
        let der = Data(document.derBytes)
        return [
            TrustedRoot.LogInstance(
                baseURL: name, publicKey: der, keyID: Data(SHA256.hash(data: der)), validFor: nil)
        ]
    }

    /// Checks the entry's SET, inclusion proof and checkpoint with the log's key.
    package func verify(_ entry: RekorEntry) async throws {
        let keys = try await logKeys()
        do {
            try Self.verify(entry, logs: keys)
        } catch {
            throw self.error(error.description)
        }
    }

    /// The offline checks, for verification too: the SET (RFC 8785 JSON of body, integratedTime, logID, logIndex)
    /// and the inclusion proof up to a checkpoint, both signed by the key whose ID is the entry's log ID.
    package static func verify(
        _ entry: RekorEntry, logs: [TrustedRoot.LogInstance], requireInclusionProof: Bool = true
    ) throws(CertificateCheckError) {
        guard let log = logs.first(where: { $0.keyID == entry.logID }) else {
            throw CertificateCheckError("the entry is from log \(entry.logID.hexString), which is not a trusted log")
        }
        // The trusted root says when the log's key may vouch (a retired or not yet active key vouches for nothing).
        guard log.validFor?.contains(entry.integratedDate) ?? true else {
            throw CertificateCheckError(
                "the entry was integrated at \(entry.integratedDate), outside the validity of log \(log.baseURL)'s key")
        }
        guard let key = try? PublicKey(der: log.publicKey) else {
            throw CertificateCheckError("the log key of \(log.baseURL) is not a supported public key")
        }
        let promise = CanonicalJSON.object([
            "body": .string(entry.body.base64EncodedString()), "integratedTime": .integer(entry.integratedTime),
            "logID": .string(entry.logID.hexString), "logIndex": .integer(entry.logIndex),
        ])
        guard key.isValidSignature(entry.signedEntryTimestamp, for: promise.serialized) else {
            throw CertificateCheckError("the signed entry timestamp does not verify with the log's key")
        }
        guard let proof = entry.inclusionProof else {
            if requireInclusionProof { throw CertificateCheckError("the entry has no inclusion proof") }
            return
        }
        guard let index = UInt64(proof.logIndex), let size = UInt64(proof.treeSize),
            let root = Data(base64Encoded: proof.rootHash)
        else { throw CertificateCheckError("the inclusion proof's index, size or root hash is malformed") }
        let path = proof.hashes.compactMap { Data(base64Encoded: $0) }
        guard path.count == proof.hashes.count,
            Merkle.root(fromInclusionProof: path, index: index, size: size, leafHash: Merkle.leafHash(entry.body))
                == root
        else { throw CertificateCheckError("the inclusion proof does not lead to the root hash") }
        guard let envelope = proof.checkpoint?.envelope else {
            // A v0.1 bundle may carry a bare proof: its root is not signed, so the SET is what holds.
            if requireInclusionProof { throw CertificateCheckError("the inclusion proof has no checkpoint") }
            return
        }
        let checkpoint = try Checkpoint(parsing: envelope)
        guard checkpoint.isSigned(by: log.publicKey) else {
            throw CertificateCheckError("the checkpoint is not signed by the log's key")
        }
        guard checkpoint.rootHash == root, checkpoint.size == size else {
            throw CertificateCheckError("the checkpoint is for another tree than the inclusion proof")
        }
    }

    /// The body the log recorded is the entry we proposed: same hash and signature, same verifier.
    package static func check(_ entry: RekorEntry, matches proposal: RekorProposal, log: String) throws(RekorError) {
        let mismatch = RekorError(
            address: log, status: nil, reason: "the log's entry \(entry.uuid) is not the entry we proposed")
        guard let body = try? JSONSerialization.jsonObject(with: entry.body) as? [String: Any],
            body["kind"] as? String == proposal.kind, let spec = body["spec"] as? [String: Any]
        else { throw mismatch }
        switch proposal {
        case .hashedRekord(let digest, let signature, let pem):
            let data = (spec["data"] as? [String: Any])?["hash"] as? [String: Any]
            let sig = spec["signature"] as? [String: Any]
            let key = ((sig?["publicKey"] as? [String: Any])?["content"] as? String).flatMap { Data(base64Encoded: $0) }
            guard data?["algorithm"] as? String == "sha256", data?["value"] as? String == digest.hexString,
                sig?["content"] as? String == signature.base64EncodedString(),
                let key, Self.sameDER(String(decoding: key, as: UTF8.self), pem)
            else { throw mismatch }
        case .dsse(let envelope, let pem):
            guard let env = try? JSONDecoder().decode(DSSE.Envelope.self, from: envelope),
                let payload = Data(base64Encoded: env.payload),
                (spec["payloadHash"] as? [String: Any])?["value"] as? String
                    == Data(SHA256.hash(data: payload)).hexString,
                let signatures = spec["signatures"] as? [[String: Any]]
            else { throw mismatch }
            for ours in env.signatures {
                guard
                    signatures.contains(where: {
                        $0["signature"] as? String == ours.sig
                            && (($0["verifier"] as? String).flatMap { Data(base64Encoded: $0) }).map {
                                Self.sameDER(String(decoding: $0, as: UTF8.self), pem)
                            } == true
                    })
                else { throw mismatch }
            }
        }
    }

    /// Two PEM texts hold the same DER (the log re-encodes what it is given, and older entries carry PEM with any
    /// line length, which strict PEM parsers refuse).
    static func sameDER(_ a: String, _ b: String) -> Bool {
        guard let x = lenientDER(a), let y = lenientDER(b) else { return false }
        return x == y
    }

    /// The base64 between the first BEGIN and END lines of a PEM text, whatever its line lengths.
    static func lenientDER(_ pem: String) -> Data? {
        let lines = pem.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let begin = lines.firstIndex(where: { $0.hasPrefix("-----BEGIN ") }),
            let end = lines[begin...].firstIndex(where: { $0.hasPrefix("-----END ") })
        else { return nil }
        return Data(base64Encoded: lines[(begin + 1)..<end].joined())
    }
}

extension RekorError: RetryClassifiable {
    /// The `message` of a log's JSON error answer (Rekor v1's and grpc-gateway's alike), from its first 64 KiB.
    static func message(in response: HTTPResponse) -> String? {
        (try? JSONSerialization.jsonObject(with: response.body.prefix(65536)) as? [String: Any])?["message"] as? String
    }
}
