import Foundation
import HTTPTransport
import Synchronization

/// Microsoft Entra ID's v2.0 token endpoint for workload identity federation, from Microsoft's reference ("OAuth 2.0
/// client credentials flow", "Workload identity federation"): `POST /{tenant}/oauth2/v2.0/token`, form fields
/// `client_id`, `scope`, `grant_type=client_credentials`,
/// `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`, `client_assertion`. Errors as Entra
/// sends them: `{"error", "error_description": "AADSTS…"}` — an unknown tenant (400 AADSTS90002), an unknown app
/// (400 AADSTS700016), an assertion no federated credential matches (401 AADSTS70021). With `clientSecret`, the app
/// may also prove itself with `client_secret` (a wrong one: 401 AADSTS7000215).
package final class EntraIDSimulator: Sendable {
    let server: TestHTTPServer
    let issuedTokens: Locked<[(token: String, scope: String)]>
    package let tenant: String
    package let clientID: String
    /// `AZURE_AUTHORITY_HOST`.
    package var authority: String { "http://127.0.0.1:\(server.port)/" }
    package var issued: [String] { issuedTokens.withLock { $0.map(\.token) } }
    /// The scope a token was issued for (`https://vault.azure.net/.default`), nil for one not issued here.
    package func scope(of token: String) -> String? {
        issuedTokens.withLock { issued in issued.first { $0.token == token }?.scope }
    }

    package init(tenant: String, clientID: String, federatedToken: String, clientSecret: String? = nil) async throws {
        self.tenant = tenant
        self.clientID = clientID
        let issued = Locked<[(token: String, scope: String)]>([])
        issuedTokens = issued
        server = try await TestHTTPServer { request in
            func error(_ status: Int, _ code: String, _ text: String) -> ServedResponse {
                .json(status, object: ["error": code, "error_description": text])
            }
            let form = FormFields(request.body)
            guard request.method == "POST", request.uri == "/\(tenant)/oauth2/v2.0/token" else {
                return error(400, "invalid_request", "AADSTS90002: Tenant not found. Check the tenant id.")
            }
            let bySecret = form["client_secret"] != nil && form["client_assertion"] == nil
            guard form["grant_type"] == "client_credentials",
                bySecret || form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            else {
                return error(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
            }
            guard form["client_id"] == clientID else {
                return error(400, "unauthorized_client", "AADSTS700016: Application not found in the directory.")
            }
            guard let scope = form["scope"], scope.hasSuffix("/.default") else {
                return error(400, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid.")
            }
            if bySecret {
                guard let clientSecret, form["client_secret"] == clientSecret else {
                    return error(
                        401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
                }
            } else if form["client_assertion"] != federatedToken {
                return error(
                    401, "invalid_client",
                    "AADSTS70021: No matching federated identity record found for presented assertion.")
            }
            let token = "eyJ0eXAiOiJKV1QifQ.entra-\(UUID().uuidString).sig"
            issued.withLock { $0.append((token, scope)) }
            let body: [String: Any] = [
                "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token,
            ]
            return .json(200, object: body)
        }
    }

    package func stop() async { await server.stop() }
}

/// Azure Container Registry's front, from ACR's AAD-OAuth reference: `POST /oauth2/exchange` with
/// `grant_type=access_token`, `service`, `tenant`, `access_token` (an Entra token it trusts) answers
/// `{"refresh_token"}`; a token it does not know (or one Entra issued for another resource than Azure Resource
/// Manager): 401 `{"errors": [{"code": "UNAUTHORIZED", …}]}`. Everything else is
/// forwarded to a real `docker-registry` that accepts the refresh token as the password of the null user, as ACR's
/// token endpoint does. Serves TLS for the registry's name.
package final class ACRSimulator: Sendable {
    let server: TestHTTPServer
    let transport: AsyncHTTPClientTransport
    let exchanges: Locked<Int>
    package var port: Int { server.port }
    package var exchangeCount: Int { exchanges.withLock { $0 } }

    package init(
        name: String, upstream: String, tls: TestCA, refreshToken: String, trusts entra: EntraIDSimulator
    ) async throws {
        let transport = try AsyncHTTPClientTransport(policy: .init(default: .init(.plainHTTP)))
        self.transport = transport
        let count = Locked<Int>(0)
        exchanges = count
        server = try await TestHTTPServer(tls: (tls.serverCertificate, tls.serverKey)) { request in
            guard request.uri.hasPrefix("/oauth2/exchange") else {
                return await FaultProxy.forward(request, upstream: upstream, transport: transport)
            }
            count.withLock { $0 += 1 }
            let form = FormFields(request.body)
            guard request.method == "POST", form["grant_type"] == "access_token", form["service"] == name,
                let access = form["access_token"],
                entra.scope(of: access) == "https://management.azure.com/.default"
            else {
                let body = #"{"errors":[{"code":"UNAUTHORIZED","message":"the access token was not accepted"}]}"#
                return .json(401, body)
            }
            return .json(200, #"{"refresh_token":"\#(refreshToken)"}"#)
        }
    }

    package func stop() async {
        await server.stop()
        try? await transport.shutdown()
    }
}

/// `application/x-www-form-urlencoded` fields.
struct FormFields {
    var fields: [String: String] = [:]
    init(_ body: Data) {
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            let decode = { (s: String) in s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? s }
            fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
    }
    subscript(name: String) -> String? { fields[name] }
}

/// A value behind a lock, shareable with a server's handler.
final class Locked<Value: Sendable>: Sendable {
    let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout sending Value) -> sending R) -> R { mutex.withLock(body) }
}
