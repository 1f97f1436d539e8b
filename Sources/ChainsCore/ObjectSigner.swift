import ChainsConfig
import Foundation
import KubeModels
import OCI
import Provenance
import Signing

/// What went wrong at one stage for one object; the stages are Chains' metric `error_type`s.
public struct SigningFailure: Sendable, CustomStringConvertible {
    public enum Stage: String, Sendable {
        case payloadCreation = "payload_creation", signing, storage, tlog, configuration
    }
    public var stage: Stage
    public var artifactType: String
    public var object: String
    public var message: String
    public var description: String { "\(stage.rawValue) [\(artifactType) \(object)]: \(message)" }
}

/// One thing signed, for the summary.
public struct SignedRecord: Sendable {
    public var artifactType: String
    public var object: String
    public var format: String
    public var keyID: String
    public var storedIn: [String]
    public var subjects: [String]
}

/// The result of one signing attempt. Expected failures are values, not throws.
public struct SignOutcome: Sendable {
    public var signed: [SignedRecord] = []
    public var failures: [SigningFailure] = []
    public var warnings: [String] = []
    /// Annotations to write on the run: storage (tekton backend) plus `signed` / `retries`.
    public var annotations: [String: String] = [:]
    public var succeeded: Bool { failures.isEmpty }
}

/// Chains' `ObjectSigner.Sign`: for each enabled artifact type, make payloads, sign, store, then mark the run.
///
/// Differences from Chains, on purpose: every artifact type is attempted even after one fails (Chains stops at
/// the first failing type), and every failure is reported, not just aggregated into one string.
public struct ObjectSigner: Sendable {
    public var config: ChainsConfig
    public var signers: [String: any Signer]
    public var backends: [String: any StorageBackend]

    public init(config: ChainsConfig, signers: [String: any Signer], backends: [String: any StorageBackend]) {
        self.config = config
        self.signers = signers
        self.backends = backends
    }

    enum Target {
        case run
        case image(ImageReference)
    }

    public func sign(
        _ run: AnyRun, children: [TaskRun] = [], existingAnnotations: [String: String]
    ) async -> SignOutcome {
        var outcome = SignOutcome()
        let options = FormatOptions(
            builderID: config.builderID, buildType: config.buildType, deepInspection: config.deepInspection)
        var diagnostics = Diagnostics()

        typealias Step = (type: String, artifact: ChainsConfig.Artifact, targets: [Target])
        var steps: [Step] = []
        switch run {
        case .taskRun(let tr):
            steps.append(("tekton", config.taskRun, [.run]))
            if config.oci.isEnabled {
                steps.append(
                    ("oci", config.oci, TypeHints.ociImages(tr.results, diagnostics: &diagnostics).map { .image($0) }))
            } else {
                steps.append(("oci", config.oci, []))
            }
        case .pipelineRun:
            steps.append(("tekton-pipeline-run", config.pipelineRun, [.run]))
        }

        let meta = run.run
        for step in steps where step.artifact.isEnabled {
            guard let format = PayloadFormat(rawValue: step.artifact.format) else {
                outcome.warnings.append("unknown format \(step.artifact.format) for \(step.type); skipped")
                continue
            }
            for target in step.targets {
                let objectName: String
                let payload: Data
                var subjects: [String] = []
                let shortKey: String
                let fullKey: String
                switch target {
                case .run:
                    objectName = meta.displayName
                    let kind = meta is TaskRun ? "TaskRun" : "PipelineRun"
                    shortKey = "\(kind.lowercased())-\(meta.uid)"
                    fullKey = "tekton.dev-v1-\(kind)-\(meta.uid)"
                    do throws(PayloadError) {
                        let statement: Statement
                        switch run {
                        case .taskRun(let tr):
                            statement = try Formats.statement(
                                taskRun: tr, format: format, options: options, diagnostics: &diagnostics)
                        case .pipelineRun(let pr):
                            statement = try Formats.statement(
                                pipelineRun: PipelineRunWithChildren(pr, children: children), format: format,
                                options: options, diagnostics: &diagnostics)
                        }
                        payload = statement.bytes
                        subjects = statement.subjects.map { s in
                            s.name + (s.digest.sorted { $0.key < $1.key }.first.map { "@\($0.key):\($0.value)" } ?? "")
                        }
                    } catch {
                        outcome.failures.append(
                            .init(
                                stage: .payloadCreation, artifactType: step.type, object: objectName,
                                message: error.description))
                        continue
                    }
                case .image(let image):
                    objectName = image.description
                    shortKey = String(image.digest!.hex.prefix(12))
                    fullKey = image.description
                    payload = Formats.simpleSigning(image)
                }

                guard let signer = signers[step.artifact.signer] else {
                    outcome.failures.append(
                        .init(
                            stage: .configuration, artifactType: step.type, object: objectName,
                            message: "no signer \(step.artifact.signer) configured for \(step.type)"
                                + (step.artifact.signer == "kms"
                                    ? " (KMS signing is not built yet in Chains in Swift)" : "")))
                    break
                }
                let signature: Data
                do throws(SigningError) {
                    signature =
                        format.isInToto ? try DSSE.sign(payload: payload, signer: signer) : try signer.sign(payload)
                } catch {
                    outcome.failures.append(
                        .init(stage: .signing, artifactType: step.type, object: objectName, message: error.description))
                    continue
                }
                if config.transparency.isEnabled {
                    outcome.failures.append(
                        .init(
                            stage: .tlog, artifactType: step.type, object: objectName,
                            message:
                                "transparency.enabled is \"\(config.transparency.mode.rawValue)\" but Rekor upload is not built yet in Chains in Swift; set transparency.enabled: \"false\""
                        ))
                }
                let item = SignedItem(
                    artifactType: step.type, shortKey: shortKey, fullKey: fullKey, format: step.artifact.format,
                    payload: payload, signature: signature, certificatePEM: signer.certificatePEM,
                    chainPEM: signer.chainPEM, signer: signer)
                var stored: [String] = []
                for name in step.artifact.storage {
                    guard let backend = backends[name] else {
                        outcome.failures.append(
                            .init(
                                stage: .storage, artifactType: step.type, object: objectName,
                                message: "storage backend \"\(name)\" is not available"
                                    + (StorageBackends.planned.contains(name)
                                        ? " (not built yet in Chains in Swift)" : "")))
                        continue
                    }
                    do {
                        try await backend.store(item)
                        stored.append(name)
                    } catch {
                        outcome.failures.append(
                            .init(stage: .storage, artifactType: step.type, object: objectName, message: "\(error)"))
                    }
                }
                outcome.signed.append(
                    SignedRecord(
                        artifactType: step.type, object: objectName, format: step.artifact.format,
                        keyID: signer.publicKey.keyID, storedIn: stored, subjects: subjects))
            }
        }
        outcome.warnings += diagnostics.warnings.map { "\(meta.displayName): \($0)" }
        let marks =
            outcome.succeeded ? ChainsAnnotations.afterSuccess() : ChainsAnnotations.afterFailure(existingAnnotations)
        outcome.annotations.merge(marks) { _, new in new }
        return outcome
    }
}

public enum StorageBackends {
    /// Backend names Chains accepts that are not built here yet.
    public static let planned: Set<String> = ["gcs", "docdb", "grafeas", "kafka", "archivista"]
}
