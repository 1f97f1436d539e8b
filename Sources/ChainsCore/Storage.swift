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

/// The run an artifact belongs to: where its push credentials are looked up, how it is named in messages.
public struct RunContext: Sendable {
    public var namespace: String
    public var uid: String
    public var serviceAccount: String
    public var podTemplatePullSecrets: [String]
    /// `status.podName` of a TaskRun: the controller also reads that Pod's `imagePullSecrets`.
    public var podName: String?
    public var displayName: String
    public var name: String
    /// `TaskRun` or `PipelineRun`.
    public var kind: String

    public init(run: any TektonRun) {
        name = run.name
        kind = run is PipelineRun ? "PipelineRun" : "TaskRun"
        namespace = run.namespace
        uid = run.uid
        serviceAccount = run.serviceAccountName
        podTemplatePullSecrets = (run.podTemplate?.imagePullSecrets ?? []).compactMap(\.name)
        podName = run.raw["status"]?["podName"]?.stringValue
        displayName = run.displayName
    }

    /// What the credential search needs to know about the run.
    public var credentialScope: RunCredentialScope {
        RunCredentialScope(
            namespace: namespace, serviceAccount: serviceAccount, podTemplatePullSecrets: podTemplatePullSecrets,
            podName: podName)
    }

    /// The run's cluster reads (ServiceAccount, Secrets, Pod), each made at most once for the run; set by the
    /// service for each run it signs. Nil: backends read through their own cluster view.
    public var clusterReads: ClusterReadCache?
}

/// Kubernetes objects the service reads: a PipelineRun's children, and the Secrets, ServiceAccounts and Pods its
/// credentials come from. `chains sign` answers from `--objects` manifests (`ObjectStore`); the controller from the
/// API server, in the run's namespace only.
public protocol ClusterView: ClusterObjects {
    /// The child TaskRuns by `status.childReferences`, in that order.
    func children(of run: PipelineRun) async throws -> ChildLookup
}

/// Hands out the signer an artifact type asks for (`x509`, `kms`). Asynchronous: a keyless source fetches (and
/// caches) a certificate here.
public protocol SignerSource: Sendable {
    /// Whether `name` can be served at all; checked before anything is signed.
    func supports(_ kind: SignerKind) -> Bool
    func signer(named kind: SignerKind, for run: RunContext) async throws -> any Signer
    /// Whether `x509` is served keylessly (Fulcio), as `signers.x509.fulcio.enabled` asks.
    var isKeyless: Bool { get }
    /// Whether `chain`, a certificate an earlier attempt signed with (read back from the run, where anyone who may
    /// write its annotations could have put it), is one this source signs with now, `current` being its signer.
    /// Throws why not. A source that is not keyless accepts none.
    func checkEarlierCertificate(_ chain: [Certificate], current: any Signer) async throws
}

extension SignerSource {
    public var isKeyless: Bool { false }
    public func checkEarlierCertificate(_ chain: [Certificate], current: any Signer) async throws {
        throw ChainsError(.signing, "this configuration does not sign keylessly")
    }
}

extension ChainsError {
    /// A signer name no signer source here serves (`kms`).
    static func signerNotServed(_ kind: SignerKind) -> ChainsError {
        ChainsError(.unsupported, "signer \"\(kind)\" is not served by this signer source")
    }
}

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

/// The `tekton` backend: four base64 annotations on the run per stored item. The service collects them into the
/// outcome's annotation patch; the front door writes them (into the output file, or to the API server).
public struct TektonStorage: StorageBackend {
    public let kind = StorageKind.tekton
    public init() {}

    public func store(_ item: SignedArtifact, for run: RunContext) async throws -> StorageReceipt {
        let keys = ChainsAnnotations.storageKeys(shortKey: item.shortKey)
        var receipt = StorageReceipt(backend: kind)
        receipt.annotations = [
            keys.payload: item.payload.base64EncodedString(),
            keys.signature: item.signature.base64EncodedString(),
            keys.cert: Data(CertificatePEM.leaf(item.certificateChain).utf8).base64EncodedString(),
            keys.chain: Data(CertificatePEM.rest(item.certificateChain).utf8).base64EncodedString(),
        ]
        receipt.locations = [.init(target: keys.signature, credential: "", detail: "annotation", alreadyPresent: false)]
        return receipt
    }
}

/// Signers from a signing-secrets directory: `x509` is the key found there (x509.pem, else cosign.key); `kms` is
/// not served. The key is loaded on first use, so a run that is skipped needs no key.
public actor KeySignerSource: SignerSource {
    /// Where the key is read from.
    public enum Origin: Sendable {
        /// `--signing-secrets DIR` / `/etc/signing-secrets`: the key must be there.
        case directory(URL)
        /// The per-user default: an ECDSA P-256 `x509.pem` is created there on first use.
        case createOnFirstUse(URL)
    }
    let origin: Origin
    var loaded: KeySigner?
    /// Set when a key was created on first use.
    public private(set) var createdKey: URL?

    public init(_ origin: Origin) { self.origin = origin }

    public nonisolated func supports(_ kind: SignerKind) -> Bool { kind == .x509 }

    public func signer(named kind: SignerKind, for run: RunContext) async throws -> any Signer {
        guard kind == .x509 else { throw ChainsError.signerNotServed(kind) }
        if let loaded { return loaded }
        let signer: KeySigner
        switch origin {
        case .directory(let dir):
            signer = try SigningSecrets.loadSigner(from: dir)
        case .createOnFirstUse(let dir):
            if !SigningSecrets.hasKey(in: dir) {
                createdKey = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir)
            }
            signer = try SigningSecrets.loadSigner(from: dir)
        }
        loaded = signer
        return signer
    }
}

/// `signers.x509.fulcio.enabled: "true"`: `x509` is a short-lived Fulcio certificate for an ephemeral key, shared
/// by every run while comfortable validity remains.
public struct KeylessSignerSource: SignerSource {
    public let certificates: KeylessCertificates
    public init(certificates: KeylessCertificates) { self.certificates = certificates }
    public var isKeyless: Bool { true }
    public func supports(_ kind: SignerKind) -> Bool { kind == .x509 }

    public func signer(named kind: SignerKind, for run: RunContext) async throws -> any Signer {
        guard kind == .x509 else { throw ChainsError.signerNotServed(kind) }
        return try await certificates.signer()
    }

    public func checkEarlierCertificate(_ chain: [Certificate], current: any Signer) async throws {
        guard let ours = current.certificateChain else {
            throw ChainsError(.signing, "the configured signer has no certificate")
        }
        try await certificates.checkEarlier(chain, current: ours)
    }
}

/// `signer: kms`: the key `signers.kms.kmsref` names (AWS KMS, Vault transit), connected on first use (its public
/// key read once and kept).
public actor KMSSignerSource {
    let connect: @Sendable () async throws(CloudCredentialError) -> any Signer
    var connected: (any Signer)?

    public init(connect: @escaping @Sendable () async throws(CloudCredentialError) -> any Signer) {
        self.connect = connect
    }

    public func signer() async throws(ChainsError) -> any Signer {
        if let connected { return connected }
        do throws(CloudCredentialError) {
            let made = try await connect()
            connected = made
            return made
        } catch {
            throw ChainsError(
                .signing, error.description, key: "signers.kms.kmsref", underlying: error,
                isRetryable: error.isRetryable)
        }
    }
}

/// `x509` from one source (the signing secrets' key, or keyless), `kms` from the KMS key.
public struct ComposedSignerSource: SignerSource {
    public let x509: any SignerSource
    public let kms: KMSSignerSource

    public func supports(_ kind: SignerKind) -> Bool { kind == .kms || x509.supports(kind) }
    public var isKeyless: Bool { x509.isKeyless }

    public func signer(named kind: SignerKind, for run: RunContext) async throws -> any Signer {
        if kind == .kms { return try await kms.signer() }
        return try await x509.signer(named: kind, for: run)
    }

    public func checkEarlierCertificate(_ chain: [Certificate], current: any Signer) async throws {
        try await x509.checkEarlierCertificate(chain, current: current)
    }
}
