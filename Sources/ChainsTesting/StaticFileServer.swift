import Foundation

/// Serves a directory over plain HTTP on loopback, as a TUF mirror or any static site: `GET /path` → the file, or
/// 404. Counts requests per path.
package final class StaticFileServer: Sendable {
    let server: TestHTTPServer
    package let root: URL
    package var url: String { "http://127.0.0.1:\(server.port)" }

    package init(root: URL) async throws {
        self.root = root
        let base = root.standardizedFileURL.path
        server = try await TestHTTPServer { request in
            let path = request.path.split(separator: "/").filter { $0 != ".." && !$0.isEmpty }.joined(separator: "/")
            let file = URL(fileURLWithPath: base).appendingPathComponent(path)
            guard request.method == "GET", let data = FileManager.default.contents(atPath: file.path) else {
                return ServedResponse(status: 404, body: Data("not found".utf8))
            }
            return ServedResponse(status: 200, headers: [("Content-Type", "application/json")], body: data)
        }
    }

    package func stop() async { await server.stop() }
}
