import Foundation
import HTTPTransport
import OCI
import Synchronization

/// A reverse proxy in front of a real registry that can inject faults: 5xx answers, and redirects of blob reads
/// to another host (a "CDN") that records which headers reach it.
package final class RegistryProxy: Sendable {
    package struct Seen: Sendable {
        package var method: String
        package var path: String
        package var hadAuthorization: Bool
    }

    struct State {
        var failures: [(pathContains: String, method: String?, status: Int, remaining: Int)] = []
        var redirectBlobs = false
        var swallowed: [(pathContains: String, method: String, remaining: Int)] = []
        var seen: [Seen] = []
        var cdnSeen: [Seen] = []
        var latency: Duration = .zero
        var recording = true
    }

    let server: TestHTTPServer
    let cdn: TestHTTPServer
    let upstream: String
    final class Box: Sendable { let m = Mutex(State()) }
    let state: Box
    let transport: AsyncHTTPClientTransport

    package var address: String { "127.0.0.1:\(server.port)" }
    /// The CDN answers as `localhost:<port>`: another host than the registry's `127.0.0.1`.
    package var cdnAddress: String { "localhost:\(cdn.port)" }

    /// `upstream`: `host:port` of the real registry (plain HTTP). `cdnAuthorization`: what the CDN itself uses to
    /// fetch blobs from the registry (it must not get the client's).
    package init(upstream: String, cdnAuthorization: String? = nil) async throws {
        self.upstream = upstream
        let transport = try AsyncHTTPClientTransport(policy: .init(default: .init(.plainHTTP)))
        self.transport = transport
        let state = Box()
        self.state = state
        // Upstream host names in the answer's headers (Location) are rewritten to the host the client asked for.
        let forward: @Sendable (ServedRequest) async -> ServedResponse = { request in
            await FaultProxy.forward(request, upstream: upstream, transport: transport)
        }
        cdn = try await TestHTTPServer { request in
            state.m.withLock {
                $0.cdnSeen.append(
                    Seen(
                        method: request.method, path: request.path,
                        hadAuthorization: request.header("Authorization") != nil))
            }
            // The CDN fetches the blob from the registry with its own access.
            var headers: [(String, String)] = []
            if let cdnAuthorization { headers.append(("Authorization", cdnAuthorization)) }
            let blob = ServedRequest(
                method: "GET", uri: request.uri.replacingOccurrences(of: "/cdn", with: ""), headers: headers,
                body: Data(), host: "")
            return await forward(blob)
        }
        let cdnPort = cdn.port
        server = try await TestHTTPServer { request in
            let decision: ServedResponse? = state.m.withLock { s in
                if s.recording {
                    s.seen.append(
                        Seen(
                            method: request.method, path: request.path,
                            hadAuthorization: request.header("Authorization") != nil))
                }
                if let i = s.failures.firstIndex(where: {
                    request.path.contains($0.pathContains) && $0.remaining > 0
                        && ($0.method == nil || $0.method == request.method)
                }) {
                    s.failures[i].remaining -= 1
                    return ServedResponse(
                        status: s.failures[i].status, headers: [("Retry-After", "0")], body: Data("injected".utf8))
                }
                if let i = s.swallowed.firstIndex(where: {
                    request.path.contains($0.pathContains) && $0.method == request.method && $0.remaining > 0
                }) {
                    s.swallowed[i].remaining -= 1
                    // What a broken cache or storage layer does: the write is acknowledged, nothing is kept.
                    let digest = Digest.sha256(of: request.body).description
                    return ServedResponse(
                        status: 201, headers: [("Docker-Content-Digest", digest), ("Location", request.path)])
                }
                if s.redirectBlobs, request.method == "GET", request.path.contains("/blobs/sha256:") {
                    return ServedResponse(
                        status: 307, headers: [("Location", "http://localhost:\(cdnPort)/cdn\(request.uri)")])
                }
                return nil
            }
            if let decision { return decision }
            let latency = state.m.withLock { $0.latency }
            if latency > .zero { try? await Task.sleep(for: latency) }
            return await forward(request)
        }
    }

    /// The next `count` requests whose path contains `pathContains` get `status` (with `Retry-After: 0`).
    package func fail(_ pathContains: String, method: String? = nil, status: Int = 503, count: Int) {
        state.m.withLock { $0.failures.append((pathContains, method, status, count)) }
    }

    /// The next `count` requests with `method` whose path contains `pathContains` are answered 201 Created (with the
    /// body's digest) and not forwarded: the registry acknowledges a write and stores nothing.
    package func swallow(_ pathContains: String, method: String = "PUT", count: Int) {
        state.m.withLock { $0.swallowed.append((pathContains, method, count)) }
    }

    /// Every forwarded request waits this long first: a registry's latency as waiting time, not CPU.
    package func setLatency(_ latency: Duration) { state.m.withLock { $0.latency = latency } }

    /// Whether requests are kept for `seen` (off for long benchmarks).
    package func setRecording(_ on: Bool) { state.m.withLock { $0.recording = on } }

    package func redirectBlobReads(_ on: Bool) { state.m.withLock { $0.redirectBlobs = on } }
    package var seen: [Seen] { state.m.withLock { $0.seen } }
    package var cdnSeen: [Seen] { state.m.withLock { $0.cdnSeen } }

    package func stop() async {
        await server.stop()
        await cdn.stop()
        try? await transport.shutdown()
    }
}
