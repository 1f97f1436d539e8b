import Foundation
import KubeModels
import OCI

/// A payload could not be made for a run (Chains' "payload creation" error): says which run and why.
package struct PayloadError: Error, Sendable, CustomStringConvertible {
    package var run: String
    package var reason: String
    package init(run: String, reason: String) {
        self.run = run
        self.reason = reason
    }
    package var description: String { "\(run): cannot create the payload: \(reason)" }
}

/// A PipelineRun together with the child TaskRuns that were found for it.
package struct PipelineRunWithChildren: Sendable {
    package var pipelineRun: PipelineRun { didSet { index() } }
    package var children: [TaskRun] { didSet { index() } }
    /// Completed child TaskRuns in pipeline order, tasks then finally (Chains' `GetExecutedTasks`); worked out once,
    /// not at every use: a PipelineRun with thousands of children is read several times per format.
    private(set) var executedTaskRuns: [TaskRun] = []
    /// Children by their `tekton.dev/pipelineTask` label, in the order given.
    private var byTask: [String: [TaskRun]] = [:]

    package init(_ pipelineRun: PipelineRun, children: [TaskRun]) {
        self.pipelineRun = pipelineRun
        self.children = children
        index()
    }

    private mutating func index() {
        byTask = [:]
        for child in children {
            guard let task = child.metadata.labels?["tekton.dev/pipelineTask"] else { continue }
            byTask[task, default: []].append(child)
        }
        guard pipelineRun.status.pipelineSpec != nil else {
            executedTaskRuns = []
            return
        }
        executedTaskRuns = pipelineTasks.flatMap { task in
            taskRuns(forTask: task.name).filter { $0.status.completionTime != nil }
        }
    }

    /// Children labelled `tekton.dev/pipelineTask=<task>` (Chains' `GetTaskRunsFromTask`).
    func taskRuns(forTask task: String) -> [TaskRun] { byTask[task] ?? [] }

    var pipelineTasks: [PipelineTask] {
        (pipelineRun.status.pipelineSpec?.tasks ?? []) + (pipelineRun.status.pipelineSpec?.finally ?? [])
    }
}

/// Artifact lists merged as Chains' `AppendSubjects` / `AppendMaterials` do: an item with the same name as an earlier
/// one and one algorithm/hex pair in common merges its digests into the first such one; otherwise it is appended.
/// Indexed by (name, algorithm, hex), so merging n items costs O(n) — not a scan per item, which made a PipelineRun's
/// materials quadratic in its children (every child's git commit is a material of the same name).
struct ArtifactList {
    private(set) var items: [Artifact] = []
    /// The items holding each (name, algorithm, hex), in ascending order (almost always one).
    private var holders: [String: [Int]] = [:]

    init(_ initial: [Artifact] = []) { add(initial) }

    /// A list already merged, taken as it is (merging it again could join two items a later one linked).
    init(keeping merged: [Artifact]) {
        items = merged
        for (i, item) in merged.enumerated() {
            for (algorithm, hex) in item.digest { hold(Self.key(item.name, algorithm, hex), i) }
        }
    }

    mutating func add(_ new: [Artifact]) {
        for item in new { add(item) }
    }

    mutating func add(_ item: Artifact) {
        let first = item.digest.compactMap { holders[Self.key(item.name, $0.key, $0.value)]?.first }.min()
        guard let i = first else {
            for (algorithm, hex) in item.digest { hold(Self.key(item.name, algorithm, hex), items.count) }
            items.append(item)
            return
        }
        for (algorithm, hex) in item.digest where items[i].digest[algorithm] != hex {
            // A value replaced: item i no longer holds the old pair, and now holds the new one.
            if let old = items[i].digest[algorithm] { release(Self.key(item.name, algorithm, old), i) }
            hold(Self.key(item.name, algorithm, hex), i)
        }
        items[i].digest.merge(item.digest) { _, new in new }
    }

    private mutating func hold(_ key: String, _ i: Int) {
        var list = holders[key] ?? []
        let at = list.firstIndex { $0 >= i } ?? list.endIndex
        if at == list.endIndex || list[at] != i { list.insert(i, at: at) }
        holders[key] = list
    }

    private mutating func release(_ key: String, _ i: Int) {
        holders[key]?.removeAll { $0 == i }
    }

    private static func key(_ name: String, _ algorithm: String, _ hex: String) -> String {
        "\(name)\u{0}\(algorithm)\u{0}\(hex)"
    }
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
        var out = ArtifactList()
        for state in states {
            do {
                out.add([try fromImageID(state.imageID ?? "")])
            } catch {
                diagnostics.warn("\(kind) \(state.name ?? "")", "image left out of the provenance: \(error.reason)")
            }
        }
        return out.items
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
        var out = ArtifactList(
            keeping: gitMaterial(url: url, commit: commit, where: tr.displayName, diagnostics: &diagnostics))
        out.add(structuredInputs(tr.results, diagnostics: &diagnostics))
        return out.items
    }

    /// Git and `*ARTIFACT_INPUTS` materials from step results (StepActions), for slsa/v2alpha4.
    static func stepActionResults(_ tr: TaskRun, diagnostics: inout Diagnostics) -> [Artifact] {
        var out = ArtifactList()
        for step in tr.status.steps ?? [] {
            var git = GitHints()
            git.scan((step.results ?? []).map { ($0.name, $0.value) })
            out.add(
                gitMaterial(
                    url: git.url, commit: git.commit, where: "step \(step.name ?? "")", diagnostics: &diagnostics))
        }
        out.add(structuredInputs(stepResults(tr), diagnostics: &diagnostics))
        return out.items
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
        var out = ArtifactList(structuredInputs(pr.pipelineRun.results, diagnostics: &diagnostics))
        var git = GitHints()
        if let spec = pr.pipelineRun.status.pipelineSpec {
            if deepInspection {
                for tr in pr.executedTaskRuns {
                    out.add(taskParamsAndResults(tr, diagnostics: &diagnostics))
                }
            }
            git.scan((spec.params ?? []).map { ($0.name, $0.default) })
        }
        git.scan((pr.pipelineRun.spec.params ?? []).map { ($0.name, $0.value) })
        git.scan(pr.pipelineRun.results.map { ($0.name, $0.value) })
        if !git.commit.isEmpty && !git.url.isEmpty {
            out.add([Artifact(name: spdxGit(git.url), digest: ["sha1": git.commit])])
        }
        return out.items
    }

    /// SLSA v0.2 TaskRun materials: step images, sidecar images, git, `*ARTIFACT_INPUTS`.
    static func taskMaterials(_ tr: TaskRun, diagnostics: inout Diagnostics) -> [Artifact] {
        var out = ArtifactList(stepImages(tr, diagnostics: &diagnostics))
        out.add(sidecarImages(tr, diagnostics: &diagnostics))
        out.add(taskParamsAndResults(tr, diagnostics: &diagnostics))
        return out.items
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
        var out = ArtifactList()
        if let r = refSource(pr.pipelineRun.provenance) { out.add([r]) }
        for tr in pr.executedTaskRuns {
            out.add(stepImages(tr, diagnostics: &diagnostics))
            out.add(sidecarImages(tr, diagnostics: &diagnostics))
            if let r = refSource(tr.provenance) { out.add([r]) }
        }
        out.add(pipelineParamsAndResults(pr, deepInspection: deepInspection, diagnostics: &diagnostics))
        return out.items
    }
}

enum Subjects {
    /// Subjects of one run for in-toto/slsa/v1 and slsa/v2alpha3: OCI images, `*ARTIFACT_URI` pairs, every
    /// valid `*ARTIFACT_OUTPUTS`.
    static func fromResults(_ results: [Result], diagnostics: inout Diagnostics) -> [Artifact] {
        var out = ArtifactList()
        for image in TypeHints.ociImages(results, diagnostics: &diagnostics) {
            out.add([Artifact(name: image.name, digest: ["sha256": image.digest!.hex])])
        }
        for s in TypeHints.artifactTargets(results, diagnostics: &diagnostics) {
            let parts = s.digest.split(separator: ":", omittingEmptySubsequences: false)
            out.add([Artifact(name: s.uri, digest: [String(parts[0]): String(parts[1])])])
        }
        for s in TypeHints.structured(results, suffix: TypeHints.artifactOutputs, diagnostics: &diagnostics) {
            let parts = s.digest.split(separator: ":", omittingEmptySubsequences: false)
            out.add([Artifact(name: s.uri, digest: [String(parts[0]): String(parts[1])])])
        }
        return out.items
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
        var out = ArtifactList()
        if pr.pipelineRun.status.pipelineSpec != nil {
            for tr in pr.executedTaskRuns { out.add(taskRun(tr, diagnostics: &diagnostics)) }
        }
        out.add(own)
        return out.items
    }

    /// slsa/v2alpha4 subjects of a result list: build artifacts, then OCI images.
    static func fromBuildArtifacts(_ results: [Result], diagnostics: inout Diagnostics) -> [Artifact] {
        var out = ArtifactList()
        for (_, s) in TypeHints.buildArtifacts(results, diagnostics: &diagnostics) {
            let parts = s.digest.split(separator: ":", omittingEmptySubsequences: false)
            out.add([Artifact(name: s.uri, digest: [String(parts[0]): String(parts[1])])])
        }
        for image in TypeHints.ociImages(results, diagnostics: &diagnostics) {
            out.add([Artifact(name: image.name, digest: ["sha256": image.digest!.hex])])
        }
        return out.items
    }

    static func v2alpha4TaskRun(_ tr: TaskRun, diagnostics: inout Diagnostics) -> [Artifact] {
        var out = ArtifactList()
        for step in tr.status.steps ?? [] {
            out.add(fromBuildArtifacts(step.results ?? [], diagnostics: &diagnostics))
        }
        out.add(fromBuildArtifacts(tr.results, diagnostics: &diagnostics))
        return out.items
    }

    static func v2alpha4PipelineRun(
        _ pr: PipelineRunWithChildren, deepInspection: Bool, diagnostics: inout Diagnostics
    )
        -> [Artifact]
    {
        var out = ArtifactList(keeping: fromBuildArtifacts(pr.pipelineRun.results, diagnostics: &diagnostics))
        guard deepInspection else { return out.items }
        for tr in pr.executedTaskRuns { out.add(v2alpha4TaskRun(tr, diagnostics: &diagnostics)) }
        return out.items
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
