import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL

/// The real transport, on AsyncHTTPClient. Follows redirects itself so that `Authorization` (and any other
/// credential header) is dropped whenever the host changes, and TLS settings apply per host.
public final class AsyncHTTPClientTransport: HTTPTransport, Sendable {
    let client: HTTPClient
    let policy: ConnectionPolicy
    let tlsByHost: [String: TLSConfiguration]
    /// For hosts without their own setting: nil (verified, the system trust store) or no verification when the
    /// default connection is insecure (`storage.oci.repository.insecure`).
    let defaultTLS: TLSConfiguration?
    let logger: Logger
    let userAgent: String
    let maxRedirects = 5
    let maxBodyBytes = 64 * 1024 * 1024

    public init(
        policy: ConnectionPolicy = .init(), userAgent: String = "chains-in-swift/0.1", logger: Logger? = nil
    ) throws {
        var config = HTTPClient.Configuration()
        config.redirectConfiguration = .disallow
        config.timeout = .init(connect: .seconds(5), read: .seconds(60))
        config.decompression = .disabled
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        self.policy = policy
        self.userAgent = userAgent
        self.logger = logger ?? Logger(label: "chains.http", factory: { _ in SwiftLogNoOpLogHandler() })
        var tls: [String: TLSConfiguration] = [:]
        for (host, connection) in policy.registries {
            switch connection.security {
            case .customCA(let path):
                var c = TLSConfiguration.makeClientConfiguration()
                let roots: [NIOSSLCertificate]
                do {
                    roots = try NIOSSLCertificate.fromPEMFile(path)
                } catch {
                    try? client.syncShutdown()
                    throw TransportError(kind: .tls, host: host, reason: "cannot read the CA bundle \(path): \(error)")
                }
                c.additionalTrustRoots = [.certificates(roots)]
                tls[host] = c
            case .insecureSkipVerify:
                var c = TLSConfiguration.makeClientConfiguration()
                c.certificateVerification = .none
                tls[host] = c
            case .verified, .plainHTTP:
                break
            }
        }
        tlsByHost = tls
        if policy.defaultConnection.security == .insecureSkipVerify {
            var c = TLSConfiguration.makeClientConfiguration()
            c.certificateVerification = .none
            defaultTLS = c
        } else {
            defaultTLS = nil
        }
    }

    /// Must be called once when done.
    public func shutdown() async throws { try await client.shutdown() }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var current = request
        for _ in 0...maxRedirects {
            let response = try await sendOnce(current)
            guard [301, 302, 303, 307, 308].contains(response.status), let location = response.headers["Location"],
                let next = URL(string: location, relativeTo: current.url)?.absoluteURL
            else { return response }
            if current.url.scheme == "https" && next.scheme == "http" {
                throw TransportError(
                    kind: .insecureRedirect, host: current.url.hostAndPort,
                    reason: "redirected from https to plain http (\(next.hostAndPort)); refused")
            }
            var headers = current.headers
            if next.origin != current.url.origin {
                // Credentials belong to the host they were issued for; a redirect elsewhere gets none.
                headers["Authorization"] = nil
                headers["Cookie"] = nil
            }
            let method = response.status == 303 ? "GET" : current.method
            current = HTTPRequest(
                method: method, url: next, headers: headers, body: method == "GET" ? nil : current.body)
        }
        throw TransportError(
            kind: .tooManyRedirects, host: request.url.hostAndPort, reason: "more than \(maxRedirects) redirects")
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
        do {
            let response = try await client.execute(r, timeout: .seconds(120))
            let body = try await response.body.collect(upTo: maxBodyBytes)
            var headers = HTTPHeaders()
            for h in response.headers { headers.add(h.name, h.value) }
            logger.debug("\(request.method) \(request.url.redactedForLog) → \(response.status.code)")
            return HTTPResponse(
                status: Int(response.status.code), headers: headers, body: Data(buffer: body), url: request.url)
        } catch let error as HTTPClientError {
            if error == .connectTimeout || error == .readTimeout || error == .deadlineExceeded {
                throw TransportError(kind: .timeout, host: host, reason: "timed out (\(error))")
            }
            if error == .remoteConnectionClosed {
                throw TransportError(
                    kind: .connectionReset, host: host, reason: "the connection was closed mid-request")
            }
            throw TransportError(kind: .connection, host: host, reason: "\(error)")
        } catch let error as NIOSSLError {
            throw TransportError(kind: .tls, host: host, reason: "TLS failed: \(error)")
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

extension URL {
    /// The URL without its query (upload session URLs carry state there) for logs.
    public var redactedForLog: String {
        var c = URLComponents(url: self, resolvingAgainstBaseURL: false)
        if c?.query != nil { c?.query = "…" }
        c?.user = nil
        c?.password = nil
        return c?.string ?? "<url>"
    }
}
