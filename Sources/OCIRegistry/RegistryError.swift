import Foundation
import HTTPTransport

/// A registry refused or failed a request. Names the registry, repository and operation; never a credential.
public struct RegistryError: Error, Sendable, CustomStringConvertible {
    public var registry: String
    public var repository: String
    public var operation: String
    public var status: Int
    /// Distribution error codes from the body (`DENIED`, `UNAUTHORIZED`, `MANIFEST_UNKNOWN`…).
    public var codes: [String]
    public var message: String
    /// From the challenge: `insufficient_scope`, `invalid_token`.
    public var challengeError: String?

    public init(
        registry: String, repository: String, operation: String, status: Int, codes: [String] = [], message: String,
        challengeError: String? = nil
    ) {
        self.registry = registry
        self.repository = repository
        self.operation = operation
        self.status = status
        self.codes = codes
        self.message = message
        self.challengeError = challengeError
    }

    /// The credential was refused or lacks the right: try the next one.
    public var isAuthorizationFailure: Bool {
        status == 401 || status == 403 || codes.contains("DENIED") || codes.contains("UNAUTHORIZED")
            || challengeError == "insufficient_scope"
    }

    public var description: String {
        var text = "\(registry)/\(repository): \(operation) failed: HTTP \(status)"
        if !codes.isEmpty { text += " \(codes.joined(separator: ","))" }
        if !message.isEmpty { text += ": \(message)" }
        if let challengeError { text += " (\(challengeError))" }
        return text
    }

    static func from(_ response: HTTPResponse, registry: String, repository: String, operation: String) -> RegistryError
    {
        var codes: [String] = []
        var messages: [String] = []
        if let json = try? JSONSerialization.jsonObject(with: response.body.prefix(64 * 1024)) as? [String: Any],
            let errors = json["errors"] as? [[String: Any]]
        {
            for e in errors {
                if let c = e["code"] as? String { codes.append(c) }
                if let m = e["message"] as? String, !m.isEmpty { messages.append(m) }
            }
        } else if !response.body.isEmpty, response.body.count < 200,
            let text = String(data: response.body, encoding: .utf8)
        {
            messages.append(text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let challenge = Challenge.parse(response.headers.values("WWW-Authenticate")).first
        return RegistryError(
            registry: registry, repository: repository, operation: operation, status: response.status, codes: codes,
            message: messages.joined(separator: "; "), challengeError: challenge?.error)
    }
}

/// The token service refused the credential (wrong password) or answered nonsense.
public struct TokenError: Error, Sendable, CustomStringConvertible {
    public var registry: String
    public var realm: String
    public var status: Int?
    public var reason: String
    public var description: String {
        "\(registry): token request to \(realm) failed" + (status.map { ": HTTP \($0)" } ?? "") + ": \(reason)"
    }
    public var isAuthorizationFailure: Bool { status == 401 || status == 403 }
}
