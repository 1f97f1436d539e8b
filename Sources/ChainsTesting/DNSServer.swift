import Foundation
import MongoWire
import NIOCore
import NIOPosix
import Synchronization

/// An authoritative DNS server over UDP (RFC 1035) for the names it is given: SRV, TXT and A records; an unknown name
/// is NXDOMAIN, a known name without records of the type asked an empty NOERROR answer. Answers name the question by
/// a compression pointer, as real servers do. Checked by dnspython (through pymongo's seed-list lookup) in
/// `Tests/Interop/mongo_srv_check.py`.
package final class DNSServer: Sendable {
    package enum Record: Sendable {
        case srv(priority: UInt16 = 0, weight: UInt16 = 0, port: UInt16, target: String)
        case txt([String])
        case a(String)
    }

    final class State: Sendable {
        let records = Mutex<[String: [Record]]>([:])
        let queries = Mutex<[String]>([])
    }

    let state = State()
    let channel: any Channel
    package let port: Int

    package init(_ records: [String: [Record]] = [:]) async throws {
        state.records.withLock { $0 = records }
        let state = self.state
        channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DNSAnswerer(state: state))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    package func set(_ name: String, _ records: [Record]) { state.records.withLock { $0[name.lowercased()] = records } }

    /// `TYPE name` of every query, in order.
    package var queries: [String] { state.queries.withLock { $0 } }

    package func stop() async { try? await channel.close() }
}

final class DNSAnswerer: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let state: DNSServer.State

    init(state: DNSServer.State) { self.state = state }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let answer = answer(Array(envelope.data.readableBytesView)) else { return }
        context.writeAndFlush(
            wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: answer))),
            promise: nil)
    }

    /// The answer to one query: the header, the question as asked, the records.
    func answer(_ query: [UInt8]) -> [UInt8]? {
        guard query.count >= 17, query[2] & 0x80 == 0 else { return nil }
        var index = 12
        var labels: [String] = []
        while index < query.count, query[index] != 0 {
            let length = Int(query[index])
            guard length < 64, index + 1 + length < query.count else { return nil }
            labels.append(String(decoding: query[index + 1...index + length], as: UTF8.self))
            index += 1 + length
        }
        guard index + 5 <= query.count else { return nil }
        let questionEnd = index + 5
        let type = UInt16(query[index + 1]) << 8 | UInt16(query[index + 2])
        let name = labels.joined(separator: ".").lowercased()
        state.queries.withLock {
            $0.append("\(type == 33 ? "SRV" : type == 16 ? "TXT" : type == 1 ? "A" : "\(type)") \(name)")
        }
        let known = state.records.withLock { $0[name] }
        let records = (known ?? []).compactMap { rdata($0, type: type) }
        var out = Array(query[0..<2])
        out += [0x85, known == nil ? 0x83 : 0x80]  // QR AA RD, RA, NXDOMAIN or NOERROR
        out += [0, 1, 0, UInt8(records.count), 0, 0, 0, 0]
        out += query[12..<questionEnd]
        for data in records {
            out += [0xC0, 12, UInt8(type >> 8), UInt8(type & 0xFF), 0, 1, 0, 0, 0x01, 0x2C]
            out += [UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
        }
        return out
    }

    func rdata(_ record: DNSServer.Record, type: UInt16) -> [UInt8]? {
        switch (record, type) {
        case (.srv(let priority, let weight, let port, let target), 33):
            var out: [UInt8] = []
            for value in [priority, weight, port] { out += [UInt8(value >> 8), UInt8(value & 0xFF)] }
            return out + ((try? DNSMessage.encodeName(target)) ?? [0])
        case (.txt(let strings), 16):
            return strings.flatMap { [UInt8(min($0.utf8.count, 255))] + Array($0.utf8.prefix(255)) }
        case (.a(let address), 1):
            let parts = address.split(separator: ".").compactMap { UInt8($0) }
            return parts.count == 4 ? parts : nil
        default:
            return nil
        }
    }
}
