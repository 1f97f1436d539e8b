import Foundation

/// A JSON document as a value: what Kubernetes objects, provenance predicates and `google.protobuf.Struct` are made of.
///
/// Objects are unordered; every serialiser in this package writes their keys sorted, which is what Go's
/// `encoding/json` does for maps and what `protojson` does for `Struct`, so output is byte-stable.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// True for `null`, `""`, `[]` and `{}`: what Go's `omitempty` leaves out (for maps, slices and strings).
    public var isEmptyForOmitEmpty: Bool {
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
    public init(from decoder: any Decoder) throws {
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

    public func encode(to encoder: any Encoder) throws {
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
    public init(stringLiteral value: String) { self = .string(value) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
}

// MARK: - Serialisation

extension JSONValue {
    /// How strings are escaped.
    public enum Escaping: Sendable {
        /// Go `encoding/json`: `<`, `>`, `&`, U+2028 and U+2029 become `\u003c`… (HTML-safe).
        case goEncodingJSON
        /// `protojson` and most other encoders: only `"`, `\` and control characters.
        case minimal
    }

    /// Compact JSON with object keys sorted by their UTF-8 bytes — deterministic for the same value.
    public func serialized(escaping: Escaping = .minimal) -> String {
        var out = ""
        out.reserveCapacity(256)
        write(into: &out, escaping: escaping)
        return out
    }

    public func serializedData(escaping: Escaping = .minimal) -> Data {
        Data(serialized(escaping: escaping).utf8)
    }

    /// Indented JSON (two spaces, sorted keys) for files people read.
    public func prettySerialized() -> String {
        var out = ""
        writePretty(into: &out, indent: 0)
        out.append("\n")
        return out
    }

    func write(into out: inout String, escaping: Escaping) {
        switch self {
        case .null: out.append("null")
        case .bool(let b): out.append(b ? "true" : "false")
        case .number(let n): out.append(JSONValue.format(number: n))
        case .string(let s): JSONValue.appendQuoted(s, to: &out, escaping: escaping)
        case .array(let items):
            out.append("[")
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(",") }
                item.write(into: &out, escaping: escaping)
            }
            out.append("]")
        case .object(let members):
            out.append("{")
            var first = true
            for key in members.keys.sorted(by: JSONValue.keyOrder) {
                if !first { out.append(",") }
                first = false
                JSONValue.appendQuoted(key, to: &out, escaping: escaping)
                out.append(":")
                members[key]!.write(into: &out, escaping: escaping)
            }
            out.append("}")
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
            write(into: &out, escaping: .minimal)
        }
    }

    /// Go sorts map keys by byte order; Swift's `<` on String is by unicode scalars, which agrees for UTF-8.
    @inline(__always)
    static func keyOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// Numbers as Go/protojson print a float64: integers without a fraction, others in shortest form.
    public static func format(number n: Double) -> String {
        if n.isNaN || n.isInfinite { return "null" }
        if n == n.rounded(), abs(n) < 1e21 {
            return String(Int64(n))
        }
        return "\(n)"
    }

    public static func appendQuoted(_ s: String, to out: inout String, escaping: Escaping) {
        out.append("\"")
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            case "<" where escaping == .goEncodingJSON: out.append("\\u003c")
            case ">" where escaping == .goEncodingJSON: out.append("\\u003e")
            case "&" where escaping == .goEncodingJSON: out.append("\\u0026")
            case "\u{2028}" where escaping == .goEncodingJSON: out.append("\\u2028")
            case "\u{2029}" where escaping == .goEncodingJSON: out.append("\\u2029")
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append("\"")
    }
}

// MARK: - Parsing

extension JSONValue {
    /// Parses JSON text. Numbers become `Double`, as in `google.protobuf.Struct`.
    public init(parsing data: Data) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: data)
    }
}
