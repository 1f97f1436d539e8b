import ChainsConfig
import Foundation
import HTTPTransport
import KubeModels
import OCIRegistry
import Provenance
import RegistryAuth
import Signing
import Sigstore

/// What went wrong, for a user and for a program deciding what to do next: an opaque code, a message that says
/// what to do, the context it happened in (file, chains-config key, registry, run), the error underneath, and
/// whether trying again later may succeed. Modelled on swift-certificates' `CertificateError`. Never holds a
/// secret.
public struct ChainsError: Error, Sendable, CustomStringConvertible {
    /// An opaque, stable code: compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The code's stable name, such as `bad-input` or `storage-unavailable`.
        public var description: String { name }

        /// A file or flag could not be read or makes no sense.
        public static let badInput = Code(name: "bad-input")
        /// chains-config asks for something Chains in Swift cannot do (yet).
        public static let unsupported = Code(name: "unsupported")
        /// The payload (provenance, simplesigning) could not be made.
        public static let payload = Code(name: "payload")
        /// The signer could not be found or failed.
        public static let signing = Code(name: "signing")
        /// The transparency log refused or failed.
        public static let transparency = Code(name: "transparency")
        /// Storage refused the credentials (401, 403, `DENIED`): trying again changes nothing.
        public static let storageRefused = Code(name: "storage-refused")
        /// Storage is unavailable (429, 5xx, reset or refused connections, DNS): it may work later.
        public static let storageUnavailable = Code(name: "storage-unavailable")
        /// A peer did not answer in time, or the run's time budget ran out.
        public static let timeout = Code(name: "timeout")
        /// Storage failed otherwise (a bad answer, a read-back that does not match).
        public static let storage = Code(name: "storage")
        /// Objects the run needs (children, Secrets) could not be read.
        public static let cluster = Code(name: "cluster")
    }

    /// What kind of failure this is; compare with `Code`'s static members.
    public var code: Code
    /// What went wrong and what to do about it, without the context fields.
    public var message: String
    /// The file the failure is about (a run manifest, chains-config, a signing secret), when there is one.
    public var file: String?
    /// The chains-config key the error is about.
    public var key: String?
    /// The registry the failure is about (`host[:port]`), when there is one.
    public var registry: String?
    /// The run the failure is about (`TaskRun ns/name`), when there is one.
    public var run: String?
    /// The error underneath (a transport, registry or signer error), for a program that wants the detail.
    public var underlying: (any Error & Sendable)?
    /// Trying again later may succeed (a registry restarting, a timeout); a refused credential or bad input will not.
    public var isRetryable: Bool

    package init(
        _ code: Code, _ message: String, file: String? = nil, key: String? = nil, registry: String? = nil,
        run: String? = nil, underlying: (any Error & Sendable)? = nil, isRetryable: Bool = false
    ) {
        self.code = code
        self.message = message
        self.file = file
        self.key = key
        self.registry = registry
        self.run = run
        self.underlying = underlying
        self.isRetryable = isRetryable
    }

    /// The message, led by the chains-config key (else the file) when it does not already name it.
    public var description: String {
        if let key, !message.contains(key) { return "\(key): \(message)" }
        if let file, !message.contains(file) { return "\(file): \(message)" }
        return message
    }
}

extension ChainsError {
    /// Classifies an error from the libraries: keeps it as `underlying`, names its registry, and says whether it is
    /// worth trying again, as each type's `RetryClassifiable.isRetryable` says (`HTTPStatusRule` for answers,
    /// `TransportError.isRetryable` for connections): 401/403/`DENIED` no; 408/429/5xx, timeouts, resets, refused
    /// connections and DNS failures yes.
    package static func classify(_ error: any Error, stage code: Code) -> ChainsError {
        switch error {
        case let e as ChainsError:
            return e
        case let e as StorageError:
            var inner = e.underlying.map { classify($0, stage: code) } ?? ChainsError(.storage, e.reason)
            inner.message = e.description
            inner.underlying = e
            return inner
        case let e as TransportError where code == .transparency:
            return ChainsError(
                e.kind == .timeout ? .timeout : code, "Rekor \(e.description)", underlying: e,
                isRetryable: e.isRetryable)
        case let e as TransportError where e.kind == .refused:
            return ChainsError(.storageRefused, e.description, registry: e.host, underlying: e)
        case let e as TransportError:
            return ChainsError(
                e.kind == .timeout ? .timeout : (e.isRetryable ? .storageUnavailable : code), e.description,
                registry: e.host, underlying: e, isRetryable: e.isRetryable)
        case let e as RegistryError:
            let kind: Code = e.isAuthorizationFailure ? .storageRefused : (e.isRetryable ? .storageUnavailable : code)
            return ChainsError(kind, e.description, registry: e.registry, underlying: e, isRetryable: e.isRetryable)
        case let e as TokenError:
            let kind: Code = e.isAuthorizationFailure ? .storageRefused : (e.isRetryable ? .storageUnavailable : code)
            return ChainsError(kind, e.description, registry: e.registry, underlying: e, isRetryable: e.isRetryable)
        case let e as BackendError:
            let kind: Code =
                switch e.kind {
                case .refused: .storageRefused
                case .unavailable: .storageUnavailable
                case .timeout: .timeout
                case .failed: .storage
                }
            return ChainsError(kind, e.description, underlying: e, isRetryable: e.isRetryable)
        case let e as NoUsableCredential:
            return ChainsError(.storageRefused, e.description, registry: e.target, underlying: e)
        case let e as RekorError:
            return ChainsError(.transparency, e.description, underlying: e, isRetryable: e.isRetryable)
        case let e as FulcioError:
            return ChainsError(.signing, e.description, underlying: e, isRetryable: e.isRetryable)
        case let e as IdentityTokenError:
            return ChainsError(.signing, e.description, underlying: e, isRetryable: e.isRetryable)
        case let e as SigningError:
            return ChainsError(.signing, e.description, file: e.file.isEmpty ? nil : e.file, underlying: e)
        case let e as PayloadError:
            return ChainsError(.payload, e.description, underlying: e)
        case let e as ManifestError:
            return ChainsError(.badInput, e.description, file: e.source, underlying: e)
        case let e as any RetryClassifiable:
            // The Kubernetes API (the controller's cluster view) and other peers that say whether to retry.
            return ChainsError(e.isRetryable ? .cluster : code, "\(error)", isRetryable: e.isRetryable)
        default:
            return ChainsError(code, "\(error)")
        }
    }
}

/// A storage backend could not store; names the backend, the item and the operation, and keeps the cause.
package struct StorageError: Error, Sendable, CustomStringConvertible {
    package var backend: StorageKind
    package var item: String
    package var reason: String
    package var underlying: (any Error & Sendable)?
    /// What the backend noticed before it failed (a missing ServiceAccount, a Secret it could not read).
    package var diagnostics: [Diagnostic] = []

    package init(backend: StorageKind, item: String, reason: String, underlying: (any Error & Sendable)? = nil) {
        self.backend = backend
        self.item = item
        self.reason = reason
        self.underlying = underlying
    }

    package var description: String { "storage \(backend) for \(item): \(reason)" }
}

/// Something a user should know that is not a failure: a file ignored, a credential source missing, a key created.
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    /// `note`: for information; `warning`: something the user should fix.
    public enum Severity: String, Sendable { case note, warning }
    /// What a diagnostic is about, for those a front door treats apart (the controller makes these Events).
    public enum Topic: String, Sendable {
        /// A credential source's problem (a Secret made from a credential-store config): a `CredentialWarning`.
        case credentials
        /// An attempt record on the run that was not reused: an `AttemptRecordIgnored`.
        case attemptRecord
    }
    /// Whether it is for information or something to fix.
    public var severity: Severity
    /// What happened, in a sentence that names the file, key or source.
    public var message: String
    /// What it is about, for diagnostics a front door treats apart; nil for the rest.
    public var topic: Topic?

    package init(_ severity: Severity, _ message: String, topic: Topic? = nil) {
        self.severity = severity
        self.message = message
        self.topic = topic
    }

    package static func warning(_ message: String) -> Diagnostic { Diagnostic(.warning, message) }
    package static func note(_ message: String) -> Diagnostic { Diagnostic(.note, message) }
    /// `warning: …` or `note: …`, as the command line prints it.
    public var description: String { "\(severity.rawValue): \(message)" }
}

/// A credential source that could not answer for a reason that may pass (a cloud provider's outage) classifies as
/// retryable, so a push refused for want of its credential is tried again without spending the run's retries.
extension CredentialWarning: RetryClassifiable {
    package var isRetryable: Bool { isTransient }
}

extension ChainsError: RetryClassifiable {}
extension StorageError: RetryClassifiable {
    /// Whatever the backend's underlying error says (a registry's 503: yes; a refused credential: no).
    package var isRetryable: Bool { ChainsError.classify(self, stage: .storage).isRetryable }
}
