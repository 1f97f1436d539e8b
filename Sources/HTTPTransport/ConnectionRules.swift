import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where a transport's connections may go, decided on addresses rather than names. A name is resolved once, every
/// address it has is checked, and the connection is made to the checked address (TLS still verified, and SNI sent,
/// for the name): a name cannot pass the check with one address and be reached at another.
package struct ConnectionRules: Sendable {
    /// `--resolve HOST:PORT=ADDRESS`, as curl has: connect to ADDRESS for HOST:PORT. Keys are lowercased
    /// `host:port` with the port always written; values are numeric addresses.
    package var pinned: [String: String]
    /// Why the registry `host[:port]` may not be reached at the numeric `address`, or nil when it may. Asked for
    /// every address a name resolves to (and for a pinned one); nil: no check, names resolve when connecting.
    package var refusal: (@Sendable (_ registry: String, _ address: String) -> String?)?
    /// How long a name's checked addresses are used before it is resolved again.
    package var remember: Duration

    package init(
        pinned: [String: String] = [:], refusal: (@Sendable (String, String) -> String?)? = nil,
        remember: Duration = .seconds(30)
    ) {
        self.pinned = pinned
        self.refusal = refusal
        self.remember = remember
    }

    /// Reads one `--resolve` value, `HOST:PORT=ADDRESS` (`[v6]:PORT=ADDRESS` too; ADDRESS may be bracketed).
    package static func parsePin(_ text: String) -> (key: String, address: String)? {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let colon = parts[0].lastIndex(of: ":") else { return nil }
        var host = String(parts[0][..<colon]).lowercased()
        let port = parts[0][parts[0].index(after: colon)...]
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var address = parts[1]
        if address.hasPrefix("["), address.hasSuffix("]") { address = String(address.dropFirst().dropLast()) }
        guard !host.isEmpty, let p = Int(port), (1...65535).contains(p), Self.numeric(address) != nil else {
            return nil
        }
        return ("\(host):\(p)", Self.numeric(address)!)
    }

    /// `address` in its canonical numeric form when it is an IPv4 or IPv6 literal, else nil.
    static func numeric(_ address: String) -> String? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 { return address }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address, &v6) == 1 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &v6, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Resolves names for `ConnectionRules`, remembering answers for `rules.remember`.
final class AddressBook: Sendable {
    let rules: ConnectionRules
    private let answers = Mutex<[String: (addresses: [String], until: ContinuousClock.Instant)]>([:])

    init(_ rules: ConnectionRules) { self.rules = rules }

    /// The checked addresses `url`'s host may be reached at (every one the name has passed), or nil when
    /// connections go by name (no rules for it). Throws a refusal naming the address, or a resolution failure, before
    /// anything is sent.
    func addresses(for url: URL, within limit: Duration) async throws -> [String]? {
        guard var host = url.host?.lowercased(), !host.isEmpty else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = url.port ?? (url.scheme?.lowercased() == "http" ? 80 : 443)
        let key = "\(host):\(port)"
        let addresses: [String]
        if let pinned = rules.pinned[key] {
            addresses = [pinned]
        } else if rules.refusal == nil {
            return nil
        } else if let literal = ConnectionRules.numeric(host) {
            addresses = [literal]
        } else {
            addresses = try await resolve(host, key: key, within: limit)
        }
        if let refusal = rules.refusal {
            for address in addresses {
                if let why = refusal(url.hostAndPort, address) {
                    let named = address == host ? "" : "\(host) resolves to \(address): "
                    throw TransportError(
                        kind: .refused, host: url.hostAndPort, reason: "\(named)\(why); nothing was sent")
                }
            }
        }
        return addresses
    }

    private func resolve(_ host: String, key: String, within limit: Duration) async throws -> [String] {
        let now = ContinuousClock.now
        if let known = answers.withLock({ $0[key] }), known.until > now { return known.addresses }
        let found = try await Self.lookUp(host, within: limit)
        answers.withLock { table in
            if table.count > 256 { table = table.filter { $0.value.until > now } }
            table[key] = (found, now + rules.remember)
        }
        return found
    }

    /// getaddrinfo on a thread of its own, bounded by `limit` (the call itself cannot be cancelled; a late answer
    /// is dropped).
    static func lookUp(_ host: String, within limit: Duration) async throws -> [String] {
        let outcome = Mutex<Bool>(false)
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[String], any Error>) in
            let finish: @Sendable (Result<[String], TransportError>) -> Void = { result in
                let first = outcome.withLock { done in
                    defer { done = true }
                    return !done
                }
                if first { continuation.resume(with: result.mapError { $0 as any Error }) }
            }
            DispatchQueue.global().async { finish(Self.getaddrinfo(host)) }
            DispatchQueue.global().asyncAfter(deadline: .now() + limit.timeInterval) {
                finish(
                    .failure(TransportError(kind: .timeout, host: host, reason: "no address within \(limit.seconds)")))
            }
        }
    }

    static func getaddrinfo(_ host: String) -> Result<[String], TransportError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = Glibc.getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let first = list else {
            let why = String(cString: gai_strerror(status))
            return .failure(TransportError(kind: .connection, host: host, reason: "cannot resolve \(host): \(why)"))
        }
        defer { freeaddrinfo(first) }
        var out: [String] = []
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let entry = next {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(
                entry.pointee.ai_addr, entry.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0,
                NI_NUMERICHOST) == 0
            {
                let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !out.contains(text) { out.append(text) }
            }
            next = entry.pointee.ai_next
        }
        guard !out.isEmpty else {
            return .failure(TransportError(kind: .connection, host: host, reason: "\(host) has no address"))
        }
        return .success(out)
    }
}

extension Duration {
    var timeInterval: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
