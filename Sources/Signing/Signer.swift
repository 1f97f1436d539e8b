import Foundation
import SwiftASN1
import X509

/// Signs bytes: a key from the signing secrets, a cosign key, a KMS key, or a keyless (Fulcio) identity.
///
/// Signing is asynchronous because KMS and keyless signers make network calls; key signers answer at once (a
/// synchronous `sign` satisfies the requirement).
package protocol Signer: Sendable {
    var publicKey: PublicKey { get }
    /// The signing certificate first, then the rest of its chain; nil for key signers. A keyless signer carries the
    /// short-lived Fulcio certificate here.
    var certificateChain: [Certificate]? { get }
    /// Where the key came from, for the summary (`x509.pem in /etc/signing-secrets`).
    var origin: String { get }
    /// `publicKey.keyID`, the DSSE `keyid`: a signer that keeps its key computes it once (it hashes the key's SSH wire
    /// form, about 15 µs, and the service names it for every artifact).
    var keyID: String { get }
    func sign(_ message: Data) async throws -> Data
}

extension Signer {
    package var keyID: String { publicKey.keyID }
}

/// A signer over a private key held in memory.
package struct KeySigner: Signer {
    package let key: PrivateKey
    package let hash: HashPolicy
    package let origin: String
    package let publicKey: PublicKey
    package let keyID: String
    package var certificateChain: [Certificate]? { nil }

    package init(key: PrivateKey, hash: HashPolicy, origin: String) {
        self.key = key
        self.hash = hash
        self.origin = origin
        self.publicKey = key.publicKey
        self.keyID = key.publicKey.keyID
    }

    package func sign(_ message: Data) throws(SigningError) -> Data {
        do {
            return try key.sign(message, hash: hash)
        } catch {
            throw SigningError(code: .signingFailed, file: origin, reason: "signing failed: \(error)")
        }
    }
}

/// PEM text of a certificate chain as Chains stores it: the leaf in `cert-*`, the rest in `chain-*`; "" for none.
package enum CertificatePEM {
    package static func leaf(_ chain: [Certificate]?) -> String {
        guard let first = chain?.first else { return "" }
        return pem([first])
    }

    package static func rest(_ chain: [Certificate]?) -> String {
        guard let chain, chain.count > 1 else { return "" }
        return pem(Array(chain.dropFirst()))
    }

    package static func pem(_ certificates: [Certificate]) -> String {
        certificates.compactMap { try? $0.serializeAsPEM().pemString }.map { $0 + "\n" }.joined()
    }

    /// DER of the leaf, for sigstore bundles.
    package static func leafDER(_ chain: [Certificate]?) -> Data? {
        guard let first = chain?.first else { return nil }
        var serializer = DER.Serializer()
        guard (try? serializer.serialize(first)) != nil else { return nil }
        return Data(serializer.serializedBytes)
    }
}

/// DSSE (Dead Simple Signing Envelope) as Chains writes it for in-toto payloads.
package enum DSSE {
    package static let inTotoPayloadType = "application/vnd.in-toto+json"

    /// Pre-Authentication Encoding: `DSSEv1 <len(type)> <type> <len(body)> <body>`.
    package static func pae(payloadType: String, payload: Data) -> Data {
        var out = Data("DSSEv1 \(payloadType.utf8.count) \(payloadType) \(payload.count) ".utf8)
        out.append(payload)
        return out
    }

    /// Signs `payload` and returns the envelope JSON, with Go's field order:
    /// `{"payloadType":…,"payload":…,"signatures":[{"keyid":…,"sig":…}]}`.
    package static func sign(
        payload: Data, payloadType: String = inTotoPayloadType, signer: any Signer
    ) async throws -> Data {
        let signature = try await signer.sign(pae(payloadType: payloadType, payload: payload))
        return envelope(payload: payload, payloadType: payloadType, keyID: signer.keyID, signature: signature)
    }

    /// The same, synchronously, for a key held in memory.
    package static func sign(
        payload: Data, payloadType: String = inTotoPayloadType, signer: KeySigner
    ) throws(SigningError) -> Data {
        let signature = try signer.sign(pae(payloadType: payloadType, payload: payload))
        return envelope(payload: payload, payloadType: payloadType, keyID: signer.keyID, signature: signature)
    }

    /// The envelope JSON for a signature over `pae(payloadType, payload)`.
    package static func envelope(payload: Data, payloadType: String, keyID: String, signature: Data) -> Data {
        var json = #"{"payloadType":"# + quoted(payloadType)
        json += #","payload":""# + payload.base64EncodedString() + "\""
        json += #","signatures":[{"keyid":"# + quoted(keyID)
        json += #","sig":""# + signature.base64EncodedString() + #""}]}"#
        return Data(json.utf8)
    }

    /// A JSON string as Go's `encoding/json` writes it (what Tekton Chains and go-witness send): `"` and `\\`
    /// escaped, `\n` `\r` `\t` by name, other control characters and the HTML-sensitive `<` `>` `&`, U+2028 and
    /// U+2029 as `\\u00XX`.
    package static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}",
                _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    package struct Envelope: Codable, Sendable {
        package struct Signature: Codable, Sendable {
            package var keyid: String?
            package var sig: String
        }
        package var payloadType: String
        package var payload: String
        package var signatures: [Signature]
    }

    /// Verifies an envelope with a public key; returns the payload bytes when a signature verifies.
    package static func verify(envelope data: Data, publicKey: PublicKey) -> Data? {
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: data),
            let payload = decodeBase64(envelope.payload)
        else { return nil }
        let message = pae(payloadType: envelope.payloadType, payload: payload)
        for signature in envelope.signatures {
            if let sig = decodeBase64(signature.sig), publicKey.isValidSignature(sig, for: message) { return payload }
        }
        return nil
    }

    /// Standard or URL-safe base64, padded or not (DSSE verifiers must accept both).
    static func decodeBase64(_ s: String) -> Data? {
        var t = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while t.count % 4 != 0 { t += "=" }
        return Data(base64Encoded: t)
    }
}
