import Foundation
import NIOCore
import NIOSSL

/// A MongoDB client small enough to read: one connection to the writable primary, found among the connection
/// string's hosts by `hello` (a secondary's `primary` field is followed), authenticated with SCRAM-SHA-256, kept
/// while it works and opened again after a network failure. Commands are serialized by the actor's callers only as
/// far as they await; replies are paired by request id, so concurrent commands share the connection.
package actor MongoClient {
    package nonisolated let url: MongoConnectionString
    let timeout: Duration
    let driver: String
    let tls: NIOSSLContext?
    /// Where a `mongodb+srv://` name's seed list is looked up.
    let resolver: DNSResolver
    /// Host names connected to at another address (the name still used for TLS): as `curl --resolve`.
    let pinned: [String: String]
    /// The string with a seed list's hosts and TXT options, once looked up.
    var resolved: MongoConnectionString?
    var connection: MongoConnection?
    var connecting: Task<Result<MongoConnection, MongoError>, Never>?

    /// `timeout`: each command's deadline (and the connection's, unless the string's `connectTimeoutMS` says).
    package init(
        url: MongoConnectionString, timeout: Duration, driver: String, resolver: DNSResolver? = nil,
        pinned: [String: String] = [:]
    ) throws(MongoError) {
        self.url = url
        self.timeout = url.socketTimeout ?? timeout
        self.driver = driver
        self.tls = url.tls ? try Self.tlsContext(url) : nil
        self.resolver = resolver ?? .system(timeout: timeout)
        self.pinned = pinned
    }

    static func tlsContext(_ url: MongoConnectionString) throws(MongoError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let file = url.tlsCAFile {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(file))
            } catch {
                throw MongoError(.failed, "tlsCAFile=\(file) cannot be read as PEM certificates: \(error)")
            }
        }
        if url.tlsAllowInvalidCertificates {
            configuration.certificateVerification = .none
        } else if url.tlsAllowInvalidHostnames {
            configuration.certificateVerification = .noHostnameVerification
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw MongoError(.failed, "the TLS settings cannot be used: \(error)")
        }
    }

    /// Runs `body` on `database` against the primary. A network failure drops the connection (the next call opens
    /// another) and is thrown as unavailable; the caller decides whether to retry.
    /// `timeout`: this command's deadline, when not the client's.
    package func command(
        _ body: BSONDocument, database: String, timeout: Duration? = nil
    ) async throws(MongoError) -> BSONDocument {
        let connection = try await connected()
        do {
            return try await connection.run(body, database: database, timeout: timeout ?? self.timeout)
        } catch {
            if error.kind != .failed || error.code == nil || !connection.isActive {
                drop(connection)
            }
            throw error
        }
    }

    func drop(_ old: MongoConnection) {
        old.close()
        if connection === old { connection = nil }
    }

    package func close() {
        connection?.close()
        connection = nil
    }

    func connected() async throws(MongoError) -> MongoConnection {
        if let connection, connection.isActive { return connection }
        if let connecting { return try await connecting.value.get() }
        let task = Task { () -> Result<MongoConnection, MongoError> in
            do throws(MongoError) { return .success(try await self.findPrimary()) } catch { return .failure(error) }
        }
        connecting = task
        let result = await task.value
        connecting = nil
        connection = try? result.get()
        return try result.get()
    }

    /// Tries the hosts in order; the first writable primary is authenticated and kept.
    func findPrimary() async throws(MongoError) -> MongoConnection {
        // A seed list is looked up again for each new connection: its hosts may have moved.
        if url.srv { resolved = try await MongoSRV.resolve(url, resolver: resolver) }
        var queue = (resolved ?? url).hosts
        if url.directConnection { queue = Array(queue.prefix(1)) }
        var tried: [String] = []
        var reasons: [String] = []
        var worst = MongoError.Kind.unavailable
        while !queue.isEmpty {
            let host = queue.removeFirst()
            guard !tried.contains(host.description) else { continue }
            tried.append(host.description)
            do throws(MongoError) {
                let (connection, hello) = try await handshake(host)
                switch role(hello) {
                case .primary:
                    do throws(MongoError) {
                        try await authenticate(connection, hello: hello)
                    } catch {
                        connection.close()
                        throw error
                    }
                    return connection
                case .other(let role, let primary):
                    connection.close()
                    reasons.append("\(host) is \(role)")
                    if let primary, !url.directConnection { queue.insert(primary, at: 0) }
                }
            } catch {
                reasons.append("\(host): \(error)")
                if error.kind == .refused || error.kind == .failed { throw error }
                if error.kind == .timeout { worst = .timeout }
            }
        }
        throw MongoError(worst, "no writable primary at \(url.redacted): \(reasons.joined(separator: "; "))")
    }

    enum Role { case primary, other(String, MongoConnectionString.Host?) }

    func role(_ hello: BSONDocument) -> Role {
        if hello["isWritablePrimary"]?.bool == true || hello["ismaster"]?.bool == true { return .primary }
        let primary = hello["primary"]?.string.flatMap { try? MongoConnectionString.hosts($0[...], srv: false).first }
        let role =
            hello["secondary"]?.bool == true
            ? "a secondary" : (hello["arbiterOnly"]?.bool == true ? "an arbiter" : "not a writable primary")
        return .other("\(role)\(primary.map { " (primary: \($0))" } ?? "")", primary)
    }

    /// Connects and says `hello` (falling back to `isMaster` on servers older than 4.4.2).
    func handshake(_ host: MongoConnectionString.Host) async throws(MongoError) -> (MongoConnection, BSONDocument) {
        let connection = try await MongoConnection.open(
            host, address: pinned[host.name], tls: tls, verifyHostname: !url.tlsAllowInvalidHostnames,
            timeout: url.connectTimeout ?? timeout)
        var client: BSONDocument = [
            "driver": ["name": .string("chains-in-swift"), "version": .string(driver)],
            "os": ["type": .string(Self.osType)],
        ]
        if let appName = url.appName { client["application"] = ["name": .string(appName)] }
        var hello: BSONDocument = ["hello": 1, "client": .document(client)]
        if let user = url.user {
            hello["saslSupportedMechs"] = .string("\((resolved ?? url).authDatabase).\(user)")
        }
        do throws(MongoError) {
            var reply: BSONDocument
            do throws(MongoError) {
                reply = try await connection.run(hello, database: "admin", timeout: timeout)
            } catch  where error.code == 59 {
                hello.fields[0] = .init(key: "isMaster", value: 1)
                reply = try await connection.run(hello, database: "admin", timeout: timeout)
            }
            guard let wire = reply["maxWireVersion"]?.int, wire >= 6 else {
                throw MongoError(
                    .failed,
                    "\(host) speaks wire version \(reply["maxWireVersion"]?.int ?? 0); OP_MSG needs MongoDB 3.6 or later"
                )
            }
            if let wanted = (resolved ?? url).replicaSet, reply["setName"]?.string != wanted {
                throw MongoError(
                    .failed,
                    "\(host) is in replica set \(reply["setName"]?.string ?? "(none)"), not replicaSet=\(wanted)")
            }
            return (connection, reply)
        } catch {
            connection.close()
            throw error
        }
    }

    static let osType: String = {
        #if os(Linux)
            return "Linux"
        #else
            return "Darwin"
        #endif
    }()

    /// SCRAM-SHA-256 with the user and password of the connection string, on its authentication database.
    func authenticate(_ connection: MongoConnection, hello: BSONDocument) async throws(MongoError) {
        guard let user = url.user else { return }
        let database = (resolved ?? url).authDatabase
        if let offered = hello["saslSupportedMechs"]?.array?.compactMap(\.string),
            !offered.contains("SCRAM-SHA-256")
        {
            throw MongoError(
                .refused,
                "\(connection.host) offers \(offered.joined(separator: ", ")) for user \(user) on \(database), not SCRAM-SHA-256 (the only mechanism Chains in Swift speaks)"
            )
        }
        var scram = SCRAMClient(user: user, password: url.password ?? "")
        do {
            var reply = try await connection.run(
                [
                    "saslStart": 1, "mechanism": "SCRAM-SHA-256",
                    "payload": .binary(subtype: 0, Data(scram.first.utf8)),
                    "autoAuthorize": 1, "options": ["skipEmptyExchange": true],
                ], database: database, timeout: timeout)
            let conversation = reply["conversationId"] ?? 1
            let final = try scram.final(serverFirst: Self.payload(reply))
            reply = try await connection.run(
                ["saslContinue": 1, "conversationId": conversation, "payload": .binary(subtype: 0, Data(final.utf8))],
                database: database, timeout: timeout)
            try scram.verify(serverFinal: Self.payload(reply))
            var rounds = 0
            while reply["done"]?.bool != true {
                rounds += 1
                guard rounds < 3 else { throw SCRAMError("the server does not end the exchange") }
                reply = try await connection.run(
                    ["saslContinue": 1, "conversationId": conversation, "payload": .binary(subtype: 0, Data())],
                    database: database, timeout: timeout)
            }
        } catch let error as MongoError {
            guard error.kind == .refused || error.code == 18 else { throw error }
            throw MongoError(
                .refused, "authentication of user \(user) on \(database) at \(connection.host) failed: \(error)",
                code: error.code, codeName: error.codeName)
        } catch let error as SCRAMError {
            throw MongoError(.refused, "authentication of user \(user) on \(database) at \(connection.host): \(error)")
        } catch {
            throw MongoError(.failed, "authentication of user \(user): \(error)")
        }
    }

    static func payload(_ reply: BSONDocument) throws(SCRAMError) -> String {
        guard case .binary(_, let data) = reply["payload"], let text = String(data: data, encoding: .utf8) else {
            throw SCRAMError("the server's SASL reply has no payload")
        }
        return text
    }
}
