import Foundation
import Synchronization

/// The GCE / GKE metadata server's token endpoint, from Google's reference ("About VM metadata", "Access tokens"):
/// `GET /computeMetadata/v1/instance/service-accounts/default/token` needs `Metadata-Flavor: Google` (else 403) and
/// refuses requests carrying `X-Forwarded-For` (403); answers `{"access_token", "expires_in", "token_type": "Bearer"}`
/// with `Metadata-Flavor: Google` on every answer. Unknown paths: 404.
package final class GCPMetadataSimulator: Sendable {
    final class State: Sendable {
        let m: Mutex<(token: String, lifetime: Int, requests: Int)>
        init(token: String, lifetime: Int) { m = Mutex((token, lifetime, 0)) }
        func withLock<T: Sendable>(
            _ body: (inout sending (token: String, lifetime: Int, requests: Int)) -> sending T
        ) -> T {
            m.withLock(body)
        }
    }
    let server: TestHTTPServer
    let state: State
    package var host: String { "127.0.0.1:\(server.port)" }
    package var requests: Int { state.withLock { $0.requests } }
    package var token: String { state.withLock { $0.token } }

    package init(token: String = "ya29.test-\(UUID().uuidString)", lifetime: Int = 3599) async throws {
        let state = State(token: token, lifetime: lifetime)
        self.state = state
        server = try await TestHTTPServer { request in
            let flavor = [("Metadata-Flavor", "Google"), ("Content-Type", "application/json")]
            state.withLock { $0.requests += 1 }
            guard request.header("X-Forwarded-For") == nil, request.header("Metadata-Flavor") == "Google" else {
                return ServedResponse(
                    status: 403, headers: flavor,
                    body: Data("Missing required header \"Metadata-Flavor\": \"Google\"".utf8))
            }
            guard request.method == "GET",
                request.uri.split(separator: "?").first == "/computeMetadata/v1/instance/service-accounts/default/token"
            else {
                return ServedResponse(status: 404, headers: flavor, body: Data("Not Found".utf8))
            }
            let (token, lifetime) = state.withLock { ($0.token, $0.lifetime) }
            let body = #"{"access_token":"\#(token)","expires_in":\#(lifetime),"token_type":"Bearer"}"#
            return ServedResponse(status: 200, headers: flavor, body: Data(body.utf8))
        }
    }

    package func set(token: String, lifetime: Int) { state.withLock { ($0.token, $0.lifetime) = (token, lifetime) } }

    package func stop() async { await server.stop() }
}
