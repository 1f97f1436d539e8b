import Foundation
import HTTPTransport
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A request as a test server sees it.
package struct ServedRequest: Sendable {
    package var method: String
    package var uri: String
    package var headers: [(String, String)]
    package var body: Data
    /// The address the client connected to (`127.0.0.1:port` or `localhost:port`).
    package var host: String

    package func header(_ name: String) -> String? {
        headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
    }
    package var path: String { String(uri.split(separator: "?", maxSplits: 1).first ?? "") }
    package var query: [String: [String]] {
        var out: [String: [String]] = [:]
        for item in URLComponents(string: "http://x\(uri)")?.queryItems ?? [] {
            out[item.name, default: []].append(item.value ?? "")
        }
        return out
    }
}

package struct ServedResponse: Sendable {
    package var status: Int
    package var headers: [(String, String)]
    package var body: Data
    /// A body written as it comes (chunked), after `body`: a Kubernetes watch. The response ends when the stream
    /// finishes; a client that goes away ends the writing.
    package var stream: AsyncStream<Data>?
    /// How the answer goes wrong on the wire (the fault suite's connection-level faults).
    package var wire: WireFault = .none
    package init(
        status: Int, headers: [(String, String)] = [], body: Data = Data(), stream: AsyncStream<Data>? = nil,
        wire: WireFault = .none
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.stream = stream
        self.wire = wire
    }
    package static func json(_ status: Int, _ text: String, headers: [(String, String)] = []) -> ServedResponse {
        ServedResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Data(text.utf8))
    }
    /// The same for a JSON object.
    package static func json(_ status: Int, object: [String: Any], headers: [(String, String)] = []) -> ServedResponse {
        json(
            status, String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self),
            headers: headers)
    }
}

/// Faults below HTTP: what a broken peer or network does to an answer.
package enum WireFault: Sendable, Equatable {
    case none
    /// The connection is closed without an answer (a reset, a crashed peer).
    case closeWithoutAnswer
    /// The request is read and never answered; the connection stays open (a half-open peer).
    case neverAnswer
    /// The head promises the whole body (`Content-Length`), `bytes` of it are sent, then the connection closes.
    case truncate(bytes: Int)
    /// The body is sent `chunk` bytes at a time, `pause` apart (a slow peer).
    case slowBody(chunk: Int, pause: Duration)
}

/// A small HTTP/1.1 server on 127.0.0.1 for test peers (token server, fault-injecting proxy).
package final class TestHTTPServer: Sendable {
    let channel: any Channel
    package let port: Int
    let connections = TaskSet()

    /// `tls`: serve HTTPS with this certificate and key (PEM files, e.g. a `TestCA`'s), else plain HTTP.
    package init(
        tls: (certificate: URL, key: URL)? = nil, handler: @escaping @Sendable (ServedRequest) async -> ServedResponse
    ) async throws {
        let context = try tls.map { tls in
            try NIOSSLContext(
                configuration: .makeServerConfiguration(
                    certificateChain: try NIOSSLCertificate.fromPEMFile(tls.certificate.path).map { .certificate($0) },
                    privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.key.path, format: .pem))))
        }
        let connections = self.connections
        // Each connection is served from the moment it is accepted (see `TaskSet`).
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    let connection = try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel)
                    connections.start { await TestHTTPServer.serve(connection, handler: handler) }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    static func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>,
        handler: @Sendable (ServedRequest) async -> ServedResponse
    ) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let h):
                    head = h
                    body.clear()
                case .body(var b):
                    body.writeBuffer(&b)
                case .end:
                    guard let h = head else { continue }
                    let request = ServedRequest(
                        method: h.method.rawValue, uri: h.uri, headers: h.headers.map { ($0.name, $0.value) },
                        body: Data(body.readableBytesView), host: h.headers["Host"].first ?? "")
                    let response = await handler(request)
                    switch response.wire {
                    case .closeWithoutAnswer: return
                    case .neverAnswer:
                        while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
                        return
                    default: break
                    }
                    var headers = NIOHTTP1.HTTPHeaders(response.headers)
                    if response.stream == nil {
                        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
                    } else {
                        headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
                    }
                    try await outbound.write(
                        .head(
                            HTTPResponseHead(
                                version: .http1_1, status: .init(statusCode: response.status), headers: headers)))
                    if h.method != .HEAD && !response.body.isEmpty {
                        switch response.wire {
                        case .truncate(let bytes):
                            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body.prefix(bytes)))))
                            return
                        case .slowBody(let chunk, let pause):
                            var rest = response.body[...]
                            while !rest.isEmpty {
                                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: rest.prefix(chunk)))))
                                rest = rest.dropFirst(chunk)
                                try await Task.sleep(for: pause)
                            }
                        default:
                            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
                        }
                    }
                    if let stream = response.stream {
                        for await chunk in stream {
                            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: chunk))))
                        }
                    }
                    try await outbound.write(.end(nil))
                }
            }
        }
    }

    package func stop() async {
        try? await channel.close()
        connections.cancelAll()
    }
}
