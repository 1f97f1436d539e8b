import Crypto
import Foundation
import SwiftASN1
import X509
import _CryptoExtras

/// A key that could not be loaded or used. Says which file and what to do; never includes key material.
package struct SigningError: Error, Sendable, CustomStringConvertible, Equatable {
    package enum Code: String, Sendable {
        case missingKey, malformedPEM, unsupportedKey, encryptedKey, wrongPassword, missingPassword, malformedCosignKey
        case signingFailed
    }
    package var code: Code
    package var file: String
    package var reason: String

    package init(code: Code, file: String, reason: String) {
        self.code = code
        self.file = file
        self.reason = reason
    }

    package var description: String { file.isEmpty ? reason : "\(file): \(reason)" }
}

/// Key algorithms we sign with.
package enum KeyAlgorithm: String, Sendable, CaseIterable {
    case ecdsaP256 = "ecdsa-p256"
    case ecdsaP384 = "ecdsa-p384"
    case ecdsaP521 = "ecdsa-p521"
    case ed25519
    case rsa2048 = "rsa-2048"
    case rsa3072 = "rsa-3072"
    case rsa4096 = "rsa-4096"
}

/// Which hash an ECDSA key signs with: Chains' `x509.pem` signer always uses SHA-256; cosign keys use the
/// curve's own hash (P-384 → SHA-384, P-521 → SHA-512).
package enum HashPolicy: Sendable { case sha256Always, perCurve }

/// A private signing key of any supported type.
package enum PrivateKey: @unchecked Sendable {
    case p256(P256.Signing.PrivateKey)
    case p384(P384.Signing.PrivateKey)
    case p521(P521.Signing.PrivateKey)
    case ed25519(Curve25519.Signing.PrivateKey)
    case rsa(_RSA.Signing.PrivateKey)

    package static func generate(_ algorithm: KeyAlgorithm) throws -> PrivateKey {
        switch algorithm {
        case .ecdsaP256: return .p256(P256.Signing.PrivateKey())
        case .ecdsaP384: return .p384(P384.Signing.PrivateKey())
        case .ecdsaP521: return .p521(P521.Signing.PrivateKey())
        case .ed25519: return .ed25519(Curve25519.Signing.PrivateKey())
        case .rsa2048: return .rsa(try _RSA.Signing.PrivateKey(keySize: .bits2048))
        case .rsa3072: return .rsa(try _RSA.Signing.PrivateKey(keySize: .bits3072))
        case .rsa4096: return .rsa(try _RSA.Signing.PrivateKey(keySize: .bits4096))
        }
    }

    package var algorithmName: String { publicKey.algorithmName }

    /// PKCS#8 DER (`PRIVATE KEY`).
    package var pkcs8DER: Data {
        switch self {
        case .p256(let k): return k.derRepresentation
        case .p384(let k): return k.derRepresentation
        case .p521(let k): return k.derRepresentation
        case .ed25519(let k): return k.derRepresentation
        case .rsa(let k): return k.pkcs8DERRepresentation
        }
    }

    package var pkcs8PEM: String { PEM.encode(label: "PRIVATE KEY", der: pkcs8DER) }

    package var publicKey: PublicKey {
        switch self {
        case .p256(let k): return .p256(k.publicKey)
        case .p384(let k): return .p384(k.publicKey)
        case .p521(let k): return .p521(k.publicKey)
        case .ed25519(let k): return .ed25519(k.publicKey)
        case .rsa(let k): return .rsa(k.publicKey)
        }
    }

    /// Signs `message` (the hash is computed here, per the policy).
    package func sign(_ message: some DataProtocol, hash: HashPolicy) throws -> Data {
        switch self {
        case .p256(let k): return try k.signature(for: SHA256.hash(data: message)).derRepresentation
        case .p384(let k):
            return hash == .perCurve
                ? try k.signature(for: SHA384.hash(data: message)).derRepresentation
                : try k.signature(for: SHA256.hash(data: message)).derRepresentation
        case .p521(let k):
            return hash == .perCurve
                ? try k.signature(for: SHA512.hash(data: message)).derRepresentation
                : try k.signature(for: SHA256.hash(data: message)).derRepresentation
        case .ed25519(let k): return try k.signature(for: Data(message))
        case .rsa(let k):
            return try k.signature(for: SHA256.hash(data: message), padding: .insecurePKCS1v1_5).rawRepresentation
        }
    }

    /// Reads an unencrypted private key PEM: PKCS#8 (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) or PKCS#1
    /// (`RSA PRIVATE KEY`). `file` names the source in errors.
    package init(pem: String, file: String) throws(SigningError) {
        let block: PEM.Block
        do {
            block = try PEM.firstBlock(in: pem)
        } catch {
            throw SigningError(
                code: .malformedPEM, file: file,
                reason: "no PEM block found (expected -----BEGIN PRIVATE KEY-----); is this a key file?")
        }
        switch block.label {
        case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
            if let key = PrivateKey(der: block.der) {
                self = key
                return
            }
            throw SigningError(
                code: .unsupportedKey, file: file,
                reason: "the \(block.label) is not an ECDSA P-256/P-384/P-521, Ed25519 or RSA key, or it is damaged")
        case "ENCRYPTED PRIVATE KEY":
            throw SigningError(
                code: .encryptedKey, file: file,
                reason:
                    "the key is an encrypted PKCS#8 key, which cannot be used unattended; decrypt it (openssl pkcs8 -in KEY -out x509.pem) or use a cosign.key with cosign.password"
            )
        case "ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY":
            throw SigningError(
                code: .encryptedKey, file: file,
                reason: "this is a cosign key; name it cosign.key and put its password in cosign.password")
        default:
            throw SigningError(
                code: .unsupportedKey, file: file, reason: "expected a private key, found a \(block.label) PEM block")
        }
    }

    /// Any DER private key we support (PKCS#8, SEC1 or PKCS#1).
    init?(der: Data) {
        if let k = try? P256.Signing.PrivateKey(derRepresentation: der) {
            self = .p256(k)
        } else if let k = try? P384.Signing.PrivateKey(derRepresentation: der) {
            self = .p384(k)
        } else if let k = try? P521.Signing.PrivateKey(derRepresentation: der) {
            self = .p521(k)
        } else if let k = try? Curve25519.Signing.PrivateKey(derRepresentation: der) {
            self = .ed25519(k)
        } else if let k = try? _RSA.Signing.PrivateKey(derRepresentation: der) {
            self = .rsa(k)
        } else {
            return nil
        }
    }
}

/// A public key: verification, PEM, and the SSH-style key id Chains puts in DSSE envelopes.
package enum PublicKey: @unchecked Sendable {
    case p256(P256.Signing.PublicKey)
    case p384(P384.Signing.PublicKey)
    case p521(P521.Signing.PublicKey)
    case ed25519(Curve25519.Signing.PublicKey)
    case rsa(_RSA.Signing.PublicKey)

    package var algorithmName: String {
        switch self {
        case .p256: return "ECDSA P-256"
        case .p384: return "ECDSA P-384"
        case .p521: return "ECDSA P-521"
        case .ed25519: return "Ed25519"
        case .rsa(let k): return "RSA-\(k.keySizeInBits)"
        }
    }

    /// PKIX `PUBLIC KEY` PEM, ending with a newline.
    package var pem: String {
        let text = pemWithoutNewline
        return text.hasSuffix("\n") ? text : text + "\n"
    }

    private var pemWithoutNewline: String {
        switch self {
        case .p256(let k): return k.pemRepresentation
        case .p384(let k): return k.pemRepresentation
        case .p521(let k): return k.pemRepresentation
        case .ed25519(let k): return k.pemRepresentation
        case .rsa(let k): return k.pemRepresentation
        }
    }

    package var derRepresentation: Data {
        switch self {
        case .p256(let k): return k.derRepresentation
        case .p384(let k): return k.derRepresentation
        case .p521(let k): return k.derRepresentation
        case .ed25519(let k): return k.derRepresentation
        case .rsa(let k): return k.derRepresentation
        }
    }

    package init(pem: String, file: String) throws(SigningError) {
        if let k = try? P256.Signing.PublicKey(pemRepresentation: pem) {
            self = .p256(k)
        } else if let k = try? P384.Signing.PublicKey(pemRepresentation: pem) {
            self = .p384(k)
        } else if let k = try? P521.Signing.PublicKey(pemRepresentation: pem) {
            self = .p521(k)
        } else if let k = try? Curve25519.Signing.PublicKey(pemRepresentation: pem) {
            self = .ed25519(k)
        } else if let k = try? _RSA.Signing.PublicKey(pemRepresentation: pem) {
            self = .rsa(k)
        } else {
            throw SigningError(
                code: .malformedPEM, file: file,
                reason: "not a PUBLIC KEY PEM of a supported type (ECDSA, Ed25519, RSA)")
        }
    }

    /// A certificate's key (a keyless leaf's), by its DER SubjectPublicKeyInfo.
    package init(certificateKey key: Certificate.PublicKey) throws(SigningError) {
        try self.init(der: key.derSubjectPublicKeyInfo)
    }

    /// A DER SubjectPublicKeyInfo, as a trusted root lists log keys.
    package init(der: Data) throws(SigningError) {
        if let k = try? P256.Signing.PublicKey(derRepresentation: der) {
            self = .p256(k)
        } else if let k = try? P384.Signing.PublicKey(derRepresentation: der) {
            self = .p384(k)
        } else if let k = try? P521.Signing.PublicKey(derRepresentation: der) {
            self = .p521(k)
        } else if let k = try? Curve25519.Signing.PublicKey(derRepresentation: der) {
            self = .ed25519(k)
        } else if let k = try? _RSA.Signing.PublicKey(derRepresentation: der) {
            self = .rsa(k)
        } else {
            throw SigningError(
                code: .unsupportedKey, file: "public key", reason: "not a DER public key of a supported type")
        }
    }

    /// Verifies a signature over a message known only by its SHA-256 digest (a sigstore bundle verified against
    /// `sha256:<hex>`): ECDSA P-256 and RSA PKCS#1 v1.5, which sign the digest; false for the others.
    package func isValidSignature(_ signature: some DataProtocol, forSHA256Digest digest: Data) -> Bool {
        guard digest.count == 32 else { return false }
        let prehashed = GivenSHA256Digest(bytes: Array(digest))
        switch self {
        case .p256(let k):
            guard let s = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return k.isValidSignature(s, for: prehashed)
        case .rsa(let k):
            // RSA needs swift-crypto's own SHA256.Digest (it picks the DigestInfo by type and traps on any other):
            // made from the bytes, and checked to hold exactly them.
            let typed = digest.withUnsafeBytes { $0.loadUnaligned(as: SHA256.Digest.self) }
            guard Data(typed) == digest else { return false }
            return k.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: typed, padding: .insecurePKCS1v1_5)
        default:
            return false
        }
    }

    /// Verifies a signature over `message`, trying the hashes a signer may have used.
    package func isValidSignature(_ signature: some DataProtocol, for message: some DataProtocol) -> Bool {
        switch self {
        case .p256(let k):
            guard let s = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return k.isValidSignature(s, for: SHA256.hash(data: message))
        case .p384(let k):
            guard let s = try? P384.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return k.isValidSignature(s, for: SHA384.hash(data: message))
                || k.isValidSignature(s, for: SHA256.hash(data: message))
        case .p521(let k):
            guard let s = try? P521.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return k.isValidSignature(s, for: SHA512.hash(data: message))
                || k.isValidSignature(s, for: SHA256.hash(data: message))
        case .ed25519(let k):
            return k.isValidSignature(Data(signature), for: Data(message))
        case .rsa(let k):
            return k.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: message),
                padding: .insecurePKCS1v1_5)
        }
    }

    /// The public key in SSH wire format (RFC 4253 / 5656 / 8709).
    var sshWireFormat: Data {
        func string(_ bytes: some DataProtocol) -> Data {
            var d = Data()
            let n = UInt32(bytes.count)
            d.append(contentsOf: [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)])
            d.append(contentsOf: bytes)
            return d
        }
        func mpint(_ bytes: Data) -> Data {
            var b = Array(bytes.drop(while: { $0 == 0 }))
            if let first = b.first, first & 0x80 != 0 { b.insert(0, at: 0) }
            return string(b)
        }
        switch self {
        case .p256(let k):
            return string(Array("ecdsa-sha2-nistp256".utf8)) + string(Array("nistp256".utf8))
                + string(k.x963Representation)
        case .p384(let k):
            return string(Array("ecdsa-sha2-nistp384".utf8)) + string(Array("nistp384".utf8))
                + string(k.x963Representation)
        case .p521(let k):
            return string(Array("ecdsa-sha2-nistp521".utf8)) + string(Array("nistp521".utf8))
                + string(k.x963Representation)
        case .ed25519(let k):
            return string(Array("ssh-ed25519".utf8)) + string(k.rawRepresentation)
        case .rsa(let k):
            let primitives = try? k.getKeyPrimitives()
            return string(Array("ssh-rsa".utf8)) + mpint(primitives?.publicExponent ?? Data())
                + mpint(primitives?.modulus ?? Data())
        }
    }

    /// `SHA256:<unpadded base64>` — golang.org/x/crypto/ssh `FingerprintSHA256`, the DSSE `keyid` Chains writes.
    package var keyID: String {
        let digest = Data(SHA256.hash(data: sshWireFormat))
        var b64 = digest.base64EncodedString()
        while b64.hasSuffix("=") { b64.removeLast() }
        return "SHA256:" + b64
    }
}

/// Minimal PEM reading and writing.
package enum PEM {
    package struct Block: Sendable {
        package var label: String
        package var der: Data
    }

    struct NotPEM: Error {}

    package static func blocks(in text: String) -> [Block] {
        var out: [Block] = []
        var label: String?
        var body = ""
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("-----BEGIN "), line.hasSuffix("-----") {
                label = String(line.dropFirst(11).dropLast(5))
                body = ""
            } else if line.hasPrefix("-----END "), let current = label {
                if let der = Data(base64Encoded: body) { out.append(Block(label: current, der: der)) }
                label = nil
            } else if label != nil, !line.contains(":") {
                body += line
            }
        }
        return out
    }

    static func firstBlock(in text: String) throws -> Block {
        guard let first = blocks(in: text).first else { throw NotPEM() }
        return first
    }

    package static func encode(label: String, der: Data) -> String {
        let b64 = der.base64EncodedString()
        var lines: [String] = []
        var index = b64.startIndex
        while index < b64.endIndex {
            let end = b64.index(index, offsetBy: 64, limitedBy: b64.endIndex) ?? b64.endIndex
            lines.append(String(b64[index..<end]))
            index = end
        }
        return "-----BEGIN \(label)-----\n" + lines.joined(separator: "\n") + "\n-----END \(label)-----\n"
    }
}

/// A SHA-256 digest computed elsewhere, for verifying a signature over a message we do not have.
struct GivenSHA256Digest: Digest {
    static let byteCount = 32
    let bytes: [UInt8]
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }
    func makeIterator() -> IndexingIterator<[UInt8]> { bytes.makeIterator() }
    var description: String { "SHA256 digest: " + bytes.map { String(format: "%02x", $0) }.joined() }
}

extension Certificate.PublicKey {
    /// The whole DER SubjectPublicKeyInfo (what CT logs hash as the issuer key, and key IDs are made of); empty only
    /// if a key swift-certificates parsed could not be written back, which does not happen.
    package var derSubjectPublicKeyInfo: Data {
        var serializer = DER.Serializer()
        try? serializer.serialize(self)
        return Data(serializer.serializedBytes)
    }
}
