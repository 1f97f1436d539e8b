import Foundation

/// The controller's work queue: each key at most once (a key changed while it is being worked on runs again after),
/// newly finished runs before the backlog found at start-up (turning Chains on over thousands of old runs must not
/// starve new ones, tektoncd/chains#979), and per-key exponential backoff with jitter for retries. A retried key
/// comes back with its own priority: a backlog run that keeps failing (a peer down) returns to the end of the
/// backlog, so it cannot starve the backlog runs behind it — as every retry once came back fresh, twenty runs found
/// at start-up with a timestamp authority down left two never tried while the rest took turns.
package actor WorkQueue {
    package enum Priority: Sendable { case fresh, backlog }

    var fresh: [RunKey] = []
    var backlog: [RunKey] = []
    var queued: Set<RunKey> = []
    var processing: Set<RunKey> = []
    /// Changed while processing: queued again when done.
    var dirty: [RunKey: Priority] = [:]
    var failures: [RunKey: Int] = [:]
    /// Each key's priority as last added (fresh wins), for its retries.
    var priorities: [RunKey: Priority] = [:]
    var waiters: [CheckedContinuation<RunKey?, Never>] = []
    var shuttingDown = false
    let baseDelay: Duration
    let maxDelay: Duration
    let clock: ControllerClock
    let jitter: @Sendable () -> Double

    /// `jitter` gives the factor each backoff is multiplied by (default: uniform in 0.8…1.2).
    package init(
        baseDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(300), clock: ControllerClock = .continuous,
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0.8...1.2) }
    ) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.clock = clock
        self.jitter = jitter
    }

    package func add(_ key: RunKey, priority: Priority = .fresh) {
        guard !shuttingDown else { return }
        if priority == .fresh || priorities[key] == nil { priorities[key] = priority }
        if processing.contains(key) {
            dirty[key] = priority == .fresh ? .fresh : (dirty[key] ?? .backlog)
            return
        }
        guard !queued.contains(key) else {
            // Promote a backlog key that became fresh.
            if priority == .fresh, let i = backlog.firstIndex(of: key) {
                backlog.remove(at: i)
                fresh.append(key)
            }
            return
        }
        queued.insert(key)
        if let waiter = waiters.first {
            waiters.removeFirst()
            queued.remove(key)
            processing.insert(key)
            waiter.resume(returning: key)
            return
        }
        if priority == .fresh { fresh.append(key) } else { backlog.append(key) }
    }

    /// The next key to work on (fresh first), waiting for one; nil once shut down.
    package func next() async -> RunKey? {
        if let key = take() { return key }
        if shuttingDown { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    func take() -> RunKey? {
        let key: RunKey
        if !fresh.isEmpty {
            key = fresh.removeFirst()
        } else if !backlog.isEmpty {
            key = backlog.removeFirst()
        } else {
            return nil
        }
        queued.remove(key)
        processing.insert(key)
        return key
    }

    /// Work on `key` finished: it is forgotten (its backoff reset), or queued again if it changed meanwhile.
    package func done(_ key: RunKey) {
        processing.remove(key)
        failures[key] = nil
        priorities[key] = nil
        if let again = dirty.removeValue(forKey: key) { add(key, priority: again) }
    }

    /// Work on `key` should be tried again later: after 1 s, 2 s, 4 s … up to 5 min, ±20 % jitter.
    @discardableResult
    package func retry(_ key: RunKey) -> Duration {
        processing.remove(key)
        dirty[key] = nil
        let n = failures[key, default: 0]
        failures[key] = n + 1
        let exponential = baseDelay * Int(min(pow(2, Double(n)), 1e6))
        let delay = min(exponential, maxDelay) * jitter()
        let clock = self.clock
        let priority = priorities[key] ?? .fresh
        Task {
            try? await clock.sleep(delay)
            self.add(key, priority: priority)
        }
        return delay
    }

    package var depth: Int { fresh.count + backlog.count }

    package func shutDown() {
        shuttingDown = true
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters = []
    }
}
