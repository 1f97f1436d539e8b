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

/// Every signer kind, found from here: `makeSigners` — a key from the signing secrets (`KeySignerSource`,
/// Signers/SignerSources.swift; the key formats in Signing/Keys.swift and CosignKey.swift) or keyless
/// (`KeylessSignerSource` over Sigstore's `KeylessCertificates`: Fulcio, identity-token providers, SPIFFE through the
/// executable's factory); `withKMS` / `kmsConnector` — `signer: kms` beside either, by `signers.kms.kmsref`'s scheme:
/// `awskms://` (CloudCredentials/AWSKMS.swift), `gcpkms://` (GCPKMS.swift), `azurekms://` (AzureKeyVault.swift),
/// `hashivault://` (Vault.swift, with Vault's SPIFFE login).
extension SigningAssembly {
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
        let asking = config.artifacts.filter { $0.setting.isEnabled && $0.setting.signer == .kms }
            .map { "\($0.type.configPrefix).signer" }
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
}
