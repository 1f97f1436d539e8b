import ChainsConfig
import CloudCredentials
import Foundation
import HTTPTransport

/// A call a storage backend (`gcs`, `docdb`, `archivista`) made did not do what it should: named by backend, peer and
/// operation, typed by what a retry can change — refused (credentials or permissions: no), unavailable (unreachable,
/// 408/429/5xx: yes), timeout (yes), failed (a missing bucket or table, bad input, an answer that does not show the
/// write happened: no). Never holds a credential.
package struct BackendError: Error, Sendable, CustomStringConvertible {
    package enum Kind: Sendable { case refused, unavailable, timeout, failed }
    package var kind: Kind
    package var backend: StorageKind
    /// The service and where it is: `GCS bucket chains-prov (http://127.0.0.1:4443)`.
    package var peer: String
    package var reason: String

    package init(_ kind: Kind, backend: StorageKind, peer: String, reason: String) {
        self.kind = kind
        self.backend = backend
        self.peer = peer
        self.reason = reason
    }

    package var description: String { "\(peer): \(reason)" }
    package var isRetryable: Bool { kind == .unavailable || kind == .timeout }
}

extension BackendError: RetryClassifiable {}

/// One HTTP call of a storage backend: sent within the transport's deadline; a failure to connect or a timeout is
/// `unavailable`/`timeout`; an answer outside 2xx is typed by its status (401/403: refused; 408/429/5xx: unavailable;
/// any other: failed, unless `kindOf` says otherwise from the answer) with the service's own message, cut to 300
/// characters.
enum BackendHTTP {
    static func send(
        _ request: HTTPRequest, via transport: any HTTPTransport, backend: StorageKind, peer: String, what: String,
        message: (Data) -> String? = { _ in nil }, kindOf: (Int, Data) -> BackendError.Kind? = { _, _ in nil }
    ) async throws(BackendError) -> HTTPResponse {
        let response: HTTPResponse
        do {
            response = try await transport.send(request)
        } catch let error as TransportError {
            let kind: BackendError.Kind =
                error.kind == .timeout ? .timeout : (error.isRetryable ? .unavailable : .refused)
            throw BackendError(kind, backend: backend, peer: peer, reason: "\(what): \(error.description)")
        } catch {
            throw BackendError(.unavailable, backend: backend, peer: peer, reason: "\(what): \(error)")
        }
        guard (200..<300).contains(response.status) else {
            let text =
                message(response.body)
                ?? String(decoding: response.body.prefix(300), as: UTF8.self).trimmingCharacters(
                    in: .whitespacesAndNewlines)
            let kind: BackendError.Kind =
                kindOf(response.status, response.body)
                ?? (HTTPStatusRule.isRetryable(response.status)
                    ? .unavailable : ([401, 403].contains(response.status) ? .refused : .failed))
            throw BackendError(
                kind, backend: backend, peer: peer,
                reason: "\(what): HTTP \(response.status)\(text.isEmpty ? "" : ": " + String(text.prefix(300)))")
        }
        return response
    }

    /// The message of Google's error format, `{"error":{"code":…,"message":"…","status":"…"}}`.
    static func googleMessage(_ body: Data) -> String? {
        guard let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let error = json["error"] as? [String: Any]
        else { return nil }
        return [error["status"] as? String, error["message"] as? String].compactMap { $0 }.joined(separator: ": ")
    }

    /// A Google access token from `tokens` (none without a source): a source that cannot answer is refused, or
    /// unavailable when it may recover.
    static func bearerToken(
        _ tokens: (any GoogleTokenSource)?, backend: StorageKind, peer: String
    ) async throws(BackendError) -> String? {
        guard let tokens else { return nil }
        do {
            return try await tokens.bearerToken()
        } catch {
            throw BackendError(
                error.isRetryable ? .unavailable : .refused, backend: backend, peer: peer,
                reason: "no access token: \(error.description)")
        }
    }
}
