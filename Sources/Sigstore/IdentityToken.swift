import Foundation
import Signing

/// Why an identity token cannot be used. Names where the token came from; never holds the token.
package struct IdentityTokenError: Error, Sendable, CustomStringConvertible {
    package enum Code: String, Sendable {
        case unavailable, malformed, expired, wrongAudience, unverifiedEmail, providerUnknown, notBuilt
    }
    package var code: Code
    /// The provider and where it looked (`filesystem /var/run/sigstore/cosign/oidc-token`).
    package var source: String
    package var reason: String
    /// The source may answer later (an agent restarting, a workload not registered yet, a token service's 5xx).
    package var isRetryable: Bool

    package init(_ code: Code, source: String, reason: String, isRetryable: Bool = false) {
        self.code = code
        self.source = source
        self.reason = reason
        self.isRetryable = isRetryable
    }

    package var description: String { "identity token from \(source): \(reason)" }
}

/// An OIDC identity token (a JWT) for Fulcio, with the claims read from it. The signature is not checked here:
/// Fulcio checks it; we check what would make Fulcio refuse, so the error is ours and clear.
package struct IdentityToken: Sendable, CustomStringConvertible {
    /// The compact JWT. Never logged or printed: `description` leaves it out.
    package let raw: String
    package let issuer: String
    package let subject: String
    package let audiences: [String]
    package let expiry: Date?
    package let email: String?
    package let emailVerified: Bool
    /// The provider that gave it (`filesystem`, `envvar`, `github-actions`, …) and where it looked.
    package let source: String

    package init(jwt: String, source: String) throws(IdentityTokenError) {
        let text = jwt.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = PublicKey.base64URL(String(parts[1])),
            let claims = try? JSONSerialization.jsonObject(with: payload) as? [String: Any]
        else {
            throw IdentityTokenError(.malformed, source: source, reason: "not a JWT (header.payload.signature)")
        }
        raw = text
        self.source = source
        issuer = claims["iss"] as? String ?? ""
        subject = claims["sub"] as? String ?? ""
        switch claims["aud"] {
        case let one as String: audiences = [one]
        case let many as [Any]: audiences = many.compactMap { $0 as? String }
        default: audiences = []
        }
        expiry = (claims["exp"] as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue) }
        email = (claims["email"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        switch claims["email_verified"] {
        case let b as Bool: emailVerified = b
        case let s as String: emailVerified = s == "true" || s == "True"
        default: emailVerified = false
        }
        guard !issuer.isEmpty else {
            throw IdentityTokenError(.malformed, source: source, reason: "the token has no iss claim")
        }
    }

    /// What Fulcio asks the proof of possession to sign: the verified `email` for email identities, else `sub`.
    package func challenge() throws(IdentityTokenError) -> String {
        if let email {
            guard emailVerified else {
                throw IdentityTokenError(
                    .unverifiedEmail, source: source, reason: "its email \(email) is not verified (email_verified)")
            }
            return email
        }
        guard !subject.isEmpty else {
            throw IdentityTokenError(.malformed, source: source, reason: "the token has neither email nor sub")
        }
        return subject
    }

    /// Refuses, before Fulcio is called, a token Fulcio would refuse: expired, or not for `audience`.
    package func check(audience: String, now: Date) throws(IdentityTokenError) {
        if let expiry, expiry <= now {
            throw IdentityTokenError(
                .expired, source: source,
                reason:
                    "it expired at \(ISO8601DateFormatter().string(from: expiry)); a projected token is rotated by the kubelet — check the volume is mounted and refreshed"
            )
        }
        guard audiences.contains(audience) else {
            throw IdentityTokenError(
                .wrongAudience, source: source,
                reason:
                    "its audience is \(audiences.isEmpty ? "empty" : audiences.joined(separator: ", ")), not \"\(audience)\"; request the token with audience \(audience)"
            )
        }
    }

    package var description: String {
        "token from \(source) (iss \(issuer), sub \(subject)\(expiry.map { ", expires \(ISO8601DateFormatter().string(from: $0))" } ?? ""))"
    }
}
