import Foundation
import HTTPTransport
import Synchronization

/// An app's access tokens from Microsoft Entra ID (the v2.0 token endpoint, client credentials), as the Azure SDKs'
/// `WorkloadIdentityCredential` and `EnvironmentCredential` get them: `AZURE_CLIENT_ID` in `AZURE_TENANT_ID`, proved
/// with the projected token `AZURE_FEDERATED_TOKEN_FILE` (AKS workload identity, a client assertion) or else with
/// `AZURE_CLIENT_SECRET`; the authority `AZURE_AUTHORITY_HOST` (default `https://login.microsoftonline.com/`, plain
/// http only to this machine). One token per scope, kept until five minutes before its end.
package final class EntraIDCredential: Sendable {
    enum Proof: Sendable {
        case federatedTokenFile(String)
        case clientSecret(String)
    }
    package let clientID: String
    package let tenantID: String
    let proof: Proof
    let authority: String
    let transport: any HTTPTransport
    let tokens = Mutex<[String: (token: String, until: Date)]>([:])
    let requestCount = Mutex(0)

    /// nil unless the client, the tenant and a proof (the federated token file or a client secret) are all set.
    package init?(environment: [String: String], transport: any HTTPTransport) {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let client = value("AZURE_CLIENT_ID"), let tenant = value("AZURE_TENANT_ID") else { return nil }
        if let file = value("AZURE_FEDERATED_TOKEN_FILE") {
            proof = .federatedTokenFile(file)
        } else if let secret = value("AZURE_CLIENT_SECRET") {
            proof = .clientSecret(secret)
        } else {
            return nil
        }
        clientID = client
        tenantID = tenant
        var host = value("AZURE_AUTHORITY_HOST") ?? "https://login.microsoftonline.com/"
        if !host.hasSuffix("/") { host += "/" }
        authority = host
        self.transport = transport
    }

    package var identity: String {
        switch proof {
        case .federatedTokenFile: return "Entra ID app \(clientID) in tenant \(tenantID) (workload identity)"
        case .clientSecret: return "Entra ID app \(clientID) in tenant \(tenantID) (AZURE_CLIENT_SECRET)"
        }
    }

    /// How many tokens were asked of Entra ID (tests, benchmarks).
    package var requests: Int { requestCount.withLock { $0 } }

    /// An access token for `scope` (`https://vault.azure.net/.default`).
    package func token(scope: String) async throws(CloudCredentialError) -> String {
        if let known = tokens.withLock({ $0[scope] }), known.until.timeIntervalSinceNow > 300 { return known.token }
        guard let url = URL(string: "\(authority)\(tenantID)/oauth2/v2.0/token"), let host = url.host,
            url.carriesCredentialsSafely
        else {
            throw CloudCredentialError(
                identity: identity,
                reason: "AZURE_AUTHORITY_HOST \(authority) is not an https URL (plain http only to this machine)")
        }
        var fields = [("client_id", clientID), ("scope", scope), ("grant_type", "client_credentials")]
        switch proof {
        case .federatedTokenFile(let file):
            guard let data = FileManager.default.contents(atPath: file),
                case let assertion = String(decoding: data, as: UTF8.self).trimmingCharacters(
                    in: .whitespacesAndNewlines),
                !assertion.isEmpty
            else {
                throw CloudCredentialError(
                    identity: identity, reason: "cannot read the federated token \(file) (AZURE_FEDERATED_TOKEN_FILE)")
            }
            fields += [
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion),
            ]
        case .clientSecret(let secret):
            fields.append(("client_secret", secret))
        }
        requestCount.withLock { $0 += 1 }
        let json = try await Self.post(
            url, form: fields, via: transport, identity: identity, what: "Entra ID (\(host))")
        guard let token = json["access_token"] as? String, !token.isEmpty else {
            throw CloudCredentialError(identity: identity, reason: "Entra ID answered without an access_token")
        }
        let lifetime = (json["expires_in"] as? Double) ?? (json["expires_in"] as? Int).map(Double.init) ?? 0
        tokens.withLock { $0[scope] = (token, Date().addingTimeInterval(min(max(lifetime, 0), 86_400))) }
        return token
    }

    /// A form `POST` to Entra ID or an Azure service; a refusal reads Entra's `error: error_description` or ACR's
    /// `errors[0]` `code: message`, retryable when the service was busy.
    static func post(
        _ url: URL, form fields: [(String, String)], via transport: any HTTPTransport, identity: String, what: String
    ) async throws(CloudCredentialError) -> [String: Any] {
        let request = HTTPRequest(
            method: "POST", url: url, headers: ["Content-Type": "application/x-www-form-urlencoded"],
            body: Data(form(fields).utf8))
        let (response, json) = try await CloudCall.send(request, via: transport, identity: identity, peer: what)
        guard response.status == 200 else {
            throw CloudCredentialError(
                identity: identity, reason: "\(what) refused: HTTP \(response.status): \(azureError(json, response))",
                isRetryable: CloudCall.isBusy(response.status))
        }
        return json
    }

    /// `application/x-www-form-urlencoded`.
    static func form(_ fields: [(String, String)]) -> String {
        fields.map { "\(SigV4.encode($0.0))=\(SigV4.encode($0.1))" }.joined(separator: "&")
    }

    /// What an Azure service said when it refused: Entra's `{"error", "error_description"}`, ACR's
    /// `{"errors": [{"code", "message"}]}`, Key Vault's `{"error": {"code", "message", "innererror": {"code"}}}`,
    /// else the start of the body.
    static func azureError(_ json: [String: Any], _ response: HTTPResponse) -> String {
        if let entra = json["error"] as? String {
            return [entra, json["error_description"] as? String].compactMap { $0 }.joined(separator: ": ")
        }
        if let object = json["error"] as? [String: Any] {
            let inner = (object["innererror"] as? [String: Any])?["code"] as? String
            let code = [object["code"] as? String, inner].compactMap { $0 }.joined(separator: "/")
            return [code, object["message"] as? String ?? ""].joined(separator: ": ")
        }
        if let first = (json["errors"] as? [[String: Any]])?.first {
            return "\(first["code"] as? String ?? ""): \(first["message"] as? String ?? "")"
        }
        return String(decoding: response.body.prefix(300), as: UTF8.self)
    }
}
