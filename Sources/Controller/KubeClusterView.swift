import ChainsCore
import Foundation
import KubeClient
import KubeModels

/// The signing service's cluster view from the API server: a PipelineRun's children by `status.childReferences`,
/// and the Secrets, ServiceAccounts and Pods credentials come from — always in the run's own namespace.
package struct KubeClusterView: ClusterView {
    let client: KubeAPIClient

    package init(client: KubeAPIClient) { self.client = client }

    package func children(of run: PipelineRun) async throws -> ChildLookup {
        var found: [TaskRun] = []
        var missing: [String] = []
        for ref in run.status.childReferences ?? [] {
            if let kind = ref.kind, kind != "TaskRun" {
                missing.append("\(ref.name) (a \(kind); only TaskRun children can be described)")
                continue
            }
            guard let json = try await client.get(.taskRuns, namespace: run.namespace, name: ref.name) else {
                missing.append(ref.name)
                continue
            }
            found.append(try TaskRun(json: json, source: "taskruns/\(run.namespace)/\(ref.name)"))
        }
        return ChildLookup(found: found, missing: missing)
    }

    package func secret(namespace: String, name: String) async throws -> Secret? {
        try await object(.secrets, namespace: namespace, name: name)
    }

    package func serviceAccount(namespace: String, name: String) async throws -> ServiceAccount? {
        try await object(.serviceAccounts, namespace: namespace, name: name)
    }

    package func pod(namespace: String, name: String) async throws -> Pod? {
        try await object(.pods, namespace: namespace, name: name)
    }

    func object<T: Decodable>(_ resource: KubeResource, namespace: String, name: String) async throws -> T? {
        guard let json = try await client.get(resource, namespace: namespace, name: name) else { return nil }
        return try json.decode(T.self, source: "\(resource.plural)/\(namespace)/\(name)")
    }
}

/// Keeps each new signature's attempt record on the run (a merge patch of its annotations) before it is pushed.
/// The write is noted in `ownWrites` first, so the watch does not queue the run again for it.
package struct KubeAttemptRecorder: AttemptRecorder {
    let client: KubeAPIClient
    let ownWrites: OwnWrites?

    package init(client: KubeAPIClient, ownWrites: OwnWrites? = nil) {
        self.client = client
        self.ownWrites = ownWrites
    }

    package func record(_ annotations: [String: String], on run: RunContext) async throws {
        let key = RunKey(run.kind == "PipelineRun" ? .pipelineRun : .taskRun, namespace: run.namespace, name: run.name)
        ownWrites?.note(key, annotations: annotations)
        do {
            _ = try await client.mergePatch(
                key.resource, namespace: run.namespace, name: run.name,
                .object(["metadata": .object(["annotations": .object(annotations.mapValues { .string($0) })])]))
        } catch {
            ownWrites?.forget(key)
            throw error
        }
    }
}
