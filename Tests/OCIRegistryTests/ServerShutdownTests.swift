import ChainsTesting
import Foundation
import HTTPTransport
import Synchronization
import Testing

/// The servers here (test peers, the controller's health server) hand each accepted connection to a task of its
/// own; connections arriving while a server stops are served or closed, never dropped unserved (which traps).
@Suite("servers stopping while connections arrive")
struct ServerShutdownTests {
    @Test("a test server stopped amid 16 arriving connections, 40 times: nothing traps")
    func stopAmidConnections() async throws {
        for _ in 0..<40 {
            let server = try await TestHTTPServer { _ in ServedResponse(status: 200, body: Data("ok".utf8)) }
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<16 {
                    group.addTask { await pokeTCP(port: server.port, sending: "GET / HTTP/1.1\r\nHost: x\r\n\r\n") }
                }
                group.addTask { await server.stop() }
            }
        }
    }

    @Test("TaskSet: finished tasks are forgotten; cancelAll ends those running and cancels any started later")
    func taskSet() async throws {
        let set = TaskSet()
        for _ in 0..<3 { set.start { while !Task.isCancelled { try? await Task.sleep(for: .seconds(60)) } } }
        set.start {}
        var waited = 0
        while set.count != 3 && waited < 200 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        #expect(set.count == 3, "the finished one is forgotten, the three sleepers run")
        set.cancelAll()
        final class Flag: Sendable { let value = Mutex(false) }
        let late = Flag()
        set.start { late.value.withLock { $0 = Task.isCancelled } }
        waited = 0
        while set.count != 0 && waited < 500 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        #expect(set.count == 0, "every task ended")
        #expect(late.value.withLock { $0 }, "a task started after cancelAll starts cancelled")
    }
}
