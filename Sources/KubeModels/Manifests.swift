import Foundation
import Yams

/// A manifest that could not be read or understood. The message names the file and, where known, the field.
package struct ManifestError: Error, CustomStringConvertible, Sendable, Equatable {
    package enum Code: String, Sendable { case unreadable, syntax, shape, unsupportedKind }
    package var code: Code
    /// The file (or other source) the manifest came from.
    package var source: String
    /// Dotted path of the offending field (`status.results[2].value`), when known.
    package var field: String?
    package var reason: String

    package init(code: Code, source: String, field: String? = nil, reason: String) {
        self.code = code
        self.source = source
        self.field = field
        self.reason = reason
    }

    package var description: String {
        if let field, !field.isEmpty { return "\(source): field \(field): \(reason)" }
        return "\(source): \(reason)"
    }
}

/// Reads Kubernetes manifests (YAML or JSON, one or many documents, `kind: List` expanded) into `JSONValue`s.
package enum ManifestReader {
    /// The format a manifest was written in, so that what we write back looks like what was read.
    package enum Format: Sendable { case json, yaml }

    package static func read(file url: URL) throws(ManifestError) -> (documents: [JSONValue], format: Format) {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ManifestError(
                code: .unreadable, source: url.path, reason: "cannot read the file (\(error.localizedDescription))")
        }
        return try parse(data, source: url.path)
    }

    package static func parse(
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
        let documents: [JSONValue]
        if data.count >= parallelThreshold, let pieces = documentPieces(Array(data)) {
            // Read the pieces on all cores; should one fail, the whole text is read again so that the error (and its
            // line number) is the one a reader of the whole file reports.
            do {
                documents = try Concurrently.map(pieces) { piece throws(ManifestError) in
                    try yamlDocuments(String(decoding: piece, as: UTF8.self), source: source)
                }.flatMap { $0 }
            } catch {
                documents = try yamlDocuments(text, source: source)
            }
        } else {
            documents = try yamlDocuments(text, source: source)
        }
        return (expandLists(documents), .yaml)
    }

    /// Streams this large are read in pieces, one per core.
    static let parallelThreshold = 256 * 1024

    /// The stream cut into about one piece per core, each a whole number of documents, or nil when it should be read in
    /// one go. A document ends where a line starts with `---` followed by white space or the end of the line: YAML
    /// forbids that line inside any node (`c-forbidden`), so cutting there never splits one. Directives (`%YAML`) belong
    /// to the document after them, so a stream with any is not cut.
    static func documentPieces(_ bytes: [UInt8]) -> [ArraySlice<UInt8>]? {
        var starts: [Int] = []
        var lineStart = 0
        while lineStart < bytes.count {
            if bytes[lineStart] == UInt8(ascii: "%") { return nil }
            if lineStart > 0, lineStart + 3 <= bytes.count, bytes[lineStart] == UInt8(ascii: "-"),
                bytes[lineStart + 1] == UInt8(ascii: "-"), bytes[lineStart + 2] == UInt8(ascii: "-"),
                lineStart + 3 == bytes.count || [0x20, 0x09, 0x0D, 0x0A].contains(bytes[lineStart + 3])
            {
                starts.append(lineStart)
            }
            guard let newline = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) else { break }
            lineStart = newline + 1
        }
        let wanted = ProcessInfo.processInfo.activeProcessorCount
        guard wanted > 1, !starts.isEmpty else { return nil }
        let target = bytes.count / wanted
        var pieces: [ArraySlice<UInt8>] = []
        var from = 0
        for start in starts where start - from >= target {
            pieces.append(bytes[from..<start])
            from = start
        }
        pieces.append(bytes[from...])
        return pieces.count > 1 ? pieces : nil
    }

    private static func yamlDocuments(_ text: String, source: String) throws(ManifestError) -> [JSONValue] {
        var documents: [JSONValue] = []
        do {
            // No resolver rules: tags are ours to resolve (`resolvePlain`), and Yams' default rules run five regular
            // expressions per scalar — most of the reading time of a large run (and again per key for duplicates).
            var sequence = try Yams.compose_all(yaml: text, .basic)
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
        return documents
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
    package func yamlSerialized() -> String {
        do {
            // Keys are sorted by `yamlNode` (bytewise, as Go sorts them); Yams' own sorting looks every key up by a
            // linear scan of its mapping — quadratic: 5,000 image annotations took over a minute to write.
            return try Yams.serialize(nodes: [yamlNode()], width: -1, sortKeys: false)
        } catch {
            // Serialising a tree we built cannot fail in practice; fall back to JSON, which is valid YAML.
            return prettySerialized()
        }
    }

    /// The YAML 1.1 words a reader takes for a bool or null (`y`/`n` too: Go's yaml.v2, which kubectl uses, reads them
    /// as bools); anything else can only read as something other than a string when it starts with one of `-+.0-9~<=`
    /// (numbers, times, `.inf`, `<<`, `=`).
    static let yaml11Words: Set<String> = [
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON",
        "off", "Off", "OFF", "y", "Y", "n", "N", "null", "Null", "NULL",
    ]

    /// False when no YAML 1.1 resolver rule can match `s` save the word rules (`yaml11Words`, checked first by the
    /// writer), so the regular expressions need not run: it does not start with one of `-+.0-9~<=`.
    static func startsLikeYAML11NonString(_ s: String) -> Bool {
        guard let first = s.utf8.first else { return true }
        switch first {
        case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "~"), UInt8(ascii: "<"), UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }

    func yamlNode() -> Node {
        switch self {
        case .null: return Node("null", Tag(.null), .plain)
        case .bool(let b): return Node(b ? "true" : "false", Tag(.bool), .plain)
        case .number(let n): return Node(JSONValue.format(number: n), Tag(.float), .plain)
        case .string(let s):
            // Quote whatever a YAML 1.1 reader (kubectl, PyYAML) would take for a bool, number, null or date.
            let readsAsString: Bool = {
                guard !s.isEmpty else { return false }
                if case .string = ManifestReader.resolvePlain(s) {} else { return false }
                if JSONValue.yaml11Words.contains(s) { return false }
                guard JSONValue.startsLikeYAML11NonString(s) else { return true }
                return Yams.Resolver.default.resolveTag(of: Node(s)) == .str
            }()
            if !readsAsString { return Node(s, Tag(.str), .doubleQuoted) }
            return Node(s, Tag(.str), s.utf8.contains(UInt8(ascii: "\n")) ? .literal : .any)
        case .array(let items): return Node(items.map { $0.yamlNode() })
        case .object(let members):
            return Node(
                members.keys.sorted(by: JSONValue.keyOrder).map { (Node($0, Tag(.str)), members[$0]!.yamlNode()) })
        }
    }
}
