import CloudCredentials
import Foundation
import HTTPTransport
import KubeModels
import OCI
import OCIRegistry
import RegistryAuth
import Signing
import Sigstore

/// Registry access for the commands that only read or probe (`verify`, `verify-attestation`, `auth explain`).
package enum LocalRegistryAccess {
    /// Runs `body` with a registry client; its HTTP client is shut down on every path.
    package static func withClient<T: Sendable>(
        _ settings: RegistrySettings, timeouts: HTTPTimeouts = .init(),
        _ body: (RegistryClient) async throws -> T
    ) async throws -> T {
        let policy = settings.policy(insecureByDefault: false)
        let transport = try AsyncHTTPClientTransport(
            policy: policy, timeouts: timeouts, rules: settings.connectionRules)
        do {
            let value = try await body(RegistryClient(transport: RetryingTransport(transport), policy: policy))
            try? await transport.shutdown()
            return value
        } catch {
            try? await transport.shutdown()
            throw error
        }
    }

    /// Runs `body` with a registry client and the credential search every command composes its keychain from: the
    /// docker config (`dockerConfig`, else `$DOCKER_CONFIG`, else `~/.docker`) and the cloud keychains the
    /// environment configures. Both HTTP clients are shut down on every path; what loading found worth saying (an
    /// unreadable docker config, the cloud keychains in use) is in the diagnostics.
    package static func withCredentialSearch<T: Sendable>(
        _ settings: RegistrySettings, dockerConfig: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment, timeouts: HTTPTimeouts = .init(),
        _ body: (RegistryClient, CredentialSearch, [Diagnostic]) async throws -> T
    ) async throws -> T {
        var diagnostics: [Diagnostic] = []
        var local: LocalDockerConfig?
        do {
            local = try LocalDockerConfig.load(directory: dockerConfig, environment: environment)
        } catch {
            diagnostics.append(.warning("\(error)"))
        }
        for line in CloudKeychains.configured(environment) { diagnostics.append(.note("cloud keychain \(line)")) }
        let found = local
        let notes = diagnostics
        return try await withClient(settings, timeouts: timeouts) { client in
            // ACR's exchange is a request to the registry: the keychains get the registry client's transport.
            let (cloud, cloudHTTP) = try SigningAssembly.cloudKeychains(
                environment, registry: client.transport, logger: nil)
            do {
                let value = try await body(client, CredentialSearch(dockerConfig: found, cloud: cloud), notes)
                try? await cloudHTTP?.shutdown()
                return value
            } catch {
                try? await cloudHTTP?.shutdown()
                throw error
            }
        }
    }

    /// `chains verify` / `verify-attestation`: a verifier for `image` (where its attachments are) with the
    /// credentials the no-run keychain finds — the docker config and its helpers, the cloud keychains (an ECR, GCR
    /// or ACR image is read with the workload identity `sign` pushed it with), anonymous. What the search found
    /// worth saying is passed to `body` with it.
    package static func withVerifier<T: Sendable>(
        _ settings: RegistrySettings, dockerConfig: String?, image: ImageReference,
        authority: AttachmentVerifier.Authority, thresholds: VerificationThresholds? = nil,
        logRoot: TrustedRoot? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
        _ body: (AttachmentVerifier, [Diagnostic]) async throws -> T
    ) async throws -> T {
        try await withCredentialSearch(settings, dockerConfig: dockerConfig, environment: environment) {
            client, search, notes in
            let found = await search.keychain().resolve(image)
            var verifier = AttachmentVerifier(client: client, credentials: found.candidates, authority: authority)
            verifier.thresholds = thresholds
            verifier.logRoot = logRoot
            return try await body(verifier, notes + found.warnings.map { .warning("\($0)") })
        }
    }

    /// `chains auth explain`: the run (if given) decides namespace, ServiceAccount, pod template and Pod;
    /// `--objects` stands in for the cluster; the local docker config and the cloud keychains come after them — the
    /// keychain a push by that run composes.
    package static func explain(
        image: ImageReference, runFile: URL?, objectDirectories: [URL], dockerConfig: String?,
        settings: RegistrySettings, checkPush: Bool,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws(ChainsError) -> (context: RunContext, explanation: AuthExplainer.Explanation, [Diagnostic]) {
        var context = RunContext(run: TaskRun.empty)
        let store: ObjectStore
        do throws(ManifestError) {
            if let runFile { context = RunContext(run: try RunFile.read(runFile).run.run) }
            store = try ObjectStore(directories: objectDirectories)
        } catch {
            throw ChainsError(.badInput, error.description, file: error.source, underlying: error)
        }
        let ctx = context
        do {
            return try await withCredentialSearch(settings, dockerConfig: dockerConfig, environment: environment) {
                client, search, notes in
                let explanation = await AuthExplainer(search: search, objects: store, client: client).explain(
                    image: image, context: ctx, checkPush: checkPush)
                return (ctx, explanation, store.warnings.map { .warning($0) } + notes)
            }
        } catch {
            throw ChainsError.classify(error, stage: .storage)
        }
    }

    /// A public key from a PEM file — or the public half of a private key file.
    /// A sigstore trusted_root.json named by a flag.
    package static func readTrustedRoot(_ path: String) throws(ChainsError) -> TrustedRoot {
        do {
            return try TrustedRoot(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ChainsError(.badInput, error.description, file: path, underlying: error)
        }
    }

    package static func readKey(_ path: String) throws(ChainsError) -> PublicKey {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ChainsError(.badInput, "cannot read the key \(path)", file: path)
        }
        do {
            return try PublicKey(pem: text, file: path)
        } catch {
            if let privateKey = try? PrivateKey(pem: text, file: path) { return privateKey.publicKey }
            throw ChainsError(.badInput, error.description, file: path, underlying: error)
        }
    }
}
