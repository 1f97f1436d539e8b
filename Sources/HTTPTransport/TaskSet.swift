import Synchronization

/// Tasks started one at a time — one per accepted connection of a server — each forgotten when it ends, so that
/// `cancelAll()` can end those still running (and any started after it, which start cancelled).
///
/// Why servers here hand each connection to a task of its own from the child channel's initializer instead of
/// reading connections from NIO's async server channel: a connection accepted while the serving loop is being
/// cancelled stays in that channel's buffer and is dropped unread, and dropping an unserved `NIOAsyncChannel` traps
/// ("Deinited NIOAsyncWriter without calling finish()", apple/swift-nio#2813) — it crashed the test process once.
/// Started at once, every connection is served and closed by `executeThenClose`.
package final class TaskSet: Sendable {
    let state = Mutex<(next: Int, running: [Int: Task<Void, Never>], cancelled: Bool)>((0, [:], false))

    package init() {}

    package func start(_ body: @escaping @Sendable () async -> Void) {
        state.withLock { state in
            let id = state.next
            state.next += 1
            let task = Task {
                await body()
                self.state.withLock { _ = $0.running.removeValue(forKey: id) }
            }
            if state.cancelled { task.cancel() }
            state.running[id] = task
        }
    }

    /// How many are running.
    package var count: Int { state.withLock { $0.running.count } }

    package func cancelAll() {
        let running = state.withLock { state in
            state.cancelled = true
            return Array(state.running.values)
        }
        for task in running { task.cancel() }
    }
}
