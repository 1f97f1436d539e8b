import Crypto
import Foundation
import _CryptoExtras

extension PublicKey {
    /// A JSON Web Key's public half (RFC 7517, 7518 §6): `kty` `EC` with `crv` `P-256`/`P-384`/`P-521` and the
    /// base64url coordinates `x`, `y`, or `RSA` with `n`, `e`. Azure Key Vault's `EC-HSM` and `RSA-HSM` read as `EC`
    /// and `RSA` (the key lives in an HSM; its public half is the same). `source` names the key in errors.
    package init(jwk: [String: Any], source: String) throws(SigningError) {
        func field(_ name: String) throws(SigningError) -> Data {
            guard let text = jwk[name] as? String, let data = Self.base64URL(text), !data.isEmpty else {
                throw SigningError(code: .unsupportedKey, file: source, reason: "the JWK has no usable \"\(name)\"")
            }
            return data
        }
        let type = (jwk["kty"] as? String) ?? ""
        switch type {
        case "EC", "EC-HSM":
            let curve = (jwk["crv"] as? String) ?? ""
            let sizes = ["P-256": 32, "P-384": 48, "P-521": 66]
            guard let size = sizes[curve] else {
                throw SigningError(
                    code: .unsupportedKey, file: source,
                    reason: "the JWK's curve \"\(curve)\" is not served (P-256, P-384, P-521)")
            }
            let x = try field("x")
            let y = try field("y")
            guard x.count == size, y.count == size else {
                throw SigningError(
                    code: .unsupportedKey, file: source,
                    reason: "the JWK's coordinates are not \(size) bytes each, as \(curve) has")
            }
            let point = Data([0x04]) + x + y
            do {
                switch curve {
                case "P-256": self = .p256(try P256.Signing.PublicKey(x963Representation: point))
                case "P-384": self = .p384(try P384.Signing.PublicKey(x963Representation: point))
                default: self = .p521(try P521.Signing.PublicKey(x963Representation: point))
                }
            } catch {
                throw SigningError(code: .unsupportedKey, file: source, reason: "the JWK's point is not on \(curve)")
            }
        case "RSA", "RSA-HSM":
            let n = try field("n")
            let e = try field("e")
            do {
                self = .rsa(try _RSA.Signing.PublicKey(n: n, e: e))
            } catch {
                throw SigningError(
                    code: .unsupportedKey, file: source,
                    reason: "the JWK's RSA key is not usable (2048 bits or more): \(error)")
            }
        default:
            throw SigningError(
                code: .unsupportedKey, file: source, reason: "the JWK's kty \"\(type)\" cannot sign (EC or RSA)")
        }
    }

    /// Base64url without padding (RFC 4648 §5), padding tolerated.
    package static func base64URL(_ text: String) -> Data? {
        var b64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard !b64.contains("=") || b64.hasSuffix("=") else { return nil }
        b64 = b64.trimmingCharacters(in: CharacterSet(charactersIn: "="))
        while b64.count % 4 != 0 { b64 += "=" }
        return Data(base64Encoded: b64)
    }

    /// `data` as base64url without padding.
    package static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// An ECDSA signature given as the raw `r || s` (JWS, Azure Key Vault, PKCS#11) in ASN.1 DER, as cosign and
    /// every verifier here expect; nil when the key is not ECDSA or the length is not twice the curve's size.
    package func derSignature(fromRaw raw: Data) -> Data? {
        switch self {
        case .p256: return (try? P256.Signing.ECDSASignature(rawRepresentation: raw))?.derRepresentation
        case .p384: return (try? P384.Signing.ECDSASignature(rawRepresentation: raw))?.derRepresentation
        case .p521: return (try? P521.Signing.ECDSASignature(rawRepresentation: raw))?.derRepresentation
        case .ed25519, .rsa: return nil
        }
    }
}
