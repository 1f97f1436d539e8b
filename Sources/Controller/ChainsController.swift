import ChainsCore
import Foundation
import KubeClient
import KubeModels
import Logging
import Synchronization

/// `chains controller`: watches finished TaskRuns and PipelineRuns (one namespace or all), signs each once through
/// the signing service, and writes its annotations back. Built so far: the watch (reflectors that keep only the
/// fields deciding whether to queue), the queue (fresh runs first, backoff), workers, the reconciler with the
/// service in use now (`ServiceSupply`: chains-config and the signing secrets can change under it).
package final class ChainsController: Sendable {
    package let client: KubeAPIClient
    package let queue: WorkQueue
    package let supply: ServiceSupply
    /// Which runs are this replica's (nil: all of them).
    package let elector: BucketElector?
    /// The runs that want attention, by key, whichever replica leads them: queued when their bucket becomes ours.
    /// With the time each finished (nil: not finished), for the oldest-unsigned gauge.
    let known = Mutex<[RunKey: Date?]>([:])
    /// Resources listed at least once (ready when both are).
    let synced = Mutex<Set<String>>([])
    package let metrics: ControllerMetrics?
    /// Versions of runs this replica wrote itself (attempt records): their watch events do not queue the run again.
    let ownWrites: OwnWrites
    let watches = Mutex<Task<Void, Never>?>(nil)
    let namespace: String?
    let threads: Int
    let logger: Logger

    package init(
        client: KubeAPIClient, supply: ServiceSupply, namespace: String?, threads: Int, logger: Logger,
        queue: WorkQueue = WorkQueue(), elector: BucketElector? = nil, metrics: ControllerMetrics? = nil,
        ownWrites: OwnWrites = OwnWrites()
    ) {
        self.ownWrites = ownWrites
        self.metrics = metrics
        self.client = client
        self.elector = elector
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
            "status": .object([
                "conditions": object["status"]?["conditions"] ?? .null,
                "completionTime": object["status"]?["completionTime"] ?? .null,
            ]),
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

    /// Watches and works until `stop()` (or cancellation, which also cuts the work in flight short).
    package func run() async {
        await elector?.setOnAcquire { [self] bucket in await self.acquired(bucket) }
        let watching = Task {
            await withDiscardingTaskGroup { group in
                for resource in [KubeResource.taskRuns, .pipelineRuns] {
                    group.addTask { await self.watch(resource) }
                }
                group.addTask { await self.observe() }
            }
        }
        watches.withLock { $0 = watching }
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                for _ in 0..<threads {
                    group.addTask { await self.work() }
                }
            }
        } onCancel: {
            Task { await self.stop() }
        }
        watching.cancel()
        await watching.value
    }

    /// The logger with the run's namespace, name and kind as metadata (JSON logs carry them as fields).
    func runLogger(_ key: RunKey) -> Logger {
        var logger = self.logger
        logger[metadataKey: "kind"] = .string(key.kind.kindName)
        logger[metadataKey: "namespace"] = .string(key.namespace)
        logger[metadataKey: "name"] = .string(key.name)
        return logger
    }

    /// Both kinds of run have been listed: the controller knows its work.
    package var isReady: Bool { synced.withLock { $0.count == 2 } }

    static func completed(_ object: JSONValue) -> Date? {
        object["status"]?["completionTime"]?.stringValue.flatMap(Reconciler.date)
    }

    /// Refreshes the gauges every second until cancelled.
    func observe() async {
        guard let metrics else { return }
        while !Task.isCancelled {
            let (waiting, oldest) = known.withLock { keys in
                (keys.count, keys.values.compactMap { $0 }.min())
            }
            metrics.state(
                queueDepth: await queue.depth, oldestUnsigned: oldest.map { Date().timeIntervalSince($0) } ?? 0,
                bucketsLed: elector?.ledNow.count ?? 1, generation: supply.generation, known: waiting)
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Takes no new work: the workers finish the run each is on, then `run()` returns.
    package func stop() async {
        await queue.shutDown()
        watches.withLock { $0?.cancel() }
    }

    /// A bucket became ours: every run of it that wants attention is queued (as the backlog).
    func acquired(_ bucket: Int) async {
        guard let elector else { return }
        let keys = known.withLock { $0.keys.filter { elector.bucket(of: $0) == bucket } }
        for key in keys.sorted() { await queue.add(key, priority: .backlog) }
    }

    /// Notes whether the run wants attention; queues it when it does and is ours. Only a run that just came to want
    /// attention (it finished) is fresh: an update to one already waiting (a finalizer or annotation written while it
    /// is retried) keeps it where it was — else runs retrying through an outage, each touched by every attempt, would
    /// jump ahead of the backlog for as long as the outage lasts, and the backlog would never be tried.
    func noted(
        _ key: RunKey, wants: Bool, completed: Date?, priority: WorkQueue.Priority, queue enqueue: Bool = true
    ) async {
        let wasWaiting = known.withLock { keys in
            let was = keys[key] != nil
            keys[key] = wants ? .some(completed) : nil
            return was
        }
        guard wants, enqueue else { return }
        if let elector, await !elector.leads(key) { return }
        await queue.add(key, priority: wasWaiting ? .backlog : priority)
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
                known.withLock { keys in keys = keys.filter { $0.key.resource != resource } }
                for object in objects {
                    guard let key = RunKey(resource, object) else { continue }
                    let wants =
                        Self.accepts(object, managedBy: managedBy) && Self.wantsAttention(object, finalizer: finalizer)
                    await noted(key, wants: wants, completed: Self.completed(object), priority: .backlog)
                }
                synced.withLock { _ = $0.insert(resource.plural) }
            case .upsert(let object):
                guard let key = RunKey(resource, object) else { continue }
                let wants =
                    Self.accepts(object, managedBy: managedBy)
                    && Self.wantsAttention(object, finalizer: Reconciler.finalizer(resource))
                // Our own attempt-record write coming back: the reconcile that made it is still at work on the run.
                let ours = ownWrites.isOurs(key, object)
                if !wants { ownWrites.forget(key) }
                await noted(key, wants: wants, completed: Self.completed(object), priority: .fresh, queue: !ours)
            case .delete(let object):
                if let key = RunKey(resource, object) {
                    known.withLock { $0[key] = nil }
                    ownWrites.forget(key)
                }
            }
        }
    }

    func work() async {
        while let key = await queue.next() {
            if let elector, await !elector.begin(key) {
                await queue.done(key)
                continue
            }
            let started = ContinuousClock.now
            let result = await supply.with { service in
                var reconciler = Reconciler(client: client, service: service, logger: runLogger(key))
                reconciler.metrics = metrics
                if let elector { reconciler.stillLeads = { await elector.stillHolds(key) } }
                return await reconciler.reconcile(key)
            }
            metrics?.reconciled(result, took: ContinuousClock.now - started)
            await elector?.end(key)
            switch result {
            case .done: await queue.done(key)
            case .retry: await queue.retry(key)
            }
        }
    }
}
