import ChainsTesting
import Foundation
import KubeClient
import Logging
import Synchronization
import Testing

@testable import Controller

/// A clock the test moves: `now` is where it was advanced to; a sleep resumes once the clock passes its deadline.
final class ManualClock: Sendable {
    let base = ContinuousClock.now
    let state = Mutex<(offset: Duration, sleepers: [(deadline: Duration, wake: CheckedContinuation<Void, Never>)])>(
        (.zero, []))

    var clock: ControllerClock {
        ControllerClock(
            now: { [self] in base + state.withLock { $0.offset } },
            sleep: { [self] duration in
                await withCheckedContinuation { wake in
                    let now = state.withLock { s -> Bool in
                        if duration <= .zero { return true }
                        s.sleepers.append((s.offset + duration, wake))
                        return false
                    }
                    if now { wake.resume() }
                }
            })
    }

    func advance(by duration: Duration) {
        let due = state.withLock { s in
            s.offset += duration
            let due = s.sleepers.filter { $0.deadline <= s.offset }
            s.sleepers.removeAll { $0.deadline <= s.offset }
            return due
        }
        for sleeper in due { sleeper.wake.resume() }
    }

    var sleeping: Int { state.withLock { $0.sleepers.count } }
}

/// Waits (a bounded number of short yields, not a timing check) until `condition` holds for work the test released.
func settle(_ condition: () async -> Bool) async throws -> Bool {
    for _ in 0..<2000 {
        if await condition() { return true }
        try await Task.sleep(for: .milliseconds(1))
    }
    return await condition()
}

@Suite("The work queue on a driven clock: order, dedupe, backoff")
struct WorkQueueTests {
    let a = RunKey(.taskRun, namespace: "team-a", name: "a")
    let b = RunKey(.taskRun, namespace: "team-a", name: "b")
    let c = RunKey(.pipelineRun, namespace: "team-a", name: "c")

    @Test("fresh keys before the backlog; each key at most once; a backlog key that turns fresh is promoted")
    func order() async {
        let queue = WorkQueue()
        await queue.add(a, priority: .backlog)
        await queue.add(b, priority: .backlog)
        await queue.add(c, priority: .fresh)
        await queue.add(c, priority: .fresh)
        await queue.add(b, priority: .fresh)
        #expect(await queue.depth == 3)
        #expect(await queue.next() == c)
        #expect(await queue.next() == b)
        #expect(await queue.next() == a)
    }

    @Test("a key changed while worked on runs again once done; one that did not, does not")
    func dirty() async {
        let queue = WorkQueue()
        await queue.add(a)
        #expect(await queue.next() == a)
        await queue.add(a)
        #expect(await queue.depth == 0, "not queued twice while processing")
        await queue.done(a)
        #expect(await queue.depth == 1)
        #expect(await queue.next() == a)
        await queue.done(a)
        #expect(await queue.depth == 0)
    }

    @Test("retry backs off 1 s, 2 s, 4 s … up to the cap; the key comes back only once the clock passes its delay")
    func backoff() async throws {
        let manual = ManualClock()
        let queue = WorkQueue(
            baseDelay: .seconds(1), maxDelay: .seconds(5), clock: manual.clock, jitter: { 1.0 })
        var delays: [Duration] = []
        for _ in 0..<4 {
            await queue.add(a)
            #expect(await queue.next() == a)
            let delay = await queue.retry(a)
            delays.append(delay)
            try #require(try await settle { manual.sleeping == 1 })
            manual.advance(by: delay - .milliseconds(100))
            #expect(await queue.depth == 0, "back before its delay")
            manual.advance(by: .milliseconds(100))
            try #require(try await settle { await queue.depth == 1 }, "not back after its delay")
            #expect(await queue.next() == a)
            await queue.done(a)
        }
        // done() forgets the failures: 1 s each time here; consecutive retries double up to the cap.
        #expect(delays == [.seconds(1), .seconds(1), .seconds(1), .seconds(1)])
        await queue.add(b)
        var consecutive: [Duration] = []
        for _ in 0..<5 {
            #expect(await queue.next() == b)
            let delay = await queue.retry(b)
            consecutive.append(delay)
            // The retry's sleep must be waiting on the clock before it is moved past it.
            try #require(try await settle { manual.sleeping == 1 })
            manual.advance(by: delay)
            try #require(try await settle { await queue.depth == 1 })
        }
        #expect(consecutive == [.seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5)])
    }

    @Test("a retried backlog key returns to the end of the backlog: keys that keep failing cannot starve the rest")
    func retriesKeepTheirPriority() async throws {
        let manual = ManualClock()
        let queue = WorkQueue(baseDelay: .seconds(1), maxDelay: .seconds(1), clock: manual.clock, jitter: { 1.0 })
        await queue.add(a, priority: .backlog)
        await queue.add(b, priority: .backlog)
        await queue.add(c, priority: .backlog)
        // a fails and comes back while b and c wait: it must queue behind them, not ahead (as it did when every retry
        // came back fresh); a fresh key still goes first.
        #expect(await queue.next() == a)
        await queue.retry(a)
        try #require(try await settle { manual.sleeping == 1 })
        manual.advance(by: .seconds(1))
        try #require(try await settle { await queue.depth == 3 })
        let d = RunKey(.taskRun, namespace: "team-a", name: "d")
        await queue.add(d)
        #expect(await queue.next() == d)
        #expect(await queue.next() == b)
        #expect(await queue.next() == c)
        #expect(await queue.next() == a)
        // A fresh key that fails stays fresh.
        await queue.done(a)
        await queue.done(d)
        await queue.add(d)
        #expect(await queue.next() == d)
        await queue.add(a, priority: .backlog)
        await queue.retry(d)
        try #require(try await settle { manual.sleeping == 1 })
        manual.advance(by: .seconds(1))
        try #require(try await settle { await queue.depth == 2 })
        #expect(await queue.next() == d)
    }

    @Test("jitter is applied to the delay it says: the factor the queue is given")
    func jitter() async {
        let queue = WorkQueue(baseDelay: .seconds(10), clock: ManualClock().clock, jitter: { 0.8 })
        await queue.add(a)
        _ = await queue.next()
        #expect(await queue.retry(a) == .seconds(8))
    }
}

@Suite("Leader election on a driven clock: freshness and expiry without waiting", .serialized)
struct ClockDrivenElectionTests {
    func elector(
        _ api: KubeAPIServer, _ identity: String, _ clock: ManualClock
    ) throws -> (BucketElector, KubeAPIClient) {
        let client = try KubeAPIClient(
            connection: KubeConnection(server: URL(string: api.url)!, token: .none, namespace: "tekton-chains"))
        var settings = LeaderElectionSettings()
        settings.buckets = 1
        (settings.leaseDuration, settings.renewDeadline, settings.retryPeriod) = (
            .seconds(15), .seconds(10), .seconds(2)
        )
        let elector = BucketElector(
            client: client, namespace: "tekton-chains", settings: settings, identity: identity,
            logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }), clock: clock.clock)
        return (elector, client)
    }

    @Test(
        "a lead is good for renew-deadline after its renewal was sent; another replica takes it only after lease-duration"
    )
    func freshnessAndExpiry() async throws {
        let api = try await KubeAPIServer()
        defer { Task { await api.stop() } }
        let clockA = ManualClock()
        let clockB = ManualClock()
        let (a, clientA) = try elector(api, "replica-a", clockA)
        let (b, clientB) = try elector(api, "replica-b", clockB)
        defer {
            Task {
                await clientA.shutdown()
                await clientB.shutdown()
            }
        }
        let key = RunKey(.taskRun, namespace: "team-a", name: "x")
        await a.round()
        #expect(await a.begin(key))
        await a.end(key)
        // Ten seconds on A's clock with no renewal: A turns work away (it may no longer lead).
        clockA.advance(by: .seconds(9))
        #expect(await a.leads(key))
        clockA.advance(by: .seconds(1))
        let leadsA = await a.leads(key)
        let beganA = await a.begin(key)
        #expect(!leadsA && !beganA)
        // B sees A's Lease and does not take it while it is younger than lease-duration on B's clock.
        await b.round()
        #expect(await !b.leads(key))
        clockB.advance(by: .seconds(14))
        await b.round()
        #expect(await !b.leads(key), "taken before lease-duration")
        clockB.advance(by: .seconds(2))
        await b.round()
        #expect(await b.leads(key), "not taken after lease-duration")
        // A renews (its Lease was taken): it does not lead again.
        await a.round()
        #expect(await !a.leads(key))
    }
}
