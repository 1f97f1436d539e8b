import ChainsConfig
import ChainsTesting
import Foundation
import KubeModels
import OCI
import OCIRegistry
import Signing
import Sigstore
import Synchronization
import Testing

@testable import ChainsCore

/// A signer source handing out one signer, or failing.
struct FixedSigners: SignerSource {
    var signer: KeySigner?
    func supports(_ kind: SignerKind) -> Bool { kind == .x509 }
    func signer(named kind: SignerKind, for run: RunContext) async throws -> any Signer {
        guard let signer else {
            throw SigningError(code: .missingKey, file: "/etc/signing-secrets", reason: "no valid private key found")
        }
        return signer
    }
}

/// A storage backend that records what it is given and answers as told.
final class RecordingStorage: StorageBackend, Sendable {
    let kind: StorageKind
    let failure: (@Sendable (SignedArtifact) -> (any Error)?)
    let stored = Mutex<[SignedArtifact]>([])
    /// Stands in for `oci` with the sigstore-bundle encoding: set by the tests' service builders from the config.
    let bundles = Mutex(false)

    init(kind: StorageKind, failure: @escaping @Sendable (SignedArtifact) -> (any Error)? = { _ in nil }) {
        self.kind = kind
        self.failure = failure
    }

    var storesBundles: Bool { bundles.withLock { $0 } }

    func imageStatement(for image: Digest) -> Data? {
        storesBundles ? SigstoreBundleReferrer.signStatement(for: image) : nil
    }

    func store(_ item: SignedArtifact, for run: RunContext) async throws -> StorageReceipt {
        if let error = failure(item) { throw error }
        stored.withLock { $0.append(item) }
        var receipt = StorageReceipt(backend: kind)
        receipt.locations = [.init(target: item.fullKey, credential: "", detail: "recorded", alreadyPresent: false)]
        return receipt
    }

    var items: [SignedArtifact] { stored.withLock { $0 } }
}

@Suite("The signing service, driven with an in-memory cluster, a fixed signer and a recording backend")
struct ServiceTests {
    let key = try! PrivateKey.generate(.ecdsaP256)
    var signer: KeySigner { KeySigner(key: key, hash: .sha256Always, origin: "test key") }
    let image = "registry.example.com/team-a/app"
    let digest = "sha256:" + String(repeating: "ab", count: 32)

    func run(_ yaml: String? = nil) throws -> AnyRun {
        let text = yaml ?? RunFixtures.taskRun(image: image, digest: digest)
        return try AnyRun(
            json: try ManifestReader.parse(Data(text.utf8), source: "run.yaml").documents[0], source: "run")
    }

    func service(
        config: ChainsConfig = .defaults, signer: KeySigner?? = .none, oci: RecordingStorage = .init(kind: .oci),
        cluster: ObjectStore = ObjectStore()
    ) throws -> SigningService {
        oci.bundles.withLock { $0 = config.ociEncoding == .sigstoreBundle }
        return try SigningService(
            config: config, signers: FixedSigners(signer: signer ?? self.signer),
            backends: [TektonStorage(), oci], cluster: cluster)
    }

    @Test("success: the run's provenance and its image are signed, stored, and the run is marked signed")
    func success() async throws {
        let oci = RecordingStorage(kind: .oci)
        let outcome = try await service(oci: oci).sign(try run())
        #expect(outcome.succeeded && !outcome.isRetryable)
        #expect(outcome.artifacts.map(\.artifactType) == [.taskRun, .oci])
        #expect(outcome.artifacts.allSatisfy { $0.keyID == key.publicKey.keyID && $0.certificateChain == nil })
        #expect(outcome.annotations.mark == ["chains.tekton.dev/signed": "true"])
        let uid = try run().run.uid
        #expect(outcome.annotations.storage["chains.tekton.dev/payload-taskrun-\(uid)"] != nil)
        // The image went to the oci backend, its signature verifies, and no bundle envelope was made for dsse.
        let stored = try #require(oci.items.first)
        #expect(stored.fullKey == "\(image)@\(digest)")
        #expect(key.publicKey.isValidSignature(stored.signature, for: stored.payload))
        #expect(stored.bundleEnvelope == nil)
    }

    @Test("a payload failure is typed, and the other artifact types are still signed")
    func payloadFailure() async throws {
        var config = ChainsConfig.defaults
        config.taskRun.format = .simpleSigning
        let outcome = try await service(config: config).sign(try run())
        let failure = try #require(outcome.failures.first)
        #expect(failure.stage == .payloadCreation && failure.error.code == .payload && !failure.isRetryable)
        #expect(outcome.artifacts.map(\.artifactType) == [.oci])
        #expect(outcome.annotations.mark == ["chains.tekton.dev/retries": "0"])
    }

    @Test("a signer failure is typed, names the key file, and is not retryable")
    func signerFailure() async throws {
        let outcome = try await service(signer: .some(nil)).sign(try run())
        #expect(outcome.failures.count == 2)
        #expect(outcome.failures.allSatisfy { $0.stage == .signing && $0.error.code == .signing && !$0.isRetryable })
        #expect(outcome.failures[0].error.file == "/etc/signing-secrets")
        #expect(outcome.artifacts.isEmpty)
    }

    @Test(
        "storage: 401 is refused and not retryable, 503 is unavailable and retryable; tekton storage still happens",
        arguments: [(401, false), (503, true), (429, true), (403, false)])
    func storageFailures(status: Int, retryable: Bool) async throws {
        let oci = RecordingStorage(kind: .oci) { _ in
            StorageError(
                backend: .oci, item: "x", reason: "refused",
                underlying: RegistryError(
                    registry: "registry.example.com", repository: "team-a/app", operation: "push", status: status,
                    message: "injected"))
        }
        let outcome = try await service(oci: oci).sign(try run())
        let failure = try #require(outcome.failures.first)
        #expect(outcome.failures.count == 1)
        #expect(failure.stage == .storage && failure.isRetryable == retryable && outcome.isRetryable == retryable)
        #expect(failure.error.code == (retryable ? .storageUnavailable : .storageRefused))
        #expect(failure.error.registry == "registry.example.com")
        #expect(outcome.artifacts.first { $0.artifactType == .taskRun }?.storedIn == [.tekton])
        #expect(outcome.annotations.mark == ["chains.tekton.dev/retries": "0"])
    }

    @Test("a PipelineRun waits for an unfinished child, and for a missing one; signs once they are done")
    func pipelineRunChildren() async throws {
        var config = ChainsConfig.defaults
        config.pipelineRun.storage = [.tekton]
        let pr = try AnyRun(
            json: try ManifestReader.read(file: PackagePaths.example("pipelinerun-git-build.yaml")).documents[0],
            source: "pr")
        var cluster = ObjectStore()
        let missing = try await service(config: config, cluster: cluster).decide(pr)
        #expect(missing.skipReason == .childrenMissing(["app-ci-4mz8w-fetch-source", "app-ci-4mz8w-build"]))
        let complete = try ObjectStore(directories: [PackagePaths.example("cluster")])
        for (key, entry) in complete.objects where key.kind == "TaskRun" {
            var json = entry.json
            if key.name == "app-ci-4mz8w-build" {
                let text = json.yamlSerialized().replacingOccurrences(of: "status: \"True\"", with: "status: Unknown")
                json = try ManifestReader.parse(Data(text.utf8), source: "child").documents[0]
            }
            cluster.add(json, source: entry.source)
        }
        let waiting = try await service(config: config, cluster: cluster).decide(pr)
        #expect(waiting.skipReason == .childrenUnfinished(["TaskRun team-a/app-ci-4mz8w-build"]))
        guard case .sign(_, let children) = try await service(config: config, cluster: complete).decide(pr) else {
            Issue.record("expected a decision to sign")
            return
        }
        #expect(children.map(\.name) == ["app-ci-4mz8w-fetch-source", "app-ci-4mz8w-build"])
    }

    @Test("a rerun that copied another run's annotations is signed, and counts its own retries")
    func copiedAnnotations() throws {
        let text = RunFixtures.taskRun(image: image, digest: digest).replacingOccurrences(
            of: "metadata:\n",
            with:
                "metadata:\n  annotations:\n    chains.tekton.dev/signed: \"true\"\n    chains.tekton.dev/retries: \"3\"\n    chains.tekton.dev/payload-taskrun-0ther-uid: e30=\n"
        )
        let copied = try run(text)
        let decision = SigningRules.decide(copied, children: nil, config: .defaults)
        guard case .sign(.copiedAnnotations(let others), _) = decision else {
            Issue.record("expected a copied rerun to be signed, got \(decision)")
            return
        }
        #expect(others == ["0ther-uid"])
        var outcome = RunOutcome(run: "r", uid: copied.run.uid, reason: .copiedAnnotations(otherUIDs: others))
        outcome.failures = [
            SigningFailure(stage: .storage, artifactType: .oci, object: "x", error: ChainsError(.storage, "x"))
        ]
        let patch = SigningService.patch(for: outcome, annotations: copied.run.metadata.annotations ?? [:])
        #expect(patch.mark == ["chains.tekton.dev/retries": "0"])
        // Its own storage key: already reconciled, as Chains has it.
        let own = try run(text.replacingOccurrences(of: "0ther-uid", with: copied.run.uid))
        #expect(
            SigningRules.decide(own, children: nil, config: .defaults).skipReason == .alreadyReconciled(mark: "true"))
        #expect(SigningRules.decide(own, children: nil, config: .defaults, force: true).skipReason == nil)
    }

    @Test("every artifact type disabled: nothing is signed and the run is marked as Chains marks it")
    func nothingEnabled() async throws {
        var config = ChainsConfig.defaults
        config.taskRun.signer = .none
        config.oci.storage = []
        let outcome = try await service(config: config).sign(try run())
        #expect(outcome.nothingEnabled && outcome.artifacts.isEmpty && outcome.succeeded)
        #expect(outcome.annotations.mark == ["chains.tekton.dev/signed": "true"])
    }

    @Test("sigstore-bundle: the service signs cosign v3's image statement; storage gets it ready-made")
    func bundleEnvelope() async throws {
        var config = ChainsConfig.defaults
        config.ociEncoding = .sigstoreBundle
        let oci = RecordingStorage(kind: .oci)
        let outcome = try await service(config: config, oci: oci).sign(try run())
        #expect(outcome.succeeded)
        let envelope = try #require(oci.items.first?.bundleEnvelope)
        let statement = try #require(DSSE.verify(envelope: envelope, publicKey: key.publicKey))
        #expect(String(decoding: statement, as: UTF8.self).contains("https://sigstore.dev/cosign/sign/v1"))
        #expect(String(decoding: statement, as: UTF8.self).contains(String(digest.dropFirst(7))))
    }

    @Test(
        "what cannot be served is refused before anything is signed, naming the key",
        arguments: [
            ("signers.x509.fulcio.enabled", "true", "signers.x509.fulcio.enabled"),
            ("artifacts.taskrun.signer", "kms", "artifacts.taskrun.signer"),
            ("transparency.enabled", "true", "transparency.enabled"),
            ("transparency.enabled", "manual", "transparency.enabled"),
            ("artifacts.taskrun.storage", "tekton,gcs", "artifacts.taskrun.storage"),
        ])
    func refused(key: String, value: String, named: String) throws {
        guard case .success(let parsed) = ChainsConfig.parse([key: value]) else {
            Issue.record("\(key): \(value) should parse")
            return
        }
        #expect {
            _ = try service(config: parsed.config)
        } throws: { error in
            (error as? UnsupportedConfiguration)?.errors.contains { $0.key == named && $0.code == .unsupported } == true
        }
    }

    @Test("keys that are set but unused stay accepted (existing ConfigMaps keep working)")
    func unusedKeysAccepted() throws {
        guard
            case .success(let parsed) = ChainsConfig.parse([
                "storage.gcs.bucket": "my-bucket", "signers.kms.kmsref": "awskms:///alias/x",
                "signers.x509.fulcio.enabled": "true", "artifacts.taskrun.signer": "none",
                "artifacts.oci.signer": "none", "artifacts.pipelinerun.signer": "none",
            ])
        else {
            Issue.record("should parse")
            return
        }
        _ = try service(config: parsed.config)
    }
}

/// Records attempt records, noting how many items storage had when each arrived; or refuses.
final class RecordingAttempts: AttemptRecorder, Sendable {
    let storage: RecordingStorage
    let refuse: Bool
    let seen = Mutex<[(annotations: [String: String], storedBefore: Int)]>([])
    init(storage: RecordingStorage, refuse: Bool = false) {
        self.storage = storage
        self.refuse = refuse
    }
    func record(_ annotations: [String: String], on run: RunContext) async throws {
        if refuse { throw ChainsError(.cluster, "the API server is unavailable", isRetryable: true) }
        let count = storage.items.count
        seen.withLock { $0.append((annotations, count)) }
    }
}

@Suite("Attempt records: a new signature is kept on the run before it is pushed")
struct AttemptRecorderTests {
    let key = try! PrivateKey.generate(.ecdsaP256)

    func run() throws -> AnyRun {
        let text = RunFixtures.taskRun(
            image: "registry.example.com/team-a/app", digest: "sha256:" + String(repeating: "cd", count: 32))
        return try AnyRun(
            json: try ManifestReader.parse(Data(text.utf8), source: "run.yaml").documents[0], source: "run")
    }

    @Test("the run's records arrive in one write before any artifact is stored, and are what the retry would reuse")
    func recordedBeforeStorage() async throws {
        let oci = RecordingStorage(kind: .oci)
        let attempts = RecordingAttempts(storage: oci)
        var config = ChainsConfig.defaults
        config.taskRun.storage = [.oci]
        let service = try SigningService(
            config: config, signers: FixedSigners(signer: KeySigner(key: key, hash: .sha256Always, origin: "test")),
            backends: [TektonStorage(), oci], cluster: ObjectStore(), attempts: attempts)
        let outcome = await service.sign(try run())
        #expect(outcome.succeeded)
        let seen = attempts.seen.withLock { $0 }
        #expect(seen.map(\.storedBefore) == [0], "one write, before the first push")
        #expect(seen.first?.annotations.count == 2, "both artifacts' records in it")
        let uid = try run().run.uid
        let record = try #require(AttemptRecord.read(seen[0].annotations, shortKey: "taskrun-\(uid)")).get()
        #expect(record.format == config.taskRun.format.rawValue && record.chain == nil)
        #expect(Data(base64Encoded: record.signature) == oci.items[0].signature)
    }

    @Test("a record that cannot be kept stops that artifact before it is pushed: retryable, nothing stored")
    func refusedRecord() async throws {
        let oci = RecordingStorage(kind: .oci)
        var config = ChainsConfig.defaults
        config.taskRun.storage = [.oci]
        let service = try SigningService(
            config: config, signers: FixedSigners(signer: KeySigner(key: key, hash: .sha256Always, origin: "test")),
            backends: [TektonStorage(), oci], cluster: ObjectStore(),
            attempts: RecordingAttempts(storage: oci, refuse: true))
        let outcome = await service.sign(try run())
        #expect(oci.items.isEmpty && outcome.isRetryable && outcome.failures.count == 2)
        #expect(outcome.failures.allSatisfy { "\($0)".contains("could not be kept on the run before storing it") })
    }
}

/// A transparency log that records what it is asked to log and answers with a made-up, unverified entry.
final class CountingLog: TransparencyLog, Sendable {
    let calls = Mutex<[Data]>([])
    var address: String { "http://rekor.test" }
    func record(_ artifact: SignedArtifact) async throws -> TransparencyRecord {
        let n = calls.withLock { c in
            c.append(artifact.signature)
            return c.count
        }
        let entry = RekorEntry(
            id: String(repeating: "a", count: 80), logIndex: Int64(n), integratedTime: 1, logID: Data(count: 32),
            body: Data(), kind: "dsse", signedEntryTimestamp: Data(), inclusionProof: nil, logURL: address)
        return TransparencyRecord(entry: entry.logEntry, keySource: "test")
    }
}

@Suite("transparency.enabled: manual, as Chains does it, and its retries")
struct ManualTransparencyTests {
    let key = try! PrivateKey.generate(.ecdsaP256)

    @Test(
        "a run that opted in is logged once; a retry reusing its signatures logs them again (the log's 409), new ones not"
    )
    func manualRetry() async throws {
        let text = RunFixtures.taskRun(
            image: "registry.example.com/team-a/app", digest: "sha256:" + String(repeating: "ef", count: 32)
        ).replacingOccurrences(
            of: "metadata:\n", with: "metadata:\n  annotations:\n    chains.tekton.dev/transparency-upload: \"true\"\n")
        let run = try AnyRun(json: try ManifestReader.parse(Data(text.utf8), source: "r").documents[0], source: "r")
        guard
            case .success(let parsed) = ChainsConfig.parse([
                "transparency.enabled": "manual", "artifacts.oci.storage": "oci",
            ])
        else { fatalError() }
        let failing = Mutex(true)
        let oci = RecordingStorage(kind: .oci) { _ in
            failing.withLock { $0 } ? ChainsError(.storageUnavailable, "registry down", isRetryable: true) : nil
        }
        let log = CountingLog()
        let service = try SigningService(
            config: parsed.config, signers: FixedSigners(signer: KeySigner(key: key, hash: .sha256Always, origin: "t")),
            backends: [TektonStorage(), oci], cluster: ObjectStore(), transparency: log)
        let first = await service.sign(run)
        #expect(!first.succeeded && log.calls.withLock { $0.count } == 2)
        #expect(first.annotations.mark["chains.tekton.dev/transparency"] != nil)
        // The retry: the run now carries its entry and the attempt records.
        var annotations = run.run.metadata.annotations ?? [:]
        annotations.merge(first.annotations.all) { $1 }
        var object = try #require(run.run.raw.objectValue)
        var metadata = try #require(object["metadata"]?.objectValue)
        metadata["annotations"] = .object(annotations.mapValues { JSONValue.string($0) })
        object["metadata"] = .object(metadata)
        let retry = try AnyRun(json: .object(object), source: "retry")
        failing.withLock { $0 = false }
        let second = await service.sign(retry)
        #expect(second.succeeded && second.artifacts.allSatisfy(\.reused))
        let calls = log.calls.withLock { $0 }
        #expect(calls.count == 4 && Array(calls[2...]) == Array(calls[..<2]), "the same signatures, logged again")
        #expect(oci.items.allSatisfy { $0.transparency != nil })
    }
}
