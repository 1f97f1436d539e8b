import Foundation

/// A Tekton parameter or result value: a string, an array of strings, or an object of strings.
///
/// Decoding follows Tekton's own `ParamValue.UnmarshalJSON`: a value of another JSON type is kept as its JSON text.
public enum ParamValue: Sendable, Hashable {
    case string(String)
    case array([String])
    case object([String: String])

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var objectValue: [String: String]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var json: JSONValue {
        switch self {
        case .string(let s): return .string(s)
        case .array(let a): return .array(a.map { .string($0) })
        case .object(let o): return .object(o.mapValues { .string($0) })
        }
    }
}

extension ParamValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([String].self) {
            self = .array(a)
        } else if let o = try? container.decode([String: String].self) {
            self = .object(o)
        } else if container.decodeNil() {
            self = .string("")
        } else {
            self = .string(try container.decode(JSONValue.self).serialized())
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }
}

public struct Param: Codable, Sendable, Hashable {
    public var name: String
    public var value: ParamValue
    public init(name: String, value: ParamValue) {
        self.name = name
        self.value = value
    }
}

public struct ParamSpec: Codable, Sendable, Hashable {
    public var name: String
    public var type: String?
    public var `default`: ParamValue?
}

/// A result as it appears in a run's status (`status.results`, `status.steps[].results`).
public struct RunResult: Codable, Sendable, Hashable {
    public var name: String
    public var type: String?
    public var value: ParamValue

    public init(name: String, type: String? = nil, value: ParamValue) {
        self.name = name
        self.type = type
        self.value = value
    }
}

public struct Condition: Codable, Sendable, Hashable {
    public var type: String
    public var status: String
    public var reason: String?
    public var message: String?
    public var lastTransitionTime: String?
}

public struct RefSource: Codable, Sendable, Hashable {
    public var uri: String?
    public var digest: [String: String]?
    public var entryPoint: String?
}

public struct Provenance: Codable, Sendable, Hashable {
    public var refSource: RefSource?
    /// Tekton Pipelines' feature flags, keyed by their JSON tags (`enableAPIFields`), see `FeatureFlags`.
    public var featureFlags: JSONValue?
}

public struct ResolverParamsRef: Codable, Sendable, Hashable {
    public var name: String?
    public var kind: String?
    public var apiVersion: String?
    public var resolver: String?
    public var params: [Param]?
}

public typealias TaskRef = ResolverParamsRef
public typealias PipelineRef = ResolverParamsRef

public struct Step: Codable, Sendable, Hashable {
    public var name: String?
    public var image: String?
    public var command: [String]?
    public var args: [String]?
    public var script: String?
    public var ref: ResolverParamsRef?
}

public struct TaskSpec: Codable, Sendable, Hashable {
    public var params: [ParamSpec]?
    public var steps: [Step]?
}

public struct PodTemplate: Codable, Sendable, Hashable {
    public var imagePullSecrets: [LocalObjectReference]?
}

public struct StepState: Codable, Sendable, Hashable {
    public var name: String?
    public var container: String?
    public var imageID: String?
    public var results: [RunResult]?
    public var provenance: Provenance?
}

public struct SidecarState: Codable, Sendable, Hashable {
    public var name: String?
    public var container: String?
    public var imageID: String?
}

public struct TaskRunSpec: Codable, Sendable, Hashable {
    public var params: [Param]?
    public var serviceAccountName: String?
    public var taskRef: TaskRef?
    public var taskSpec: TaskSpec?
    public var podTemplate: PodTemplate?
    public var managedBy: String?
}

public struct TaskRunStatus: Codable, Sendable, Hashable {
    public var conditions: [Condition]?
    public var podName: String?
    public var startTime: String?
    public var completionTime: String?
    public var steps: [StepState]?
    public var sidecars: [SidecarState]?
    public var results: [RunResult]?
    public var taskSpec: TaskSpec?
    public var provenance: Provenance?
}

public struct WhenExpression: Codable, Sendable, Hashable {
    public var input: String?
    public var `operator`: String?
    public var values: [String]?
    public var cel: String?
}

public struct PipelineTask: Codable, Sendable, Hashable {
    public var name: String
    public var taskRef: TaskRef?
    public var params: [Param]?
    public var runAfter: [String]?
    public var when: [WhenExpression]?
}

public struct PipelineSpec: Codable, Sendable, Hashable {
    public var params: [ParamSpec]?
    public var tasks: [PipelineTask]?
    public var finally: [PipelineTask]?
}

public struct TaskRunTemplate: Codable, Sendable, Hashable {
    public var serviceAccountName: String?
    public var podTemplate: PodTemplate?
}

public struct PipelineRunSpec: Codable, Sendable, Hashable {
    public var pipelineRef: PipelineRef?
    public var params: [Param]?
    public var taskRunTemplate: TaskRunTemplate?
    public var managedBy: String?
}

public struct ChildReference: Codable, Sendable, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var name: String
    public var pipelineTaskName: String?
}

public struct PipelineRunStatus: Codable, Sendable, Hashable {
    public var conditions: [Condition]?
    public var startTime: String?
    public var completionTime: String?
    public var results: [RunResult]?
    public var pipelineSpec: PipelineSpec?
    public var childReferences: [ChildReference]?
    public var provenance: Provenance?
}

/// Fields common to TaskRuns and PipelineRuns.
public protocol TektonRun: Sendable {
    static var kind: String { get }
    var metadata: ObjectMeta { get set }
    /// The object exactly as it was read (after v1beta1 conversion), for writing it back and for `runSpec`.
    var raw: JSONValue { get set }
    var conditions: [Condition] { get }
    var startTime: String? { get }
    var completionTime: String? { get }
    var results: [RunResult] { get }
    var provenance: Provenance? { get }
    var serviceAccountName: String { get }
    var podTemplate: PodTemplate? { get }
}

extension TektonRun {
    /// Done ⇔ the `Succeeded` condition exists and is not `Unknown` (Tekton's `IsDone()`).
    public var isDone: Bool {
        guard let succeeded = conditions.first(where: { $0.type == "Succeeded" }) else { return false }
        return succeeded.status != "Unknown"
    }

    public var name: String { metadata.name ?? "" }
    public var namespace: String { metadata.namespace ?? "" }
    public var uid: String { metadata.uid ?? "" }
    /// `namespace/name`, for messages.
    public var displayName: String {
        let ns = metadata.namespace.map { $0 + "/" } ?? ""
        return "\(Self.kind) \(ns)\(metadata.name ?? metadata.generateName ?? "<unnamed>")"
    }
}

public struct TaskRun: TektonRun, Hashable {
    public static let kind = "TaskRun"

    /// A TaskRun with nothing in it: `default` namespace and ServiceAccount.
    public static let empty: TaskRun = try! TaskRun(json: .object(["metadata": ["name": "<none>"]]), source: "")
    public var metadata: ObjectMeta
    public var spec: TaskRunSpec
    public var status: TaskRunStatus
    public var raw: JSONValue

    public var conditions: [Condition] { status.conditions ?? [] }
    public var startTime: String? { status.startTime }
    public var completionTime: String? { status.completionTime }
    public var results: [RunResult] { status.results ?? [] }
    public var provenance: Provenance? { status.provenance }
    public var serviceAccountName: String { spec.serviceAccountName ?? "" }
    public var podTemplate: PodTemplate? { spec.podTemplate }

    private struct Shape: Codable {
        var metadata: ObjectMeta?
        var spec: TaskRunSpec?
        var status: TaskRunStatus?
    }

    public init(json: JSONValue, source: String) throws(ManifestError) {
        let converted = TektonConversion.toV1(json)
        let shape = try converted.decode(Shape.self, source: source)
        metadata = shape.metadata ?? ObjectMeta()
        spec = shape.spec ?? TaskRunSpec()
        status = shape.status ?? TaskRunStatus()
        if let flags = status.provenance?.featureFlags {
            status.provenance?.featureFlags = FeatureFlags.normalise(flags)
        }
        raw = converted
    }
}

public struct PipelineRun: TektonRun, Hashable {
    public static let kind = "PipelineRun"
    public var metadata: ObjectMeta
    public var spec: PipelineRunSpec
    public var status: PipelineRunStatus
    public var raw: JSONValue

    public var conditions: [Condition] { status.conditions ?? [] }
    public var startTime: String? { status.startTime }
    public var completionTime: String? { status.completionTime }
    public var results: [RunResult] { status.results ?? [] }
    public var provenance: Provenance? { status.provenance }
    public var serviceAccountName: String { spec.taskRunTemplate?.serviceAccountName ?? "" }
    public var podTemplate: PodTemplate? { spec.taskRunTemplate?.podTemplate }

    private struct Shape: Codable {
        var metadata: ObjectMeta?
        var spec: PipelineRunSpec?
        var status: PipelineRunStatus?
    }

    public init(json: JSONValue, source: String) throws(ManifestError) {
        let converted = TektonConversion.toV1(json)
        let shape = try converted.decode(Shape.self, source: source)
        metadata = shape.metadata ?? ObjectMeta()
        spec = shape.spec ?? PipelineRunSpec()
        status = shape.status ?? PipelineRunStatus()
        if let flags = status.provenance?.featureFlags {
            status.provenance?.featureFlags = FeatureFlags.normalise(flags)
        }
        raw = converted
    }
}

extension ObjectMeta { public init() {} }

/// A run read from a manifest: which kind it is decides what gets signed.
public enum AnyRun: Sendable {
    case taskRun(TaskRun)
    case pipelineRun(PipelineRun)

    public var run: any TektonRun {
        switch self {
        case .taskRun(let t): return t
        case .pipelineRun(let p): return p
        }
    }

    /// Reads a TaskRun or PipelineRun from a decoded manifest; other kinds are an error naming the kind.
    public init(json: JSONValue, source: String) throws(ManifestError) {
        let kind = json["kind"]?.stringValue ?? ""
        let apiVersion = json["apiVersion"]?.stringValue ?? ""
        guard apiVersion.isEmpty || apiVersion.hasPrefix("tekton.dev/") else {
            throw ManifestError(
                code: .unsupportedKind, source: source, field: "apiVersion",
                reason: "\"\(apiVersion)\" is not a Tekton API version; expected tekton.dev/v1 or tekton.dev/v1beta1")
        }
        switch kind {
        case "TaskRun": self = .taskRun(try TaskRun(json: json, source: source))
        case "PipelineRun": self = .pipelineRun(try PipelineRun(json: json, source: source))
        default:
            throw ManifestError(
                code: .unsupportedKind, source: source, field: "kind",
                reason: kind.isEmpty
                    ? "missing; expected TaskRun or PipelineRun"
                    : "\"\(kind)\" cannot be signed; expected TaskRun or PipelineRun")
        }
    }
}

/// Tekton Pipelines' feature flags: keys matched case-insensitively to their JSON tags (as Go's decoder does),
/// unknown keys and empty values dropped (as Go's encoder does with `omitempty`).
public enum FeatureFlags {
    public static let jsonTags: [String] = [
        "disableCredsInit", "runningInEnvWithInjectedSidecars", "requireGitSSHSecretKnownHosts", "enableAPIFields",
        "sendCloudEventsForRuns", "awaitSidecarReadiness", "enforceNonfalsifiability", "enableKeepPodOnCancel",
        "verificationNoMatchPolicy", "enableProvenanceInStatus", "resultExtractionMethod", "maxResultSize",
        "setSecurityContext", "setSecurityContextReadOnlyRootFilesystem", "coschedule", "enableCELInWhenExpression",
        "enableStepActions", "enableParamEnum", "enableArtifacts", "disableInlineSpec", "enableConciseResolverSyntax",
        "enableKubernetesSidecar", "enableWaitExponentialBackoff", "enableTerminationMessageCompression",
        "enableTektonOCIBundles",
    ]
    private static let byLowercase: [String: String] = Dictionary(
        uniqueKeysWithValues: jsonTags.map { ($0.lowercased(), $0) })

    public static func normalise(_ flags: JSONValue) -> JSONValue {
        guard case .object(let members) = flags else { return flags }
        var out: [String: JSONValue] = [:]
        for (key, value) in members {
            guard let tag = byLowercase[key.lowercased()] else { continue }
            if tag != "enableTektonOCIBundles" && value.isEmptyForOmitEmpty { continue }
            out[tag] = value
        }
        return .object(out)
    }
}
