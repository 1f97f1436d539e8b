import ChainsConfig
import KubeModels

/// A PipelineRun's child TaskRuns as the cluster view found them by `status.childReferences`.
package struct ChildLookup: Sendable {
    /// The children found, in `childReferences` order.
    package var found: [TaskRun]
    /// Children named in `childReferences` that are not there (or are not TaskRuns, e.g. CustomRuns).
    package var missing: [String]

    package init(found: [TaskRun], missing: [String]) {
        self.found = found
        self.missing = missing
    }
}

/// Why a run is signed now.
package enum SignReason: Sendable, Equatable {
    /// No `chains.tekton.dev/signed` mark yet (or one that is neither `true` nor `failed`).
    case unsigned
    /// Asked for with `--force`.
    case forced
    /// It carries `signed` copied from another run (its storage annotations name other uids, none its own):
    /// a rerun made from an earlier run's manifest. Chains would skip it and leave it unsigned.
    case copiedAnnotations(otherUIDs: [String])
}

/// Why a run is not signed now.
package enum SkipReason: Sendable, Equatable {
    /// The `Succeeded` condition is missing or `Unknown`.
    case notDone(condition: String)
    /// `chains.tekton.dev/signed` is `true` or `failed` (Chains' rule).
    case alreadyReconciled(mark: String)
    /// Child TaskRuns named in `status.childReferences` were not found.
    case childrenMissing([String])
    /// Child TaskRuns that have not finished.
    case childrenUnfinished([String])
    /// The children could not be looked up at all.
    case childrenUnavailable(String)
}

/// The decision for one run: sign now (with the children to describe), or skip with the reason.
package enum SigningDecision: Sendable {
    case sign(SignReason, children: [TaskRun])
    case skip(SkipReason)

    /// The reason when the decision is to skip.
    package var skipReason: SkipReason? {
        if case .skip(let reason) = self { return reason }
        return nil
    }
}

/// The rules that decide whether a run is signed now: a pure function of the run, its annotations, its children's
/// states and the config. The controller and `chains sign` both call it.
package enum SigningRules {
    /// `children` is nil when they were not looked up (a TaskRun; or PipelineRun signing disabled).
    package static func decide(
        _ run: AnyRun, children: ChildLookup?, config: ChainsConfig, force: Bool = false
    ) -> SigningDecision {
        let meta = run.run
        guard meta.isDone else {
            return .skip(.notDone(condition: meta.conditions.first { $0.type == "Succeeded" }?.status ?? "missing"))
        }
        var reason = SignReason.unsigned
        let annotations = meta.metadata.annotations ?? [:]
        if ChainsAnnotations.isReconciled(annotations) {
            let others = copiedFrom(annotations, uid: meta.uid)
            if force {
                reason = .forced
            } else if !others.isEmpty {
                reason = .copiedAnnotations(otherUIDs: others)
            } else {
                return .skip(.alreadyReconciled(mark: annotations[ChainsAnnotations.signed] ?? ""))
            }
        }
        guard let children, needsChildren(run, config: config) else { return .sign(reason, children: []) }
        if !children.missing.isEmpty { return .skip(.childrenMissing(children.missing)) }
        let running = children.found.filter { !$0.isDone }.map(\.displayName)
        if !running.isEmpty { return .skip(.childrenUnfinished(running)) }
        return .sign(reason, children: children.found)
    }

    /// Whether the decision depends on the run's children: a PipelineRun whose own artifact type is enabled.
    package static func needsChildren(_ run: AnyRun, config: ChainsConfig) -> Bool {
        if case .pipelineRun = run { return config.pipelineRun.isEnabled }
        return false
    }

    /// The uids named by `payload-`/`signature-`/`cert-`/`chain-` `taskrun-<uid>` / `pipelinerun-<uid>` keys, when
    /// none of them is `uid`; empty otherwise (no such keys, or one names this run).
    package static func copiedFrom(_ annotations: [String: String], uid: String) -> [String] {
        var uids = Set<String>()
        for key in annotations.keys where key.hasPrefix(ChainsAnnotations.prefix) {
            let rest = key.dropFirst(ChainsAnnotations.prefix.count)
            for kind in ["payload-", "signature-", "cert-", "chain-"] where rest.hasPrefix(kind) {
                let object = rest.dropFirst(kind.count)
                for run in ["taskrun-", "pipelinerun-"] where object.hasPrefix(run) {
                    uids.insert(String(object.dropFirst(run.count)))
                }
            }
        }
        guard !uid.isEmpty, !uids.isEmpty, !uids.contains(uid) else { return [] }
        return uids.sorted()
    }
}
