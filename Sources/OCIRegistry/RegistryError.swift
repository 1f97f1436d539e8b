import Foundation
import HTTPTransport

/// A distribution error code (`errors[].code` in a registry's answer), from the OCI distribution spec and Docker's
/// registry; unknown codes are kept as they came.
package struct RegistryErrorCode: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    package var rawValue: String
    package init(rawValue: String) { self.rawValue = rawValue }
    package init(stringLiteral value: String) { rawValue = value }
    package var description: String { rawValue }

    package static let blobUnknown: Self = "BLOB_UNKNOWN"
    package static let blobUploadInvalid: Self = "BLOB_UPLOAD_INVALID"
    package static let blobUploadUnknown: Self = "BLOB_UPLOAD_UNKNOWN"
    package static let digestInvalid: Self = "DIGEST_INVALID"
    package static let manifestBlobUnknown: Self = "MANIFEST_BLOB_UNKNOWN"
    package static let manifestInvalid: Self = "MANIFEST_INVALID"
    package static let manifestUnknown: Self = "MANIFEST_UNKNOWN"
    package static let nameInvalid: Self = "NAME_INVALID"
    package static let nameUnknown: Self = "NAME_UNKNOWN"
    package static let sizeInvalid: Self = "SIZE_INVALID"
    package static let unauthorized: Self = "UNAUTHORIZED"
    package static let denied: Self = "DENIED"
    package static let unsupported: Self = "UNSUPPORTED"
    package static let tooManyRequests: Self = "TOOMANYREQUESTS"

    /// The credential was refused or lacks the right.
    package var isAuthorization: Bool { self == .unauthorized || self == .denied }
}

/// A registry refused or failed a request. Names the registry, repository and operation; never a credential.
package struct RegistryError: Error, Sendable, CustomStringConvertible {
    package var registry: String
    package var repository: String
    package var operation: String
    package var status: Int
    /// Distribution error codes from the body (`DENIED`, `UNAUTHORIZED`, `MANIFEST_UNKNOWN`…).
    package var codes: [RegistryErrorCode]
    package var message: String
    /// From the challenge: `insufficient_scope`, `invalid_token`.
    package var challengeError: String?
    /// The registry acknowledged a write that reading back does not show (a broken cache or storage layer): worth
    /// pushing again on the next attempt.
    package var lostWrite = false

    package init(
        registry: String, repository: String, operation: String, status: Int, codes: [RegistryErrorCode] = [],
        message: String,
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
    package var isAuthorizationFailure: Bool {
        status == 401 || status == 403 || codes.contains(where: \.isAuthorization)
            || challengeError == "insufficient_scope"
    }

    /// Worth trying again later: the registry is overloaded or failing (408, 429, 5xx, `TOOMANYREQUESTS`), not
    /// refusing.
    package var isRetryable: Bool {
        lostWrite
            || (!isAuthorizationFailure && (HTTPStatusRule.isRetryable(status) || codes.contains(.tooManyRequests)))
    }

    package var description: String {
        var text = "\(registry)/\(repository): \(operation) failed: HTTP \(status)"
        if !codes.isEmpty { text += " \(codes.map(\.rawValue).joined(separator: ","))" }
        if !message.isEmpty { text += ": \(message)" }
        if let challengeError { text += " (\(challengeError))" }
        return text
    }

    static func from(_ response: HTTPResponse, registry: String, repository: String, operation: String) -> RegistryError
    {
        var codes: [RegistryErrorCode] = []
        var messages: [String] = []
        if let json = try? JSONSerialization.jsonObject(with: response.body.prefix(64 * 1024)) as? [String: Any],
            let errors = json["errors"] as? [[String: Any]]
        {
            for e in errors {
                if let c = e["code"] as? String { codes.append(RegistryErrorCode(rawValue: c)) }
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
package struct TokenError: Error, Sendable, CustomStringConvertible {
    package var registry: String
    package var realm: String
    package var status: Int?
    package var reason: String
    package var description: String {
        "\(registry): token request to \(realm) failed" + (status.map { ": HTTP \($0)" } ?? "") + ": \(reason)"
    }
    /// A 200 whose body holds no token (an HTML error page, a proxy's answer): the service is broken now, and may
    /// not be on the next attempt.
    package var malformedAnswer = false
    package var isAuthorizationFailure: Bool { status == 401 || status == 403 }

    package init(registry: String, realm: String, status: Int?, reason: String, malformedAnswer: Bool = false) {
        self.registry = registry
        self.realm = realm
        self.status = status
        self.reason = reason
        self.malformedAnswer = malformedAnswer
    }

    /// The token service is overloaded or failing, answered something that is not a token, or could not be reached.
    package var isRetryable: Bool { malformedAnswer || (status.map(HTTPStatusRule.isRetryable) ?? false) }
}

extension RegistryError: RetryClassifiable {}
extension TokenError: RetryClassifiable {}
