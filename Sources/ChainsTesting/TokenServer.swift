import Crypto
import Foundation
import Synchronization

/// A registry token server (distribution's `auth.token` protocol) for tests: ES256 JWTs with an `x5c` header, the
/// `access` claim and `aud` as a string (what registry 2.8 requires). Users and their rights are configured per test;
/// GET with Basic credentials and the OAuth2 `grant_type=refresh_token` POST are both served.
package final class TokenServer: Sendable {
    package struct User: Sendable {
        package var password: String
        /// Repository prefix → allowed actions (`["pull"]`, `["pull", "push"]`).
        package var rights: [String: [String]]
        package init(password: String, rights: [String: [String]]) {
            self.password = password
            self.rights = rights
        }
    }

    package struct Stats: Sendable {
        package var gets = 0
        package var posts = 0
        package var refused = 0
        /// Every token answered (scanned for in what a test's code printed: tokens are credentials too).
        package var issued: [String] = []
    }

    let server: TestHTTPServer
    let key: P256.Signing.PrivateKey
    let certificateDER: Data
    package let issuer = "chains-test-issuer"
    package let service: String
    struct Config {
        var users: [String: User]
        var anonymous: [String: [String]]
        var refreshTokens: [String: String] = [:]
        var expiresIn = 300
        var stats = Stats()
        var jwtLifetime: Int?
    }
    let config: Mutex<Config>

    package var port: Int { server.port }
    package var realm: String { "http://127.0.0.1:\(server.port)/token" }

    /// `keyPEM`/`certificatePEM`: the signing key and its self-signed certificate (also the registry's rootcertbundle).
    package init(
        service: String, keyPEM: String, certificatePEM: String, users: [String: User],
        anonymous: [String: [String]] = [:]
    ) async throws {
        self.service = service
        key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
        let body = certificatePEM.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let der = Data(base64Encoded: body) else { throw MissingTool(description: "bad certificate PEM") }
        certificateDER = der
        config = Mutex(Config(users: users, anonymous: anonymous))
        let box = HandlerBox()
        server = try await TestHTTPServer { request in await box.handle(request) }
        box.owner.withLock { $0 = self }
    }

    final class HandlerBox: Sendable {
        let owner = Mutex<TokenServer?>(nil)
        func handle(_ r: ServedRequest) async -> ServedResponse {
            guard let server = owner.withLock({ $0 }) else { return ServedResponse(status: 503) }
            return server.handle(r)
        }
    }

    package var stats: Stats { config.withLock { $0.stats } }
    package func setExpiresIn(_ seconds: Int) { config.withLock { $0.expiresIn = seconds } }
    /// Makes the JWT itself expire after `seconds` while `expires_in` still says otherwise: a token that dies at
    /// the registry before the client expects it to.
    package func setJWTLifetime(_ seconds: Int?) { config.withLock { $0.jwtLifetime = seconds } }
    package func setUser(_ name: String, _ user: User?) { config.withLock { $0.users[name] = user } }
    /// Issues a refresh token (what docker puts in `identitytoken` after `docker login` to an OAuth registry).
    package func issueRefreshToken(for user: String) -> String {
        let token = "rt-" + UUID().uuidString
        config.withLock { $0.refreshTokens[token] = user }
        return token
    }

    func handle(_ r: ServedRequest) -> ServedResponse {
        guard r.path == "/token" else { return ServedResponse(status: 404) }
        var params = r.query
        var user: String?
        if r.method == "POST" {
            config.withLock { $0.stats.posts += 1 }
            let form = URLComponents(string: "http://x/?" + String(decoding: r.body, as: UTF8.self))?.queryItems ?? []
            params = [:]
            for item in form { params[item.name, default: []].append(item.value ?? "") }
            guard params["grant_type"]?.first == "refresh_token", let rt = params["refresh_token"]?.first,
                let owner = config.withLock({ $0.refreshTokens[rt] })
            else { return refuse() }
            user = owner
            // Scopes arrive space-separated in one field.
            params["scope"] = (params["scope"]?.first ?? "").split(separator: " ").map(String.init)
        } else {
            config.withLock { $0.stats.gets += 1 }
            if let auth = r.header("Authorization") {
                guard auth.hasPrefix("Basic "), let decoded = Data(base64Encoded: String(auth.dropFirst(6))),
                    let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
                else { return refuse() }
                let name = String(text[..<colon])
                let password = String(text[text.index(after: colon)...])
                guard config.withLock({ $0.users[name]?.password == password }) else { return refuse() }
                user = name
            }
        }
        guard params["service"]?.first == service else {
            return ServedResponse.json(400, #"{"error":"unknown service"}"#)
        }
        var access: [[String: Any]] = []
        for scope in params["scope"] ?? [] {
            let parts = scope.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count >= 3, parts[0] == "repository" else { continue }
            let name = parts[1..<(parts.count - 1)].joined(separator: ":")
            let wanted = parts[parts.count - 1].split(separator: ",").map(String.init)
            let allowed = rights(user: user, repository: name)
            let granted = wanted.filter { allowed.contains($0) }
            access.append(["type": "repository", "name": name, "actions": granted])
        }
        let (expiresIn, jwtLifetime) = config.withLock { ($0.expiresIn, $0.jwtLifetime) }
        let token = jwt(subject: user ?? "", access: access, lifetime: jwtLifetime ?? expiresIn)
        config.withLock { $0.stats.issued.append(token) }
        var response: [String: Any] = [
            "token": token, "access_token": token, "expires_in": expiresIn,
            "issued_at": ISO8601DateFormatter().string(from: Date()),
        ]
        if r.method == "POST", let user { response["refresh_token"] = issueRefreshToken(for: user) }
        let body = try! JSONSerialization.data(withJSONObject: response)
        return ServedResponse(status: 200, headers: [("Content-Type", "application/json")], body: body)
    }

    func refuse() -> ServedResponse {
        config.withLock { $0.stats.refused += 1 }
        return ServedResponse.json(401, #"{"details":"invalid username/password"}"#)
    }

    func rights(user: String?, repository: String) -> [String] {
        config.withLock { c in
            let table = user.flatMap { c.users[$0]?.rights } ?? c.anonymous
            return table.filter { repository.hasPrefix($0.key) }.max { $0.key.count < $1.key.count }?.value ?? []
        }
    }

    func jwt(subject: String, access: [[String: Any]], lifetime: Int) -> String {
        func b64url(_ d: Data) -> String {
            d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let now = Int(Date().timeIntervalSince1970)
        let header: [String: Any] = ["alg": "ES256", "typ": "JWT", "x5c": [certificateDER.base64EncodedString()]]
        let claims: [String: Any] = [
            "iss": issuer, "sub": subject, "aud": service, "exp": now + lifetime, "nbf": now - 10, "iat": now,
            "jti": UUID().uuidString, "access": access,
        ]
        let h = b64url(try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        let c = b64url(try! JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]))
        let signature = try! key.signature(for: Data("\(h).\(c)".utf8))
        return "\(h).\(c).\(b64url(signature.rawRepresentation))"
    }

    package func stop() async { await server.stop() }
}
