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

/// A run read from a file (YAML or JSON, as `kubectl get -o yaml` prints it), to be written back in the same
/// syntax with its annotations.
package struct RunFile: Sendable {
    package let url: URL
    package let run: AnyRun
    let root: JSONValue
    let format: ManifestReader.Format

    package static func read(_ url: URL) throws(ManifestError) -> RunFile {
        let (documents, format) = try ManifestReader.read(file: url)
        guard documents.count == 1 else {
            throw ManifestError(
                code: .shape, source: url.path,
                reason: "expected exactly one TaskRun or PipelineRun, found \(documents.count) documents")
        }
        return RunFile(
            url: url, run: try AnyRun(json: documents[0], source: url.path), root: documents[0], format: format)
    }

    /// The manifest with `annotations` added to `metadata.annotations` (the user's own are kept) and `removing`
    /// deleted.
    package func document(adding annotations: [String: String], removing: [String] = []) -> String {
        var object = root.objectValue ?? [:]
        var metadata = object["metadata"]?.objectValue ?? [:]
        var existing = metadata["annotations"]?.objectValue ?? [:]
        for k in removing { existing[k] = nil }
        for (k, v) in annotations { existing[k] = .string(v) }
        metadata["annotations"] = .object(existing)
        object["metadata"] = .object(metadata)
        let updated = JSONValue.object(object)
        return format == .json ? updated.prettySerialized() : updated.yamlSerialized()
    }
}
