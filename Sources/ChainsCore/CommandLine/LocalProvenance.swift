import ChainsConfig
import Foundation
import HTTPTransport
import KubeModels
import Logging
import OCIRegistry
import Provenance
import RegistryAuth
import Signing
import Sigstore

/// `chains provenance`: the statement the service would sign for a run, made by the same payload pipeline, with a
/// PipelineRun's children found the same way (`--objects`), plus child manifests given one by one.
package enum LocalProvenance {
    package static func statement(
        runFile: URL, configFile: URL?, objectDirectories: [URL], childFiles: [URL], format: String?
    ) async throws(ChainsError) -> (Statement, [Diagnostic]) {
        var diagnostics: [Diagnostic] = []
        let config = try LoadedConfig.load(configFile).config
        let run: RunFile
        do throws(ManifestError) {
            run = try RunFile.read(runFile)
        } catch {
            throw ChainsError(.badInput, error.description, file: error.source, underlying: error)
        }
        let wanted = format ?? (run.run.run is TaskRun ? config.taskRun.format : config.pipelineRun.format).rawValue
        guard let payloadFormat = PayloadFormat(rawValue: wanted), payloadFormat.isInToto else {
            throw ChainsError(
                .badInput, "--format must be one of in-toto, slsa/v1, slsa/v2alpha3, slsa/v2alpha4 (got \"\(wanted)\")")
        }
        var children: [TaskRun] = []
        if case .pipelineRun(let pr) = run.run {
            do throws(ManifestError) {
                for file in childFiles {
                    for document in try ManifestReader.read(file: file).documents {
                        children.append(try TaskRun(json: document, source: file.path))
                    }
                }
                if !objectDirectories.isEmpty {
                    let store = try ObjectStore(directories: objectDirectories)
                    diagnostics += store.warnings.map { .warning($0) }
                    let lookup = try store.lookupChildren(of: pr)
                    diagnostics += lookup.missing.map { .warning("child TaskRun \($0) not found") }
                    children += lookup.found
                }
            } catch {
                throw ChainsError(.badInput, error.description, file: error.source, underlying: error)
            }
        }
        let (statement, warnings) = try SigningService.statement(
            for: run.run, children: children, config: config, format: payloadFormat)
        return (statement, diagnostics + warnings)
    }
}
