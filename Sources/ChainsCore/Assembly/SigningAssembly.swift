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
package struct AssemblyEnvironment: Sendable {
    /// Where the `x509` key is read (`--signing-secrets`, `/etc/signing-secrets`), or the per-user directory where
    /// one is created on first use.
    package var signingSecrets: KeySignerSource.Origin
    /// The runs' children, Secrets, ServiceAccounts and Pods: `--objects` manifests or the API server.
    package var cluster: any ClusterView
    /// Where new signatures are kept on the run before they are pushed (the controller's); nil for `chains sign`.
    package var attempts: (any AttemptRecorder)?
    package var registries: RegistrySettings = .init()
    /// `--docker-config DIR`; nil means `$DOCKER_CONFIG`, then `~/.docker`.
    package var dockerConfig: String?
    /// Flags that win over `storage.*` / `signers.*` time settings.
    package var requestTimeout: Duration?
    package var runTimeout: Duration?
    /// `--trusted-root FILE`; wins over `signers.x509.trusted-root.file`.
    package var trustedRoot: URL?
    /// `--tuf-cache DIR` (default `~/.cache/chains/tuf/<mirror host>`).
    package var tufCache: URL?
    /// `--signing-config FILE`; wins over `signers.x509.signing-config.file`.
    package var signingConfig: URL?
    /// The time a signing config's services are chosen for (their `validFor`); now unless a test says.
    package var now: @Sendable () -> Date = { Date() }
    /// Makes the `spiffe` identity provider (the SPIFFE target, with gRPC, is linked only by the executable); nil:
    /// `spiffe` is named as not available.
    package var spiffeTokenProvider: SPIFFEProviderFactory?
    /// Where the cloud keychains and KMS clients read their settings (`AWS_*`, `GCE_METADATA_HOST`, `AZURE_*`,
    /// `SSL_CERT_FILE`): the process environment unless a caller (a test) gives its own.
    package var processEnvironment: [String: String] = ProcessInfo.processInfo.environment
    package var logger: Logger

    package init(signingSecrets: KeySignerSource.Origin, cluster: any ClusterView, logger: Logger) {
        self.signingSecrets = signingSecrets
        self.cluster = cluster
        self.logger = logger
    }
}

/// The setup could not be used: bad files or a configuration that asks for what cannot be served (exit 2 for
/// `chains sign`; the controller keeps its previous configuration).
public struct AssemblyError: Error, Sendable, CustomStringConvertible {
    /// Every problem found, each naming its key or file: a configuration is checked whole, not to the first error.
    public var errors: [ChainsError]
    /// Warnings found on the way (unknown keys, ignored manifests), worth printing with the errors.
    public var diagnostics: [Diagnostic]
    package init(errors: [ChainsError], diagnostics: [Diagnostic]) {
        self.errors = errors
        self.diagnostics = diagnostics
    }
    /// The errors, one per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// The composition root both front doors call: a parsed chains-config and an environment in; the signing service
/// and everything it owns out — the signer source (a key, keyless through Fulcio, or a KMS key beside either), the
/// trusted root (a file or TUF), the transparency log, the storage backends with their registry client and cloud
/// keychains, and the HTTP clients under them, closed by one `shutdown()`.
package final class SigningAssembly: Sendable {
    package let service: SigningService
    /// What building found worth saying: unreadable docker config, cloud keychains in use, notes on storage.
    package let diagnostics: [Diagnostic]
    /// The key source, when `x509` is a key (for the summary: a key created on first use).
    package let keys: KeySignerSource?
    /// The keyless certificates, when `signers.x509.fulcio.enabled` (for the summary: token source, Fulcio calls).
    package let keyless: KeylessCertificates?
    /// Where the trusted root came from (a file, TUF), for the summary; nil when there is none.
    package let trustedRootSource: String?
    /// When the signing config's choice may change (a `validFor` window of a service in use opens or closes).
    package let nextServiceChange: Date?
    let transports: [AsyncHTTPClientTransport]

    init(
        service: SigningService, diagnostics: [Diagnostic], signers: Signers, trustedRootSource: String?,
        transports: [AsyncHTTPClientTransport], nextServiceChange: Date? = nil
    ) {
        self.nextServiceChange = nextServiceChange
        self.service = service
        self.diagnostics = diagnostics
        self.keys = signers.keys
        self.keyless = signers.keyless
        self.trustedRootSource = trustedRootSource
        self.transports = transports
    }

    /// Closes every HTTP client the assembly made; call once, when no run uses the service any more.
    package func shutdown() async {
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
    package static func build(
        _ asked: ChainsConfig, _ env: AssemblyEnvironment
    ) async throws(AssemblyError) -> SigningAssembly {
        let logger = env.logger
        var diagnostics: [Diagnostic] = []
        let plan: ServicePlan
        do {
            plan = try await applySigningConfig(env, config: asked)
        } catch {
            throw AssemblyError(errors: [error], diagnostics: diagnostics)
        }
        let config = plan.config
        diagnostics += plan.notes
        let signers: Signers
        let trustedRoot: TrustedRoot?
        let trustedRootSource: String?
        do {
            let resolved = try await resolveTrustedRoot(
                env, config: config, timestampAuthorities: plan.timestampAuthorities, fromTUF: plan.tufRoot,
                logger: logger)
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
        let transparency: (any TransparencyLog)?
        let timestamps: (any TimestampAuthority)?
        do {
            let made = try await makeTransparency(
                env, config: config, version: plan.transparencyVersion, more: plan.moreLogs, trustedRoot: trustedRoot,
                trustedRootSource: trustedRootSource, logger: logger)
            transparency = made?.0
            transports += made?.1 ?? []
            let stamping = try makeTimestamps(
                env, urls: plan.timestampAuthorities, config: config, trustedRoot: trustedRoot,
                trustedRootSource: trustedRootSource, logger: logger)
            timestamps = stamping?.0
            if let http = stamping?.1 { transports.append(http) }
        } catch {
            for t in transports { try? await t.shutdown() }
            throw AssemblyError(errors: [ChainsError.classify(error, stage: .transparency)], diagnostics: diagnostics)
        }
        if config.artifacts.contains(where: { $0.setting.isEnabled && $0.setting.storage.contains(.oci) }) {
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
            let (others, made) = try await makeOtherBackends(env, config: config, logger: logger)
            backends += others
            transports += made
        } catch {
            for t in transports { try? await t.shutdown() }
            throw AssemblyError(errors: error.errors, diagnostics: diagnostics)
        }
        do {
            let service = try SigningService(
                config: config, signers: signers.source, backends: backends, cluster: env.cluster,
                transparency: transparency, timestamps: timestamps, attempts: env.attempts, logger: logger,
                runBudget: env.runTimeout)
            return SigningAssembly(
                service: service, diagnostics: diagnostics, signers: signers, trustedRootSource: trustedRootSource,
                transports: transports, nextServiceChange: plan.nextChange)
        } catch {
            for t in transports { try? await t.shutdown() }
            throw AssemblyError(errors: error.errors, diagnostics: diagnostics)
        }
    }
}
