import Crypto
import Foundation
import _CryptoExtras

/// The client side of SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash), as MongoDB's authentication specification
/// uses it: no channel binding (`n,,`), the password SASLprepped, the server's signature checked at the end (a
/// server that cannot prove it knows the password is refused), at least 4096 iterations.
package struct SCRAMClient: Sendable {
    let user: String
    let password: String
    let nonce: String
    var expected: Data?

    package static let minimumIterations = 4096

    /// `nonce`: fixed in tests (RFC 7677's vector); random (24 bytes, base64) otherwise.
    package init(user: String, password: String, nonce: String? = nil) {
        self.user = user
        self.password = password
        self.nonce = nonce ?? Data((0..<24).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    }

    /// `n=user,r=nonce`; the user name with `=` and `,` escaped.
    var firstBare: String {
        let escaped = user.replacingOccurrences(of: "=", with: "=3D").replacingOccurrences(of: ",", with: "=2C")
        return "n=\(escaped),r=\(nonce)"
    }

    /// The client-first message.
    package var first: String { "n,,\(firstBare)" }

    /// The client-final message for the server-first message; remembers the server signature to expect.
    package mutating func final(serverFirst: String) throws(SCRAMError) -> String {
        let fields = Self.fields(serverFirst)
        guard let serverNonce = fields["r"], let saltText = fields["s"], let salt = Data(base64Encoded: saltText),
            let iterationText = fields["i"], let iterations = Int(iterationText)
        else { throw SCRAMError("the server's first message is not r=…,s=…,i=…") }
        guard serverNonce.hasPrefix(nonce), serverNonce.count > nonce.count else {
            throw SCRAMError("the server's nonce does not extend ours")
        }
        guard iterations >= Self.minimumIterations else {
            throw SCRAMError(
                "the server asks for \(iterations) iterations, fewer than the \(Self.minimumIterations) required")
        }
        let prepared = try SASLprep.prepare(password)
        let salted = try Self.saltedPassword(prepared, salt: salt, iterations: iterations)
        let withoutProof = "c=biws,r=\(serverNonce)"
        let authMessage = Data("\(firstBare),\(serverFirst),\(withoutProof)".utf8)
        let clientKey = Self.hmac(salted, "Client Key")
        let storedKey = Data(SHA256.hash(data: clientKey))
        let signature = Self.hmac(storedKey, authMessage)
        let proof = Data(zip(clientKey, signature).map { $0 ^ $1 })
        expected = Self.hmac(Self.hmac(salted, "Server Key"), authMessage)
        return "\(withoutProof),p=\(proof.base64EncodedString())"
    }

    /// Checks the server-final message `v=<signature>`: the server proves it holds the password's keys.
    package func verify(serverFinal: String) throws(SCRAMError) {
        let fields = Self.fields(serverFinal)
        if let error = fields["e"] { throw SCRAMError("the server ends the exchange with the error \(error)") }
        guard let expected, let text = fields["v"], let signature = Data(base64Encoded: text) else {
            throw SCRAMError("the server's final message carries no signature")
        }
        guard signature == expected else {
            throw SCRAMError(
                "the server's signature is wrong: it does not know this user's password (not the server asked for)")
        }
    }

    /// PBKDF2-HMAC-SHA-256 of the prepared password, one 32-byte block.
    package static func saltedPassword(_ password: String, salt: Data, iterations: Int) throws(SCRAMError) -> Data {
        do {
            let key = try KDF.Insecure.PBKDF2.deriveKey(
                from: Data(password.utf8), salt: salt, using: .sha256, outputByteCount: 32,
                unsafeUncheckedRounds: iterations)
            return key.withUnsafeBytes { Data($0) }
        } catch {
            throw SCRAMError("PBKDF2 failed: \(error)")
        }
    }

    package static func hmac(_ key: Data, _ text: String) -> Data { hmac(key, Data(text.utf8)) }

    package static func hmac(_ key: Data, _ data: Data) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: key)))
    }

    /// `a=x,b=y` → fields by their one-letter name (values may contain `=`).
    package static func fields(_ message: String) -> [String: String] {
        var out: [String: String] = [:]
        for part in message.split(separator: ",") {
            guard let equals = part.firstIndex(of: "="), part.distance(from: part.startIndex, to: equals) == 1 else {
                continue
            }
            out[String(part[..<equals])] = String(part[part.index(after: equals)...])
        }
        return out
    }
}

package struct SCRAMError: Error, Sendable, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// SASLprep (RFC 4013) for passwords: non-ASCII spaces mapped to a space, characters "mapped to nothing" removed,
/// NFKC, then control characters, private-use code points, surrogates and non-characters refused. The bidirectional
/// rule (RFC 3454 §6) is not checked: Swift exposes no bidi class.
package enum SASLprep {
    package static func prepare(_ text: String) throws(SCRAMError) -> String {
        if text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) { return text }
        var mapped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if mappedToNothing(scalar.value) { continue }
            mapped.append(nonASCIISpace(scalar.value) ? " " : scalar)
        }
        let normalized = String(mapped).precomposedStringWithCompatibilityMapping
        for scalar in normalized.unicodeScalars where prohibited(scalar) {
            throw SCRAMError(
                "the password holds U+\(String(scalar.value, radix: 16, uppercase: true)), which SASLprep prohibits")
        }
        return normalized
    }

    static func mappedToNothing(_ v: UInt32) -> Bool {
        [0x00AD, 0x034F, 0x1806, 0x180B, 0x180C, 0x180D, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF].contains(v)
            || (0xFE00...0xFE0F).contains(v)
    }

    static func nonASCIISpace(_ v: UInt32) -> Bool {
        [0x00A0, 0x1680, 0x202F, 0x205F, 0x3000].contains(v) || (0x2000...0x200B).contains(v)
    }

    static func prohibited(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x20 || (0x7F...0x9F).contains(v) { return true }
        switch scalar.properties.generalCategory {
        case .control, .privateUse, .surrogate, .unassigned: return true
        default: break
        }
        return scalar.properties.isNoncharacterCodePoint || (0xFFF9...0xFFFD).contains(v)
            || (0x2FF0...0x2FFB).contains(v)
            || (0xE0001 == v) || (0xE0020...0xE007F).contains(v) || [0x0340, 0x0341, 0x200E, 0x200F].contains(v)
            || (0x202A...0x202E).contains(v) || (0x206A...0x206F).contains(v)
    }
}
