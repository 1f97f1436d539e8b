import Crypto
import Foundation
import Signing

/// Fixed key material, so that a harness can check a signature path without a key of the fuzzer's making.
package enum FuzzKeys {
    package static let p256 = try! P256.Signing.PrivateKey(rawRepresentation: Data(repeating: 7, count: 32))
    package static let publicKey = PublicKey.p256(p256.publicKey)
}

extension FuzzHarness {
    static let signing: [FuzzHarness] = [
        FuzzHarness(name: "dsse-envelope", summary: "a DSSE envelope, verified against a fixed P-256 key") { data in
            var findings = Findings()
            if let payload = DSSE.verify(envelope: data, publicKey: FuzzKeys.publicKey) {
                // Only an envelope we could have made verifies: its signature is over PAE of its own payload.
                let envelope = try? JSONDecoder().decode(DSSE.Envelope.self, from: data)
                findings.check(
                    envelope.flatMap { Data(base64Encoded: $0.payload) } == payload, "verified a payload not its own")
            }
            return findings.list
        },
        FuzzHarness(
            name: "private-key-pem",
            summary: "a PEM file as a signing secret holds it: PKCS#8, SEC1, PKCS#1, public keys, several blocks"
        ) { data in
            var findings = Findings()
            let text = data.text
            _ = PEM.blocks(in: text)
            if let key = try? PrivateKey(pem: text, file: "fuzz") {
                // A key we accept must sign, and its signature must verify with its own public key.
                let message = Data("fuzz".utf8)
                if let signature = try? key.sign(message, hash: .perCurve) {
                    findings.check(
                        key.publicKey.isValidSignature(signature, for: message), "a signature of ours does not verify")
                }
            }
            _ = try? PublicKey(pem: text, file: "fuzz")
            return findings.list
        },
        FuzzHarness(
            name: "cosign-key",
            summary: "an ENCRYPTED SIGSTORE PRIVATE KEY file; the bytes after the first NUL are the password"
        ) { data in
            let (pem, password) = data.halves
            _ = try? CosignKey.decrypt(pem: pem.text, password: password, file: "fuzz")
            return []
        },
    ]
}
