import Foundation
import KubeModels
import OCI

/// Kubernetes objects the credential search reads, always in the run's own namespace: its ServiceAccount, the
/// Secrets it and the run name, and the run's Pod. `chains sign` answers from `--objects` manifests, the controller
/// from the API server.
package protocol ClusterObjects: Sendable {
    func secret(namespace: String, name: String) async throws -> Secret?
    func serviceAccount(namespace: String, name: String) async throws -> ServiceAccount?
    func pod(namespace: String, name: String) async throws -> Pod?
}

/// What a credential search found for one image: the candidates in the order they are tried, what was worth
/// saying on the way, and what could not be read.
package struct CredentialResolution: Sendable {
    package var candidates: [SourcedCredential] = []
    package var warnings: [CredentialWarning] = []
    /// Why a ServiceAccount, Secret or Pod could not be read (not: was not there), or a cloud keychain could not
    /// answer. When a push is then refused, the credential it needed may be among them — an API outage must not look
    /// like missing credentials.
    package var readErrors: [any Error & Sendable] = []

    package init(
        candidates: [SourcedCredential] = [], warnings: [CredentialWarning] = [],
        readErrors: [any Error & Sendable] = []
    ) {
        self.candidates = candidates
        self.warnings = warnings
        self.readErrors = readErrors
    }

    /// `other` after this one.
    package mutating func append(_ other: CredentialResolution) {
        candidates += other.candidates
        warnings += other.warnings
        readErrors += other.readErrors
    }
}

/// One source of registry credentials (go-containerregistry's `Keychain`): every credential it holds for an image,
/// most specific first. Never throws: a source that cannot answer says why in its warnings, and the next is asked.
package protocol Keychain: Sendable {
    func resolve(_ image: ImageReference) async -> CredentialResolution
}

/// Keychains asked in turn, their candidates concatenated in that order (go-containerregistry's `MultiKeychain`,
/// except that every candidate is kept: a push tries them one after another).
package struct MultiKeychain: Keychain {
    package var keychains: [any Keychain]
    package init(_ keychains: [any Keychain]) { self.keychains = keychains }

    package func resolve(_ image: ImageReference) async -> CredentialResolution {
        var out = CredentialResolution()
        for keychain in keychains { out.append(await keychain.resolve(image)) }
        return out
    }
}

/// What the cluster sources need to know about the run pushing.
package struct RunCredentialScope: Sendable, Hashable {
    package var namespace: String
    package var serviceAccount: String
    package var podTemplatePullSecrets: [String]
    /// `status.podName` of a TaskRun, while the Pod exists.
    package var podName: String?

    package init(namespace: String, serviceAccount: String, podTemplatePullSecrets: [String], podName: String? = nil) {
        self.namespace = namespace.isEmpty ? "default" : namespace
        self.serviceAccount = serviceAccount.isEmpty ? "default" : serviceAccount
        self.podTemplatePullSecrets = podTemplatePullSecrets
        self.podName = podName.flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// The run's Kubernetes sources, in this order: its ServiceAccount's `secrets`, its Pod's `imagePullSecrets`, its
/// pod template's `imagePullSecrets`, its ServiceAccount's `imagePullSecrets`. Within a source the entries of all
/// its Secrets form one keyring, matched as the kubelet does: the most specific key first whichever Secret holds it,
/// equal keys in the Secrets' order. Missing objects are warnings; a Pod that is gone adds nothing.
package struct RunKeychain: Keychain {
    package var objects: any ClusterObjects
    package var run: RunCredentialScope

    package init(objects: any ClusterObjects, run: RunCredentialScope) {
        self.objects = objects
        self.run = run
    }

    package func resolve(_ image: ImageReference) async -> CredentialResolution {
        var out = CredentialResolution()
        let namespace = run.namespace
        let saRef = "\(namespace)/\(run.serviceAccount)"
        var sa: ServiceAccount?
        do {
            sa = try await objects.serviceAccount(namespace: namespace, name: run.serviceAccount)
            if sa == nil {
                out.warnings.append(
                    CredentialWarning(source: "ServiceAccount \(saRef)", message: "not found; its secrets are not used")
                )
            }
        } catch {
            out.warnings.append(
                CredentialWarning(source: "ServiceAccount \(saRef)", message: "cannot be read: \(error)"))
            out.readErrors.append(error)
        }
        var podSecrets: [String] = []
        if let podName = run.podName {
            do {
                // Gone once the run is cleaned up: then it adds none, and the other sources still apply.
                let pod = try await objects.pod(namespace: namespace, name: podName)
                podSecrets = (pod?.spec?.imagePullSecrets ?? []).compactMap(\.name)
            } catch {
                out.warnings.append(
                    CredentialWarning(source: "Pod \(namespace)/\(podName)", message: "cannot be read: \(error)"))
                out.readErrors.append(error)
            }
        }
        await fromSecrets((sa?.secrets ?? []).compactMap(\.name), .serviceAccountSecret, via: saRef, image, &out)
        await fromSecrets(podSecrets, .podPullSecret, via: nil, image, &out)
        await fromSecrets(run.podTemplatePullSecrets, .podTemplatePullSecret, via: nil, image, &out)
        await fromSecrets(
            (sa?.imagePullSecrets ?? []).compactMap(\.name), .serviceAccountPullSecret, via: saRef, image, &out)
        return out
    }

    func fromSecrets(
        _ names: [String], _ kind: CredentialSource.Kind, via: String?, _ image: ImageReference,
        _ out: inout CredentialResolution
    ) async {
        var merged = Keyring()
        for name in names where !name.isEmpty {
            let ref = "\(run.namespace)/\(name)"
            let secret: Secret?
            do {
                secret = try await objects.secret(namespace: run.namespace, name: name)
            } catch {
                out.warnings.append(CredentialWarning(source: "Secret \(ref)", message: "cannot be read: \(error)"))
                out.readErrors.append(error)
                continue
            }
            guard let secret else {
                out.warnings.append(
                    CredentialWarning(source: "Secret \(ref)", message: "not found (listed in \(kind.rawValue))"))
                continue
            }
            let keyring = SecretCredentials.keyring(secret, ref: ref, kind: kind, serviceAccount: via)
            out.warnings += keyring.warnings
            merged.merge(keyring.keyring)
        }
        out.candidates += merged.lookup(image.name)
    }
}

/// The local docker configuration and its credential helpers, as docker looks them up.
package struct DockerConfigKeychain: Keychain {
    package var config: LocalDockerConfig
    package init(_ config: LocalDockerConfig) { self.config = config }

    package func resolve(_ image: ImageReference) async -> CredentialResolution {
        let (found, problems) = await config.lookup(image)
        return CredentialResolution(candidates: found, warnings: problems)
    }
}

/// The cloud keychains (ECR, GCR / Artifact Registry, ACR), each asked for its own registry hosts only.
package struct CloudKeychainSet: Keychain {
    package var keychains: [any CloudKeychain]
    package init(_ keychains: [any CloudKeychain]) { self.keychains = keychains }

    package func resolve(_ image: ImageReference) async -> CredentialResolution {
        var out = CredentialResolution()
        for keychain in keychains where keychain.handles(registry: image.registry) {
            do {
                if let found = try await keychain.credential(for: image.registry) { out.candidates.append(found) }
            } catch {
                out.warnings.append(error)
                // An ECR or Entra outage must not look like missing credentials (see `readErrors`).
                if error.isTransient { out.readErrors.append(error) }
            }
        }
        return out
    }
}

/// No credential: always last, for public repositories.
package struct AnonymousKeychain: Keychain {
    package init() {}
    package func resolve(_ image: ImageReference) async -> CredentialResolution {
        CredentialResolution(
            candidates: [SourcedCredential(.anonymous, source: .init(kind: .anonymous, origin: "", key: ""))])
    }
}

/// The one credential search: `chains sign` and the controller (pushes), `chains auth explain` (what a push would
/// try) and `chains verify` (reads) compose their keychain here, so each lists exactly what the others would try:
///
/// 1. the run's ServiceAccount `secrets` (where Tekton Chains looks, and the recommended place),
/// 2. the run's Pod `imagePullSecrets` (`status.podName`, while the Pod exists),
/// 3. the run's pod template `imagePullSecrets`,
/// 4. the ServiceAccount's `imagePullSecrets`,
/// 5. the local docker config and its credential helpers,
/// 6. the cloud keychains (ECR, GCR / Artifact Registry, ACR), each for its own hosts,
/// 7. anonymous.
///
/// Without a run (`verify`), sources 1–4 are left out.
package struct CredentialSearch: Sendable {
    package var dockerConfig: LocalDockerConfig?
    package var cloud: [any CloudKeychain]

    package init(dockerConfig: LocalDockerConfig?, cloud: [any CloudKeychain] = []) {
        self.dockerConfig = dockerConfig
        self.cloud = cloud
    }

    /// The keychain for a push by `run`, its cluster objects read through `objects` (a per-run cache, so that a
    /// run's pushes read each object once).
    package func keychain(for run: RunCredentialScope, objects: any ClusterObjects) -> MultiKeychain {
        MultiKeychain([RunKeychain(objects: objects, run: run)] + local)
    }

    /// The keychain with no run: the docker config, the cloud keychains, anonymous.
    package func keychain() -> MultiKeychain { MultiKeychain(local) }

    var local: [any Keychain] {
        var out: [any Keychain] = []
        if let dockerConfig { out.append(DockerConfigKeychain(dockerConfig)) }
        if !cloud.isEmpty { out.append(CloudKeychainSet(cloud)) }
        out.append(AnonymousKeychain())
        return out
    }

    /// The order, as `auth explain` prints it.
    package static let order =
        "order: the ServiceAccount's secrets, the run's Pod imagePullSecrets, the pod template's imagePullSecrets, "
        + "the ServiceAccount's imagePullSecrets, the local docker config and its helpers, the cloud keychains, "
        + "anonymous; within each, "
        + "the entries of all its Secrets as one keyring, the most specific key first (as the kubelet merges pull "
        + "secrets), equal keys in the Secrets' order"

    /// For each candidate, why it is where it is (what `auth explain` prints).
    package static func placement(_ candidates: [SourcedCredential]) -> [String] {
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
}

/// A run's view of the cluster objects its credentials come from: each ServiceAccount, Secret and Pod read at most
/// once, whatever the number of artifacts and pushes (a `.sig` and an `.att` share every read). Made per run and
/// dropped with it, so a changed Secret is seen by the next run. Concurrent askers of one object share one read;
/// a failed read is remembered too (the run's retry starts afresh).
package actor ClusterReadCache: ClusterObjects {
    let base: any ClusterObjects
    var reads: [String: Task<(any Sendable)?, any Error>] = [:]

    package init(_ base: any ClusterObjects) { self.base = base }

    package func secret(namespace: String, name: String) async throws -> Secret? {
        try await once("secrets/\(namespace)/\(name)") { [base] in
            try await base.secret(namespace: namespace, name: name)
        }
    }

    package func serviceAccount(namespace: String, name: String) async throws -> ServiceAccount? {
        try await once("serviceaccounts/\(namespace)/\(name)") { [base] in
            try await base.serviceAccount(namespace: namespace, name: name)
        }
    }

    package func pod(namespace: String, name: String) async throws -> Pod? {
        try await once("pods/\(namespace)/\(name)") { [base] in try await base.pod(namespace: namespace, name: name) }
    }

    func once<T: Sendable>(_ key: String, _ read: @escaping @Sendable () async throws -> T?) async throws -> T? {
        let task = reads[key] ?? Task { try await read() }
        reads[key] = task
        return try await task.value as? T
    }
}
