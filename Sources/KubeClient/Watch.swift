import Foundation
import HTTPTransport
import KubeModels

extension KubeAPIClient {
    /// Watches from `resourceVersion` (with bookmarks). The stream ends when the server ends the watch (its
    /// timeout, a restart); it throws a `KubeError` for an `ERROR` event — `isExpired` for 410: list again.
    package func watch(
        _ resource: KubeResource, namespace: String?, resourceVersion: String, timeoutSeconds: Int = 300
    ) async throws(KubeError) -> AsyncThrowingStream<WatchEvent, any Error> {
        await limiter.acquire()
        let target = url(
            resource, namespace: namespace, name: nil,
            query: [
                "watch": "true", "resourceVersion": resourceVersion, "allowWatchBookmarks": "true",
                "timeoutSeconds": String(timeoutSeconds),
            ])
        let response: HTTPStreamResponse
        do {
            response = try await transport.stream(
                HTTPRequest(method: "GET", url: target, headers: try headers()),
                deadline: .seconds(timeoutSeconds + 30))
        } catch let error as KubeError {
            throw error
        } catch {
            throw KubeError(reason: "watch \(target.path): \(error)", isRetryable: true)
        }
        guard response.status == 200 else {
            var body = Data()
            do {
                for try await chunk in response.body where body.count < 65536 { body += chunk }
            } catch {}
            throw Self.error(response.status, try? JSONValue(parsing: body), "watch", target)
        }
        return Self.events(from: response.body, path: target.path)
    }

    /// The longest watch event read (an object in etcd is at most 1.5 MiB; a line longer than this is a broken or
    /// hostile stream, given up rather than held in memory).
    package static let maxEventBytes = 32 * 1024 * 1024

    /// Newline-delimited `{"type","object"}` lines, however the chunks cut them. Linear in the stream: each byte is
    /// scanned once and the unfinished tail is copied once per chunk (a burst of events in one chunk used to copy the
    /// rest of the chunk after every line).
    package static func events(
        from body: AsyncThrowingStream<Data, any Error>, path: String
    ) -> AsyncThrowingStream<WatchEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                var pending = Data()
                do {
                    for try await chunk in body {
                        var scanFrom = pending.endIndex
                        pending += chunk
                        var start = pending.startIndex
                        while let newline = pending[scanFrom...].firstIndex(of: UInt8(ascii: "\n")) {
                            let line = pending[start..<newline]
                            start = pending.index(after: newline)
                            scanFrom = start
                            if line.isEmpty { continue }
                            continuation.yield(try event(Data(line), path: path))
                        }
                        if start != pending.startIndex { pending = Data(pending[start...]) }
                        guard pending.count <= maxEventBytes else {
                            let limit = "\(maxEventBytes / 1_048_576) MiB"
                            throw KubeError(
                                reason: "watch \(path): an event longer than \(limit); the watch is given up",
                                isRetryable: true)
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    package static func event(_ line: Data, path: String) throws(KubeError) -> WatchEvent {
        guard let json = try? JSONValue(parsing: line), let type = json["type"]?.stringValue,
            let object = json["object"]
        else { throw KubeError(reason: "watch \(path): an event that is not {type, object} JSON", isRetryable: true) }
        switch type {
        case "ADDED": return .added(object)
        case "MODIFIED": return .modified(object)
        case "DELETED": return .deleted(object)
        case "BOOKMARK":
            return .bookmark(resourceVersion: object["metadata"]?["resourceVersion"]?.stringValue ?? "")
        case "ERROR":
            let code: Int? = {
                if case .number(let n) = object["code"] ?? .null { return Int(exactly: n) }
                return nil
            }()
            throw KubeError(
                status: code, statusReason: object["reason"]?.stringValue,
                reason: "watch \(path): \(object["message"]?.stringValue ?? "error event")",
                isRetryable: true)
        default:
            throw KubeError(reason: "watch \(path): unknown event type \(type)", isRetryable: true)
        }
    }
}
