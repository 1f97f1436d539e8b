import ChainsConfig
import Foundation
import KubeModels
import OCI
import Provenance

/// A payload made for one artifact: the bytes to sign and, for in-toto formats, the statement and its subjects.
struct Payload: Sendable {
    var bytes: Data
    /// `name@sha256:hex` per subject (in-toto), for summaries.
    var subjects: [String]
    var statement: Statement?
}

/// One thing to sign for a run: the run's own provenance, or one of its images.
struct PlannedArtifact: Sendable {
    var artifactType: ArtifactType
    var setting: ChainsConfig.Artifact
    /// The run's display name or the image reference.
    var object: String
    var shortKey: String
    var fullKey: String
    var format: PayloadFormat
    var image: ImageReference?
    var payload: Swift.Result<Payload, ChainsError>
}

struct PayloadPlan: Sendable {
    var artifacts: [PlannedArtifact] = []
    /// Artifact types enabled in chains-config for this kind of run; empty means nothing is signed.
    var enabledTypes: [ArtifactType] = []
    var diagnostics: [Diagnostic] = []
}

/// Turns a run into payloads per chains-config: the provenance statement for the run (TaskRun or PipelineRun with
/// its children) and a simplesigning payload per image its results name. Pure: no I/O.
struct PayloadPipeline: Sendable {
    var config: ChainsConfig

    init(config: ChainsConfig) { self.config = config }

    var options: FormatOptions {
        FormatOptions(builderID: config.builderID, buildType: config.buildType, deepInspection: config.deepInspection)
    }

    /// Every enabled artifact of `run`, with its payload (or why it could not be made).
    func plan(_ run: AnyRun, children: [TaskRun] = []) -> PayloadPlan {
        var plan = PayloadPlan()
        var diagnostics = Diagnostics()
        let meta = run.run
        let (ownType, own): (ArtifactType, ChainsConfig.Artifact) =
            meta is TaskRun ? (.taskRun, config.taskRun) : (.pipelineRun, config.pipelineRun)
        if own.isEnabled {
            plan.enabledTypes.append(ownType)
            let (artifact, warnings) = runArtifact(
                run, type: ownType, setting: own, format: own.format, children: children)
            plan.artifacts.append(artifact)
            plan.diagnostics += warnings
        }
        if case .taskRun(let tr) = run, config.oci.isEnabled {
            plan.enabledTypes.append(.oci)
            for image in TypeHints.ociImages(tr.results, diagnostics: &diagnostics) {
                plan.artifacts.append(
                    PlannedArtifact(
                        artifactType: .oci, setting: config.oci, object: image.description,
                        shortKey: String(image.digest!.hex.prefix(12)), fullKey: image.description,
                        format: .simpleSigning, image: image,
                        payload: .success(Payload(bytes: Formats.simpleSigning(image), subjects: [], statement: nil))))
            }
        }
        for warning in diagnostics.warnings.map({ Diagnostic.warning("\(meta.displayName): \($0)") })
        where !plan.diagnostics.contains(warning) {
            plan.diagnostics.append(warning)
        }
        return plan
    }

    func runArtifact(
        _ run: AnyRun, type: ArtifactType, setting: ChainsConfig.Artifact, format: PayloadFormat, children: [TaskRun]
    ) -> (PlannedArtifact, [Diagnostic]) {
        let meta = run.run
        let kind = meta is TaskRun ? "TaskRun" : "PipelineRun"
        var diagnostics: [Diagnostic] = []
        let payload: Swift.Result<Payload, ChainsError>
        do throws(ChainsError) {
            let (statement, warnings) = try self.statement(for: run, children: children, format: format)
            diagnostics = warnings
            payload = .success(
                Payload(
                    bytes: statement.bytes,
                    subjects: statement.subjects.map { s in
                        s.name + (s.digest.sorted { $0.key < $1.key }.first.map { "@\($0.key):\($0.value)" } ?? "")
                    }, statement: statement))
        } catch {
            payload = .failure(error)
        }
        let artifact = PlannedArtifact(
            artifactType: type, setting: setting, object: meta.displayName,
            shortKey: "\(kind.lowercased())-\(meta.uid)", fullKey: "tekton.dev-v1-\(kind)-\(meta.uid)",
            format: format, image: nil, payload: payload)
        return (artifact, diagnostics)
    }

    /// The in-toto statement for a run in `format` (what `chains provenance` prints), with extraction warnings.
    func statement(
        for run: AnyRun, children: [TaskRun], format: PayloadFormat
    ) throws(ChainsError) -> (Statement, [Diagnostic]) {
        var diagnostics = Diagnostics()
        do throws(PayloadError) {
            let statement: Statement
            switch run {
            case .taskRun(let tr):
                statement = try Formats.statement(
                    taskRun: tr, format: format, options: options, diagnostics: &diagnostics)
            case .pipelineRun(let pr):
                statement = try Formats.statement(
                    pipelineRun: PipelineRunWithChildren(pr, children: children), format: format, options: options,
                    diagnostics: &diagnostics)
            }
            return (statement, diagnostics.warnings.map { .warning("\(run.run.displayName): \($0)") })
        } catch {
            throw ChainsError(.payload, error.description, run: run.run.displayName, underlying: error)
        }
    }
}
