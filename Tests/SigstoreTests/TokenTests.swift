import ChainsTesting
import Foundation
import HTTPTransport
import Testing

@testable import Sigstore

@Suite("Identity tokens")
struct TokenTests {
    let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)

    @Test("claims are read; expiry and audience are checked before Fulcio is called; the token never prints")
    func claims() throws {
        let jwt = issuer.token(subject: "system:serviceaccount:tekton-chains:tekton-chains-controller")
        let token = try IdentityToken(jwt: jwt, source: "test")
        #expect(token.issuer == issuer.url && token.audiences == ["sigstore"])
        #expect(try token.challenge() == "system:serviceaccount:tekton-chains:tekton-chains-controller")
        try token.check(audience: "sigstore", now: Date())
        #expect(!token.description.contains(jwt) && !"\(token)".contains(jwt.split(separator: ".")[2]))
        #expect(throws: IdentityTokenError.self) { try token.check(audience: "sigstore", now: Date() + 601) }
        let wrong = try IdentityToken(jwt: issuer.token(subject: "x", audience: "kubernetes"), source: "test")
        #expect {
            try wrong.check(audience: "sigstore", now: Date())
        } throws: { ($0 as? IdentityTokenError)?.code == .wrongAudience && "\($0)".contains("kubernetes") }
        #expect(throws: IdentityTokenError.self) { try IdentityToken(jwt: "not-a-jwt", source: "test") }
    }

    @Test("an email identity signs its email, only when verified")
    func emailChallenge() throws {
        let mail = TestOIDCIssuer(url: "https://accounts.example.com", kind: .email)
        #expect(
            try IdentityToken(jwt: mail.token(subject: "dev@example.com"), source: "t").challenge() == "dev@example.com"
        )
        let unverified = try IdentityToken(
            jwt: mail.token(subject: "dev@example.com", extra: ["email_verified": false]), source: "t")
        #expect { try unverified.challenge() } throws: { ($0 as? IdentityTokenError)?.code == .unverifiedEmail }
    }

    @Test("the token file is re-read on every call (projected tokens rotate)")
    func fileRotates() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("oidc-token").path
        let provider = FileTokenProvider(path: path)
        #expect(try await provider.token(audience: "sigstore") == nil)
        try dir.write("oidc-token", issuer.token(subject: "system:serviceaccount:a:one"))
        #expect(try await provider.token(audience: "sigstore")?.subject == "system:serviceaccount:a:one")
        try dir.write("oidc-token", issuer.token(subject: "system:serviceaccount:a:two"))
        #expect(try await provider.token(audience: "sigstore")?.subject == "system:serviceaccount:a:two")
    }

    @Test("provider names: cosign's, Chains' documented aliases, the token file forcing filesystem, unknown refused")
    func names() throws {
        let none = NoNetwork()
        func names(_ provider: String, file: String = "") throws -> [String] {
            try IdentityTokenProviders.make(provider: provider, tokenFile: file, transport: none, environment: [:])
                .map(\.name)
        }
        #expect(try names("") == ["github-actions", "envvar", "filesystem", "google-workload-identity"])
        #expect(try names("github") == ["github-actions"])
        #expect(try names("google") == ["google-workload-identity"])
        #expect(try names("", file: "/tmp/t") == ["filesystem"])
        #expect(try names("spiffe") == ["spiffe"])
        #expect { try names("okta") } throws: { ($0 as? IdentityTokenError)?.code == .providerUnknown }
    }

    @Test("the first provider with a token wins; none at all is an error that says where to put one")
    func order() async throws {
        let env = ["SIGSTORE_ID_TOKEN": issuer.token(subject: "system:serviceaccount:a:env")]
        let providers = try IdentityTokenProviders.make(
            provider: "", tokenFile: "", transport: NoNetwork(), environment: env)
        let token = try await IdentityTokenProviders.firstToken(
            from: providers.filter { $0.name != "google-workload-identity" }, audience: "sigstore", now: Date())
        #expect(token.source == "envvar SIGSTORE_ID_TOKEN")
        await #expect {
            _ = try await IdentityTokenProviders.firstToken(
                from: [FileTokenProvider(path: "/nonexistent/token")], audience: "sigstore", now: Date())
        } throws: { "\($0)".contains("signers.x509.identity.token.file") }
        await #expect {
            _ = try await IdentityTokenProviders.firstToken(
                from: [UnbuiltProvider(name: "spiffe")], audience: "sigstore", now: Date())
        } throws: { ($0 as? IdentityTokenError)?.code == .notBuilt }
    }

    @Test("GitHub Actions: the request URL with audience=sigstore and the bearer token; the answer's value")
    func githubActions() async throws {
        let jwt = issuer.token(subject: "repo:org/app:ref:refs/heads/main")
        let server = try await TestHTTPServer { request in
            guard request.query["audience"] == ["sigstore"], request.header("Authorization") == "bearer req-t0ken"
            else { return .json(401, "{}") }
            return .json(200, #"{"value":"\#(jwt)"}"#)
        }
        defer { Task { await server.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let provider = GitHubActionsTokenProvider(
            transport: http,
            environment: [
                "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:\(server.port)/token?api-version=2.0",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "req-t0ken",
            ])
        #expect(try await provider.token(audience: "sigstore")?.subject == "repo:org/app:ref:refs/heads/main")
        #expect(
            try await GitHubActionsTokenProvider(transport: http, environment: [:]).token(audience: "sigstore") == nil)
    }
}

/// A transport for providers that must not reach the network in a test.
struct NoNetwork: HTTPTransport {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        throw TransportError(kind: .connection, host: request.url.hostAndPort, reason: "no network in this test")
    }
}
