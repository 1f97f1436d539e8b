import Foundation
import HTTPTransport

/// A distribution error code (`errors[].code` in a registry's answer), from the OCI distribution spec and Docker's
/// registry; unknown codes are kept as they came.
public struct RegistryErrorCode: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public var description: String { rawValue }

    public static let blobUnknown: Self = "BLOB_UNKNOWN"
    public static let blobUploadInvalid: Self = "BLOB_UPLOAD_INVALID"
    public static let blobUploadUnknown: Self = "BLOB_UPLOAD_UNKNOWN"
    public static let digestInvalid: Self = "DIGEST_INVALID"
    public static let manifestBlobUnknown: Self = "MANIFEST_BLOB_UNKNOWN"
    public static let manifestInvalid: Self = "MANIFEST_INVALID"
    public static let manifestUnknown: Self = "MANIFEST_UNKNOWN"
    public static let nameInvalid: Self = "NAME_INVALID"
    public static let nameUnknown: Self = "NAME_UNKNOWN"
    public static let sizeInvalid: Self = "SIZE_INVALID"
    public static let unauthorized: Self = "UNAUTHORIZED"
    public static let denied: Self = "DENIED"
    public static let unsupported: Self = "UNSUPPORTED"
    public static let tooManyRequests: Self = "TOOMANYREQUESTS"

    /// The credential was refused or lacks the right.
    public var isAuthorization: Bool { self == .unauthorized || self == .denied }
}

/// A registry refused or failed a request. Names the registry, repository and operation; never a credential.
public struct RegistryError: Error, Sendable, CustomStringConvertible {
    public var registry: String
    public var repository: String
    public var operation: String
    public var status: Int
    /// Distribution error codes from the body (`DENIED`, `UNAUTHORIZED`, `MANIFEST_UNKNOWN`…).
    public var codes: [RegistryErrorCode]
    public var message: String
    /// From the challenge: `insufficient_scope`, `invalid_token`.
    public var challengeError: String?
    /// The registry acknowledged a write that reading back does not show (a broken cache or storage layer): worth
    /// pushing again on the next attempt.
    public var lostWrite = false

    public init(
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
    public var isAuthorizationFailure: Bool {
        status == 401 || status == 403 || codes.contains(where: \.isAuthorization)
            || challengeError == "insufficient_scope"
    }

    /// Worth trying again later: the registry is overloaded or failing (408, 429, 5xx, `TOOMANYREQUESTS`), not
    /// refusing.
    public var isRetryable: Bool {
        lostWrite
            || (!isAuthorizationFailure && (HTTPStatusRule.isRetryable(status) || codes.contains(.tooManyRequests)))
    }

    public var description: String {
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
public struct TokenError: Error, Sendable, CustomStringConvertible {
    public var registry: String
    public var realm: String
    public var status: Int?
    public var reason: String
    public var description: String {
        "\(registry): token request to \(realm) failed" + (status.map { ": HTTP \($0)" } ?? "") + ": \(reason)"
    }
    /// A 200 whose body holds no token (an HTML error page, a proxy's answer): the service is broken now, and may
    /// not be on the next attempt.
    public var malformedAnswer = false
    public var isAuthorizationFailure: Bool { status == 401 || status == 403 }

    public init(registry: String, realm: String, status: Int?, reason: String, malformedAnswer: Bool = false) {
        self.registry = registry
        self.realm = realm
        self.status = status
        self.reason = reason
        self.malformedAnswer = malformedAnswer
    }

    /// The token service is overloaded or failing, answered something that is not a token, or could not be reached.
    public var isRetryable: Bool { malformedAnswer || (status.map(HTTPStatusRule.isRetryable) ?? false) }
}

extension RegistryError: RetryClassifiable {}
extension TokenError: RetryClassifiable {}
