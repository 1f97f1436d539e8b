import Crypto
import Foundation
import HTTPTransport
import MongoWire
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import _CryptoExtras

/// A MongoDB server at the wire (mongod 7.0's answers, standalone or as one member of a replica set), enough for a
/// driver to connect, authenticate and read and write documents: the first `hello` as OP_QUERY or OP_MSG, OP_MSG
/// with document sequences, SCRAM-SHA-256 (`saslStart`/`saslContinue`, `skipEmptyExchange`, RFC 5802 proof checked
/// against the stored key, the server signature sent), `insert` (duplicate `_id` → write error 11000), `update`
/// (replacement or `$set`, `upsert`, `_id` immutable), `find` (equality and `$in` filters, `limit`, one batch),
/// `delete`, `ping`, `buildInfo`, `endSessions`; errors as mongod writes them (`ok: 0`, `errmsg`, `code`,
/// `codeName`): 13 Unauthorized before authentication, 18 AuthenticationFailed, 59 CommandNotFound, 334
/// MechanismUnavailable. Faults are injected per command. Checked by pymongo in `Tests/Interop/mongo_check.py`.
package final class MongoSimulator: Sendable {
    package struct User: Sendable {
        package var name: String
        package var password: String
        package var database: String
        package init(_ name: String, password: String, database: String = "admin") {
            self.name = name
            self.password = password
            self.database = database
        }
    }

    /// A fault for the next command of that name (`"*"`: any command after the handshake).
    package enum Fault: Sendable {
        case error(command: String, code: Int, codeName: String, message: String)
        /// Never answers (the connection stays open).
        case stall(command: String)
        /// Closes the connection instead of answering.
        case close(command: String)
        /// Answers `find` with this field changed in every document found.
        case alterFound(field: String, value: BSON)
        /// Answers `update` with `ok: 1` and `n: 0`, storing nothing.
        case dropWrite
        /// Answers `update` as mongod does when a document breaks a unique index: `ok: 1`, `n: 0` and a write error.
        case writeError(code: Int, message: String)
        /// Ends the next SCRAM exchange with a server signature made from another password (a server that does not
        /// know the user's keys).
        case forgeServerSignature
        /// Asks for this many PBKDF2 iterations in the next SCRAM exchange.
        case iterations(Int)
    }

    /// How it answers `hello`.
    package enum Role: Sendable {
        case standalone
        case primary(set: String)
        case secondary(set: String, primary: String?)
    }

    final class State: Sendable {
        let collections = Mutex<[String: [BSONDocument]]>([:])
        let faults = Mutex<[Fault]>([])
        let log = Mutex<[String]>([])
        let role: Mutex<Role>
        let connections = Atomic<Int>(0)
        init(role: Role) { self.role = Mutex(role) }
    }

    let channel: any Channel
    let tasks = TaskSet()
    let state: State
    let users: [User]
    package let port: Int

    /// `users`: when given, every command but the handshake needs authentication. `tls`: serve TLS with its
    /// server certificate. `port`: 0 for any free port.
    package init(users: [User] = [], tls: TestCA? = nil, role: Role = .standalone, port: Int = 0) async throws {
        let state = State(role: role)
        self.state = state
        self.users = users
        let context = try tls.map { tls in
            try NIOSSLContext(
                configuration: .makeServerConfiguration(
                    certificateChain: try NIOSSLCertificate.fromPEMFile(tls.serverCertificate.path).map {
                        .certificate($0)
                    },
                    privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.serverKey.path, format: .pem))))
        }
        let tasks = self.tasks
        let users = self.users
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WireFramer()))
                    let connection = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    state.connections.add(1, ordering: .relaxed)
                    tasks.start { await MongoSession(state: state, users: users).serve(connection) }
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        self.port = channel.localAddress?.port ?? 0
    }

    package func stop() async {
        tasks.cancelAll()
        try? await channel.close()
    }

    /// `mongodb://user:password@127.0.0.1:port` (the first user's; percent-encoded).
    package var url: String {
        let credentials = users.first.map {
            let allowed = CharacterSet.alphanumerics
            let user = $0.name.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.name
            let password = $0.password.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.password
            return "\(user):\(password)@"
        }
        return "mongodb://\(credentials ?? "")127.0.0.1:\(port)/"
    }

    package func inject(_ fault: Fault) { state.faults.withLock { $0.append(fault) } }
    package func setRole(_ role: Role) { state.role.withLock { $0 = role } }

    /// The documents of `database.collection`, in insertion order.
    package func documents(_ database: String, _ collection: String) -> [BSONDocument] {
        state.collections.withLock { $0["\(database).\(collection)"] ?? [] }
    }

    package func put(_ database: String, _ collection: String, _ documents: [BSONDocument]) {
        state.collections.withLock { $0["\(database).\(collection)"] = documents }
    }

    /// `command db user` for every command after the handshake, in order (`-` when not authenticated).
    package var commands: [String] { state.log.withLock { $0 } }
    /// Connections accepted so far.
    package var connections: Int { state.connections.load(ordering: .relaxed) }
}

/// One client connection: its authentication state and the commands it sends.
final class MongoSession: @unchecked Sendable {
    // Used only from the one task serving the connection.
    let state: MongoSimulator.State
    let users: [MongoSimulator.User]
    var user: MongoSimulator.User?
    var conversation: (user: MongoSimulator.User, nonce: String, firstBare: String, serverFirst: String, salted: Data)?
    var skipEmptyExchange = false
    var forge = false

    init(state: MongoSimulator.State, users: [MongoSimulator.User]) {
        self.state = state
        self.users = users
    }

    func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        try? await connection.executeThenClose { inbound, outbound in
            for try await frame in inbound {
                guard let (requestID, _, message) = try? WireMessage.decode(Array(frame.readableBytesView)) else {
                    return
                }
                let answer: WireMessage?
                switch message {
                case .query(_, let collection, _, _, var query):
                    guard collection.hasSuffix(".$cmd") else { return }
                    if case .document(let inner) = query["$query"] { query = inner }
                    query["$db"] = .string(String(collection.dropLast(5)))
                    guard let reply = await handle(query) else { continue }
                    guard case .answer(let document) = reply else { return }
                    answer = .reply(flags: 8, cursorID: 0, startingFrom: 0, documents: [document])
                case .message(let flags, _, _):
                    guard let command = message.command, let reply = await handle(command) else { continue }
                    guard case .answer(let document) = reply else { return }
                    answer =
                        flags & WireMessage.moreToCome != 0 ? nil : .message(flags: 0, body: document, sequences: [])
                case .reply: return
                }
                guard let answer,
                    let bytes = try? answer.encoded(requestID: Int32.random(in: 1...Int32.max), responseTo: requestID)
                else { continue }
                try await outbound.write(ByteBuffer(bytes: bytes))
            }
        }
    }

    enum Outcome { case answer(BSONDocument), close }

    /// nil: no answer (a stalled command).
    func handle(_ command: BSONDocument) async -> Outcome? {
        guard let name = command.fields.first?.key, let database = command["$db"]?.string else {
            return .answer(
                Self.error(40414, "Location40414", "BSON field 'OpMsgRequest.$db' is missing but a required field"))
        }
        let handshake = [
            "hello", "isMaster", "ismaster", "saslStart", "saslContinue", "ping", "buildInfo", "buildinfo",
            "endSessions",
        ]
        if !handshake.contains(name) {
            state.log.withLock { $0.append("\(name) \(database) \(user?.name ?? "-")") }
            if let outcome = fault(for: name) { return outcome }
            if !users.isEmpty && user == nil {
                return .answer(Self.error(13, "Unauthorized", "Command \(name) requires authentication"))
            }
        }
        switch name {
        case "hello", "isMaster", "ismaster": return .answer(hello(command, legacy: name != "hello"))
        case "ping", "endSessions": return .answer(["ok": 1.0])
        case "buildInfo", "buildinfo":
            return .answer([
                "version": "7.0.0", "versionArray": [7, 0, 0, 0], "maxBsonObjectSize": 16_777_216, "ok": 1.0,
            ])
        case "saslStart": return .answer(saslStart(command, database: database))
        case "saslContinue": return .answer(saslContinue(command))
        case "insert": return .answer(MongoStore.insert(command, database: database, state: state))
        case "update": return .answer(MongoStore.update(command, database: database, state: state))
        case "find":
            return .answer(MongoStore.find(command, database: database, state: state, alter: alteration()))
        case "delete": return .answer(MongoStore.delete(command, database: database, state: state))
        default: return .answer(Self.error(59, "CommandNotFound", "no such command: '\(name)'"))
        }
    }

    /// The first injected fault for this command: `.some(nil)` stalls, `.some(outcome)` answers instead.
    func fault(for name: String) -> Outcome?? {
        let fault: MongoSimulator.Fault? = state.faults.withLock { faults in
            let index = faults.firstIndex { fault in
                switch fault {
                case .error(let command, _, _, _), .stall(let command), .close(let command):
                    return command == name || command == "*"
                case .alterFound, .forgeServerSignature, .iterations: return false
                case .dropWrite, .writeError: return name == "update"
                }
            }
            return index.map { faults.remove(at: $0) }
        }
        switch fault {
        case .error(_, let code, let codeName, let message): return .some(.answer(Self.error(code, codeName, message)))
        case .stall: return .some(nil)
        case .close: return .some(.close)
        case .dropWrite: return .some(.answer(["n": 0, "nModified": 0, "ok": 1.0]))
        case .writeError(let code, let message):
            return .some(
                .answer([
                    "n": 0, "nModified": 0,
                    "writeErrors": [["index": 0, "code": .int32(Int32(code)), "errmsg": .string(message)]], "ok": 1.0,
                ]))
        case .alterFound, .forgeServerSignature, .iterations, nil: return nil
        }
    }

    /// An injected SCRAM fault, taken once: whether to forge the signature, and the iterations to ask.
    func scramFault() -> (forge: Bool, iterations: Int?) {
        state.faults.withLock { faults in
            var forge = false
            var iterations: Int?
            faults.removeAll { fault in
                switch fault {
                case .forgeServerSignature:
                    forge = true
                    return true
                case .iterations(let count):
                    iterations = count
                    return true
                default: return false
                }
            }
            return (forge, iterations)
        }
    }

    /// An injected `alterFound`, taken once.
    func alteration() -> (field: String, value: BSON)? {
        state.faults.withLock { faults in
            for (index, fault) in faults.enumerated() {
                if case .alterFound(let field, let value) = fault {
                    faults.remove(at: index)
                    return (field, value)
                }
            }
            return nil
        }
    }

    func hello(_ command: BSONDocument, legacy: Bool) -> BSONDocument {
        var reply: BSONDocument = [:]
        let role = state.role.withLock { $0 }
        var writable = true
        switch role {
        case .standalone: break
        case .primary(let set): reply["setName"] = .string(set)
        case .secondary(let set, let primary):
            writable = false
            reply["setName"] = .string(set)
            reply["secondary"] = true
            if let primary { reply["primary"] = .string(primary) }
        }
        if command["helloOk"] != nil { reply["helloOk"] = true }
        reply[legacy ? "ismaster" : "isWritablePrimary"] = .bool(writable)
        reply["maxBsonObjectSize"] = 16_777_216
        reply["maxMessageSizeBytes"] = 48_000_000
        reply["maxWriteBatchSize"] = 100_000
        reply["localTime"] = .datetime(Int64(Date().timeIntervalSince1970 * 1000))
        reply["logicalSessionTimeoutMinutes"] = 30
        reply["connectionId"] = .int32(Int32(state.connections.load(ordering: .relaxed)))
        reply["minWireVersion"] = 0
        reply["maxWireVersion"] = 21
        reply["readOnly"] = false
        if let asked = command["saslSupportedMechs"]?.string, account(asked) != nil {
            reply["saslSupportedMechs"] = ["SCRAM-SHA-256"]
        }
        reply["ok"] = 1.0
        return reply
    }

    /// `db.user` → the user.
    func account(_ qualified: String) -> MongoSimulator.User? {
        guard let dot = qualified.firstIndex(of: ".") else { return nil }
        let database = String(qualified[..<dot])
        let name = String(qualified[qualified.index(after: dot)...])
        return users.first { $0.name == name && $0.database == database }
    }

    static func error(_ code: Int, _ codeName: String, _ message: String) -> BSONDocument {
        ["ok": 0.0, "errmsg": .string(message), "code": .int32(Int32(code)), "codeName": .string(codeName)]
    }

    static let authFailed = error(18, "AuthenticationFailed", "Authentication failed.")
}
