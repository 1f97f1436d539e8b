import HTTPTransport
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// `/metrics` (Prometheus text), `/healthz` and `/readyz` (Chains' `/health` and `/readiness` too) on
/// `--metrics-address`: a small HTTP/1 server on NIO, run by swift-service-lifecycle. Each connection ends on
/// graceful shutdown (an idle keep-alive connection would otherwise hold it open).
package final class HealthServer: Service {
    let host: String
    let port: Int
    let metrics: ControllerMetrics
    let ready: @Sendable () -> Bool
    let logger: Logger
    /// The port bound (with port 0, the one the system chose).
    let bound = Mutex<Int?>(nil)
    package var boundPort: Int? { bound.withLock { $0 } }

    package init(
        host: String, port: Int, metrics: ControllerMetrics, logger: Logger, ready: @escaping @Sendable () -> Bool
    ) {
        self.host = host
        self.port = port
        self.metrics = metrics
        self.logger = logger
        self.ready = ready
    }

    /// `:9090`, `0.0.0.0:9090`, `127.0.0.1:0`, `[::1]:9090`.
    package static func parse(address: String) -> (host: String, port: Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    package func run() async throws {
        // Each connection is served from the moment it is accepted, in a task of its own (see `TaskSet`: a
        // connection left in NIO's async server channel at shutdown traps when dropped).
        let connections = TaskSet()
        let server = try await ServerBootstrap(group: .singletonMultiThreadedEventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    let connection = try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel)
                    connections.start { try? await self.serve(connection) }
                }
            }
            .bind(host: host, port: port).get()
        let bound = server.localAddress?.port ?? port
        self.bound.withLock { $0 = bound }
        logger.info("metrics and health on \(host):\(bound) (/metrics, /healthz, /readyz)")
        // Until graceful shutdown or cancellation: then no new connections, and each open one ends (an idle
        // keep-alive connection would otherwise hold the shutdown).
        let stop: @Sendable () -> Void = {
            server.close(promise: nil)
            connections.cancelAll()
        }
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await server.closeFuture.get()
            } onCancel: {
                stop()
            }
        } onGracefulShutdown: {
            stop()
        }
    }

    func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async throws {
        try await connection.executeThenClose { inbound, outbound in
            for try await part in inbound {
                guard case .head(let head) = part else { continue }
                let (status, type, body) = answer(method: head.method, uri: head.uri)
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: type)
                headers.add(name: "Content-Length", value: String(body.utf8.count))
                try await outbound.write(
                    .head(HTTPResponseHead(version: head.version, status: status, headers: headers)))
                try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body))))
                try await outbound.write(.end(nil))
            }
        }
    }

    func answer(method: HTTPMethod, uri: String) -> (HTTPResponseStatus, String, String) {
        guard method == .GET else { return (.methodNotAllowed, "text/plain", "only GET\n") }
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        switch path {
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics.exposition())
        case "/healthz", "/health":
            return (.ok, "text/plain", "ok\n")
        case "/readyz", "/readiness":
            return ready()
                ? (.ok, "text/plain", "ready\n")
                : (.serviceUnavailable, "text/plain", "not ready: the runs are not listed yet\n")
        default:
            return (.notFound, "text/plain", "not found\n")
        }
    }
}
