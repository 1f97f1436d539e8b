import Foundation
import KubeModels
import OCI

/// Kubernetes objects the credential search reads: Secrets and ServiceAccounts. `chains sign` answers from
/// `--objects` manifests; the controller will answer from the API server.
public protocol ClusterObjects: Sendable {
    func secret(namespace: String, name: String) async throws -> Secret?
    func serviceAccount(namespace: String, name: String) async throws -> ServiceAccount?
}

/// The local docker configuration: `--docker-config DIR`, else `$DOCKER_CONFIG`, else `~/.docker`.
public struct LocalDockerConfig: Sendable {
    public var path: String
    public var config: DockerConfig
    public var helperSearchPath: [String]?
    /// How long each credential helper may take (`CredentialHelper.timeout`).
    public var helperTimeout: Duration

    public init(
        path: String, config: DockerConfig, helperSearchPath: [String]? = nil,
        helperTimeout: Duration = CredentialHelper.defaultTimeout
    ) {
        self.path = path
        self.config = config
        self.helperSearchPath = helperSearchPath
        self.helperTimeout = helperTimeout
    }

    /// Loads `config.json` from the directory; nil (with no warning) when there is none.
    public static func load(
        directory: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    )
        throws(CredentialWarning) -> LocalDockerConfig?
    {
        let dir =
            directory ?? environment["DOCKER_CONFIG"]
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.docker")
        let path = dir + "/config.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            if directory != nil {
                throw CredentialWarning(source: path, message: "no config.json in the --docker-config directory")
            }
            return nil
        }
        do {
            let (config, problems) = try DockerConfig.parse(data)
            if let first = problems.first { throw CredentialWarning(source: path, message: first) }
            return LocalDockerConfig(path: path, config: config)
        } catch let error as DockerConfig.FormatError {
            throw CredentialWarning(source: path, message: error.description)
        } catch let warning as CredentialWarning {
            throw warning
        } catch {
            throw CredentialWarning(source: path, message: "\(error)")
        }
    }

    /// Docker's lookup: keys `registry/repository` then `registry` (Docker Hub: `https://index.docker.io/v1/`);
    /// `credHelpers[key]`, else `credsStore`, else `auths` (exact key, then by host name).
    public func lookup(
        _ image: ImageReference
    ) async -> (credentials: [SourcedCredential], warnings: [CredentialWarning]) {
        let registryKey = image.registry == ImageReference.dockerHub ? "https://index.docker.io/v1/" : image.registry
        var out: [SourcedCredential] = []
        var warnings: [CredentialWarning] = []
        var asked = Set<String>()
        for key in [image.name, registryKey] {
            if let helper = config.credHelpers[key] ?? config.credHelpers[DockerConfig.hostname(key)]
                ?? config.credsStore
            {
                let h = CredentialHelper(name: helper, searchPath: helperSearchPath, timeout: helperTimeout)
                let serverURL = key == image.name ? image.registry : key
                // Helpers are keyed by registry: the repository key and the registry key often ask the same thing.
                guard asked.insert("\(helper)\u{0}\(serverURL)").inserted else { continue }
                do {
                    if let c = try await h.get(serverURL) {
                        out.append(
                            SourcedCredential(c, source: .init(kind: .credentialHelper, origin: h.program, key: key)))
                        break
                    }
                } catch {
                    warnings.append(error)
                }
                continue
            }
            if let c = config.auths[key] {
                out.append(SourcedCredential(c, source: .init(kind: .dockerConfig, origin: path, key: key)))
                break
            }
            if let match = config.auths.keys.sorted().first(where: {
                DockerConfig.hostname($0) == DockerConfig.hostname(key) && !key.contains("/") || $0 == key
            }) {
                out.append(
                    SourcedCredential(
                        config.auths[match]!, source: .init(kind: .dockerConfig, origin: path, key: match)))
                break
            }
        }
        return (out, warnings)
    }
}

/// Finds every credential that may push to an image for a run, in the order they are tried:
///
/// 1. the run's ServiceAccount `secrets` (where Tekton Chains looks, and the recommended place),
/// 2. the run's pod template `imagePullSecrets`,
/// 3. the ServiceAccount's `imagePullSecrets`,
/// 4. the local docker config and its credential helpers,
/// 5. the cloud keychains (ECR, GCR / Artifact Registry, ACR), each for its own hosts,
/// 6. anonymous.
///
/// Within a source, the entries of all its Secrets form one keyring, matched as the kubelet does: the most specific
/// key first whichever Secret holds it, equal keys in the Secrets' order. Only the run's own namespace is read.
/// Missing Secrets or ServiceAccounts are warnings.
public struct RunCredentialResolver: Sendable {
    public var objects: any ClusterObjects
    public var dockerConfig: LocalDockerConfig?
    /// Asked after the docker config, each for its own hosts only.
    public var cloud: [any CloudKeychain]

    public init(objects: any ClusterObjects, dockerConfig: LocalDockerConfig?, cloud: [any CloudKeychain] = []) {
        self.objects = objects
        self.dockerConfig = dockerConfig
        self.cloud = cloud
    }

    /// The order, as `auth explain` prints it.
    public static let order =
        "order: the ServiceAccount's secrets, the run's Pod imagePullSecrets, the pod template's imagePullSecrets, "
        + "the ServiceAccount's imagePullSecrets, the local docker config and its helpers, the cloud keychains, "
        + "anonymous; within each, "
        + "the entries of all its Secrets as one keyring, the most specific key first (as the kubelet merges pull "
        + "secrets), equal keys in the Secrets' order"

    /// For each candidate, why it is where it is (what `auth explain` prints).
    public static func placement(_ candidates: [SourcedCredential]) -> [String] {
        let kinds: [CredentialSource.Kind] = [
            .serviceAccountSecret, .podPullSecret, .podTemplatePullSecret, .serviceAccountPullSecret, .dockerConfig,
            .cloudKeychain, .anonymous,
        ]
        var out: [String] = []
        var previous: SourcedCredential?
        for candidate in candidates {
            let kind = candidate.source.kind
            // The docker config and its helpers are one source.
            let place = (kinds.firstIndex(of: kind == .credentialHelper ? .dockerConfig : kind) ?? 0) + 1
            var why = "source \(place) (\(kind.rawValue))"
            if let previous, previous.source.kind == kind, kind != .anonymous {
                if previous.source.key == candidate.source.key {
                    why += "; same key as the one above, from a later Secret"
                } else {
                    why += "; key \"\(candidate.source.key)\" is less specific than \"\(previous.source.key)\""
                }
            } else if kind != .anonymous {
                why += "; its most specific matching key"
            }
            out.append(why)
            previous = candidate
        }
        return out
    }

    public struct Resolution: Sendable {
        public var candidates: [SourcedCredential]
        public var warnings: [CredentialWarning]
        /// Why a ServiceAccount or Secret could not be read (not: was not there). When a push is then refused, the
        /// credential it needed may be among them — an API outage must not look like missing credentials.
        public var readErrors: [any Error & Sendable] = []
    }

    public func resolve(
        image: ImageReference, namespace rawNamespace: String, serviceAccount rawSA: String,
        podTemplatePullSecrets: [String], podPullSecrets: [String] = []
    ) async -> Resolution {
        let namespace = rawNamespace.isEmpty ? "default" : rawNamespace
        let saName = rawSA.isEmpty ? "default" : rawSA
        let saRef = "\(namespace)/\(saName)"
        var warnings: [CredentialWarning] = []
        var candidates: [SourcedCredential] = []
        var readErrors: [any Error & Sendable] = []
        let target = image.name

        var sa: ServiceAccount?
        do {
            sa = try await objects.serviceAccount(namespace: namespace, name: saName)
            if sa == nil {
                warnings.append(
                    CredentialWarning(source: "ServiceAccount \(saRef)", message: "not found; its secrets are not used")
                )
            }
        } catch {
            warnings.append(CredentialWarning(source: "ServiceAccount \(saRef)", message: "cannot be read: \(error)"))
            readErrors.append(error)
        }

        func fromSecrets(_ names: [String], kind: CredentialSource.Kind, via: String?) async {
            var merged = Keyring()
            for name in names where !name.isEmpty {
                let ref = "\(namespace)/\(name)"
                let secret: Secret?
                do {
                    secret = try await objects.secret(namespace: namespace, name: name)
                } catch {
                    warnings.append(CredentialWarning(source: "Secret \(ref)", message: "cannot be read: \(error)"))
                    readErrors.append(error)
                    continue
                }
                guard let secret else {
                    warnings.append(
                        CredentialWarning(source: "Secret \(ref)", message: "not found (listed in \(kind.rawValue))"))
                    continue
                }
                let keyring = SecretCredentials.keyring(secret, ref: ref, kind: kind, serviceAccount: via)
                warnings += keyring.warnings
                merged.merge(keyring.keyring)
            }
            candidates += merged.lookup(target)
        }

        await fromSecrets((sa?.secrets ?? []).compactMap(\.name), kind: .serviceAccountSecret, via: saRef)
        await fromSecrets(podPullSecrets, kind: .podPullSecret, via: nil)
        await fromSecrets(podTemplatePullSecrets, kind: .podTemplatePullSecret, via: nil)
        await fromSecrets((sa?.imagePullSecrets ?? []).compactMap(\.name), kind: .serviceAccountPullSecret, via: saRef)
        if let dockerConfig {
            let (found, problems) = await dockerConfig.lookup(image)
            candidates += found
            warnings += problems
        }
        for keychain in cloud where keychain.handles(registry: image.registry) {
            do {
                if let found = try await keychain.credential(for: image.registry) { candidates.append(found) }
            } catch {
                warnings.append(error)
                // An ECR or Entra outage must not look like missing credentials (see `readErrors`).
                if error.isTransient { readErrors.append(error) }
            }
        }
        candidates.append(SourcedCredential(.anonymous, source: .init(kind: .anonymous, origin: "", key: "")))
        return Resolution(candidates: candidates, warnings: warnings, readErrors: readErrors)
    }
}

/// Docker credentials held in a Kubernetes Secret.
public enum SecretCredentials {
    /// `kubernetes.io/dockerconfigjson` (`.dockerconfigjson`), `kubernetes.io/dockercfg` (`.dockercfg`), an Opaque
    /// secret holding `.dockerconfigjson` or `config.json` (what `kubectl create secret generic --from-file` makes),
    /// and Tekton's `kubernetes.io/basic-auth` secrets annotated `tekton.dev/docker-N: <registry>`.
    public static func keyring(
        _ secret: Secret, ref: String, kind: CredentialSource.Kind, serviceAccount: String?
    )
        -> (keyring: Keyring, warnings: [CredentialWarning])
    {
        var keyring = Keyring()
        var warnings: [CredentialWarning] = []
        let type = secret.type ?? "Opaque"
        let candidates: [String]
        switch type {
        case "kubernetes.io/dockerconfigjson": candidates = [".dockerconfigjson"]
        case "kubernetes.io/dockercfg": candidates = [".dockercfg"]
        case "kubernetes.io/basic-auth":
            let registries = (secret.metadata.annotations ?? [:]).filter { $0.key.hasPrefix("tekton.dev/docker-") }
                .sorted { $0.key < $1.key }.map(\.value)
            let user = secret.value(forKey: "username").map { String(decoding: $0, as: UTF8.self) } ?? ""
            let password = secret.value(forKey: "password").map { String(decoding: $0, as: UTF8.self) } ?? ""
            for registry in registries {
                keyring.add(
                    key: registry,
                    SourcedCredential(
                        Credential(username: user, password: password),
                        source: .init(
                            kind: kind, origin: ref, key: "basic-auth for \(registry)", serviceAccount: serviceAccount))
                )
            }
            return (keyring, warnings)
        default: candidates = [".dockerconfigjson", "config.json", ".dockercfg"]
        }
        guard let key = candidates.first(where: { secret.value(forKey: $0).map { !$0.isEmpty } ?? false }),
            let data = secret.value(forKey: key)
        else {
            if candidates.count == 1 {
                warnings.append(
                    CredentialWarning(source: "Secret \(ref)", message: "type \(type) but no \(candidates[0]) data"))
            }
            return (keyring, warnings)
        }
        do {
            var (config, problems) = try DockerConfig.parse(data)
            for p in problems { warnings.append(CredentialWarning(source: "Secret \(ref) \(key)", message: p)) }
            warnings += storeWarnings(config, source: "Secret \(ref) \(key)")
            config.auths = config.auths.filter { !$0.value.isAnonymous }
            let skipped = keyring.add(config) { entryKey in
                CredentialSource(kind: kind, origin: ref, key: entryKey, serviceAccount: serviceAccount)
            }
            for s in skipped {
                warnings.append(
                    CredentialWarning(
                        source: "Secret \(ref) \(key)", message: "entry \"\(s)\" is not a registry name; ignored"))
            }
        } catch {
            warnings.append(CredentialWarning(source: "Secret \(ref) \(key)", message: error.description))
        }
        return (keyring, warnings)
    }
}

extension SecretCredentials {
    /// The trap the setup docs warn of: a Secret made from a docker config whose credentials are kept in a credential
    /// store (`credsStore`, `credHelpers`) holds entries without credentials. Each is named, with what to do.
    static func storeWarnings(_ config: DockerConfig, source: String) -> [CredentialWarning] {
        var out: [CredentialWarning] = []
        let fix =
            "make the Secret from a docker config that holds the credential itself (remove \"credsStore\" and "
            + "\"credHelpers\" from config.json, run docker login again, then recreate the Secret from that file), or "
            + "create it with kubectl create secret docker-registry NAME --docker-server=REGISTRY "
            + "--docker-username=USER --docker-password=PASSWORD"
        var stores: [String] = []
        if let store = config.credsStore { stores.append("\"credsStore\": \"\(store)\"") }
        for (host, helper) in config.credHelpers.sorted(by: { $0.key < $1.key }) {
            stores.append("\"credHelpers\": \"\(host)\" → \"\(helper)\"")
        }
        if !stores.isEmpty {
            out.append(
                CredentialWarning(
                    source: source,
                    message:
                        "names a credential store (\(stores.joined(separator: ", "))), which exists only on the machine "
                        + "the config was made on: the controller cannot ask it; \(fix)",
                    isMisconfiguration: true))
        }
        for (entry, credential) in config.auths.sorted(by: { $0.key < $1.key }) where credential.isAnonymous {
            out.append(
                CredentialWarning(
                    source: source,
                    message:
                        "entry \"\(entry)\" holds no credential (no \"auth\", \"username\"/\"password\" or "
                        + "\"identitytoken\")\(stores.isEmpty ? "" : "; its credential is in the credential store")"
                        + " — it is not used; \(fix)",
                    isMisconfiguration: true))
        }
        return out
    }
}

extension CredentialWarning: Error {}
