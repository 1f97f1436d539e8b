import Foundation
import HTTPTransport
import Logging
import OCI
import RegistryAuth
import Synchronization

/// Talks to registries: pings, challenges, Basic and Bearer (GET and OAuth2 refresh-token POST) auth, token caching,
/// blobs, manifests, tags and referrers. One instance is shared; it holds the token cache.
package final class RegistryClient: Sendable {
    package let transport: any HTTPTransport
    package let policy: ConnectionPolicy
    let state: ClientState
    let now: @Sendable () -> Date
    let logger: Logger
    package static let clientID = "chains-in-swift"

    package init(
        transport: any HTTPTransport, policy: ConnectionPolicy = .init(),
        now: @escaping @Sendable () -> Date = { Date() },
        logger: Logger? = nil
    ) {
        self.transport = transport
        self.policy = policy
        self.now = now
        self.state = ClientState()
        self.logger = logger ?? Logger(label: "chains.registry", factory: { _ in SwiftLogNoOpLogHandler() })
    }

    /// A session for one repository, one credential and the scopes it needs.
    package func session(repository: ImageReference, credential: Credential, scopes: [String]) -> RegistrySession {
        RegistrySession(
            client: self, registry: repository.registry, repository: repository.repository, credential: credential,
            scopes: scopes)
    }

    func baseURL(_ registry: String) -> URL {
        let scheme = state.scheme(registry) ?? policy.connection(for: registry).scheme
        return URL(string: "\(scheme)://\(registry)")!
    }

    /// Loopback registries (127.0.0.0/8, localhost, ::1) may speak plain HTTP, as go-containerregistry and docker
    /// allow; so may registries configured insecure. Never any other.
    func isLoopback(_ registry: String) -> Bool {
        let host =
            registry.hasPrefix("[")
            ? String(registry.prefix(while: { $0 != "]" }).dropFirst())
            : (registry.split(separator: ":").first.map(String.init) ?? registry)
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    func mayUsePlainHTTP(_ registry: String) -> Bool {
        let connection = policy.connection(for: registry)
        return connection.security == .insecureSkipVerify || (connection.security == .verified && isLoopback(registry))
    }

    /// `GET /v2/`: nil when the registry needs no auth, else its challenge. Cached per registry. For a loopback
    /// registry plain HTTP is asked first (a TLS server answers that at once with 400; a TLS handshake with a plain
    /// server only fails at the connect timeout); for an insecure one HTTPS first, then HTTP.
    func challenge(for registry: String) async throws -> Challenge? {
        if let known = await state.challenge(registry) { return known }
        func ping(_ scheme: String) async throws -> HTTPResponse {
            try await transport.send(HTTPRequest(method: "GET", url: URL(string: "\(scheme)://\(registry)/v2/")!))
        }
        var response: HTTPResponse
        let configured = policy.connection(for: registry).scheme
        if configured == "https" && mayUsePlainHTTP(registry) && isLoopback(registry),
            let plain = try? await ping("http"), plain.status == 200 || plain.status == 401
        {
            response = plain
            state.setScheme(registry, "http")
        } else {
            do {
                response = try await ping(configured)
            } catch let httpsError as TransportError
                where configured == "https" && mayUsePlainHTTP(registry) && !isLoopback(registry)
            {
                guard let plain = try? await ping("http"), plain.status == 200 || plain.status == 401 else {
                    throw httpsError
                }
                response = plain
                state.setScheme(registry, "http")
            }
        }
        let challenge: Challenge?
        switch response.status {
        case 200: challenge = nil
        case 401:
            let parsed = Challenge.parse(response.headers.values("WWW-Authenticate"))
            challenge =
                parsed.first { $0.scheme == "bearer" } ?? parsed.first { $0.scheme == "basic" }
                ?? Challenge(scheme: "basic", parameters: [:])
        default:
            throw RegistryError(
                registry: registry, repository: "", operation: "ping /v2/", status: response.status,
                message: "not an OCI registry answer (expected 200 or 401)")
        }
        await state.setChallenge(registry, challenge)
        return challenge
    }
}

/// Mutable state shared by sessions: challenges per registry, tokens per registry+credential+scopes, refresh
/// tokens handed out by token servers.
actor ClientState {
    /// Schemes learned by pinging (plain HTTP after an HTTPS failure); read synchronously when building URLs.
    nonisolated let schemes = Mutex<[String: String]>([:])
    nonisolated func scheme(_ registry: String) -> String? { schemes.withLock { $0[registry] } }
    nonisolated func setScheme(_ registry: String, _ scheme: String) { schemes.withLock { $0[registry] = scheme } }

    struct Token {
        var value: String
        var expires: Date
    }
    private var challenges: [String: Challenge?] = [:]
    private var tokens: [String: Token] = [:]
    private var refreshTokens: [String: String] = [:]
    private(set) var tokenRequests = 0

    func challenge(_ registry: String) -> Challenge?? {
        if let c = challenges[registry] { return .some(c) }
        return nil
    }
    func setChallenge(_ registry: String, _ c: Challenge?) { challenges[registry] = .some(c) }
    func token(_ key: String, now: Date) -> String? {
        guard let t = tokens[key], t.expires > now else { return nil }
        return t.value
    }
    func setToken(_ key: String, _ token: Token) { tokens[key] = token }
    func dropToken(_ key: String) { tokens[key] = nil }
    func refreshToken(_ credentialKey: String) -> String? { refreshTokens[credentialKey] }
    func setRefreshToken(_ credentialKey: String, _ value: String) { refreshTokens[credentialKey] = value }
    func countTokenRequest() { tokenRequests += 1 }
}

/// Requests against one repository with one credential.
package struct RegistrySession: Sendable {
    let client: RegistryClient
    package let registry: String
    package let repository: String
    let credential: Credential
    let scopes: [String]

    var credentialKey: String {
        // Identifies the credential in caches without keeping its secret as a key in clear.
        let material =
            "\(credential.username)\u{0}\(credential.password)\u{0}\(credential.identityToken)\u{0}\(credential.registryToken)"
        return Digest.sha256(of: Array(material.utf8)).hex
    }

    func tokenKey(_ scopes: [String]) -> String { "\(registry)|\(credentialKey)|\(scopes.joined(separator: " "))" }

    /// The `Authorization` header for a request to the registry, or nil for none.
    func authorization(force: Bool, extraScopes: [String] = [], prepend: Bool = true) async throws -> String? {
        guard let challenge = try await client.challenge(for: registry) else { return nil }
        if challenge.scheme == "basic" {
            guard !credential.username.isEmpty || !credential.password.isEmpty else { return nil }
            return "Basic " + Data("\(credential.username):\(credential.password)".utf8).base64EncodedString()
        }
        if !credential.registryToken.isEmpty { return "Bearer \(credential.registryToken)" }
        var wanted = scopes
        // Scopes a challenge asked for go first (some registries read only the first); a mount source's pull goes
        // after the target's push.
        for s in extraScopes where !wanted.contains(s) {
            if prepend { wanted.insert(s, at: 0) } else { wanted.append(s) }
        }
        let key = tokenKey(wanted)
        if !force, let cached = await client.state.token(key, now: client.now()) { return "Bearer \(cached)" }
        let token = try await fetchToken(challenge: challenge, scopes: wanted)
        await client.state.setToken(key, token)
        return "Bearer \(token.value)"
    }

    /// GET with Basic credentials, or OAuth2 POST with `grant_type=refresh_token` for identity tokens.
    func fetchToken(challenge: Challenge, scopes: [String]) async throws -> ClientState.Token {
        guard let realmText = challenge.realm, let realm = URL(string: realmText), let realmHost = realm.host,
            !realmHost.isEmpty
        else {
            throw TokenError(
                registry: registry, realm: challenge.realm ?? "<none>", status: nil,
                reason: "the Bearer challenge has no valid realm")
        }
        let connection = client.policy.connection(for: registry)
        let registryOverHTTP = client.baseURL(registry).scheme == "http"
        if realm.scheme != "https" && !(registryOverHTTP || connection.security == .insecureSkipVerify) {
            throw TokenError(
                registry: registry, realm: realmText, status: nil,
                reason:
                    "the token realm is plain http for an https registry; credentials are not sent over plain http unless the registry is configured insecure"
            )
        }
        await client.state.countTokenRequest()
        let asked = client.now()
        let service = challenge.service ?? ""
        let refresh = await client.state.refreshToken(credentialKey)
        let identityToken = refresh ?? (credential.identityToken.isEmpty ? nil : credential.identityToken)
        var response: HTTPResponse
        if let identityToken {
            var form = URLComponents()
            form.queryItems = [
                .init(name: "grant_type", value: "refresh_token"), .init(name: "refresh_token", value: identityToken),
                .init(name: "service", value: service), .init(name: "client_id", value: RegistryClient.clientID),
                .init(name: "scope", value: scopes.joined(separator: " ")),
            ]
            let body = Data((form.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B").utf8)
            response = try await client.transport.send(
                HTTPRequest(
                    method: "POST", url: realm, headers: ["Content-Type": "application/x-www-form-urlencoded"],
                    body: body))
            if response.status == 404 || response.status == 405 {
                response = try await getToken(realm: realm, service: service, scopes: scopes)
            }
        } else {
            response = try await getToken(realm: realm, service: service, scopes: scopes)
        }
        guard response.status == 200 else {
            let reason: String
            switch response.status {
            case 401:
                reason =
                    credential.isAnonymous ? "anonymous access refused" : "the credentials were refused (\(credential))"
            case 403: reason = "access denied for \(credential)"
            default: reason = "unexpected answer"
            }
            throw TokenError(registry: registry, realm: realm.redactedForLog, status: response.status, reason: reason)
        }
        guard let answer = Self.tokenAnswer(response.body) else {
            throw TokenError(
                registry: registry, realm: realm.redactedForLog, status: 200, reason: "the answer has no token",
                malformedAnswer: true)
        }
        if let newRefresh = answer.refreshToken {
            await client.state.setRefreshToken(credentialKey, newRefresh)
        }
        let lifetime = answer.lifetime
        // The token's life counts from when we asked for it, by our clock: the server's `issued_at` is on its clock,
        // and a skew larger than the lifetime would make every token look expired on arrival.
        let issued = asked
        // Refresh early: a token is not used in its last tenth of life (at most 30 s before expiry).
        let margin = min(30, lifetime / 10)
        return ClientState.Token(value: answer.token, expires: issued.addingTimeInterval(lifetime - margin))
    }

    /// A token server's answer (distribution's token spec): `token` or `access_token`, optional `refresh_token`,
    /// `expires_in` seconds (at least 60, as the spec says to assume). Read from the first 64 KiB only.
    package static func tokenAnswer(_ body: Data) -> (token: String, refreshToken: String?, lifetime: Double)? {
        guard let json = try? JSONSerialization.jsonObject(with: body.prefix(64 * 1024)) as? [String: Any],
            let value = (json["access_token"] as? String).flatMap({ $0.isEmpty ? nil : $0 })
                ?? (json["token"] as? String),
            !value.isEmpty
        else { return nil }
        let refresh = (json["refresh_token"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        let seconds = (json["expires_in"] as? NSNumber)?.doubleValue ?? 60
        return (value, refresh, seconds.isFinite ? max(seconds, 60) : 60)
    }

    func getToken(realm: URL, service: String, scopes: [String]) async throws -> HTTPResponse {
        var components = URLComponents(url: realm, resolvingAgainstBaseURL: false)!
        var items = components.queryItems ?? []
        if !service.isEmpty { items.append(.init(name: "service", value: service)) }
        for scope in scopes { items.append(.init(name: "scope", value: scope)) }
        if !credential.username.isEmpty && credential.username != "<token>" {
            items.append(.init(name: "account", value: credential.username))
        }
        components.queryItems = items
        var headers = HTTPHeaders()
        if !credential.username.isEmpty || !credential.password.isEmpty {
            // The token protocol sends the user's credentials to the realm, which may be another host.
            headers["Authorization"] =
                "Basic " + Data("\(credential.username):\(credential.password)".utf8).base64EncodedString()
        }
        return try await client.transport.send(HTTPRequest(method: "GET", url: components.url!, headers: headers))
    }

    /// Sends a request to the registry with auth; on a 401 with a new challenge, fetches a fresh token (adding the
    /// scope the registry asked for) and retries once.
    package func send(
        _ method: String, _ url: URL, headers: HTTPHeaders = [:], body: Data? = nil, extraScopes: [String] = []
    ) async throws -> HTTPResponse {
        let sameHost = url.hostAndPort == registry
        var url = url
        if sameHost {
            // The ping decides the scheme (a loopback registry may be plain HTTP); URLs made before it follow.
            _ = try await client.challenge(for: registry)
            let scheme = client.baseURL(registry).scheme
            if url.scheme != scheme, var c = URLComponents(url: url, resolvingAgainstBaseURL: false) {
                c.scheme = scheme
                url = c.url ?? url
            }
        }
        var request = HTTPRequest(method: method, url: url, headers: headers, body: body)
        if sameHost, let auth = try await authorization(force: false, extraScopes: extraScopes, prepend: false) {
            request.headers["Authorization"] = auth
        }
        var response = try await client.transport.send(request)
        if response.status == 401, sameHost {
            let challenge = Challenge.parse(response.headers.values("WWW-Authenticate")).first
            // An insufficient_scope answer to a fresh token will not change with another fetch.
            if challenge?.scheme == "bearer", credential.registryToken.isEmpty {
                await client.state.dropToken(tokenKey(scopes))
                let extra = challenge?.scopes.filter { !scopes.contains($0) } ?? []
                if let auth = try await authorization(force: true, extraScopes: extra) {
                    request.headers["Authorization"] = auth
                    response = try await client.transport.send(request)
                }
            }
        }
        return response
    }

    func url(_ path: String, query: [URLQueryItem] = []) -> URL {
        var c = URLComponents(url: client.baseURL(registry), resolvingAgainstBaseURL: false)!
        c.path = "/v2/\(repository)/\(path)"
        if !query.isEmpty { c.queryItems = query }
        return c.url!
    }

    func fail(_ response: HTTPResponse, _ operation: String) -> RegistryError {
        RegistryError.from(response, registry: registry, repository: repository, operation: operation)
    }
}
