import ChainsCore
import Foundation
import KubeClient
import KubeModels
import Logging

/// `chains controller`: watches finished TaskRuns and PipelineRuns (one namespace or all), signs each once through
/// the signing service, and writes its annotations back. Built so far: the watch (reflectors that keep only the
/// fields deciding whether to queue), the queue (fresh runs first, backoff), workers, the reconciler with the
/// service in use now (`ServiceSupply`: chains-config and the signing secrets can change under it).
public final class ChainsController: Sendable {
    public let client: KubeAPIClient
    public let queue: WorkQueue
    public let supply: ServiceSupply
    let namespace: String?
    let threads: Int
    let logger: Logger

    public init(
        client: KubeAPIClient, supply: ServiceSupply, namespace: String?, threads: Int, logger: Logger,
        queue: WorkQueue = WorkQueue()
    ) {
        self.client = client
        self.queue = queue
        self.supply = supply
        self.namespace = namespace
        self.threads = max(1, threads)
        self.logger = logger
    }

    /// `filter.managed-by` of the configuration in use.
    var managedBy: [String] { supply.current.config.managedBy }

    /// The fields that decide whether a run is queued; everything else is read fresh when it is worked on.
    static func trim(_ object: JSONValue) -> JSONValue {
        let metadata = object["metadata"]
        return .object([
            "metadata": .object([
                "name": metadata?["name"] ?? .null, "namespace": metadata?["namespace"] ?? .null,
                "resourceVersion": metadata?["resourceVersion"] ?? .null,
                "annotations": metadata?["annotations"] ?? .null, "finalizers": metadata?["finalizers"] ?? .null,
                "deletionTimestamp": metadata?["deletionTimestamp"] ?? .null,
            ]),
            "spec": .object(["managedBy": object["spec"]?["managedBy"] ?? .null]),
            "status": .object(["conditions": object["status"]?["conditions"] ?? .null]),
        ])
    }

    /// Chains' filter: `spec.managedBy` empty or `tekton.dev/pipeline`, or listed in `filter.managed-by`. A run
    /// managed by another controller is never touched (no finalizer, no signature).
    static func accepts(_ object: JSONValue, managedBy extra: [String]) -> Bool {
        let manager = object["spec"]?["managedBy"]?.stringValue ?? ""
        return manager.isEmpty || manager == "tekton.dev/pipeline" || extra.contains(manager)
    }

    /// Whether the run needs us: done and not yet marked signed or failed (sign it); not done and without our
    /// finalizer (hold its deletion until it is signed); being deleted, or reconciled, with our finalizer (release
    /// it).
    static func wantsAttention(_ object: JSONValue, finalizer: String) -> Bool {
        let succeeded = object["status"]?["conditions"]?.arrayValue?.first { $0["type"]?.stringValue == "Succeeded" }
        let status = succeeded?["status"]?.stringValue
        let done = status == "True" || status == "False"
        let annotations = (object["metadata"]?["annotations"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        let reconciled = ChainsAnnotations.isReconciled(annotations)
        let held = (object["metadata"]?["finalizers"]?.arrayValue ?? []).contains(.string(finalizer))
        if object["metadata"]?["deletionTimestamp"]?.stringValue != nil { return held }
        if reconciled { return held }
        return done || !held
    }

    static func key(_ resource: KubeResource, _ object: JSONValue) -> String? {
        guard let ns = object["metadata"]?["namespace"]?.stringValue,
            let name = object["metadata"]?["name"]?.stringValue
        else { return nil }
        return "\(resource.plural)/\(ns)/\(name)"
    }

    /// Runs until cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            for resource in [KubeResource.taskRuns, .pipelineRuns] {
                group.addTask { await self.watch(resource) }
            }
            for _ in 0..<threads {
                group.addTask { await self.work() }
            }
            group.addTask {
                // On cancellation, release the workers waiting for keys.
                await withTaskCancellationHandler {
                    while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
                } onCancel: {
                    Task { await self.queue.shutDown() }
                }
            }
        }
    }

    func watch(_ resource: KubeResource) async {
        let reflector = Reflector(
            client: client, resource: resource, namespace: namespace, transform: Self.trim,
            onError: { [logger] error in logger.warning("watching \(resource.plural): \(error)") })
        for await event in reflector.events() {
            switch event {
            case .synced(let objects):
                let finalizer = Reconciler.finalizer(resource)
                let managedBy = self.managedBy
                for object in objects
                where Self.accepts(object, managedBy: managedBy) && Self.wantsAttention(object, finalizer: finalizer) {
                    if let key = Self.key(resource, object) { await queue.add(key, priority: .backlog) }
                }
            case .upsert(let object):
                if Self.accepts(object, managedBy: managedBy),
                    Self.wantsAttention(object, finalizer: Reconciler.finalizer(resource)),
                    let key = Self.key(resource, object)
                {
                    await queue.add(key, priority: .fresh)
                }
            case .delete:
                break
            }
        }
    }

    func work() async {
        while let key = await queue.next() {
            let result = await supply.with { service in
                await Reconciler(client: client, service: service, logger: logger).reconcile(key)
            }
            switch result {
            case .done: await queue.done(key)
            case .retry: await queue.retry(key)
            }
        }
    }
}
