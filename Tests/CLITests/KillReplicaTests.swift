import ChainsTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension CLITests {
    /// Two `chains controller` processes share the runs through Leases; at seeded random moments one is killed with
    /// SIGKILL (mid-push, mid-patch, wherever it is) and started again — as the same Pod (a container restart: it
    /// takes its own Leases back at once) or as a new one (the dead one's Leases must expire first). At the end every
    /// run is signed once: one `.sig` and one `.att` layer per image, one Rekor entry per artifact.
    @Test("replicas killed at random points while signing (seed 8): every run signed exactly once")
    func killReplicas() async throws {
        let fleet = try await ControllerFleet(
            binary: try Self.binary(), transparency: true, latency: .milliseconds(25),
            flags: [
                "--lease-duration", "2s", "--renew-deadline", "1500ms", "--retry-period", "200ms", "--buckets", "4",
            ])
        do {
            try await killReplicas(fleet)
        } catch {
            await fleet.shutdown()
            throw error
        }
    }

    /// The test's size; `scripts/crash-test.sh` runs it at 1,000 runs: CHAINS_KILL_RUNS (40), CHAINS_KILL_KILLS
    /// (10), CHAINS_KILL_SEED (8), CHAINS_KILL_GAP_MS (700: the longest wait between kills).
    static func killSetting(_ name: String, _ fallback: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap(Int.init) ?? fallback
    }

    func killReplicas(_ fleet: ControllerFleet) async throws {
        let (count, maxKills) = (Self.killSetting("CHAINS_KILL_RUNS", 40), Self.killSetting("CHAINS_KILL_KILLS", 10))
        let gap = max(Self.killSetting("CHAINS_KILL_GAP_MS", 700), 200)
        let started = ContinuousClock.now
        let runs = try await fleet.addRuns(count)
        try fleet.start("replica-0")
        try fleet.start("replica-1")
        var random = SeededRandom(seed: UInt64(Self.killSetting("CHAINS_KILL_SEED", 8)))
        var kills = 0
        var generation = 0
        let deadline = ContinuousClock.now + .seconds(max(150, count))
        while !runs.allSatisfy({ fleet.isSigned($0.name) }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(Int.random(in: 150...gap, using: &random)))
            guard kills < maxKills, let victim = fleet.running.randomElement(using: &random) else { continue }
            await fleet.stop(victim, signal: SIGKILL)
            kills += 1
            if Bool.random(using: &random) {
                try fleet.start(victim)
            } else {
                generation += 1
                try fleet.start("replica-new-\(generation)")
            }
        }
        var problems: [String] = []
        for (name, digest) in runs {
            if !fleet.isSigned(name) { problems.append("\(name) not signed") }
            let sig = try await fleet.layerCount(digest: digest, suffix: "sig")
            let att = try await fleet.layerCount(digest: digest, suffix: "att")
            if sig != 1 || att != 1 { problems.append("\(name): \(sig) .sig and \(att) .att layers") }
            if fleet.annotations(name).keys.contains(where: { $0.hasPrefix("chains-in-swift.dev/attempt-") }) {
                problems.append("\(name): attempt records left on the run")
            }
        }
        let rekor = try #require(fleet.rekor)
        let logs = fleet.running.map { fleet.log($0) }.joined(separator: "\n")
        await fleet.shutdown()
        let elapsed = ContinuousClock.now - started
        print(
            "kill test: \(runs.count) runs, \(kills) SIGKILLs (\(generation) as a new Pod), \(elapsed), "
                + "\(rekor.entryCount) Rekor entries (\(rekor.stats.conflicts) 409s), problems: \(problems.count)")
        #expect(kills >= min(5, maxKills), "the runs were signed before enough kills: \(kills)")
        #expect(problems.isEmpty, "\(problems)\n\(logs.suffix(4000))")
        #expect(rekor.entryCount == 2 * runs.count, "Rekor entries: \(rekor.entryCount) for \(runs.count) runs")
        #expect(rekor.stats.created == rekor.entryCount)
        #expect(!logs.contains("fleet"), "the API token appeared in a log")
    }
}

extension CLITests {
    /// The peers fail under a running controller: the API server answers 503 and drops every watch, the registry
    /// refuses manifest writes for a while. Every run still ends signed once, and nothing is counted as a retry.
    @Test("API 5xx, dropped watches, registry down then back: every run signed once, no retries spent")
    func peersFail() async throws {
        let fleet = try await ControllerFleet(binary: try Self.binary(), transparency: true)
        do {
            try await peersFail(fleet)
        } catch {
            await fleet.shutdown()
            throw error
        }
    }

    func peersFail(_ fleet: ControllerFleet) async throws {
        let first = try await fleet.addRuns(10)
        // The registry is down for the first manifest writes: the attempts are deferred, not failed.
        fleet.proxy.fail("/manifests/", method: "PUT", status: 503, count: 12)
        try fleet.start("replica-0")
        try await Task.sleep(for: .seconds(1))
        // The API server fails and drops the watches; runs keep arriving meanwhile.
        fleet.api.fail(status: 503, count: 20)
        fleet.api.dropWatches()
        let second = try await fleet.addRuns(10, first: 10)
        fleet.api.fail(status: 500, count: 10)
        fleet.api.dropWatches()
        let runs = first + second
        let deadline = ContinuousClock.now + .seconds(120)
        while !runs.allSatisfy({ fleet.isSigned($0.name) }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
        }
        var problems: [String] = []
        for (name, digest) in runs {
            let annotations = fleet.annotations(name)
            if annotations["chains.tekton.dev/signed"] != "true" { problems.append("\(name) not signed") }
            if annotations["chains.tekton.dev/retries"] != nil { problems.append("\(name): a retry was spent") }
            let sig = try await fleet.layerCount(digest: digest, suffix: "sig")
            let att = try await fleet.layerCount(digest: digest, suffix: "att")
            if sig != 1 || att != 1 { problems.append("\(name): \(sig) .sig and \(att) .att layers") }
        }
        let log = fleet.log("replica-0")
        let rekor = try #require(fleet.rekor)
        let entries = rekor.entryCount
        await fleet.shutdown()
        #expect(problems.isEmpty, "\(problems)\n\(log.suffix(3000))")
        #expect(entries == 2 * runs.count)
        #expect(log.contains("503"), "the registry's refusals were not seen")
    }
}
