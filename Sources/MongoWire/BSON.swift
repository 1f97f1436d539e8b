import Foundation

/// A BSON value (bsonspec.org, version 1.1): every type a MongoDB server puts in a command reply, and those we write.
/// Deprecated types (undefined, DBPointer, JavaScript code, symbol) are refused when read.
package enum BSON: Sendable, Equatable {
    case double(Double)
    case string(String)
    case document(BSONDocument)
    case array([BSON])
    case binary(subtype: UInt8, Data)
    /// 12 bytes.
    case objectID(Data)
    case bool(Bool)
    /// Milliseconds since the Unix epoch.
    case datetime(Int64)
    case null
    case regex(pattern: String, options: String)
    case int32(Int32)
    case timestamp(UInt64)
    case int64(Int64)
    /// 16 bytes, kept as read.
    case decimal128(Data)
    case minKey
    case maxKey

    /// The value as an integer when it is a number with one (MongoDB answers counts and codes as int32, int64 or
    /// double depending on the server).
    package var int: Int? {
        switch self {
        case .int32(let v): return Int(v)
        case .int64(let v): return Int(v)
        case .double(let v) where v.rounded() == v && abs(v) < 9e15: return Int(v)
        default: return nil
        }
    }

    package var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    package var document: BSONDocument? {
        if case .document(let document) = self { return document }
        return nil
    }

    package var array: [BSON]? {
        if case .array(let array) = self { return array }
        return nil
    }

    package var bool: Bool? {
        switch self {
        case .bool(let flag): return flag
        default: return int.map { $0 != 0 }
        }
    }

    /// Equal as documents are compared after a round trip: fields of embedded documents in any order.
    package func sameContent(as other: BSON) -> Bool {
        switch (self, other) {
        case (.document(let a), .document(let b)): return a.sameContent(as: b)
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.sameContent(as: $1) }
        case (.double(let a), .double(let b)): return a.bitPattern == b.bitPattern || a == b
        default: return self == other
        }
    }
}

extension BSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral
{
    package init(stringLiteral value: String) { self = .string(value) }
    package init(integerLiteral value: Int32) { self = .int32(value) }
    package init(booleanLiteral value: Bool) { self = .bool(value) }
    package init(arrayLiteral elements: BSON...) { self = .array(elements) }
    package init(floatLiteral value: Double) { self = .double(value) }
    package init(dictionaryLiteral elements: (String, BSON)...) {
        self = .document(BSONDocument(elements.map { BSONDocument.Field(key: $0.0, value: $0.1) }))
    }
}

/// A BSON document: fields in order (MongoDB commands are recognised by their first field).
package struct BSONDocument: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    package struct Field: Sendable, Equatable {
        package var key: String
        package var value: BSON
        package init(key: String, value: BSON) {
            self.key = key
            self.value = value
        }
    }

    package var fields: [Field]

    package init(_ fields: [Field] = []) { self.fields = fields }

    package init(dictionaryLiteral elements: (String, BSON)...) {
        fields = elements.map { Field(key: $0.0, value: $0.1) }
    }

    /// The first field named `key`.
    package subscript(key: String) -> BSON? {
        get { fields.first { $0.key == key }?.value }
        set {
            if let index = fields.firstIndex(where: { $0.key == key }) {
                if let newValue { fields[index].value = newValue } else { fields.remove(at: index) }
            } else if let newValue {
                fields.append(Field(key: key, value: newValue))
            }
        }
    }

    package var keys: [String] { fields.map(\.key) }

    /// The same fields with the same values, in any order (recursively for embedded documents).
    package func sameContent(as other: BSONDocument) -> Bool {
        guard fields.count == other.fields.count, Set(keys).count == fields.count else { return false }
        return fields.allSatisfy { field in other[field.key].map { field.value.sameContent(as: $0) } ?? false }
    }
}

/// What is wrong with BSON bytes, or with a document that cannot be written as BSON.
package struct BSONError: Error, Sendable, Equatable, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

// MARK: - Writing

extension BSONDocument {
    /// The document's BSON bytes. Keys may not contain NUL (BSON writes them as C strings).
    package func encoded() throws(BSONError) -> [UInt8] {
        var out: [UInt8] = []
        try write(to: &out)
        return out
    }

    func write(to out: inout [UInt8]) throws(BSONError) {
        let start = out.count
        out.append(contentsOf: [0, 0, 0, 0])
        for field in fields { try field.value.write(key: field.key, to: &out) }
        out.append(0)
        let length = UInt32(out.count - start)
        withUnsafeBytes(of: length.littleEndian) { out.replaceSubrange(start..<start + 4, with: $0) }
    }
}

extension BSON {
    var typeByte: UInt8 {
        switch self {
        case .double: return 0x01
        case .string: return 0x02
        case .document: return 0x03
        case .array: return 0x04
        case .binary: return 0x05
        case .objectID: return 0x07
        case .bool: return 0x08
        case .datetime: return 0x09
        case .null: return 0x0A
        case .regex: return 0x0B
        case .int32: return 0x10
        case .timestamp: return 0x11
        case .int64: return 0x12
        case .decimal128: return 0x13
        case .minKey: return 0xFF
        case .maxKey: return 0x7F
        }
    }

    func write(key: String, to out: inout [UInt8]) throws(BSONError) {
        out.append(typeByte)
        try Self.cString(key, to: &out)
        switch self {
        case .double(let v): Self.little(v.bitPattern, to: &out)
        case .string(let text):
            Self.little(Int32(text.utf8.count + 1), to: &out)
            out.append(contentsOf: text.utf8)
            out.append(0)
        case .document(let document): try document.write(to: &out)
        case .array(let array):
            try BSONDocument(array.enumerated().map { .init(key: String($0.offset), value: $0.element) })
                .write(to: &out)
        case .binary(let subtype, let data):
            Self.little(Int32(data.count), to: &out)
            out.append(subtype)
            out.append(contentsOf: data)
        case .objectID(let bytes), .decimal128(let bytes): out.append(contentsOf: bytes)
        case .bool(let flag): out.append(flag ? 1 : 0)
        case .datetime(let v), .int64(let v): Self.little(v, to: &out)
        case .null, .minKey, .maxKey: break
        case .regex(let pattern, let options):
            try Self.cString(pattern, to: &out)
            try Self.cString(options, to: &out)
        case .int32(let v): Self.little(v, to: &out)
        case .timestamp(let v): Self.little(v, to: &out)
        }
    }

    static func cString(_ text: String, to out: inout [UInt8]) throws(BSONError) {
        guard !text.utf8.contains(0) else {
            throw BSONError(
                "the field name or pattern \(text.debugDescription) contains a NUL byte, which BSON cannot write")
        }
        out.append(contentsOf: text.utf8)
        out.append(0)
    }

    static func little<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }
}

// MARK: - Reading

/// Reads BSON from untrusted bytes: every length is checked against what is there, strings must be UTF-8, nesting is
/// limited.
package struct BSONReader {
    let bytes: [UInt8]
    var index: Int
    static let maxDepth = 100

    package init<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        self.bytes = Array(bytes)
        index = 0
    }

    package var remaining: Int { bytes.count - index }

    /// One whole document: the bytes must hold exactly it.
    package static func document<Bytes: Collection>(_ bytes: Bytes) throws(BSONError) -> BSONDocument
    where Bytes.Element == UInt8 {
        var reader = BSONReader(bytes)
        let document = try reader.readDocument()
        guard reader.remaining == 0 else { throw BSONError("\(reader.remaining) bytes follow the document") }
        return document
    }

    package mutating func readDocument(depth: Int = 0) throws(BSONError) -> BSONDocument {
        guard depth < Self.maxDepth else { throw BSONError("documents nested deeper than \(Self.maxDepth)") }
        let start = index
        let length = Int(try readInt32())
        guard length >= 5, start + length <= bytes.count else {
            throw BSONError("a document's length \(length) does not fit the \(bytes.count - start) bytes there")
        }
        let end = start + length
        var fields: [BSONDocument.Field] = []
        while true {
            guard index < end else { throw BSONError("a document does not end with its 0 byte") }
            let type = bytes[index]
            index += 1
            if type == 0 {
                guard index == end else { throw BSONError("a document ends before its declared length") }
                return BSONDocument(fields)
            }
            let key = try readCString(limit: end)
            let value = try readValue(type: type, key: key, end: end, depth: depth)
            fields.append(.init(key: key, value: value))
        }
    }

    mutating func readValue(type: UInt8, key: String, end: Int, depth: Int) throws(BSONError) -> BSON {
        switch type {
        case 0x01: return .double(Double(bitPattern: try readFixed(UInt64.self)))
        case 0x02: return .string(try readString(end: end))
        case 0x03: return .document(try readDocument(depth: depth + 1))
        case 0x04: return .array(try readDocument(depth: depth + 1).fields.map(\.value))
        case 0x05:
            let length = Int(try readInt32())
            guard length >= 0, index + 1 + length <= end else { throw BSONError("binary \(key) overruns its document") }
            let subtype = bytes[index]
            index += 1
            defer { index += length }
            return .binary(subtype: subtype, Data(bytes[index..<index + length]))
        case 0x07: return .objectID(try readBytes(12, end: end))
        case 0x08:
            let byte = try readBytes(1, end: end)[0]
            guard byte <= 1 else { throw BSONError("boolean \(key) is \(byte), not 0 or 1") }
            return .bool(byte == 1)
        case 0x09: return .datetime(try readFixed(Int64.self))
        case 0x0A: return .null
        case 0x0B: return .regex(pattern: try readCString(limit: end), options: try readCString(limit: end))
        case 0x10: return .int32(try readInt32())
        case 0x11: return .timestamp(try readFixed(UInt64.self))
        case 0x12: return .int64(try readFixed(Int64.self))
        case 0x13: return .decimal128(try readBytes(16, end: end))
        case 0xFF: return .minKey
        case 0x7F: return .maxKey
        default:
            throw BSONError("field \(key) has BSON type 0x\(String(type, radix: 16)), which is deprecated or unknown")
        }
    }

    mutating func readInt32() throws(BSONError) -> Int32 { try readFixed(Int32.self) }

    mutating func readFixed<T: FixedWidthInteger>(_: T.Type) throws(BSONError) -> T {
        let size = MemoryLayout<T>.size
        guard index + size <= bytes.count else { throw BSONError("the bytes end inside a number") }
        var value: T = 0
        for offset in 0..<size { value |= T(truncatingIfNeeded: bytes[index + offset]) << (8 * offset) }
        index += size
        return value
    }

    mutating func readBytes(_ count: Int, end: Int) throws(BSONError) -> Data {
        guard index + count <= end else { throw BSONError("a value overruns its document") }
        defer { index += count }
        return Data(bytes[index..<index + count])
    }

    package mutating func readCString(limit: Int? = nil) throws(BSONError) -> String {
        let end = limit ?? bytes.count
        guard let zero = bytes[index..<end].firstIndex(of: 0) else { throw BSONError("a name has no 0 byte") }
        guard let text = String(validating: bytes[index..<zero], as: UTF8.self) else {
            throw BSONError("a name is not UTF-8")
        }
        index = zero + 1
        return text
    }

    mutating func readString(end: Int) throws(BSONError) -> String {
        let length = Int(try readInt32())
        guard length >= 1, index + length <= end, bytes[index + length - 1] == 0 else {
            throw BSONError("a string's length \(length) does not fit its document or lacks its 0 byte")
        }
        guard let text = String(validating: bytes[index..<index + length - 1], as: UTF8.self) else {
            throw BSONError("a string is not UTF-8")
        }
        index += length
        return text
    }
}
