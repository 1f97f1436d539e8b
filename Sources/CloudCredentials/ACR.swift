import Foundation
import HTTPTransport
import RegistryAuth
import Synchronization

/// Azure Container Registry (`*.azurecr.io`, `.azurecr.cn`, `.azurecr.us`) with AKS workload identity: the projected
/// token (`AZURE_FEDERATED_TOKEN_FILE`) is a client assertion for the app `AZURE_CLIENT_ID` in `AZURE_TENANT_ID` at
/// Entra ID (`AZURE_AUTHORITY_HOST`, default `https://login.microsoftonline.com/`); the Entra access token is
/// exchanged at the registry's `POST /oauth2/exchange` for an ACR refresh token, used as the password of user
/// `00000000-0000-0000-0000-000000000000` (as `docker login` takes it). Both are kept until near their end.
public final class ACRKeychain: CloudKeychain {
    public let name = "ACR"
    static let nullUser = "00000000-0000-0000-0000-000000000000"
    let clientID: String
    let tenantID: String
    let tokenFile: String
    let authority: String
    /// Entra ID (the cloud's client).
    let cloud: any HTTPTransport
    /// The registry itself (its TLS settings and connection rules): the exchange is a request to the registry.
    let registry: any HTTPTransport
    let entra = Mutex<(token: String, until: Date)?>(nil)
    let refresh = Mutex<[String: (credential: Credential, until: Date)]>([:])

    /// nil unless the workload identity webhook's three variables are set.
    public init?(environment: [String: String], cloud: any HTTPTransport, registry: any HTTPTransport) {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let client = value("AZURE_CLIENT_ID"), let tenant = value("AZURE_TENANT_ID"),
            let file = value("AZURE_FEDERATED_TOKEN_FILE")
        else { return nil }
        clientID = client
        tenantID = tenant
        tokenFile = file
        var host = value("AZURE_AUTHORITY_HOST") ?? "https://login.microsoftonline.com/"
        if !host.hasSuffix("/") { host += "/" }
        authority = host
        self.cloud = cloud
        self.registry = registry
    }

    public var identity: String { "Entra ID app \(clientID) in tenant \(tenantID) (workload identity)" }

    public func handles(registry: String) -> Bool {
        let host = registry.split(separator: ":", maxSplits: 1).first.map { $0.lowercased() } ?? ""
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count == 3 && !labels[0].isEmpty && labels[1] == "azurecr"
            && ["io", "cn", "us"].contains(labels[2])
    }

    public func credential(for registry: String) async throws(CredentialWarning) -> SourcedCredential? {
        guard handles(registry: registry) else { return nil }
        let source = CredentialSource(kind: .cloudKeychain, origin: "ACR, \(identity)", key: registry)
        if let known = refresh.withLock({ $0[registry] }), known.until.timeIntervalSinceNow > 300 {
            return SourcedCredential(known.credential, source: source)
        }
        do {
            let access = try await entraToken()
            let (credential, until) = try await exchange(access, at: registry)
            refresh.withLock { $0[registry] = (credential, until) }
            return SourcedCredential(credential, source: source)
        } catch {
            throw CredentialWarning(
                source: "ACR for \(registry)", message: error.description, isTransient: error.isRetryable)
        }
    }

    /// An Entra access token for the app, from the federated token (client credentials with a JWT assertion).
    func entraToken() async throws(CloudCredentialError) -> String {
        if let known = entra.withLock({ $0 }), known.until.timeIntervalSinceNow > 300 { return known.token }
        guard let data = FileManager.default.contents(atPath: tokenFile),
            case let assertion = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
            !assertion.isEmpty
        else {
            throw CloudCredentialError(
                identity: identity, reason: "cannot read the federated token \(tokenFile) (AZURE_FEDERATED_TOKEN_FILE)")
        }
        guard let url = URL(string: "\(authority)\(tenantID)/oauth2/v2.0/token") else {
            throw CloudCredentialError(identity: identity, reason: "AZURE_AUTHORITY_HOST is not a URL")
        }
        let body = Self.form([
            ("client_id", clientID), ("scope", "https://management.azure.com/.default"),
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion),
        ])
        let json = try await post(url, body, via: cloud, what: "Entra ID")
        guard let token = json["access_token"] as? String, !token.isEmpty else {
            throw CloudCredentialError(identity: identity, reason: "Entra ID answered without an access_token")
        }
        let lifetime = (json["expires_in"] as? Double) ?? (json["expires_in"] as? Int).map(Double.init) ?? 0
        entra.withLock { $0 = (token, Date().addingTimeInterval(min(max(lifetime, 0), 86_400))) }
        return token
    }

    func exchange(_ access: String, at registry: String) async throws(CloudCredentialError) -> (Credential, Date) {
        let host = String(registry.split(separator: ":", maxSplits: 1).first ?? "")
        guard let url = URL(string: "https://\(registry)/oauth2/exchange") else {
            throw CloudCredentialError(identity: identity, reason: "\(registry) is not a registry host")
        }
        let body = Self.form([
            ("grant_type", "access_token"), ("service", host), ("tenant", tenantID), ("access_token", access),
        ])
        let json = try await post(url, body, via: self.registry, what: "\(registry)/oauth2/exchange")
        guard let token = json["refresh_token"] as? String, !token.isEmpty else {
            throw CloudCredentialError(
                identity: identity, reason: "\(registry) answered the exchange without a refresh_token")
        }
        // ACR refresh tokens last three hours; a JWT's own exp wins when it says less.
        let until = Self.expiry(ofJWT: token) ?? Date().addingTimeInterval(3 * 3600)
        return (Credential(username: Self.nullUser, password: token), until)
    }

    func post(
        _ url: URL, _ body: String, via transport: any HTTPTransport, what: String
    ) async throws(CloudCredentialError) -> [String: Any] {
        let request = HTTPRequest(
            method: "POST", url: url, headers: ["Content-Type": "application/x-www-form-urlencoded"],
            body: Data(body.utf8))
        let (response, json) = try await CloudCall.send(request, via: transport, identity: identity, peer: what)
        guard response.status == 200 else {
            // Entra: {"error", "error_description": "AADSTS…"}; ACR: {"errors": [{"code", "message"}]}.
            let entraError = [json["error"] as? String, json["error_description"] as? String].compactMap { $0 }
            let acrError = ((json["errors"] as? [[String: Any]])?.first).map {
                "\($0["code"] as? String ?? ""): \($0["message"] as? String ?? "")"
            }
            let detail =
                entraError.isEmpty
                ? (acrError ?? String(decoding: response.body.prefix(300), as: UTF8.self))
                : entraError.joined(separator: ": ")
            throw CloudCredentialError(
                identity: identity, reason: "\(what) refused: HTTP \(response.status): \(detail)",
                isRetryable: CloudCall.isBusy(response.status))
        }
        return json
    }

    static func form(_ fields: [(String, String)]) -> String {
        fields.map { "\(SigV4.encode($0.0))=\(SigV4.encode($0.1))" }.joined(separator: "&")
    }

    /// A JWT's `exp`, when the token is one.
    static func expiry(ofJWT token: String) -> Date? {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { return nil }
        var b64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64),
            let claims = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let exp = claims["exp"] as? Double, exp.isFinite
        else { return nil }
        return Date(timeIntervalSince1970: exp)
    }
}
