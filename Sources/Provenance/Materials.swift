import Foundation
import KubeModels
import OCI

/// A payload could not be made for a run (Chains' "payload creation" error): says which run and why.
public struct PayloadError: Error, Sendable, CustomStringConvertible {
    public var run: String
    public var reason: String
    public init(run: String, reason: String) {
        self.run = run
        self.reason = reason
    }
    public var description: String { "\(run): cannot create the payload: \(reason)" }
}

/// A PipelineRun together with the child TaskRuns that were found for it.
public struct PipelineRunWithChildren: Sendable {
    public var pipelineRun: PipelineRun
    public var children: [TaskRun]
    public init(_ pipelineRun: PipelineRun, children: [TaskRun]) {
        self.pipelineRun = pipelineRun
        self.children = children
    }

    /// Children labelled `tekton.dev/pipelineTask=<task>` (Chains' `GetTaskRunsFromTask`).
    func taskRuns(forTask task: String) -> [TaskRun] {
        children.filter { $0.metadata.labels?["tekton.dev/pipelineTask"] == task }
    }

    var pipelineTasks: [PipelineTask] {
        (pipelineRun.status.pipelineSpec?.tasks ?? []) + (pipelineRun.status.pipelineSpec?.finally ?? [])
    }

    /// Completed child TaskRuns in pipeline order, tasks then finally (Chains' `GetExecutedTasks`).
    var executedTaskRuns: [TaskRun] {
        guard pipelineRun.status.pipelineSpec != nil else { return [] }
        return pipelineTasks.flatMap { task in taskRuns(forTask: task.name).filter { $0.status.completionTime != nil } }
    }
}

/// Merging artifact lists as Chains' `AppendSubjects` / `AppendMaterials` do: same name and one common
/// algorithm/hex → digest sets merged; otherwise appended.
func append(_ original: [Artifact], _ items: [Artifact]) -> [Artifact] {
    var out = original
    for item in items {
        if let i = out.firstIndex(where: { a in
            a.name == item.name && a.digest.contains(where: { item.digest[$0.key] == $0.value })
        }) {
            out[i].digest.merge(item.digest) { _, new in new }
        } else {
            out.append(item)
        }
    }
    return out
}

/// `CHAINS-GIT_URL` / `CHAINS-GIT_COMMIT` values; a later scan overrides an earlier one (defaults → params → results).
struct GitHints {
    var commit = ""
    var url = ""

    mutating func scan(_ values: [(name: String, value: ParamValue?)]) {
        for (name, value) in values {
            guard let value else { continue }
            if name == TypeHints.gitCommit { commit = value.stringValue ?? "" }
            if name == TypeHints.gitURL { url = value.stringValue ?? "" }
        }
    }
}

enum Materials {
    static let gitPrefix = "git+"

    /// `{uri: oci://<repo>, digest: {alg: hex}}` from a container's `imageID`.
    static func fromImageID(_ imageID: String) throws(PayloadError) -> Artifact {
        let uriDigest = imageID.split(separator: "@", omittingEmptySubsequences: false)
        guard uriDigest.count == 2 else {
            throw PayloadError(run: "", reason: "expected imageID \(imageID) to be separable by @")
        }
        let digest = uriDigest[1].split(separator: ":", omittingEmptySubsequences: false)
        guard digest.count == 2 else {
            throw PayloadError(run: "", reason: "expected imageID \(imageID) to be separable by @ and :")
        }
        var uri = Substring(uriDigest[0])
        if uri.hasPrefix("docker-pullable://") { uri = uri.dropFirst("docker-pullable://".count) }
        return Artifact(name: "oci://" + uri, digest: [String(digest[0]): String(digest[1])])
    }

    /// Step or sidecar images as materials. An `imageID` without `@alg:hex` is left out with a warning; Chains
    /// fails the whole attestation for it, which leaves the run unsigned forever.
    static func containerImages(
        _ states: [(name: String?, imageID: String?)], kind: String, diagnostics: inout Diagnostics
    )
        -> [Artifact]
    {
        var out: [Artifact] = []
        for state in states {
            do {
                out = append(out, [try fromImageID(state.imageID ?? "")])
            } catch {
                diagnostics.warn("\(kind) \(state.name ?? "")", "image left out of the provenance: \(error.reason)")
            }
        }
        return out
    }

    static func stepImages(_ tr: TaskRun, diagnostics: inout Diagnostics) -> [Artifact] {
        containerImages((tr.status.steps ?? []).map { ($0.name, $0.imageID) }, kind: "step", diagnostics: &diagnostics)
    }

    static func sidecarImages(_ tr: TaskRun, diagnostics: inout Diagnostics) -> [Artifact] {
        containerImages(
            (tr.status.sidecars ?? []).map { ($0.name, $0.imageID) }, kind: "sidecar", diagnostics: &diagnostics)
    }

    /// `git+<url>.git` as Chains' `SPDXGit` writes it.
    static func spdxGit(_ url: String) -> String {
        var u = url
        if !u.hasPrefix(gitPrefix) { u = gitPrefix + u }
        if !u.hasSuffix(".git") { u += ".git" }
        return u
    }

    static func structuredInputs(_ results: [Result], diagnostics: inout Diagnostics) -> [Artifact] {
        TypeHints.structured(results, suffix: TypeHints.artifactInputs, diagnostics: &diagnostics).compactMap { s in
            guard case .success(let (alg, hex)) = TypeHints.parseDigest(s.digest) else { return nil }
            return Artifact(name: s.uri, digest: [alg: hex])
        }
    }

    /// Git material from `CHAINS-GIT_*` (task param defaults → run params → results) and `*ARTIFACT_INPUTS`.
    static func taskParamsAndResults(_ tr: TaskRun, diagnostics: inout Diagnostics) -> [Artifact] {
        var git = GitHints()
        git.scan((tr.status.taskSpec?.params ?? []).map { ($0.name, $0.default) })
        git.scan((tr.spec.params ?? []).map { ($0.name, $0.value) })
        git.scan((tr.status.results ?? []).map { ($0.name, $0.value) })
        let (commit, url) = (git.commit, git.url)
        let out = gitMaterial(url: url, commit: commit, where: tr.displayName, diagnostics: &diagnostics)
        return append(out, structuredInputs(tr.results, diagnostics: &diagnostics))
    }

    /// Git and `*ARTIFACT_INPUTS` materials from step results (StepActions), for slsa/v2alpha4.
    static func stepActionResults(_ tr: TaskRun, diagnostics: inout Diagnostics) -> [Artifact] {
        var out: [Artifact] = []
        for step in tr.status.steps ?? [] {
            var git = GitHints()
            git.scan((step.results ?? []).map { ($0.name, $0.value) })
            out = append(
                out,
                gitMaterial(
                    url: git.url, commit: git.commit, where: "step \(step.name ?? "")", diagnostics: &diagnostics))
        }
        return append(out, structuredInputs(stepResults(tr), diagnostics: &diagnostics))
    }

    /// The `git+<url>.git` material for a commit. Chains normalises the URL before checking it, so a commit
    /// without a URL becomes the material `git+.git`; we leave it out and say why.
    static func gitMaterial(
        url: String, commit: String, where place: String, diagnostics: inout Diagnostics
    ) -> [Artifact] {
        if commit.isEmpty { return [] }
        if url.isEmpty {
            diagnostics.warn(
                TypeHints.gitCommit, "\(place) gives a commit but no \(TypeHints.gitURL); the git material is left out")
            return []
        }
        return [Artifact(name: spdxGit(url), digest: ["sha1": commit])]
    }

    static func stepResults(_ tr: TaskRun) -> [Result] {
        (tr.status.steps ?? []).flatMap { $0.results ?? [] }
    }

    static func pipelineParamsAndResults(
        _ pr: PipelineRunWithChildren, deepInspection: Bool, diagnostics: inout Diagnostics
    ) -> [Artifact] {
        var out = append([], structuredInputs(pr.pipelineRun.results, diagnostics: &diagnostics))
        var git = GitHints()
        if let spec = pr.pipelineRun.status.pipelineSpec {
            if deepInspection {
                for tr in pr.executedTaskRuns {
                    out = append(out, taskParamsAndResults(tr, diagnostics: &diagnostics))
                }
            }
            git.scan((spec.params ?? []).map { ($0.name, $0.default) })
        }
        git.scan((pr.pipelineRun.spec.params ?? []).map { ($0.name, $0.value) })
        git.scan(pr.pipelineRun.results.map { ($0.name, $0.value) })
        if !git.commit.isEmpty && !git.url.isEmpty {
            out = append(out, [Artifact(name: spdxGit(git.url), digest: ["sha1": git.commit])])
        }
        return out
    }

    /// SLSA v0.2 TaskRun materials: step images, sidecar images, git, `*ARTIFACT_INPUTS`.
    static func taskMaterials(_ tr: TaskRun, diagnostics: inout Diagnostics) -> [Artifact] {
        var out = append([], stepImages(tr, diagnostics: &diagnostics))
        out = append(out, sidecarImages(tr, diagnostics: &diagnostics))
        return append(out, taskParamsAndResults(tr, diagnostics: &diagnostics))
    }

    static func refSource(_ p: Provenance?) -> Artifact? {
        guard let r = p?.refSource else { return nil }
        return Artifact(name: r.uri ?? "", digest: r.digest ?? [:])
    }

    /// SLSA v0.2 PipelineRun materials.
    static func pipelineMaterials(
        _ pr: PipelineRunWithChildren, deepInspection: Bool, diagnostics: inout Diagnostics
    )
        -> [Artifact]
    {
        var out: [Artifact] = []
        if let r = refSource(pr.pipelineRun.provenance) { out = append(out, [r]) }
        for tr in pr.executedTaskRuns {
            out = append(out, stepImages(tr, diagnostics: &diagnostics))
            out = append(out, sidecarImages(tr, diagnostics: &diagnostics))
            if let r = refSource(tr.provenance) { out = append(out, [r]) }
        }
        return append(out, pipelineParamsAndResults(pr, deepInspection: deepInspection, diagnostics: &diagnostics))
    }
}

enum Subjects {
    /// Subjects of one run for in-toto/slsa/v1 and slsa/v2alpha3: OCI images, `*ARTIFACT_URI` pairs, every
    /// valid `*ARTIFACT_OUTPUTS`.
    static func fromResults(_ results: [Result], diagnostics: inout Diagnostics) -> [Artifact] {
        var out: [Artifact] = []
        for image in TypeHints.ociImages(results, diagnostics: &diagnostics) {
            out = append(out, [Artifact(name: image.name, digest: ["sha256": image.digest!.hex])])
        }
        for s in TypeHints.artifactTargets(results, diagnostics: &diagnostics) {
            let parts = s.digest.split(separator: ":", omittingEmptySubsequences: false)
            out = append(out, [Artifact(name: s.uri, digest: [String(parts[0]): String(parts[1])])])
        }
        for s in TypeHints.structured(results, suffix: TypeHints.artifactOutputs, diagnostics: &diagnostics) {
            let parts = s.digest.split(separator: ":", omittingEmptySubsequences: false)
            out = append(out, [Artifact(name: s.uri, digest: [String(parts[0]): String(parts[1])])])
        }
        return out
    }

    static func taskRun(_ tr: TaskRun, diagnostics: inout Diagnostics) -> [Artifact] {
        fromResults(tr.results, diagnostics: &diagnostics)
    }

    static func pipelineRun(
        _ pr: PipelineRunWithChildren, deepInspection: Bool, diagnostics: inout Diagnostics
    )
        -> [Artifact]
    {
        let own = fromResults(pr.pipelineRun.results, diagnostics: &diagnostics)
        guard deepInspection else { return own }
        var out: [Artifact] = []
        if pr.pipelineRun.status.pipelineSpec != nil {
            for tr in pr.executedTaskRuns { out = append(out, taskRun(tr, diagnostics: &diagnostics)) }
        }
        return append(out, own)
    }

    /// slsa/v2alpha4 subjects of a result list: build artifacts, then OCI images.
    static func fromBuildArtifacts(_ results: [Result], diagnostics: inout Diagnostics) -> [Artifact] {
        var out: [Artifact] = []
        for (_, s) in TypeHints.buildArtifacts(results, diagnostics: &diagnostics) {
            let parts = s.digest.split(separator: ":", omittingEmptySubsequences: false)
            out = append(out, [Artifact(name: s.uri, digest: [String(parts[0]): String(parts[1])])])
        }
        for image in TypeHints.ociImages(results, diagnostics: &diagnostics) {
            out = append(out, [Artifact(name: image.name, digest: ["sha256": image.digest!.hex])])
        }
        return out
    }

    static func v2alpha4TaskRun(_ tr: TaskRun, diagnostics: inout Diagnostics) -> [Artifact] {
        var out: [Artifact] = []
        for step in tr.status.steps ?? [] {
            out = append(out, fromBuildArtifacts(step.results ?? [], diagnostics: &diagnostics))
        }
        return append(out, fromBuildArtifacts(tr.results, diagnostics: &diagnostics))
    }

    static func v2alpha4PipelineRun(
        _ pr: PipelineRunWithChildren, deepInspection: Bool, diagnostics: inout Diagnostics
    )
        -> [Artifact]
    {
        var out = fromBuildArtifacts(pr.pipelineRun.results, diagnostics: &diagnostics)
        guard deepInspection else { return out }
        for tr in pr.executedTaskRuns { out = append(out, v2alpha4TaskRun(tr, diagnostics: &diagnostics)) }
        return out
    }
}

extension Artifact {
    /// `{name, digest}` as an in-toto subject (empty members omitted).
    var subjectJSON: JSONValue {
        var o: [String: JSONValue] = [:]
        if !name.isEmpty { o["name"] = .string(name) }
        if !digest.isEmpty { o["digest"] = .object(digest.mapValues { .string($0) }) }
        return .object(o)
    }

    /// `{uri, digest}` as a SLSA v0.2 material.
    var materialJSON: JSONValue {
        var o: [String: JSONValue] = [:]
        if !name.isEmpty { o["uri"] = .string(name) }
        if !digest.isEmpty { o["digest"] = .object(digest.mapValues { .string($0) }) }
        return .object(o)
    }
}
