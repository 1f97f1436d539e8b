import ChainsConfig
import ChainsCore
import Crypto
import Foundation
import KubeClient
import KubeModels
import Logging

/// Keeps the signing service in step with what it is built from: the `chains-config` ConfigMap (watched), or the
/// `--config` file, the `--signing-config` file and its `validFor` windows (chosen again when one opens or closes),
/// and the signing secrets directory (Kubernetes updates a mounted Secret by swapping a symlink,
/// so its files are compared by content every `interval`). A change builds a new service; one that does not build
/// (an invalid key, a configuration asking for what cannot be served) keeps the previous one, and a log line and
/// an Event on the ConfigMap name the key.
package actor LiveConfiguration {
    let client: KubeAPIClient
    let options: ControllerOptions
    let supply: ServiceSupply
    let ownWrites: OwnWrites?
    let logger: Logger
    /// The ConfigMap's `data` in use (nil: no ConfigMap, Chains' defaults); ignored with `--config`.
    var applied: JSONValue?
    /// The last `data` that did not build: not tried again until the ConfigMap changes.
    var rejected: JSONValue??
    var fingerprint: [String: SHA256Digest]
    /// The signing config's `validFor` boundary last chosen again at.
    var windowTried: Date?

    init(
        client: KubeAPIClient, options: ControllerOptions, supply: ServiceSupply, applied: JSONValue?,
        ownWrites: OwnWrites? = nil, logger: Logger
    ) {
        self.ownWrites = ownWrites
        self.client = client
        self.options = options
        self.supply = supply
        self.applied = applied
        self.logger = logger
        self.fingerprint = Self.fingerprint(options)
    }

    static let name = "chains-config"

    /// Builds a signing service from chains-config's `data` (nil: no ConfigMap, Chains' defaults) or `--config`, and
    /// the options: the ConfigMap's strings go straight to `ChainsConfig.parse`, then to `SigningAssembly` — the
    /// composition `chains sign` uses, with the API server as the cluster. Unknown keys are among the diagnostics.
    static func build(
        _ data: JSONValue?, client: KubeAPIClient, options: ControllerOptions, ownWrites: OwnWrites? = nil,
        logger: Logger
    ) async throws -> (assembly: SigningAssembly, diagnostics: [Diagnostic]) {
        let loaded: LoadedConfig
        if let file = options.configFile {
            loaded = try LoadedConfig.load(file)
        } else {
            let source = "ConfigMap \(options.systemNamespace)/\(name)"
            let strings: [String: String]
            do throws(ManifestError) {
                if let data, data.objectValue == nil, data != .null {
                    throw ManifestError(
                        code: .shape, source: source, field: "data", reason: "expected an object of strings")
                }
                strings = try ChainsConfig.strings(data?.objectValue ?? [:], source: source)
            } catch {
                throw ChainsError(.badInput, error.description, underlying: error)
            }
            loaded = try LoadedConfig.parse(strings, source: source)
        }
        var env = AssemblyEnvironment(
            signingSecrets: .directory(options.signingSecrets), cluster: KubeClusterView(client: client),
            logger: logger)
        env.attempts = KubeAttemptRecorder(client: client, ownWrites: ownWrites)
        env.spiffeTokenProvider = options.spiffeTokenProvider
        env.runTimeout = options.runTimeout
        env.trustedRoot = options.trustedRoot
        env.signingConfig = options.signingConfig
        env.registries.destinations =
            options.kubeconfig == nil
            ? .inCluster(allowed: options.allowedRegistries) : .init(allowed: options.allowedRegistries)
        env.registries.resolve = options.resolve
        env.processEnvironment = options.environment
        let assembly = try await SigningAssembly.build(loaded.config, env)
        return (assembly, loaded.diagnostics + assembly.diagnostics)
    }

    /// Watches until cancelled.
    func run() async {
        await withDiscardingTaskGroup { group in
            if options.configFile == nil { group.addTask { await self.watchConfigMap() } }
            group.addTask { await self.pollFiles() }
        }
    }

    func watchConfigMap() async {
        let reflector = Reflector(
            client: client, resource: .configMaps, namespace: options.systemNamespace,
            onError: { [logger] error in logger.warning("watching ConfigMap chains-config: \(error)") })
        for await event in reflector.events() {
            switch event {
            case .synced(let objects):
                let map = objects.first { $0["metadata"]?["name"]?.stringValue == Self.name }
                await changed(map?["data"] ?? (map == nil ? nil : .object([:])), map: map)
            case .upsert(let map) where map["metadata"]?["name"]?.stringValue == Self.name:
                await changed(map["data"] ?? .object([:]), map: map)
            case .delete(let map) where map["metadata"]?["name"]?.stringValue == Self.name:
                await changed(nil, map: nil)
            default:
                break
            }
        }
    }

    func changed(_ data: JSONValue?, map: JSONValue?) async {
        guard data != applied, rejected != .some(data) else { return }
        await rebuild(
            data, why: data == nil ? "ConfigMap chains-config deleted: Chains' defaults" : "chains-config changed",
            map: map)
    }

    func pollFiles() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: options.reloadInterval)
            let now = Self.fingerprint(options)
            if now != fingerprint {
                fingerprint = now
                rejected = nil
                await rebuild(
                    applied, why: "the signing secrets, the configuration file or the signing config changed", map: nil)
            } else if let change = supply.nextServiceChange, Date() >= change, change != windowTried {
                // Tried once per boundary: a selection that no longer builds is said once, not every interval.
                windowTried = change
                await rebuild(
                    applied, why: "a validFor window of the signing config opened or closed at \(change)", map: nil)
            }
        }
    }

    func rebuild(_ data: JSONValue?, why: String, map: JSONValue?) async {
        do {
            let built = try await Self.build(
                data, client: client, options: options, ownWrites: ownWrites, logger: logger)
            for d in built.diagnostics { logger.warning("\(d)") }
            await supply.replace(with: built.assembly)
            applied = data
            rejected = nil
            logger.info("\(why): the new configuration is in use (generation \(supply.generation))")
        } catch {
            rejected = .some(data)
            let message = "\(why), but it cannot be used; the previous configuration stays in use: \(error)"
            logger.error("\(message)")
            guard let map else { return }
            await KubeEvents(client: client, logger: logger).post(
                .warning, "InvalidConfiguration", message,
                about: .init(
                    apiVersion: "v1", kind: "ConfigMap", namespace: options.systemNamespace, name: Self.name,
                    uid: map["metadata"]?["uid"]?.stringValue ?? ""))
        }
    }

    /// Each regular file of the signing secrets (and `--config`) by name and content: `..data` and the other
    /// dot-entries of a mounted Secret are left out, the files are read through their symlinks.
    static func fingerprint(_ options: ControllerOptions) -> [String: SHA256Digest] {
        var out: [String: SHA256Digest] = [:]
        let fm = FileManager.default
        let names = (try? fm.contentsOfDirectory(atPath: options.signingSecrets.path)) ?? []
        for name in names where !name.hasPrefix(".") {
            let url = options.signingSecrets.appendingPathComponent(name)
            if let data = try? Data(contentsOf: url) { out[name] = SHA256.hash(data: data) }
        }
        if let file = options.configFile, let data = try? Data(contentsOf: file) {
            out["--config"] = SHA256.hash(data: data)
        }
        if let file = options.signingConfig, let data = try? Data(contentsOf: file) {
            out["--signing-config"] = SHA256.hash(data: data)
        }
        return out
    }
}
