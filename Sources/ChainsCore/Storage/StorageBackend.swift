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
package struct SignedArtifact: Sendable {
    /// Which artifact type produced it.
    package var artifactType: ArtifactType
    /// `taskrun-<uid>`, `pipelinerun-<uid>`, or the first 12 hex digits of an image digest.
    package var shortKey: String
    /// `tekton.dev-v1-TaskRun-<uid>` or `<repo>@sha256:<hex>`.
    package var fullKey: String
    package var format: PayloadFormat
    package var payload: Data
    /// The DSSE envelope JSON for in-toto formats; the raw signature for simplesigning.
    package var signature: Data
    package var publicKey: PublicKey
    /// The signer's certificate and chain (keyless); nil for key signers.
    package var certificateChain: [Certificate]?
    /// The envelope a sigstore bundle carries: for in-toto formats the signature; for an image signature with the
    /// `sigstore-bundle` encoding, cosign v3's image statement signed by the same signer. Nil when not needed.
    package var bundleEnvelope: Data?
    /// What the transparency log recorded for this signature, when it was logged.
    package var transparency: TransparencyRecord?
    /// RFC 3161 timestamps over `bundleSignature`, when a timestamp authority is configured.
    package var timestamps: [SignedTimestamp] = []
    /// Logging was asked for and failed this attempt: a backend whose record is incomplete without the entry (a
    /// sigstore bundle) waits for the retry instead of writing it.
    package var logPending = false
}

/// What a backend did with one artifact.
package struct StorageReceipt: Sendable {
    /// One write (or a write found already done).
    package struct Location: Sendable {
        /// `registry/repo:sha256-<hex>.sig`, `…@sha256:… (referrer of …)`, or an annotation key.
        package var target: String
        /// `user "x" from Secret ns/name (…)`; empty where no credential is involved.
        package var credential: String
        package var detail: String
        package var alreadyPresent: Bool
    }
    package var backend: StorageKind
    package var locations: [Location] = []
    /// Annotations to write on the run (the `tekton` backend).
    package var annotations: [String: String] = [:]
    package var diagnostics: [Diagnostic] = []

    package init(backend: StorageKind) { self.backend = backend }
}

/// A storage backend (`tekton`, `oci`, …): stores what it is given, never signs.
package protocol StorageBackend: Sendable {
    var kind: StorageKind { get }
    /// Whether it stores sigstore bundles: the service then signs what a bundle carries besides the payload — for
    /// an image signature, `imageStatement(for:)` (cosign v3's statement over the image). Default: no.
    var storesBundles: Bool { get }
    /// The statement a bundle of this backend carries for an image signature; nil when it stores none.
    func imageStatement(for image: Digest) -> Data?
    func store(_ item: SignedArtifact, for run: RunContext) async throws -> StorageReceipt
}

extension StorageBackend {
    package var storesBundles: Bool { false }
    package func imageStatement(for image: Digest) -> Data? { nil }
}
