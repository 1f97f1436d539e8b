import ChainsConfig
import Foundation
import HTTPTransport
import KubeModels
import Logging
import OCIRegistry
import Provenance
import RegistryAuth
import Signing
import Sigstore

/// A run read from a file (YAML or JSON, as `kubectl get -o yaml` prints it), to be written back in the same
/// syntax with its annotations.
public struct RunFile: Sendable {
    public let url: URL
    public let run: AnyRun
    let root: JSONValue
    let format: ManifestReader.Format

    public static func read(_ url: URL) throws(ManifestError) -> RunFile {
        let (documents, format) = try ManifestReader.read(file: url)
        guard documents.count == 1 else {
            throw ManifestError(
                code: .shape, source: url.path,
                reason: "expected exactly one TaskRun or PipelineRun, found \(documents.count) documents")
        }
        return RunFile(
            url: url, run: try AnyRun(json: documents[0], source: url.path), root: documents[0], format: format)
    }

    /// The manifest with `annotations` added to `metadata.annotations` (the user's own are kept) and `removing`
    /// deleted.
    public func document(adding annotations: [String: String], removing: [String] = []) -> String {
        var object = root.objectValue ?? [:]
        var metadata = object["metadata"]?.objectValue ?? [:]
        var existing = metadata["annotations"]?.objectValue ?? [:]
        for k in removing { existing[k] = nil }
        for (k, v) in annotations { existing[k] = .string(v) }
        metadata["annotations"] = .object(existing)
        object["metadata"] = .object(metadata)
        let updated = JSONValue.object(object)
        return format == .json ? updated.prettySerialized() : updated.yamlSerialized()
    }
}

/// chains-config read from a file — the ConfigMap manifest or a flat `key: value` file — or the embedded default.
public struct LoadedConfig: Sendable {
    public var config: ChainsConfig
    /// The file, or nil for the embedded default.
    public var file: URL?
    public var diagnostics: [Diagnostic]

    /// With no file, every artifact type is stored with `tekton`, so the first run needs no registry.
    public static let embeddedDefault: [String: String] = ["artifacts.oci.storage": "tekton"]

    public static func load(_ file: URL?) throws(ChainsError) -> LoadedConfig {
        var data = embeddedDefault
        if let file {
            do throws(ManifestError) {
                data = try ChainsConfig.loadData(from: file)
            } catch {
                throw ChainsError(.badInput, error.description, file: file.path, underlying: error)
            }
        }
        var loaded = try parse(data, source: file?.path ?? "embedded default", file: file?.path)
        loaded.file = file
        return loaded
    }

    /// chains-config's strings (a file's, or the ConfigMap's `data` as the controller reads it): unknown keys are
    /// warnings; invalid values one error naming `source` and each key.
    public static func parse(
        _ data: [String: String], source: String, file: String? = nil
    ) throws(ChainsError) -> LoadedConfig {
        switch ChainsConfig.parse(data) {
        case .success(let parsed):
            let warnings = parsed.unknownKeys.map {
                Diagnostic.warning("chains-config key \"\($0)\" is not a Chains key; ignored")
            }
            return LoadedConfig(config: parsed.config, file: nil, diagnostics: warnings)
        case .failure(var errors):
            errors.source = source
            throw ChainsError(.badInput, errors.description, file: file)
        }
    }
}

/// What `chains sign` reads besides the run: chains-config, the signing secrets, the stand-in cluster, registry
/// access and time limits (flags win over chains-config). `LocalSigning.start` turns it into an
/// `AssemblyEnvironment`.
public struct LocalSetup: Sendable {
    public var configFile: URL?
    /// nil: the per-user directory, where a key is created on first use.
    public var signingSecrets: URL?
    public var objectDirectories: [URL]
    /// `--docker-config DIR`; nil means `$DOCKER_CONFIG`, then `~/.docker`.
    public var dockerConfig: String?
    public var registries: RegistrySettings
    public var requestTimeout: Duration?
    public var runTimeout: Duration?
    /// `--trusted-root FILE`; wins over `signers.x509.trusted-root.file`.
    public var trustedRoot: URL?
    /// `--bundle-out DIR`: a sigstore bundle per signed artifact.
    public var bundleOut: URL?
    /// `--tuf-cache DIR`: where TUF metadata is kept (default `~/.cache/chains/tuf/<mirror host>`).
    public var tufCache: URL?
    /// Makes the `spiffe` identity provider. The SPIFFE target (gRPC) is not a dependency of ChainsCore, so a
    /// front door that links it passes it in; nil: `spiffe` is named as not available.
    public var spiffeTokenProvider: SPIFFEProviderFactory?
    /// Where the cloud keychains read their settings (`AWS_*`, `GCE_METADATA_HOST`, `AZURE_*`): the process
    /// environment unless a caller (a test) gives its own.
    public var environment: [String: String] = ProcessInfo.processInfo.environment

    public init(
        configFile: URL? = nil, signingSecrets: URL? = nil, objectDirectories: [URL] = [], dockerConfig: String? = nil,
        registries: RegistrySettings = .init(), requestTimeout: Duration? = nil, runTimeout: Duration? = nil,
        spiffeTokenProvider: SPIFFEProviderFactory? = nil,
        trustedRoot: URL? = nil, bundleOut: URL? = nil, tufCache: URL? = nil
    ) {
        self.tufCache = tufCache
        self.bundleOut = bundleOut
        self.spiffeTokenProvider = spiffeTokenProvider
        self.trustedRoot = trustedRoot
        self.configFile = configFile
        self.signingSecrets = signingSecrets
        self.objectDirectories = objectDirectories
        self.dockerConfig = dockerConfig
        self.registries = registries
        self.requestTimeout = requestTimeout
        self.runTimeout = runTimeout
    }

    /// The per-user signing-secrets directory: `$CHAINS_SIGNING_SECRETS`, else
    /// `$XDG_CONFIG_HOME/chains/signing-secrets`, else `~/.config/chains/signing-secrets`.
    public static func defaultSigningSecrets(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> URL {
        if let explicit = environment["CHAINS_SIGNING_SECRETS"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit)
        }
        let base =
            environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".config")
        return base.appendingPathComponent("chains").appendingPathComponent("signing-secrets")
    }
}

/// `chains provenance`: the statement the service would sign for a run, made by the same payload pipeline, with a
/// PipelineRun's children found the same way (`--objects`), plus child manifests given one by one.
public enum LocalProvenance {
    public static func statement(
        runFile: URL, configFile: URL?, objectDirectories: [URL], childFiles: [URL], format: String?
    ) async throws(ChainsError) -> (Statement, [Diagnostic]) {
        var diagnostics: [Diagnostic] = []
        let config = try LoadedConfig.load(configFile).config
        let run: RunFile
        do throws(ManifestError) {
            run = try RunFile.read(runFile)
        } catch {
            throw ChainsError(.badInput, error.description, file: error.source, underlying: error)
        }
        let wanted = format ?? (run.run.run is TaskRun ? config.taskRun.format : config.pipelineRun.format).rawValue
        guard let payloadFormat = PayloadFormat(rawValue: wanted), payloadFormat.isInToto else {
            throw ChainsError(
                .badInput, "--format must be one of in-toto, slsa/v1, slsa/v2alpha3, slsa/v2alpha4 (got \"\(wanted)\")")
        }
        var children: [TaskRun] = []
        if case .pipelineRun(let pr) = run.run {
            do throws(ManifestError) {
                for file in childFiles {
                    for document in try ManifestReader.read(file: file).documents {
                        children.append(try TaskRun(json: document, source: file.path))
                    }
                }
                if !objectDirectories.isEmpty {
                    let store = try ObjectStore(directories: objectDirectories)
                    diagnostics += store.warnings.map { .warning($0) }
                    let lookup = try store.lookupChildren(of: pr)
                    diagnostics += lookup.missing.map { .warning("child TaskRun \($0) not found") }
                    children += lookup.found
                }
            } catch {
                throw ChainsError(.badInput, error.description, file: error.source, underlying: error)
            }
        }
        let (statement, warnings) = try SigningService.statement(
            for: run.run, children: children, config: config, format: payloadFormat)
        return (statement, diagnostics + warnings)
    }
}

extension LocalSetup {
    /// What `SigningAssembly` is built from: these flags, with `--objects` (`store`) as the cluster.
    func assemblyEnvironment(_ store: ObjectStore, _ logger: Logger) -> AssemblyEnvironment {
        var env = AssemblyEnvironment(
            signingSecrets: signingSecrets.map { .directory($0) } ?? .createOnFirstUse(Self.defaultSigningSecrets()),
            cluster: store, logger: logger)
        env.registries = registries
        env.dockerConfig = dockerConfig
        env.requestTimeout = requestTimeout
        env.runTimeout = runTimeout
        env.trustedRoot = trustedRoot
        env.tufCache = tufCache
        env.spiffeTokenProvider = spiffeTokenProvider
        env.processEnvironment = environment
        return env
    }

    /// A Go-style duration flag (`90s`, `3m`, `1m30s`, `500ms`); nil when it is not a positive one.
    public static func duration(_ text: String) -> Duration? {
        guard let seconds = ChainsConfig.parseDuration(text), seconds > 0 else { return nil }
        return .seconds(seconds)
    }
}
