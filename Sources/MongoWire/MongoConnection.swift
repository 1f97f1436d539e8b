import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// One connection to one MongoDB server: commands as OP_MSG, answers paired with requests by `responseTo`, each with
/// a deadline (a server that never answers closes the connection and fails the call as a timeout).
package final class MongoConnection: Sendable {
    package let host: MongoConnectionString.Host
    let channel: any Channel
    let nextID = Atomic<Int32>(1)

    init(host: MongoConnectionString.Host, channel: any Channel) {
        self.host = host
        self.channel = channel
    }

    /// Connects to `host` (at `address` when given; TLS when `tls` is given, with SNI and the certificate checked
    /// for the host name unless it is an IP address).
    package static func open(
        _ host: MongoConnectionString.Host, address: String? = nil, tls: NIOSSLContext?, verifyHostname: Bool,
        timeout: Duration
    ) async throws(MongoError) -> MongoConnection {
        let isAddress = (try? SocketAddress(ipAddress: host.name, port: 0)) != nil
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(
                .nanoseconds(
                    Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
            )
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let name = isAddress || !verifyHostname ? nil : host.name
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: name))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WireFramer()))
                    try channel.pipeline.syncOperations.addHandler(ReplyHandler())
                }
            }
        do {
            let channel = try await bootstrap.connect(host: address ?? host.name, port: host.port).get()
            return MongoConnection(host: host, channel: channel)
        } catch let error as ChannelError {
            if case .connectTimeout = error {
                throw MongoError(.timeout, "connecting to \(host) took longer than \(timeout)")
            }
            throw MongoError(.unavailable, "cannot connect to \(host): \(error)")
        } catch {
            throw MongoError(.unavailable, "cannot connect to \(host): \(error)")
        }
    }

    /// Runs `body` on `database` (`$db` is added) and returns the reply; `ok: 0` is thrown as the server's error.
    package func run(_ body: BSONDocument, database: String, timeout: Duration) async throws(MongoError) -> BSONDocument
    {
        let name = body.fields.first?.key ?? "command"
        var command = body
        command["$db"] = .string(database)
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let bytes: [UInt8]
        do {
            bytes = try WireMessage.message(flags: 0, body: command, sequences: []).encoded(
                requestID: id, responseTo: 0)
        } catch {
            throw MongoError(.failed, "\(name) cannot be written as BSON: \(error)")
        }
        guard bytes.count <= WireMessage.maxSize else {
            throw MongoError(
                .failed, "\(name) is \(bytes.count) bytes, over MongoDB's \(WireMessage.maxSize)-byte message limit")
        }
        let frame = try await exchange(bytes, id: id, name: name, timeout: timeout)
        let reply: BSONDocument
        do {
            let decoded = try WireMessage.decode(frame)
            guard decoded.responseTo == id, let document = decoded.message.command else {
                throw BSONError("the answer is not a reply to \(name)")
            }
            reply = document
        } catch {
            close()
            throw MongoError(.failed, "\(host) answers \(name) with a broken message: \(error)")
        }
        guard reply["ok"]?.bool == true else { throw MongoError.fromReply(reply, command: name) }
        return reply
    }

    func exchange(_ bytes: [UInt8], id: Int32, name: String, timeout: Duration) async throws(MongoError) -> [UInt8] {
        let promise = channel.eventLoop.makePromise(of: [UInt8].self)
        // A write that never reaches the handler (the channel already closed) fails the reply too.
        channel.writeAndFlush(ReplyHandler.Pending(bytes: ByteBuffer(bytes: bytes), id: id, reply: promise))
            .whenFailure { promise.fail($0) }
        let channel = self.channel
        let host = self.host
        return try await promise.bytes(
            within: timeout, timedOut: MongoError(.timeout, "\(host) did not answer \(name) within \(timeout)"),
            failed: { MongoError(.unavailable, "\(host) closed the connection during \(name): \($0)") },
            onTimeout: { channel.close(promise: nil) })
    }

    package var isActive: Bool { channel.isActive }

    package func close() { channel.close(promise: nil) }
}

/// Pairs each reply with its request's promise; a closed or broken connection fails every waiting request.
final class ReplyHandler: ChannelDuplexHandler {
    struct Pending: Sendable {
        let bytes: ByteBuffer
        let id: Int32
        let reply: EventLoopPromise<[UInt8]>
    }

    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Pending
    typealias OutboundOut = ByteBuffer

    var waiting: [Int32: EventLoopPromise<[UInt8]>] = [:]

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let pending = unwrapOutboundIn(data)
        waiting[pending.id] = pending.reply
        let written = context.eventLoop.makePromise(of: Void.self)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        written.futureResult.whenFailure { error in
            bound.value.waiting.removeValue(forKey: pending.id)?.fail(error)
        }
        context.write(wrapOutboundOut(pending.bytes), promise: written)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Array(unwrapInboundIn(data).readableBytesView)
        var reader = BSONReader(frame.dropFirst(8).prefix(4))
        guard let responseTo = try? reader.readInt32(), let promise = waiting.removeValue(forKey: responseTo) else {
            failAll(BSONError("an answer to no request"))
            context.close(promise: nil)
            return
        }
        promise.succeed(frame)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func failAll(_ error: any Error) {
        let all = waiting
        waiting = [:]
        for promise in all.values { promise.fail(error) }
    }
}
