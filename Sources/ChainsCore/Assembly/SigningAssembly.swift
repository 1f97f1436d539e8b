import ChainsConfig
import CloudCredentials
import Foundation
import HTTPTransport
import KubeModels
import Logging
import OCIRegistry
import RegistryAuth
import Signing
import Sigstore

/// What the signing service is built from besides chains-config: where the signing secrets are, the cluster it
/// reads, where attempt records go, registry access, time limits and the process environment. The command line
/// fills it from flags and `--objects`; the controller from its options and the API server.
public struct AssemblyEnvironment: Sendable {
    /// Where the `x509` key is read (`--signing-secrets`, `/etc/signing-secrets`), or the per-user directory where
    /// one is created on first use.
    public var signingSecrets: KeySignerSource.Origin
    /// The runs' children, Secrets, ServiceAccounts and Pods: `--objects` manifests or the API server.
    public var cluster: any ClusterView
    /// Where new signatures are kept on the run before they are pushed (the controller's); nil for `chains sign`.
    public var attempts: (any AttemptRecorder)?
    public var registries: RegistrySettings = .init()
    /// `--docker-config DIR`; nil means `$DOCKER_CONFIG`, then `~/.docker`.
    public var dockerConfig: String?
    /// Flags that win over `storage.*` / `signers.*` time settings.
    public var requestTimeout: Duration?
    public var runTimeout: Duration?
    /// `--trusted-root FILE`; wins over `signers.x509.trusted-root.file`.
    public var trustedRoot: URL?
    /// `--tuf-cache DIR` (default `~/.cache/chains/tuf/<mirror host>`).
    public var tufCache: URL?
    /// Makes the `spiffe` identity provider (the SPIFFE target, with gRPC, is linked only by the executable); nil:
    /// `spiffe` is named as not available.
    public var spiffeTokenProvider: SPIFFEProviderFactory?
    /// Where the cloud keychains and KMS clients read their settings (`AWS_*`, `GCE_METADATA_HOST`, `AZURE_*`,
    /// `SSL_CERT_FILE`): the process environment unless a caller (a test) gives its own.
    public var processEnvironment: [String: String] = ProcessInfo.processInfo.environment
    public var logger: Logger

    public init(signingSecrets: KeySignerSource.Origin, cluster: any ClusterView, logger: Logger) {
        self.signingSecrets = signingSecrets
        self.cluster = cluster
        self.logger = logger
    }
}

/// The setup could not be used: bad files or a configuration that asks for what cannot be served (exit 2 for
/// `chains sign`; the controller keeps its previous configuration).
public struct AssemblyError: Error, Sendable, CustomStringConvertible {
    public var errors: [ChainsError]
    public var diagnostics: [Diagnostic]
    public init(errors: [ChainsError], diagnostics: [Diagnostic]) {
        self.errors = errors
        self.diagnostics = diagnostics
    }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// The composition root both front doors call: a parsed chains-config and an environment in; the signing service
/// and everything it owns out — the signer source (a key, keyless through Fulcio, or a KMS key beside either), the
/// trusted root (a file or TUF), the transparency log, the storage backends with their registry client and cloud
/// keychains, and the HTTP clients under them, closed by one `shutdown()`.
public final class SigningAssembly: Sendable {
    public let service: SigningService
    /// What building found worth saying: unreadable docker config, cloud keychains in use, notes on storage.
    public let diagnostics: [Diagnostic]
    /// The key source, when `x509` is a key (for the summary: a key created on first use).
    public let keys: KeySignerSource?
    /// The keyless certificates, when `signers.x509.fulcio.enabled` (for the summary: token source, Fulcio calls).
    public let keyless: KeylessCertificates?
    /// Where the trusted root came from (a file, TUF), for the summary; nil when there is none.
    public let trustedRootSource: String?
    let transports: [AsyncHTTPClientTransport]

    init(
        service: SigningService, diagnostics: [Diagnostic], signers: Signers, trustedRootSource: String?,
        transports: [AsyncHTTPClientTransport]
    ) {
        self.service = service
        self.diagnostics = diagnostics
        self.keys = signers.keys
        self.keyless = signers.keyless
        self.trustedRootSource = trustedRootSource
        self.transports = transports
    }

    /// Closes every HTTP client the assembly made; call once, when no run uses the service any more.
    public func shutdown() async {
        for transport in transports { try? await transport.shutdown() }
    }

    /// The signer source chains-config asks for: the signing secrets' key, or keyless (Fulcio).
    struct Signers {
        var source: any SignerSource
        var keys: KeySignerSource?
        var keyless: KeylessCertificates?
        var transport: AsyncHTTPClientTransport?
        /// The KMS signer's own HTTP client, when an artifact type signs with `kms`.
        var kmsTransport: AsyncHTTPClientTransport?
    }

    /// Builds the service for `config` in `env`. Everything that keeps it from being served is an error naming the
    /// key, before anything is signed; the clients made before the failure are closed.
    public static func build(
        _ config: ChainsConfig, _ env: AssemblyEnvironment
    ) async throws(AssemblyError) -> SigningAssembly {
        let logger = env.logger
        var diagnostics: [Diagnostic] = []
        let signers: Signers
        let trustedRoot: TrustedRoot?
        let trustedRootSource: String?
        do {
            let resolved = try await resolveTrustedRoot(env, config: config, logger: logger)
            (trustedRoot, trustedRootSource) = (resolved?.root, resolved?.source)
            signers = try withKMS(
                try await makeSigners(env, config: config, trustedRoot: trustedRoot, logger: logger), env: env,
                config: config, logger: logger)
        } catch {
            throw AssemblyError(errors: [ChainsError.classify(error, stage: .signing)], diagnostics: diagnostics)
        }
        var backends: [any StorageBackend] = [TektonStorage()]
        var transports = signers.transport.map { [$0] } ?? []
        transports += signers.kmsTransport.map { [$0] } ?? []
        let transparency: RekorTransparencyLog?
        do {
            let made = try makeTransparency(env, config: config, trustedRoot: trustedRoot, logger: logger)
            transparency = made?.0
            if let http = made?.1 { transports.append(http) }
        } catch {
            for t in transports { try? await t.shutdown() }
            throw AssemblyError(errors: [ChainsError.classify(error, stage: .transparency)], diagnostics: diagnostics)
        }
        if [config.taskRun, config.pipelineRun, config.oci].contains(where: {
            $0.isEnabled && $0.storage.contains(.oci)
        }) {
            do {
                let (oci, made, warnings) = try await makeOCIStorage(
                    env, config: config, store: env.cluster, logger: logger)
                backends.append(oci)
                transports += made
                diagnostics += warnings
            } catch {
                for t in transports { try? await t.shutdown() }
                throw AssemblyError(errors: [ChainsError.classify(error, stage: .storage)], diagnostics: diagnostics)
            }
        }
        do {
            let service = try SigningService(
                config: config, signers: signers.source, backends: backends, cluster: env.cluster,
                transparency: transparency, attempts: env.attempts, logger: logger, runBudget: env.runTimeout)
            return SigningAssembly(
                service: service, diagnostics: diagnostics, signers: signers, trustedRootSource: trustedRootSource,
                transports: transports)
        } catch {
            for t in transports { try? await t.shutdown() }
            throw AssemblyError(errors: error.errors, diagnostics: diagnostics)
        }
    }

    /// How to reach the key `signers.kms.kmsref` names: `hashivault://KEY` (Vault transit), `gcpkms://…` (Cloud KMS),
    /// `azurekms://…` (Azure Key Vault) or `awskms://…`.
    static func kmsConnector(
        _ config: ChainsConfig, environment: [String: String], transport: any HTTPTransport,
        spiffe: SPIFFEProviderFactory? = nil
    ) throws(ChainsError) -> @Sendable () async throws(CloudCredentialError) -> any Signer {
        let key = "signers.kms.kmsref"
        if config.kmsRef.hasPrefix("hashivault://") {
            return try vaultConnector(config, environment: environment, transport: transport, spiffe: spiffe)
        }
        if config.kmsRef.hasPrefix("gcpkms://") {
            let version: String
            do {
                version = try GCPKMSSigner.version(of: config.kmsRef)
            } catch {
                throw ChainsError(.badInput, error.reason, key: key, underlying: error)
            }
            // The Pod's Google service account, through the metadata server, as for GCR.
            let tokens = GCRKeychain(environment: environment, transport: transport)
            return { () async throws(CloudCredentialError) -> any Signer in
                try await GCPKMSSigner.connect(
                    version: version, environment: environment, tokens: tokens, transport: transport)
            }
        }
        if config.kmsRef.hasPrefix("azurekms://") {
            let reference: AzureKeyVaultReference
            do {
                reference = try AzureKeyVaultReference(parsing: config.kmsRef)
            } catch {
                throw ChainsError(.badInput, error.reason, key: key, underlying: error)
            }
            guard let credential = EntraIDCredential(environment: environment, transport: transport) else {
                throw ChainsError(
                    .badInput,
                    "\(config.kmsRef) needs an Entra ID app, and the environment names none (AKS workload identity: "
                        + "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE; or AZURE_CLIENT_ID, "
                        + "AZURE_TENANT_ID and AZURE_CLIENT_SECRET)", key: key)
            }
            return { () async throws(CloudCredentialError) -> any Signer in
                try await AzureKeyVaultSigner.connect(reference, credential: credential, transport: transport)
            }
        }
        let reference: AWSKMSReference
        do {
            reference = try AWSKMSReference(parsing: config.kmsRef)
        } catch {
            throw ChainsError(.unsupported, error.reason, key: key, underlying: error)
        }
        guard let chain = AWSCredentialChain(environment: environment, transport: transport) else {
            throw ChainsError(
                .badInput,
                "\(config.kmsRef) needs AWS credentials, and the environment names none (IRSA: AWS_ROLE_ARN and "
                    + "AWS_WEB_IDENTITY_TOKEN_FILE; EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_FULL_URI; or "
                    + "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", key: key)
        }
        return { () async throws(CloudCredentialError) -> any Signer in
            try await AWSKMSSigner.connect(reference, chain: chain, transport: transport)
        }
    }

    /// `hashivault://KEY`: Vault transit with `signers.kms.auth.*`.
    static func vaultConnector(
        _ config: ChainsConfig, environment: [String: String], transport: any HTTPTransport,
        spiffe: SPIFFEProviderFactory?
    ) throws(ChainsError) -> @Sendable () async throws(CloudCredentialError) -> any Signer {
        let name = String(config.kmsRef.dropFirst("hashivault://".count))
        guard !name.isEmpty, !name.contains("/") else {
            throw ChainsError(
                .badInput, "\(config.kmsRef) names no transit key (hashivault://KEY)", key: "signers.kms.kmsref")
        }
        let settings: VaultSettings
        do {
            settings = try VaultSettings(auth: config.kmsAuth, environment: environment)
        } catch {
            throw ChainsError(.badInput, error.reason, key: error.identity, underlying: error)
        }
        let client = VaultClient(settings: settings, transport: transport, svid: try svidSource(settings, spiffe))
        return { () async throws(CloudCredentialError) -> any Signer in
            try await VaultTransitSigner.connect(keyName: name, client: client)
        }
    }

    /// `signers.kms.auth.spire.sock`: a fresh JWT-SVID for `.spire.audience` from that Workload API at each Vault
    /// login; nil without it. A socket that is not there yet (the SPIRE agent's CSI volume) is worth another try.
    static func svidSource(
        _ settings: VaultSettings, _ spiffe: SPIFFEProviderFactory?
    ) throws(ChainsError) -> (@Sendable () async throws(CloudCredentialError) -> String)? {
        guard let socket = settings.spireSocket, let audience = settings.spireAudience else { return nil }
        let key = "signers.kms.auth.spire.sock"
        guard let spiffe else {
            throw ChainsError(.unsupported, "is set, but this front door has no SPIFFE Workload API client", key: key)
        }
        let provider: any IdentityTokenProvider
        do {
            provider = try spiffe(socket, true)
        } catch {
            throw ChainsError(.badInput, "\(socket): \(error.reason)", key: key, underlying: error)
        }
        let who = "\(key) \(socket)"
        return { () async throws(CloudCredentialError) -> String in
            let token: IdentityToken?
            do {
                token = try await provider.token(audience: audience)
            } catch let error as IdentityTokenError {
                throw CloudCredentialError(identity: who, reason: error.reason, isRetryable: error.isRetryable)
            } catch {
                throw CloudCredentialError(identity: who, reason: "\(error)", isRetryable: true)
            }
            guard let token else {
                throw CloudCredentialError(
                    identity: who, reason: "no Workload API socket there (is the SPIRE agent's socket mounted?)",
                    isRetryable: true)
            }
            return token.raw
        }
    }

    /// `signer: kms` on any enabled artifact type: the key `signers.kms.kmsref` names, beside the `x509` source.
    /// Everything that keeps it from being served is an error naming the key, before anything is signed.
    static func withKMS(
        _ signers: Signers, env: AssemblyEnvironment, config: ChainsConfig, logger: Logger
    ) throws -> Signers {
        let asking = [
            ("artifacts.taskrun", config.taskRun), ("artifacts.pipelinerun", config.pipelineRun),
            ("artifacts.oci", config.oci),
        ].filter { $0.1.isEnabled && $0.1.signer == .kms }.map { "\($0.0).signer" }
        guard !asking.isEmpty else { return signers }
        let key = "signers.kms.kmsref"
        guard !config.kmsRef.isEmpty else {
            throw ChainsError(
                .badInput,
                "is empty, but \(asking.joined(separator: ", ")) is kms: set it to awskms:///KEY-ID, gcpkms://…, "
                    + "azurekms://VAULT.vault.azure.net/KEY or hashivault://KEY",
                key: key)
        }
        // `--resolve` pins apply to KMS hosts too; `SSL_CERT_FILE` (as Go's TLS reads it) adds a private CA to the
        // system's roots for them (a Vault or Key Vault behind a company CA). No address checks: the cloud's metadata
        // and credential agents live at link-local addresses.
        let bundle = env.processEnvironment["SSL_CERT_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        if let bundle,
            FileManager.default.contents(atPath: bundle).map({ String(decoding: $0, as: UTF8.self) })?.contains(
                "-----BEGIN CERTIFICATE-----") != true
        {
            throw ChainsError(
                .badInput,
                "SSL_CERT_FILE \(bundle) is not a readable PEM CA bundle (it is added to the roots for \(key))",
                key: "SSL_CERT_FILE")
        }
        let http = try AsyncHTTPClientTransport(
            policy: ConnectionPolicy(default: .init(bundle.map { .customCA(path: $0) } ?? .verified)),
            timeouts: HTTPTimeouts(request: .seconds(30)), logger: logger,
            rules: env.registries.resolve.isEmpty ? nil : ConnectionRules(pinned: env.registries.resolve))
        var out = signers
        out.kmsTransport = http
        do {
            out.source = ComposedSignerSource(
                x509: signers.source,
                kms: KMSSignerSource(
                    connect: try kmsConnector(
                        config, environment: env.processEnvironment, transport: RetryingTransport(http),
                        spiffe: env.spiffeTokenProvider))
            )
        } catch {
            Task { try? await http.shutdown() }
            throw error
        }
        return out
    }

    static func makeSigners(
        _ env: AssemblyEnvironment, config: ChainsConfig, trustedRoot: TrustedRoot?, logger: Logger
    ) async throws -> Signers {
        guard config.fulcioEnabled else {
            let keys = KeySignerSource(env.signingSecrets)
            return Signers(source: keys, keys: keys)
        }
        guard let address = URL(string: config.fulcioAddress), let host = address.host, !host.isEmpty,
            address.scheme == "https" || address.scheme == "http"
        else {
            throw ChainsError(.badInput, "is not an https URL", key: "signers.x509.fulcio.address")
        }
        // The identity token is a credential: plain http only to this machine (a local test Fulcio).
        guard address.carriesCredentialsSafely else {
            throw ChainsError(
                .badInput, "is plain http; the identity token would cross the network in clear — use https",
                key: "signers.x509.fulcio.address")
        }
        // Its own client: Fulcio's TLS is always verified, whatever registries are configured to allow.
        let http = try AsyncHTTPClientTransport(
            timeouts: HTTPTimeouts(request: env.requestTimeout ?? .seconds(30)), logger: logger)
        let providers: [any IdentityTokenProvider]
        do {
            providers = try IdentityTokenProviders.make(
                provider: config.fulcioProvider, tokenFile: config.identityTokenFile, transport: http,
                spiffe: env.spiffeTokenProvider)
        } catch {
            try? await http.shutdown()
            throw ChainsError(.badInput, error.description, key: "signers.x509.fulcio.provider", underlying: error)
        }
        let issuerSet = config.effective.first { $0.key == "signers.x509.fulcio.issuer" }.map { !$0.isDefault } ?? false
        let certificates = KeylessCertificates(
            fulcio: FulcioClient(address: address, transport: RetryingTransport(http), trustedRoot: trustedRoot),
            providers: providers,
            expectedIssuer: issuerSet ? config.fulcioIssuer : nil)
        return Signers(
            source: KeylessSignerSource(certificates: certificates), keyless: certificates, transport: http)
    }

    /// `--trusted-root`, else `signers.x509.trusted-root.file`, else — when keyless or Rekor is on — TUF: from
    /// `signers.x509.tuf.mirror.url` when it or `signers.x509.tuf.root.file` is set, or from sigstore's public-good
    /// mirror (embedded root) when the Fulcio or Rekor in use is the public-good one. Else none: a keyless chain is
    /// then checked only for its links, Rekor's key is the one it serves, and the summary says so.
    static func resolveTrustedRoot(
        _ env: AssemblyEnvironment, config: ChainsConfig, logger: Logger
    ) async throws -> (root: TrustedRoot, source: String)? {
        let file =
            env.trustedRoot ?? (config.trustedRootFile.isEmpty ? nil : URL(fileURLWithPath: config.trustedRootFile))
        if let file {
            do {
                return (try TrustedRoot(contentsOf: file), "file \(file.path)")
            } catch {
                throw ChainsError(
                    .badInput, error.description, file: file.path,
                    key: env.trustedRoot == nil ? "signers.x509.trusted-root.file" : nil, underlying: error)
            }
        }
        guard config.fulcioEnabled || config.transparency.isEnabled else { return nil }
        let mirrorSet =
            config.effective.first { $0.key == "signers.x509.tuf.mirror.url" }.map { !$0.isDefault } ?? false
        let publicGood =
            (config.fulcioEnabled && config.fulcioAddress == "https://fulcio.sigstore.dev")
            || (config.transparency.isEnabled && config.transparency.url == "https://rekor.sigstore.dev")
        guard mirrorSet || !config.tufRootFile.isEmpty || publicGood else { return nil }
        let fetched = try await LocalTrust.viaTUF(
            mirror: config.tufMirrorURL, rootFile: config.tufRootFile.isEmpty ? nil : config.tufRootFile,
            cache: env.tufCache, timeout: env.requestTimeout ?? .seconds(30), logger: logger)
        return (fetched.root, fetched.source)
    }

    /// `transparency.enabled`: a Rekor client for `transparency.url`, its own HTTP client (TLS always verified),
    /// entries checked with the trusted root's log keys when there is one.
    static func makeTransparency(
        _ env: AssemblyEnvironment, config: ChainsConfig, trustedRoot: TrustedRoot?, logger: Logger
    ) throws -> (RekorTransparencyLog, AsyncHTTPClientTransport)? {
        guard config.transparency.isEnabled else { return nil }
        guard let address = URL(string: config.transparency.url), let host = address.host, !host.isEmpty,
            address.scheme == "https" || address.scheme == "http"
        else {
            throw ChainsError(.badInput, "is not an https URL", key: "transparency.url")
        }
        let http = try AsyncHTTPClientTransport(
            timeouts: HTTPTimeouts(request: env.requestTimeout ?? .seconds(config.requestTimeout)), logger: logger)
        let client = RekorClient(address: address, transport: RetryingTransport(http), logs: trustedRoot?.tlogs ?? [])
        return (RekorTransparencyLog(client: client), http)
    }

    static func makeOCIStorage(
        _ env: AssemblyEnvironment, config: ChainsConfig, store: any ClusterView, logger: Logger
    ) async throws -> (OCIStorage, [AsyncHTTPClientTransport], [Diagnostic]) {
        let policy = env.registries.policy(insecureByDefault: config.ociRepositoryInsecure)
        let timeouts = HTTPTimeouts(
            request: env.requestTimeout ?? .seconds(config.requestTimeout))
        // The flag wins over chains-config's list; the refusals of a cluster stay either way.
        var settings = env.registries
        if settings.destinations.allowed.isEmpty { settings.destinations.allowed = config.ociAllowedRegistries }
        let http = try AsyncHTTPClientTransport(
            policy: policy, timeouts: timeouts, logger: logger, rules: settings.connectionRules)
        var warnings: [Diagnostic] = []
        let local: LocalDockerConfig?
        do {
            local = try LocalDockerConfig.load(directory: env.dockerConfig)
        } catch {
            warnings.append(.warning("\(error)"))
            local = nil
        }
        var made = [http]
        do {
            let (cloud, cloudHTTP) = try cloudKeychains(
                env.processEnvironment, registry: RetryingTransport(http), logger: logger)
            made += cloudHTTP.map { [$0] } ?? []
            for line in CloudKeychains.configured(env.processEnvironment) {
                warnings.append(.note("cloud keychain \(line)"))
            }
            let storage = try OCIStorage(
                client: RegistryClient(transport: RetryingTransport(http), policy: policy, logger: logger),
                cluster: store, dockerConfig: local, config: config, destinations: settings.destinations,
                cloud: cloud)
            return (storage, made, warnings)
        } catch {
            for t in made { try? await t.shutdown() }
            throw error
        }
    }

    /// The cloud keychains the environment configures, with their own HTTP client (TLS always verified; not the
    /// registries' connection rules: the EKS Pod Identity agent is at a link-local address), or none.
    static func cloudKeychains(
        _ environment: [String: String], registry: (any HTTPTransport)?, logger: Logger?
    ) throws -> ([any CloudKeychain], AsyncHTTPClientTransport?) {
        let http = try AsyncHTTPClientTransport(
            timeouts: HTTPTimeouts(connect: .seconds(2), request: .seconds(15)), logger: logger)
        let keychains = CloudKeychains.make(
            environment: environment, transport: RetryingTransport(http), registryTransport: registry)
        return (keychains, http)
    }
}
