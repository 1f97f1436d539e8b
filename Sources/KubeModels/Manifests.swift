import Foundation
import Yams

/// A manifest that could not be read or understood. The message names the file and, where known, the field.
public struct ManifestError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable { case unreadable, syntax, shape, unsupportedKind }
    public var code: Code
    /// The file (or other source) the manifest came from.
    public var source: String
    /// Dotted path of the offending field (`status.results[2].value`), when known.
    public var field: String?
    public var reason: String

    public init(code: Code, source: String, field: String? = nil, reason: String) {
        self.code = code
        self.source = source
        self.field = field
        self.reason = reason
    }

    public var description: String {
        if let field, !field.isEmpty { return "\(source): field \(field): \(reason)" }
        return "\(source): \(reason)"
    }
}

/// Reads Kubernetes manifests (YAML or JSON, one or many documents, `kind: List` expanded) into `JSONValue`s.
public enum ManifestReader {
    /// The format a manifest was written in, so that what we write back looks like what was read.
    public enum Format: Sendable { case json, yaml }

    public static func read(file url: URL) throws(ManifestError) -> (documents: [JSONValue], format: Format) {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ManifestError(
                code: .unreadable, source: url.path, reason: "cannot read the file (\(error.localizedDescription))")
        }
        return try parse(data, source: url.path)
    }

    public static func parse(
        _ data: Data, source: String
    ) throws(ManifestError) -> (
        documents: [JSONValue], format: Format
    ) {
        guard let text = String(data: data, encoding: .utf8) else {
            throw ManifestError(code: .syntax, source: source, reason: "not UTF-8 text")
        }
        let trimmed = text.drop(while: { $0.isWhitespace })
        if trimmed.first == "{" || trimmed.first == "[" {
            do {
                let value = try JSONValue(parsing: data)
                return (expandLists([value]), .json)
            } catch {
                throw ManifestError(code: .syntax, source: source, reason: "invalid JSON: \(describe(error))")
            }
        }
        var documents: [JSONValue] = []
        do {
            var sequence = try Yams.compose_all(yaml: text)
            while let node = sequence.next() {
                let value = try jsonValue(from: node)
                if value != .null { documents.append(value) }
            }
            if let error = sequence.error { throw error }
        } catch let error as ManifestError {
            throw ManifestError(code: error.code, source: source, field: error.field, reason: error.reason)
        } catch {
            throw ManifestError(code: .syntax, source: source, reason: "invalid YAML: \(error)")
        }
        return (expandLists(documents), .yaml)
    }

    private static func expandLists(_ docs: [JSONValue]) -> [JSONValue] {
        docs.flatMap { doc -> [JSONValue] in
            if case .array(let items) = doc { return items }
            if doc["kind"]?.stringValue?.hasSuffix("List") == true, let items = doc["items"]?.arrayValue {
                return items
            }
            return [doc]
        }
    }

    /// YAML → JSON as Kubernetes does it, with YAML 1.2 core-schema scalars: quoted scalars stay strings,
    /// plain `yes`/`on` stay strings, `1.10` is a number (and Kubernetes' own typed fields are strings anyway).
    static func jsonValue(from node: Node) throws -> JSONValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain && scalar.style != .any { return .string(scalar.string) }
            let tag = scalar.tag.description
            if tag == "tag:yaml.org,2002:str" { return .string(scalar.string) }
            return resolvePlain(scalar.string)
        case .sequence(let sequence):
            return .array(try sequence.map { try jsonValue(from: $0) })
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    throw ManifestError(code: .syntax, source: "", reason: "a mapping key is not a scalar")
                }
                object[keyScalar.string] = try jsonValue(from: value)
            }
            return .object(object)
        case .alias:
            throw ManifestError(code: .syntax, source: "", reason: "unresolved YAML alias")
        }
    }

    static func resolvePlain(_ s: String) -> JSONValue {
        switch s {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        if let first = s.utf8.first,
            first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
                || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9"))
        {
            if isYAMLInteger(s), let d = Double(s) { return .number(d) }
            if isYAMLFloat(s), let d = Double(s) { return .number(d) }
        }
        return .string(s)
    }

    private static func isYAMLInteger(_ s: String) -> Bool {
        var body = Substring(s)
        if body.first == "-" || body.first == "+" { body = body.dropFirst() }
        return !body.isEmpty && body.allSatisfy { $0.isASCII && $0.isNumber }
    }

    private static func isYAMLFloat(_ s: String) -> Bool {
        // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
        var chars = Array(s.utf8)[...]
        if let c = chars.first, c == UInt8(ascii: "-") || c == UInt8(ascii: "+") { chars = chars.dropFirst() }
        func digits() -> Int {
            var n = 0
            while let c = chars.first, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                chars = chars.dropFirst()
                n += 1
            }
            return n
        }
        let intDigits = digits()
        var fracDigits = 0
        if chars.first == UInt8(ascii: ".") {
            chars = chars.dropFirst()
            fracDigits = digits()
        }
        if intDigits == 0 && fracDigits == 0 { return false }
        if let c = chars.first, c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            chars = chars.dropFirst()
            if let c = chars.first, c == UInt8(ascii: "-") || c == UInt8(ascii: "+") { chars = chars.dropFirst() }
            if digits() == 0 { return false }
        }
        return chars.isEmpty
    }

    static func describe(_ error: any Error) -> String {
        if let decoding = error as? DecodingError {
            switch decoding {
            case .dataCorrupted(let context): return context.debugDescription
            default: return "\(decoding)"
            }
        }
        return "\(error)"
    }
}

// MARK: - Writing manifests back

extension JSONValue {
    /// YAML with sorted keys, block style, strings quoted where YAML would read them as something else.
    public func yamlSerialized() -> String {
        do {
            return try Yams.serialize(nodes: [yamlNode()], width: -1, sortKeys: true)
        } catch {
            // Serialising a tree we built cannot fail in practice; fall back to JSON, which is valid YAML.
            return prettySerialized()
        }
    }

    func yamlNode() -> Node {
        switch self {
        case .null: return Node("null", Tag(.null), .plain)
        case .bool(let b): return Node(b ? "true" : "false", Tag(.bool), .plain)
        case .number(let n): return Node(JSONValue.format(number: n), Tag(.float), .plain)
        case .string(let s):
            // Tagged `str`: the emitter quotes any string a YAML 1.1 reader would take for a bool, number or null.
            // Quote whatever a YAML 1.1 reader (kubectl, PyYAML) would take for a bool, number, null or date.
            let readsAsString: Bool = {
                guard !s.isEmpty else { return false }
                if case .string = ManifestReader.resolvePlain(s) {} else { return false }
                return Yams.Resolver.default.resolveTag(of: Node(s)) == .str
            }()
            if !readsAsString { return Node(s, Tag(.str), .doubleQuoted) }
            return Node(s, Tag(.str), s.contains("\n") ? .literal : .any)
        case .array(let items): return Node(items.map { $0.yamlNode() })
        case .object(let members):
            return Node(
                members.keys.sorted(by: JSONValue.keyOrder).map { (Node($0, Tag(.str)), members[$0]!.yamlNode()) })
        }
    }
}
