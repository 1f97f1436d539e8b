import Foundation
import KubeModels

/// Kubernetes objects read from manifest directories (`--objects DIR`), standing in for the cluster.
/// The controller answers the same questions (`ClusterView`) from the API server.
package struct ObjectStore: Sendable {
    /// Objects are found by kind, namespace (`default` when empty) and name.
    package struct Key: Hashable, Sendable {
        package var kind: String
        package var namespace: String
        package var name: String
    }
    package private(set) var objects: [Key: (source: String, json: JSONValue)] = [:]
    package private(set) var warnings: [String] = []

    package init() {}

    /// Reads every `.yaml`, `.yml` and `.json` file under the directories (recursively). Unreadable files are
    /// warnings, not failures: one bad manifest must not stop the run.
    package init(directories: [URL]) throws(ManifestError) {
        let fm = FileManager.default
        for dir in directories {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
                throw ManifestError(
                    code: .unreadable, source: dir.path, reason: "--objects needs a directory of manifests")
            }
            let files = (fm.enumerator(at: dir, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? [])
                .filter { ["yaml", "yml", "json"].contains($0.pathExtension) }
                .sorted { $0.path < $1.path }
            for file in files {
                do {
                    for doc in try ManifestReader.read(file: file).documents { add(doc, source: file.path) }
                } catch {
                    warnings.append("\(error) (file ignored)")
                }
            }
        }
    }

    package mutating func add(_ json: JSONValue, source: String) {
        guard let kind = json["kind"]?.stringValue, let name = json["metadata"]?["name"]?.stringValue else {
            warnings.append("\(source): a document without kind or metadata.name was ignored")
            return
        }
        let namespace = json["metadata"]?["namespace"]?.stringValue ?? "default"
        objects[Key(kind: kind, namespace: namespace, name: name)] = (source, json)
    }

    /// The object and the file it came from.
    package func get(kind: String, namespace: String, name: String) -> (source: String, json: JSONValue)? {
        objects[Key(kind: kind, namespace: namespace.isEmpty ? "default" : namespace, name: name)]
    }

    /// The child TaskRuns of a PipelineRun, found by `status.childReferences` as the controller finds them.
    /// Returns the children found and the names that are missing (or are not TaskRuns, e.g. CustomRuns).
    package func lookupChildren(of pr: PipelineRun) throws(ManifestError) -> ChildLookup {
        struct Child: Sendable {
            let json: JSONValue
            let source: String
        }
        var children: [Child] = []
        var missing: [String] = []
        for ref in pr.status.childReferences ?? [] {
            if let kind = ref.kind, kind != "TaskRun" {
                missing.append("\(ref.name) (a \(kind); only TaskRun children can be described)")
                continue
            }
            guard let entry = get(kind: "TaskRun", namespace: pr.namespace, name: ref.name) else {
                missing.append(ref.name)
                continue
            }
            children.append(Child(json: entry.json, source: entry.source))
        }
        // Decoding thousands of children is most of a big PipelineRun's reading; they share nothing.
        let found = try Concurrently.map(children, minimumPerWorker: 64) { child throws(ManifestError) in
            try TaskRun(json: child.json, source: child.source)
        }
        return ChildLookup(found: found, missing: missing)
    }
}

extension ObjectStore: ClusterView {
    package func children(of run: PipelineRun) async throws -> ChildLookup { try lookupChildren(of: run) }

    package func secret(namespace: String, name: String) async throws -> Secret? {
        guard let entry = get(kind: "Secret", namespace: namespace, name: name) else { return nil }
        return try entry.json.decode(Secret.self, source: entry.source)
    }

    package func serviceAccount(namespace: String, name: String) async throws -> ServiceAccount? {
        guard let entry = get(kind: "ServiceAccount", namespace: namespace, name: name) else { return nil }
        return try entry.json.decode(ServiceAccount.self, source: entry.source)
    }

    package func pod(namespace: String, name: String) async throws -> Pod? {
        guard let entry = get(kind: "Pod", namespace: namespace, name: name) else { return nil }
        return try entry.json.decode(Pod.self, source: entry.source)
    }
}
