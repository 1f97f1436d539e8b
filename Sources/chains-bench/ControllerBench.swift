import ChainsTesting
import Foundation

/// `chains-bench --controller N [--replicas R] [--latency MS] [--idle K]`: N finished TaskRuns (one image each) in
/// the in-process API server, signed by R `chains controller` processes with a key and pushed (.sig and .att) to the
/// real registry behind a proxy that adds MS of waiting per request. Prints runs/s, done→signed percentiles, each
/// replica's peak RSS and runs signed, API requests per run; with K, first K runs one at a time (idle latency).
/// `--also-gcs` / `--also-mongo`: both artifact types stored in oci and gcs (fake-gcs-server, the emulator) or in
/// oci and docdb on mongo:// (the MongoDB simulator, SCRAM-SHA-256), on loopback.
struct BenchStorage {
    var label: String
    var config: [String: String]
    var environment: [String: String]

    static func gcs(_ server: FakeGCSServer) -> BenchStorage {
        BenchStorage(
            label: "oci,gcs",
            config: [
                "artifacts.taskrun.storage": "oci,gcs", "artifacts.oci.storage": "oci,gcs",
                "storage.gcs.bucket": "bench",
            ], environment: ["STORAGE_EMULATOR_HOST": server.host])
    }

    static func mongo(_ server: MongoSimulator) -> BenchStorage {
        BenchStorage(
            label: "oci,docdb (mongo://)",
            config: [
                "artifacts.taskrun.storage": "oci,docdb", "artifacts.oci.storage": "oci,docdb",
                "storage.docdb.url": "mongo://bench/attestations?id_field=name",
            ], environment: ["MONGO_SERVER_URL": server.url])
    }
}

func controllerBench(
    chains: String, runs: Int, replicas: Int, latencyMilliseconds: Int, idle: Int, qps: Int,
    also: BenchStorage? = nil
) async throws {
    let fleet = try await ControllerFleet(
        binary: chains, transparency: false, latency: .milliseconds(latencyMilliseconds), threads: 4,
        flags: [
            "--lease-duration", "15s", "--renew-deadline", "10s", "--retry-period", "2s", "--buckets",
            String(max(1, min(10, replicas * 2))), "--kube-api-qps", String(qps), "--kube-api-burst", String(qps),
        ],
        config: also?.config ?? [:], environment: also?.environment ?? [:])
    fleet.proxy.setRecording(false)
    do {
        // The backlog first, as when the controller is turned on over runs that finished before.
        let seeded = Date()
        let added = try await fleet.addRuns(runs)
        out(
            String(
                format: "%d runs seeded in %.1f s (registry + API server; not counted)", runs,
                Date().timeIntervalSince(seeded)))
        let requestsBefore = fleet.api.stats.total
        let byResourceBefore = fleet.api.stats.byResource
        let names = (0..<replicas).map { "replica-\($0)" }
        let start = Date()
        for name in names { try fleet.start(name) }
        var pending = Set(added.map(\.name))
        var latencies: [Double] = []
        while !pending.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            let now = Date().timeIntervalSince(start)
            for name in pending where fleet.isSigned(name) {
                pending.remove(name)
                latencies.append(now)
            }
            if now > 3600 { break }
        }
        let elapsed = Date().timeIntervalSince(start)
        let requests = fleet.api.stats.total - requestsBefore
        let signed = runs - pending.count
        out(
            "storage \(also?.label ?? "oci"): "
                + String(
                    format: "%d replica(s), registry latency %d ms: %d runs in %.1f s from start = %.1f runs/s",
                    replicas, latencyMilliseconds, signed, elapsed, Double(signed) / elapsed))
        out(
            String(
                format: "backlog: signed after start p50 %.1f s, p99 %.1f s (start-up, listing and Leases included)",
                percentile(latencies, 0.5), percentile(latencies, 0.99)))
        out(
            String(
                format: "API requests per run: %.2f (Lease renewals and lists included)",
                Double(requests) / Double(max(runs, 1))))
        out("  per run: " + perRun(fleet.api.stats.byResource, since: byResourceBefore, runs: runs))
        if idle > 0 {
            var idleLatencies: [Double] = []
            for i in 0..<idle {
                let name = try await fleet.addRuns(1, first: 1_000_000 + i)[0].name
                let put = Date()  // the run is put in the API server as addRuns returns
                while !fleet.isSigned(name) { try await Task.sleep(for: .milliseconds(5)) }
                idleLatencies.append(Date().timeIntervalSince(put))
                try await Task.sleep(for: .milliseconds(100))
            }
            out(
                String(
                    format: "idle: %d runs one at a time, done→signed p50 %.0f ms, p99 %.0f ms",
                    idle, percentile(idleLatencies, 0.5) * 1000, percentile(idleLatencies, 0.99) * 1000))
        }
        replicaLines(fleet, names)
    } catch {
        await fleet.shutdown()
        throw error
    }
    let stopping = Date()
    await fleet.shutdown()
    out(String(format: "shut down in %.1f s", Date().timeIntervalSince(stopping)))
}

/// Each replica's runs signed, peak RSS and CPU.
func replicaLines(_ fleet: ControllerFleet, _ names: [String]) {
    for name in names {
        let count = fleet.log(name).components(separatedBy: "signed (").count - 1
        let rss = fleet.peakRSS(name).map { String(format: "%.1f MiB", Double($0) / 1_048_576) } ?? "?"
        let cpu =
            fleet.cpuSeconds(name).map {
                String(format: "%.2f s CPU (%.2f ms per run)", $0, $0 * 1000 / Double(max(count, 1)))
            } ?? "?"
        out("  \(name): signed \(count) runs, peak RSS \(rss), \(cpu)")
    }
}

/// Requests by verb and resource since `before`, per run, most frequent first.
func perRun(_ now: [String: Int], since before: [String: Int], runs: Int) -> String {
    now.map { ($0.key, $0.value - (before[$0.key] ?? 0)) }.filter { $0.1 > 0 }.sorted { $0.1 > $1.1 }
        .map { String(format: "%@ %.2f", $0.0, Double($0.1) / Double(max(runs, 1))) }.joined(separator: ", ")
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
}

/// Unbuffered, so the figures reach a file as they are measured.
func out(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
