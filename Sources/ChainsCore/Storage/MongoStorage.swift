import ChainsConfig
import Foundation
import KubeModels
import MongoWire
import Signing
import Synchronization

/// The `docdb` backend on `mongo://DB/COLLECTION?id_field=name`: one document per stored payload, as go-cloud's
/// mongodocstore writes Tekton Chains' `SignedDocument` (`MongoDocument`), with go-cloud's `Put` — an unordered
/// `update` of one replacement with `upsert`, filtered by `_id` — then read back with `find` by `_id`: the store
/// counts only when the server says it matched or upserted one document and returns what was written.
///
/// The server's URL is resolved again at every store (`MongoServerURL`): a changed Secret takes effect at the next
/// store, as Chains' directory watch makes it do, and a missing file fails the store naming it.
package final class MongoStorage: StorageBackend {
    package let kind = StorageKind.docdb
    let database: String
    let collection: String
    let idField: String
    let revisionField: String
    let server: MongoServerURL
    let timeout: Duration
    let current = Mutex<(text: String, client: MongoClient)?>(nil)

    package init(
        database: String, collection: String, idField: String, revisionField: String, server: MongoServerURL,
        timeout: Duration
    ) {
        self.database = database
        self.collection = collection
        self.idField = idField
        self.revisionField = revisionField
        self.server = server
        self.timeout = timeout
    }

    var what: String { "mongo://\(database)/\(collection)" }

    /// The client for the URL the configuration names now (a new one when it changed).
    func client() throws(BackendError) -> MongoClient {
        let text: String
        do {
            text = try server.resolve()
        } catch {
            throw BackendError(.failed, backend: kind, peer: what, reason: error.description)
        }
        let (client, old): (MongoClient?, MongoClient?) = current.withLock { current in
            if let current, current.text == text { return (current.client, nil) }
            return (nil, current?.client)
        }
        if let client { return client }
        if let old { Task { await old.close() } }
        do {
            let url = try MongoConnectionString.parse(text)
            let made = try MongoClient(url: url, timeout: timeout, driver: "0.1")
            current.withLock { $0 = (text, made) }
            return made
        } catch {
            throw BackendError(
                .failed, backend: kind, peer: what, reason: "the MongoDB URL (\(server.source)) \(error.description)")
        }
    }

    func peer(_ client: MongoClient) -> String { "\(what) at \(client.url.redacted)" }

    package func store(_ item: SignedArtifact, for run: RunContext) async throws -> StorageReceipt {
        let client: MongoClient
        do {
            client = try self.client()
            let document = try MongoDocument.document(
                for: item, idField: idField, revisionField: revisionField, peer: what)
            try await replace(document, key: item.shortKey, client: client)
            guard let stored = try await self.document(item.shortKey, client: client) else {
                throw BackendError(
                    .failed, backend: kind, peer: peer(client),
                    reason: "find after the write finds no document \(item.shortKey): it was not stored")
            }
            guard stored.sameContent(as: document) else {
                throw BackendError(
                    .failed, backend: kind, peer: peer(client),
                    reason: "find after the write returns another document \(item.shortKey) than was written")
            }
        } catch let error as BackendError {
            throw StorageError(
                backend: kind, item: "\(database)/\(collection)/\(item.shortKey)", reason: error.description,
                underlying: error)
        }
        var receipt = StorageReceipt(backend: kind)
        receipt.locations = [
            .init(
                target: "\(what) _id=\(item.shortKey)", credential: client.url.user ?? "no credentials",
                detail: "replace-with-upsert at \(client.url.redacted); read back", alreadyPresent: false)
        ]
        return receipt
    }

    /// go-cloud's Put: `update` with one replacement filtered by `_id`, `upsert`, unordered.
    func replace(_ document: BSONDocument, key: String, client: MongoClient) async throws(BackendError) {
        var command: BSONDocument = [
            "update": .string(collection),
            "updates": [["q": ["_id": .string(key)], "u": .document(document), "upsert": true, "multi": false]],
            "ordered": false,
        ]
        if !client.url.writeConcern.fields.isEmpty { command["writeConcern"] = .document(client.url.writeConcern) }
        let reply = try await call(command, client: client, what: "the replace of document \(key)")
        if let error = reply["writeErrors"]?.array?.first?.document {
            throw BackendError(
                .failed, backend: kind, peer: peer(client),
                reason:
                    "the server refuses document \(key): \(error["errmsg"]?.string ?? "no message") (code \(error["code"]?.int ?? 0))"
            )
        }
        if let error = reply["writeConcernError"]?.document {
            throw BackendError(
                .unavailable, backend: kind, peer: peer(client),
                reason:
                    "document \(key) was written but not to the write concern asked: \(error["errmsg"]?.string ?? "no message")"
            )
        }
        guard reply["n"]?.int == 1 else {
            throw BackendError(
                .failed, backend: kind, peer: peer(client),
                reason: "the server says it replaced or inserted \(reply["n"]?.int ?? 0) documents for \(key), not one")
        }
    }

    /// The document stored under `key` (go-cloud's Get: `find` by `_id`), nil when there is none.
    package func document(_ key: String) async throws(BackendError) -> BSONDocument? {
        try await document(key, client: client())
    }

    func document(_ key: String, client: MongoClient) async throws(BackendError) -> BSONDocument? {
        let reply = try await call(
            ["find": .string(collection), "filter": ["_id": .string(key)], "limit": 1, "singleBatch": true],
            client: client, what: "find of document \(key)")
        return reply["cursor"]?.document?["firstBatch"]?.array?.first?.document
    }

    func call(_ command: BSONDocument, client: MongoClient, what: String) async throws(BackendError) -> BSONDocument {
        do {
            return try await client.command(command, database: database)
        } catch {
            let kind: BackendError.Kind =
                switch error.kind {
                case .refused: .refused
                case .unavailable: .unavailable
                case .timeout: .timeout
                case .failed: .failed
                }
            throw BackendError(kind, backend: self.kind, peer: peer(client), reason: "\(what): \(error.description)")
        }
    }
}

/// Where a `mongo://` URL's server is, with Tekton Chains' precedence: the file `storage.docdb.mongo-server-url-path`,
/// then `<storage.docdb.mongo-server-url-dir>/MONGO_SERVER_URL`, then `storage.docdb.mongo-server-url`, then the
/// environment's `MONGO_SERVER_URL`. One trailing newline of a file is dropped, as Chains does.
package struct MongoServerURL: Sendable {
    package var path = ""
    package var directory = ""
    package var value = ""
    package var environment: String?

    package init(config: ChainsConfig, environment: [String: String]) {
        self.init(
            path: config.mongoServerURLPath, directory: config.mongoServerURLDir, value: config.mongoServerURL,
            environment: environment["MONGO_SERVER_URL"])
    }

    package init(path: String = "", directory: String = "", value: String = "", environment: String? = nil) {
        self.path = path
        self.directory = directory
        self.value = value
        self.environment = environment
    }

    /// The setting that gives the URL, in Chains' precedence: its key (or the variable) and the file to read, if any.
    var chosen: (key: String, file: String?) {
        if !path.isEmpty { return ("storage.docdb.mongo-server-url-path", path) }
        if !directory.isEmpty {
            return (
                "storage.docdb.mongo-server-url-dir", (directory as NSString).appendingPathComponent("MONGO_SERVER_URL")
            )
        }
        return (value.isEmpty ? "MONGO_SERVER_URL" : "storage.docdb.mongo-server-url", nil)
    }

    /// Which setting gives the URL, for messages (never the URL: it may hold a password).
    package var source: String { chosen.file.map { "\(chosen.key) (\($0))" } ?? chosen.key }

    /// The chains-config key (or the variable) that gives the URL.
    package var sourceKey: String { chosen.key }

    package func resolve() throws(ChainsError) -> String {
        let chosen = self.chosen
        if let file = chosen.file { return try read(file, key: chosen.key) }
        if !value.isEmpty { return value }
        guard let environment, !environment.isEmpty else {
            throw ChainsError(
                .badInput,
                "mongo:// needs a server: set one of storage.docdb.mongo-server-url-path, storage.docdb.mongo-server-url-dir, storage.docdb.mongo-server-url, or the MONGO_SERVER_URL environment variable",
                key: "storage.docdb.url")
        }
        return environment
    }

    func read(_ file: String, key: String) throws(ChainsError) -> String {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ChainsError(.badInput, "names \(file), which cannot be read (is the Secret mounted?)", key: key)
        }
        var text = String(decoding: data, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        guard !text.isEmpty else { throw ChainsError(.badInput, "names \(file), which is empty", key: key) }
        return text
    }
}

/// Tekton Chains' `SignedDocument` as go-cloud's mongodocstore encodes it (`LowercaseFields` off, so the Go field
/// names): `_id` the short key, `Signed` binary (subtype 0) the payload, `Signature` the base64 of the signature,
/// `Cert` and `Chain` strings (`""` kept), `Object` the payload's JSON as an embedded document (numbers as doubles,
/// as Go's `json.Unmarshal` into `interface{}` makes them), `Name` the short key — unless `id_field` is spelled
/// exactly `Name`, which go-cloud deletes — and the revision field, a fresh UUID per write.
package enum MongoDocument {
    package static func document(
        for artifact: SignedArtifact, idField: String, revisionField: String, peer: String
    ) throws(BackendError) -> BSONDocument {
        guard let object = try? JSONValue(parsing: artifact.payload), case .object = object else {
            throw BackendError(
                .failed, backend: .docdb, peer: peer,
                reason: "the payload is not a JSON object; a document needs its Object")
        }
        var document: BSONDocument = [
            "_id": .string(artifact.shortKey), "Signed": .binary(subtype: 0, artifact.payload),
            "Signature": .string(artifact.signature.base64EncodedString()),
            "Cert": .string(CertificatePEM.leaf(artifact.certificateChain)),
            "Chain": .string(CertificatePEM.rest(artifact.certificateChain)), "Object": value(object),
        ]
        if idField != "Name" { document["Name"] = .string(artifact.shortKey) }
        document[revisionField] = .string(UUID().uuidString.lowercased())
        return document
    }

    package static func value(_ json: JSONValue) -> BSON {
        switch json {
        case .string(let text): return .string(text)
        case .bool(let flag): return .bool(flag)
        case .number(let number): return .double(number)
        case .array(let array): return .array(array.map(value))
        case .object(let object):
            return .document(
                BSONDocument(object.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: value($0.value)) }))
        case .null: return .null
        }
    }
}
