import Foundation
import NIOCore
import NIOPosix

/// A DNS record of the kinds a MongoDB seed list uses (RFC 1035, RFC 2782 SRV); others are kept as their type.
package enum DNSRecord: Sendable, Equatable {
    case srv(priority: UInt16, weight: UInt16, port: UInt16, target: String)
    /// The record's character-strings, in order.
    case txt([String])
    case a(String)
    case other(type: UInt16)
}

/// DNS messages: a query (recursion desired, with an EDNS0 OPT record offering 4096-byte answers) and the answer's
/// records, read from untrusted bytes (every length checked, compression pointers only backwards, no loops).
package enum DNSMessage {
    package static let srv: UInt16 = 33
    package static let txt: UInt16 = 16
    package static let a: UInt16 = 1

    package static func query(id: UInt16, name: String, type: UInt16) throws(MongoError) -> [UInt8] {
        var out: [UInt8] = []
        for value: UInt16 in [id, 0x0100, 1, 0, 0, 1] { out += [UInt8(value >> 8), UInt8(value & 0xFF)] }
        out += try encodeName(name)
        out += [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
        out += [0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0]  // OPT: root, type 41, 4096 bytes, no flags, no data
        return out
    }

    package static func encodeName(_ name: String) throws(MongoError) -> [UInt8] {
        var out: [UInt8] = []
        for label in name.split(separator: ".") {
            let bytes = Array(label.utf8)
            guard !bytes.isEmpty, bytes.count < 64 else { throw MongoError(.failed, "\(name) is not a DNS name") }
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out.append(0)
        guard out.count <= 255 else { throw MongoError(.failed, "\(name) is longer than a DNS name may be") }
        return out
    }

    /// The answer's id, flags, response code and answer records.
    package struct Answer: Sendable, Equatable {
        package var id: UInt16
        package var truncated: Bool
        package var rcode: UInt8
        package var records: [DNSRecord]
    }

    package static func parse(_ bytes: [UInt8]) throws(MongoError) -> Answer {
        var reader = Reader(bytes: bytes)
        let id = try reader.u16()
        let flags = try reader.u16()
        let questions = try reader.u16()
        let answers = try reader.u16()
        _ = try reader.u16()
        _ = try reader.u16()
        guard flags & 0x8000 != 0 else { throw MongoError(.failed, "the DNS message is not an answer") }
        for _ in 0..<questions {
            _ = try reader.name()
            _ = try reader.take(4)
        }
        var records: [DNSRecord] = []
        for _ in 0..<answers {
            _ = try reader.name()
            let type = try reader.u16()
            _ = try reader.u16()
            _ = try reader.take(4)
            let length = Int(try reader.u16())
            let end = reader.index + length
            guard end <= bytes.count else { throw MongoError(.failed, "a DNS record overruns the message") }
            switch type {
            case srv:
                let priority = try reader.u16()
                let weight = try reader.u16()
                let port = try reader.u16()
                records.append(.srv(priority: priority, weight: weight, port: port, target: try reader.name()))
            case txt:
                var strings: [String] = []
                while reader.index < end {
                    let count = Int(try reader.take(1).first ?? 0)
                    guard reader.index + count <= end else { throw MongoError(.failed, "a TXT string overruns") }
                    strings.append(String(decoding: try reader.take(count), as: UTF8.self))
                }
                records.append(.txt(strings))
            case a where length == 4:
                records.append(.a(try reader.take(4).map(String.init).joined(separator: ".")))
            default:
                records.append(.other(type: type))
            }
            guard reader.index <= end else { throw MongoError(.failed, "a DNS record's data overruns its length") }
            reader.index = end
        }
        return Answer(id: id, truncated: flags & 0x0200 != 0, rcode: UInt8(flags & 0x000F), records: records)
    }

    struct Reader {
        let bytes: [UInt8]
        var index = 0

        mutating func take(_ count: Int) throws(MongoError) -> ArraySlice<UInt8> {
            guard index + count <= bytes.count else { throw MongoError(.failed, "the DNS message ends early") }
            defer { index += count }
            return bytes[index..<index + count]
        }

        mutating func u16() throws(MongoError) -> UInt16 {
            let two = try take(2)
            return UInt16(two[two.startIndex]) << 8 | UInt16(two[two.startIndex + 1])
        }

        /// A name, following compression pointers (each must point before the previous position).
        mutating func name() throws(MongoError) -> String {
            var labels: [String] = []
            var position = index
            var jumped = false
            var limit = position
            while true {
                guard position < bytes.count else { throw MongoError(.failed, "a DNS name runs off the message") }
                let length = Int(bytes[position])
                if length & 0xC0 == 0xC0 {
                    guard position + 1 < bytes.count else { throw MongoError(.failed, "a DNS pointer is cut") }
                    let target = (length & 0x3F) << 8 | Int(bytes[position + 1])
                    guard target < limit else { throw MongoError(.failed, "a DNS name pointer loops") }
                    if !jumped { index = position + 2 }
                    jumped = true
                    limit = target
                    position = target
                    continue
                }
                guard length < 64, position + 1 + length <= bytes.count else {
                    throw MongoError(.failed, "a DNS label overruns the message")
                }
                if length == 0 {
                    if !jumped { index = position + 1 }
                    return labels.joined(separator: ".").lowercased()
                }
                labels.append(String(decoding: bytes[position + 1...position + length], as: UTF8.self))
                guard labels.count < 128 else { throw MongoError(.failed, "a DNS name has too many labels") }
                position += 1 + length
            }
        }
    }
}

/// A stub resolver over UDP: the servers of `/etc/resolv.conf` (or those given), each asked in turn, each answer
/// within `timeout`.
package struct DNSResolver: Sendable {
    package var servers: [(host: String, port: Int)]
    package var timeout: Duration

    package init(servers: [(host: String, port: Int)], timeout: Duration) {
        self.servers = servers
        self.timeout = timeout
    }

    /// The `nameserver` lines of `/etc/resolv.conf`.
    package static func system(timeout: Duration, file: String = "/etc/resolv.conf") -> DNSResolver {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        let servers = text.split(separator: "\n").compactMap { line -> (String, Int)? in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words[0] == "nameserver" else { return nil }
            return (String(words[1]), 53)
        }
        return DNSResolver(servers: servers.isEmpty ? [("127.0.0.1", 53)] : servers, timeout: timeout)
    }

    /// The records of `type` at `name`; an empty list when the name or the type does not exist.
    package func query(_ name: String, type: UInt16) async throws(MongoError) -> [DNSRecord] {
        var reasons: [String] = []
        for server in servers {
            let id = UInt16.random(in: 0...UInt16.max)
            do throws(MongoError) {
                let bytes = try await exchange(try DNSMessage.query(id: id, name: name, type: type), server: server)
                let answer = try DNSMessage.parse(bytes)
                guard answer.id == id else { throw MongoError(.failed, "the answer's id is not the query's") }
                guard !answer.truncated else {
                    throw MongoError(.failed, "the answer is truncated (TCP fallback is not built)")
                }
                switch answer.rcode {
                case 0: return answer.records
                case 3: return []
                default: throw MongoError(.unavailable, "the server answers with error \(answer.rcode)")
                }
            } catch {
                reasons.append("\(server.host):\(server.port): \(error.reason)")
            }
        }
        throw MongoError(.unavailable, "no DNS server answered for \(name): \(reasons.joined(separator: "; "))")
    }

    func exchange(_ query: [UInt8], server: (host: String, port: Int)) async throws(MongoError) -> [UInt8] {
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: server.host, port: server.port)
        } catch {
            throw MongoError(.failed, "\(server.host) is not an IP address")
        }
        // Always completed below (an unanswered query fails it), so it is never leaked.
        let answer = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: [UInt8].self)
        let channel: any Channel
        do {
            channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(FirstDatagram(answer: answer, from: address))
                    }
                }
                .bind(host: address.protocol == .inet6 ? "::" : "0.0.0.0", port: 0).get()
        } catch {
            answer.fail(error)
            throw MongoError(.unavailable, "cannot open a UDP socket: \(error)")
        }
        defer { channel.close(promise: nil) }
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: query)), promise: nil)
        return try await answer.bytes(
            within: timeout, timedOut: MongoError(.timeout, "no answer within \(timeout)"),
            failed: { MongoError(.unavailable, "\($0)") })
    }
}

/// Completes the promise with the first datagram from the server asked (others are ignored).
final class FirstDatagram: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let answer: EventLoopPromise<[UInt8]>
    let from: SocketAddress

    init(answer: EventLoopPromise<[UInt8]>, from: SocketAddress) {
        self.answer = answer
        self.from = from
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == from else { return }
        answer.succeed(Array(envelope.data.readableBytesView))
    }
}
