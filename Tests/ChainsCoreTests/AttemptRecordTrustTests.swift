import ChainsConfig
import ChainsTesting
import Crypto
import Foundation
import HTTPTransport
import KubeModels
import OCI
import OCIRegistry
import Signing
import Sigstore
import Testing
import X509

@testable import ChainsCore

/// Attempt records are annotations, and whoever may create or patch a run can write them. A record is reused only
/// when it is exactly what signing now would make: the configured signer's signature over the payload planned now.
/// Each test plants a record where exactly one thing is wrong and asserts the refusal, its reason, and that the
/// artifact was signed anew by the configured signer over the run's real payload.
@Suite("Attempt records: only what we signed is reused (key signing)")
struct AttemptRecordTrustTests {
    let key = try! PrivateKey.generate(.ecdsaP256)
    let image = "registry.example.com/team-a/app"
    let digest = "sha256:" + String(repeating: "cd", count: 32)

    func signer(_ key: PrivateKey) -> KeySigner { KeySigner(key: key, hash: .sha256Always, origin: "test key") }

    /// The run, carrying `annotations`.
    func run(name: String = "build-1", digest: String? = nil, annotations: [String: String] = [:]) throws -> AnyRun {
        try annotatedRun(image: image, digest: digest ?? self.digest, name: name, annotations: annotations)
    }

    func service(_ key: PrivateKey, config: ChainsConfig = .defaults, oci: RecordingStorage) throws -> SigningService {
        oci.bundles.withLock { $0 = config.ociEncoding == .sigstoreBundle }
        return try SigningService(
            config: config, signers: FixedSigners(signer: signer(key)), backends: [TektonStorage(), oci],
            cluster: ObjectStore())
    }

    /// The records an attempt leaves when storage fails: what a genuine earlier attempt of `run` signed with `key`.
    func records(of run: AnyRun, key: PrivateKey, config: ChainsConfig = .defaults) async throws -> [String: String] {
        let failing = RecordingStorage(kind: .oci) { _ in StorageError(backend: .oci, item: "x", reason: "down") }
        let outcome = try await service(key, config: config, oci: failing).sign(run)
        #expect(!outcome.succeeded && outcome.annotations.attempts.count == 2)
        return outcome.annotations.attempts
    }

    /// The planned payload of each artifact (by short key), as the service would sign it now.
    func planned(_ run: AnyRun, config: ChainsConfig = .defaults) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for item in PayloadPipeline(config: config).plan(run).artifacts {
            out[item.shortKey] = try item.payload.get().bytes
        }
        return out
    }

    /// Signs `run` (carrying `annotations`) with `key` and checks what every test asserts: nothing reused, every
    /// artifact signed by `key` over its planned payload, and one warning per refused record containing `reason`.
    func expectSignedAnew(
        _ run: AnyRun, key: PrivateKey, config: ChainsConfig = .defaults, reasons: [String: String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let oci = RecordingStorage(kind: .oci)
        let outcome = try await service(key, config: config, oci: oci).sign(run)
        #expect(outcome.succeeded, "\(outcome.failures)", sourceLocation: sourceLocation)
        #expect(
            outcome.artifacts.count == 2 && outcome.artifacts.allSatisfy { !$0.reused }, sourceLocation: sourceLocation)
        let planned = try planned(run, config: config)
        for artifact in outcome.artifacts {
            #expect(artifact.payload == planned[artifact.shortKey], sourceLocation: sourceLocation)
            if artifact.format == .simpleSigning {
                #expect(key.publicKey.isValidSignature(artifact.signature, for: artifact.payload))
            } else {
                #expect(DSSE.verify(envelope: artifact.signature, publicKey: key.publicKey) == artifact.payload)
            }
        }
        let warnings = outcome.diagnostics.filter { $0.topic == .attemptRecord }
        #expect(warnings.count == reasons.count, "\(warnings)", sourceLocation: sourceLocation)
        for (shortKey, reason) in reasons {
            let named = warnings.first { $0.message.contains(AttemptRecord.key(shortKey: shortKey) + " ") }
            #expect(
                named?.severity == .warning, "no warning for \(shortKey): \(warnings)", sourceLocation: sourceLocation)
            #expect(named?.message.contains(reason) == true, "\(named?.message ?? "")", sourceLocation: sourceLocation)
        }
        // Every record is gone once the run is signed.
        #expect(outcome.annotations.remove.filter { $0.hasPrefix(AttemptRecord.prefix) }.count >= reasons.count)
    }

    var shortKeys: (taskRun: String, image: String) {
        get throws { ("taskrun-\(try run().run.uid)", String(digest.dropFirst(7).prefix(12))) }
    }

    @Test("a genuine record of this run, from this key, is reused as it is: nothing signed again, no warning")
    func genuineReused() async throws {
        let records = try await records(of: try run(), key: key)
        let oci = RecordingStorage(kind: .oci)
        let outcome = try await service(key, oci: oci).sign(try run(annotations: records))
        #expect(outcome.succeeded && outcome.artifacts.allSatisfy(\.reused), "\(outcome.failures)")
        #expect(outcome.diagnostics.allSatisfy { $0.topic != .attemptRecord })
        let recorded = try records.mapValues { try JSONDecoder().decode(AttemptRecord.self, from: Data($0.utf8)) }
        for artifact in outcome.artifacts {
            let record = try #require(recorded[AttemptRecord.key(shortKey: artifact.shortKey)])
            #expect(artifact.signature.base64EncodedString() == record.signature)
        }
    }

    @Test("after a key rotation: records signed by the old key are refused, both formats; the new key signs")
    func rotatedKey() async throws {
        let records = try await records(of: try run(), key: key)
        let rotated = try PrivateKey.generate(.ecdsaP256)
        let (taskRun, image) = try shortKeys
        try await expectSignedAnew(
            try run(annotations: records), key: rotated,
            reasons: [
                taskRun: "its envelope does not verify with the configured key",
                image: "its signature does not verify with the configured key",
            ])
    }

    @Test("a genuine signature of ours over another run's payload (another run, another image) is refused")
    func anotherRunsPayload() async throws {
        let otherDigest = "sha256:" + String(repeating: "ef", count: 32)
        let other = try run(name: "build-2", digest: otherDigest)
        let theirs = try await records(of: other, key: key)
        let (taskRun, image) = try shortKeys
        // Moved under this run's keys: the other run's provenance, the other image's simplesigning payload.
        let planted = [
            AttemptRecord.key(shortKey: taskRun): try #require(
                theirs[AttemptRecord.key(shortKey: "taskrun-\(other.run.uid)")]),
            AttemptRecord.key(shortKey: image): try #require(
                theirs[AttemptRecord.key(shortKey: String(otherDigest.dropFirst(7).prefix(12)))]),
        ]
        try await expectSignedAnew(
            try run(annotations: planted), key: key,
            reasons: [
                taskRun: "its envelope is not over the payload planned for this artifact now",
                image: "its payload is not the one planned for this artifact now",
            ])
    }

    @Test(
        "a self-made certificate chain over the exact planned payloads is refused when the configuration signs with a key"
    )
    func selfMadeChainUnderKeySigning() async throws {
        let planned = try planned(try run())
        let (taskRun, image) = try shortKeys
        let made = try SelfMadeChain(identity: "https://kubernetes.io/namespaces/team-a/serviceaccounts/builder")
        let planted = try await made.records(planned: planned, taskRun: taskRun, image: image)
        try await expectSignedAnew(
            try run(annotations: planted), key: key,
            reasons: [
                taskRun: "it was signed with a certificate, and this configuration signs with a key",
                image: "it was signed with a certificate, and this configuration signs with a key",
            ])
    }

    @Test("a garbled record, and one for another format, are refused and named")
    func garbledAndOtherFormat() async throws {
        let records = try await records(of: try run(), key: key)
        let (taskRun, image) = try shortKeys
        var planted = records
        planted[AttemptRecord.key(shortKey: image)] = "{not json"
        var config = ChainsConfig.defaults
        config.taskRun.format = .slsaV1  // the same SLSA v0.2 payload as in-toto: only the format tells them apart
        try await expectSignedAnew(
            try run(annotations: planted), key: key, config: config,
            reasons: [
                taskRun: "it was made for format in-toto, and slsa/v1 is configured now",
                image: "it is not an attempt record",
            ])
    }

    @Test("the sigstore-bundle encoding: a record without its bundle statement, or over another image's, is refused")
    func bundleStatement() async throws {
        var config = ChainsConfig.defaults
        config.ociEncoding = .sigstoreBundle
        config.taskRun.storage = [.oci]
        let genuine = try await records(of: try run(), key: key, config: config)
        let (taskRun, image) = try shortKeys
        var planted = genuine
        // The image's record with the bundle statement of another digest (signed by our key); the TaskRun's without.
        var imageRecord = try JSONDecoder().decode(
            AttemptRecord.self, from: Data(try #require(genuine[AttemptRecord.key(shortKey: image)]).utf8))
        let otherStatement = SigstoreBundleReferrer.signStatement(
            for: try Digest(parsingSHA256: "sha256:" + String(repeating: "ef", count: 32)))
        imageRecord.bundleEnvelope = DSSE.envelope(
            payload: otherStatement, payloadType: DSSE.inTotoPayloadType, keyID: "",
            signature: try signer(key).sign(DSSE.pae(payloadType: DSSE.inTotoPayloadType, payload: otherStatement))
        ).base64EncodedString()
        planted[AttemptRecord.key(shortKey: image)] = imageRecord.annotationValue
        var taskRunRecord = try JSONDecoder().decode(
            AttemptRecord.self, from: Data(try #require(genuine[AttemptRecord.key(shortKey: taskRun)]).utf8))
        taskRunRecord.bundleEnvelope = nil
        planted[AttemptRecord.key(shortKey: taskRun)] = taskRunRecord.annotationValue
        try await expectSignedAnew(
            try run(annotations: planted), key: key, config: config,
            reasons: [
                taskRun: "it has no bundle statement, and storage.oci.encoding-format asks for one",
                image: "its bundle statement is not over the payload planned for this artifact now",
            ])
        // And the genuine records of that configuration are reused by it, but not by one that makes no statement.
        let oci = RecordingStorage(kind: .oci)
        let reused = try await service(key, config: config, oci: oci).sign(try run(annotations: genuine))
        #expect(reused.succeeded && reused.artifacts.allSatisfy(\.reused), "\(reused.diagnostics)")
        config.ociEncoding = .dsse
        try await expectSignedAnew(
            try run(annotations: genuine), key: key, config: config,
            reasons: [
                taskRun: "it has a bundle statement, which this configuration does not make",
                image: "it has a bundle statement, which this configuration does not make",
            ])
    }

    @Test("a forced re-sign never reuses records left on the run, even genuine ones, and warns of none")
    func forcedIgnoresRecords() async throws {
        let records = try await records(of: try run(), key: key)
        let oci = RecordingStorage(kind: .oci)
        let outcome = try await service(key, oci: oci).sign(try run(annotations: records), reason: .forced)
        #expect(outcome.succeeded && outcome.artifacts.allSatisfy { !$0.reused }, "\(outcome.failures)")
        #expect(outcome.diagnostics.allSatisfy { $0.topic != .attemptRecord })
    }
}

/// A CA and a Fulcio-shaped leaf (SAN URI, codeSigning, digitalSignature) made by whoever plants a record: the
/// certificate is for the identity we sign as, the signatures over exactly our payloads — only its issuer is wrong.
struct SelfMadeChain {
    let leafKey = try! PrivateKey.generate(.ecdsaP256)
    let chain: [Certificate]

    /// `issuer`: the OIDC issuer extension (v2, a DER UTF8String), as Fulcio writes it.
    init(identity: String, issuer: String? = nil, lifetime: TimeInterval = 600) throws {
        let caKey = P256.Signing.PrivateKey()
        let now = Date()
        let caName = try DistinguishedName { CommonName("sigstore") }
        let ca = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 86400, issuer: caName, subject: caName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true))
            }, issuerPrivateKey: .init(caKey))
        let leafPublic = try Certificate.PublicKey(pemEncoded: leafKey.publicKey.pem)
        let leaf = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: leafPublic, notValidBefore: now - 10,
            notValidAfter: now + lifetime, issuer: caName, subject: DistinguishedName(),
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.codeSigning])
                Critical(SubjectAlternativeNames([.uniformResourceIdentifier(identity)]))
                if let issuer, issuer.utf8.count < 128 {
                    Certificate.Extension(
                        oid: [1, 3, 6, 1, 4, 1, 57264, 1, 8], critical: false,
                        value: [0x0C, UInt8(issuer.utf8.count)] + Array(issuer.utf8))
                }
            }, issuerPrivateKey: .init(caKey))
        chain = [leaf, ca]
    }

    /// Records over exactly `planned` for the TaskRun (in-toto) and the image (simplesigning), signed by the leaf.
    func records(planned: [String: Data], taskRun: String, image: String) async throws -> [String: String] {
        try await plantedRecords(
            signer: KeySigner(key: leafKey, hash: .sha256Always, origin: "planted"), chain: chain, planned: planned,
            taskRun: taskRun, image: image)
    }
}

/// Records signed by `signer` (with `chain`, by default its own certificate chain) over exactly the planned
/// payloads: the TaskRun's in-toto statement and the image's simplesigning payload.
func plantedRecords(
    signer: any Signer, chain: [Certificate]?? = .none, planned: [String: Data], taskRun: String, image: String
) async throws -> [String: String] {
    let chain = chain ?? signer.certificateChain
    let statement = try #require(planned[taskRun])
    let payload = try #require(planned[image])
    return [
        AttemptRecord.key(shortKey: taskRun): AttemptRecord(
            format: .inToto, payload: statement, signature: try await DSSE.sign(payload: statement, signer: signer),
            chain: chain, bundleEnvelope: nil
        ).annotationValue,
        AttemptRecord.key(shortKey: image): AttemptRecord(
            format: .simpleSigning, payload: payload, signature: try await signer.sign(payload),
            chain: chain, bundleEnvelope: nil
        ).annotationValue,
    ]
}

@Suite("Attempt records: only what we signed is reused (keyless)", .serialized)
struct KeylessAttemptRecordTests {
    let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
    let secondIssuer = TestOIDCIssuer(url: "https://oidc.example.com/other-cluster", kind: .kubernetes)
    let ours = "system:serviceaccount:tekton-chains:tekton-chains-controller"
    let keyed = AttemptRecordTrustTests()

    /// Everything one test needs: our Fulcio and another, a transport, token files.
    struct Setup {
        let fulcio: FulcioSimulator
        let other: FulcioSimulator
        let http: AsyncHTTPClientTransport
        let dir: TemporaryDirectory
        let root: TrustedRoot

        func stop() async {
            await fulcio.stop()
            await other.stop()
            try? await http.shutdown()
        }

        func certificates(
            from fulcio: FulcioSimulator, token: String, root: TrustedRoot?
        ) throws -> KeylessCertificates {
            let file = try dir.write("token-\(UUID().uuidString)", token)
            return KeylessCertificates(
                fulcio: FulcioClient(address: URL(string: fulcio.url)!, transport: http, trustedRoot: root),
                providers: [FileTokenProvider(path: file.path)])
        }
    }

    func setup() async throws -> Setup {
        let fulcio = try await FulcioSimulator(issuers: [issuer, secondIssuer])
        let other = try await FulcioSimulator(issuers: [issuer])
        return Setup(
            fulcio: fulcio, other: other, http: try AsyncHTTPClientTransport(), dir: try TemporaryDirectory(),
            root: try TrustedRoot(json: Data(fulcio.trustedRootJSON.utf8), source: "trusted_root.json"))
    }

    func service(_ certificates: KeylessCertificates, oci: RecordingStorage) throws -> SigningService {
        var config = ChainsConfig.defaults
        config.fulcioEnabled = true
        return try SigningService(
            config: config, signers: KeylessSignerSource(certificates: certificates), backends: [TektonStorage(), oci],
            cluster: ObjectStore())
    }

    /// Signs the run carrying `planted` with our certificates; returns the outcome after the checks every case
    /// shares: signed by our certificate over the planned payloads, `reused` as expected, warnings as given.
    func sign(
        _ planted: [String: String], with certificates: KeylessCertificates, reused: Bool, reason: String?,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let run = try keyed.run(annotations: planted)
        let outcome = try await service(certificates, oci: RecordingStorage(kind: .oci)).sign(run)
        #expect(outcome.succeeded, "\(outcome.failures)", sourceLocation: sourceLocation)
        #expect(outcome.artifacts.count == 2, sourceLocation: sourceLocation)
        #expect(outcome.artifacts.allSatisfy { $0.reused == reused }, sourceLocation: sourceLocation)
        let planned = try keyed.planned(run)
        let mine = try await certificates.signer()
        for artifact in outcome.artifacts {
            #expect(artifact.payload == planned[artifact.shortKey], sourceLocation: sourceLocation)
            if !reused {
                #expect(artifact.certificateChain == mine.certificateChain, sourceLocation: sourceLocation)
            }
        }
        let warnings = outcome.diagnostics.filter { $0.topic == .attemptRecord }
        if let reason {
            #expect(warnings.count == 2, "\(warnings)", sourceLocation: sourceLocation)
            #expect(
                warnings.allSatisfy { $0.message.contains(reason) }, "\(warnings.map(\.message))",
                sourceLocation: sourceLocation)
        } else {
            #expect(warnings.isEmpty, "\(warnings)", sourceLocation: sourceLocation)
        }
    }

    @Test(
        "with a trusted root: our own record is reused; another Fulcio's certificate for our identity, ours for another identity or issuer, and one without an SCT are refused"
    )
    func plantedKeylessRecords() async throws {
        let s = try await setup()
        defer { Task { await s.stop() } }
        let (taskRun, image) = try keyed.shortKeys
        let planned = try keyed.planned(try keyed.run())
        let mine = try s.certificates(from: s.fulcio, token: issuer.token(subject: ours), root: s.root)
        func records(_ certificates: KeylessCertificates) async throws -> [String: String] {
            try await plantedRecords(
                signer: try await certificates.signer(), planned: planned, taskRun: taskRun, image: image)
        }
        try await sign(try await records(mine), with: mine, reused: true, reason: nil)
        let otherFulcio = try s.certificates(from: s.other, token: issuer.token(subject: ours), root: nil)
        try await sign(
            try await records(otherFulcio), with: mine, reused: false,
            reason: "does not chain to a Fulcio CA of the trusted root")
        let otherIdentity = try s.certificates(
            from: s.fulcio, token: issuer.token(subject: "system:serviceaccount:team-a:mallory"), root: s.root)
        try await sign(
            try await records(otherIdentity), with: mine, reused: false,
            reason:
                "it is for https://kubernetes.io/namespaces/team-a/serviceaccounts/mallory (issuer \(issuer.url)), and this configuration signs as https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller"
        )
        let otherIssuer = try s.certificates(from: s.fulcio, token: secondIssuer.token(subject: ours), root: s.root)
        try await sign(
            try await records(otherIssuer), with: mine, reused: false,
            reason: "(issuer \(secondIssuer.url)), and this configuration signs as")
        s.fulcio.setSCTMode(.none)
        let noSCT = try s.certificates(from: s.fulcio, token: issuer.token(subject: ours), root: nil)
        let unlogged = try await records(noSCT)
        s.fulcio.setSCTMode(.embedded)
        try await sign(unlogged, with: mine, reused: false, reason: "carries no signed certificate timestamp")
        let selfMade = try SelfMadeChain(
            identity: "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller",
            issuer: issuer.url)
        try await sign(
            try await selfMade.records(planned: planned, taskRun: taskRun, image: image), with: mine, reused: false,
            reason: "does not chain to a Fulcio CA of the trusted root")
    }

    @Test("with no trusted root: a record must chain to the CA that issued our own certificate")
    func noTrustedRoot() async throws {
        let s = try await setup()
        defer { Task { await s.stop() } }
        let (taskRun, image) = try keyed.shortKeys
        let planned = try keyed.planned(try keyed.run())
        let mine = try s.certificates(from: s.fulcio, token: issuer.token(subject: ours), root: nil)
        let genuine = try await plantedRecords(
            signer: try await mine.signer(), planned: planned, taskRun: taskRun, image: image)
        try await sign(genuine, with: mine, reused: true, reason: nil)
        let otherFulcio = try s.certificates(from: s.other, token: issuer.token(subject: ours), root: nil)
        let theirs = try await plantedRecords(
            signer: try await otherFulcio.signer(), planned: planned, taskRun: taskRun, image: image)
        try await sign(theirs, with: mine, reused: false, reason: "does not chain to a Fulcio CA")
    }

    @Test("a key-signed record is refused when the configuration signs keylessly")
    func keyRecordUnderKeyless() async throws {
        let s = try await setup()
        defer { Task { await s.stop() } }
        let records = try await keyed.records(of: try keyed.run(), key: keyed.key)
        let mine = try s.certificates(from: s.fulcio, token: issuer.token(subject: ours), root: s.root)
        try await sign(
            records, with: mine, reused: false,
            reason: "it was signed with a key, and this configuration signs keylessly")
    }

    /// The trusted root's CA window, judged when the record's certificate was issued: its end is inclusive.
    @Test("the Fulcio CA's validFor, at the moment the record's certificate was issued: both edges")
    func caWindow() async throws {
        let s = try await setup()
        defer { Task { await s.stop() } }
        let mine = try s.certificates(from: s.fulcio, token: issuer.token(subject: ours), root: nil)
        let chain = try #require(try await mine.signer().certificateChain)
        let issued = chain[0].notValidBefore
        let formatter = ISO8601DateFormatter()
        func checker(start: Date, end: Date) throws -> KeylessCertificates {
            let json = s.fulcio.trustedRootJSON.replacingOccurrences(
                of: #""validFor": {"start": "2020-01-01T00:00:00.000Z"}}"#,
                with:
                    #""validFor": {"start": "\#(formatter.string(from: start))", "end": "\#(formatter.string(from: end))"}}"#
            )
            #expect(json != s.fulcio.trustedRootJSON)
            let root = try TrustedRoot(json: Data(json.utf8), source: "windowed")
            return try s.certificates(from: s.fulcio, token: "unused", root: root)
        }
        let long = issued.addingTimeInterval(-86400)
        // Inclusive edges: a window that ends, or starts, exactly when the certificate was issued holds it.
        try await checker(start: long, end: issued).checkEarlier(chain, current: chain)
        try await checker(start: issued, end: issued.addingTimeInterval(86400)).checkEarlier(chain, current: chain)
        // One second past either edge: no CA of the root was valid then.
        for (start, end) in [(long, issued.addingTimeInterval(-1)), (issued.addingTimeInterval(1), issued + 86400)] {
            do {
                try await checker(start: start, end: end).checkEarlier(chain, current: chain)
                Issue.record("a CA outside its window vouched for the certificate (\(start) – \(end))")
            } catch {
                #expect("\(error)".contains("the trusted root has no Fulcio CA valid at"), "\(error)")
            }
        }
    }
}

/// The example TaskRun that built `image@digest`, carrying `annotations` (attempt records, marks).
func annotatedRun(
    image: String, digest: String, name: String = "build-1", annotations: [String: String] = [:]
) throws -> AnyRun {
    var text = RunFixtures.taskRun(image: image, digest: digest, name: name)
    if !annotations.isEmpty {
        let lines = annotations.sorted { $0.key < $1.key }.map {
            "    \($0.key): '\($0.value.replacingOccurrences(of: "'", with: "''"))'\n"
        }
        text = text.replacingOccurrences(of: "metadata:\n", with: "metadata:\n  annotations:\n" + lines.joined())
    }
    return try AnyRun(json: try ManifestReader.parse(Data(text.utf8), source: "run.yaml").documents[0], source: "run")
}
