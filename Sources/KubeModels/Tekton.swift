import Foundation

/// A Tekton parameter or result value: a string, an array of strings, or an object of strings.
///
/// Decoding follows Tekton's own `ParamValue.UnmarshalJSON`: a value of another JSON type is kept as its JSON text.
package enum ParamValue: Sendable, Hashable {
    case string(String)
    case array([String])
    case object([String: String])

    package var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    package var objectValue: [String: String]? {
        if case .object(let o) = self { return o }
        return nil
    }

    package var json: JSONValue {
        switch self {
        case .string(let s): return .string(s)
        case .array(let a): return .array(a.map { .string($0) })
        case .object(let o): return .object(o.mapValues { .string($0) })
        }
    }
}

extension ParamValue: Codable {
    package init(from decoder: any Decoder) throws {
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

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }
}

package struct Param: Codable, Sendable, Hashable {
    package var name: String
    package var value: ParamValue
    package init(name: String, value: ParamValue) {
        self.name = name
        self.value = value
    }
}

package struct ParamSpec: Codable, Sendable, Hashable {
    package var name: String
    package var type: String?
    package var `default`: ParamValue?
}

/// A result as it appears in a run's status (`status.results`, `status.steps[].results`).
package struct RunResult: Codable, Sendable, Hashable {
    package var name: String
    package var type: String?
    package var value: ParamValue

    package init(name: String, type: String? = nil, value: ParamValue) {
        self.name = name
        self.type = type
        self.value = value
    }
}

package struct Condition: Codable, Sendable, Hashable {
    package var type: String
    package var status: String
    package var reason: String?
    package var message: String?
    package var lastTransitionTime: String?
}

package struct RefSource: Codable, Sendable, Hashable {
    package var uri: String?
    package var digest: [String: String]?
    package var entryPoint: String?
}

package struct Provenance: Codable, Sendable, Hashable {
    package var refSource: RefSource?
    /// Tekton Pipelines' feature flags, keyed by their JSON tags (`enableAPIFields`), see `FeatureFlags`.
    package var featureFlags: JSONValue?
}

package struct ResolverParamsRef: Codable, Sendable, Hashable {
    package var name: String?
    package var kind: String?
    package var apiVersion: String?
    package var resolver: String?
    package var params: [Param]?
}

package typealias TaskRef = ResolverParamsRef
package typealias PipelineRef = ResolverParamsRef

package struct Step: Codable, Sendable, Hashable {
    package var name: String?
    package var image: String?
    package var command: [String]?
    package var args: [String]?
    package var script: String?
    package var ref: ResolverParamsRef?
}

package struct TaskSpec: Codable, Sendable, Hashable {
    package var params: [ParamSpec]?
    package var steps: [Step]?
}

package struct PodTemplate: Codable, Sendable, Hashable {
    package var imagePullSecrets: [LocalObjectReference]?
}

package struct StepState: Codable, Sendable, Hashable {
    package var name: String?
    package var container: String?
    package var imageID: String?
    package var results: [RunResult]?
    package var provenance: Provenance?
}

package struct SidecarState: Codable, Sendable, Hashable {
    package var name: String?
    package var container: String?
    package var imageID: String?
}

package struct TaskRunSpec: Codable, Sendable, Hashable {
    package var params: [Param]?
    package var serviceAccountName: String?
    package var taskRef: TaskRef?
    package var taskSpec: TaskSpec?
    package var podTemplate: PodTemplate?
    package var managedBy: String?
}

package struct TaskRunStatus: Codable, Sendable, Hashable {
    package var conditions: [Condition]?
    package var podName: String?
    package var startTime: String?
    package var completionTime: String?
    package var steps: [StepState]?
    package var sidecars: [SidecarState]?
    package var results: [RunResult]?
    package var taskSpec: TaskSpec?
    package var provenance: Provenance?
}

package struct WhenExpression: Codable, Sendable, Hashable {
    package var input: String?
    package var `operator`: String?
    package var values: [String]?
    package var cel: String?
}

package struct PipelineTask: Codable, Sendable, Hashable {
    package var name: String
    package var taskRef: TaskRef?
    package var params: [Param]?
    package var runAfter: [String]?
    package var when: [WhenExpression]?
}

package struct PipelineSpec: Codable, Sendable, Hashable {
    package var params: [ParamSpec]?
    package var tasks: [PipelineTask]?
    package var finally: [PipelineTask]?
}

package struct TaskRunTemplate: Codable, Sendable, Hashable {
    package var serviceAccountName: String?
    package var podTemplate: PodTemplate?
}

package struct PipelineRunSpec: Codable, Sendable, Hashable {
    package var pipelineRef: PipelineRef?
    package var params: [Param]?
    package var taskRunTemplate: TaskRunTemplate?
    package var managedBy: String?
}

package struct ChildReference: Codable, Sendable, Hashable {
    package var apiVersion: String?
    package var kind: String?
    package var name: String
    package var pipelineTaskName: String?
}

package struct PipelineRunStatus: Codable, Sendable, Hashable {
    package var conditions: [Condition]?
    package var startTime: String?
    package var completionTime: String?
    package var results: [RunResult]?
    package var pipelineSpec: PipelineSpec?
    package var childReferences: [ChildReference]?
    package var provenance: Provenance?
}

/// Fields common to TaskRuns and PipelineRuns.
package protocol TektonRun: Sendable {
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
    package var isDone: Bool {
        guard let succeeded = conditions.first(where: { $0.type == "Succeeded" }) else { return false }
        return succeeded.status != "Unknown"
    }

    package var name: String { metadata.name ?? "" }
    package var namespace: String { metadata.namespace ?? "" }
    package var uid: String { metadata.uid ?? "" }
    /// `namespace/name`, for messages.
    package var displayName: String {
        let ns = metadata.namespace.map { $0 + "/" } ?? ""
        return "\(Self.kind) \(ns)\(metadata.name ?? metadata.generateName ?? "<unnamed>")"
    }
}

package struct TaskRun: TektonRun, Hashable {
    package static let kind = "TaskRun"

    /// A TaskRun with nothing in it: `default` namespace and ServiceAccount.
    package static let empty: TaskRun = try! TaskRun(json: .object(["metadata": ["name": "<none>"]]), source: "")
    package var metadata: ObjectMeta
    package var spec: TaskRunSpec
    package var status: TaskRunStatus
    package var raw: JSONValue

    package var conditions: [Condition] { status.conditions ?? [] }
    package var startTime: String? { status.startTime }
    package var completionTime: String? { status.completionTime }
    package var results: [RunResult] { status.results ?? [] }
    package var provenance: Provenance? { status.provenance }
    package var serviceAccountName: String { spec.serviceAccountName ?? "" }
    package var podTemplate: PodTemplate? { spec.podTemplate }

    private struct Shape: Codable {
        var metadata: ObjectMeta?
        var spec: TaskRunSpec?
        var status: TaskRunStatus?
    }

    package init(json: JSONValue, source: String) throws(ManifestError) {
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

package struct PipelineRun: TektonRun, Hashable {
    package static let kind = "PipelineRun"
    package var metadata: ObjectMeta
    package var spec: PipelineRunSpec
    package var status: PipelineRunStatus
    package var raw: JSONValue

    package var conditions: [Condition] { status.conditions ?? [] }
    package var startTime: String? { status.startTime }
    package var completionTime: String? { status.completionTime }
    package var results: [RunResult] { status.results ?? [] }
    package var provenance: Provenance? { status.provenance }
    package var serviceAccountName: String { spec.taskRunTemplate?.serviceAccountName ?? "" }
    package var podTemplate: PodTemplate? { spec.taskRunTemplate?.podTemplate }

    private struct Shape: Codable {
        var metadata: ObjectMeta?
        var spec: PipelineRunSpec?
        var status: PipelineRunStatus?
    }

    package init(json: JSONValue, source: String) throws(ManifestError) {
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

extension ObjectMeta { package init() {} }

/// A run read from a manifest: which kind it is decides what gets signed.
package enum AnyRun: Sendable {
    case taskRun(TaskRun)
    case pipelineRun(PipelineRun)

    package var run: any TektonRun {
        switch self {
        case .taskRun(let t): return t
        case .pipelineRun(let p): return p
        }
    }

    /// Reads a TaskRun or PipelineRun from a decoded manifest; other kinds are an error naming the kind.
    package init(json: JSONValue, source: String) throws(ManifestError) {
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
package enum FeatureFlags {
    package static let jsonTags: [String] = [
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

    package static func normalise(_ flags: JSONValue) -> JSONValue {
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
