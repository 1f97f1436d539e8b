import Crypto
import Foundation
import Signing

/// RFC 6962 / RFC 9162 Merkle tree hashing: what a transparency log's inclusion proofs are checked with.
package enum Merkle {
    package static func leafHash(_ data: Data) -> Data { Data(SHA256.hash(data: Data([0]) + data)) }
    package static func nodeHash(_ left: Data, _ right: Data) -> Data {
        Data(SHA256.hash(data: Data([1]) + left + right))
    }

    /// The root an inclusion proof leads to (RFC 9162 §2.1.3.2), or nil when the proof has the wrong shape for
    /// `index` in a tree of `size` leaves.
    package static func root(fromInclusionProof proof: [Data], index: UInt64, size: UInt64, leafHash: Data) -> Data? {
        guard index < size else { return nil }
        var fn = index
        var sn = size - 1
        var r = leafHash
        for p in proof {
            guard sn != 0 else { return nil }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 ? r : nil
    }
}

/// RFC 8785 (JCS) canonical JSON for the values a log signs: objects with sorted keys, strings, integers.
package enum CanonicalJSON: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case object([String: CanonicalJSON])
    case array([CanonicalJSON])

    package var serialized: Data { Data(text.utf8) }

    var text: String {
        switch self {
        case .string(let s): return Self.quote(s)
        case .integer(let i): return String(i)
        case .array(let items): return "[" + items.map(\.text).joined(separator: ",") + "]"
        case .object(let members):
            // JCS sorts by UTF-16 code units.
            let keys = members.keys.sorted { Array($0.utf16).lexicographicallyPrecedes(Array($1.utf16)) }
            return "{" + keys.map { Self.quote($0) + ":" + members[$0]!.text }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// A transparency log checkpoint: a signed note (C2SP signed-note) whose text is `origin\nsize\nbase64 root\n…`.
package struct Checkpoint: Sendable, Equatable {
    package struct Signature: Sendable, Equatable {
        package var name: String
        /// The first 4 bytes of SHA-256 of the signer's DER public key.
        package var keyHint: Data
        package var signature: Data
    }
    package var origin: String
    package var size: UInt64
    package var rootHash: Data
    /// The signed text: everything before the blank line, with its final newline.
    package var text: String
    package var signatures: [Signature]

    package init(parsing envelope: String) throws(CertificateCheckError) {
        guard let split = envelope.range(of: "\n\n") else {
            throw CertificateCheckError("the checkpoint has no signature block")
        }
        text = String(envelope[..<split.lowerBound]) + "\n"
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        guard lines.count >= 3, let size = UInt64(lines[1]), let root = Data(base64Encoded: String(lines[2])) else {
            throw CertificateCheckError("the checkpoint text is not origin, size, root hash")
        }
        origin = String(lines[0])
        self.size = size
        rootHash = root
        var signatures: [Signature] = []
        for line in envelope[split.upperBound...].split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[0] == "\u{2014}", let raw = Data(base64Encoded: String(parts[2])),
                raw.count > 4
            else { throw CertificateCheckError("a checkpoint signature line is malformed") }
            signatures.append(Signature(name: String(parts[1]), keyHint: raw.prefix(4), signature: raw.dropFirst(4)))
        }
        guard !signatures.isEmpty else { throw CertificateCheckError("the checkpoint is not signed") }
        self.signatures = signatures
    }

    /// Whether a signature line whose key hint matches `publicKeyDER` verifies over the text.
    package func isSigned(by publicKeyDER: Data) -> Bool {
        let hint = Data(SHA256.hash(data: publicKeyDER)).prefix(4)
        guard let key = try? PublicKey(der: publicKeyDER) else { return false }
        return signatures.contains { $0.keyHint == hint && key.isValidSignature($0.signature, for: Data(text.utf8)) }
    }

    /// A checkpoint signed by `sign`: what a log (our Rekor simulator) publishes.
    package static func envelope(
        origin: String, size: UInt64, rootHash: Data, name: String, publicKeyDER: Data,
        sign: (Data) throws -> Data
    ) rethrows -> String {
        let text = "\(origin)\n\(size)\n\(rootHash.base64EncodedString())\n"
        let hint = Data(SHA256.hash(data: publicKeyDER)).prefix(4)
        let signature = try sign(Data(text.utf8))
        return text + "\n\u{2014} \(name) \((hint + signature).base64EncodedString())\n"
    }
}
