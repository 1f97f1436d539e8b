import ChainsCore
import ChainsTesting
import Foundation
import KubeClient
import KubeModels
import Logging
import Synchronization
import Testing

@testable import Controller

@Suite("leader election settings")
struct LeaderElectionSettingsTests {
    @Test("Chains' ConfigMap keys, their camelCase forms, defaults; bad values name the key")
    func parse() throws {
        let defaults = try LeaderElectionSettings.parse(["_example": "…"])
        #expect(defaults.leaseDuration == .seconds(60) && defaults.renewDeadline == .seconds(40))
        #expect(defaults.retryPeriod == .seconds(10) && defaults.buckets == 1)
        let set = try LeaderElectionSettings.parse([
            "lease-duration": "15s", "renewDeadline": "10s", "retry-period": "500ms", "buckets": "4",
        ])
        #expect(set.leaseDuration == .seconds(15) && set.renewDeadline == .seconds(10))
        #expect(set.retryPeriod == .milliseconds(500) && set.buckets == 4)
        #expect(try LeaderElectionSettings.parse(["lease-duration": "1m30s"]).leaseDuration == .seconds(90))
        for (data, key) in [
            (["buckets": "11"], "buckets"), (["buckets": "0"], "buckets"),
            (["lease-duration": "soon"], "lease-duration"),
            (["renew-deadline": "90s"], "renew-deadline"), (["retry-period": "45s"], "retry-period"),
        ] {
            #expect {
                try LeaderElectionSettings.parse(data)
            } throws: { ($0 as? LeaderElectionError)?.key == key }
        }
    }

    @Test("identity: POD_NAME, else the host name with a random suffix (two replicas on one host differ)")
    func identity() {
        #expect(
            LeaderElectionSettings.identity(environment: ["POD_NAME": "tekton-chains-controller-7d9f-abcde"])
                == "tekton-chains-controller-7d9f-abcde")
        let a = LeaderElectionSettings.identity(environment: [:])
        let b = LeaderElectionSettings.identity(environment: [:])
        #expect(a != b && a.hasPrefix(ProcessInfo.processInfo.hostName.lowercased().prefix(5)))
    }

    @Test("MicroTime has exactly six fractional digits, as the API server parses it")
    func microTime() {
        let text = BucketElector.microTime(Date(timeIntervalSince1970: 1_764_633_600.25))
        #expect(text == "2025-12-02T00:00:00.250000Z")
    }
}

extension ControllerTests {
    func fastElection(_ identity: String, buckets: Int) -> (inout ControllerOptions) -> Void {
        { options in
            options.identity = identity
            options.buckets = buckets
            options.leaseDuration = .seconds(2)
            options.renewDeadline = .milliseconds(1500)
            options.retryPeriod = .milliseconds(150)
        }
    }

    /// An elector of its own (no controller) on the API server at `url`: lease duration, renew deadline, retry period.
    func bareElector(
        _ url: String, identity: String, buckets: Int, timing: (Duration, Duration, Duration)
    ) throws -> (BucketElector, KubeAPIClient) {
        let client = try KubeAPIClient(
            connection: KubeConnection(server: URL(string: url)!, token: .none, namespace: "tekton-chains"))
        var settings = LeaderElectionSettings()
        settings.buckets = buckets
        (settings.leaseDuration, settings.renewDeadline, settings.retryPeriod) = timing
        let elector = BucketElector(
            client: client, namespace: "tekton-chains", settings: settings, identity: identity,
            logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        return (elector, client)
    }

    func signedEvents(_ api: KubeAPIServer) -> [String: Int] {
        var counts: [String: Int] = [:]
        for e in api.objects(.events) where e["reason"]?.stringValue == "Signed" {
            counts[e["involvedObject"]?["name"]?.stringValue ?? "", default: 0] += 1
        }
        return counts
    }

    @Test("three replicas over six buckets: two each; every run signed once; one stops and hands its buckets over")
    func replicasShareBuckets() async throws {
        let api = try await KubeAPIServer()
        defer { Task { await api.stop() } }
        let names = (0..<24).map { "run-\($0)" }
        for (i, name) in names.enumerated() { api.put(try kaniko(name: name, uid: uid(100 + i)), as: .taskRuns) }
        var replicas: [Running] = []
        for r in ["replica-a", "replica-b", "replica-c"] {
            replicas.append(
                try await startController(
                    api, namespace: "team-a", threads: 2, election: fastElection(r, buckets: 6)))
        }
        defer { for r in replicas { r.stop() } }
        try await waitUntil("all signed") {
            names.allSatisfy { annotations(api, $0)["chains.tekton.dev/signed"] == "true" }
        }
        try await waitUntil("a fair share each") {
            var led: [Int] = []
            for r in replicas { led.append(contentsOf: r.running.elector.ledNow) }
            return led.count == 6 && Set(led).count == 6
                && replicas.allSatisfy { $0.running.elector.ledNow.count == 2 }
        }
        let leases = api.objects(.leases).compactMap { $0["metadata"]?["name"]?.stringValue }
        #expect(Set(leases).isSuperset(of: (0..<6).map { String(format: "chains-in-swift.%02d-of-06", $0) }))
        #expect(leases.filter { $0.hasPrefix("chains-in-swift.member.") }.count == 3)

        // The first runs' Signed Events are posted after their patches; a replica stopped before its Event is out
        // drops it (Events are best effort), so they are waited for before one stops. Under load (a CI run beside a
        // full suite) one was still on its way when the replica was cancelled.
        try await waitUntil("the first runs' Signed events") {
            let counts = signedEvents(api)
            return names.allSatisfy { counts[$0, default: 0] >= 1 }
        }

        // One stops (SIGTERM): its buckets are handed back at once, the other two take them, new runs are signed.
        let stopping = replicas.removeFirst()
        stopping.task.cancel()
        await stopping.task.value
        let lease = api.objects(.leases).first { $0["metadata"]?["name"] == "chains-in-swift.member.replica-a" }
        #expect(lease == nil, "the member Lease is deleted on stop")
        try await waitUntil("all six buckets led by the other two") {
            replicas.reduce(0) { $0 + $1.running.elector.ledNow.count } == 6
        }
        let later = (0..<12).map { "later-\($0)" }
        for (i, name) in later.enumerated() { api.put(try kaniko(name: name, uid: uid(200 + i)), as: .taskRuns) }
        try await waitUntil(
            "the later ones signed",
            state: {
                later.filter { annotations(api, $0)["chains.tekton.dev/signed"] != "true" }.map { name in
                    "\(name): \(annotations(api, name).filter { $0.key.hasPrefix("chains") }.keys.sorted())"
                }.joined(separator: "; ")
            }
        ) {
            later.allSatisfy { annotations(api, $0)["chains.tekton.dev/signed"] == "true" }
        }
        // Each run's Signed Event follows its patch; under load it may come seconds later (once, a full run under
        // stress -c 2 beside other builds checked after 300 ms and missed one). Wait for all, then for stragglers.
        try await waitUntil(
            "every run's Signed event",
            state: {
                let counts = signedEvents(api)
                return (names + later).filter { counts[$0, default: 0] == 0 }.map { name in
                    "\(name): \(annotations(api, name).filter { $0.key.hasPrefix("chains") }.keys.sorted())"
                }.joined(separator: "; ")
            }
        ) {
            let counts = signedEvents(api)
            return (names + later).allSatisfy { counts[$0, default: 0] >= 1 }
        }
        try await Task.sleep(for: .milliseconds(500))
        let counts = signedEvents(api)
        #expect((names + later).allSatisfy { counts[$0] == 1 }, "each run signed exactly once: \(counts)")
    }

    @Test("a renewal whose answer comes after the renew deadline: work turned away meanwhile is queued again")
    func lateRenewal() async throws {
        let api = try await KubeAPIServer()
        defer { Task { await api.stop() } }
        let proxy = try await FaultProxy(upstream: String(api.url.dropFirst("http://".count)))
        defer { Task { await proxy.stop() } }
        let (elector, client) = try bareElector(
            proxy.url, identity: "slow", buckets: 1, timing: (.seconds(10), .seconds(1), .milliseconds(100)))
        defer { Task { await client.shutdown() } }
        final class Count: Sendable { let n = Mutex(0) }
        let count = Count()
        await elector.setOnAcquire { _ in count.n.withLock { $0 += 1 } }
        await elector.round()
        #expect(count.n.withLock { $0 } == 1)
        let began = await elector.begin(RunKey(.taskRun, namespace: "team-a", name: "x"))
        #expect(began)
        await elector.end(RunKey(.taskRun, namespace: "team-a", name: "x"))

        // Renewed while still fresh, but its answer trickles in for about 2 s: meanwhile the Lease looks stale
        // and work is turned away (the run is dropped from the queue, as `work()` does).
        try await Task.sleep(for: .milliseconds(300))
        proxy.inject(.slowBody(chunk: 20, pause: .milliseconds(100)), method: "PUT", path: "chains-in-swift.00-of-01")
        let renewing = Task { await elector.round() }
        try await Task.sleep(for: .milliseconds(1100))
        let turnedAway = await !elector.begin(RunKey(.taskRun, namespace: "team-a", name: "x"))
        #expect(turnedAway, "stale 1.4 s after the last renewal was sent")
        await renewing.value
        #expect(proxy.seen.contains { $0.faulted }, "the renewal went through the slow answer")
        #expect(count.n.withLock { $0 } == 2, "the bucket's runs are queued again once the renewal is through")
        await elector.round()
        let beganAgain = await elector.begin(RunKey(.taskRun, namespace: "team-a", name: "x"))
        #expect(beganAgain)
    }

    @Test("a replica that died holding every bucket: they are taken over only once its Leases expire")
    func deadReplica() async throws {
        let api = try await KubeAPIServer()
        defer { Task { await api.stop() } }
        // The dead one: took both buckets, then stopped renewing without handing them back (SIGKILL).
        let (ghost, client) = try bareElector(
            api.url, identity: "ghost", buckets: 2, timing: (.seconds(2), .milliseconds(1500), .milliseconds(150)))
        await ghost.round()
        #expect(await ghost.led == [0, 1])
        await client.shutdown()

        api.put(try kaniko(name: "waiting", uid: uid(300)), as: .taskRuns)
        let started = ContinuousClock.now
        let running = try await startController(
            api, namespace: "team-a", threads: 1, election: fastElection("survivor", buckets: 2))
        defer { running.stop() }
        try await waitUntil("signed by the survivor") {
            annotations(api, "waiting")["chains.tekton.dev/signed"] == "true"
        }
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(1900), "the ghost's Leases were taken before they expired: \(waited)")
        let holders = api.objects(.leases).filter { $0["metadata"]?["name"]?.stringValue?.contains("-of-") == true }
            .map { $0["spec"]?["holderIdentity"]?.stringValue }
        #expect(holders == ["survivor", "survivor"])
        #expect(
            api.objects(.leases).allSatisfy {
                ($0["spec"]?["leaseTransitions"]).map { $0 == .number(1) || $0 == .number(0) } ?? true
            })
    }
}
