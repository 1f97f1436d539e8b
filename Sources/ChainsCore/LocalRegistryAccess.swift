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
public enum LocalRegistryAccess {
    /// Runs `body` with a registry client; its HTTP client is shut down on every path.
    public static func withClient<T: Sendable>(
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

    /// Credentials for reading an image: the local docker config (and its helpers), then anonymous.
    public static func readCredentials(
        dockerConfig: String?, image: ImageReference
    ) async -> (credentials: [SourcedCredential], diagnostics: [Diagnostic]) {
        var out: [SourcedCredential] = []
        var diagnostics: [Diagnostic] = []
        do {
            if let local = try LocalDockerConfig.load(directory: dockerConfig) {
                let (found, warnings) = await local.lookup(image)
                out += found
                diagnostics += warnings.map { .warning("\($0)") }
            }
        } catch {
            diagnostics.append(.warning("\(error)"))
        }
        out.append(SourcedCredential(.anonymous, source: .init(kind: .anonymous, origin: "", key: "")))
        return (out, diagnostics)
    }

    /// `chains auth explain`: the run (if given) decides namespace, ServiceAccount and pod template; `--objects`
    /// stands in for the cluster; the local docker config comes after them.
    public static func explain(
        image: ImageReference, runFile: URL?, objectDirectories: [URL], dockerConfig: String?,
        settings: RegistrySettings, checkPush: Bool,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws(ChainsError) -> (context: RunContext, explanation: AuthExplainer.Explanation, [Diagnostic]) {
        var diagnostics: [Diagnostic] = []
        var context = RunContext(run: TaskRun.empty)
        let store: ObjectStore
        do throws(ManifestError) {
            if let runFile { context = RunContext(run: try RunFile.read(runFile).run.run) }
            store = try ObjectStore(directories: objectDirectories)
        } catch {
            throw ChainsError(.badInput, error.description, file: error.source, underlying: error)
        }
        diagnostics += store.warnings.map { .warning($0) }
        var local: LocalDockerConfig?
        do {
            local = try LocalDockerConfig.load(directory: dockerConfig)
        } catch {
            diagnostics.append(.warning("\(error)"))
        }
        let ctx = context
        for line in CloudKeychains.configured(environment) { diagnostics.append(.note("cloud keychain \(line)")) }
        do {
            let explanation = try await withClient(settings) { client in
                // ACR's exchange is a request to the registry: the keychains get the registry client's transport.
                let (cloud, cloudHTTP) = try LocalSigning.cloudKeychains(
                    environment, registry: client.transport, logger: nil)
                let resolver = RunCredentialResolver(objects: store, dockerConfig: local, cloud: cloud)
                let explanation = await AuthExplainer(resolver: resolver, client: client).explain(
                    image: image, context: ctx, checkPush: checkPush)
                try? await cloudHTTP?.shutdown()
                return explanation
            }
            return (context, explanation, diagnostics)
        } catch {
            throw ChainsError.classify(error, stage: .storage)
        }
    }

    /// A public key from a PEM file — or the public half of a private key file.
    /// A sigstore trusted_root.json named by a flag.
    public static func readTrustedRoot(_ path: String) throws(ChainsError) -> TrustedRoot {
        do {
            return try TrustedRoot(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ChainsError(.badInput, error.description, file: path, underlying: error)
        }
    }

    public static func readKey(_ path: String) throws(ChainsError) -> PublicKey {
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
