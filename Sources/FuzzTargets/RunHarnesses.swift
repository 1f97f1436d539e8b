import ChainsConfig
import Foundation
import KubeModels
import Provenance

extension FuzzHarness {
    static let runs: [FuzzHarness] = [
        FuzzHarness(
            name: "run-manifest",
            summary: "a TaskRun/PipelineRun file, YAML or JSON (v1 or v1beta1), through type-hint extraction"
        ) { data in
            guard let parsed = try? ManifestReader.parse(data, source: "fuzz") else { return [] }
            for document in parsed.documents.prefix(8) {
                guard let run = try? AnyRun(json: document, source: "fuzz") else { continue }
                var diagnostics = Diagnostics()
                let results = run.run.results
                _ = TypeHints.ociImages(results, diagnostics: &diagnostics)
                _ = TypeHints.artifactTargets(results, diagnostics: &diagnostics)
            }
            return []
        },
        FuzzHarness(
            name: "chains-config",
            summary: "a chains-config ConfigMap (YAML or JSON; its data map) through the key-by-key parser"
        ) { data in
            guard let parsed = try? ManifestReader.parse(data, source: "fuzz"), let document = parsed.documents.first,
                let map = document["data"]?.objectValue
            else { return [] }
            var config: [String: String] = [:]
            for (key, value) in map { config[key] = value.stringValue ?? "" }
            _ = ChainsConfig.parse(config)
            _ = config.values.map(ChainsConfig.parseDuration)
            return []
        },
    ]
}
