import Crypto
import Foundation
import MongoWire
import _CryptoExtras

// The server side of SCRAM-SHA-256, as mongod answers it.
extension MongoSession {
    static let iterations = 15_000  // mongod's default scramSHA256IterationCount

    /// The user's salt: fixed per user, as a server stores one with the user's keys.
    static func salt(_ user: MongoSimulator.User) -> Data {
        Data(SHA256.hash(data: Data("salt:\(user.database).\(user.name)".utf8)).prefix(16))
    }

    func saslStart(_ command: BSONDocument, database: String) -> BSONDocument {
        let mechanism = command["mechanism"]?.string ?? ""
        if mechanism == "SCRAM-SHA-1" {
            // mongod enables SCRAM-SHA-1 by default: an unknown user fails as any failed authentication; our users
            // hold SCRAM-SHA-256 credentials only.
            guard case .binary(_, let data) = command["payload"], let text = String(data: data, encoding: .utf8),
                let name = SCRAMClient.fields(String(text.dropFirst(3)))["n"],
                users.contains(where: { $0.name == name && $0.database == database })
            else { return Self.authFailed }
            return Self.error(
                334, "MechanismUnavailable",
                "Unable to use SCRAM-SHA-1 based authentication for user without any SCRAM-SHA-1 credentials registered"
            )
        }
        guard mechanism == "SCRAM-SHA-256" else {
            return Self.error(
                334, "MechanismUnavailable",
                "Received authentication for mechanism \(mechanism) which is unknown or not enabled")
        }
        guard case .binary(_, let data) = command["payload"], let text = String(data: data, encoding: .utf8),
            text.hasPrefix("n,,") || text.hasPrefix("y,,")
        else { return Self.error(17, "ProtocolError", "Invalid SCRAM client first message") }
        let firstBare = String(text.dropFirst(3))
        let fields = SCRAMClient.fields(firstBare)
        let name = (fields["n"] ?? "").replacingOccurrences(of: "=2C", with: ",").replacingOccurrences(
            of: "=3D", with: "=")
        guard let clientNonce = fields["r"], !clientNonce.isEmpty,
            let user = users.first(where: { $0.name == name && $0.database == database }),
            let prepared = try? SASLprep.prepare(user.password)
        else { return Self.authFailed }
        let nonce = clientNonce + Data((0..<18).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let salt = Self.salt(user)
        let fault = scramFault()
        forge = fault.forge
        let iterations = fault.iterations ?? Self.iterations
        let serverFirst = "r=\(nonce),s=\(salt.base64EncodedString()),i=\(iterations)"
        guard
            let salted = try? KDF.Insecure.PBKDF2.deriveKey(
                from: Data(prepared.utf8), salt: salt, using: .sha256, outputByteCount: 32,
                unsafeUncheckedRounds: iterations
            ).withUnsafeBytes({ Data($0) })
        else { return Self.authFailed }
        conversation = (user, nonce, firstBare, serverFirst, salted)
        skipEmptyExchange = command["options"]?.document?["skipEmptyExchange"]?.bool ?? false
        return [
            "conversationId": 1, "done": false, "payload": .binary(subtype: 0, Data(serverFirst.utf8)), "ok": 1.0,
        ]
    }

    func saslContinue(_ command: BSONDocument) -> BSONDocument {
        guard case .binary(_, let data) = command["payload"], let text = String(data: data, encoding: .utf8) else {
            return Self.error(17, "ProtocolError", "saslContinue has no payload")
        }
        if text.isEmpty, user != nil {
            return ["conversationId": 1, "done": true, "payload": .binary(subtype: 0, Data()), "ok": 1.0]
        }
        guard let (account, nonce, firstBare, serverFirst, salted) = conversation else {
            return Self.error(17, "ProtocolError", "No SASL session state found")
        }
        conversation = nil
        guard let proofRange = text.range(of: ",p=") else { return Self.authFailed }
        let withoutProof = String(text[..<proofRange.lowerBound])
        let fields = SCRAMClient.fields(text)
        guard fields["c"] == "biws", fields["r"] == nonce, let proof = Data(base64Encoded: fields["p"] ?? ""),
            proof.count == 32
        else { return Self.authFailed }
        let authMessage = Data("\(firstBare),\(serverFirst),\(withoutProof)".utf8)
        let storedKey = Data(SHA256.hash(data: Self.mac(salted, Data("Client Key".utf8))))
        let clientSignature = Self.mac(storedKey, authMessage)
        let clientKey = Data(zip(proof, clientSignature).map { $0 ^ $1 })
        guard Data(SHA256.hash(data: clientKey)) == storedKey else { return Self.authFailed }
        user = account
        let serverKey = Self.mac(forge ? Data(salted.reversed()) : salted, Data("Server Key".utf8))
        let serverSignature = Self.mac(serverKey, authMessage)
        return [
            "conversationId": 1, "done": .bool(skipEmptyExchange),
            "payload": .binary(subtype: 0, Data("v=\(serverSignature.base64EncodedString())".utf8)), "ok": 1.0,
        ]
    }

    static func mac(_ key: Data, _ data: Data) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: key)))
    }
}

/// The collections' commands, over the simulator's state.
enum MongoStore {
    static func collection(_ command: BSONDocument, _ name: String) -> String? { command[name]?.string }

    static func insert(_ command: BSONDocument, database: String, state: MongoSimulator.State) -> BSONDocument {
        guard let name = collection(command, "insert") else { return invalid("insert") }
        let key = "\(database).\(name)"
        let ordered = command["ordered"]?.bool ?? true
        var n = 0
        var errors: [BSON] = []
        state.collections.withLock { collections in
            var documents = collections[key] ?? []
            for (index, value) in (command["documents"]?.array ?? []).enumerated() {
                guard var document = value.document else { continue }
                let id = document["_id"] ?? .objectID(Data((0..<12).map { _ in UInt8.random(in: 0...255) }))
                document["_id"] = nil
                document.fields.insert(.init(key: "_id", value: id), at: 0)
                if documents.contains(where: { same($0["_id"], id) }) {
                    errors.append(duplicate(index: index, key: key, id: id))
                    if ordered { break }
                    continue
                }
                documents.append(document)
                n += 1
            }
            collections[key] = documents
        }
        var reply: BSONDocument = ["n": .int32(Int32(n))]
        if !errors.isEmpty { reply["writeErrors"] = .array(errors) }
        reply["ok"] = 1.0
        return reply
    }

    static func duplicate(index: Int, key: String, id: BSON) -> BSON {
        [
            "index": .int32(Int32(index)), "code": 11000,
            "errmsg": .string(
                "E11000 duplicate key error collection: \(key) index: _id_ dup key: { _id: \(show(id)) }"),
        ]
    }

    static func show(_ value: BSON) -> String {
        switch value {
        case .string(let text): return "\"\(text)\""
        case .objectID(let bytes): return "ObjectId('\(bytes.map { String(format: "%02x", $0) }.joined())')"
        default: return "\(value.int.map(String.init) ?? "…")"
        }
    }

    static func update(_ command: BSONDocument, database: String, state: MongoSimulator.State) -> BSONDocument {
        guard let name = collection(command, "update") else { return invalid("update") }
        let key = "\(database).\(name)"
        var (n, modified) = (0, 0)
        var upserted: [BSON] = []
        var errors: [BSON] = []
        state.collections.withLock { collections in
            var documents = collections[key] ?? []
            for (index, value) in (command["updates"]?.array ?? []).enumerated() {
                guard let update = value.document, let filter = update["q"]?.document,
                    let change = update["u"]?.document
                else { continue }
                let matched = documents.indices.filter { matches(documents[$0], filter) }
                let targets = update["multi"]?.bool == true ? matched : Array(matched.prefix(1))
                if targets.isEmpty, update["upsert"]?.bool == true {
                    var base = BSONDocument(filter.fields.filter { !isOperator($0.value) && !$0.key.hasPrefix("$") })
                    if !isModifier(change) { base = BSONDocument(base.fields.filter { $0.key == "_id" }) }
                    guard case .success(var document) = apply(change, to: base) else {
                        errors.append(["index": .int32(Int32(index)), "code": 9, "errmsg": "unsupported update"])
                        continue
                    }
                    let id =
                        document["_id"] ?? base["_id"]
                        ?? .objectID(Data((0..<12).map { _ in UInt8.random(in: 0...255) }))
                    document["_id"] = nil
                    document.fields.insert(.init(key: "_id", value: id), at: 0)
                    documents.append(document)
                    upserted.append(["index": .int32(Int32(index)), "_id": id])
                    n += 1
                    continue
                }
                for target in targets {
                    switch apply(change, to: documents[target]) {
                    case .success(var document):
                        let id = documents[target]["_id"] ?? .null
                        if let newID = document["_id"], !same(newID, id) {
                            errors.append([
                                "index": .int32(Int32(index)), "code": 66,
                                "errmsg":
                                    "After applying the update, the (immutable) field '_id' was found to have been altered",
                            ])
                            continue
                        }
                        document["_id"] = nil
                        document.fields.insert(.init(key: "_id", value: id), at: 0)
                        n += 1
                        if document != documents[target] { modified += 1 }
                        documents[target] = document
                    case .failure(let message):
                        errors.append(["index": .int32(Int32(index)), "code": 9, "errmsg": .string(message)])
                    }
                }
            }
            collections[key] = documents
        }
        var reply: BSONDocument = ["n": .int32(Int32(n)), "nModified": .int32(Int32(modified))]
        if !upserted.isEmpty { reply["upserted"] = .array(upserted) }
        if !errors.isEmpty { reply["writeErrors"] = .array(errors) }
        reply["ok"] = 1.0
        return reply
    }

    enum Applied { case success(BSONDocument), failure(String) }

    static func isModifier(_ change: BSONDocument) -> Bool { change.fields.first?.key.hasPrefix("$") ?? false }

    static func apply(_ change: BSONDocument, to document: BSONDocument) -> Applied {
        guard isModifier(change) else { return .success(change) }
        var result = document
        for field in change.fields {
            guard field.key == "$set", let sets = field.value.document else {
                return .failure(
                    "Unknown modifier: \(field.key). Expected a valid update modifier or pipeline-style update specified as an array"
                )
            }
            for set in sets.fields { result[set.key] = set.value }
        }
        return .success(result)
    }

    static func find(
        _ command: BSONDocument, database: String, state: MongoSimulator.State, alter: (field: String, value: BSON)?
    ) -> BSONDocument {
        guard let name = collection(command, "find") else { return invalid("find") }
        let key = "\(database).\(name)"
        let filter = command["filter"]?.document ?? [:]
        var found = state.collections.withLock { ($0[key] ?? []).filter { matches($0, filter) } }
        if let limit = command["limit"]?.int, limit != 0 { found = Array(found.prefix(abs(limit))) }
        if let alter {
            found = found.map {
                var d = $0; d[alter.field] = alter.value; return d
            }
        }
        return [
            "cursor": ["firstBatch": .array(found.map { .document($0) }), "id": .int64(0), "ns": .string(key)],
            "ok": 1.0,
        ]
    }

    static func delete(_ command: BSONDocument, database: String, state: MongoSimulator.State) -> BSONDocument {
        guard let name = collection(command, "delete") else { return invalid("delete") }
        let key = "\(database).\(name)"
        var n = 0
        state.collections.withLock { collections in
            var documents = collections[key] ?? []
            for value in command["deletes"]?.array ?? [] {
                guard let delete = value.document, let filter = delete["q"]?.document else { continue }
                let all = delete["limit"]?.int == 0
                while let index = documents.firstIndex(where: { matches($0, filter) }) {
                    documents.remove(at: index)
                    n += 1
                    if !all { break }
                }
            }
            collections[key] = documents
        }
        return ["n": .int32(Int32(n)), "ok": 1.0]
    }

    static func invalid(_ name: String) -> BSONDocument {
        MongoSession.error(73, "InvalidNamespace", "Invalid namespace specified for \(name)")
    }

    static func isOperator(_ value: BSON) -> Bool {
        value.document.map { !$0.fields.isEmpty && $0.fields.allSatisfy { $0.key.hasPrefix("$") } } ?? false
    }

    /// Equality (numbers by value across int32/int64/double) and `$eq`/`$in`/`$ne` on top-level fields.
    static func matches(_ document: BSONDocument, _ filter: BSONDocument) -> Bool {
        filter.fields.allSatisfy { condition in
            let value = document[condition.key]
            guard isOperator(condition.value), let operators = condition.value.document else {
                return same(value, condition.value)
            }
            return operators.fields.allSatisfy { op in
                switch op.key {
                case "$eq": return same(value, op.value)
                case "$ne": return !same(value, op.value)
                case "$in": return (op.value.array ?? []).contains { same(value, $0) }
                default: return false
                }
            }
        }
    }

    static func same(_ a: BSON?, _ b: BSON) -> Bool {
        guard let a else { return b == .null }
        switch (a, b) {
        case (.int32, _), (.int64, _), (.double, _):
            guard let x = number(a), let y = number(b) else { return false }
            return x == y
        default: return a.sameContent(as: b)
        }
    }

    static func number(_ value: BSON) -> Double? {
        switch value {
        case .int32(let v): return Double(v)
        case .int64(let v): return Double(v)
        case .double(let v): return v
        default: return nil
        }
    }
}
