import NIOCore

/// A MongoDB wire protocol message: OP_MSG (every command since MongoDB 3.6), and the legacy OP_QUERY/OP_REPLY pair
/// that drivers still use for the first `hello` of a connection (the simulator answers it; our client sends OP_MSG).
package enum WireMessage: Sendable, Equatable {
    /// OP_MSG (2013): flag bits, the body (section kind 0) and document sequences (kind 1, identifier → documents).
    case message(flags: UInt32, body: BSONDocument, sequences: [Sequence])
    /// OP_QUERY (2004), as drivers send a command to `<db>.$cmd`.
    case query(flags: Int32, collection: String, skip: Int32, limit: Int32, query: BSONDocument)
    /// OP_REPLY (1).
    case reply(flags: Int32, cursorID: Int64, startingFrom: Int32, documents: [BSONDocument])

    package struct Sequence: Sendable, Equatable {
        package var identifier: String
        package var documents: [BSONDocument]
        package init(identifier: String, documents: [BSONDocument]) {
            self.identifier = identifier
            self.documents = documents
        }
    }

    package static let opReply: Int32 = 1
    package static let opQuery: Int32 = 2004
    package static let opMsg: Int32 = 2013
    /// OP_MSG flag bits.
    package static let checksumPresent: UInt32 = 1 << 0
    package static let moreToCome: UInt32 = 1 << 1
    /// The largest message a server accepts by default (`maxMessageSizeBytes`).
    package static let maxSize = 48_000_000

    package var opCode: Int32 {
        switch self {
        case .message: return Self.opMsg
        case .query: return Self.opQuery
        case .reply: return Self.opReply
        }
    }

    /// The command document: an OP_MSG body with its sequences folded in as arrays (how a server reads them), or
    /// an OP_QUERY's query, or the first document of an OP_REPLY.
    package var command: BSONDocument? {
        switch self {
        case .message(_, var body, let sequences):
            for sequence in sequences { body[sequence.identifier] = .array(sequence.documents.map { .document($0) }) }
            return body
        case .query(_, _, _, _, let query): return query
        case .reply(_, _, _, let documents): return documents.first
        }
    }

    /// The whole message with its 16-byte header.
    package func encoded(requestID: Int32, responseTo: Int32) throws(BSONError) -> [UInt8] {
        var out: [UInt8] = []
        BSON.little(Int32(0), to: &out)
        BSON.little(requestID, to: &out)
        BSON.little(responseTo, to: &out)
        BSON.little(opCode, to: &out)
        switch self {
        case .message(let flags, let body, let sequences):
            BSON.little(flags & ~Self.checksumPresent, to: &out)
            out.append(0)
            try body.write(to: &out)
            for sequence in sequences {
                out.append(1)
                let start = out.count
                BSON.little(Int32(0), to: &out)
                try BSON.cString(sequence.identifier, to: &out)
                for document in sequence.documents { try document.write(to: &out) }
                Self.patch(&out, at: start, Int32(out.count - start))
            }
        case .query(let flags, let collection, let skip, let limit, let query):
            BSON.little(flags, to: &out)
            try BSON.cString(collection, to: &out)
            BSON.little(skip, to: &out)
            BSON.little(limit, to: &out)
            try query.write(to: &out)
        case .reply(let flags, let cursorID, let startingFrom, let documents):
            BSON.little(flags, to: &out)
            BSON.little(cursorID, to: &out)
            BSON.little(startingFrom, to: &out)
            BSON.little(Int32(documents.count), to: &out)
            for document in documents { try document.write(to: &out) }
        }
        Self.patch(&out, at: 0, Int32(out.count))
        return out
    }

    static func patch(_ out: inout [UInt8], at start: Int, _ value: Int32) {
        withUnsafeBytes(of: value.littleEndian) { out.replaceSubrange(start..<start + 4, with: $0) }
    }

    /// The header's fields and the message of one whole frame (as `WireFramer` cuts them).
    package static func decode(
        _ frame: [UInt8]
    ) throws(BSONError) -> (
        requestID: Int32, responseTo: Int32, message: WireMessage
    ) {
        var reader = BSONReader(frame)
        let length = Int(try reader.readInt32())
        guard length == frame.count, length >= 16 else { throw BSONError("a message's length is not its size") }
        let requestID = try reader.readInt32()
        let responseTo = try reader.readInt32()
        let opCode = try reader.readInt32()
        let message: WireMessage
        switch opCode {
        case opMsg: message = try decodeMessage(&reader, frame: frame)
        case opQuery:
            let flags = try reader.readInt32()
            let collection = try reader.readCString()
            let skip = try reader.readInt32()
            let limit = try reader.readInt32()
            let query = try reader.readDocument()
            if reader.remaining > 0 { _ = try reader.readDocument() }  // a field selector, unused by commands
            message = .query(flags: flags, collection: collection, skip: skip, limit: limit, query: query)
        case opReply:
            let flags = try reader.readInt32()
            let cursorID = try reader.readFixed(Int64.self)
            let startingFrom = try reader.readInt32()
            let count = Int(try reader.readInt32())
            var documents: [BSONDocument] = []
            for _ in 0..<max(0, count) { documents.append(try reader.readDocument()) }
            message = .reply(flags: flags, cursorID: cursorID, startingFrom: startingFrom, documents: documents)
        default:
            throw BSONError(
                "opcode \(opCode) is not OP_MSG, OP_QUERY or OP_REPLY (compression is never offered, so never used)")
        }
        guard reader.remaining == 0 else { throw BSONError("\(reader.remaining) bytes follow the message") }
        return (requestID, responseTo, message)
    }

    static func decodeMessage(_ reader: inout BSONReader, frame: [UInt8]) throws(BSONError) -> WireMessage {
        let flags = try reader.readFixed(UInt32.self)
        // A CRC-32C of the message may end it; TLS already protects what travels, so it is skipped, not checked.
        let end = frame.count - (flags & checksumPresent != 0 ? 4 : 0)
        var body: BSONDocument?
        var sequences: [Sequence] = []
        while reader.index < end {
            let kind = try reader.readBytes(1, end: end)[0]
            switch kind {
            case 0:
                guard body == nil else { throw BSONError("an OP_MSG has two bodies") }
                body = try reader.readDocument()
            case 1:
                let start = reader.index
                let size = Int(try reader.readInt32())
                guard size >= 5, start + size <= end else { throw BSONError("a document sequence overruns") }
                let identifier = try reader.readCString(limit: start + size)
                var documents: [BSONDocument] = []
                while reader.index < start + size { documents.append(try reader.readDocument()) }
                guard reader.index == start + size else { throw BSONError("a document sequence overruns") }
                sequences.append(Sequence(identifier: identifier, documents: documents))
            default:
                throw BSONError("an OP_MSG section has kind \(kind), not 0 or 1")
            }
        }
        if flags & checksumPresent != 0 { reader.index += 4 }
        guard let body else { throw BSONError("an OP_MSG has no body") }
        return .message(flags: flags, body: body, sequences: sequences)
    }
}

/// Cuts a byte stream into whole wire messages (the first four bytes of each are its length).
package struct WireFramer: ByteToMessageDecoder {
    package typealias InboundOut = ByteBuffer

    package init() {}

    package mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .little, as: Int32.self) else {
            return .needMoreData
        }
        guard length >= 16, Int(length) <= WireMessage.maxSize + 16 * 1024 else {
            throw BSONError("a message claims \(length) bytes, outside 16…\(WireMessage.maxSize)")
        }
        guard let frame = buffer.readSlice(length: Int(length)) else { return .needMoreData }
        context.fireChannelRead(NIOAny(frame))
        return .continue
    }
}
