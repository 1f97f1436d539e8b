import ChainsTesting
import Foundation
import HTTPTransport
import Testing

/// Peers that never stop sending: the transport stops reading at its limits and names the peer.
@Suite("answers without end")
struct OversizeTests {
    /// A server whose every answer is a 200 whose body goes on for ever, `chunk` bytes every `pause`.
    func endlessServer(chunk: Int, pause: Duration?) async throws -> TestHTTPServer {
        try await TestHTTPServer { _ in
            let piece = Data(repeating: UInt8(ascii: "x"), count: chunk)
            let stream = AsyncStream<Data> {
                if let pause { try? await Task.sleep(for: pause) }
                return piece
            }
            return ServedResponse(status: 200, headers: [("Content-Type", "application/json")], stream: stream)
        }
    }

    @Test("a body that streams for ever is cut at the body limit with an error naming the peer")
    func endlessFast() async throws {
        let server = try await endlessServer(chunk: 1 << 20, pause: nil)
        defer { Task { await server.stop() } }
        // The deadline is not what is tested here, the body limit is: 64 MiB through a debug server and client took
        // over a minute once while the whole suite started on two cores.
        let transport = try AsyncHTTPClientTransport(
            timeouts: HTTPTimeouts(connect: .seconds(5), request: .seconds(300)))
        defer { Task { try? await transport.shutdown() } }
        let url = URL(string: "http://127.0.0.1:\(server.port)/v2/app/manifests/latest")!
        await #expect {
            _ = try await transport.send(HTTPRequest(method: "GET", url: url))
        } throws: { error in
            guard let error = error as? TransportError else { return false }
            return error.host == "127.0.0.1:\(server.port)" && error.reason.contains("larger than 64 MiB")
                && error.reason.contains("/v2/app/manifests/latest")
        }
    }

    @Test("a body that trickles for ever ends at the request deadline, named as a timeout")
    func endlessSlow() async throws {
        let server = try await endlessServer(chunk: 16, pause: .milliseconds(50))
        defer { Task { await server.stop() } }
        let transport = try AsyncHTTPClientTransport(timeouts: HTTPTimeouts(connect: .seconds(5), request: .seconds(1)))
        defer { Task { try? await transport.shutdown() } }
        let url = URL(string: "http://127.0.0.1:\(server.port)/token")!
        let started = ContinuousClock.now
        await #expect {
            _ = try await transport.send(HTTPRequest(method: "GET", url: url))
        } throws: { error in
            guard let error = error as? TransportError else { return false }
            return error.kind == .timeout && error.host == "127.0.0.1:\(server.port)"
        }
        // Not a timing assertion on speed: a trickle must not hold the request past its deadline many times over.
        #expect(ContinuousClock.now - started < .seconds(30))
    }
}
