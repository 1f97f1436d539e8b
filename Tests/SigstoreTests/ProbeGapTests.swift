import ChainsTesting
import Crypto
import Foundation
import HTTPTransport
import Signing
import Testing
import X509

@testable import Sigstore

/// Decisions the mutation probe found no test holding (scripts/mutation-probe.sh: tuf-threshold, fulcio-chain).
@Suite("TUF thresholds and Fulcio chains, checked one link at a time")
struct TUFThresholdAndChainTests {
    /// Role metadata with `keys` listed, the role needing `threshold` of them, signed by `signers`.
    func metadata(keys: [P256.Signing.PrivateKey], threshold: Int, signers: [P256.Signing.PrivateKey]) throws -> Data {
        var keyMap: [String: TUFJSON] = [:]
        var ids: [String] = []
        for key in keys {
            let value = TUFJSON.object([
                "keytype": .string("ecdsa"), "scheme": .string("ecdsa-sha2-nistp256"),
                "keyval": .object(["public": .string(key.publicKey.pemRepresentation)]),
            ])
            let id = Data(SHA256.hash(data: try #require(value.canonical))).hexString
            keyMap[id] = value
            ids.append(id)
        }
        let signed: [String: Any] = [
            "_type": "root", "version": 2, "expires": "2099-01-01T00:00:00Z",
            "keys": keyMap.mapValues { value -> [String: Any] in
                [
                    "keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256",
                    "keyval": ["public": value["keyval"]!["public"]!.string!],
                ]
            },
            "roles": ["root": ["keyids": ids, "threshold": threshold]],
        ]
        let json = try JSONSerialization.data(withJSONObject: signed)
        let message = try #require(TUFJSON.parse(json)?.canonical)
        var signatures: [[String: String]] = []
        for signer in signers {
            let index = try #require(
                keys.firstIndex { $0.publicKey.rawRepresentation == signer.publicKey.rawRepresentation })
            let sig = try signer.signature(for: SHA256.hash(data: message)).derRepresentation.hexString
            signatures.append(["keyid": ids[index], "sig": sig])
        }
        return try JSONSerialization.data(withJSONObject: ["signed": signed, "signatures": signatures])
    }

    @Test("a 2-of-2 role signed by one key is not signed; by both it is; the same key twice counts once")
    func threshold() throws {
        let (a, b) = (P256.Signing.PrivateKey(), P256.Signing.PrivateKey())
        for (signers, expected) in [([a], false), ([a, b], true), ([a, a], false), ([b], false)] {
            let data = try metadata(keys: [a, b], threshold: 2, signers: signers)
            let parsed = try TUFMetadata(data, role: "root", source: "test")
            let role = try #require(parsed.role("root"))
            #expect(parsed.isSigned(by: role, keys: parsed.keys) == expected, "\(signers.count) signature(s)")
        }
    }

    @Test("a chain whose next certificate did not sign the leaf is refused, though the leaf is for our key")
    func brokenChain() async throws {
        let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
        let ours = try await FulcioSimulator(issuers: [issuer])
        let other = try await FulcioSimulator(issuers: [issuer])
        let http = try AsyncHTTPClientTransport()
        defer {
            Task {
                await ours.stop()
                await other.stop()
                try? await http.shutdown()
            }
        }
        let token = try IdentityToken(
            jwt: issuer.token(subject: "system:serviceaccount:tekton-chains:tekton-chains-controller"), source: "t")
        let key = P256.Signing.PrivateKey()
        let client = FulcioClient(address: URL(string: ours.url)!, transport: http)
        let chain = try await client.certificate(for: key, token: token)
        let otherChain = try await FulcioClient(address: URL(string: other.url)!, transport: http)
            .certificate(for: P256.Signing.PrivateKey(), token: token)
        #expect(chain.count >= 2)
        #expect(throws: Never.self) { try client.check(chain, key: key) }
        #expect(throws: FulcioError.self) { try client.check([chain[0]] + otherChain.dropFirst(), key: key) }
    }
}
