import ChainsCore
import Foundation
import HTTPTransport
import KubeClient
import KubeModels
import Logging

/// What one reconcile decided for the queue.
package enum ReconcileResult: Sendable, Equatable {
    /// Nothing more to do for this run now (signed, failed for good, not done, already reconciled, gone).
    case done
    /// Try again later with backoff: a retryable failure (registry, Fulcio, Rekor, API down) — Chains' `retries`
    /// budget is not spent — or a real failure with retries left.
    case retry
}

/// One run: read it fresh from the API, decide, sign through the service, write the annotations back.
package struct Reconciler: Sendable {
    let client: KubeAPIClient
    let service: SigningService
    let logger: Logger
    /// Whether this replica still leads the run's bucket: asked before signing and before writing, so a replica
    /// that lost its Lease stops (what it pushed is reused by the next leader through the attempt records).
    var stillLeads: @Sendable () async -> Bool = { true }
    var metrics: ControllerMetrics?

    package init(client: KubeAPIClient, service: SigningService, logger: Logger) {
        self.client = client
        self.service = service
        self.logger = logger
    }

    package func reconcile(_ key: RunKey) async -> ReconcileResult {
        let resource = key.resource
        let (namespace, name) = (key.namespace, key.name)
        do {
            guard let json = try await client.get(resource, namespace: namespace, name: name),
                ChainsController.accepts(json, managedBy: service.config.managedBy)
            else { return .done }
            let finalizer = Self.finalizer(resource)
            // Deleted (a namespace going away included): let it go at once, signed or not — never block deletion.
            if json["metadata"]?["deletionTimestamp"] != nil {
                try await setFinalizer(false, finalizer, json, resource: resource, namespace: namespace, name: name)
                return .done
            }
            let run: AnyRun
            do throws(ManifestError) {
                run = try AnyRun(json: json, source: key.description)
            } catch {
                logger.warning("cannot read \(key): \(error)")
                return .done
            }
            switch await service.decide(run) {
            case .skip(.notDone):
                // Held until it is signed: deleting it before then waits for us (and is released at once).
                try await setFinalizer(true, finalizer, json, resource: resource, namespace: namespace, name: name)
                return .done
            case .skip(.alreadyReconciled):
                try await setFinalizer(false, finalizer, json, resource: resource, namespace: namespace, name: name)
                return .done
            case .skip(.childrenUnfinished(let names)):
                // A PipelineRun done before its children (cancelled, timed out): held, and looked at again — the
                // PipelineRun itself may not change when they finish.
                try await setFinalizer(true, finalizer, json, resource: resource, namespace: namespace, name: name)
                logger.info("\(key): waiting for child TaskRuns to finish: \(names.joined(separator: ", "))")
                return .retry
            case .skip(.childrenMissing(let names)):
                logger.info("\(key): waiting for child TaskRuns \(names.joined(separator: ", "))")
                return .retry
            case .skip(.childrenUnavailable(let why)):
                logger.warning("\(key): its children cannot be read: \(why)")
                return .retry
            case .skip:
                return .done
            case .sign(let reason, let children):
                guard await stillLeads() else { return .done }
                let outcome = await service.sign(run, children: children, reason: reason)
                guard await stillLeads() else {
                    logger.warning("\(key): signed, but this replica no longer leads it: left to the new leader")
                    return .done
                }
                let (result, written) = try await write(
                    outcome, resource: resource, namespace: namespace, name: name, key: key)
                metrics?.record(
                    outcome, pipelineRun: resource == .pipelineRuns, markedSigned: outcome.succeeded,
                    completed: ChainsController.completed(json))
                // The patch answered with the run as it is now: no second read to release the finalizer.
                let fresh: JSONValue? =
                    if let written { written } else { try await client.get(resource, namespace: namespace, name: name) }
                if result == .done, let fresh {
                    try await setFinalizer(
                        false, finalizer, fresh, resource: resource, namespace: namespace, name: name)
                }
                return result
            }
        } catch {
            logger.warning("\(key): \(error)")
            return .retry
        }
    }

    /// An Event on the run.
    func event(
        _ type: KubeEvents.Kind, _ reason: String, _ message: String, resource: KubeResource, namespace: String,
        name: String, uid: String
    ) async {
        let kind = resource == .pipelineRuns ? "PipelineRun" : "TaskRun"
        await KubeEvents(client: client, logger: logger).post(
            type, reason, message,
            about: .init(apiVersion: "tekton.dev/v1", kind: kind, namespace: namespace, name: name, uid: uid))
    }

    /// A run's `completionTime` (RFC 3339), read without ICU as every timestamp in untrusted text is.
    static func date(_ text: String) -> Date? { Timestamps.rfc3339(text) }

    /// Chains' finalizer names.
    static func finalizer(_ resource: KubeResource) -> String {
        resource == .pipelineRuns ? "chains.tekton.dev/pipelinerun" : "chains.tekton.dev/taskrun"
    }

    /// Chains' field manager for its finalizer: runs Chains held are released by us with the same apply.
    static let finalizerManager = "tekton-chains-controller/finalizers"

    /// Adds or removes our finalizer by server-side apply, as Chains does (field manager
    /// `tekton-chains-controller/finalizers`, not forced): the list is a set, so other finalizers are untouched and
    /// no version precondition is needed; the run's uid is one (a run deleted and made again is not touched).
    /// A finalizer of ours added by a merge patch (an `Update`, e.g. by Chains before it used apply) is not this
    /// manager's: it is removed with a merge patch conditional on the version read.
    func setFinalizer(
        _ present: Bool, _ finalizer: String, _ object: JSONValue, resource: KubeResource, namespace: String,
        name: String
    ) async throws {
        func finalizers(_ o: JSONValue) -> [String] {
            (o["metadata"]?["finalizers"]?.arrayValue ?? []).compactMap(\.stringValue)
        }
        guard finalizers(object).contains(finalizer) != present else { return }
        let applied: JSONValue = .object([
            "apiVersion": "tekton.dev/v1", "kind": .string(resource == .pipelineRuns ? "PipelineRun" : "TaskRun"),
            "metadata": .object([
                "name": .string(name), "namespace": .string(namespace), "uid": object["metadata"]?["uid"] ?? .null,
                "finalizers": present ? [.string(finalizer)] : [],
            ]),
        ])
        let after = try await client.apply(
            resource, namespace: namespace, name: name, applied, fieldManager: Self.finalizerManager)
        guard !present, finalizers(after).contains(finalizer) else { return }
        let rest = finalizers(after).filter { $0 != finalizer }
        _ = try await client.mergePatch(
            resource, namespace: namespace, name: name,
            .object([
                "metadata": .object([
                    "resourceVersion": after["metadata"]?["resourceVersion"] ?? .null,
                    "finalizers": rest.isEmpty ? .null : .array(rest.map { .string($0) }),
                ])
            ]))
    }

    /// Writes what the outcome asks. A failure that may go away by itself writes no mark: the run is retried
    /// without spending its `retries` (Chains counts every failure, so an outage of seconds can mark runs failed).
    func write(
        _ outcome: RunOutcome, resource: KubeResource, namespace: String, name: String, key: RunKey
    ) async throws -> (ReconcileResult, JSONValue?) {
        var annotations: [String: JSONValue] = [:]
        let patch = outcome.annotations
        for (k, v) in patch.storage.merging(patch.attempts, uniquingKeysWith: { a, _ in a }) {
            annotations[k] = .string(v)
        }
        let retryable = outcome.isRetryable
        if !retryable {
            for (k, v) in patch.mark { annotations[k] = .string(v) }
            for k in patch.remove { annotations[k] = .null }
        }
        var written: JSONValue?
        if !annotations.isEmpty {
            written = try await client.mergePatch(
                resource, namespace: namespace, name: name,
                .object(["metadata": .object(["annotations": .object(annotations)])]),
                fieldManager: "tekton-chains-controller")
        }
        // Setup mistakes found on the way (a Secret whose credentials are in a credential store) and attempt records
        // on the run that were not reused (someone else's, or stale): said on the run, whether or not signing got
        // through.
        var warned: [String] = []
        let found = outcome.diagnostics + outcome.artifacts.flatMap { $0.receipts.flatMap(\.diagnostics) }
        for d in found where d.severity == .warning && !warned.contains(d.message) && warned.count < 5 {
            let reason: String
            switch d.topic {
            case .credentials: reason = "CredentialWarning"
            case .attemptRecord: reason = "AttemptRecordIgnored"
            case nil: continue
            }
            warned.append(d.message)
            logger.warning("\(key): \(d.message)")
            await event(
                .warning, reason, d.message, resource: resource, namespace: namespace, name: name, uid: outcome.uid)
        }
        if outcome.succeeded {
            logger.info("\(key): signed (\(outcome.artifacts.count) artifact(s))")
            await event(
                .normal, "Signed", "signed \(outcome.artifacts.map(\.artifactType.rawValue).joined(separator: ", "))",
                resource: resource, namespace: namespace, name: name, uid: outcome.uid)
            return (.done, written)
        }
        for failure in outcome.failures { logger.warning("\(key): \(failure)") }
        let summary = outcome.failures.map(\.description).joined(separator: "; ")
        if retryable {
            await event(
                .warning, "SigningDeferred", "will retry (a peer may recover; no retry counted): \(summary)",
                resource: resource, namespace: namespace, name: name, uid: outcome.uid)
            return (.retry, written)
        }
        // A real failure: Chains' retry count was written; retry until it says failed.
        let failed = patch.mark[ChainsAnnotations.signed] == "failed"
        await event(
            .warning, failed ? "SigningFailed" : "SigningRetry", summary, resource: resource, namespace: namespace,
            name: name, uid: outcome.uid)
        return (failed ? .done : .retry, written)
    }
}
