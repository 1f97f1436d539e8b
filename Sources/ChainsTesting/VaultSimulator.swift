import Crypto
import Foundation

/// Vault's transit engine and a JWT/Kubernetes auth mount, from Vault's HTTP API reference: `GET
/// /v1/transit/keys/:name` (the versions' public keys), `POST /v1/transit/sign/:name` (`input` base64, `prehashed`,
/// `hash_algorithm`, `marshaling_algorithm`; answers `vault:v1:<base64>`), `POST /v1/auth/:mount/login` (`role`,
/// `jwt` → `auth.client_token`, `lease_duration`). Every other call needs `X-Vault-Token`: 403
/// `{"errors": ["permission denied"]}` without a token it issued; an unknown key: 404 `{"errors": []}`. One P-256
/// key, `chains`.
package final class VaultSimulator: Sendable {
    let server: TestHTTPServer
    let state: Locked<(tokens: Set<String>, signs: Int)>
    package let rootToken = "hvs.root-\(UUID().uuidString)"
    package let key = P256.Signing.PrivateKey()
    package var address: String { "http://127.0.0.1:\(server.port)" }
    package var signs: Int { state.withLock { $0.signs } }

    /// `role` and `jwt`: what the auth mount `mount` accepts.
    package init(mount: String = "kubernetes", role: String = "chains", jwt: String = "") async throws {
        let state = Locked<(tokens: Set<String>, signs: Int)>(([], 0))
        self.state = state
        let root = rootToken
        state.withLock { _ = $0.tokens.insert(root) }
        let key = self.key
        server = try await TestHTTPServer { request in
            func answer(_ status: Int, _ object: [String: Any]) -> ServedResponse { .json(status, object: object) }
            let body = (try? JSONSerialization.jsonObject(with: request.body) as? [String: Any]) ?? [:]
            let path = String(request.uri.split(separator: "?").first ?? "")
            if request.method == "POST", path == "/v1/auth/\(mount)/login" {
                guard body["role"] as? String == role else {
                    return answer(400, ["errors": ["invalid role name \"\(body["role"] ?? "")\""]])
                }
                guard !jwt.isEmpty, body["jwt"] as? String == jwt else {
                    return answer(403, ["errors": ["permission denied"]])
                }
                let token = "hvs.login-\(UUID().uuidString)"
                state.withLock { _ = $0.tokens.insert(token) }
                return answer(
                    200,
                    [
                        "auth": [
                            "client_token": token, "lease_duration": 3600, "renewable": true, "policies": ["chains"],
                        ]
                    ])
            }
            guard let token = request.header("X-Vault-Token"), state.withLock({ $0.tokens.contains(token) }) else {
                return answer(403, ["errors": ["permission denied"]])
            }
            switch (request.method, path) {
            case ("GET", "/v1/transit/keys/chains"):
                let version: [String: Any] = ["public_key": key.publicKey.pemRepresentation, "name": "P-256"]
                return answer(
                    200,
                    ["data": ["name": "chains", "type": "ecdsa-p256", "latest_version": 1, "keys": ["1": version]]])
            case ("POST", "/v1/transit/sign/chains"):
                guard body["prehashed"] as? Bool == true, body["hash_algorithm"] as? String == "sha2-256",
                    let input = (body["input"] as? String).flatMap({ Data(base64Encoded: $0) }), input.count == 32
                else {
                    return answer(400, ["errors": ["this simulator signs prehashed sha2-256 input only"]])
                }
                let marshaling = body["marshaling_algorithm"] as? String ?? "asn1"
                let signature = try! key.signature(for: Prehashed(bytes: input))
                let bytes = marshaling == "jws" ? signature.rawRepresentation : signature.derRepresentation
                state.withLock { $0.signs += 1 }
                return answer(
                    200, ["data": ["signature": "vault:v1:" + bytes.base64EncodedString(), "key_version": 1]])
            case (_, let other) where other.hasPrefix("/v1/transit/keys/") || other.hasPrefix("/v1/transit/sign/"):
                return answer(404, ["errors": []])
            default:
                return answer(404, ["errors": []])
            }
        }
    }

    package func stop() async { await server.stop() }
}
