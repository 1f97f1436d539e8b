import Foundation
import KubeModels

/// Registry credentials, as docker's `AuthConfig` holds them. Never printed: `description` is redacted.
package struct Credential: Sendable, Hashable, CustomStringConvertible {
    package var username: String
    package var password: String
    /// An OAuth2 refresh token (`identitytoken`), exchanged with `grant_type=refresh_token`.
    package var identityToken: String
    /// A bearer token sent to the registry as it is (`registrytoken`).
    package var registryToken: String

    package init(username: String = "", password: String = "", identityToken: String = "", registryToken: String = "") {
        self.username = username
        self.password = password
        self.identityToken = identityToken
        self.registryToken = registryToken
    }

    package static let anonymous = Credential()

    package var isAnonymous: Bool { self == .anonymous }

    /// What kind of credential this is, with the user name but no secret.
    package var description: String {
        if !registryToken.isEmpty { return "registry token" }
        if !identityToken.isEmpty {
            return "identity token" + (username.isEmpty || username == "<token>" ? "" : " for \(username)")
        }
        if !username.isEmpty { return "user \(username)" }
        return "anonymous"
    }

    /// The secrets this credential carries, for log scanning and redaction.
    package var secrets: [String] {
        [password, identityToken, registryToken].filter { !$0.isEmpty }
    }
}

/// Where a credential came from, so users can see why it was (or was not) used.
package struct CredentialSource: Sendable, Hashable, CustomStringConvertible {
    package enum Kind: String, Sendable, Hashable {
        case serviceAccountSecret = "ServiceAccount secrets"
        /// The run's Pod (`status.podName`) `spec.imagePullSecrets`, while the Pod exists (the controller).
        case podPullSecret = "the run's Pod imagePullSecrets"
        case podTemplatePullSecret = "pod template imagePullSecrets"
        case serviceAccountPullSecret = "ServiceAccount imagePullSecrets"
        case dockerConfig = "docker config"
        case credentialHelper = "credential helper"
        /// ECR, GCR / Artifact Registry, ACR: the cloud's workload identity, for that cloud's registries only.
        case cloudKeychain = "cloud keychain"
        case anonymous = "anonymous"
    }
    package var kind: Kind
    /// `namespace/name` of the Secret, or the file path, or the helper program.
    package var origin: String
    /// The Secret data key (`.dockerconfigjson`) or config key that matched (`registry.example.com`).
    package var key: String
    /// `namespace/name` of the ServiceAccount, when the Secret was found through one.
    package var serviceAccount: String?

    package init(kind: Kind, origin: String, key: String, serviceAccount: String? = nil) {
        self.kind = kind
        self.origin = origin
        self.key = key
        self.serviceAccount = serviceAccount
    }

    package var description: String {
        switch kind {
        case .anonymous: return "anonymous (no matching credentials)"
        case .dockerConfig: return "docker config \(origin), entry \"\(key)\""
        case .credentialHelper: return "credential helper \(origin) for \"\(key)\""
        case .cloudKeychain: return "cloud keychain \(origin), for \(key)"
        case .serviceAccountSecret, .serviceAccountPullSecret:
            return "secret \(origin) (\(kind.rawValue) of \(serviceAccount ?? "?")), entry \"\(key)\""
        case .podTemplatePullSecret, .podPullSecret:
            return "secret \(origin) (\(kind.rawValue)), entry \"\(key)\""
        }
    }
}

package struct SourcedCredential: Sendable, Hashable {
    package var credential: Credential
    package var source: CredentialSource
    package init(_ credential: Credential, source: CredentialSource) {
        self.credential = credential
        self.source = source
    }
}

/// A problem reading credentials: a warning, never fatal (the next source may work).
package struct CredentialWarning: Sendable, Hashable, CustomStringConvertible {
    package var source: String
    package var message: String
    /// A setup mistake the user has to fix (a Secret made from a docker config whose credentials live in a
    /// credential store): shown as a warning, and by the controller as an Event on the run.
    package var isMisconfiguration: Bool
    /// The source could not answer for a reason that may pass (a cloud provider unreachable or busy): a push refused
    /// for want of this credential is worth trying again, without spending the run's retries.
    package var isTransient: Bool

    package init(source: String, message: String, isMisconfiguration: Bool = false, isTransient: Bool = false) {
        self.source = source
        self.message = message
        self.isMisconfiguration = isMisconfiguration
        self.isTransient = isTransient
    }

    package var description: String { "\(source): \(message)" }
}

/// A cloud's registry credentials from its workload identity (ECR, GCR / Artifact Registry, ACR), asked only for
/// its own registry hosts.
package protocol CloudKeychain: Sendable {
    /// "ECR", for messages.
    var name: String { get }
    /// Whether `registry` (`host[:port]`) is this cloud's.
    func handles(registry: String) -> Bool
    /// A credential for `registry`, nil when none; a warning naming the identity that was refused.
    func credential(for registry: String) async throws(CredentialWarning) -> SourcedCredential?
}
