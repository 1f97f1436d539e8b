import Crypto
import Foundation

/// Cloud KMS's REST API for one key version, from Google's reference: `GET /v1/{name}/publicKey` → `{"pem",
/// "algorithm": "EC_SIGN_P256_SHA256", "name", "protectionLevel"}`; `POST /v1/{name}:asymmetricSign` with
/// `{"digest": {"sha256": base64}}` → `{"signature", "name", "verifiedDigestCrc32c"}`. Every call needs `Authorization:
/// Bearer <a token the metadata simulator issued>` (else 401 UNAUTHENTICATED); another key: 404 NOT_FOUND; a digest
/// of the wrong length: 400 INVALID_ARGUMENT. Errors as `{"error": {"code", "message", "status"}}`.
package final class GCPKMSSimulator: Sendable {
    let server: TestHTTPServer
    let signCount: Locked<Int>
    package let key = P256.Signing.PrivateKey()
    package let version: String
    /// `CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS`.
    package var endpoint: String { "http://127.0.0.1:\(server.port)/" }
    package var signs: Int { signCount.withLock { $0 } }

    package init(version: String, token: @escaping @Sendable () -> String) async throws {
        self.version = version
        let count = Locked<Int>(0)
        signCount = count
        let key = self.key
        server = try await TestHTTPServer { request in
            func answer(_ status: Int, _ object: [String: Any]) -> ServedResponse { .json(status, object: object) }
            func failure(_ code: Int, _ status: String, _ message: String) -> ServedResponse {
                answer(code, ["error": ["code": code, "message": message, "status": status]])
            }
            guard request.header("Authorization") == "Bearer \(token())" else {
                return failure(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
            }
            let path = String(request.uri.split(separator: "?").first ?? "")
            if request.method == "GET", path == "/v1/\(version)/publicKey" {
                return answer(
                    200,
                    [
                        "pem": key.publicKey.pemRepresentation + "\n", "algorithm": "EC_SIGN_P256_SHA256",
                        "name": version, "protectionLevel": "HSM",
                    ])
            }
            if request.method == "POST", path == "/v1/\(version):asymmetricSign" {
                let body = (try? JSONSerialization.jsonObject(with: request.body) as? [String: Any]) ?? [:]
                guard
                    let digest = ((body["digest"] as? [String: Any])?["sha256"] as? String).flatMap({
                        Data(base64Encoded: $0)
                    }),
                    digest.count == 32
                else {
                    return failure(400, "INVALID_ARGUMENT", "The provided digest is not a valid SHA-256 digest.")
                }
                count.withLock { $0 += 1 }
                let signature = try! key.signature(for: Prehashed(bytes: digest)).derRepresentation
                return answer(
                    200, ["signature": signature.base64EncodedString(), "name": version, "verifiedDigestCrc32c": false])
            }
            return failure(404, "NOT_FOUND", "\(path) not found.")
        }
    }

    package func stop() async { await server.stop() }
}
