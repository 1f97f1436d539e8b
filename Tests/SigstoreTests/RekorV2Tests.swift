import ChainsTesting
import Crypto
import Foundation
import HTTPTransport
import Signing
import Testing

@testable import Sigstore

/// The Rekor v2 simulator, proven by sigstore-python (a real Rekor v2 client: it signs through it and verifies what
/// it made offline), and our Rekor v2 client against it: entries checked as a verifier checks them, a duplicate read
/// back from the log's tiles, refusals before anything is sent.
@Suite("Rekor v2: the simulator checked by sigstore-python, our client against it", .serialized)
struct RekorV2Tests {
    let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
    let identity = "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller"

    @Test(
        "sigstore-python signs a blob and a DSSE statement through Fulcio, Rekor v2 (Ed25519 or ECDSA log key) and a TSA; both verify offline",
        arguments: [RekorV2Simulator.LogKey.ed25519, .ecdsaP256])
    func sigstorePythonSignsThroughRekorV2(logKey: RekorV2Simulator.LogKey) async throws {
        let dir = try TemporaryDirectory()
        let stack = try await SigstoreStack(directory: dir, log: .v2, logKey: logKey, issuer: issuer)
        defer { Task { await stack.stop() } }
        let (rekor, tsaURL) = (try #require(stack.rekorV2), try #require(stack.tsaURL))
        let rootJSON = stack.trustedRootJSON
        let trust = try dir.write("trust.json", stack.clientTrustConfigJSON)
        let token = try dir.write("token", stack.token())
        let artifact = try dir.write("artifact.txt", "built by a pipeline\n")
        let bytes = try Data(contentsOf: artifact)
        let root = try TrustedRoot(json: Data(rootJSON.utf8), source: "test")
        let authority = BundleAuthority.keyless(identity: .exact(identity), issuer: .exact(issuer.url))
        for dsse in [false, true] {
            let out = dir.file(dsse ? "dsse.sigstore.json" : "blob.sigstore.json")
            let signed = try await Python.run(
                "sigstore_sign.py", [trust.path, token.path, artifact.path, out.path] + (dsse ? ["--dsse"] : []))
            #expect(signed.status == 0, "\(signed.stderr)")
            // sigstore-python verifies what it made with the simulator (checkpoint, inclusion proof, timestamp).
            let digest = "sha256:" + Data(SHA256.hash(data: bytes)).hexString
            let checked = try await Python.run(
                "sigstore_verify.py", [trust.path, out.path, identity, issuer.url, dsse ? digest : artifact.path])
            #expect(checked.status == 0, "\(checked.stdout) \(checked.stderr)")
            // So do we; the entry is hashedrekord 0.0.2 (for DSSE over its PAE), and time is the timestamp's.
            let bundle = try Data(contentsOf: out)
            let entry = try #require(try ParsedBundle(bundle).entries.first)
            #expect(entry.kindVersion.kind == "hashedrekord" && entry.kindVersion.version == "0.0.2")
            #expect(entry.integratedTime == nil)
            let verified = try await BundleVerifier.verify(
                bundle, artifact: .bytes(bytes), authority: authority, trustedRoot: root)
            #expect(!verified.timeFromLog && verified.timestampedBy == [tsaURL] && verified.logIndex >= 0)
        }
        #expect(rekor.stats.created == 2)
    }

    /// A key and a trusted root naming the simulator, and our client for it.
    func client(
        _ rekor: RekorV2Simulator, _ transport: AsyncHTTPClientTransport
    ) throws -> (RekorV2Client, KeySigner, TrustedRoot) {
        let key = KeySigner(key: try PrivateKey.generate(.ecdsaP256), hash: .sha256Always, origin: "test")
        let root = try TrustedRoot(
            json: Data(SigstoreTrust.trustedRoot(tlogs: [rekor.trustedRootLog]).utf8),
            source: "test")
        let client = try #require(
            RekorV2Client(address: URL(string: rekor.url)!, transport: transport, logs: root.tlogs))
        return (client, key, root)
    }

    /// A Rekor v2 simulator and our client for it, for `body`; both stopped after.
    func withLog(
        logKey: RekorV2Simulator.LogKey = .ed25519,
        _ body: (RekorV2Simulator, RekorV2Client, KeySigner, TrustedRoot) async throws -> Void
    ) async throws {
        let rekor = try await RekorV2Simulator(logKey: logKey)
        let transport = try AsyncHTTPClientTransport(timeouts: HTTPTimeouts(request: .seconds(30)))
        defer {
            Task {
                await rekor.stop()
                try? await transport.shutdown()
            }
        }
        let (client, key, root) = try client(rekor, transport)
        try await body(rekor, client, key, root)
    }

    @Test("our client: entries verify; the same entry again is read back from the tiles, at the same index")
    func clientAddsAndRecovers() async throws {
        try await withLog { rekor, client, key, root in
            var proposals: [RekorV2Proposal] = []
            var entries: [TransparencyLogEntry] = []
            // 300 entries: a proof for an early one needs a level-1 tile (the hash of the first 256).
            for n in 0..<300 {
                let payload = Data("payload \(n)".utf8)
                let proposal = try RekorV2Proposal(
                    signed: payload, signature: try key.sign(payload), publicKey: key.publicKey, certificateDER: nil)
                proposals.append(proposal)
                entries.append(try await client.add(proposal))
            }
            #expect(entries.map(\.logIndex) == (0..<300).map(String.init))
            for index in [0, 5, 255, 256, 299] {
                let again = try await client.add(proposals[index])
                #expect(again.logIndex == String(index))
                #expect(again.inclusionProof?.treeSize == "300")
                _ = try RekorV2Entry.verify(again, logs: root.tlogs)
            }
            #expect(rekor.stats.created == 300 && rekor.stats.duplicates == 5 && rekor.stats.tileReads > 0)
        }
    }

    @Test("a write whose answer was lost: the retry finds the entry the log took, and the log holds it once")
    func lostAnswer() async throws {
        try await withLog { rekor, client, key, _ in
            let payload = Data("payload".utf8)
            let proposal = try RekorV2Proposal(
                signed: payload, signature: try key.sign(payload), publicKey: key.publicKey, certificateDER: nil)
            rekor.dropAnswers(count: 1)
            do {
                _ = try await client.add(proposal)
                Issue.record("a 504 must fail the write")
            } catch let error as RekorError {
                #expect(error.isRetryable && error.status == 504, "\(error)")
            }
            let entry = try await client.add(proposal)
            #expect(entry.logIndex == "0" && rekor.entryCount == 1 && rekor.stats.duplicates == 1)
        }
    }

    @Test(
        "refused before sending: pure Ed25519; refused after: a log outside the trusted root, an answer for another entry"
    )
    func refusals() async throws {
        let ed = KeySigner(key: try PrivateKey.generate(.ed25519), hash: .sha256Always, origin: "test")
        #expect(throws: RekorError.self) {
            _ = try RekorV2Proposal(
                signed: Data("x".utf8), signature: try ed.sign(Data("x".utf8)), publicKey: ed.publicKey,
                certificateDER: nil)
        }
        let rekor = try await RekorV2Simulator()
        let other = try await RekorV2Simulator()
        let transport = try AsyncHTTPClientTransport(timeouts: HTTPTimeouts(request: .seconds(30)))
        defer {
            Task {
                await rekor.stop()
                await other.stop()
                try? await transport.shutdown()
            }
        }
        let (client, key, _) = try client(rekor, transport)
        #expect(RekorV2Client(address: URL(string: other.url)!, transport: transport, logs: client.logs) == nil)
        // A log that answers with an entry other than the one proposed (here: another payload's, at another log
        // with the same key in the root) — checked, refused.
        var pointed = client
        pointed.address = URL(string: other.url)!
        let payload = Data("payload".utf8)
        let proposal = try RekorV2Proposal(
            signed: payload, signature: try key.sign(payload), publicKey: key.publicKey, certificateDER: nil)
        await #expect(throws: RekorError.self) { _ = try await pointed.add(proposal) }
        let entry = try await client.add(proposal)
        var forged = proposal
        forged.body.spec.hashedRekordV002?.data = .init(sha256: Data(repeating: 1, count: 32))
        #expect(throws: RekorError.self) { _ = try client.check(entry, proposal: forged) }
    }

    @Test("each check of a Rekor v2 entry refuses what it exists for")
    func entryChecks() async throws {
        try await withLog { rekor, client, key, root in
            for n in 0..<3 {
                let payload = Data("earlier \(n)".utf8)
                _ = try await client.add(
                    try RekorV2Proposal(
                        signed: payload, signature: try key.sign(payload), publicKey: key.publicKey,
                        certificateDER: nil))
            }
            let payload = Data("payload".utf8)
            let entry = try await client.add(
                try RekorV2Proposal(
                    signed: payload, signature: try key.sign(payload), publicKey: key.publicKey, certificateDER: nil))
            _ = try RekorV2Entry.verify(entry, logs: root.tlogs)
            func refused(_ reason: String, _ change: (inout TransparencyLogEntry) -> Void) {
                var altered = entry
                change(&altered)
                #expect(throws: CertificateCheckError.self) { _ = try RekorV2Entry.verify(altered, logs: root.tlogs) }
                do {
                    _ = try RekorV2Entry.verify(altered, logs: root.tlogs)
                } catch {
                    #expect(error.reason.contains(reason), "\(error.reason)")
                }
            }
            let envelope = try #require(entry.inclusionProof?.checkpoint?.envelope)
            // The log named by its Rekor v1-style id (SHA-256 of the key): not the checkpoint key id.
            refused("not a log of the trusted root") {
                $0.logId.keyId = Data(SHA256.hash(data: root.tlogs[0].publicKey)).base64EncodedString()
            }
            refused("says dsse, its body hashedrekord") { $0.kindVersion.kind = "dsse" }
            // Another origin: the Ed25519 key id binds the log's name.
            refused("is not the name of log") {
                $0.inclusionProof?.checkpoint?.envelope = envelope.replacingOccurrences(
                    of: "\(rekor.origin)\n", with: "elsewhere.example\n")
            }
            // The log's signature line under another name (a witness's line, say): not the log's.
            refused("no valid signature of log") {
                $0.inclusionProof?.checkpoint?.envelope = envelope.replacingOccurrences(
                    of: "\u{2014} \(rekor.origin) ", with: "\u{2014} witness.example ")
            }
            refused("does not lead to the checkpoint's root") { $0.logIndex = "1" }
            refused("does not lead to the checkpoint's root") {
                $0.inclusionProof?.hashes.append(Data(repeating: 7, count: 32).base64EncodedString())
            }
            refused("not a hashedrekord or dsse 0.0.2 entry") {
                $0.canonicalizedBody = Data(#"{"apiVersion":"0.0.3","kind":"hashedrekord","spec":{}}"#.utf8)
                    .base64EncodedString()
            }
            // A timestamp outside the log key's validity: refused in the bundle's time check.
            var late = root.tlogs[0]
            late.validFor = .init(start: Date(timeIntervalSinceNow: 86400), end: nil)
            let verified = try RekorV2Entry.verify(entry, logs: [late])
            #expect(throws: CertificateCheckError.self) {
                try BundleVerifier.checkTimeSources(
                    v1: [], v2: [verified], timestamps: [VerifiedTimestamp(genTime: Date(), authority: "tsa")])
            }
            #expect(throws: Never.self) {
                try BundleVerifier.checkTimeSources(
                    v1: [], v2: [try RekorV2Entry.verify(entry, logs: root.tlogs)],
                    timestamps: [VerifiedTimestamp(genTime: Date(), authority: "tsa")])
            }
        }
    }

    @Test("an ECDSA P-256 log key: key id SHA-256(SPKI), DER signatures; entries and read-backs verify; others refused")
    func ecdsaLogKey() async throws {
        try await withLog(logKey: .ecdsaP256) { rekor, client, key, root in
            #expect(rekor.keyID == Data(SHA256.hash(data: rekor.publicKeyDER)))
            var proposals: [RekorV2Proposal] = []
            for n in 0..<20 {
                let payload = Data("payload \(n)".utf8)
                let proposal = try RekorV2Proposal(
                    signed: payload, signature: try key.sign(payload), publicKey: key.publicKey, certificateDER: nil)
                proposals.append(proposal)
                _ = try await client.add(proposal)
            }
            let again = try await client.add(proposals[7])
            #expect(again.logIndex == "7" && rekor.stats.duplicates == 1)
            let entry = try await client.add(proposals[19])
            _ = try RekorV2Entry.verify(entry, logs: root.tlogs)
            // The checkpoint's signature altered (its hint kept): no valid signature of the log.
            let envelope = try #require(entry.inclusionProof?.checkpoint?.envelope)
            let line = try #require(envelope.split(separator: "\n").last { $0.hasPrefix("\u{2014} ") })
            let blob = try #require(Data(base64Encoded: String(line.split(separator: " ")[2])))
            var forged = blob
            forged[forged.count - 1] ^= 0x01
            var altered = entry
            altered.inclusionProof?.checkpoint?.envelope = envelope.replacingOccurrences(
                of: blob.base64EncodedString(), with: forged.base64EncodedString())
            #expect(throws: CertificateCheckError.self) { _ = try RekorV2Entry.verify(altered, logs: root.tlogs) }
            // A root naming the log's id with another ECDSA key: refused, saying so (an ECDSA id has no name in it).
            var other = root.tlogs[0]
            other.publicKey = P256.Signing.PrivateKey().publicKey.derRepresentation
            do throws(CertificateCheckError) {
                _ = try RekorV2Entry.verify(entry, logs: [other])
                Issue.record("a checkpoint verified with a key that is not the log's")
            } catch {
                #expect(error.reason.contains("is not the key its log id names"), "\(error.reason)")
            }
        }
    }

    @Test(
        "dsse 0.0.2 entries of older bundles: verified over the payload's digest; another signature, key or digest refused"
    )
    func dsseEntries() async throws {
        let dir = try TemporaryDirectory()
        let stack = try await SigstoreStack(directory: dir, log: .v2, issuer: issuer)
        defer { Task { await stack.stop() } }
        let (rekor, tsa) = (try #require(stack.rekorV2), try #require(stack.tsa))
        let root = try TrustedRoot(json: Data(stack.trustedRootJSON.utf8), source: "test")
        let key = KeySigner(key: try PrivateKey.generate(.ecdsaP256), hash: .sha256Always, origin: "test")
        let subject = Data(SHA256.hash(data: Data("the image".utf8)))
        let statement = Data(
            (#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"img","digest":{"sha256":""#
                + subject.hexString + #""}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}"#).utf8)
        let envelope = try await DSSE.sign(payload: statement, signer: key)
        let decoded = try JSONDecoder().decode(DSSE.Envelope.self, from: envelope)
        let signature = try #require(Data(base64Encoded: decoded.signatures[0].sig))
        let stamp = try tsa.reply(to: RFC3161.request(signature: signature, nonce: [1, 2, 3, 4, 5, 6, 7, 8]))
        let otherKey = KeySigner(key: try PrivateKey.generate(.ecdsaP256), hash: .sha256Always, origin: "test")

        /// A bundle whose entry is a dsse 0.0.2 body over `payloadDigest`, recording `recorded` by `verifier`.
        func bundle(payloadDigest: Data, recorded: Data, verifier: PublicKey) async throws -> Data {
            let json =
                #"{"apiVersion":"0.0.2","kind":"dsse","spec":{"dsseV002":{"payloadHash":{"algorithm":"SHA2_256","digest":"\#(payloadDigest.base64EncodedString())"},"#
                + #""signatures":[{"content":"\#(recorded.base64EncodedString())","verifier":{"publicKey":{"rawBytes":"\#(verifier.derRepresentation.base64EncodedString())"},"#
                + #""keyDetails":"PKIX_ECDSA_P256_SHA_256"}}]}}}"#
            let canonical = try RekorV2Body(parsing: Data(json.utf8)).canonical
            let answer = await rekor.append(canonicalBody: canonical, kind: "dsse")
            #expect(answer.status == 201)
            let entry = try JSONDecoder().decode(TransparencyLogEntry.self, from: answer.body)
            return try SigstoreBundle(
                envelope: envelope, publicKeyDER: key.publicKey.derRepresentation, certificateDER: nil,
                tlogEntries: [entry], timestamps: [stamp]
            ).serialized()
        }
        func verify(_ data: Data) async throws(CertificateCheckError) -> VerifiedBundle {
            try await BundleVerifier.verify(
                data, artifact: .sha256(subject), authority: .key(key.publicKey), trustedRoot: root)
        }
        let payloadDigest = Data(SHA256.hash(data: statement))
        let good = try await bundle(payloadDigest: payloadDigest, recorded: signature, verifier: key.publicKey)
        #expect(try ParsedBundle(good).entries.first?.kindVersion.kind == "dsse")
        let verified = try await verify(good)
        #expect(verified.logIndex == 0 && verified.timestampedBy.count == 1)
        // The entry over the PAE's digest (hashedrekord's convention, not dsse's), another signature, another key.
        let pae = Data(SHA256.hash(data: DSSE.pae(payloadType: decoded.payloadType, payload: statement)))
        for (what, bad) in [
            ("the PAE's digest", try await bundle(payloadDigest: pae, recorded: signature, verifier: key.publicKey)),
            (
                "another signature",
                try await bundle(
                    payloadDigest: payloadDigest, recorded: try key.sign(Data("x".utf8)), verifier: key.publicKey)
            ),
            (
                "another key",
                try await bundle(payloadDigest: payloadDigest, recorded: signature, verifier: otherKey.publicKey)
            ),
        ] {
            do {
                _ = try await verify(bad)
                Issue.record("a dsse entry over \(what) vouched for the bundle")
            } catch {
                #expect(error.reason.contains("does not record this signature and content"), "\(what): \(error.reason)")
            }
        }
    }
}
