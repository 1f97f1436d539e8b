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

/// chains-config read from a file — the ConfigMap manifest or a flat `key: value` file — or the embedded default.
package struct LoadedConfig: Sendable {
    package var config: ChainsConfig
    /// The file, or nil for the embedded default.
    package var file: URL?
    package var diagnostics: [Diagnostic]

    /// With no file, every artifact type is stored with `tekton`, so the first run needs no registry.
    package static let embeddedDefault: [String: String] = ["artifacts.oci.storage": "tekton"]

    package static func load(_ file: URL?) throws(ChainsError) -> LoadedConfig {
        var data = embeddedDefault
        if let file {
            do throws(ManifestError) {
                data = try ChainsConfig.loadData(from: file)
            } catch {
                throw ChainsError(.badInput, error.description, file: file.path, underlying: error)
            }
        }
        var loaded = try parse(data, source: file?.path ?? "embedded default", file: file?.path)
        loaded.file = file
        return loaded
    }

    /// chains-config's strings (a file's, or the ConfigMap's `data` as the controller reads it): unknown keys are
    /// warnings; invalid values one error naming `source` and each key.
    package static func parse(
        _ data: [String: String], source: String, file: String? = nil
    ) throws(ChainsError) -> LoadedConfig {
        switch ChainsConfig.parse(data) {
        case .success(let parsed):
            let warnings = parsed.unknownKeys.map {
                Diagnostic.warning("chains-config key \"\($0)\" is not a Chains key; ignored")
            }
            return LoadedConfig(config: parsed.config, file: nil, diagnostics: warnings)
        case .failure(var errors):
            errors.source = source
            throw ChainsError(.badInput, errors.description, file: file)
        }
    }
}
