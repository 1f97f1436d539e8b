import Crypto
import Foundation
import HTTPTransport
import Signing
import Synchronization
import X509

/// Where Vault is and how to log in, from `signers.kms.auth.*` (as Tekton Chains reads them) and Vault's own
/// variables: the address from `signers.kms.auth.address`, else `VAULT_ADDR`; a token from
/// `signers.kms.auth.token-path` (wins), `signers.kms.auth.token` or `VAULT_TOKEN`; else a JWT login
/// (`signers.kms.auth.oidc.path` and `.role`) with, when `signers.kms.auth.spire.sock` is set, a JWT-SVID for
/// `signers.kms.auth.spire.audience` from that Workload API (the mount then defaults to `jwt`, as sigstore's), else the
/// JWT from `.oidc.token-path` (default the ServiceAccount token) — Vault's JWT or Kubernetes auth. The transit
/// mount: `TRANSIT_SECRET_ENGINE_PATH`, default `transit`.
package struct VaultSettings: Sendable {
    package var address: URL
    package var token: String?
    package var tokenPath: String?
    package var loginPath: String?
    package var role: String?
    package var jwtPath: String
    package var transitPath: String
    /// `signers.kms.auth.spire.sock` (a Workload API address) and `.spire.audience`.
    package var spireSocket: String?
    package var spireAudience: String?

    package init(auth: [String: String], environment: [String: String]) throws(CloudCredentialError) {
        func value(_ s: String?) -> String? { s.flatMap { $0.isEmpty ? nil : $0 } }
        let who = "signers.kms.auth.address"
        guard let text = value(auth["address"]) ?? value(environment["VAULT_ADDR"]) else {
            throw CloudCredentialError(identity: who, reason: "is empty and VAULT_ADDR is not set: where is Vault?")
        }
        let withScheme = text.contains("://") ? text : "http://\(text)"
        guard let url = URL(string: withScheme), url.host != nil, ["http", "https"].contains(url.scheme ?? "")
        else {
            throw CloudCredentialError(identity: who, reason: "\(text) is not an http(s) address")
        }
        // A Vault token is a credential: plain http only to this machine.
        guard url.carriesCredentialsSafely else {
            throw CloudCredentialError(
                identity: who,
                reason: "\(text) is plain http; the Vault token would cross the network in clear — use https")
        }
        address = url
        tokenPath = value(auth["token-path"])
        token = value(auth["token"]) ?? value(environment["VAULT_TOKEN"])
        loginPath = value(auth["oidc.path"])
        role = value(auth["oidc.role"])
        jwtPath = value(auth["oidc.token-path"]) ?? "/var/run/secrets/kubernetes.io/serviceaccount/token"
        transitPath = value(environment["TRANSIT_SECRET_ENGINE_PATH"]) ?? "transit"
        spireSocket = value(auth["spire.sock"])
        spireAudience = value(auth["spire.audience"])
        if spireSocket != nil, spireAudience == nil {
            throw CloudCredentialError(
                identity: "signers.kms.auth.spire.audience",
                reason:
                    "is empty, but signers.kms.auth.spire.sock is set: a JWT-SVID needs an audience (the one the "
                    + "Vault JWT role's bound_audiences names)")
        }
    }
}

/// Vault's HTTP API with a token (static, from a file, or from a JWT login kept for its lease).
package final class VaultClient: Sendable {
    let settings: VaultSettings
    let transport: any HTTPTransport
    /// A fresh JWT-SVID for `settings.spireAudience` (`signers.kms.auth.spire.sock`), nil without SPIRE.
    let svid: (@Sendable () async throws(CloudCredentialError) -> String)?
    let login = Mutex<(token: String, until: Date)?>(nil)

    package init(
        settings: VaultSettings, transport: any HTTPTransport,
        svid: (@Sendable () async throws(CloudCredentialError) -> String)? = nil
    ) {
        self.settings = settings
        self.transport = transport
        self.svid = svid
    }

    var identity: String {
        if settings.tokenPath != nil {
            return "Vault \(settings.address.hostAndPort), token from \(settings.tokenPath!)"
        }
        if settings.token != nil { return "Vault \(settings.address.hostAndPort), static token" }
        if svid != nil, let socket = settings.spireSocket {
            return "Vault \(settings.address.hostAndPort), role \(settings.role ?? "(the mount's default)") at "
                + "auth/\(settings.loginPath ?? "jwt") with a JWT-SVID from \(socket)"
        }
        return
            "Vault \(settings.address.hostAndPort), role \(settings.role ?? "?") at auth/\(settings.loginPath ?? "?")"
    }

    func token() async throws(CloudCredentialError) -> String {
        if let path = settings.tokenPath {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CloudCredentialError(
                    identity: identity, reason: "cannot read signers.kms.auth.token-path \(path)")
            }
            var text = String(decoding: data, as: UTF8.self)
            if text.hasSuffix("\n") { text.removeLast() }
            return text
        }
        if let token = settings.token { return token }
        if let known = login.withLock({ $0 }), known.until.timeIntervalSinceNow > 60 { return known.token }
        let (path, role, jwt) = try await loginJWT()
        var body = ["jwt": jwt]
        if let role { body["role"] = role }
        let answer = try await call("POST", "auth/\(path)/login", body, token: nil)
        guard let auth = answer["auth"] as? [String: Any], let token = auth["client_token"] as? String else {
            throw CloudCredentialError(identity: identity, reason: "the login answered without auth.client_token")
        }
        let lease = (auth["lease_duration"] as? Double) ?? (auth["lease_duration"] as? Int).map(Double.init) ?? 0
        login.withLock { $0 = (token, Date().addingTimeInterval(min(max(lease, 0), 86_400))) }
        return token
    }

    /// The auth mount, the role and the JWT to log in with: a JWT-SVID when SPIRE is configured (the mount defaulting
    /// to `jwt`, the role to the mount's default), else the token file with both `oidc.path` and `oidc.role` set.
    func loginJWT() async throws(CloudCredentialError) -> (path: String, role: String?, jwt: String) {
        if let svid { return (settings.loginPath ?? "jwt", settings.role, try await svid()) }
        guard let path = settings.loginPath, let role = settings.role else {
            throw CloudCredentialError(
                identity: identity,
                reason:
                    "no Vault token: set signers.kms.auth.token-path or .token (or VAULT_TOKEN), or oidc.path and "
                    + "oidc.role (with signers.kms.auth.spire.* for a JWT-SVID)")
        }
        guard let data = FileManager.default.contents(atPath: settings.jwtPath),
            case let jwt = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
            !jwt.isEmpty
        else {
            throw CloudCredentialError(identity: identity, reason: "OIDC token file \"\(settings.jwtPath)\" is empty")
        }
        return (path, role, jwt)
    }

    /// `METHOD /v1/<path>`; Vault's `{"errors": [...]}` named on failure.
    func call(
        _ method: String, _ path: String, _ body: [String: Any]?, token: String?
    ) async throws(CloudCredentialError) -> [String: Any] {
        let url = settings.address.appendingPathComponent("v1").appendingPathComponent(path)
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        if let token { headers["X-Vault-Token"] = token }
        let request = HTTPRequest(
            method: method, url: url, headers: headers,
            body: body.flatMap { try? JSONSerialization.data(withJSONObject: $0) })
        let (response, json) = try await CloudCall.send(request, via: transport, identity: identity, peer: "Vault")
        guard (200..<300).contains(response.status) else {
            let errors = (json["errors"] as? [String]) ?? []
            throw CloudCredentialError(
                identity: identity,
                reason:
                    "\(method) /v1/\(path): HTTP \(response.status)"
                    + (errors.isEmpty ? "" : ": \(errors.joined(separator: "; "))"),
                isRetryable: CloudCall.isBusy(response.status))
        }
        return json
    }
}

/// `hashivault://KEY`: a Vault transit key. The latest version's public key is read once; `sign` sends the digest
/// (`prehashed`, ASN.1 marshaling, PKCS#1 v1.5 for RSA — what a local key of the same type makes).
package struct VaultTransitSigner: Signer {
    package let keyName: String
    package let publicKey: PublicKey
    package var certificateChain: [Certificate]? { nil }
    package var origin: String { "Vault transit key hashivault://\(keyName)" }
    let version: Int
    let client: VaultClient

    package static func connect(keyName: String, client: VaultClient) async throws(CloudCredentialError) -> Self {
        let token = try await client.token()
        let answer = try await client.call(
            "GET", "\(client.settings.transitPath)/keys/\(keyName)", nil, token: token)
        let (key, version) = try parseKey(answer, identity: client.identity)
        return VaultTransitSigner(keyName: keyName, publicKey: key, version: version, client: client)
    }

    /// The latest version's public key from `GET transit/keys/<name>`.
    package static func parseKey(
        _ answer: [String: Any], identity: String
    ) throws(CloudCredentialError) -> (PublicKey, Int) {
        guard let data = answer["data"] as? [String: Any], let keys = data["keys"] as? [String: Any] else {
            throw CloudCredentialError(identity: identity, reason: "the key answer has no data.keys")
        }
        let latest = (data["latest_version"] as? Int) ?? keys.keys.compactMap(Int.init).max() ?? 1
        guard let entry = keys["\(latest)"] as? [String: Any], let pem = entry["public_key"] as? String, !pem.isEmpty
        else {
            throw CloudCredentialError(
                identity: identity, reason: "version \(latest) has no public key (is it a signing key type?)")
        }
        do {
            let key = try PublicKey(pem: pem, file: identity)
            if case .ed25519 = key {
                throw CloudCredentialError(
                    identity: identity, reason: "ed25519 transit keys are not served (prehashed)")
            }
            return (key, latest)
        } catch let error as CloudCredentialError {
            throw error
        } catch {
            throw CloudCredentialError(identity: identity, reason: "the public key is not usable: \(error)")
        }
    }

    package func sign(_ message: Data) async throws -> Data {
        let (digest, hash): (Data, String)
        switch publicKey {
        case .p384: (digest, hash) = (Data(SHA384.hash(data: message)), "sha2-384")
        case .p521: (digest, hash) = (Data(SHA512.hash(data: message)), "sha2-512")
        default: (digest, hash) = (Data(SHA256.hash(data: message)), "sha2-256")
        }
        var body: [String: Any] = [
            "input": digest.base64EncodedString(), "prehashed": true, "hash_algorithm": hash,
            "marshaling_algorithm": "asn1", "key_version": version,
        ]
        if case .rsa = publicKey { body["signature_algorithm"] = "pkcs1v15" }
        let token = try await client.token()
        let answer = try await client.call(
            "POST", "\(client.settings.transitPath)/sign/\(keyName)", body, token: token)
        guard let text = (answer["data"] as? [String: Any])?["signature"] as? String,
            text.hasPrefix("vault:v"), let colon = text.dropFirst("vault:v".count).firstIndex(of: ":"),
            let signature = Data(base64Encoded: String(text[text.index(after: colon)...]))
        else {
            throw CloudCredentialError(identity: client.identity, reason: "the sign answer has no vault:vN: signature")
        }
        return signature
    }
}
