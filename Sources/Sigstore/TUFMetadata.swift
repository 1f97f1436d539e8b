import Crypto
import Foundation
import HTTPTransport
import Signing

/// A JSON value that keeps what TUF's canonical form needs: integers apart from other numbers, booleans apart from
/// numbers, every key.
package indirect enum TUFJSON: Decodable, Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([TUFJSON])
    case object([String: TUFJSON])

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? container.decode(Int64.self) {
            self = .integer(i)
        } else if let d = try? container.decode(Double.self) {
            self = .number(d)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([TUFJSON].self) {
            self = .array(a)
        } else {
            self = .object(try container.decode([String: TUFJSON].self))
        }
    }

    package static func parse(_ data: Data) -> TUFJSON? { try? JSONDecoder().decode(TUFJSON.self, from: data) }

    package subscript(key: String) -> TUFJSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
    package var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    package var integer: Int64? {
        if case .integer(let i) = self { return i }
        return nil
    }
    package var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
    package var array: [TUFJSON]? {
        if case .array(let a) = self { return a }
        return nil
    }
    package var object: [String: TUFJSON]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The canonical JSON TUF signs (securesystemslib's `encode_canonical`, OLPC style): keys sorted by code
    /// point, no whitespace, only `"` and `\` escaped, integers only. Nil when the value holds a non-integer
    /// number, which has no canonical form.
    package var canonical: Data? {
        var out = ""
        guard write(into: &out) else { return nil }
        return Data(out.utf8)
    }

    func write(into out: inout String) -> Bool {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .integer(let i): out += String(i)
        case .number: return false
        case .string(let s): Self.quote(s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                guard item.write(into: &out) else { return false }
            }
            out += "]"
        case .object(let members):
            out += "{"
            let keys = members.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
            for (i, key) in keys.enumerated() {
                if i > 0 { out += "," }
                Self.quote(key, into: &out)
                out += ":"
                guard members[key]!.write(into: &out) else { return false }
            }
            out += "}"
        }
        return true
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for c in s.unicodeScalars {
            if c == "\"" || c == "\\" { out += "\\" }
            out.unicodeScalars.append(c)
        }
        out += "\""
    }
}

/// One key of a TUF root: `ecdsa`/`ecdsa-sha2-nistp256` (PEM or hex), or `ed25519` (hex).
package struct TUFKey: Sendable {
    let key: PublicKey

    init?(_ json: TUFJSON) {
        guard let type = json["keytype"]?.string, let scheme = json["scheme"]?.string,
            let value = json["keyval"]?["public"]?.string
        else { return nil }
        switch (type, scheme) {
        case ("ecdsa", "ecdsa-sha2-nistp256"), ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256"):
            if value.contains("BEGIN PUBLIC KEY"), let k = try? P256.Signing.PublicKey(pemRepresentation: value) {
                key = .p256(k)
            } else if let raw = Data(hex: value), let k = try? P256.Signing.PublicKey(x963Representation: raw) {
                key = .p256(k)
            } else {
                return nil
            }
        case ("ed25519", "ed25519"):
            guard let raw = Data(hex: value), let k = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
                return nil
            }
            key = .ed25519(k)
        default:
            return nil
        }
    }
}

/// A role's keys and threshold, as a root lists them.
package struct TUFRole: Sendable {
    var keyIDs: [String]
    var threshold: Int
}

/// Metadata of one role, parsed and checked for its shape: `_type`, `version`, `expires`; the root's keys and roles.
package struct TUFMetadata: Sendable {
    let envelope: TUFJSON
    let signed: TUFJSON
    let type: String
    let version: Int64
    let expires: Date
    let bytes: Data

    package init(_ data: Data, role: String, source: String) throws(TUFError) {
        guard let envelope = TUFJSON.parse(data), let signed = envelope["signed"],
            let type = signed["_type"]?.string, let version = signed["version"]?.integer,
            let expiresText = signed["expires"]?.string, let expires = Timestamps.rfc3339(expiresText)
        else {
            throw TUFError(source: source, role: role, reason: "not TUF metadata (signed, _type, version, expires)")
        }
        guard type == role else {
            throw TUFError(source: source, role: role, reason: "its _type is \(type), not \(role)")
        }
        self.envelope = envelope
        self.signed = signed
        self.type = type
        self.version = version
        self.expires = expires
        self.bytes = data
    }

    package var keys: [String: TUFKey] {
        var out: [String: TUFKey] = [:]
        for (id, value) in signed["keys"]?.object ?? [:] { out[id] = TUFKey(value) }
        return out
    }

    package func role(_ name: String) -> TUFRole? {
        guard let r = signed["roles"]?[name], let ids = r["keyids"]?.array?.compactMap(\.string),
            let threshold = r["threshold"]?.integer, threshold >= 1
        else { return nil }
        return TUFRole(keyIDs: ids, threshold: Int(threshold))
    }

    /// At least `threshold` distinct keys of `role` signed the canonical form of `signed`.
    package func isSigned(by role: TUFRole, keys: [String: TUFKey]) -> Bool {
        guard let message = signed.canonical else { return false }
        var good = Set<String>()
        for signature in envelope["signatures"]?.array ?? [] {
            guard let id = signature["keyid"]?.string, role.keyIDs.contains(id), !good.contains(id),
                let key = keys[id], let sig = signature["sig"]?.string.flatMap(Data.init(hex:))
            else { continue }
            if key.key.isValidSignature(sig, for: message) { good.insert(id) }
        }
        return good.count >= role.threshold
    }

    /// `meta[name]` of a timestamp or snapshot: the version, and the length and hashes when given.
    package func meta(_ name: String) -> (version: Int64, length: Int64?, hashes: [String: String])? {
        guard let m = signed["meta"]?[name], let version = m["version"]?.integer else { return nil }
        var hashes: [String: String] = [:]
        for (k, v) in m["hashes"]?.object ?? [:] { hashes[k] = v.string }
        return (version, m["length"]?.integer, hashes)
    }
}

/// The TUF update failed: names the mirror, the role and what was wrong.
package struct TUFError: Error, Sendable, CustomStringConvertible {
    package var source: String
    package var role: String
    package var reason: String
    /// The mirror may answer later (a timeout, 5xx); a bad signature or an expired role will not change.
    package var isRetryable = false
    package var description: String { "TUF \(source): \(role): \(reason)" }
}

enum TUFHashes {
    /// Length and every known hash of `data` match what the referring metadata says.
    static func matches(_ data: Data, length: Int64?, hashes: [String: String]) -> Bool {
        if let length, Int64(data.count) != length { return false }
        for (algorithm, hex) in hashes {
            switch algorithm {
            case "sha256": if Data(SHA256.hash(data: data)).hexString != hex.lowercased() { return false }
            case "sha512": if Data(SHA512.hash(data: data)).hexString != hex.lowercased() { return false }
            default: continue
            }
        }
        return true
    }
}
