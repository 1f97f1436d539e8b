import Foundation

/// A MongoDB connection string (`mongodb://[user:password@]host[:port][,host…]/[authdb][?options]`), read as the
/// connection string specification says, with the options this client serves. An option we cannot honour is an
/// error naming it, never ignored — except those that only tune a driver's pools and monitors (listed in
/// `harmless`). `mongodb+srv://` hosts come from DNS (`MongoSRV`).
package struct MongoConnectionString: Sendable, Equatable {
    package struct Host: Sendable, Equatable, CustomStringConvertible {
        package var name: String
        package var port: Int
        package init(name: String, port: Int) {
            self.name = name
            self.port = port
        }
        package var description: String { name.contains(":") ? "[\(name)]:\(port)" : "\(name):\(port)" }
    }

    package var srv: Bool
    package var hosts: [Host]
    package var user: String?
    package var password: String?
    /// The database named in the path (the default authentication database).
    package var database: String?
    package var authSource: String?
    package var tls: Bool
    package var tlsCAFile: String?
    package var tlsAllowInvalidCertificates = false
    package var tlsAllowInvalidHostnames = false
    package var replicaSet: String?
    package var directConnection = false
    package var appName: String?
    package var connectTimeout: Duration?
    package var socketTimeout: Duration?
    package var serverSelectionTimeout: Duration?
    /// The write concern's fields (`w`, `j`, `wtimeout`), as the server reads them.
    package var writeConcern = BSONDocument()
    /// `srvServiceName`: the SRV record looked up is `_<name>._tcp.<host>`.
    package var srvServiceName = "mongodb"
    /// The options the string gives itself (lowercased): a seed list's TXT record does not override them.
    var given: Set<String> = []

    /// Options that only tune a multi-connection driver's pools, monitors and retries: accepted, with no effect here.
    package static let harmless: Set<String> = [
        "retrywrites", "retryreads", "maxpoolsize", "minpoolsize", "maxidletimems", "maxconnecting",
        "waitqueuetimeoutms", "heartbeatfrequencyms", "localthresholdms", "compressors", "zlibcompressionlevel",
        "readpreference", "readpreferencetags", "maxstalenessseconds", "readconcernlevel", "srvmaxhosts",
        "servermonitoringmode", "timeoutms", "uuidrepresentation",
    ]

    /// The authentication database: `authSource`, else the path's database, else `admin`.
    package var authDatabase: String { authSource ?? database ?? "admin" }

    /// The text with its password replaced, for messages and logs.
    package var redacted: String {
        let who = user.map { "\($0)\(password == nil ? "" : ":***")@" } ?? ""
        return "mongodb\(srv ? "+srv" : "")://\(who)\(hosts.map(\.description).joined(separator: ","))"
    }

    package static func parse(_ text: String) throws(MongoError) -> MongoConnectionString {
        let scheme: Bool
        var rest: Substring
        if text.hasPrefix("mongodb://") {
            scheme = false
            rest = text.dropFirst("mongodb://".count)
        } else if text.hasPrefix("mongodb+srv://") {
            scheme = true
            rest = text.dropFirst("mongodb+srv://".count)
        } else {
            throw MongoError(.failed, "is not a mongodb:// or mongodb+srv:// connection string")
        }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var url = MongoConnectionString(srv: scheme, hosts: [], tls: scheme)
        if let at = rest.lastIndex(of: "@") {
            try url.readUserInfo(rest[..<at])
            rest = rest[rest.index(after: at)...]
        }
        url.hosts = try hosts(rest, srv: scheme)
        if !path.isEmpty {
            guard let database = String(path).removingPercentEncoding, !database.contains("/") else {
                throw MongoError(.failed, "names the database \(path), which is not one name")
            }
            url.database = database
        }
        try url.readOptions(query)
        return url
    }

    mutating func readUserInfo(_ info: Substring) throws(MongoError) {
        let parts = info.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let user = String(parts[0]).removingPercentEncoding, !user.isEmpty else {
            throw MongoError(.failed, "has an empty or badly percent-encoded user name")
        }
        self.user = user
        if parts.count == 2 {
            guard !parts[1].contains(":"), !parts[1].contains("@"),
                let password = String(parts[1]).removingPercentEncoding
            else {
                throw MongoError(.failed, "has a password with an unescaped ':' or '@' (percent-encode them)")
            }
            self.password = password
        }
    }

    static func hosts(_ text: Substring, srv: Bool) throws(MongoError) -> [Host] {
        var hosts: [Host] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            var name = part
            var port = 27017
            if name.hasPrefix("[") {
                guard let close = name.firstIndex(of: "]") else {
                    throw MongoError(.failed, "has an unclosed [ in \(part)")
                }
                let after = name[name.index(after: close)...]
                name = name[name.index(after: name.startIndex)..<close]
                if after.hasPrefix(":") {
                    guard let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                        throw MongoError(.failed, "has the bad port in \(part)")
                    }
                    port = p
                }
            } else if let colon = name.lastIndex(of: ":") {
                guard let p = Int(name[name.index(after: colon)...]), (1...65535).contains(p) else {
                    throw MongoError(.failed, "has the bad port in \(part)")
                }
                port = p
                name = name[..<colon]
            }
            guard !name.isEmpty, let decoded = String(name).removingPercentEncoding else {
                throw MongoError(.failed, "has an empty host name")
            }
            hosts.append(Host(name: decoded.lowercased(), port: port))
        }
        if srv {
            guard hosts.count == 1, text.firstIndex(of: ":") == nil, hosts[0].name.split(separator: ".").count >= 3
            else {
                throw MongoError(
                    .failed,
                    "is mongodb+srv:// with \(text): it needs one host name of three or more labels and no port")
            }
        }
        return hosts
    }

    mutating func readOptions(_ query: Substring) throws(MongoError) {
        var seen: Set<String> = []
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0]).lowercased()
            guard parts.count == 2, let value = String(parts[1]).removingPercentEncoding else {
                throw MongoError(.failed, "has the option \(parts[0]) without a value")
            }
            guard seen.insert(name).inserted || name == "readpreferencetags" else {
                throw MongoError(.failed, "gives the option \(parts[0]) twice")
            }
            try apply(name, String(parts[0]), value)
        }
        if tlsAllowInvalidCertificates && tlsCAFile != nil {
            throw MongoError(.failed, "gives both tlsCAFile and tlsInsecure/tlsAllowInvalidCertificates")
        }
        if srv && directConnection {
            throw MongoError(.failed, "is mongodb+srv:// with directConnection=true, which the seed list forbids")
        }
        given = seen
    }

    /// A seed list's TXT record (`authSource=…&replicaSet=…`): only those two (and `loadBalanced`, refused as in the
    /// string) may be there; options the string gives win.
    package mutating func applyTXT(_ text: String) throws(MongoError) {
        for pair in text.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0]).lowercased()
            guard ["authsource", "replicaset", "loadbalanced"].contains(name), parts.count == 2,
                let value = String(parts[1]).removingPercentEncoding
            else {
                throw MongoError(
                    .failed,
                    "has a DNS TXT record with the option \(parts[0]); a seed list may only give authSource and replicaSet"
                )
            }
            if !given.contains(name) { try apply(name, String(parts[0]), value) }
        }
    }

    mutating func apply(_ name: String, _ given: String, _ value: String) throws(MongoError) {
        func flag() throws(MongoError) -> Bool {
            switch value.lowercased() {
            case "true": return true
            case "false": return false
            default: throw MongoError(.failed, "has \(given)=\(value), not true or false")
            }
        }
        func milliseconds() throws(MongoError) -> Duration {
            guard let ms = Int(value), ms > 0 else {
                throw MongoError(.failed, "has \(given)=\(value), not milliseconds")
            }
            return .milliseconds(ms)
        }
        switch name {
        case "authsource": authSource = value
        case "authmechanism":
            guard value == "SCRAM-SHA-256" else {
                throw MongoError(
                    .failed,
                    "asks authMechanism=\(value); Chains in Swift authenticates with SCRAM-SHA-256 only (MongoDB 4.0 and later make it for every user)"
                )
            }
        case "tls", "ssl": tls = try flag()
        case "tlscafile": tlsCAFile = value
        case "tlsinsecure", "tlsallowinvalidcertificates":
            tlsAllowInvalidCertificates = try flag()
            if name == "tlsinsecure" { tlsAllowInvalidHostnames = tlsAllowInvalidCertificates }
        case "tlsallowinvalidhostnames": tlsAllowInvalidHostnames = try flag()
        case "replicaset": replicaSet = value
        case "srvservicename":
            guard srv, !value.isEmpty, value.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
                throw MongoError(.failed, "has srvServiceName=\(value), which needs mongodb+srv:// and a service name")
            }
            srvServiceName = value
        case "directconnection": directConnection = try flag()
        case "appname": appName = value
        case "connecttimeoutms": connectTimeout = try milliseconds()
        case "sockettimeoutms": socketTimeout = try milliseconds()
        case "serverselectiontimeoutms": serverSelectionTimeout = try milliseconds()
        case "w": writeConcern["w"] = Int32(value).map { .int32($0) } ?? .string(value)
        case "journal": writeConcern["j"] = .bool(try flag())
        case "wtimeoutms":
            guard let ms = Int32(value), ms >= 0 else { throw MongoError(.failed, "has wtimeoutMS=\(value)") }
            writeConcern["wtimeout"] = .int32(ms)
        default:
            guard Self.harmless.contains(name) else {
                throw MongoError(
                    .failed,
                    "has the option \(given), which Chains in Swift does not serve (client certificates, other authentication mechanisms, load balancers and proxies are not built); remove it"
                )
            }
        }
    }
}
