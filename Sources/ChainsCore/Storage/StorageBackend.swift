import ChainsConfig
import CloudCredentials
import Foundation
import HTTPTransport
import KubeModels
import OCI
import RegistryAuth
import Signing
import Sigstore
import X509

/// One signed payload on its way to storage (Chains' `StorePayload` arguments). Storage never signs: everything
/// it writes is in here.
public struct SignedArtifact: Sendable {
    /// Which artifact type produced it.
    public var artifactType: ArtifactType
    /// `taskrun-<uid>`, `pipelinerun-<uid>`, or the first 12 hex digits of an image digest.
    public var shortKey: String
    /// `tekton.dev-v1-TaskRun-<uid>` or `<repo>@sha256:<hex>`.
    public var fullKey: String
    public var format: PayloadFormat
    public var payload: Data
    /// The DSSE envelope JSON for in-toto formats; the raw signature for simplesigning.
    public var signature: Data
    public var publicKey: PublicKey
    /// The signer's certificate and chain (keyless); nil for key signers.
    public var certificateChain: [Certificate]?
    /// The envelope a sigstore bundle carries: for in-toto formats the signature; for an image signature with the
    /// `sigstore-bundle` encoding, cosign v3's image statement signed by the same signer. Nil when not needed.
    public var bundleEnvelope: Data?
    /// What the transparency log recorded for this signature, when it was logged.
    public var transparency: TransparencyRecord?
    /// RFC 3161 timestamps over `bundleSignature`, when a timestamp authority is configured.
    public var timestamps: [SignedTimestamp] = []
    /// Logging was asked for and failed this attempt: a backend whose record is incomplete without the entry (a
    /// sigstore bundle) waits for the retry instead of writing it.
    public var logPending = false
}

/// What a backend did with one artifact.
public struct StorageReceipt: Sendable {
    /// One write (or a write found already done).
    public struct Location: Sendable {
        /// `registry/repo:sha256-<hex>.sig`, `…@sha256:… (referrer of …)`, or an annotation key.
        public var target: String
        /// `user "x" from Secret ns/name (…)`; empty where no credential is involved.
        public var credential: String
        public var detail: String
        public var alreadyPresent: Bool
    }
    public var backend: StorageKind
    public var locations: [Location] = []
    /// Annotations to write on the run (the `tekton` backend).
    public var annotations: [String: String] = [:]
    public var diagnostics: [Diagnostic] = []

    public init(backend: StorageKind) { self.backend = backend }
}

/// A storage backend (`tekton`, `oci`, …): stores what it is given, never signs.
public protocol StorageBackend: Sendable {
    var kind: StorageKind { get }
    /// Whether it stores sigstore bundles: the service then signs what a bundle carries besides the payload — for
    /// an image signature, `imageStatement(for:)` (cosign v3's statement over the image). Default: no.
    var storesBundles: Bool { get }
    /// The statement a bundle of this backend carries for an image signature; nil when it stores none.
    func imageStatement(for image: Digest) -> Data?
    func store(_ item: SignedArtifact, for run: RunContext) async throws -> StorageReceipt
}

extension StorageBackend {
    public var storesBundles: Bool { false }
    public func imageStatement(for image: Digest) -> Data? { nil }
}
