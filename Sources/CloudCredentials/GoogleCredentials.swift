import Crypto
import Foundation
import HTTPTransport
import Signing
import Synchronization

/// Where a Google API client gets its OAuth access token.
package protocol GoogleTokenSource: Sendable {
    /// Who the token is for, for messages: `service account x@p.iam.gserviceaccount.com (file …)`.
    var identity: String { get }
    func bearerToken() async throws(CloudCredentialError) -> String
}

extension GCRKeychain: GoogleTokenSource {}

/// Google's Application Default Credentials, in the order Google's Go libraries look (what Tekton Chains' GCS and
/// Grafeas clients use): the JSON file `GOOGLE_APPLICATION_CREDENTIALS` names; gcloud's
/// `application_default_credentials.json` (under `CLOUDSDK_CONFIG`, else `~/.config/gcloud`); the metadata server
/// (GKE workload identity). Files of type `service_account` and `authorized_user` are served; any other type is an
/// error naming the file and the type.
package enum GoogleCredentials {
    /// The scope asked for: every Google Cloud API the token's IAM roles allow.
    package static let scope = "https://www.googleapis.com/auth/cloud-platform"

    package static func applicationDefault(
        environment: [String: String], transport: any HTTPTransport, metadata: GCRKeychain
    ) throws(CloudCredentialError) -> any GoogleTokenSource {
        if let named = environment["GOOGLE_APPLICATION_CREDENTIALS"], !named.isEmpty {
            return try fromFile(named, variable: "GOOGLE_APPLICATION_CREDENTIALS", transport: transport)
        }
        let configDirectory =
            environment["CLOUDSDK_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["HOME"].map { "\($0)/.config/gcloud" }
        if let configDirectory {
            let wellKnown = "\(configDirectory)/application_default_credentials.json"
            if FileManager.default.fileExists(atPath: wellKnown) {
                return try fromFile(wellKnown, variable: "gcloud's well-known file", transport: transport)
            }
        }
        return metadata
    }

    static func fromFile(
        _ path: String, variable: String, transport: any HTTPTransport
    ) throws(CloudCredentialError) -> any GoogleTokenSource {
        let who = "Google credentials \(path) (\(variable))"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CloudCredentialError(identity: who, reason: "cannot be read; mount the key file or unset \(variable)")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CloudCredentialError(identity: who, reason: "is not a JSON object")
        }
        switch json["type"] as? String {
        case "service_account":
            return try GoogleServiceAccount(json: json, file: path, transport: transport)
        case "authorized_user":
            return try GoogleAuthorizedUser(json: json, file: path, transport: transport)
        case let other:
            throw CloudCredentialError(
                identity: who,
                reason:
                    "has type \(other.map { "\"\($0)\"" } ?? "(none)"); served: \"service_account\" and \"authorized_user\" (use GKE workload identity through the metadata server for the rest)"
            )
        }
    }

    /// The token endpoint named in a credentials file: https, or http to a loopback address only (a test's).
    static func tokenEndpoint(_ text: String?, who: String) throws(CloudCredentialError) -> URL {
        let value = text ?? "https://oauth2.googleapis.com/token"
        guard let url = URL(string: value), let host = url.host,
            url.scheme == "https" || (url.scheme == "http" && ["127.0.0.1", "localhost", "::1"].contains(host))
        else {
            throw CloudCredentialError(
                identity: who, reason: "token_uri \(value) is not an https URL (plain http only to loopback)")
        }
        return url
    }

    /// Posts a form to the token endpoint and reads `access_token`/`expires_in`. Google's error (`error`,
    /// `error_description`) is quoted; nothing sent is.
    static func exchange(
        _ form: [(String, String)], at endpoint: URL, via transport: any HTTPTransport, who: String
    ) async throws(CloudCredentialError) -> (token: String, until: Date) {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = form.map {
            "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }.joined(separator: "&")
        let request = HTTPRequest(
            method: "POST", url: endpoint, headers: ["Content-Type": "application/x-www-form-urlencoded"],
            body: Data(body.utf8))
        let (response, json) = try await CloudCall.send(
            request, via: transport, identity: who, peer: endpoint.absoluteString)
        guard response.status == 200, let token = json["access_token"] as? String, !token.isEmpty else {
            let detail = [json["error"] as? String, json["error_description"] as? String].compactMap { $0 }
            throw CloudCredentialError(
                identity: who,
                reason:
                    "the token endpoint \(endpoint.absoluteString) answered HTTP \(response.status)\(detail.isEmpty ? " without an access_token" : ": " + detail.joined(separator: ": "))",
                isRetryable: CloudCall.isBusy(response.status))
        }
        let raw = (json["expires_in"] as? Double) ?? (json["expires_in"] as? Int).map(Double.init) ?? 0
        return (token, Date().addingTimeInterval(raw.isFinite ? min(max(raw, 0), 86_400) : 0))
    }
}

/// A token kept until five minutes before it ends.
final class CachedToken: Sendable {
    let value = Mutex<(token: String, until: Date)?>(nil)

    func get(
        _ fetch: () async throws(CloudCredentialError) -> (token: String, until: Date)
    ) async throws(CloudCredentialError) -> String {
        if let known = value.withLock({ $0 }), known.until.timeIntervalSinceNow > 300 { return known.token }
        let fresh = try await fetch()
        value.withLock { $0 = fresh }
        return fresh.token
    }
}

/// A service account key file: a JWT (RS256, `iss` the account, `aud` the token endpoint, the cloud-platform scope,
/// one hour) signed with the file's private key and exchanged at `token_uri` (RFC 7523 `jwt-bearer` grant). The key
/// never leaves the process.
package final class GoogleServiceAccount: GoogleTokenSource {
    package let email: String
    let keyID: String?
    let key: PrivateKey
    let endpoint: URL
    let file: String
    let transport: any HTTPTransport
    let cache = CachedToken()

    package init(json: [String: Any], file: String, transport: any HTTPTransport) throws(CloudCredentialError) {
        let who = "Google service account key \(file)"
        guard let email = json["client_email"] as? String, !email.isEmpty,
            let pem = json["private_key"] as? String
        else {
            throw CloudCredentialError(identity: who, reason: "has no client_email or private_key")
        }
        do {
            key = try PrivateKey(pem: pem, file: file)
        } catch {
            throw CloudCredentialError(identity: who, reason: "its private_key is not usable: \(error)")
        }
        guard case .rsa = key else {
            throw CloudCredentialError(identity: who, reason: "its private_key is not an RSA key (Google signs RS256)")
        }
        self.email = email
        keyID = json["private_key_id"] as? String
        endpoint = try GoogleCredentials.tokenEndpoint(json["token_uri"] as? String, who: who)
        self.file = file
        self.transport = transport
    }

    package var identity: String { "service account \(email) (key file \(file))" }

    /// The signed assertion sent to the token endpoint.
    package func assertion(now: Date = Date()) throws(CloudCredentialError) -> String {
        let issued = Int(now.timeIntervalSince1970)
        var header: [String: Any] = ["alg": "RS256", "typ": "JWT"]
        if let keyID { header["kid"] = keyID }
        let claims: [String: Any] = [
            "iss": email, "scope": GoogleCredentials.scope, "aud": endpoint.absoluteString, "iat": issued,
            "exp": issued + 3600,
        ]
        func part(_ object: [String: Any]) -> String {
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            return PublicKey.base64URL(data)
        }
        let input = part(header) + "." + part(claims)
        do {
            return input + "." + PublicKey.base64URL(try key.sign(Data(input.utf8), hash: .perCurve))
        } catch {
            throw CloudCredentialError(identity: identity, reason: "cannot sign the token request: \(error)")
        }
    }

    package func bearerToken() async throws(CloudCredentialError) -> String {
        try await cache.get { () async throws(CloudCredentialError) -> (token: String, until: Date) in
            try await GoogleCredentials.exchange(
                [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", try assertion())],
                at: endpoint, via: transport, who: identity)
        }
    }
}

/// gcloud's user credentials (`gcloud auth application-default login`): the refresh token exchanged at the token
/// endpoint (`refresh_token` grant) with the file's OAuth client.
package final class GoogleAuthorizedUser: GoogleTokenSource {
    let clientID: String
    let clientSecret: String
    let refreshToken: String
    let endpoint: URL
    let file: String
    let transport: any HTTPTransport
    let cache = CachedToken()

    package init(json: [String: Any], file: String, transport: any HTTPTransport) throws(CloudCredentialError) {
        let who = "Google user credentials \(file)"
        guard let id = json["client_id"] as? String, let secret = json["client_secret"] as? String,
            let refresh = json["refresh_token"] as? String, !refresh.isEmpty
        else {
            throw CloudCredentialError(identity: who, reason: "has no client_id, client_secret or refresh_token")
        }
        (clientID, clientSecret, refreshToken) = (id, secret, refresh)
        endpoint = try GoogleCredentials.tokenEndpoint(json["token_uri"] as? String, who: who)
        self.file = file
        self.transport = transport
    }

    package var identity: String { "gcloud user credentials (file \(file))" }

    package func bearerToken() async throws(CloudCredentialError) -> String {
        try await cache.get { () async throws(CloudCredentialError) -> (token: String, until: Date) in
            try await GoogleCredentials.exchange(
                [
                    ("grant_type", "refresh_token"), ("client_id", clientID), ("client_secret", clientSecret),
                    ("refresh_token", refreshToken),
                ], at: endpoint, via: transport, who: identity)
        }
    }
}
