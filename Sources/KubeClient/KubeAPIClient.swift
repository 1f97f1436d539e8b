import Foundation
import HTTPTransport
import KubeModels

/// A small typed client for the Kubernetes API: get, list (every page), watch (a stream of events), create,
/// replace, JSON merge patch. Every request carries the current bearer token (re-read when it rotates) and waits
/// for the client-side rate limit (`--kube-api-qps`, `--kube-api-burst`). No maintained Swift Kubernetes client is
/// among our packages, so this one is ours; it speaks only what the controller needs.
package final class KubeAPIClient: Sendable {
    package let connection: KubeConnection
    let transport: AsyncHTTPClientTransport
    let limiter: RateLimiter
    /// The longest one request may take; a watch gets its own (its `timeoutSeconds` plus a margin).
    let requestTimeout: Duration

    package init(
        connection: KubeConnection, qps: Double = 50, burst: Int = 50, requestTimeout: Duration = .seconds(30)
    ) throws {
        self.connection = connection
        // Reads may be quiet for a long time in a watch (bookmarks arrive about once a minute): the silence limit
        // is generous, and each request has its own deadline.
        transport = try AsyncHTTPClientTransport(
            policy: connection.policy, timeouts: HTTPTimeouts(request: .seconds(330)),
            userAgent: "chains-in-swift-controller/0.1")
        limiter = RateLimiter(qps: qps, burst: burst)
        self.requestTimeout = requestTimeout
    }

    package func shutdown() async { try? await transport.shutdown() }

    func url(_ resource: KubeResource, namespace: String?, name: String?, query: [String: String] = [:]) -> URL {
        var components = URLComponents(url: connection.server, resolvingAgainstBaseURL: false)!
        components.path = resource.path(namespace: namespace, name: name)
        if !query.isEmpty {
            components.queryItems = query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        }
        return components.url!
    }

    func headers(contentType: String? = nil) throws(KubeError) -> HTTPHeaders {
        var headers: HTTPHeaders = ["Accept": "application/json"]
        if let token = try connection.token.current() { headers["Authorization"] = "Bearer \(token)" }
        if let contentType { headers["Content-Type"] = contentType }
        return headers
    }

    /// Sends one request and decodes the answer; a `Status` answer becomes a `KubeError`.
    func call(
        _ method: String, _ url: URL, body: JSONValue? = nil, contentType: String? = nil
    ) async throws(KubeError) -> JSONValue {
        await limiter.acquire()
        let response: HTTPResponse
        do {
            response = try await RequestBudget.withBudget(requestTimeout, label: "the API request limit") {
                try await transport.send(
                    HTTPRequest(
                        method: method, url: url, headers: try headers(contentType: contentType),
                        body: body?.serializedData()))
            }
        } catch let error as KubeError {
            throw error
        } catch {
            throw KubeError(reason: "\(method) \(url.path): \(error)", isRetryable: true)
        }
        let json = try? JSONValue(parsing: response.body)
        guard (200..<300).contains(response.status) else { throw Self.error(response.status, json, method, url) }
        return json ?? .null
    }

    static func error(_ status: Int, _ json: JSONValue?, _ method: String, _ url: URL) -> KubeError {
        let message = json?["message"]?.stringValue ?? "no Status in the answer"
        return KubeError(
            status: status, statusReason: json?["reason"]?.stringValue, reason: "\(method) \(url.path): \(message)",
            isRetryable: HTTPStatusRule.isRetryable(status))
    }

    /// The object, or nil when there is none (404).
    package func get(_ resource: KubeResource, namespace: String?, name: String) async throws(KubeError) -> JSONValue? {
        do {
            return try await call("GET", url(resource, namespace: namespace, name: name))
        } catch  where error.isNotFound {
            return nil
        }
    }

    /// Every object (all pages of `pageSize`), each through `transform` as its page arrives (so a caller keeping a
    /// little of each never holds every whole object at once), and the list's resourceVersion to watch from.
    package func list(
        _ resource: KubeResource, namespace: String?, pageSize: Int = 500,
        transform: (JSONValue) -> JSONValue = { $0 }
    ) async throws(KubeError) -> (items: [JSONValue], resourceVersion: String) {
        var items: [JSONValue] = []
        var next: String?
        var version = ""
        repeat {
            var query = ["limit": String(pageSize)]
            if let next { query["continue"] = next }
            let page = try await call("GET", url(resource, namespace: namespace, name: nil, query: query))
            items += (page["items"]?.arrayValue ?? []).map(transform)
            if version.isEmpty { version = page["metadata"]?["resourceVersion"]?.stringValue ?? "" }
            next = page["metadata"]?["continue"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        } while next != nil
        return (items, version)
    }

    package func create(
        _ resource: KubeResource, namespace: String?, _ object: JSONValue
    ) async throws(KubeError) -> JSONValue {
        try await call(
            "POST", url(resource, namespace: namespace, name: nil), body: object, contentType: "application/json")
    }

    package func replace(
        _ resource: KubeResource, namespace: String?, name: String, _ object: JSONValue
    ) async throws(KubeError) -> JSONValue {
        try await call(
            "PUT", url(resource, namespace: namespace, name: name), body: object, contentType: "application/json")
    }

    /// RFC 7386 merge patch (`metadata.annotations`, finalizers). A `metadata.resourceVersion` in the patch makes it
    /// conditional: 409 when the object changed.
    /// `fieldManager` names who made the change in the object's `managedFields` (default: the server's choice).
    package func mergePatch(
        _ resource: KubeResource, namespace: String?, name: String, _ patch: JSONValue, fieldManager: String? = nil
    ) async throws(KubeError) -> JSONValue {
        try await call(
            "PATCH",
            url(resource, namespace: namespace, name: name, query: fieldManager.map { ["fieldManager": $0] } ?? [:]),
            body: patch, contentType: "application/merge-patch+json")
    }
}

extension KubeAPIClient {
    /// Server-side apply of `object` (JSON, which is YAML) as `fieldManager`: the fields it names become that manager's;
    /// fields the manager applied before and leaves out are removed unless another manager owns them. A field another
    /// manager owns with another value is a 409 `Conflict` unless `force`. A `metadata.uid` is a precondition.
    package func apply(
        _ resource: KubeResource, namespace: String?, name: String, _ object: JSONValue, fieldManager: String,
        force: Bool = false
    ) async throws(KubeError) -> JSONValue {
        try await call(
            "PATCH",
            url(
                resource, namespace: namespace, name: name,
                query: ["fieldManager": fieldManager, "force": String(force)]),
            body: object, contentType: "application/apply-patch+yaml")
    }

    /// Deletes the object (with finalizers, the server only marks it: `deletionTimestamp`).
    package func delete(_ resource: KubeResource, namespace: String?, name: String) async throws(KubeError) {
        _ = try await call("DELETE", url(resource, namespace: namespace, name: name))
    }
}

/// Client-side rate limit: a token bucket of `burst` requests refilled at `qps` per second (client-go's default
/// limiter, which Chains' `--kube-api-qps`/`--kube-api-burst` set).
actor RateLimiter {
    let qps: Double
    let burst: Double
    var tokens: Double
    var last: ContinuousClock.Instant

    init(qps: Double, burst: Int) {
        self.qps = max(qps, 0.001)
        self.burst = Double(max(burst, 1))
        tokens = Double(max(burst, 1))
        last = .now
    }

    func acquire() async {
        let now = ContinuousClock.now
        let elapsed = now - last
        last = now
        tokens = min(
            burst, tokens + qps * (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
        tokens -= 1
        if tokens < 0 {
            try? await Task.sleep(for: .seconds(-tokens / qps))
        }
    }
}
