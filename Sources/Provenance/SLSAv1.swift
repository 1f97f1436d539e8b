import Foundation
import KubeModels

/// SLSA v1.0 provenance: `slsa/v2alpha3` and `slsa/v2alpha4` (which adds StepAction awareness).
enum SLSAv1 {
    static let statementType = "https://in-toto.io/Statement/v1"
    static let predicateType = "https://slsa.dev/provenance/v1"

    /// A ResourceDescriptor as protojson writes it: empty members omitted.
    struct Descriptor: Hashable {
        var name = ""
        var uri = ""
        var digest: [String: String] = [:]
        var content: Data?
        var mediaType = ""

        var json: JSONValue {
            var o: [String: JSONValue] = [:]
            if !name.isEmpty { o["name"] = .string(name) }
            if !uri.isEmpty { o["uri"] = .string(uri) }
            if !digest.isEmpty { o["digest"] = .object(digest.mapValues { .string($0) }) }
            if let content, !content.isEmpty { o["content"] = .string(content.base64EncodedString()) }
            if !mediaType.isEmpty { o["mediaType"] = .string(mediaType) }
            return .object(o)
        }

        /// What Chains' dedup compares: everything but the name.
        var identity: String {
            var copy = self
            copy.name = ""
            return copy.json.serialized()
        }
    }

    static func descriptors(_ artifacts: [Artifact], name: String) -> [Descriptor] {
        artifacts.map { Descriptor(name: name, uri: $0.name, digest: $0.digest) }
    }

    /// Chains' `RemoveDuplicateResolvedDependencies`: first occurrence wins, except that `task`, `pipeline` and
    /// `stepAction/…` entries are always kept.
    static func dedup(_ items: [Descriptor]) -> [Descriptor] {
        var seen = Set<String>()
        return items.filter { d in
            let key = d.identity
            if seen.contains(key), d.name != "task", d.name != "pipeline", !d.name.hasPrefix("stepAction/") {
                return false
            }
            seen.insert(key)
            return true
        }
    }

    static func refSourceDescriptor(_ p: Provenance?, name: String) -> Descriptor? {
        guard let r = p?.refSource else { return nil }
        return Descriptor(name: name, uri: r.uri ?? "", digest: r.digest ?? [:])
    }

    static func remoteStepActions(_ tr: TaskRun) -> [Descriptor] {
        (tr.status.steps ?? []).compactMap { step in
            guard let r = step.provenance?.refSource else { return nil }
            return Descriptor(name: "stepAction/\(step.name ?? "")", uri: r.uri ?? "", digest: r.digest ?? [:])
        }
    }

    /// Step then sidecar images, each list merged on its own (Chains appends the two lists as they are).
    static func images(_ tr: TaskRun, diagnostics: inout Diagnostics) -> [Artifact] {
        Materials.stepImages(tr, diagnostics: &diagnostics) + Materials.sidecarImages(tr, diagnostics: &diagnostics)
    }

    static func taskRunDependencies(_ tr: TaskRun, alpha4: Bool, diagnostics: inout Diagnostics) -> [Descriptor] {
        var out: [Descriptor] = []
        if let task = refSourceDescriptor(tr.provenance, name: "task") { out.append(task) }
        var deps = descriptors(images(tr, diagnostics: &diagnostics), name: "")
        if alpha4 {
            deps += descriptors(Materials.stepActionResults(tr, diagnostics: &diagnostics), name: "inputs/result")
            deps += remoteStepActions(tr)
        }
        let mats = Materials.taskParamsAndResults(tr, diagnostics: &diagnostics)
        deps += descriptors(mats, name: "inputs/result")
        deps += descriptors(mats, name: "pipelineResource")
        return out + dedup(deps)
    }

    static func pipelineRunDependencies(
        _ pr: PipelineRunWithChildren, alpha4: Bool, options: FormatOptions, diagnostics: inout Diagnostics
    ) -> [Descriptor] {
        var out: [Descriptor] = []
        if let p = refSourceDescriptor(pr.pipelineRun.provenance, name: "pipeline") { out.append(p) }
        for tr in pr.executedTaskRuns {
            if options.buildType == FormatOptions.tektonBuildType {
                var d = Descriptor(name: "pipelineTask", content: tr.raw.serializedData(escaping: .goEncodingJSON))
                if let r = tr.provenance?.refSource {
                    d.uri = r.uri ?? ""
                    d.digest = r.digest ?? [:]
                }
                out.append(d)
            } else if let d = refSourceDescriptor(tr.provenance, name: "pipelineTask") {
                out.append(d)
            }
            let imgs = images(tr, diagnostics: &diagnostics)
            if alpha4 { out += remoteStepActions(tr) }
            out += descriptors(imgs, name: "")
        }
        if options.deepInspection && alpha4 {
            for tr in pr.executedTaskRuns {
                out += descriptors(Materials.stepActionResults(tr, diagnostics: &diagnostics), name: "inputs/result")
            }
        }
        out += descriptors(
            Materials.pipelineParamsAndResults(pr, deepInspection: options.deepInspection, diagnostics: &diagnostics),
            name: "inputs/result")
        return dedup(out)
    }

    /// Go `json.Marshal` of a result value: compact, sorted keys, HTML-escaped.
    static func resultContent(_ value: ParamValue) -> Data {
        value.json.serializedData(escaping: .goEncodingJSON)
    }

    static func isImageHint(_ name: String) -> Bool {
        name.hasSuffix(TypeHints.imageURL) || name.hasSuffix(TypeHints.imageDigest) || name == TypeHints.images
    }

    /// v2alpha4 byproducts: results that are neither build artifacts (valid or not) nor image hints.
    static func byproductsWithoutBuildArtifacts(_ results: [Result], prefix: String) -> [Descriptor] {
        results.compactMap { r in
            switch TypeHints.isBuildArtifact(r) {
            case .failure, .success(.some): return nil
            case .success(.none): break
            }
            if isImageHint(r.name) { return nil }
            return Descriptor(name: prefix + r.name, content: resultContent(r.value), mediaType: "application/json")
        }
    }

    static func taskRunByproducts(_ tr: TaskRun, alpha4: Bool) -> [Descriptor] {
        guard alpha4 else {
            return tr.results.map {
                Descriptor(
                    name: "taskRunResults/\($0.name)", content: resultContent($0.value), mediaType: "application/json")
            }
        }
        return byproductsWithoutBuildArtifacts(tr.results, prefix: "taskRunResults/\(tr.name)/")
            + byproductsWithoutBuildArtifacts(Materials.stepResults(tr), prefix: "stepResults/\(tr.name)/")
    }

    static func internalParameters(_ run: any TektonRun, buildType: String) throws(PayloadError) -> JSONValue {
        var o: [String: JSONValue] = [:]
        if let flags = run.provenance?.featureFlags { o["tekton-pipelines-feature-flags"] = flags }
        switch buildType {
        case FormatOptions.slsaBuildType: break
        case FormatOptions.tektonBuildType:
            o["labels"] = run.metadata.labels.map { .object($0.mapValues { .string($0) }) } ?? .null
            // Our own bookkeeping (attempt records) stays out; Chains has none.
            o["annotations"] =
                run.metadata.annotations.map {
                    .object($0.filter { !$0.key.hasPrefix("chains-in-swift.dev/") }.mapValues { .string($0) })
                } ?? .null
        default:
            throw PayloadError(run: run.displayName, reason: "unsupported buildType \(buildType)")
        }
        return .object(o)
    }

    static func externalParameters(_ runSpec: JSONValue, provenance: Provenance?, resolver: String?) -> JSONValue {
        var o: [String: JSONValue] = ["runSpec": runSpec]
        if let r = provenance?.refSource, let resolver, !resolver.isEmpty, resolver != "Cluster" {
            // Chains takes "one arbitrary entry" of the digest map; we take the smallest algorithm name.
            let ref = (r.digest ?? [:]).sorted { $0.key < $1.key }.first.map { "\($0.key):\($0.value)" } ?? ""
            o["buildConfigSource"] = [
                "ref": .string(ref), "repository": .string(r.uri ?? ""), "path": .string(r.entryPoint ?? ""),
            ]
        }
        return .object(o)
    }

    static func predicate(
        run: any TektonRun, buildType: String, external: JSONValue, dependencies: [Descriptor],
        byproducts: [Descriptor], options: FormatOptions
    ) throws(PayloadError) -> JSONValue {
        var buildDefinition: [String: JSONValue] = [
            "buildType": .string(buildType),
            "externalParameters": external,
            "internalParameters": try internalParameters(run, buildType: buildType),
        ]
        if !dependencies.isEmpty { buildDefinition["resolvedDependencies"] = .array(dependencies.map(\.json)) }
        var metadata: [String: JSONValue] = [:]
        if !run.uid.isEmpty { metadata["invocationId"] = .string(run.uid) }
        metadata["startedOn"] = Formats.time(run.startTime, \.protoJSON)
        metadata["finishedOn"] = Formats.time(run.completionTime, \.protoJSON)
        var builder: [String: JSONValue] = [:]
        if !options.builderID.isEmpty { builder["id"] = .string(options.builderID) }
        var runDetails: [String: JSONValue] = ["builder": .object(builder), "metadata": .object(metadata)]
        if !byproducts.isEmpty { runDetails["byproducts"] = .array(byproducts.map(\.json)) }
        return ["buildDefinition": .object(buildDefinition), "runDetails": .object(runDetails)]
    }

    static func buildType(_ options: FormatOptions) -> String {
        options.buildType.isEmpty ? FormatOptions.slsaBuildType : options.buildType
    }

    static func taskRun(
        _ tr: TaskRun, alpha4: Bool, options: FormatOptions, diagnostics: inout Diagnostics
    )
        throws(PayloadError) -> Statement
    {
        let type = buildType(options)
        let subjects =
            alpha4
            ? Subjects.v2alpha4TaskRun(tr, diagnostics: &diagnostics) : Subjects.taskRun(tr, diagnostics: &diagnostics)
        let predicate = try predicate(
            run: tr, buildType: type,
            external: externalParameters(
                RunSpec.taskRun(tr.raw["spec"]), provenance: tr.provenance, resolver: tr.spec.taskRef?.resolver),
            dependencies: taskRunDependencies(tr, alpha4: alpha4, diagnostics: &diagnostics),
            byproducts: taskRunByproducts(tr, alpha4: alpha4), options: options)
        return Statement(
            json: Formats.statementJSON(
                type: statementType, subjects: subjects, predicateType: predicateType, predicate: predicate),
            subjects: subjects, predicateType: predicateType)
    }

    static func pipelineRun(
        _ pr: PipelineRunWithChildren, alpha4: Bool, options: FormatOptions, diagnostics: inout Diagnostics
    ) throws(PayloadError) -> Statement {
        let run = pr.pipelineRun
        let type = buildType(options)
        _ = try internalParameters(run, buildType: type)
        let subjects =
            alpha4
            ? Subjects.v2alpha4PipelineRun(pr, deepInspection: options.deepInspection, diagnostics: &diagnostics)
            : Subjects.pipelineRun(pr, deepInspection: options.deepInspection, diagnostics: &diagnostics)
        var byproducts: [Descriptor]
        if alpha4 {
            byproducts = byproductsWithoutBuildArtifacts(run.results, prefix: "pipelineRunResults/\(run.name)/")
            if options.deepInspection {
                for tr in pr.executedTaskRuns { byproducts += taskRunByproducts(tr, alpha4: true) }
            }
        } else {
            byproducts = run.results.map {
                Descriptor(
                    name: "pipelineRunResults/\($0.name)", content: resultContent($0.value),
                    mediaType: "application/json")
            }
        }
        let predicate = try predicate(
            run: run, buildType: type,
            external: externalParameters(
                RunSpec.pipelineRun(run.raw["spec"]), provenance: run.provenance,
                resolver: run.spec.pipelineRef?.resolver),
            dependencies: pipelineRunDependencies(pr, alpha4: alpha4, options: options, diagnostics: &diagnostics),
            byproducts: byproducts, options: options)
        return Statement(
            json: Formats.statementJSON(
                type: statementType, subjects: subjects, predicateType: predicateType, predicate: predicate),
            subjects: subjects, predicateType: predicateType)
    }
}
