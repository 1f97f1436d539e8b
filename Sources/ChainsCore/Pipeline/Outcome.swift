import ChainsConfig
import Foundation
import Signing
import X509

/// What went wrong at one stage for one artifact; the stages are Chains' metric `error_type`s.
public struct SigningFailure: Sendable, CustomStringConvertible {
    /// Where in the pipeline it failed (Chains' metric `error_type`).
    public enum Stage: String, Sendable {
        case payloadCreation = "payload_creation", signing, storage, tlog, configuration
    }
    /// The stage that failed.
    public var stage: Stage
    /// The artifact type whose payload failed.
    public var artifactType: ArtifactType
    /// What was being signed: the run (`TaskRun ns/name`) or the image reference.
    public var object: String
    /// The typed error: code, context, underlying error, retryability.
    public var error: ChainsError
    /// Trying again later may succeed (a registry restarting, a timeout); a refused credential will not.
    public var isRetryable: Bool { error.isRetryable }
    /// `<stage> [<artifact type> <object>]: <error>`, as the summary prints it.
    public var description: String { "\(stage.rawValue) [\(artifactType) \(object)]: \(error)" }
}

/// One artifact signed: the signed artifact as it went to storage (one shape from signing to outcome), what it is
/// about, who signed it, and where it was stored.
public struct ArtifactOutcome: Sendable {
    /// What was signed, logged, timestamped and stored.
    package var signed: SignedArtifact
    /// What was signed: the run (`TaskRun ns/name`) or the image reference (`name@sha256:…`).
    public var object: String
    /// The DSSE `keyid` Chains writes: `SHA256:<unpadded base64>`, the SSH fingerprint of the public key.
    public var keyID: String
    /// The key's algorithm and where it came from, for the summary (`ECDSA P-256`, `/etc/signing-secrets/x509.pem`).
    public var keyAlgorithm: String
    /// Where the key came from: a file, a KMS reference, or Fulcio for keyless.
    public var signerOrigin: String
    /// The signature is the one an earlier attempt of this run made (kept in its attempt record), not a new one.
    public var reused = false
    /// Backends that stored it, with what each wrote; a backend that failed is in the outcome's failures instead.
    package var receipts: [StorageReceipt]
    /// The subjects the payload names (`name@sha256:…`), for the summary.
    public var subjects: [String]
    /// The backends that stored it.
    public var storedIn: [StorageKind] { receipts.map(\.backend) }

    /// The artifact type that produced the payload.
    public var artifactType: ArtifactType { signed.artifactType }
    /// `taskrun-<uid>`, `pipelinerun-<uid>`, or the first 12 hex digits of an image digest.
    public var shortKey: String { signed.shortKey }
    /// The payload's format.
    public var format: PayloadFormat { signed.format }
    /// The signed payload's bytes: the simplesigning JSON, or the in-toto statement.
    public var payload: Data { signed.payload }
    /// The raw signature: over the payload for simplesigning, over the DSSE PAE for in-toto.
    public var signature: Data { signed.signature }
    package var publicKey: PublicKey { signed.publicKey }
    /// The public key that verifies `signature`, as SubjectPublicKeyInfo DER.
    public var publicKeyDER: Data { signed.publicKey.derRepresentation }
    package var certificateChain: [Certificate]? { signed.certificateChain }
    /// For the `sigstore-bundle` encoding of an image: cosign v3's image statement, signed (see `SignedArtifact`).
    package var bundleEnvelope: Data? { signed.bundleEnvelope }
    /// What the transparency log recorded, when the run was logged and the log answered.
    package var transparency: TransparencyRecord? { signed.transparency }
    package var timestamps: [SignedTimestamp] { signed.timestamps }
}

/// The annotations an outcome asks to write on the run, in two parts so a front door can apply only what it
/// decides to: the `tekton` backend's storage annotations, and the mark (`signed: "true"`, or the next `retries` /
/// `signed: "failed"` by Chains' rule).
public struct AnnotationPatch: Sendable, Equatable {
    /// The `tekton` backend's annotations: `chains.tekton.dev/payload-…`, `signature-…`, `cert-…`, `chain-…`.
    public var storage: [String: String] = [:]
    /// The mark: `chains.tekton.dev/signed` and, after a failure, `chains.tekton.dev/retries`.
    public var mark: [String: String] = [:]
    /// After a failed attempt: what it signed (`AttemptRecord`), for the next attempt to reuse.
    public var attempts: [String: String] = [:]
    /// Annotations to delete: attempt records, once the run is signed.
    public var remove: [String] = []
    /// Storage annotations, attempt records and the mark together: what `chains sign` writes.
    public var all: [String: String] { storage.merging(attempts) { a, _ in a }.merging(mark) { _, mark in mark } }
}

/// The result of signing one run. Never thrown: failures are values.
public struct RunOutcome: Sendable {
    /// The run, as `TaskRun ns/name` or `PipelineRun ns/name`.
    public var run: String
    /// The run's `metadata.uid`.
    public var uid: String
    package var reason: SignReason
    /// Every payload that was signed and stored.
    public var artifacts: [ArtifactOutcome] = []
    /// Every payload that was not, with the stage and the typed error.
    public var failures: [SigningFailure] = []
    /// Warnings and notes from signing this run (an ignored attempt record, a credential source's problem).
    public var diagnostics: [Diagnostic] = []
    /// What to write on the run.
    public var annotations = AnnotationPatch()
    /// Every artifact type is disabled in chains-config: nothing was signed, and the run is marked as Chains marks
    /// it (`signed: "true"`).
    public var nothingEnabled = false

    /// Every enabled artifact was signed and stored.
    public var succeeded: Bool { failures.isEmpty }

    /// Records that `item` failed at `stage`, the error classified and naming the run.
    mutating func fail(
        _ stage: SigningFailure.Stage, _ code: ChainsError.Code, _ error: any Error, item: PlannedArtifact, run: String
    ) {
        var classified = ChainsError.classify(error, stage: code)
        classified.run = classified.run ?? run
        failures.append(
            SigningFailure(stage: stage, artifactType: item.artifactType, object: item.object, error: classified))
    }
    /// Every failure may go away by itself: the controller requeues with backoff instead of spending `retries`.
    public var isRetryable: Bool { !failures.isEmpty && failures.allSatisfy(\.isRetryable) }
}
