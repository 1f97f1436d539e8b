import ChainsTesting
import Foundation
import Testing

@testable import Signing

@Suite("cosign.key (sigstore encrypted keys)")
struct CosignKeyTests {
    @Test(
        "a key made by PyNaCl + scrypt decrypts, signs, and the signature verifies with Python cryptography",
        arguments: ["p256", "p384", "ed25519"])
    func pynaclKey(kind: String) async throws {
        let dir = try TemporaryDirectory()
        let made = try await Python.run("cosign_key.py", ["make", dir.url.path, "correct horse", kind])
        #expect(made.status == 0, "\(made.stderr)")
        let signer = try SigningSecrets.loadSigner(from: dir.url)
        #expect(signer.origin.hasSuffix("cosign.key"))
        let pub = try String(contentsOf: dir.file("cosign.pub"), encoding: .utf8)
        #expect(signer.publicKey.pem == pub)

        let payload = try dir.write("payload", "{\"critical\":{}}")
        let signature = try dir.write("sig", data: try signer.sign(try Data(contentsOf: payload)))
        let hash = kind == "p384" ? "sha384" : "sha256"
        let verified = try await Python.run(
            "verify_signature.py", [dir.file("cosign.pub").path, payload.path, signature.path, hash])
        #expect(verified.status == 0, "\(verified.stderr)")
    }

    @Test("a key we encrypt opens with PyNaCl and holds the same public key")
    func ourKeyOpensInPython() async throws {
        let dir = try TemporaryDirectory()
        let key = try PrivateKey.generate(.ecdsaP256)
        _ = try SigningSecrets.writeCosign(key, password: Data("s3cret".utf8), to: dir.url)
        let opened = try await Python.run("cosign_key.py", ["open", dir.file("cosign.key").path, "s3cret"])
        #expect(opened.status == 0, "\(opened.stderr)")
        #expect(opened.stdout == key.publicKey.pem)
        let keyText = try String(contentsOf: dir.file("cosign.key"), encoding: .utf8)
        #expect(keyText.hasPrefix("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"))
        let mode =
            try FileManager.default.attributesOfItem(atPath: dir.file("cosign.key").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("a wrong password says so and names the file")
    func wrongPassword() throws {
        let dir = try TemporaryDirectory()
        _ = try SigningSecrets.writeCosign(
            try PrivateKey.generate(.ecdsaP256), password: Data("right".utf8), to: dir.url)
        try dir.write("cosign.password", "hunter2")
        #expect {
            _ = try SigningSecrets.loadSigner(from: dir.url)
        } throws: { error in
            guard let e = error as? SigningError else { return false }
            return e.code == .wrongPassword && e.description.contains("cosign.key")
                && e.description.contains("password")
                && !e.description.contains("hunter2")
        }
    }

    @Test("a missing cosign.password is reported with what to do")
    func missingPassword() throws {
        let dir = try TemporaryDirectory()
        _ = try SigningSecrets.writeCosign(try PrivateKey.generate(.ecdsaP256), password: Data("pw".utf8), to: dir.url)
        try FileManager.default.removeItem(at: dir.file("cosign.password"))
        #expect(throws: SigningError.self) { try SigningSecrets.loadSigner(from: dir.url) }
        do {
            _ = try SigningSecrets.loadSigner(from: dir.url)
        } catch {
            #expect(error.code == .missingPassword)
            #expect(error.description.contains("cosign.password"))
        }
    }

    @Test("the legacy ENCRYPTED COSIGN PRIVATE KEY label is accepted")
    func legacyLabel() throws {
        let key = try PrivateKey.generate(.ecdsaP256)
        let pem = try CosignKey.encrypt(key, password: Data("pw".utf8)).replacingOccurrences(
            of: "ENCRYPTED SIGSTORE PRIVATE KEY", with: "ENCRYPTED COSIGN PRIVATE KEY")
        let loaded = try CosignKey.decrypt(pem: pem, password: Data("pw".utf8), file: "cosign.key")
        #expect(loaded.publicKey.pem == key.publicKey.pem)
    }

    @Test(
        "damaged cosign keys get clear errors",
        arguments: [
            (
                "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nbm90IGpzb24=\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
                "JSON is not valid"
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
                "expected a ENCRYPTED SIGSTORE PRIVATE KEY"
            ),
            ("garbage", "no PEM block"),
        ])
    func damaged(pem: String, fragment: String) {
        #expect {
            _ = try CosignKey.decrypt(pem: pem, password: Data(), file: "cosign.key")
        } throws: { error in
            (error as? SigningError)?.description.contains(fragment) == true
        }
    }

    @Test("x509.pem wins over cosign.key, as in Chains; an empty directory says what to create")
    func precedence() throws {
        let dir = try TemporaryDirectory()
        #expect {
            _ = try SigningSecrets.loadSigner(from: dir.url)
        } throws: { error in
            (error as? SigningError)?.description.contains("looked for: [x509.pem, cosign.key]") == true
        }
        _ = try SigningSecrets.writeCosign(try PrivateKey.generate(.ecdsaP256), password: Data("pw".utf8), to: dir.url)
        #expect(try SigningSecrets.loadSigner(from: dir.url).origin.hasSuffix("cosign.key"))
        _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ed25519), to: dir.url)
        let signer = try SigningSecrets.loadSigner(from: dir.url)
        #expect(signer.origin.hasSuffix("x509.pem"))
        #expect(signer.key.algorithmName == "Ed25519")
    }
}
