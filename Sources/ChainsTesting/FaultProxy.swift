import Foundation
import HTTPTransport
import OCI
import Synchronization

/// A reverse proxy in front of any HTTP peer (a registry, its token server, Fulcio, Rekor, the API server) that
/// injects the fault suite's faults into the requests a rule matches, and records every request it sees (method,
/// path, the headers that carry credentials) so tests can check where credentials went.
package final class FaultProxy: Sendable {
    package enum Fault: Sendable, CustomStringConvertible {
        /// An answer with this status (and `Retry-After` when given), not forwarded.
        case status(Int, retryAfter: String? = nil)
        /// The connection closes without an answer.
        case reset
        /// The request is never answered (the connection stays open).
        case hang
        /// The upstream answer, cut in half after a head promising all of it.
        case truncate
        /// The upstream answer, `chunk` bytes every `pause`.
        case slowBody(chunk: Int, pause: Duration)
        /// The upstream answer with another Content-Type.
        case contentType(String)
        /// A 307 to the same path on another host (`host:port`), which may record what reaches it.
        case redirect(to: String)
        /// 201 Created with the body's digest, not forwarded: a write acknowledged and not stored.
        case acceptAndDrop
        /// The upstream status and headers with this body instead (garbage, an empty answer).
        case replaceBody(Data)

        package var description: String {
            switch self {
            case .status(let code, let retry): return "\(code)" + (retry.map { " Retry-After: \($0)" } ?? "")
            case .reset: return "connection reset"
            case .hang: return "no answer"
            case .truncate: return "truncated body"
            case .slowBody: return "slow body"
            case .contentType(let type): return "Content-Type \(type)"
            case .redirect(let host): return "redirect to \(host)"
            case .acceptAndDrop: return "201 and nothing stored"
            case .replaceBody: return "garbage body"
            }
        }
    }

    package struct Seen: Sendable {
        package var method: String
        package var path: String
        package var authorization: String?
        package var faulted: Bool
    }

    struct Rule {
        var method: String?
        var pathContains: String
        var fault: Fault
        var remaining: Int
    }

    final class Box: Sendable {
        let m = Mutex((rules: [Rule](), seen: [Seen]()))
    }

    let server: TestHTTPServer
    let box = Box()
    let transport: AsyncHTTPClientTransport
    package let upstream: String

    package var address: String { "127.0.0.1:\(server.port)" }
    package var url: String { "http://\(address)" }

    /// `upstream`: `host:port` of the peer (plain HTTP, loopback).
    package init(upstream: String) async throws {
        self.upstream = upstream
        let transport = try AsyncHTTPClientTransport(policy: .init(default: .init(.plainHTTP)))
        self.transport = transport
        let box = self.box
        server = try await TestHTTPServer { request in
            let fault: Fault? = box.m.withLock { state in
                let i = state.rules.firstIndex {
                    $0.remaining > 0 && request.path.contains($0.pathContains)
                        && ($0.method == nil || $0.method == request.method)
                }
                if let i { state.rules[i].remaining -= 1 }
                state.seen.append(
                    Seen(
                        method: request.method, path: request.path, authorization: request.header("Authorization"),
                        faulted: i != nil))
                return i.map { state.rules[$0].fault }
            }
            return await FaultProxy.answer(request, fault: fault, upstream: upstream, transport: transport)
        }
    }

    static func answer(
        _ request: ServedRequest, fault: Fault?, upstream: String, transport: AsyncHTTPClientTransport
    ) async -> ServedResponse {
        switch fault {
        case .status(let code, let retry):
            return ServedResponse(
                status: code, headers: retry.map { [("Retry-After", $0)] } ?? [], body: Data("injected fault".utf8))
        case .reset: return ServedResponse(status: 500, wire: .closeWithoutAnswer)
        case .hang: return ServedResponse(status: 500, wire: .neverAnswer)
        case .redirect(let host):
            return ServedResponse(status: 307, headers: [("Location", "http://\(host)\(request.uri)")])
        case .acceptAndDrop:
            return ServedResponse(
                status: 201,
                headers: [
                    ("Docker-Content-Digest", Digest.sha256(of: request.body).description), ("Location", request.path),
                ])
        default: break
        }
        var response = await forward(request, upstream: upstream, transport: transport)
        switch fault {
        case .truncate: response.wire = .truncate(bytes: response.body.count / 2)
        case .slowBody(let chunk, let pause): response.wire = .slowBody(chunk: chunk, pause: pause)
        case .contentType(let type):
            response.headers =
                response.headers.filter { $0.0.lowercased() != "content-type" } + [("Content-Type", type)]
        case .replaceBody(let body): response.body = body
        default: break
        }
        return response
    }

    /// `request` sent on to `upstream`; the upstream's name in the answer's headers becomes the host the client
    /// asked for (`request.host`). Also `RegistryProxy`'s forwarding.
    static func forward(
        _ request: ServedRequest, upstream: String, transport: AsyncHTTPClientTransport
    ) async -> ServedResponse {
        var headers = HTTPHeaders()
        for (name, value) in request.headers where name.lowercased() != "host" { headers.add(name, value) }
        do {
            let response = try await transport.send(
                HTTPRequest(
                    method: request.method, url: URL(string: "http://\(upstream)\(request.uri)")!, headers: headers,
                    body: request.body.isEmpty ? nil : request.body))
            var out: [(String, String)] = []
            for (name, value) in response.headers
            where !["content-length", "connection", "transfer-encoding"].contains(name.lowercased()) {
                out.append((name, value.replacingOccurrences(of: upstream, with: request.host)))
            }
            return ServedResponse(status: response.status, headers: out, body: response.body)
        } catch {
            return ServedResponse(status: 502, body: Data("\(error)".utf8))
        }
    }

    /// The next `count` requests (with `method`, when given) whose path contains `path` get `fault`.
    package func inject(_ fault: Fault, method: String? = nil, path: String = "", count: Int = 1) {
        box.m.withLock { $0.rules.append(Rule(method: method, pathContains: path, fault: fault, remaining: count)) }
    }

    /// The peer answers normally again.
    package func clear() { box.m.withLock { $0.rules.removeAll() } }

    /// Faults injected and not yet used up.
    package var pendingFaults: Int { box.m.withLock { $0.rules.reduce(0) { $0 + $1.remaining } } }
    package var seen: [Seen] { box.m.withLock { $0.seen } }

    package func stop() async {
        await server.stop()
        try? await transport.shutdown()
    }
}
