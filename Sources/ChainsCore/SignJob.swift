import ChainsConfig
import Foundation
import HTTPTransport
import KubeModels
import OCIRegistry
import Provenance
import RegistryAuth
import Signing

/// `chains sign`: one run from a file, signed and written back with its annotations.
public struct SignJob: Sendable {
    public var runFile: URL
    public var configFile: URL?
    public var signingSecrets: URL?
    public var objectDirectories: [URL]
    public var output: URL?
    public var force: Bool
    /// `--docker-config DIR`; nil means `$DOCKER_CONFIG`, then `~/.docker`.
    public var dockerConfig: String?
    /// How to reach registries (CA bundles, insecure ones).
    public var registries: RegistrySettings

    public init(
        runFile: URL, configFile: URL? = nil, signingSecrets: URL? = nil, objectDirectories: [URL] = [],
        output: URL? = nil, force: Bool = false, dockerConfig: String? = nil, registries: RegistrySettings = .init()
    ) {
        self.runFile = runFile
        self.configFile = configFile
        self.signingSecrets = signingSecrets
        self.objectDirectories = objectDirectories
        self.output = output
        self.force = force
        self.dockerConfig = dockerConfig
        self.registries = registries
    }

    /// What happened, for the exit code and the summary.
    public struct Report: Sendable {
        public enum Status: Sendable { case signed, failed, notDone, alreadySigned, badInput }
        public var status: Status
        /// Lines for stderr: what was found, what was signed with which key, where it went.
        public var lines: [String] = []
        /// The run with its annotations (YAML or JSON, as read), or nil when nothing is written.
        public var document: String?
        public var outcome: SignOutcome?

        /// 0 done; 1 the work failed; 2 bad usage or bad input.
        public var exitCode: Int32 {
            switch status {
            case .signed, .alreadySigned: return 0
            case .failed, .notDone: return 1
            case .badInput: return 2
            }
        }
    }

    /// The per-user signing-secrets directory: `$CHAINS_SIGNING_SECRETS`, else `$XDG_CONFIG_HOME/chains/signing-secrets`,
    /// else `~/.config/chains/signing-secrets`.
    public static func defaultSigningSecrets(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL
    {
        if let explicit = environment["CHAINS_SIGNING_SECRETS"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit)
        }
        let base =
            environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".config")
        return base.appendingPathComponent("chains").appendingPathComponent("signing-secrets")
    }

    /// With no `--config`, every artifact type is stored with `tekton` so the first run needs no registry.
    public static let embeddedDefaultConfig: [String: String] = ["artifacts.oci.storage": "tekton"]

    public func run() async -> Report {
        var report = Report(status: .badInput)

        // 1. The run.
        let documents: [JSONValue]
        let format: ManifestReader.Format
        let anyRun: AnyRun
        do throws(ManifestError) {
            (documents, format) = try ManifestReader.read(file: runFile)
            guard documents.count == 1 else {
                throw ManifestError(
                    code: .shape, source: runFile.path,
                    reason: "expected exactly one TaskRun or PipelineRun, found \(documents.count) documents")
            }
            anyRun = try AnyRun(json: documents[0], source: runFile.path)
        } catch {
            report.lines.append("error: \(error)")
            return report
        }
        let run = anyRun.run
        report.lines.append("found \(run.displayName) (uid \(run.uid.isEmpty ? "<none>" : run.uid))")
        guard run.isDone else {
            report.status = .notDone
            let condition = run.conditions.first { $0.type == "Succeeded" }
            report.lines.append(
                "error: \(run.displayName) is not finished (Succeeded condition: \(condition?.status ?? "missing")); "
                    + "Chains signs runs only when they are done. Nothing was signed or written.")
            return report
        }
        let existing = run.metadata.annotations ?? [:]
        if ChainsAnnotations.isReconciled(existing) && !force {
            report.status = .alreadySigned
            report.lines.append(
                "\(run.displayName) is already marked \(ChainsAnnotations.signed)=\(existing[ChainsAnnotations.signed]!); "
                    + "nothing to do (use --force to sign it again)")
            return report
        }

        // 2. Configuration.
        let config: ChainsConfig
        do {
            var data = Self.embeddedDefaultConfig
            if let configFile { data = try ChainsConfig.loadData(from: configFile) }
            switch ChainsConfig.parse(data) {
            case .success(let parsed):
                config = parsed.config
                for key in parsed.unknownKeys {
                    report.lines.append("warning: chains-config key \"\(key)\" is not a Chains key; ignored")
                }
            case .failure(var errors):
                errors.source = configFile?.path ?? "embedded default"
                report.lines.append("error: \(errors)")
                return report
            }
        } catch {
            report.lines.append("error: \(error)")
            return report
        }
        if configFile == nil {
            report.lines.append(
                "config: embedded default (every artifact stored with \"tekton\": annotations in the output)")
        }

        // 3. The stand-in cluster (--objects), and a PipelineRun's children from it.
        let store: ObjectStore
        do throws(ManifestError) {
            store = try ObjectStore(directories: objectDirectories)
        } catch {
            report.lines.append("error: \(error)")
            return report
        }
        report.lines += store.warnings.map { "warning: \($0)" }
        var children: [TaskRun] = []
        if case .pipelineRun(let pr) = anyRun, config.pipelineRun.isEnabled {
            do throws(ManifestError) {
                let (found, missing) = try store.children(of: pr)
                if !missing.isEmpty {
                    report.status = .failed
                    report.lines.append(
                        "error: \(pr.displayName): child TaskRuns not found among --objects: \(missing.joined(separator: ", ")). "
                            + "Give the directory holding them with --objects DIR (Chains does not sign a PipelineRun whose children it cannot see)."
                    )
                    return report
                }
                if let running = found.first(where: { !$0.isDone }) {
                    report.status = .notDone
                    report.lines.append("error: child \(running.displayName) is not finished; nothing was signed")
                    return report
                }
                children = found
                if !found.isEmpty {
                    report.lines.append("found \(found.count) child TaskRun(s) by status.childReferences")
                }
            } catch {
                report.lines.append("error: \(error)")
                return report
            }
        }

        // 4. The signer.
        let secrets = signingSecrets ?? Self.defaultSigningSecrets()
        let signer: KeySigner
        do {
            if signingSecrets == nil {
                let fm = FileManager.default
                let hasKey =
                    fm.fileExists(atPath: secrets.appendingPathComponent(SigningSecrets.x509File).path)
                    || fm.fileExists(atPath: secrets.appendingPathComponent(SigningSecrets.cosignKeyFile).path)
                if !hasKey {
                    let url = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: secrets)
                    report.lines.append(
                        "created a new ECDSA P-256 signing key: \(url.path) (public key: \(SigningSecrets.x509PublicFile) beside it)"
                    )
                }
            }
            signer = try SigningSecrets.loadSigner(from: secrets)
        } catch {
            report.status = .failed
            report.lines.append("error: \(error)")
            return report
        }
        report.lines.append("key: \(signer.key.algorithmName) from \(signer.origin), key id \(signer.publicKey.keyID)")

        // 5. Sign and store.
        let sink = CollectingSink()
        var backends: [String: any StorageBackend] = ["tekton": TektonStorage(sink: sink)]
        let usesOCI = [config.taskRun, config.pipelineRun, config.oci].contains {
            $0.isEnabled && $0.storage.contains("oci")
        }
        var transport: AsyncHTTPClientTransport?
        var ociStorage: OCIStorage?
        if usesOCI {
            do {
                let policy = registries.policy(insecureByDefault: config.ociRepositoryInsecure)
                let http = try AsyncHTTPClientTransport(policy: policy)
                transport = http
                let local: LocalDockerConfig?
                do {
                    local = try LocalDockerConfig.load(directory: dockerConfig)
                } catch {
                    report.lines.append("warning: \(error)")
                    local = nil
                }
                let storage = try OCIStorage(
                    client: RegistryClient(transport: RetryingTransport(http), policy: policy),
                    resolver: RunCredentialResolver(objects: store, dockerConfig: local), context: RunContext(run: run),
                    config: config)
                ociStorage = storage
                backends["oci"] = storage
            } catch {
                report.lines.append("error: oci storage cannot start: \(error)")
            }
        }
        let objectSigner = ObjectSigner(config: config, signers: ["x509": signer], backends: backends)
        var outcome = await objectSigner.sign(anyRun, children: children, existingAnnotations: existing)
        try? await transport?.shutdown()
        outcome.annotations.merge(await sink.annotations) { mark, _ in mark }
        report.outcome = outcome
        for r in ociStorage?.records ?? [] { report.lines.append("oci: \(r.target): \(r.outcome) (\(r.credential))") }
        for n in Set(ociStorage?.notes ?? []).sorted() { report.lines.append("note: \(n)") }

        for record in outcome.signed {
            report.lines.append(
                "signed \(record.artifactType) \(record.object) as \(record.format)"
                    + (record.storedIn.isEmpty ? " (not stored)" : " → \(record.storedIn.joined(separator: ", "))"))
            for subject in record.subjects { report.lines.append("  subject \(subject)") }
        }
        if outcome.signed.isEmpty && outcome.failures.isEmpty {
            report.lines.append("nothing to sign: every artifact type is disabled in chains-config")
        }
        report.lines += outcome.warnings.map { "warning: \($0)" }
        report.lines += outcome.failures.map { "error: \($0)" }

        // 6. The run written back with its annotations (also after a failure: the retry counter is recorded).
        var root = documents[0].objectValue ?? [:]
        var metadata = root["metadata"]?.objectValue ?? [:]
        var annotations = metadata["annotations"]?.objectValue ?? [:]
        for (k, v) in outcome.annotations { annotations[k] = .string(v) }
        metadata["annotations"] = .object(annotations)
        root["metadata"] = .object(metadata)
        let updated = JSONValue.object(root)
        report.document = format == .json ? updated.prettySerialized() : updated.yamlSerialized()
        report.status = outcome.succeeded ? .signed : .failed
        if outcome.succeeded {
            report.lines.append("marked \(ChainsAnnotations.signed)=true; wrote \(output?.path ?? "the run to stdout")")
        } else {
            let mark = outcome.annotations.map { "\($0.key)=\($0.value)" }.filter {
                !$0.contains("/payload-") && !$0.contains("/signature-") && !$0.contains("/cert-")
                    && !$0.contains("/chain-")
            }
            report.lines.append("signing failed; recorded \(mark.sorted().joined(separator: ", ")) on the run")
        }
        return report
    }
}
