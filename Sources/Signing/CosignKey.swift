import Crypto
import Foundation
import _CryptoExtras

/// The sigstore encrypted private key format (`cosign generate-key-pair`): PEM `ENCRYPTED SIGSTORE PRIVATE KEY`
/// (or the older `ENCRYPTED COSIGN PRIVATE KEY`) around JSON with scrypt parameters and a NaCl secretbox.
package enum CosignKey {
    package static let pemLabel = "ENCRYPTED SIGSTORE PRIVATE KEY"
    static let legacyLabel = "ENCRYPTED COSIGN PRIVATE KEY"

    struct Envelope: Codable {
        struct KDF: Codable {
            struct Params: Codable {
                var N: Int
                var r: Int
                var p: Int
            }
            var name: String
            var params: Params
            var salt: String
        }
        struct Cipher: Codable {
            var name: String
            var nonce: String
        }
        var kdf: KDF
        var cipher: Cipher
        var ciphertext: String
    }

    /// Decrypts a cosign key. A wrong password is reported as such (the secretbox tag does not verify).
    package static func decrypt(pem: String, password: Data, file: String) throws(SigningError) -> PrivateKey {
        guard let block = PEM.blocks(in: pem).first else {
            throw SigningError(code: .malformedPEM, file: file, reason: "no PEM block found; expected \(pemLabel)")
        }
        guard block.label == pemLabel || block.label == legacyLabel else {
            throw SigningError(
                code: .malformedCosignKey, file: file, reason: "expected a \(pemLabel) PEM block, found \(block.label)")
        }
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: block.der) else {
            throw SigningError(code: .malformedCosignKey, file: file, reason: "the encrypted key's JSON is not valid")
        }
        guard envelope.kdf.name == "scrypt", envelope.cipher.name == "nacl/secretbox" else {
            throw SigningError(
                code: .malformedCosignKey, file: file,
                reason:
                    "unsupported kdf \(envelope.kdf.name) / cipher \(envelope.cipher.name); expected scrypt + nacl/secretbox"
            )
        }
        let params = envelope.kdf.params
        guard params.N > 1, params.N & (params.N - 1) == 0, params.N <= 1 << 20, (1...32).contains(params.r),
            (1...16).contains(params.p)
        else {
            throw SigningError(code: .malformedCosignKey, file: file, reason: "scrypt parameters are out of range")
        }
        guard let salt = Data(base64Encoded: envelope.kdf.salt), let nonce = Data(base64Encoded: envelope.cipher.nonce),
            let box = Data(base64Encoded: envelope.ciphertext), nonce.count == SecretBox.nonceLength
        else {
            throw SigningError(
                code: .malformedCosignKey, file: file, reason: "salt, nonce or ciphertext is not valid base64")
        }
        let key = try derive(password: password, salt: salt, n: params.N, r: params.r, p: params.p, file: file)
        guard let der = SecretBox.open(Array(box), nonce: Array(nonce), key: key) else {
            throw SigningError(
                code: .wrongPassword, file: file,
                reason: "cannot decrypt the key: the password in cosign.password is wrong (or the key is damaged)")
        }
        guard let privateKey = PrivateKey(der: Data(der)) else {
            throw SigningError(
                code: .unsupportedKey, file: file, reason: "the decrypted key is not a supported PKCS#8 key")
        }
        return privateKey
    }

    /// Encrypts a key as `cosign generate-key-pair` does (scrypt N=32768, r=8, p=1).
    package static func encrypt(_ key: PrivateKey, password: Data) throws -> String {
        var salt = [UInt8](repeating: 0, count: 32)
        var nonce = [UInt8](repeating: 0, count: SecretBox.nonceLength)
        var rng = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = rng.next() }
        for i in nonce.indices { nonce[i] = rng.next() }
        let derived = try derive(password: password, salt: Data(salt), n: 32768, r: 8, p: 1, file: "")
        let box = SecretBox.seal(Array(key.pkcs8DER), nonce: nonce, key: derived)
        let envelope = Envelope(
            kdf: .init(name: "scrypt", params: .init(N: 32768, r: 8, p: 1), salt: Data(salt).base64EncodedString()),
            cipher: .init(name: "nacl/secretbox", nonce: Data(nonce).base64EncodedString()),
            ciphertext: Data(box).base64EncodedString())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return PEM.encode(label: pemLabel, der: try encoder.encode(envelope))
    }

    static func derive(password: Data, salt: Data, n: Int, r: Int, p: Int, file: String) throws(SigningError) -> [UInt8]
    {
        do {
            let key = try KDF.Scrypt.deriveKey(
                from: password, salt: salt, outputByteCount: 32, rounds: n, blockSize: r, parallelism: p)
            return key.withUnsafeBytes { Array($0) }
        } catch {
            throw SigningError(code: .malformedCosignKey, file: file, reason: "scrypt failed: \(error)")
        }
    }
}
