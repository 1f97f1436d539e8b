import ChainsTesting
import Foundation
import Logging
import Testing

@testable import Controller

@Suite("metrics and health server")
struct HealthServerTests {
    @Test("cancelled amid arriving connections, 20 times: run() returns and nothing traps")
    func stopAmidConnections() async throws {
        for _ in 0..<20 {
            let server = HealthServer(
                host: "127.0.0.1", port: 0, metrics: ControllerMetrics(),
                logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }), ready: { true })
            let running = Task { try await server.run() }
            var port: Int?
            for _ in 0..<400 where port == nil {
                port = server.boundPort
                if port == nil { try await Task.sleep(for: .milliseconds(5)) }
            }
            let bound = try #require(port)
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<16 {
                    group.addTask { await pokeTCP(port: bound, sending: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") }
                }
                group.addTask { running.cancel() }
            }
            // Returns (a hang here would be the test's failure), by cancellation or by the closed channel.
            _ = try? await running.value
        }
    }
}
