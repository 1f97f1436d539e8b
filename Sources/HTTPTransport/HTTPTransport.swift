import Foundation
import Logging

/// An HTTP request with its whole body (registry payloads are small: signatures, manifests, attestations).
package struct HTTPRequest: Sendable {
    package var method: String
    package var url: URL
    package var headers: HTTPHeaders
    package var body: Data?

    package init(method: String, url: URL, headers: HTTPHeaders = [:], body: Data? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// Header fields: order kept, names compared case-insensitively.
package struct HTTPHeaders: Sendable, ExpressibleByDictionaryLiteral, Sequence {
    package private(set) var fields: [(name: String, value: String)] = []

    package init(dictionaryLiteral elements: (String, String)...) { fields = elements.map { ($0.0, $0.1) } }
    package init(_ fields: [(String, String)]) { self.fields = fields.map { ($0.0, $0.1) } }

    package subscript(name: String) -> String? {
        get { fields.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value }
        set {
            fields.removeAll { $0.name.caseInsensitiveCompare(name) == .orderedSame }
            if let newValue { fields.append((name, newValue)) }
        }
    }

    package func values(_ name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    package mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }

    package func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }
}

package struct HTTPResponse: Sendable {
    package var status: Int
    package var headers: HTTPHeaders
    package var body: Data
    /// The URL that answered (after redirects).
    package var url: URL

    package init(status: Int, headers: HTTPHeaders = [:], body: Data = Data(), url: URL) {
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url
    }
}

/// A failure to get any HTTP answer (connection refused, TLS failure, timeout). Says which host.
/// An error that knows whether trying again later may help (a peer's 5xx, a timeout), for the modules above that
/// classify errors without knowing every library's types. Every error type of a peer adopts it: registries and their
/// token services, the Kubernetes API, Fulcio, Rekor, TUF mirrors, identity-token sources, cloud providers, and
/// the transport itself. "Later" is the run's next attempt (the controller's backoff: seconds to minutes), not the
/// request's immediate retry (`TransportError.isTransient`, `RetryingTransport`).
package protocol RetryClassifiable: Error {
    var isRetryable: Bool { get }
}

/// The one HTTP status rule every peer's errors use: an answer that may change when asked again later.
///
/// - 408 Request Timeout (the server gave up waiting for us: a slow link or an overloaded proxy) — yes, as
///   go-containerregistry and the Kubernetes client retry it;
/// - 429 Too Many Requests — yes;
/// - 5xx — yes, except 501 Not Implemented and 505 HTTP Version Not Supported, which describe the server, not its
///   load, and will not change;
/// - everything else (401/403 refusals, 404, other 4xx) — no.
package enum HTTPStatusRule {
    package static func isRetryable(_ status: Int) -> Bool {
        status == 408 || status == 429 || ((500...599).contains(status) && status != 501 && status != 505)
    }
}

/// A response whose body is read as it arrives.
package struct HTTPStreamResponse: Sendable {
    package var status: Int
    package var headers: HTTPHeaders
    package var body: AsyncThrowingStream<Data, any Error>

    package init(status: Int, headers: HTTPHeaders, body: AsyncThrowingStream<Data, any Error>) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

package struct TransportError: Error, Sendable, CustomStringConvertible {
    package enum Kind: Sendable {
        case connection, connectionReset, tls, timeout, tooManyRedirects, insecureRedirect, other
        /// The connection rules refused the destination: nothing was sent.
        case refused
    }
    package var kind: Kind
    package var host: String
    package var reason: String
    package init(kind: Kind, host: String, reason: String) {
        self.kind = kind
        self.host = host
        self.reason = reason
    }
    package var description: String { "\(host): \(reason)" }

    /// Worth retrying at once, within the request (`RetryingTransport`): the connection broke or timed out. A host
    /// that does not resolve or refuses connections is not retried within the request — it is the same a few
    /// hundred milliseconds later — but the run's next attempt may find it back (`isRetryable`).
    package var isTransient: Bool { kind == .connectionReset || kind == .timeout }

    /// Worth the run's next attempt: a broken, refused or unresolvable connection, or a timeout — a registry or
    /// API server restarting, a DNS blip. TLS failures, redirects refused and destinations refused by the
    /// connection rules are configuration problems and are not.
    package var isRetryable: Bool { [.connection, .connectionReset, .timeout].contains(kind) }
}

extension TransportError: RetryClassifiable {}

/// Sends HTTP requests. Implementations: `AsyncHTTPClientTransport` (real network) and decorators
/// (`RetryingTransport`, `CountingTransport`); tests may add their own.
package protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}

extension URL {
    /// `host[:port]`, as registries are named.
    package var hostAndPort: String {
        guard let host else { return "" }
        if let port { return "\(host):\(port)" }
        return host
    }

    /// Scheme, host and port with the default port made explicit: whether two URLs are the same origin.
    package var origin: String {
        let scheme = (self.scheme ?? "https").lowercased()
        let port = self.port ?? (scheme == "http" ? 80 : 443)
        return "\(scheme)://\((host ?? "").lowercased()):\(port)"
    }
}
