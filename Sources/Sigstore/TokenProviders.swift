import Foundation
import HTTPTransport

/// Where identity tokens come from. `token()` answers nil when the provider is not available in this environment
/// (no file, no variable), and throws when it is available but fails.
package protocol IdentityTokenProvider: Sendable {
    /// cosign's registered name: `filesystem`, `envvar`, `github-actions`, `google-workload-identity`, `spiffe`.
    var name: String { get }
    func token(audience: String) async throws -> IdentityToken?
    /// When `token` answers nil: why, if there is something worth telling (the SPIFFE socket tried and what is
    /// wrong with it). Said in the "no identity token found" error.
    func absence() -> String?
}

extension IdentityTokenProvider {
    package func absence() -> String? { nil }
}

/// A token file, re-read on every call (projected ServiceAccount tokens rotate). Default: the path the Chains
/// Deployment projects, `/var/run/sigstore/cosign/oidc-token`.
package struct FileTokenProvider: IdentityTokenProvider {
    package static let defaultPath = "/var/run/sigstore/cosign/oidc-token"
    package let name = "filesystem"
    package var path: String
    package init(path: String = FileTokenProvider.defaultPath) { self.path = path }

    package func token(audience: String) async throws -> IdentityToken? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw IdentityTokenError(.unavailable, source: "\(name) \(path)", reason: "the file cannot be read")
        }
        return try IdentityToken(jwt: String(decoding: data, as: UTF8.self), source: "\(name) \(path)")
    }
}

/// A token given on the command line (`sign-bundle --identity-token`, as the conformance suite passes it).
package struct GivenTokenProvider: IdentityTokenProvider {
    package let name = "--identity-token"
    let jwt: String
    package init(jwt: String) { self.jwt = jwt }

    package func token(audience: String) async throws -> IdentityToken? {
        try IdentityToken(jwt: jwt, source: name)
    }
}

/// `SIGSTORE_ID_TOKEN`, as cosign's `envvar` provider reads it.
package struct EnvironmentTokenProvider: IdentityTokenProvider {
    package let name = "envvar"
    let environment: [String: String]
    package init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    package func token(audience: String) async throws -> IdentityToken? {
        guard let value = environment["SIGSTORE_ID_TOKEN"], !value.isEmpty else { return nil }
        return try IdentityToken(jwt: value, source: "\(name) SIGSTORE_ID_TOKEN")
    }
}

/// GitHub Actions: `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore` with
/// `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`; the answer is `{"value": "<JWT>"}`.
package struct GitHubActionsTokenProvider: IdentityTokenProvider {
    package let name = "github-actions"
    let environment: [String: String]
    let transport: any HTTPTransport

    package init(transport: any HTTPTransport, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.transport = transport
        self.environment = environment
    }

    package func token(audience: String) async throws -> IdentityToken? {
        guard let url = environment["ACTIONS_ID_TOKEN_REQUEST_URL"], !url.isEmpty,
            let bearer = environment["ACTIONS_ID_TOKEN_REQUEST_TOKEN"], !bearer.isEmpty
        else { return nil }
        let source = "\(name) ACTIONS_ID_TOKEN_REQUEST_URL"
        guard var components = URLComponents(string: url) else {
            throw IdentityTokenError(.unavailable, source: source, reason: "ACTIONS_ID_TOKEN_REQUEST_URL is not a URL")
        }
        components.queryItems = (components.queryItems ?? []) + [URLQueryItem(name: "audience", value: audience)]
        guard let target = components.url else {
            throw IdentityTokenError(.unavailable, source: source, reason: "ACTIONS_ID_TOKEN_REQUEST_URL is not a URL")
        }
        let response = try await transport.send(
            HTTPRequest(method: "GET", url: target, headers: ["Authorization": "bearer \(bearer)"]))
        guard response.status == 200,
            let json = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
            let value = json["value"] as? String
        else {
            throw IdentityTokenError(
                .unavailable, source: source, reason: "the token service answered HTTP \(response.status)",
                isRetryable: HTTPStatusRule.isRetryable(response.status))
        }
        return try IdentityToken(jwt: value, source: source)
    }
}

/// The GKE / GCE metadata server (`GCE_METADATA_HOST`, default `metadata.google.internal`): an ID token for the
/// workload's Google service account. Asked with a 1-second limit, so nothing waits outside Google Cloud.
package struct GoogleMetadataTokenProvider: IdentityTokenProvider {
    package let name = "google-workload-identity"
    let environment: [String: String]
    let transport: any HTTPTransport

    package init(transport: any HTTPTransport, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.transport = transport
        self.environment = environment
    }

    package func token(audience: String) async throws -> IdentityToken? {
        let host = environment["GCE_METADATA_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "metadata.google.internal"
        let source = "\(name) \(host)"
        guard
            let url = URL(
                string:
                    "http://\(host)/computeMetadata/v1/instance/service-accounts/default/identity?audience=\(audience)&format=full"
            )
        else { return nil }
        let response: HTTPResponse
        do {
            response = try await RequestBudget.withBudget(.seconds(1), label: "the metadata server's 1 s limit") {
                try await transport.send(HTTPRequest(method: "GET", url: url, headers: ["Metadata-Flavor": "Google"]))
            }
        } catch {
            return nil  // not on Google Cloud
        }
        guard response.status == 200 else {
            if response.status == 404 { return nil }
            throw IdentityTokenError(
                .unavailable, source: source, reason: "the metadata server answered HTTP \(response.status)",
                isRetryable: HTTPStatusRule.isRetryable(response.status))
        }
        return try IdentityToken(jwt: String(decoding: response.body, as: UTF8.self), source: source)
    }
}

/// A provider that is recognised but not built here yet: naming it is an error that says so.
struct UnbuiltProvider: IdentityTokenProvider {
    let name: String
    func token(audience: String) async throws -> IdentityToken? {
        throw IdentityTokenError(
            .notBuilt, source: name, reason: "the \(name) identity provider is not built yet in Chains in Swift")
    }
}

/// Chooses providers as `signers.x509.fulcio.provider` and `signers.x509.identity.token.file` ask.
/// Makes a SPIFFE Workload API provider (the SPIFFE target, with gRPC, is linked only by the executable): for the
/// Workload API address given (`unix:///path`, `tcp://ip:port`, a bare path), or — nil — `SPIFFE_ENDPOINT_SOCKET`'s.
/// `explicit`: the provider was asked for by name (`signers.x509.fulcio.provider: spiffe`), so a missing socket is an
/// error rather than "not running under SPIRE".
package typealias SPIFFEProviderFactory =
    @Sendable (_ endpoint: String?, _ explicit: Bool) throws(IdentityTokenError) ->
    any IdentityTokenProvider

package enum IdentityTokenProviders {
    /// The order tried when no provider is named: cosign's registration order, restricted to what is built —
    /// `github-actions`, `envvar`, `filesystem`, `google-workload-identity`, then `spiffe` (when its socket exists).
    /// The first that has a token wins.
    package static let defaultOrder = ["github-actions", "envvar", "filesystem", "google-workload-identity", "spiffe"]
    /// Names Chains' docs use that cosign does not register; accepted here as their cosign names.
    package static let aliases = ["github": "github-actions", "google": "google-workload-identity"]
    static let unbuilt = ["buildkite-agent", "google-impersonate"]

    /// The providers for `provider` ("" for the default order) and `tokenFile` (forces `filesystem` on that path,
    /// as Chains does).
    /// `spiffe` makes the SPIFFE provider (it lives in its own target, with gRPC); nil: not available.
    package static func make(
        provider rawName: String, tokenFile: String, transport: any HTTPTransport,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        spiffe: SPIFFEProviderFactory? = nil
    ) throws(IdentityTokenError) -> [any IdentityTokenProvider] {
        let name = aliases[rawName] ?? rawName
        let file = FileTokenProvider(path: tokenFile.isEmpty ? FileTokenProvider.defaultPath : tokenFile)
        if !tokenFile.isEmpty && (name.isEmpty || name == "filesystem" || name == "filesystem-custom-path") {
            return [file]
        }
        func one(_ n: String) throws(IdentityTokenError) -> (any IdentityTokenProvider)? {
            switch n {
            case "spiffe":
                return try spiffe?(nil, name == "spiffe") ?? (name == "spiffe" ? UnbuiltProvider(name: n) : nil)
            case "filesystem", "filesystem-custom-path": return file
            case "envvar": return EnvironmentTokenProvider(environment: environment)
            case "github-actions": return GitHubActionsTokenProvider(transport: transport, environment: environment)
            case "google-workload-identity":
                return GoogleMetadataTokenProvider(transport: transport, environment: environment)
            default: return unbuilt.contains(n) ? UnbuiltProvider(name: n) : nil
            }
        }
        if name.isEmpty {
            var all: [any IdentityTokenProvider] = []
            for n in defaultOrder { if let p = try one(n) { all.append(p) } }
            return all
        }
        guard let chosen = try one(name) else {
            throw IdentityTokenError(
                .providerUnknown, source: "signers.x509.fulcio.provider",
                reason:
                    "\"\(rawName)\" is not a provider; use one of \(defaultOrder.joined(separator: ", ")) (or github, google)"
            )
        }
        return [chosen]
    }

    /// The first token the providers give, checked for `audience` and expiry.
    package static func firstToken(
        from providers: [any IdentityTokenProvider], audience: String, now: Date
    ) async throws -> IdentityToken {
        for provider in providers {
            guard let token = try await provider.token(audience: audience) else { continue }
            try token.check(audience: audience, now: now)
            return token
        }
        let tried = providers.compactMap { $0.absence() }
        throw IdentityTokenError(
            .unavailable, source: providers.map(\.name).joined(separator: ", "),
            reason:
                "no identity token found (set signers.x509.identity.token.file, mount the projected token at \(FileTokenProvider.defaultPath), or set SIGSTORE_ID_TOKEN)"
                + (tried.isEmpty ? "" : "; tried \(tried.joined(separator: "; "))")
        )
    }
}

extension IdentityTokenError: RetryClassifiable {}
