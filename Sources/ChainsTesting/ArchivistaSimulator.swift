import Crypto
import Foundation
import Synchronization

/// Archivista's HTTP API (in-toto/archivista `pkg/server/server.go`, `pkg/api/upload.go`, `download.go`), as the
/// real server answers: `POST /upload` and `/v1/upload` store the body under its gitoid — the git blob id of the
/// body in a SHA-256 repository — and answer 200 `{"gitoid":"<hex>"}` + newline with Go's sniffed
/// `text/plain; charset=utf-8`; an identical body again is 500 (the gitoid is a unique column); with the metadata
/// store (the default) the body must be a DSSE envelope whose payload is an in-toto statement and whose
/// `payloadType` is not empty, else 500; another method on the upload path is 400 `<METHOD> is an unsupported
/// method`. `GET /download/<gitoid>` and `/v1/download/<gitoid>` answer the stored bytes, or 500 naming the missing
/// file (the real file store's answer, not the 404 its swagger comment claims). No authentication, like the real one.
package final class ArchivistaSimulator: Sendable {
    final class State: Sendable {
        let stored = Mutex<[String: Data]>([:])
        let uploads = Mutex<[Data]>([])
    }
    let server: TestHTTPServer
    let state = State()
    package var url: String { "http://127.0.0.1:\(server.port)" }
    /// Every upload body received, in order (refused ones too).
    package var received: [Data] { state.uploads.withLock { $0 } }
    package var objects: [String: Data] { state.stored.withLock { $0 } }

    package init(metadata: Bool = true) async throws {
        let state = self.state
        server = try await TestHTTPServer { request in
            let text = [("Content-Type", "text/plain; charset=utf-8")]
            let path = request.path
            if path == "/upload" || path == "/v1/upload" {
                guard request.method == "POST" else {
                    return ServedResponse(
                        status: 400, headers: text, body: Data("\(request.method) is an unsupported method\n".utf8))
                }
                state.uploads.withLock { $0.append(request.body) }
                if metadata, let problem = Self.metadataProblem(request.body) {
                    return ServedResponse(status: 500, headers: text, body: Data("\(problem)\n".utf8))
                }
                let id = Self.gitoid(request.body)
                let fresh = state.stored.withLock { store -> Bool in
                    guard store[id] == nil else { return false }
                    store[id] = request.body
                    return true
                }
                guard fresh else {
                    return ServedResponse(
                        status: 500, headers: text,
                        body: Data("ent: constraint failed: UNIQUE constraint failed: dsses.gitoid_sha256\n".utf8))
                }
                return ServedResponse(status: 200, headers: text, body: Data("{\"gitoid\":\"\(id)\"}\n".utf8))
            }
            for prefix in ["/download/", "/v1/download/"] where path.hasPrefix(prefix) && request.method == "GET" {
                let id = String(path.dropFirst(prefix.count))
                guard let body = state.stored.withLock({ $0[id] }) else {
                    return ServedResponse(
                        status: 500, headers: text,
                        body: Data("open /tmp/archivista/\(id).json: no such file or directory\n".utf8))
                }
                return ServedResponse(status: 200, headers: text, body: body)
            }
            return ServedResponse(status: 404, headers: text, body: Data("404 page not found\n".utf8))
        }
    }

    /// What the SQL metadata store refuses: not an envelope, a payload that is not an in-toto statement object,
    /// an empty `payloadType`.
    static func metadataProblem(_ body: Data) -> String? {
        guard let envelope = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            return "failed to parse dsse envelope: not a JSON object"
        }
        guard let type = envelope["payloadType"] as? String, !type.isEmpty else {
            return "ent: validator failed for field \"Dsse.payload_type\": value is less than the required length"
        }
        guard let payload = (envelope["payload"] as? String).flatMap({ Data(base64Encoded: $0) }),
            let statement = try? JSONSerialization.jsonObject(with: payload) as? [String: Any],
            statement["_type"] is String
        else {
            return "failed to parse in-toto statement from dsse payload"
        }
        return nil
    }

    /// go-gitoid's `New(body, WithContentLength(len), WithSha256())`.
    package static func gitoid(_ body: Data) -> String {
        SHA256.hash(data: Data("blob \(body.count)\u{0}".utf8) + body).map { String(format: "%02x", $0) }.joined()
    }

    package func stop() async { await server.stop() }
}
