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

/// What `chains sign` reads besides the run: chains-config, the signing secrets, the stand-in cluster, registry
/// access and time limits (flags win over chains-config). `LocalSigning.start` turns it into an
/// `AssemblyEnvironment`.
public struct LocalSetup: Sendable {
    /// The chains-config ConfigMap manifest, or a flat `key: value` file; nil: every artifact stored with `tekton`.
    public var configFile: URL?
    /// nil: the per-user directory, where a key is created on first use.
    public var signingSecrets: URL?
    /// Directories of Kubernetes manifests standing in for the cluster (ServiceAccounts, Secrets, Pods, child TaskRuns).
    public var objectDirectories: [URL]
    /// `--docker-config DIR`; nil means `$DOCKER_CONFIG`, then `~/.docker`.
    public var dockerConfig: String?
    /// Registry CA bundles, opted-out registries and pinned addresses.
    public var registries: RegistrySettings
    /// The longest one request may take; nil: `chains-in-swift.timeout.request`, else 60 s.
    public var requestTimeout: Duration?
    /// The time budget for signing and storing one run; nil: `chains-in-swift.timeout.run`, else 3 minutes.
    public var runTimeout: Duration?
    /// `--trusted-root FILE`; wins over `signers.x509.trusted-root.file`.
    public var trustedRoot: URL?
    /// `--bundle-out DIR`: a sigstore bundle per signed artifact.
    public var bundleOut: URL?
    /// `--tuf-cache DIR`: where TUF metadata is kept (default `~/.cache/chains/tuf/<mirror host>`).
    public var tufCache: URL?
    /// `--signing-config FILE`: a sigstore signing config v0.2 choosing Fulcio, Rekor and the timestamp authority;
    /// wins over `signers.x509.signing-config.file`.
    public var signingConfig: URL?
    /// Makes the `spiffe` identity provider. The SPIFFE target (gRPC) is not a dependency of ChainsCore, so a
    /// front door that links it passes it in; nil: `spiffe` is named as not available.
    package var spiffeTokenProvider: SPIFFEProviderFactory?
    /// Where the cloud keychains read their settings (`AWS_*`, `GCE_METADATA_HOST`, `AZURE_*`): the process
    /// environment unless a caller (a test) gives its own.
    public var environment: [String: String] = ProcessInfo.processInfo.environment

    /// A setup with these files and settings; every argument may be left out (Chains' defaults, a per-user key).
    public init(
        configFile: URL? = nil, signingSecrets: URL? = nil, objectDirectories: [URL] = [], dockerConfig: String? = nil,
        registries: RegistrySettings = .init(), requestTimeout: Duration? = nil, runTimeout: Duration? = nil,
        trustedRoot: URL? = nil, bundleOut: URL? = nil, tufCache: URL? = nil
    ) {
        self.tufCache = tufCache
        self.bundleOut = bundleOut
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
        env.signingConfig = signingConfig
        env.spiffeTokenProvider = spiffeTokenProvider
        env.processEnvironment = environment
        return env
    }

    /// A Go-style duration flag (`90s`, `3m`, `1m30s`, `500ms`); nil when it is not a positive one.
    package static func duration(_ text: String) -> Duration? {
        guard let seconds = ChainsConfig.parseDuration(text), seconds > 0 else { return nil }
        return .seconds(seconds)
    }
}
