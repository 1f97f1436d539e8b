import Foundation

/// A JSON document as a value: what Kubernetes objects, provenance predicates and `google.protobuf.Struct` are made of.
///
/// Objects are unordered; every serialiser in this package writes their keys sorted, which is what Go's
/// `encoding/json` does for maps and what `protojson` does for `Struct`, so output is byte-stable.
package enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    package subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    package var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    package var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    package var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// True for `null`, `""`, `[]` and `{}`: what Go's `omitempty` leaves out (for maps, slices and strings).
    package var isEmptyForOmitEmpty: Bool {
        switch self {
        case .null: return true
        case .string(let s): return s.isEmpty
        case .array(let a): return a.isEmpty
        case .object(let o): return o.isEmpty
        case .bool(let b): return !b
        case .number(let n): return n == 0
        }
    }
}

extension JSONValue: Codable {
    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let d = try? container.decode(Double.self) {
            self = .number(d)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .number(let n): try container.encode(n)
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByNilLiteral
{
    package init(stringLiteral value: String) { self = .string(value) }
    package init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    package init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    package init(booleanLiteral value: Bool) { self = .bool(value) }
    package init(nilLiteral: ()) { self = .null }
}

// MARK: - Serialisation

extension JSONValue {
    /// How strings are escaped.
    package enum Escaping: Sendable {
        /// Go `encoding/json`: `<`, `>`, `&`, U+2028 and U+2029 become `\u003c`… (HTML-safe).
        case goEncodingJSON
        /// `protojson` and most other encoders: only `"`, `\` and control characters.
        case minimal
    }

    /// Compact JSON with object keys sorted by their UTF-8 bytes — deterministic for the same value.
    package func serialized(escaping: Escaping = .minimal) -> String {
        String(decoding: serializedBytes(escaping: escaping), as: UTF8.self)
    }

    package func serializedData(escaping: Escaping = .minimal) -> Data {
        Data(serializedBytes(escaping: escaping))
    }

    package func serializedBytes(escaping: Escaping = .minimal) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        write(into: &out, escaping: escaping)
        return out
    }

    /// Indented JSON (two spaces, sorted keys) for files people read.
    package func prettySerialized() -> String {
        var out = ""
        writePretty(into: &out, indent: 0)
        out.append("\n")
        return out
    }

    func write(into out: inout [UInt8], escaping: Escaping) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: JSONValue.format(number: n).utf8)
        case .string(let s): JSONValue.appendQuoted(s, to: &out, escaping: escaping)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(into: &out, escaping: escaping)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (key, value) in members.sorted(by: { JSONValue.keyOrder($0.key, $1.key) }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                JSONValue.appendQuoted(key, to: &out, escaping: escaping)
                out.append(UInt8(ascii: ":"))
                value.write(into: &out, escaping: escaping)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private func writePretty(into out: inout String, indent: Int) {
        let pad = String(repeating: "  ", count: indent + 1)
        let closePad = String(repeating: "  ", count: indent)
        switch self {
        case .array(let items) where !items.isEmpty:
            out.append("[\n")
            for (i, item) in items.enumerated() {
                out.append(pad)
                item.writePretty(into: &out, indent: indent + 1)
                out.append(i == items.count - 1 ? "\n" : ",\n")
            }
            out.append(closePad + "]")
        case .object(let members) where !members.isEmpty:
            out.append("{\n")
            let keys = members.keys.sorted(by: JSONValue.keyOrder)
            for (i, key) in keys.enumerated() {
                out.append(pad)
                JSONValue.appendQuoted(key, to: &out, escaping: .minimal)
                out.append(": ")
                members[key]!.writePretty(into: &out, indent: indent + 1)
                out.append(i == keys.count - 1 ? "\n" : ",\n")
            }
            out.append(closePad + "}")
        default:
            out.append(serialized())
        }
    }

    /// Go sorts map keys by byte order; Swift's `<` on String is by unicode scalars, which agrees for UTF-8.
    @inline(__always)
    static func keyOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// Numbers as Go/protojson print a float64: integers without a fraction, others in shortest form.
    package static func format(number n: Double) -> String {
        if n.isNaN || n.isInfinite { return "null" }
        if n == n.rounded(), abs(n) < 1e21 {
            // Past Int64 (9.2e18) the integer is printed from the double itself: `Int64(n)` traps there (found by
            // the watch-event fuzz harness).
            return abs(n) < 9e18 ? String(Int64(n)) : String(format: "%.0f", n)
        }
        return "\(n)"
    }

    package static func appendQuoted(_ s: String, to out: inout String, escaping: Escaping) {
        var bytes: [UInt8] = []
        appendQuoted(s, to: &bytes, escaping: escaping)
        out.append(String(decoding: bytes, as: UTF8.self))
    }

    /// Appends `s` as a JSON string. Works on UTF-8 bytes: everything but `"`, `\\`, control characters (and, for
    /// Go, `<`, `>`, `&`, U+2028, U+2029) is copied as it is.
    package static func appendQuoted(_ s: String, to out: inout [UInt8], escaping: Escaping) {
        let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        var utf8 = s.utf8.makeIterator()
        var pending: [UInt8] = []  // lookahead for E2 80 A8/A9
        while let b = pending.isEmpty ? utf8.next() : pending.removeFirst() {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                out.append(hexDigits[Int(b >> 4)])
                out.append(hexDigits[Int(b & 0xf)])
            case UInt8(ascii: "<") where escaping == .goEncodingJSON: out.append(contentsOf: "\\u003c".utf8)
            case UInt8(ascii: ">") where escaping == .goEncodingJSON: out.append(contentsOf: "\\u003e".utf8)
            case UInt8(ascii: "&") where escaping == .goEncodingJSON: out.append(contentsOf: "\\u0026".utf8)
            case 0xE2 where escaping == .goEncodingJSON:
                let b1 = utf8.next()
                let b2 = b1 == 0x80 ? utf8.next() : nil
                if b1 == 0x80, let b2, b2 == 0xA8 || b2 == 0xA9 {
                    out.append(contentsOf: (b2 == 0xA8 ? "\\u2028" : "\\u2029").utf8)
                } else {
                    out.append(b)
                    if let b1 { pending.append(b1) }
                    if let b2 { pending.append(b2) }
                }
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

// MARK: - Parsing

extension JSONValue {
    /// Parses JSON text. Numbers become `Double`, as in `google.protobuf.Struct`.
    package init(parsing data: Data) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: data)
    }
}
