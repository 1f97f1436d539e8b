import ChainsConfig
import Foundation
import HTTPTransport
import KubeModels
import Logging
import Provenance
import RegistryAuth
import Signing

/// chains-config asks for something this process cannot do: each error names the key. Nothing was signed.
package struct UnsupportedConfiguration: Error, Sendable, CustomStringConvertible {
    package var errors: [ChainsError]
    package var description: String {
        "chains-config asks for what Chains in Swift cannot do; nothing was signed:\n"
            + errors.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// The signing pipeline, built once per process (by `SigningAssembly`) and shared by every run: decide, make
/// payloads, sign, timestamp, keep attempt records, log, store, and say what to mark on the run. `chains sign` and
/// the controller differ only in the cluster view they pass and in what they do with the outcome. It names no
/// storage backend: a backend says what it needs signed (`StorageBackend.storesBundles`).
package struct SigningService: Sendable {
    package let config: ChainsConfig
    package let signers: any SignerSource
    package let backends: [StorageKind: any StorageBackend]
    package let cluster: any ClusterView
    package let transparency: (any TransparencyLog)?
    /// Where new signatures are timestamped (RFC 3161), after signing and before the log; nil: none.
    package let timestamps: (any TimestampAuthority)?
    /// Where a new signature is kept on the run before it is pushed (the controller's); nil for `chains sign`.
    package let attempts: (any AttemptRecorder)?
    package let logger: Logger
    package let now: @Sendable () -> Date
    /// The time one run may take, all network calls together.
    package let runBudget: Duration
    let payloads: PayloadPipeline

    /// Refuses, naming each key, a configuration that asks for a signer, backend or transparency log it was not
    /// given — never a quiet fallback to something weaker.
    package init(
        config: ChainsConfig, signers: any SignerSource, backends: [any StorageBackend], cluster: any ClusterView,
        transparency: (any TransparencyLog)? = nil, timestamps: (any TimestampAuthority)? = nil,
        attempts: (any AttemptRecorder)? = nil,
        logger: Logger = Logger(
            label: "chains",
            factory: { _ in
                SwiftLogNoOpLogHandler()
            }), now: @escaping @Sendable () -> Date = { Date() }, runBudget: Duration? = nil
    ) throws(UnsupportedConfiguration) {
        self.config = config
        self.signers = signers
        self.backends = Dictionary(backends.map { ($0.kind, $0) }) { first, _ in first }
        self.cluster = cluster
        self.transparency = transparency
        self.timestamps = timestamps
        self.attempts = attempts
        self.logger = logger
        self.now = now
        self.runBudget = runBudget ?? .seconds(config.runTimeout)
        self.payloads = PayloadPipeline(config: config)
        let refusals = Capabilities.refusals(
            config: config, signers: signers, backends: Set(self.backends.keys), hasTransparencyLog: transparency != nil
        )
        if !refusals.isEmpty { throw UnsupportedConfiguration(errors: refusals) }
    }

    /// Whether to sign `run` now: Chains' rules, with a PipelineRun's children looked up in the cluster view.
    package func decide(_ run: AnyRun, force: Bool = false) async -> SigningDecision {
        let first = SigningRules.decide(run, children: nil, config: config, force: force)
        guard case .sign = first, case .pipelineRun(let pr) = run, SigningRules.needsChildren(run, config: config)
        else { return first }
        do {
            let lookup = try await cluster.children(of: pr)
            return SigningRules.decide(run, children: lookup, config: config, force: force)
        } catch {
            return .skip(.childrenUnavailable("\(error)"))
        }
    }

    /// Signs every enabled artifact of `run` within the run's time budget. Every artifact type is attempted even
    /// after one fails (Chains stops at the first), and every failure is reported.
    package func sign(_ run: AnyRun, children: [TaskRun] = [], reason: SignReason = .unsigned) async -> RunOutcome {
        await RequestBudget.withBudget(runBudget, label: "the run's time budget of \(runBudget.seconds)") {
            await signWithinBudget(run, children: children, reason: reason)
        }
    }

    func signWithinBudget(_ run: AnyRun, children: [TaskRun], reason: SignReason) async -> RunOutcome {
        let meta = run.run
        var outcome = RunOutcome(run: meta.displayName, uid: meta.uid, reason: reason)
        let plan = payloads.plan(run, children: children)
        outcome.diagnostics = plan.diagnostics
        outcome.nothingEnabled = plan.enabledTypes.isEmpty
        var context = RunContext(run: meta)
        context.clusterReads = ClusterReadCache(cluster)
        let annotations = meta.metadata.annotations ?? [:]
        let log = transparency.flatMap {
            TransparencyRules.shouldLog(annotations, config: config)
                ? LogChoice.always($0)
                : (TransparencyRules.shouldRelog(annotations, config: config) ? .reused($0) : nil)
        }
        // Only a retry of this run's own attempts reuses what they signed (not a forced re-sign, not a rerun that
        // copied another run's annotations).
        let previous = reason == .unsigned ? annotations : [:]
        // Every artifact is signed (or its earlier signature reused) first; the new signatures' attempt records go
        // onto the run in one write; then each is logged and stored.
        var prepared: [Prepared] = []
        for item in plan.artifacts {
            if let ready = await prepare(item, context: context, previous: previous, into: &outcome) {
                prepared.append(ready)
            }
        }
        let fresh = prepared.filter(\.isNew)
        do {
            try await keep(fresh.map(\.signed), context: context)
        } catch {
            for ready in fresh { outcome.fail(.storage, .cluster, error, item: ready.item, run: context.displayName) }
            prepared.removeAll(where: \.isNew)
        }
        // Logged all at once (a Rekor v2 write waits seconds for its checkpoint), then stored in order.
        let logged = await record(prepared, log: log)
        for (index, ready) in prepared.enumerated() {
            await finish(ready, logged: logged[index], context: context, into: &outcome)
        }
        outcome.annotations = Self.patch(for: outcome, annotations: meta.metadata.annotations ?? [:])
        logger.info(
            "signed run",
            metadata: [
                "run": "\(meta.displayName)", "artifacts": "\(outcome.artifacts.count)",
                "failures": "\(outcome.failures.count)",
            ])
        return outcome
    }

    /// One artifact signed (or its earlier signature reused), on its way to the log and storage.
    struct Prepared {
        var item: PlannedArtifact
        var payload: Payload
        var signed: SignedArtifact
        var signer: any Signer
        /// This attempt made something the run's attempt record lacks: a signature, or a timestamp for one.
        var isNew: Bool
        /// The timestamp authority failed: the signature is kept (the retry reuses it and asks again), and nothing
        /// is logged or stored.
        var timestampFailure: (any Error)?
    }

    /// Payload → signature (or an earlier attempt's) → timestamp, for one artifact; nil (and the failure recorded)
    /// when any of them fails.
    func prepare(
        _ item: PlannedArtifact, context: RunContext, previous: [String: String], into outcome: inout RunOutcome
    ) async -> Prepared? {
        let payload: Payload
        switch item.payload {
        case .success(let p): payload = p
        case .failure(let error):
            outcome.fail(.payloadCreation, .payload, error, item: item, run: context.displayName)
            return nil
        }
        var ready: Prepared
        do {
            let (signed, signer) = try await signOrReuse(
                item, payload: payload, context: context, previous: previous, into: &outcome.diagnostics)
            ready = Prepared(
                item: item, payload: payload, signed: signed, signer: signer, isNew: !(signer is ReusedSigner))
        } catch {
            outcome.fail(.signing, .signing, error, item: item, run: context.displayName)
            return nil
        }
        if let timestamps, ready.signed.timestamps.isEmpty {
            do {
                ready.signed.timestamps = try await Self.timestamps(ready.signed, by: timestamps)
                ready.isNew = true
            } catch {
                ready.timestampFailure = error
            }
        }
        return ready
    }

    /// Each artifact that is to be logged, logged concurrently: its entry or the log's error, by position.
    func record(
        _ prepared: [Prepared], log choice: LogChoice?
    ) async -> [Int: Swift.Result<TransparencyRecord, any Error>] {
        guard let choice else { return [:] }
        return await withTaskGroup(of: (Int, Swift.Result<TransparencyRecord, any Error>).self) { group in
            for (index, ready) in prepared.enumerated() where ready.timestampFailure == nil {
                guard let log = choice.log(reused: ready.signer is ReusedSigner) else { continue }
                let signed = ready.signed
                group.addTask {
                    do {
                        return (index, .success(try await log.record(signed)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var out: [Int: Swift.Result<TransparencyRecord, any Error>] = [:]
            for await (index, result) in group { out[index] = result }
            return out
        }
    }

    /// Storage, for one signed artifact whose record is kept, with its log entry. A log that failed does not stop
    /// storage: the signature is kept, and the outcome records the (retryable) log failure.
    func finish(
        _ ready: Prepared, logged: Swift.Result<TransparencyRecord, any Error>?, context: RunContext,
        into outcome: inout RunOutcome
    ) async {
        let (item, payload, signer) = (ready.item, ready.payload, ready.signer)
        var signed = ready.signed
        func fail(_ stage: SigningFailure.Stage, _ code: ChainsError.Code, _ error: any Error) {
            outcome.fail(stage, code, error, item: item, run: context.displayName)
        }
        var artifact = ArtifactOutcome(
            signed: signed, object: item.object, keyID: signer.keyID,
            keyAlgorithm: signer.publicKey.algorithmName, signerOrigin: signer.origin, reused: signer is ReusedSigner,
            receipts: [], subjects: payload.subjects)
        if let failure = ready.timestampFailure {
            // Listed with no receipt, so that a run without an attempt recorder (`chains sign`) keeps its record too.
            fail(.signing, .signing, failure)
            outcome.artifacts.append(artifact)
            return
        }
        switch logged {
        case .success(let record): signed.transparency = record
        case .failure(let error):
            signed.logPending = true
            fail(.tlog, .transparency, error)
        case nil: break
        }
        artifact.signed = signed
        for kind in item.setting.storage {
            guard let backend = backends[kind] else {
                fail(.storage, .unsupported, ChainsError(.unsupported, "storage backend \"\(kind)\" is not available"))
                continue
            }
            do {
                artifact.receipts.append(try await backend.store(signed, for: context))
            } catch {
                for d in (error as? StorageError)?.diagnostics ?? [] where !outcome.diagnostics.contains(d) {
                    outcome.diagnostics.append(d)
                }
                fail(.storage, .storage, error)
            }
        }
        outcome.artifacts.append(artifact)
    }

    /// The signed artifact for `item`: an earlier attempt's signature when its record is reusable, else a new one
    /// from the configured signer — asked once: a record is held to it, and it signs when there is none to reuse (a
    /// keyless source may fetch a certificate here). `prepare` timestamps it.
    func signOrReuse(
        _ item: PlannedArtifact, payload: Payload, context: RunContext, previous: [String: String],
        into diagnostics: inout [Diagnostic]
    ) async throws -> (SignedArtifact, any Signer) {
        let current = try await signers.signer(named: item.setting.signer, for: context)
        if let reused = await reuse(item, payload: payload, previous: previous, current: current, into: &diagnostics) {
            return reused
        }
        return try await signature(item, payload: payload, signer: current)
    }

    /// Keeps the new signatures' attempt records on the run, in one write, before anything is logged or pushed:
    /// pushing a signature the run does not remember would make the retry sign (and push) another. Its failure is
    /// retryable.
    func keep(_ signed: [SignedArtifact], context: RunContext) async throws(ChainsError) {
        guard let attempts, !signed.isEmpty else { return }
        var records: [String: String] = [:]
        for artifact in signed {
            records[AttemptRecord.key(shortKey: artifact.shortKey)] = AttemptRecord(artifact).annotationValue
        }
        do {
            try await attempts.record(records, on: context)
        } catch {
            var classified = ChainsError.classify(error, stage: .cluster)
            classified.message =
                "the new signature could not be kept on the run before storing it: \(classified.message)"
            classified.isRetryable = true
            throw classified
        }
    }

    /// The signature an earlier attempt of this run made for `item`, when it is exactly what signing now would make
    /// (see `AttemptRecord.reusable`). A record that is not — which anyone who may write the run's annotations can
    /// put there — is never logged or stored: the artifact is signed anew and a warning names the annotation and
    /// why. `current` is the configured signer.
    func reuse(
        _ item: PlannedArtifact, payload: Payload, previous: [String: String], current: any Signer,
        into diagnostics: inout [Diagnostic]
    ) async -> (SignedArtifact, any Signer)? {
        guard let read = AttemptRecord.read(previous, shortKey: item.shortKey) else { return nil }
        let made: ReusableSignature
        do {
            let record = try read.get()
            let signers = self.signers
            made = try await record.reusable(
                for: item, planned: payload.bytes, bundleStatement: bundleStatement(item, payload: payload),
                current: current, now: now(), timestampAuthority: timestamps,
                checkCertificate: { try await signers.checkEarlierCertificate($0, current: current) })
        } catch {
            let key = AttemptRecord.key(shortKey: item.shortKey)
            diagnostics.append(
                Diagnostic(
                    .warning,
                    "\(AttemptRecord.warningPrefix)\(key) on the run was ignored and \(item.artifactType) signed anew: \(error)",
                    topic: .attemptRecord))
            logger.warning("attempt record ignored", metadata: ["annotation": "\(key)", "reason": "\(error)"])
            return nil
        }
        let signer = ReusedSigner(publicKey: made.publicKey, certificateChain: made.chain)
        let artifact = SignedArtifact(
            artifactType: item.artifactType, shortKey: item.shortKey, fullKey: item.fullKey,
            format: item.setting.format, payload: made.payload, signature: made.signature,
            publicKey: made.publicKey, certificateChain: made.chain, bundleEnvelope: made.bundleEnvelope,
            transparency: nil, timestamps: made.timestamps)
        return (artifact, signer)
    }

    /// What a backend that stores sigstore bundles needs signed besides the payload: the payload itself for
    /// in-toto formats (the envelope is the bundle's), the backend's image statement for an image; nil when no
    /// backend of this artifact stores bundles.
    func bundleStatement(_ item: PlannedArtifact, payload: Payload) -> Data? {
        let storing = item.setting.storage.compactMap { backends[$0] }.filter(\.storesBundles)
        guard !storing.isEmpty else { return nil }
        if item.format.isInToto { return payload.bytes }
        guard let digest = item.image?.digest else { return nil }
        return storing.lazy.compactMap { $0.imageStatement(for: digest) }.first
    }

    /// Every signature is made here — storage never signs: the payload's, and for the `sigstore-bundle` encoding of
    /// an image, cosign v3's image statement.
    func signature(
        _ item: PlannedArtifact, payload: Payload, signer: any Signer
    ) async throws -> (SignedArtifact, any Signer) {
        let signature =
            item.format.isInToto
            ? try await DSSE.sign(payload: payload.bytes, signer: signer) : try await signer.sign(payload.bytes)
        var bundleEnvelope: Data?
        if let statement = bundleStatement(item, payload: payload) {
            bundleEnvelope =
                item.format.isInToto ? signature : try await DSSE.sign(payload: statement, signer: signer)
        }
        let artifact = SignedArtifact(
            artifactType: item.artifactType, shortKey: item.shortKey, fullKey: item.fullKey,
            format: item.setting.format,
            payload: payload.bytes, signature: signature, publicKey: signer.publicKey,
            certificateChain: signer.certificateChain, bundleEnvelope: bundleEnvelope, transparency: nil)
        return (artifact, signer)
    }

    /// A timestamp over the signature a bundle of `signed` carries. A failure names the authority and is as
    /// retryable as its cause: nothing is stored without the timestamp that was asked for.
    static func timestamps(
        _ signed: SignedArtifact, by authority: any TimestampAuthority
    ) async throws(ChainsError) -> [SignedTimestamp] {
        guard let bytes = signed.bundleSignature else {
            throw ChainsError(.signing, "the signature of \(signed.fullKey) cannot be read for a timestamp")
        }
        do {
            return try await authority.timestamps(signature: bytes)
        } catch {
            throw ChainsError(
                .signing, "timestamp authority \(authority.address): \(error)", underlying: error,
                isRetryable: (error as? any RetryClassifiable)?.isRetryable ?? false)
        }
    }

    /// Storage annotations, then the mark: `signed: "true"` after success; after a failure the next `retries`, then
    /// `signed: "failed"`. A rerun that copied another run's marks starts its own count.
    static func patch(for outcome: RunOutcome, annotations: [String: String]) -> AnnotationPatch {
        var patch = AnnotationPatch()
        for artifact in outcome.artifacts {
            for receipt in artifact.receipts { patch.storage.merge(receipt.annotations) { _, new in new } }
        }
        var base = annotations
        if case .copiedAnnotations = outcome.reason {
            base = base.filter { !$0.key.hasPrefix(ChainsAnnotations.prefix) }
        }
        patch.mark = outcome.succeeded ? ChainsAnnotations.afterSuccess() : ChainsAnnotations.afterFailure(base)
        // An unfinished attempt keeps what it signed for the next one; a finished run needs none of it.
        if outcome.succeeded {
            // Those on the run when it was read, and those an AttemptRecorder kept on it during this attempt.
            let kept = annotations.keys.filter { $0.hasPrefix(AttemptRecord.prefix) }
            patch.remove = Set(kept + outcome.artifacts.map { AttemptRecord.key(shortKey: $0.shortKey) }).sorted()
        } else {
            for artifact in outcome.artifacts {
                patch.attempts[AttemptRecord.key(shortKey: artifact.shortKey)] = AttemptRecord(artifact).annotationValue
            }
        }
        // Chains writes the entry of the last upload; we name the run's own provenance entry when there is one.
        let logged = outcome.artifacts.filter { $0.transparency != nil }
        if let entry = (logged.last { $0.artifactType != .oci } ?? logged.last)?.transparency?.entry {
            patch.mark[ChainsAnnotations.transparency] = entry.annotationValue
        }
        return patch
    }

    /// Payloads only, no signing: the statement `chains provenance` prints, made by the same pipeline.
    package static func statement(
        for run: AnyRun, children: [TaskRun], config: ChainsConfig, format: PayloadFormat
    ) throws(ChainsError) -> (Statement, [Diagnostic]) {
        try PayloadPipeline(config: config).statement(for: run, children: children, format: format)
    }
}

/// What chains-config may ask for that a process cannot serve.
enum Capabilities {
    static func refusals(
        config: ChainsConfig, signers: any SignerSource, backends: Set<StorageKind>, hasTransparencyLog: Bool
    ) -> [ChainsError] {
        var out: [ChainsError] = []
        let artifacts = config.artifacts.map { ($0.type.configPrefix, $0.setting) }
        for (prefix, artifact) in artifacts where artifact.isEnabled {
            if !signers.supports(artifact.signer) {
                out.append(
                    ChainsError(
                        .unsupported,
                        "asks for the \"\(artifact.signer)\" signer, and this signing service was built without it (SigningAssembly builds every signer chains-config names); use \"x509\" or build the service with it",
                        key: "\(prefix).signer"))
            }
            for kind in artifact.storage where !backends.contains(kind) {
                out.append(
                    ChainsError(
                        .unsupported,
                        "storage backend \"\(kind)\" \(Self.unavailable(kind))",
                        key: "\(prefix).storage"))
            }
        }
        if config.fulcioEnabled && !signers.isKeyless
            && artifacts.contains(where: { $0.1.isEnabled && $0.1.signer == .x509 })
        {
            out.append(
                ChainsError(
                    .unsupported,
                    "is \"true\", but this signing service signs x509 with a key: runs would be signed with the local key instead. Build it with a keyless signer source (SigningAssembly does), or set it to \"false\" to sign with the key in the signing secrets.",
                    key: "signers.x509.fulcio.enabled"))
        }
        if config.transparency.isEnabled && !hasTransparencyLog {
            out.append(
                ChainsError(
                    .unsupported,
                    "is \"\(config.transparency.mode == .manual ? "manual" : "true")\", but this signing service was built without a transparency log (SigningAssembly builds one for transparency.url); set it to \"false\" or build the service with one",
                    key: "transparency.enabled"))
        }
        return out
    }

    /// Why a backend is not there, for the refusal.
    static func unavailable(_ kind: StorageKind) -> String {
        switch kind {
        case .kafka:
            return
                "cannot be served: Tekton Chains itself never stores there (its pubsub backend is unreachable by configuration); remove it"
        case .tekton, .oci, .gcs, .docdb, .archivista, .grafeas:
            return "was not given to this signing service (SigningAssembly builds it); build the service with it"
        }
    }
}
