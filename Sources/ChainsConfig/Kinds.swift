/// The kinds chains-config names, typed. `ChainsConfig.parse` is the only code that reads their strings; the
/// allowed values it prints come from these enums.

/// What is signed: `artifacts.*.format`.
public enum PayloadFormat: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case simpleSigning = "simplesigning"
    case inToto = "in-toto"
    case slsaV1 = "slsa/v1"
    case slsaV2alpha3 = "slsa/v2alpha3"
    case slsaV2alpha4 = "slsa/v2alpha4"

    /// True for formats whose payload is an in-toto statement signed inside a DSSE envelope.
    public var isInToto: Bool { self != .simpleSigning }

    /// The formats a run's provenance may take (`artifacts.taskrun.format`, `artifacts.pipelinerun.format`).
    package static let inTotoFormats = allCases.filter(\.isInToto)
}

/// Who signs: `artifacts.*.signer`.
public enum SignerKind: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    /// The signing secrets' key, or keyless (Fulcio) when `signers.x509.fulcio.enabled`.
    case x509
    /// The key `signers.kms.kmsref` names.
    case kms
    /// The artifact type is not signed.
    case none
}

/// Where signed payloads go: `artifacts.*.storage` (a comma list).
public enum StorageKind: String, Sendable, CaseIterable, Hashable, Comparable, CustomStringConvertible {
    case archivista, docdb, gcs, grafeas, kafka, oci, tekton

    /// Orders backends by name, so summaries and annotations list them the same way every time.
    public static func < (lhs: StorageKind, rhs: StorageKind) -> Bool { lhs.rawValue < rhs.rawValue }

    /// What a PipelineRun may be stored in (Chains has no `kafka` for them).
    package static let forPipelineRuns = allCases.filter { $0 != .kafka }
}

/// How `oci` storage writes: `storage.oci.encoding-format`.
public enum OCIEncoding: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    /// cosign's `sha256-<hex>.sig` / `.att` tags, DSSE envelopes in the layers (Chains' default).
    case dsse
    /// Sigstore bundle v0.3 referrers beside the image.
    case sigstoreBundle = "sigstore-bundle"
}

/// Which artifact type produced a signed payload, named as Chains names them in its messages and annotations.
public enum ArtifactType: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case taskRun = "tekton"
    case pipelineRun = "tekton-pipeline-run"
    case oci

    /// The chains-config prefix of its keys: `artifacts.taskrun`, `artifacts.pipelinerun`, `artifacts.oci`.
    package var configPrefix: String {
        switch self {
        case .taskRun: return "artifacts.taskrun"
        case .pipelineRun: return "artifacts.pipelinerun"
        case .oci: return "artifacts.oci"
        }
    }

    /// Chains' name of the artifact type (`tekton`, `tekton-pipeline-run`, `oci`).
    public var description: String { rawValue }
}

extension PayloadFormat { public var description: String { rawValue } }
extension SignerKind { public var description: String { rawValue } }
extension StorageKind { public var description: String { rawValue } }
extension OCIEncoding { public var description: String { rawValue } }
