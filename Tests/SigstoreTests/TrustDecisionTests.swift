import ChainsTesting
import Crypto
import Foundation
import HTTPTransport
import Signing
import Testing
import X509

@testable import Sigstore

/// Each test makes exactly one trust decision wrong, everything else right, and asserts the refusal and its reason:
/// a negative test that changes something obvious fails at an earlier check and holds nothing (the mutation probe's
/// finding). Windows are tried at both edges: the end is inclusive, one second past is not.
@Suite("Trust decisions, one at a time: validity windows, log answers, identities", .serialized)
struct TrustDecisionTests {
    let k8s = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
    let sa = "system:serviceaccount:tekton-chains:tekton-chains-controller"

    /// `[start, end]` around `moment`: the edges exactly on it (held), then one second past each edge (not held).
    static func windows(around moment: Date) -> [(TrustedRoot.ValidFor, held: Bool)] {
        let day: TimeInterval = 86400
        return [
            (.init(start: moment - day, end: moment), true),
            (.init(start: moment, end: moment + day), true),
            (.init(start: moment - day, end: moment - 1), false),
            (.init(start: moment + 1, end: moment + day), false),
            (.init(start: nil, end: nil), true),
        ]
    }

    /// Runs `check` with each of `windows(around: moment)`: it must pass inside, and outside fail with `refusal`.
    static func expectWindows(
        around moment: Date, refusal: String, sourceLocation: SourceLocation = #_sourceLocation,
        _ check: (TrustedRoot.ValidFor) throws -> Void
    ) {
        for (window, held) in windows(around: moment) {
            do {
                try check(window)
                #expect(held, "accepted outside \(window)", sourceLocation: sourceLocation)
            } catch {
                #expect(!held, "\(window): \(error)", sourceLocation: sourceLocation)
                #expect("\(error)".contains(refusal), "\(error)", sourceLocation: sourceLocation)
            }
        }
    }

    func logInstance(_ der: Data, validFor: TrustedRoot.ValidFor?) -> TrustedRoot.LogInstance {
        TrustedRoot.LogInstance(
            baseURL: "http://log.test", publicKey: der, keyID: Data(SHA256.hash(data: der)), validFor: validFor)
    }

    /// Two entries in a simulated Rekor; the second (index 1, tree of 2) with its proof and checkpoint.
    func loggedEntry() async throws -> (RekorSimulator, RekorEntry) {
        let rekor = try await RekorSimulator()
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let client = RekorClient(
            address: URL(string: rekor.url)!, transport: http, logs: [logInstance(rekor.publicKeyDER, validFor: nil)])
        let key = P256.Signing.PrivateKey()
        var entry: RekorEntry?
        for text in ["first", "second"] {
            let payload = Data(text.utf8)
            entry = try await client.add(
                .hashedRekord(
                    payload: payload, signature: try key.signature(for: payload).derRepresentation,
                    verifierPEM: key.publicKey.pemRepresentation))
        }
        return (rekor, try #require(entry))
    }

    @Test("a Rekor key vouches only inside its validFor: an entry integrated one second outside is refused")
    func tlogWindow() async throws {
        let (rekor, entry) = try await loggedEntry()
        defer { Task { await rekor.stop() } }
        Self.expectWindows(around: entry.integratedDate, refusal: "outside the validity of log http://log.test's key") {
            try RekorClient.verify(entry, logs: [logInstance(rekor.publicKeyDER, validFor: $0)])
        }
    }

    @Test("the inclusion proof must lead to the root the signed checkpoint names, for the same tree size")
    func checkpointForAnotherTree() async throws {
        let (rekor, entry) = try await loggedEntry()
        defer { Task { await rekor.stop() } }
        let logs = [logInstance(rekor.publicKeyDER, validFor: nil)]
        try RekorClient.verify(entry, logs: logs)
        let proof = try #require(entry.inclusionProof)
        let root = try #require(Data(base64Encoded: proof.rootHash))
        #expect(proof.treeSize == "2")
        // Checkpoints the log's own key signed (a split view): another root for this size; this root for another size.
        for (size, checkpointRoot) in [(2, Data(SHA256.hash(data: Data("another tree".utf8)))), (3, root)] {
            var split = entry
            split.inclusionProof?.checkpoint?.envelope = rekor.signedCheckpoint(size: size, root: checkpointRoot)
            do {
                try RekorClient.verify(split, logs: logs)
                Issue.record("a checkpoint for another tree (size \(size)) was accepted")
            } catch {
                #expect("\(error)".contains("the checkpoint is for another tree than the inclusion proof"), "\(error)")
            }
        }
        // And the same signed note for this very tree is accepted: it is the comparison that refused the others.
        var same = entry
        same.inclusionProof?.checkpoint?.envelope = rekor.signedCheckpoint(size: 2, root: root)
        try RekorClient.verify(same, logs: logs)
    }

    /// What Rekor records for a hashedrekord / dsse proposal, as its canonicalizer writes it.
    func recorded(kind: String, spec: [String: Any]) throws -> RekorEntry {
        let body = try JSONSerialization.data(
            withJSONObject: ["apiVersion": "0.0.1", "kind": kind, "spec": spec], options: [.sortedKeys])
        return RekorEntry(
            id: String(repeating: "a", count: 80), logIndex: 0, integratedTime: 1, logID: Data(count: 32), body: body,
            kind: kind, signedEntryTimestamp: Data(), inclusionProof: nil, logURL: "http://log.test")
    }

    @Test("the log's recorded entry is ours only when every field is: digest, algorithm, signature, verifier, kind")
    func recordedEntryMatchesProposal() throws {
        let key = P256.Signing.PrivateKey()
        let other = P256.Signing.PrivateKey()
        let payload = Data("payload".utf8)
        let digest = Data(SHA256.hash(data: payload))
        let signature = try key.signature(for: payload).derRepresentation
        let pem = key.publicKey.pemRepresentation
        func hashed(algorithm: String = "sha256", digest: Data, signature: Data, pem: String) throws -> RekorEntry {
            try recorded(
                kind: "hashedrekord",
                spec: [
                    "data": ["hash": ["algorithm": algorithm, "value": digest.hexString]],
                    "signature": [
                        "content": signature.base64EncodedString(),
                        "publicKey": ["content": Data(pem.utf8).base64EncodedString()],
                    ],
                ])
        }
        let proposal = RekorProposal.hashedRekord(payloadSHA256: digest, signature: signature, verifierPEM: pem)
        try RekorClient.check(try hashed(digest: digest, signature: signature, pem: pem), matches: proposal, log: "t")
        let otherDigest = Data(SHA256.hash(data: Data("other".utf8)))
        let otherSignature = try key.signature(for: Data("other".utf8)).derRepresentation
        let wrong: [(String, RekorEntry)] = [
            ("digest", try hashed(digest: otherDigest, signature: signature, pem: pem)),
            ("algorithm", try hashed(algorithm: "sha512", digest: digest, signature: signature, pem: pem)),
            ("signature", try hashed(digest: digest, signature: otherSignature, pem: pem)),
            ("verifier", try hashed(digest: digest, signature: signature, pem: other.publicKey.pemRepresentation)),
        ]
        for (field, entry) in wrong {
            #expect(throws: RekorError.self, "another \(field) was taken for ours") {
                try RekorClient.check(entry, matches: proposal, log: "t")
            }
        }

        // dsse: the payload hash, each of our signatures, its verifier.
        let statement = Data(#"{"_type":"https://in-toto.io/Statement/v1"}"#.utf8)
        let pae = DSSE.pae(payloadType: DSSE.inTotoPayloadType, payload: statement)
        let dsseSignature = try key.signature(for: pae).derRepresentation
        let envelope = DSSE.envelope(
            payload: statement, payloadType: DSSE.inTotoPayloadType, keyID: "", signature: dsseSignature)
        func dsse(payload: Data, signature: Data, pem: String) throws -> RekorEntry {
            try recorded(
                kind: "dsse",
                spec: [
                    "payloadHash": ["algorithm": "sha256", "value": Data(SHA256.hash(data: payload)).hexString],
                    "signatures": [
                        [
                            "signature": signature.base64EncodedString(),
                            "verifier": Data(pem.utf8).base64EncodedString(),
                        ]
                    ],
                ])
        }
        let dsseProposal = RekorProposal.dsse(envelope: envelope, verifierPEM: pem)
        try RekorClient.check(
            try dsse(payload: statement, signature: dsseSignature, pem: pem), matches: dsseProposal, log: "t")
        let wrongDSSE: [(String, RekorEntry)] = [
            ("payload", try dsse(payload: Data("{}".utf8), signature: dsseSignature, pem: pem)),
            ("signature", try dsse(payload: statement, signature: signature, pem: pem)),
            (
                "verifier",
                try dsse(payload: statement, signature: dsseSignature, pem: other.publicKey.pemRepresentation)
            ),
            // The same body under the other kind.
            ("kind", try hashed(digest: digest, signature: signature, pem: pem)),
        ]
        for (field, entry) in wrongDSSE {
            #expect(throws: RekorError.self, "another \(field) was taken for our dsse entry") {
                try RekorClient.check(entry, matches: dsseProposal, log: "t")
            }
        }
    }

    @Test("a CT log key vouches only inside its validFor: an SCT dated one second outside is refused")
    func ctlogWindow() async throws {
        let fulcio = try await FulcioSimulator(issuers: [k8s])
        defer { Task { await fulcio.stop() } }
        let chain = try await fulcioChain(fulcio, issuer: k8s, subject: sa)
        let sct = try #require(try SignedCertificateTimestamp.embedded(in: chain[0]).first)
        Self.expectWindows(around: sct.date, refusal: "dated outside the log key's validity") {
            let ctlogs = [logInstance(fulcio.ctLogPublicKeyDER, validFor: $0)]
            _ = try SignedCertificateTimestamp.verifyEmbedded(leaf: chain[0], issuer: chain[1], ctlogs: ctlogs)
        }
    }

    @Test("Fulcio's answer must end in a CA of the trusted root valid when the certificate was issued: both edges")
    func fulcioCAWindow() async throws {
        let fulcio = try await FulcioSimulator(issuers: [k8s])
        defer { Task { await fulcio.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let key = P256.Signing.PrivateKey()
        let chain = try await fulcioChain(fulcio, issuer: k8s, subject: sa, key: key)
        let root = try TrustedRoot(json: Data(fulcio.trustedRootJSON.utf8), source: "test")
        Self.expectWindows(
            around: chain[0].notValidBefore, refusal: "does not end in a Fulcio CA of the trusted root"
        ) {
            var windowed = root
            windowed.certificateAuthorities[0].validFor = $0
            try FulcioClient(address: URL(string: fulcio.url)!, transport: http, trustedRoot: windowed)
                .check(chain, key: key)
        }
    }

    @Test("--certificate-identity and --certificate-oidc-issuer are exact: no prefix, suffix, case or substring match")
    func exactIdentity() {
        let identity = IdentityMatch.exact("https://github.com/org")
        #expect(identity.matches("https://github.com/org"))
        for near in [
            "https://github.com/org-evil", "https://github.com/or", "https://github.com/ORG",
            "xhttps://github.com/org", "https://github.com/org/", "",
        ] {
            #expect(!identity.matches(near), "\(near) matched \(identity)")
        }
        // An anchored pattern is as strict; an unanchored one matches anywhere, as cosign's Go regexp does.
        #expect(!IdentityMatch.pattern("^https://github.com/org$").matches("https://github.com/org-evil"))
        #expect(IdentityMatch.pattern("github.com/org").matches("https://github.com/org-evil"))
        #expect(!IdentityMatch.pattern("(").matches("("), "a pattern that does not compile matches nothing")
    }
}

/// Fulcio's leaf profile and a bundle entry's time, one condition at a time.
@Suite("Trust decisions, one at a time: Fulcio's leaf profile, an entry's time")
struct LeafProfileTests {
    /// A CA and a leaf with exactly the extensions asked for; the leaf is otherwise a Fulcio leaf.
    static func chain(digitalSignature: Bool = true, codeSigning: Bool = true, san: Bool = true) throws -> [Certificate]
    {
        let caKey = P256.Signing.PrivateKey()
        let leafKey = P256.Signing.PrivateKey()
        let now = Date()
        let caName = try DistinguishedName { CommonName("sigstore") }
        let ca = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey), notValidBefore: now - 3600,
            notValidAfter: now + 3600, issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true))
            }, issuerPrivateKey: .init(caKey))
        let leaf = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(leafKey.publicKey), notValidBefore: now - 60,
            notValidAfter: now + 600, issuer: caName, subject: DistinguishedName(),
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(KeyUsage(digitalSignature: digitalSignature, keyEncipherment: !digitalSignature))
                try ExtendedKeyUsage(codeSigning ? [.codeSigning] : [.emailProtection])
                if san { Critical(SubjectAlternativeNames([.uniformResourceIdentifier("spiffe://example.org/ci")])) }
            }, issuerPrivateKey: .init(caKey))
        return [leaf, ca]
    }

    @Test(
        "a leaf without digitalSignature, without codeSigning, or without a SAN does not validate; a Fulcio leaf does")
    func leafProfile() async throws {
        let good = try Self.chain()
        let root = TrustedRoot(issuerOf: good)
        let path = try await KeylessVerifier.validatedPath(leaf: good[0], chain: [], at: Date(), root: root)
        #expect(path.count == 2)
        for (chain, reason) in [
            (try Self.chain(digitalSignature: false), "the leaf's KeyUsage lacks digitalSignature"),
            (try Self.chain(codeSigning: false), "the leaf's extended key usage lacks codeSigning"),
            (try Self.chain(san: false), "the leaf has no subject alternative name"),
        ] {
            do {
                _ = try await KeylessVerifier.validatedPath(
                    leaf: chain[0], chain: [], at: Date(), root: TrustedRoot(issuerOf: chain))
                Issue.record("accepted a leaf that \(reason)")
            } catch {
                #expect("\(error)".contains(reason), "\(error)")
            }
        }
    }

    @Test("a bundle's entry integrated more than a minute in the future is refused; within the minute it is not")
    func entryInTheFuture() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let der = P256.Signing.PrivateKey().publicKey.derRepresentation
        let logs = [
            TrustedRoot.LogInstance(
                baseURL: "http://log.test", publicKey: der, keyID: Data(SHA256.hash(data: der)),
                validFor: .init(start: now - 86400, end: nil))
        ]
        func entry(at time: Date) -> RekorEntry {
            RekorEntry(
                id: "", logIndex: 0, integratedTime: Int64(time.timeIntervalSince1970), logID: logs[0].keyID,
                body: Data(), kind: "hashedrekord", signedEntryTimestamp: Data(), inclusionProof: nil, logURL: "")
        }
        try BundleVerifier.checkEntryTime(entry(at: now + 59), logs: logs, now: now)
        try BundleVerifier.checkEntryTime(entry(at: now + 60), logs: logs, now: now)
        do {
            try BundleVerifier.checkEntryTime(entry(at: now + 61), logs: logs, now: now)
            Issue.record("an entry 61 s in the future was accepted")
        } catch {
            #expect("\(error)".contains("is in the future"), "\(error)")
        }
    }
}
