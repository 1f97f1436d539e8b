import Foundation
import KubeModels

/// What a reflector reports: the whole set after a (re)list, then each change.
package enum ReflectorEvent: Sendable {
    /// Everything there is now (first list, or a re-list after 410 Gone): replace what you hold.
    case synced([JSONValue])
    case upsert(JSONValue)
    case delete(JSONValue)
}

/// List, then watch from the list's version, forever: a watch the server ends is resumed from the last version
/// seen (bookmarks included); 410 Gone (the version is too old) lists again; other failures are retried with
/// backoff (1 s doubling to 30 s) and reported. `transform` keeps only what the caller needs of each object, so
/// what is held stays small however many runs accumulate (Chains keeps whole runs: ≥ 4 GiB at ~5k PipelineRuns).
package struct Reflector: Sendable {
    package let client: KubeAPIClient
    package let resource: KubeResource
    package let namespace: String?
    let transform: @Sendable (JSONValue) -> JSONValue
    let onError: @Sendable (KubeError) -> Void
    let watchTimeoutSeconds: Int

    package init(
        client: KubeAPIClient, resource: KubeResource, namespace: String?, watchTimeoutSeconds: Int = 300,
        transform: @escaping @Sendable (JSONValue) -> JSONValue = { $0 },
        onError: @escaping @Sendable (KubeError) -> Void = { _ in }
    ) {
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.watchTimeoutSeconds = watchTimeoutSeconds
        self.transform = transform
        self.onError = onError
    }

    /// Runs until the consumer stops iterating (or the task is cancelled).
    package func events() -> AsyncStream<ReflectorEvent> {
        AsyncStream { continuation in
            let task = Task { await run(continuation) }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    func run(_ continuation: AsyncStream<ReflectorEvent>.Continuation) async {
        var version: String?
        var delay: Duration = .seconds(1)
        while !Task.isCancelled {
            do throws(KubeError) {
                if version == nil {
                    let (items, listed) = try await client.list(resource, namespace: namespace, transform: transform)
                    continuation.yield(.synced(items))
                    version = listed
                }
                let stream = try await client.watch(
                    resource, namespace: namespace, resourceVersion: version ?? "",
                    timeoutSeconds: watchTimeoutSeconds)
                do {
                    for try await event in stream {
                        switch event {
                        case .added(let o), .modified(let o):
                            continuation.yield(.upsert(transform(o)))
                            version = o["metadata"]?["resourceVersion"]?.stringValue ?? version
                        case .deleted(let o):
                            continuation.yield(.delete(transform(o)))
                            version = o["metadata"]?["resourceVersion"]?.stringValue ?? version
                        case .bookmark(let v):
                            if !v.isEmpty { version = v }
                        }
                    }
                } catch let error as KubeError {
                    throw error
                } catch {
                    throw KubeError(reason: "the watch of \(resource.plural) broke: \(error)", isRetryable: true)
                }
                delay = .seconds(1)
            } catch {
                if error.isExpired {
                    version = nil
                    continue
                }
                onError(error)
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(30))
            }
        }
        continuation.finish()
    }
}
