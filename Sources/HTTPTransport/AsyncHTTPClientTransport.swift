import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL
import Synchronization

/// The real transport, on AsyncHTTPClient. Follows redirects itself so that `Authorization` (and any other
/// credential header) is dropped whenever the host changes, and TLS settings apply per host.
package final class AsyncHTTPClientTransport: HTTPTransport, Sendable {
    let client: HTTPClient
    let policy: ConnectionPolicy
    let tlsByHost: [String: TLSConfiguration]
    /// For hosts without their own setting: nil (verified, the system trust store), no verification when the
    /// default connection is insecure (`storage.oci.repository.insecure`), or the system's roots and a CA bundle
    /// (the KMS client's `SSL_CERT_FILE`).
    let defaultTLS: TLSConfiguration?
    let logger: Logger
    let userAgent: String
    let maxRedirects = 5
    let maxBodyBytes = 64 * 1024 * 1024

    let timeouts: HTTPTimeouts
    /// Where connections may go (`ConnectionRules`); nil: by name, unchecked.
    let book: AddressBook?
    let configuration: HTTPClient.Configuration
    /// One client per (name, checked address), so connections go to the address that was checked. A name keeps its
    /// address while the name still resolves to it (round-robin DNS does not make a client per answer); past
    /// `maxPinnedClients` the oldest is shut down once any request on it has had its time.
    let pinnedClients = Mutex<(clients: [String: HTTPClient], order: [String], byHost: [String: String])>(
        ([:], [], [:]))
    let maxPinnedClients = 32

    /// `connectionsPerHost`: HTTP/1.1 connections kept open to one host at once (async-http-client's soft limit;
    /// 8 by default). A peer whose answers take seconds — Rekor v2 answers a write once a checkpoint covers it — needs
    /// more, or concurrent requests queue for a connection until they time out.
    package init(
        policy: ConnectionPolicy = .init(), timeouts: HTTPTimeouts = .init(), userAgent: String = "chains-in-swift/0.1",
        logger: Logger? = nil, rules: ConnectionRules? = nil, connectionsPerHost: Int = 8
    ) throws {
        var config = HTTPClient.Configuration()
        config.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connectionsPerHost
        config.redirectConfiguration = .disallow
        config.timeout = .init(
            connect: timeouts.connect.timeAmount, read: timeouts.request.timeAmount)
        self.timeouts = timeouts
        config.decompression = .disabled
        configuration = config
        book = rules.map(AddressBook.init)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        self.policy = policy
        self.userAgent = userAgent
        self.logger = logger ?? Logger(label: "chains.http", factory: { _ in SwiftLogNoOpLogHandler() })
        var tls: [String: TLSConfiguration] = [:]
        do {
            for (host, connection) in policy.registries {
                tls[host] = try Self.tlsConfiguration(connection.security, host: host)
            }
            defaultTLS = try Self.tlsConfiguration(policy.defaultConnection.security, host: "every host")
        } catch {
            try? client.syncShutdown()
            throw error
        }
        tlsByHost = tls
    }

    /// The TLS settings for a connection security, nil for the defaults (verified with the system's roots).
    static func tlsConfiguration(_ security: RegistryConnection.Security, host: String) throws -> TLSConfiguration? {
        switch security {
        case .customCA(let path):
            var c = TLSConfiguration.makeClientConfiguration()
            let roots: [NIOSSLCertificate]
            do {
                roots = try NIOSSLCertificate.fromPEMFile(path)
            } catch {
                throw TransportError(kind: .tls, host: host, reason: "cannot read the CA bundle \(path): \(error)")
            }
            c.additionalTrustRoots = [.certificates(roots)]
            return c
        case .insecureSkipVerify:
            var c = TLSConfiguration.makeClientConfiguration()
            c.certificateVerification = .none
            return c
        case .verified, .plainHTTP:
            return nil
        }
    }

    /// Must be called once when done.
    package func shutdown() async throws {
        let pinned = pinnedClients.withLock { state in
            defer { state = ([:], [], [:]) }
            return Array(state.clients.values)
        }
        for other in pinned { try? await other.shutdown() }
        try await client.shutdown()
    }

    /// The client for `url`: the shared one, or — under connection rules — one that connects to the checked address.
    func client(for url: URL, within limit: Duration) async throws -> HTTPClient {
        guard let book, let addresses = try await book.addresses(for: url, within: limit), let first = addresses.first
        else { return client }
        let host = (url.host ?? "").lowercased()
        if host == first || host == "[\(first)]" { return client }
        let (chosen, evicted) = pinnedClients.withLock { state -> (HTTPClient, HTTPClient?) in
            // The address this name was pinned to, while it still has it; else the first.
            let address = state.byHost[host].flatMap { addresses.contains($0) ? $0 : nil } ?? first
            let key = "\(host)\u{0}\(address)"
            state.byHost[host] = address
            if let known = state.clients[key] { return (known, nil) }
            var config = configuration
            config.dnsOverride = [host: address]
            let made = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
            state.clients[key] = made
            state.order.append(key)
            guard state.order.count > maxPinnedClients else { return (made, nil) }
            let oldest = state.order.removeFirst()
            return (made, state.clients.removeValue(forKey: oldest))
        }
        if let evicted {
            let grace = timeouts.request + .seconds(5)
            Task {
                try? await Task.sleep(for: grace)
                try? await evicted.shutdown()
            }
        }
        return chosen
    }

    package func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var current = request
        for _ in 0...maxRedirects {
            let response = try await sendOnce(current)
            guard let next = try Self.redirect(current, answeredBy: response) else { return response }
            current = next
        }
        throw TransportError(
            kind: .tooManyRedirects, host: request.url.hostAndPort, reason: "more than \(maxRedirects) redirects")
    }

    /// The request a redirect answer leads to, or nil when `response` is not a redirect. Refuses https → http;
    /// drops `Authorization` and `Cookie` when the origin changes (credentials belong to the host they were
    /// issued for); 303 becomes a GET without a body.
    package static func redirect(_ current: HTTPRequest, answeredBy response: HTTPResponse) throws -> HTTPRequest? {
        guard [301, 302, 303, 307, 308].contains(response.status), let location = response.headers["Location"],
            let next = URL(string: location, relativeTo: current.url)?.absoluteURL
        else { return nil }
        if current.url.scheme == "https" && next.scheme != "https" {
            throw TransportError(
                kind: .insecureRedirect, host: current.url.hostAndPort,
                reason: "redirected from https to \(next.scheme ?? "?")://\(next.hostAndPort); refused")
        }
        var headers = current.headers
        if next.origin != current.url.origin {
            headers["Authorization"] = nil
            headers["Cookie"] = nil
        }
        let method = response.status == 303 ? "GET" : current.method
        return HTTPRequest(method: method, url: next, headers: headers, body: method == "GET" ? nil : current.body)
    }

    /// A response whose body arrives as it is written (a Kubernetes watch): the status and headers, then the
    /// body's chunks. `deadline` bounds the whole exchange; the transport's read timeout bounds the silence between
    /// chunks. No redirects are followed.
    package func stream(_ request: HTTPRequest, deadline: Duration) async throws -> HTTPStreamResponse {
        var r = HTTPClientRequest(url: request.url.absoluteString)
        r.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { r.headers.add(name: name, value: value) }
        if r.headers["User-Agent"].isEmpty { r.headers.add(name: "User-Agent", value: userAgent) }
        if let body = request.body { r.body = .bytes(ByteBuffer(data: body)) }
        if let tls = tlsByHost[request.url.hostAndPort] ?? defaultTLS { r.tlsConfiguration = tls }
        let host = request.url.hostAndPort
        let response: HTTPClientResponse
        let client = try await client(for: request.url, within: deadline)
        do {
            response = try await client.execute(r, timeout: deadline.timeAmount)
        } catch let error as HTTPClientError {
            throw TransportError(
                kind: error == .connectTimeout ? .timeout : .connection, host: host, reason: "\(error)")
        } catch {
            throw TransportError(kind: .connection, host: host, reason: "\(error)")
        }
        var headers = HTTPHeaders()
        for h in response.headers { headers.add(h.name, h.value) }
        let body = response.body
        let chunks = AsyncThrowingStream<Data, any Error> { continuation in
            let task = Task {
                do {
                    for try await buffer in body { continuation.yield(Data(buffer: buffer)) }
                    continuation.finish()
                } catch {
                    continuation.finish(
                        throwing: TransportError(kind: .connectionReset, host: host, reason: "\(error)"))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
        logger.debug("\(request.method) \(request.url.redactedForLog) → \(response.status.code) (streaming)")
        return HTTPStreamResponse(status: Int(response.status.code), headers: headers, body: chunks)
    }

    func sendOnce(_ request: HTTPRequest) async throws -> HTTPResponse {
        var r = HTTPClientRequest(url: request.url.absoluteString)
        r.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { r.headers.add(name: name, value: value) }
        if r.headers["User-Agent"].isEmpty { r.headers.add(name: "User-Agent", value: userAgent) }
        if let body = request.body {
            r.body = .bytes(ByteBuffer(data: body))
        } else if ["POST", "PUT", "PATCH"].contains(request.method) {
            r.headers.replaceOrAdd(name: "Content-Length", value: "0")
        }
        if let tls = tlsByHost[request.url.hostAndPort] ?? defaultTLS { r.tlsConfiguration = tls }
        let host = request.url.hostAndPort
        var limit = timeouts.request
        if let remaining = RequestBudget.remaining {
            guard remaining > .milliseconds(1) else {
                throw RequestBudget.exhausted(host: host, method: request.method, path: request.url.path)
            }
            limit = min(limit, remaining)
        }
        let started = ContinuousClock.now
        let whole = limit
        let client = try await client(for: request.url, within: limit)
        do {
            let response = try await client.execute(r, timeout: (whole - (ContinuousClock.now - started)).timeAmount)
            // The client's deadline covers the head only: a peer trickling its body for ever is cut off here, at
            // the same limit, counted from the start of the request.
            let body = try await Self.collect(response.body, upTo: maxBodyBytes, by: started + whole) {
                TransportError(
                    kind: .timeout, host: host,
                    reason: "\(request.method) \(request.url.path): the answer did not end within \(whole.seconds)")
            }
            var headers = HTTPHeaders()
            for h in response.headers { headers.add(h.name, h.value) }
            logger.debug("\(request.method) \(request.url.redactedForLog) → \(response.status.code)")
            return HTTPResponse(
                status: Int(response.status.code), headers: headers, body: Data(buffer: body), url: request.url)
        } catch let error as HTTPClientError {
            if error == .connectTimeout || error == .readTimeout || error == .deadlineExceeded {
                if let remaining = RequestBudget.remaining, remaining <= .milliseconds(1) {
                    throw RequestBudget.exhausted(host: host, method: request.method, path: request.url.path)
                }
                throw TransportError(
                    kind: .timeout, host: host,
                    reason: "\(request.method) \(request.url.path): no answer within \(limit.seconds) (\(error))")
            }
            if error == .remoteConnectionClosed {
                throw TransportError(
                    kind: .connectionReset, host: host, reason: "the connection was closed mid-request")
            }
            throw TransportError(kind: .connection, host: host, reason: "\(error)")
        } catch let error as NIOSSLError {
            throw TransportError(kind: .tls, host: host, reason: "TLS failed: \(error)")
        } catch is NIOTooManyBytesError {
            // Nothing we read is this large (manifests, tokens, log entries): a broken or hostile peer. Reading stops
            // at the limit, so memory stays bounded whatever the peer sends.
            throw TransportError(
                kind: .other, host: host,
                reason:
                    "\(request.method) \(request.url.path): the answer is larger than \(maxBodyBytes / 1_048_576) MiB; "
                    + "stopped reading")
        } catch let error as HTTPParserError {
            // The answer stopped before its Content-Length (a peer that crashed or a proxy that gave up): the same
            // as a connection closed mid-request, so an idempotent request is asked again.
            throw TransportError(
                kind: .connectionReset, host: host, reason: "the answer was cut short (\(error))")
        } catch let error as TransportError {
            throw error
        } catch {
            let text = "\(error)"
            if text.contains("reset by peer") || text.contains("ECONNRESET") || text.contains("Broken pipe") {
                throw TransportError(kind: .connectionReset, host: host, reason: "the connection was reset (\(text))")
            }
            if text.contains("certificate") || text.contains("SSL") || text.contains("handshake") {
                throw TransportError(
                    kind: .tls, host: host,
                    reason: "TLS failed (\(text)); if the registry uses a private CA, configure its CA bundle")
            }
            throw TransportError(kind: .connection, host: host, reason: text)
        }
    }
}

extension AsyncHTTPClientTransport {
    /// The body, read up to `limit` bytes, or `late()` thrown when it has not ended by `deadline`.
    static func collect(
        _ body: HTTPClientResponse.Body, upTo limit: Int, by deadline: ContinuousClock.Instant,
        late: @escaping @Sendable () -> TransportError
    ) async throws -> ByteBuffer {
        try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await body.collect(upTo: limit) }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let buffer = first else { throw late() }
            return buffer
        }
    }
}

extension URL {
    /// The URL without its query (upload session URLs carry state there) for logs.
    package var redactedForLog: String {
        var c = URLComponents(url: self, resolvingAgainstBaseURL: false)
        if c?.query != nil { c?.query = "…" }
        c?.user = nil
        c?.password = nil
        return c?.string ?? "<url>"
    }
}

extension Duration {
    /// The same span as NIO's `TimeAmount` (whole nanoseconds).
    var timeAmount: TimeAmount {
        let (s, atto) = components
        return .nanoseconds(s * 1_000_000_000 + atto / 1_000_000_000)
    }

    /// `3m`, `60s`, `1.5s`: how limits are written in messages.
    package var seconds: String {
        let (s, atto) = components
        let total = Double(s) + Double(atto) / 1e18
        if total >= 60 && total.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(total / 60))m" }
        if total == total.rounded() { return "\(Int(total))s" }
        return String(format: "%.1fs", total)
    }
}
