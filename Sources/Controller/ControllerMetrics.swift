import ChainsCore
import Foundation
import Metrics
import Prometheus

/// What `/metrics` shows: Tekton Chains' counters under their names (`watcher_taskrun_sign_created_total`, …,
/// `…_signing_failures_total{error_type}`, the pipelinerun ones), plus ours — queue depth, the age of the oldest
/// finished run not yet signed, done→signed latency, reconciles by result, buckets led, configuration generation.
/// Through swift-metrics with a Prometheus factory of its own (no process-wide bootstrap, so tests can make many).
package final class ControllerMetrics: Sendable {
    package let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory

    package init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let latency: [Duration] = [
            .milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(500), .seconds(1), .seconds(2),
            .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(1800), .seconds(3600),
        ]
        factory.durationHistogramBuckets["chains_done_to_signed_seconds"] = latency
        factory.durationHistogramBuckets["chains_reconcile_seconds"] = latency
        self.factory = factory
    }

    func counter(_ name: String, _ dimensions: [(String, String)] = []) -> Metrics.Counter {
        Metrics.Counter(label: name, dimensions: dimensions, factory: factory)
    }

    func gauge(_ name: String) -> Metrics.Gauge { Metrics.Gauge(label: name, factory: factory) }

    /// One reconcile's outcome, counted as Chains counts it. `completed`: the run's `status.completionTime`.
    func record(_ outcome: RunOutcome, pipelineRun: Bool, markedSigned: Bool, completed: Date?) {
        let prefix = pipelineRun ? "watcher_pipelinerun_" : "watcher_taskrun_"
        let made = outcome.artifacts.filter { !$0.reused }.count
        if made > 0 { counter(prefix + "sign_created_total").increment(by: made) }
        let logged = outcome.artifacts.filter { $0.transparency != nil }.count
        if logged > 0 { counter(prefix + "payload_uploaded_total").increment(by: logged) }
        let stored = outcome.artifacts.reduce(0) { $0 + $1.receipts.count }
        if stored > 0 { counter(prefix + "payload_stored_total").increment(by: stored) }
        for failure in outcome.failures {
            counter(prefix + "signing_failures_total", [("error_type", failure.stage.rawValue)]).increment()
        }
        guard markedSigned else { return }
        counter(prefix + "marked_signed_total").increment()
        if let completed {
            let seconds = max(0, Date().timeIntervalSince(completed))
            Metrics.Timer(label: "chains_done_to_signed_seconds", factory: factory)
                .recordNanoseconds(Int64(seconds * 1e9))
        }
    }

    func reconciled(_ result: ReconcileResult, took: Duration) {
        counter("chains_reconciles_total", [("result", result == .done ? "done" : "retry")]).increment()
        Metrics.Timer(label: "chains_reconcile_seconds", factory: factory).record(duration: took)
    }

    /// The gauges, refreshed by the controller every second.
    func state(queueDepth: Int, oldestUnsigned: TimeInterval, bucketsLed: Int, generation: Int, known: Int) {
        gauge("chains_queue_depth").record(queueDepth)
        gauge("chains_oldest_unsigned_seconds").record(oldestUnsigned)
        gauge("chains_buckets_led").record(bucketsLed)
        gauge("chains_config_generation").record(generation)
        gauge("chains_runs_waiting").record(known)
    }

    /// The Prometheus text exposition.
    package func exposition() -> String { registry.emitToString() }
}
