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

/// The trusted root, the transparency log and the `oci` backend with its registry client and cloud keychains.
extension SigningAssembly {
    /// `--trusted-root`, else `signers.x509.trusted-root.file`, else — when keyless or Rekor is on — TUF: from
    /// `signers.x509.tuf.mirror.url` when it or `signers.x509.tuf.root.file` is set, or from sigstore's public-good
    /// mirror (embedded root) when the Fulcio or Rekor in use is the public-good one. Else none: a keyless chain is
    /// then checked only for its links, Rekor's key is the one it serves, and the summary says so. `fromTUF`: the
    /// root the signing config's TUF update already gave (used unless a file is named).
    static func resolveTrustedRoot(
        _ env: AssemblyEnvironment, config: ChainsConfig, timestampAuthorities: [URL] = [],
        fromTUF: (root: TrustedRoot, source: String)? = nil, logger: Logger
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
        if let fromTUF { return fromTUF }
        guard config.fulcioEnabled || config.transparency.isEnabled || !timestampAuthorities.isEmpty else {
            return nil
        }
        let mirrorSet =
            config.effective.first { $0.key == "signers.x509.tuf.mirror.url" }.map { !$0.isDefault } ?? false
        let publicGood =
            (config.fulcioEnabled && config.fulcioAddress == "https://fulcio.sigstore.dev")
            || (config.transparency.isEnabled && config.transparency.url == "https://rekor.sigstore.dev")
            || timestampAuthorities.contains { $0.host == "timestamp.sigstore.dev" }
        guard mirrorSet || !config.tufRootFile.isEmpty || publicGood else { return nil }
        let fetched = try await LocalTrust.viaTUF(
            mirror: config.tufMirrorURL, rootFile: config.tufRootFile.isEmpty ? nil : config.tufRootFile,
            cache: env.tufCache, timeout: env.requestTimeout ?? .seconds(30), logger: logger)
        return (fetched.root, fetched.source)
    }

    /// `transparency.enabled`: a Rekor client for `transparency.url` (and one for each of `more`, the other logs a
    /// signing config chose: then every signature goes to all of them), each with its own HTTP client (TLS always
    /// verified), entries checked with the trusted root's log keys when there is one.
    static func makeTransparency(
        _ env: AssemblyEnvironment, config: ChainsConfig, version: UInt32 = 1,
        more: [(url: String, version: UInt32)] = [], trustedRoot: TrustedRoot?, trustedRootSource: String?,
        logger: Logger
    ) async throws -> ((any TransparencyLog), [AsyncHTTPClientTransport])? {
        guard config.transparency.isEnabled else { return nil }
        var logs: [any TransparencyLog] = []
        var made: [AsyncHTTPClientTransport] = []
        do {
            for (url, version) in [(config.transparency.url, version)] + more {
                let (log, http) = try makeLog(
                    env, url: url, version: version, config: config, trustedRoot: trustedRoot,
                    trustedRootSource: trustedRootSource, logger: logger)
                logs.append(log)
                made.append(http)
            }
        } catch {
            for http in made { try? await http.shutdown() }
            throw error
        }
        return (logs.count == 1 ? logs[0] : TransparencyLogs(logs), made)
    }

    /// One log's client over its own HTTP client.
    static func makeLog(
        _ env: AssemblyEnvironment, url: String, version: UInt32, config: ChainsConfig, trustedRoot: TrustedRoot?,
        trustedRootSource: String?, logger: Logger
    ) throws -> ((any TransparencyLog), AsyncHTTPClientTransport) {
        guard let address = URL(string: url), let host = address.host, !host.isEmpty,
            address.scheme == "https" || address.scheme == "http"
        else {
            throw ChainsError(.badInput, "\(url) is not an https URL", key: "transparency.url")
        }
        // Checked before an HTTP client is made: one that is not used must be shut down, which takes a wait.
        if version == 2, RekorV2Client.trustedLog(at: address, in: trustedRoot?.tlogs ?? []) == nil {
            throw rekorV2NotInRoot(address, trustedRootSource)
        }
        // Rekor v2 answers a write once a checkpoint covers it: at least 20 s, whatever the request timeout says.
        // Writes overlap (every artifact of every run being signed), and each holds its connection for seconds.
        let seconds = version == 2 ? max(config.requestTimeout, 20) : config.requestTimeout
        let http = try AsyncHTTPClientTransport(
            timeouts: HTTPTimeouts(request: env.requestTimeout ?? .seconds(seconds)), logger: logger,
            connectionsPerHost: version == 2 ? 256 : 8)
        do {
            let log = try transparencyLog(
                at: address, version: version, transport: RetryingTransport(http), trustedRoot: trustedRoot,
                trustedRootSource: trustedRootSource)
            return (log, http)
        } catch {
            Task { try? await http.shutdown() }
            throw error
        }
    }

    /// The log at `address` speaking API `version` (1: Rekor, 2: Rekor v2), over `transport` — for the assembly and
    /// `chains sign-bundle` alike. A Rekor v2 log must be in the trusted root; a Rekor v1 log without one is checked
    /// with the key it serves.
    static func transparencyLog(
        at address: URL, version: UInt32, transport: any HTTPTransport, trustedRoot: TrustedRoot?,
        trustedRootSource: String?
    ) throws(ChainsError) -> any TransparencyLog {
        let logs = trustedRoot?.tlogs ?? []
        guard version == 2 else {
            return RekorTransparencyLog(client: RekorClient(address: address, transport: transport, logs: logs))
        }
        guard let client = RekorV2Client(address: address, transport: transport, logs: logs) else {
            throw rekorV2NotInRoot(address, trustedRootSource)
        }
        return RekorV2TransparencyLog(client: client)
    }

    static func rekorV2NotInRoot(_ address: URL, _ trustedRootSource: String?) -> ChainsError {
        ChainsError(
            .badInput,
            "Rekor v2 log \(address.absoluteString) is not in "
                + (trustedRootSource.map { "the trusted root (\($0))" } ?? "a trusted root")
                + ": a Rekor v2 log publishes no key to fall back on; give a trusted root that lists it "
                + "(--trusted-root, signers.x509.trusted-root.file, or TUF)",
            key: "signers.x509.signing-config.file")
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
