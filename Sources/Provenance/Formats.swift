import ChainsConfig
import Foundation
import KubeModels
import OCI

/// Payload formats by their `chains-config` names.
extension PayloadFormat {
    /// The provenance predicate a format's statement carries; nil for simplesigning.
    package var predicateType: String? {
        switch self {
        case .simpleSigning: return nil
        case .inToto, .slsaV1: return "https://slsa.dev/provenance/v0.2"
        case .slsaV2alpha3, .slsaV2alpha4: return "https://slsa.dev/provenance/v1"
        }
    }
}

/// What the formats need from `chains-config`.
package struct FormatOptions: Sendable {
    package var builderID: String
    package var buildType: String
    package var deepInspection: Bool

    package init(
        builderID: String = "https://tekton.dev/chains/v2", buildType: String = "https://tekton.dev/chains/v2/slsa",
        deepInspection: Bool = false
    ) {
        self.builderID = builderID
        self.buildType = buildType
        self.deepInspection = deepInspection
    }

    static let slsaBuildType = "https://tekton.dev/chains/v2/slsa"
    static let tektonBuildType = "https://tekton.dev/chains/v2/slsa-tekton"
}

/// An in-toto statement ready to be signed: its exact bytes and the subjects it names.
package struct Statement: Sendable {
    package var json: JSONValue
    package var subjects: [Artifact]
    package var predicateType: String

    /// The bytes that are signed and stored: compact JSON, sorted keys — stable for the same input.
    package var bytes: Data { json.serializedData() }
}

package enum Formats {
    // MARK: simplesigning

    /// The cosign simple-signing payload for an image, byte for byte as Chains (Go `encoding/json`) writes it.
    package static func simpleSigning(_ image: ImageReference) -> Data {
        var out = #"{"critical":{"identity":{"docker-reference":"#
        JSONValue.appendQuoted(image.name, to: &out, escaping: .goEncodingJSON)
        out += #"},"image":{"docker-manifest-digest":"#
        JSONValue.appendQuoted(image.digest?.description ?? "", to: &out, escaping: .goEncodingJSON)
        out += #"},"type":"cosign container image signature"},"optional":null}"#
        return Data(out.utf8)
    }

    // MARK: entry points

    package static func statement(
        taskRun tr: TaskRun, format: PayloadFormat, options: FormatOptions, diagnostics: inout Diagnostics
    ) throws(PayloadError) -> Statement {
        do throws(PayloadError) {
            switch format {
            case .simpleSigning:
                throw PayloadError(run: "", reason: "simplesigning is for images, not for a TaskRun")
            case .inToto, .slsaV1:
                return try SLSAv02.taskRun(tr, options: options, diagnostics: &diagnostics)
            case .slsaV2alpha3, .slsaV2alpha4:
                return try SLSAv1.taskRun(
                    tr, alpha4: format == .slsaV2alpha4, options: options, diagnostics: &diagnostics)
            }
        } catch {
            throw PayloadError(run: tr.displayName, reason: error.reason)
        }
    }

    package static func statement(
        pipelineRun pr: PipelineRunWithChildren, format: PayloadFormat, options: FormatOptions,
        diagnostics: inout Diagnostics
    ) throws(PayloadError) -> Statement {
        do throws(PayloadError) {
            switch format {
            case .simpleSigning:
                throw PayloadError(run: "", reason: "simplesigning is for images, not for a PipelineRun")
            case .inToto, .slsaV1:
                return try SLSAv02.pipelineRun(pr, options: options, diagnostics: &diagnostics)
            case .slsaV2alpha3, .slsaV2alpha4:
                return try SLSAv1.pipelineRun(
                    pr, alpha4: format == .slsaV2alpha4, options: options, diagnostics: &diagnostics)
            }
        } catch {
            throw PayloadError(run: pr.pipelineRun.displayName, reason: error.reason)
        }
    }

    static func statementJSON(
        type: String, subjects: [Artifact], predicateType: String, predicate: JSONValue
    )
        -> JSONValue
    {
        var o: [String: JSONValue] = [
            "_type": .string(type), "predicateType": .string(predicateType), "predicate": predicate,
        ]
        if !subjects.isEmpty { o["subject"] = .array(subjects.map(\.subjectJSON)) }
        return .object(o)
    }

    static func time(_ text: String?, _ render: (Timestamp) -> String) -> JSONValue? {
        guard let text, !text.isEmpty else { return nil }
        guard let t = Timestamp(rfc3339: text) else { return .string(text) }
        return .string(render(t))
    }
}

// MARK: - SLSA v0.2 (in-toto, slsa/v1)

enum SLSAv02 {
    static let statementType = "https://in-toto.io/Statement/v0.1"
    static let predicateType = "https://slsa.dev/provenance/v0.2"

    static func taskRun(
        _ tr: TaskRun, options: FormatOptions, diagnostics: inout Diagnostics
    ) throws(PayloadError)
        -> Statement
    {
        let subjects = Subjects.taskRun(tr, diagnostics: &diagnostics)
        let materials = Materials.taskMaterials(tr, diagnostics: &diagnostics)
        var predicate: [String: JSONValue] = [
            "builder": ["id": .string(options.builderID)],
            "buildType": "tekton.dev/v1/TaskRun",
            "invocation": invocation(tr, params: tr.spec.params, specs: tr.status.taskSpec?.params),
            "buildConfig": ["steps": .array(steps(tr))],
            "metadata": metadata(tr),
        ]
        if !materials.isEmpty { predicate["materials"] = .array(materials.map(\.materialJSON)) }
        return Statement(
            json: Formats.statementJSON(
                type: statementType, subjects: subjects, predicateType: predicateType, predicate: .object(predicate)),
            subjects: subjects, predicateType: predicateType)
    }

    static func pipelineRun(
        _ pr: PipelineRunWithChildren, options: FormatOptions, diagnostics: inout Diagnostics
    )
        throws(PayloadError) -> Statement
    {
        let run = pr.pipelineRun
        let subjects = Subjects.pipelineRun(pr, deepInspection: options.deepInspection, diagnostics: &diagnostics)
        let materials = Materials.pipelineMaterials(
            pr, deepInspection: options.deepInspection, diagnostics: &diagnostics)
        var predicate: [String: JSONValue] = [
            "builder": ["id": .string(options.builderID)],
            "buildType": "tekton.dev/v1/PipelineRun",
            "invocation": invocation(run, params: run.spec.params, specs: run.status.pipelineSpec?.params),
            "buildConfig": buildConfig(pr),
            "metadata": metadata(run),
        ]
        if !materials.isEmpty { predicate["materials"] = .array(materials.map(\.materialJSON)) }
        return Statement(
            json: Formats.statementJSON(
                type: statementType, subjects: subjects, predicateType: predicateType, predicate: .object(predicate)),
            subjects: subjects, predicateType: predicateType)
    }

    /// `invocation`: configSource from `status.provenance.refSource`, parameters (spec defaults overridden by the
    /// run's params), environment (labels, annotations without `chains.tekton.dev/*` and last-applied).
    static func invocation(_ run: any TektonRun, params: [Param]?, specs: [ParamSpec]?) -> JSONValue {
        var configSource: [String: JSONValue] = [:]
        if let source = run.provenance?.refSource {
            if let uri = source.uri, !uri.isEmpty { configSource["uri"] = .string(uri) }
            if let digest = source.digest, !digest.isEmpty {
                configSource["digest"] = .object(digest.mapValues { .string($0) })
            }
            if let e = source.entryPoint, !e.isEmpty { configSource["entryPoint"] = .string(e) }
        }
        var parameters: [String: JSONValue] = [:]
        for spec in specs ?? [] { if let d = spec.default { parameters[spec.name] = d.json } }
        for p in params ?? [] { parameters[p.name] = p.value.json }
        var out: [String: JSONValue] = ["configSource": .object(configSource), "parameters": .object(parameters)]
        var environment: [String: JSONValue] = [:]
        let annotations = (run.metadata.annotations ?? [:]).filter {
            $0.key != "kubectl.kubernetes.io/last-applied-configuration" && !$0.key.hasPrefix("chains.tekton.dev/")
                && !$0.key.hasPrefix("chains-in-swift.dev/")
        }
        if !annotations.isEmpty { environment["annotations"] = .object(annotations.mapValues { .string($0) }) }
        if let labels = run.metadata.labels, !labels.isEmpty {
            environment["labels"] = .object(labels.mapValues { .string($0) })
        }
        if !environment.isEmpty { out["environment"] = .object(environment) }
        return .object(out)
    }

    static func step(_ step: Step?, _ state: StepState) -> JSONValue {
        let entryPoint = (step?.script ?? "").isEmpty ? (step?.command ?? []).joined(separator: " ") : step!.script!
        var image = state.imageID ?? ""
        if image.hasPrefix("docker-pullable://") { image.removeFirst("docker-pullable://".count) }
        return [
            "entryPoint": .string(entryPoint),
            "arguments": step?.args.map { .array($0.map { .string($0) }) } ?? .null,
            "environment": ["container": .string(state.name ?? ""), "image": .string("oci://" + image)],
            "annotations": .null,
        ]
    }

    static func steps(_ tr: TaskRun) -> [JSONValue] {
        (tr.status.steps ?? []).map { state in
            step(tr.status.taskSpec?.steps?.first(where: { $0.name == state.name }), state)
        }
    }

    static func metadata(_ run: any TektonRun) -> JSONValue {
        var m: [String: JSONValue] = [
            "completeness": ["parameters": false, "environment": false, "materials": false],
            "reproducible": .bool(run.metadata.labels?["chains.tekton.dev/reproducible"] == "true"),
        ]
        m["buildStartedOn"] = Formats.time(run.startTime, \.goRFC3339Nano)
        m["buildFinishedOn"] = Formats.time(run.completionTime, \.goRFC3339Nano)
        return .object(m)
    }

    /// PipelineRun `buildConfig.tasks`: one entry per completed child TaskRun, in pipeline order.
    static func buildConfig(_ pr: PipelineRunWithChildren) -> JSONValue {
        guard let spec = pr.pipelineRun.status.pipelineSpec else { return ["tasks": .null] }
        let regular = spec.tasks ?? []
        var tasks: [JSONValue] = []
        var last = ""
        for (i, task) in pr.pipelineTasks.enumerated() {
            let taskRuns = pr.taskRuns(forTask: task.name)
            if taskRuns.isEmpty { continue }
            for tr in taskRuns {
                guard tr.status.completionTime != nil, let taskSpec = tr.status.taskSpec else { continue }
                let specSteps = taskSpec.steps ?? []
                let states = tr.status.steps ?? []
                guard specSteps.count == states.count else { continue }
                if zip(specSteps, states).contains(where: { spec, state in
                    (state.name ?? "").hasPrefix("unnamed-") && !(spec.name ?? "").isEmpty
                }) {
                    continue
                }
                var after = task.runAfter ?? []
                for ref in resultReferences(task) where !after.contains(ref) { after.append(ref) }
                if after.isEmpty && i >= regular.count && !last.isEmpty { after.append(last) }

                var entry: [String: JSONValue] = [
                    "ref": refJSON(task.taskRef),
                    "startedOn": Formats.time(tr.startTime, \.goRFC3339Nano) ?? .string(Timestamp.zero.goRFC3339Nano),
                    "finishedOn": Formats.time(tr.completionTime, \.goRFC3339Nano)
                        ?? .string(Timestamp.zero.goRFC3339Nano),
                    "invocation": invocation(tr, params: tr.spec.params, specs: taskSpec.params ?? []),
                ]
                if !task.name.isEmpty { entry["name"] = .string(task.name) }
                if !after.isEmpty { entry["after"] = .array(after.map { .string($0) }) }
                if !pr.pipelineRun.serviceAccountName.isEmpty {
                    entry["serviceAccountName"] = .string(pr.pipelineRun.serviceAccountName)
                }
                if let status = status(tr.conditions) { entry["status"] = .string(status) }
                let stepJSON = zip(specSteps, states).map { step($0, $1) }
                if !stepJSON.isEmpty { entry["steps"] = .array(stepJSON) }
                if !tr.results.isEmpty {
                    entry["results"] = .array(
                        tr.results.map { r in
                            var o: [String: JSONValue] = ["name": .string(r.name), "value": r.value.json]
                            if let t = r.type, !t.isEmpty { o["type"] = .string(t) }
                            return .object(o)
                        })
                }
                tasks.append(.object(entry))
            }
            if i < regular.count { last = task.name }
        }
        return ["tasks": .array(tasks)]
    }

    static func refJSON(_ ref: TaskRef?) -> JSONValue {
        guard let ref else { return .object([:]) }
        var o: [String: JSONValue] = [:]
        if let v = ref.name, !v.isEmpty { o["name"] = .string(v) }
        if let v = ref.kind, !v.isEmpty { o["kind"] = .string(v) }
        if let v = ref.apiVersion, !v.isEmpty { o["apiVersion"] = .string(v) }
        if let v = ref.resolver, !v.isEmpty { o["resolver"] = .string(v) }
        if let v = ref.params, !v.isEmpty {
            o["params"] = .array(v.map { ["name": .string($0.name), "value": $0.value.json] })
        }
        return .object(o)
    }

    static func status(_ conditions: [Condition]) -> String? {
        switch conditions.first?.status {
        case "False": return "Failed"
        case "True": return "Succeeded"
        case "Unknown": return "Running"
        default: return nil
        }
    }

    /// Pipeline tasks referenced as `$(tasks.<name>.results.<result>)` in params and `when` expressions.
    static func resultReferences(_ task: PipelineTask) -> [String] {
        var texts: [String] = []
        for p in task.params ?? [] {
            switch p.value {
            case .string(let s): texts.append(s)
            case .array(let a): texts.append(contentsOf: a)
            case .object(let o): texts.append(contentsOf: o.keys.sorted().map { o[$0]! })
            }
        }
        for w in task.when ?? [] {
            texts.append(w.input ?? "")
            texts.append(contentsOf: w.values ?? [])
            texts.append(w.cel ?? "")
        }
        var out: [String] = []
        for text in texts {
            var rest = Substring(text)
            while let start = rest.range(of: "$(") {
                rest = rest[start.upperBound...]
                guard let end = rest.firstIndex(of: ")") else { break }
                let expression = rest[..<end]
                rest = rest[end...]
                let parts = expression.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
                guard parts.count == 3, parts[0] == "tasks", parts[2].hasPrefix("results") else { continue }
                let name = String(parts[1])
                if !name.isEmpty { out.append(name) }
            }
        }
        return out
    }
}
