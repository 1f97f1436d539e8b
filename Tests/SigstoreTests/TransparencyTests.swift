import ChainsTesting
import Crypto
import Foundation
import HTTPTransport
import Signing
import Testing
import X509

@testable import Sigstore

/// A certificate chain from `fulcio` for `key`, with a token from `issuer` for `subject`; our client checks it against
/// `root` when one is given.
func fulcioChain(
    _ fulcio: FulcioSimulator, issuer: TestOIDCIssuer, subject: String, root: TrustedRoot? = nil,
    key: P256.Signing.PrivateKey = P256.Signing.PrivateKey()
) async throws -> [Certificate] {
    let http = try AsyncHTTPClientTransport()
    defer { Task { try? await http.shutdown() } }
    let client = FulcioClient(address: URL(string: fulcio.url)!, transport: http, trustedRoot: root)
    return try await client.certificate(
        for: key, token: try IdentityToken(jwt: issuer.token(subject: subject), source: "test"))
}

@Suite("SCTs, Merkle proofs, checkpoints, Rekor: the simulator on its own and our client against it", .serialized)
struct TransparencyTests {
    let k8s = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
    let sa = "system:serviceaccount:tekton-chains:tekton-chains-controller"

    func certificate(_ fulcio: FulcioSimulator, root: TrustedRoot?) async throws -> [Certificate] {
        try await fulcioChain(fulcio, issuer: k8s, subject: sa, root: root)
    }

    @Test("an embedded SCT verifies with the CT log of the trusted root; none, a bad one, or an unknown log is refused")
    func scts() async throws {
        let fulcio = try await FulcioSimulator(issuers: [k8s])
        defer { Task { await fulcio.stop() } }
        let root = try TrustedRoot(json: Data(fulcio.trustedRootJSON.utf8), source: "test")
        #expect(root.ctlogs.count == 1)
        let chain = try await certificate(fulcio, root: root)
        let scts = try SignedCertificateTimestamp.embedded(in: chain[0])
        #expect(scts.count == 1 && scts[0].logID == Data(SHA256.hash(data: fulcio.ctLogPublicKeyDER)))
        #expect(abs(scts[0].date.timeIntervalSinceNow) < 60)
        // The list round-trips through our encoder.
        let reencoded = TLSWriter.vector(TLSWriter.vector(scts[0].serialized(), lengthBytes: 2), lengthBytes: 2)
        #expect(try SignedCertificateTimestamp.parseList(reencoded) == scts)
        // The precertificate TBS no longer holds the SCT extension, and is shorter by exactly that extension.
        let tbs = try SignedCertificateTimestamp.precertificateTBS(of: chain[0])
        #expect(tbs.count < chain[0].tbsCertificateBytes.count)

        for (mode, expected) in [
            (FulcioSimulator.SCTMode.none, "carries no signed certificate timestamp"),
            (.badSignature, "invalid signature"),
        ] {
            fulcio.setSCTMode(mode)
            await #expect(throws: FulcioError.self) { _ = try await certificate(fulcio, root: root) }
            do {
                _ = try await certificate(fulcio, root: root)
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
        // Without ctlogs in the root (an older root), the SCT is not required.
        fulcio.setSCTMode(.none)
        var noCT = root
        noCT.ctlogs = []
        _ = try await certificate(fulcio, root: noCT)
        // Another Fulcio's CT log is not ours.
        fulcio.setSCTMode(.embedded)
        let other = try await FulcioSimulator(issuers: [k8s])
        defer { Task { await other.stop() } }
        var foreign = root
        foreign.ctlogs = try TrustedRoot(json: Data(other.trustedRootJSON.utf8), source: "other").ctlogs
        do {
            _ = try await certificate(fulcio, root: foreign)
            Issue.record("an SCT from a log the root does not list was accepted")
        } catch {
            #expect("\(error)".contains("does not list"), "\(error)")
        }
    }

    @Test(
        "inclusion proofs from the simulator's tree verify for every index of trees of 1…33 leaves; altered ones do not"
    )
    func merkle() async throws {
        for size in 1...33 {
            let bodies = (0..<size).map { Data("entry \($0)".utf8) }
            let root = TestMerkleTree.root(bodies)
            let leaves = bodies.map(Merkle.leafHash)
            for index in 0..<size {
                let path = TestMerkleTree.path(index, leaves)
                let computed = Merkle.root(
                    fromInclusionProof: path, index: UInt64(index), size: UInt64(size), leafHash: leaves[index])
                #expect(computed == root, "size \(size) index \(index)")
                if !path.isEmpty {
                    var bad = path
                    bad[0][0] ^= 1
                    #expect(
                        Merkle.root(
                            fromInclusionProof: bad, index: UInt64(index), size: UInt64(size), leafHash: leaves[index])
                            != root)
                }
                if size > 1 {
                    let wrongIndex = (index + 1) % size
                    #expect(
                        Merkle.root(
                            fromInclusionProof: path, index: UInt64(wrongIndex), size: UInt64(size),
                            leafHash: leaves[index]) != root)
                }
            }
        }
        // RFC 6962's empty-tree hash, and a path that is too long for its tree.
        #expect(TestMerkleTree.root([]).hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Merkle.root(fromInclusionProof: [Data(count: 32)], index: 0, size: 1, leafHash: Data(count: 32)) == nil)
    }

    @Test("canonical JSON is RFC 8785 for what logs sign: sorted keys, no spaces, JCS string escapes")
    func canonicalJSON() {
        let value = CanonicalJSON.object([
            "logIndex": .integer(12), "body": .string("a\"b\\c\n\u{01}é"), "integratedTime": .integer(-3),
            "logID": .array([.string("x"), .object([:])]),
        ])
        #expect(value.text == #"{"body":"a\"b\\c\n\u0001é","integratedTime":-3,"logID":["x",{}],"logIndex":12}"#)
    }

    func rekorClient(
        _ rekor: RekorSimulator, logs: [TrustedRoot.LogInstance]? = nil
    ) throws -> (
        RekorClient, AsyncHTTPClientTransport
    ) {
        let http = try AsyncHTTPClientTransport()
        let trusted =
            logs
            ?? [
                TrustedRoot.LogInstance(
                    baseURL: rekor.url, publicKey: rekor.publicKeyDER,
                    keyID: Data(SHA256.hash(data: rekor.publicKeyDER)), validFor: nil)
            ]
        return (RekorClient(address: URL(string: rekor.url)!, transport: http, logs: trusted), http)
    }

    @Test(
        "hashedrekord and dsse entries: added, checked (SET, proof, checkpoint, body); the same entry again is the 409 one"
    )
    func rekorEntries() async throws {
        let rekor = try await RekorSimulator()
        defer { Task { await rekor.stop() } }
        let (client, http) = try rekorClient(rekor)
        defer { Task { try? await http.shutdown() } }
        let key = P256.Signing.PrivateKey()
        let pem = key.publicKey.pemRepresentation
        var entries: [RekorEntry] = []
        var signatures: [Data] = []
        for i in 0..<5 {
            let payload = Data("payload \(i)".utf8)
            let signature = try key.signature(for: payload).derRepresentation
            signatures.append(signature)
            entries.append(
                try await client.add(
                    .hashedRekord(
                        payloadSHA256: Data(SHA256.hash(data: payload)), signature: signature, verifierPEM: pem)))
        }
        #expect(entries.map(\.logIndex) == [0, 1, 2, 3, 4])
        #expect(entries[4].inclusionProof?.treeSize == "5" && entries[4].kind == "hashedrekord")
        #expect(entries[2].annotationValue == "\(rekor.url)/api/v1/log/entries?logIndex=2")
        // The same signature again: Rekor's 409, and the existing entry is fetched — not a second one.
        let payload = Data("payload 1".utf8)
        let again = try await client.add(
            .hashedRekord(
                payloadSHA256: Data(SHA256.hash(data: payload)), signature: signatures[1], verifierPEM: pem))
        #expect(again.uuid == entries[1].uuid && again.logIndex == 1)
        #expect(rekor.stats.created == 5 && rekor.stats.conflicts == 1 && rekor.entryCount == 5)
        // An old entry's proof is against the grown tree now, and still verifies.
        #expect(again.inclusionProof?.treeSize == "5")

        let statement = Data(#"{"_type":"https://in-toto.io/Statement/v1","subject":[]}"#.utf8)
        let pae = DSSE.pae(payloadType: DSSE.inTotoPayloadType, payload: statement)
        let envelope = DSSE.envelope(
            payload: statement, payloadType: DSSE.inTotoPayloadType, keyID: "",
            signature: try key.signature(for: pae).derRepresentation)
        let dsse = try await client.add(.dsse(envelope: envelope, verifierPEM: pem))
        #expect(dsse.kind == "dsse" && dsse.logIndex == 5)
        let body = try JSONSerialization.jsonObject(with: dsse.body) as? [String: Any]
        let spec = body?["spec"] as? [String: Any]
        #expect(spec?["proposedContent"] == nil && spec?["envelopeHash"] != nil)
        #expect(
            (spec?["payloadHash"] as? [String: Any])?["value"] as? String
                == Data(SHA256.hash(data: statement)).hexString)

        // The bundle form: base64 bytes, int64 as strings.
        let bundled = dsse.bundleEntry
        #expect(bundled.logIndex == "5" && bundled.kindVersion.kind == "dsse" && bundled.inclusionPromise != nil)
        #expect(bundled.canonicalizedBody == dsse.body.base64EncodedString())
    }

    @Test(
        "what does not verify is refused: a forged SET, another log's key, an altered checkpoint, a body that is not ours"
    )
    func rekorRefusals() async throws {
        let rekor = try await RekorSimulator()
        defer { Task { await rekor.stop() } }
        let (client, http) = try rekorClient(rekor)
        defer { Task { try? await http.shutdown() } }
        let key = P256.Signing.PrivateKey()
        let payload = Data("p".utf8)
        let proposal = RekorProposal.hashedRekord(
            payloadSHA256: Data(SHA256.hash(data: payload)),
            signature: try key.signature(for: payload).derRepresentation,
            verifierPEM: key.publicKey.pemRepresentation)
        let entry = try await client.add(proposal)
        let logs = client.logs
        try RekorClient.verify(entry, logs: logs)

        var forged = entry
        forged.integratedTime += 1
        #expect(throws: CertificateCheckError.self) { try RekorClient.verify(forged, logs: logs) }
        var altered = entry
        let envelope = try #require(altered.inclusionProof?.checkpoint?.envelope)
        altered.inclusionProof?.checkpoint?.envelope = envelope.replacingOccurrences(
            of: "rekor.test - ", with: "rekor.evil - ")
        #expect(throws: CertificateCheckError.self) { try RekorClient.verify(altered, logs: logs) }
        let stranger = P256.Signing.PrivateKey().publicKey.derRepresentation
        let foreign = [
            TrustedRoot.LogInstance(
                baseURL: "x", publicKey: stranger, keyID: Data(SHA256.hash(data: stranger)), validFor: nil)
        ]
        #expect(throws: CertificateCheckError.self) { try RekorClient.verify(entry, logs: foreign) }
        // The log recorded another signature than the one we sent: not ours.
        let other = RekorProposal.hashedRekord(
            payloadSHA256: Data(SHA256.hash(data: payload)),
            signature: try key.signature(for: payload).derRepresentation,
            verifierPEM: key.publicKey.pemRepresentation)
        #expect(throws: RekorError.self) { try RekorClient.check(entry, matches: other, log: "test") }

        // A signature that does not verify is Rekor's 400: not retryable. An outage is.
        let bad = RekorProposal.hashedRekord(
            payloadSHA256: Data(SHA256.hash(data: Data("q".utf8))),
            signature: try key.signature(for: payload).derRepresentation, verifierPEM: key.publicKey.pemRepresentation)
        do {
            _ = try await client.add(bad)
            Issue.record("a bad signature was logged")
        } catch let error as RekorError {
            #expect(error.status == 400 && !error.isRetryable)
        }
        rekor.setDown(true)
        do {
            _ = try await client.add(proposal)
            Issue.record("a log that is down answered")
        } catch let error as RekorError {
            #expect(error.status == 503 && error.isRetryable && "\(error)".contains(rekor.url))
        }
        rekor.setDown(false)
        // No trusted root: the key is fetched from the log itself (what Tekton Chains does).
        let (tofu, http2) = try rekorClient(rekor, logs: [])
        defer { Task { try? await http2.shutdown() } }
        #expect(try await tofu.add(proposal).uuid == entry.uuid)
    }

    @Test(
        "keyless verification: chain, SCT, identity, issuer at the log's time; no entry, a forged time, a stranger fail"
    )
    func keylessVerification() async throws {
        let fulcio = try await FulcioSimulator(issuers: [k8s])
        let rekor = try await RekorSimulator()
        defer {
            Task {
                await fulcio.stop()
                await rekor.stop()
            }
        }
        let root = try TrustedRoot(
            json: Data(SigstoreTrust.trustedRoot(fulcio: fulcio, rekor: rekor).utf8), source: "test")
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let key = P256.Signing.PrivateKey()
        let chain = try await FulcioClient(address: URL(string: fulcio.url)!, transport: http, trustedRoot: root)
            .certificate(for: key, token: try IdentityToken(jwt: k8s.token(subject: sa), source: "test"))
        let payload = Data("artifact".utf8)
        let signature = try key.signature(for: payload).derRepresentation
        let pem = try chain[0].serializeAsPEM().pemString + "\n"
        let entry = try await RekorClient(address: URL(string: rekor.url)!, transport: http, logs: root.tlogs).add(
            .hashedRekord(payload: payload, signature: signature, verifierPEM: pem))
        let identity = "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller"
        let policy = KeylessPolicy(identity: .exact(identity), issuer: .exact(k8s.url), trustedRoot: root)
        let signer = try await KeylessVerifier.verify(leaf: chain[0], chain: [], entry: entry, policy: policy)
        #expect(signer.identity == identity && signer.issuer == k8s.url && signer.logIndex == entry.logIndex)
        #expect(signer.publicKey.isValidSignature(signature, for: payload))

        func refusal(_ entry: RekorEntry?, _ policy: KeylessPolicy) async -> String {
            do {
                _ = try await KeylessVerifier.verify(leaf: chain[0], chain: [], entry: entry, policy: policy)
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(await refusal(nil, policy).contains("no transparency-log entry"))
        var late = entry
        late.integratedTime += 3600
        #expect(await refusal(late, policy).contains("signed entry timestamp"))
        var wrongIssuer = policy
        wrongIssuer.issuer = .exact("https://accounts.google.com")
        #expect(await refusal(entry, wrongIssuer).contains("OIDC issuer"))
        var pattern = policy
        pattern.identity = .pattern("^spiffe://")
        #expect(await refusal(entry, pattern).contains("does not match"))
        // A trust root whose CT log is another one: the certificate's SCT is from a log it does not list.
        let other = try await FulcioSimulator(issuers: [k8s])
        defer { Task { await other.stop() } }
        var otherCT = policy
        otherCT.trustedRoot.ctlogs = try TrustedRoot(json: Data(other.trustedRootJSON.utf8), source: "other").ctlogs
        #expect(await refusal(entry, otherCT).contains("SCT"))
    }
}
