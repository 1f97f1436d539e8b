import ChainsTesting
import Crypto
import Foundation
import Testing

@testable import Signing

@Suite("Key loading, key ids and DSSE")
struct KeysTests {
    @Test("PAE matches the DSSE specification's test vector")
    func paeVector() {
        let pae = DSSE.pae(payloadType: "http://example.com/HelloWorld", payload: Data("hello world".utf8))
        #expect(String(decoding: pae, as: UTF8.self) == "DSSEv1 29 http://example.com/HelloWorld 11 hello world")
    }

    @Test("the envelope has Chains' field order and a verifiable signature")
    func envelopeShape() throws {
        let signer = KeySigner(key: try PrivateKey.generate(.ecdsaP256), hash: .sha256Always, origin: "test")
        let payload = Data(#"{"_type":"https://in-toto.io/Statement/v1"}"#.utf8)
        let envelope = try DSSE.sign(payload: payload, signer: signer)
        let text = String(decoding: envelope, as: UTF8.self)
        #expect(text.hasPrefix(#"{"payloadType":"application/vnd.in-toto+json","payload":""#))
        #expect(text.contains(#""signatures":[{"keyid":"\#(signer.publicKey.keyID)","sig":""#))
        #expect(DSSE.verify(envelope: envelope, publicKey: signer.publicKey) == payload)
        let other = try PrivateKey.generate(.ecdsaP256).publicKey
        #expect(DSSE.verify(envelope: envelope, publicKey: other) == nil)
    }

    @Test("keys load from PKCS#8, SEC1 and PKCS#1 PEM and sign verifiably", arguments: KeyAlgorithm.allCases)
    func loadAndSign(algorithm: KeyAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        let loaded = try PrivateKey(pem: key.pkcs8PEM, file: "x509.pem")
        #expect(loaded.publicKey.pem == key.publicKey.pem)
        let message = Data("payload".utf8)
        let signature = try loaded.sign(message, hash: .perCurve)
        #expect(key.publicKey.isValidSignature(signature, for: message))
        #expect(!key.publicKey.isValidSignature(signature, for: Data("other".utf8)))
    }

    @Test("a SEC1 EC PRIVATE KEY is accepted")
    func sec1() async throws {
        let key = try PrivateKey.generate(.ecdsaP256)
        // openssl writes the SEC1 form; we must read it back to the same key.
        let dir = try TemporaryDirectory()
        let pkcs8 = try dir.write("k8.pem", key.pkcs8PEM)
        let result = try await runProcess("/usr/bin/openssl", ["ec", "-in", pkcs8.path, "-outform", "PEM"])
        #expect(result.stdout.contains("BEGIN EC PRIVATE KEY"))
        let loaded = try PrivateKey(pem: result.stdout, file: "x509.pem")
        #expect(loaded.publicKey.pem == key.publicKey.pem)
    }

    @Test(
        "malformed and unsupported PEM inputs get clear errors",
        arguments: [
            ("not a key at all", SigningError.Code.malformedPEM, "no PEM block found"),
            (
                "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n", .unsupportedKey,
                "found a CERTIFICATE PEM block"
            ),
            ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", .unsupportedKey, "not an ECDSA"),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n", .encryptedKey,
                "encrypted PKCS#8"
            ),
            (
                "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\ne30=\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
                .encryptedKey, "name it cosign.key"
            ),
        ])
    func malformed(pem: String, code: SigningError.Code, fragment: String) {
        #expect {
            _ = try PrivateKey(pem: pem, file: "/etc/signing-secrets/x509.pem")
        } throws: { error in
            guard let e = error as? SigningError else { return false }
            return e.code == code && e.description.contains(fragment)
                && e.description.hasPrefix("/etc/signing-secrets/x509.pem: ")
        }
    }

    @Test("an encrypted PKCS#8 key made by openssl is refused with advice")
    func opensslEncryptedPKCS8() async throws {
        let dir = try TemporaryDirectory()
        let key = try dir.write("k.pem", try PrivateKey.generate(.ecdsaP256).pkcs8PEM)
        let enc = try await runProcess(
            "/usr/bin/openssl", ["pkcs8", "-topk8", "-in", key.path, "-passout", "pass:secret", "-v2", "aes-256-cbc"])
        #expect(enc.stdout.contains("ENCRYPTED PRIVATE KEY"))
        #expect(throws: SigningError.self) { try PrivateKey(pem: enc.stdout, file: "x509.pem") }
    }

    @Test(
        "key ids equal the OpenSSH SHA256 fingerprint computed by Python cryptography",
        arguments: [
            KeyAlgorithm.ecdsaP256, .ecdsaP384, .ecdsaP521, .ed25519, .rsa2048,
        ])
    func keyIDMatchesOpenSSH(algorithm: KeyAlgorithm) async throws {
        let key = try PrivateKey.generate(algorithm)
        let dir = try TemporaryDirectory()
        let pub = try dir.write("pub.pem", key.publicKey.pem)
        let result = try await Python.run("ssh_fingerprint.py", [pub.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == key.publicKey.keyID)
    }

    @Test("the x509.pem signer hashes with SHA-256 on every curve, as Chains does; cosign keys use the curve's hash")
    func hashPolicy() throws {
        let key = try PrivateKey.generate(.ecdsaP384)
        guard case .p384(let k) = key else { return }
        let message = Data("m".utf8)
        let x509 = try P384SignatureCheck.parse(try key.sign(message, hash: .sha256Always))
        #expect(k.publicKey.isValidSignature(x509, for: SHA256Digest.of(message)))
        let cosign = try P384SignatureCheck.parse(try key.sign(message, hash: .perCurve))
        #expect(k.publicKey.isValidSignature(cosign, for: SHA384Digest.of(message)))
        #expect(!k.publicKey.isValidSignature(cosign, for: SHA256Digest.of(message)))
    }
}

enum P384SignatureCheck {
    static func parse(_ der: Data) throws -> P384.Signing.ECDSASignature { try .init(derRepresentation: der) }
}

enum SHA256Digest {
    static func of(_ d: Data) -> SHA256.Digest { SHA256.hash(data: d) }
}

enum SHA384Digest {
    static func of(_ d: Data) -> SHA384.Digest { SHA384.hash(data: d) }
}

/// The mutation probe's dsse-pae: PAE counts bytes, as the DSSE spec and every verifier do.
@Suite("PAE lengths")
struct PAELengthTests {
    @Test("a non-ASCII payload type is counted in UTF-8 bytes, not characters")
    func byteLengths() {
        let type = "application/vnd.é+json"  // 22 characters, 23 bytes
        #expect(
            DSSE.pae(payloadType: type, payload: Data("{}".utf8)) == Data("DSSEv1 23 application/vnd.é+json 2 {}".utf8))
    }

    @Test("a signature checked against a digest alone (a bundle over sha256:…) verifies for P-256 and RSA keys")
    func digestOnly() throws {
        let message = Data("artifact".utf8)
        let digest = Data(SHA256.hash(data: message))
        for algorithm in [KeyAlgorithm.ecdsaP256, .rsa2048] {
            let key = try PrivateKey.generate(algorithm)
            let signature = try key.sign(message, hash: .sha256Always)
            #expect(key.publicKey.isValidSignature(signature, forSHA256Digest: digest), "\(algorithm)")
            #expect(!key.publicKey.isValidSignature(signature, forSHA256Digest: Data(repeating: 0, count: 32)))
        }
    }
}

@Suite("JSON strings as Go's encoding/json writes them")
struct GoQuotedTests {
    @Test("quotes, backslashes, \\n \\r \\t by name, other control characters and <, >, &, U+2028, U+2029 as \\u00XX")
    func goEscaping() {
        #expect(
            DSSE.quoted("a\"b\\c\n\r\t\u{1}<>&\u{2028}\u{2029}é/")
                == #""a\"b\\c\n\r\t\u0001\u003c\u003e\u0026\u2028\u2029é/""#)
    }
}
