import Foundation
import Logging

/// An HTTP request with its whole body (registry payloads are small: signatures, manifests, attestations).
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: HTTPHeaders
    public var body: Data?

    public init(method: String, url: URL, headers: HTTPHeaders = [:], body: Data? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// Header fields: order kept, names compared case-insensitively.
public struct HTTPHeaders: Sendable, ExpressibleByDictionaryLiteral, Sequence {
    public private(set) var fields: [(name: String, value: String)] = []

    public init(dictionaryLiteral elements: (String, String)...) { fields = elements.map { ($0.0, $0.1) } }
    public init(_ fields: [(String, String)]) { self.fields = fields.map { ($0.0, $0.1) } }

    public subscript(name: String) -> String? {
        get { fields.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value }
        set {
            fields.removeAll { $0.name.caseInsensitiveCompare(name) == .orderedSame }
            if let newValue { fields.append((name, newValue)) }
        }
    }

    public func values(_ name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    public mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Data
    /// The URL that answered (after redirects).
    public var url: URL

    public init(status: Int, headers: HTTPHeaders = [:], body: Data = Data(), url: URL) {
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url
    }
}

/// A failure to get any HTTP answer (connection refused, TLS failure, timeout). Says which host.
/// An error that knows whether trying again later may help (a peer's 5xx, a timeout), for the modules above that
/// classify errors without knowing every library's types.
public protocol RetryClassifiable: Error {
    var isRetryable: Bool { get }
}

/// A response whose body is read as it arrives.
public struct HTTPStreamResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: AsyncThrowingStream<Data, any Error>

    public init(status: Int, headers: HTTPHeaders, body: AsyncThrowingStream<Data, any Error>) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

public struct TransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        case connection, connectionReset, tls, timeout, tooManyRedirects, insecureRedirect, other
        /// The connection rules refused the destination: nothing was sent.
        case refused
    }
    public var kind: Kind
    public var host: String
    public var reason: String
    public init(kind: Kind, host: String, reason: String) {
        self.kind = kind
        self.host = host
        self.reason = reason
    }
    public var description: String { "\(host): \(reason)" }

    /// Worth retrying: the connection broke or timed out. A host that does not resolve or refuses connections is
    /// a configuration problem and is reported at once.
    public var isTransient: Bool { kind == .connectionReset || kind == .timeout }
}

/// Sends HTTP requests. Implementations: `AsyncHTTPClientTransport` (real network) and decorators
/// (`RetryingTransport`, `CountingTransport`); tests may add their own.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}

extension URL {
    /// `host[:port]`, as registries are named.
    public var hostAndPort: String {
        guard let host else { return "" }
        if let port { return "\(host):\(port)" }
        return host
    }

    /// Scheme, host and port with the default port made explicit: whether two URLs are the same origin.
    public var origin: String {
        let scheme = (self.scheme ?? "https").lowercased()
        let port = self.port ?? (scheme == "http" ? 80 : 443)
        return "\(scheme)://\((host ?? "").lowercased()):\(port)"
    }
}
