import Crypto
import Foundation
import _CryptoExtras

/// One Azure Key Vault's keys REST API (7.4), from Microsoft's reference ("Get Key", "Sign", "Authentication, requests
/// and responses"), served over TLS for the vault's name:
/// - every request needs `?api-version=`; without `Authorization: Bearer` it answers 401 with the challenge
///   `WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/{tenant}", resource="{resource}"` and
///   `AKV10000`; a token Entra (the simulator it trusts) did not issue for `{resource}/.default`: 401 `AKV10022`;
/// - `GET /keys/{name}[/{version}]` → `{"key": JWK with kid, kty, key_ops, crv/x/y or n/e, "attributes": {enabled,
///   created, updated, recoveryLevel}}`, the latest version without one; unknown: 404 `KeyNotFound`;
/// - `POST /keys/{name}/{version}/sign` with `{"alg", "value": base64url digest}` → `{"kid", "value": base64url
///   signature}` — ES256 as raw `r || s`, RS256 PKCS#1 v1.5; a digest of the wrong length or an algorithm the key
///   cannot do: 400 `BadParameter`; a disabled key: 403 `Forbidden`;
/// - a caller without the role (`forbid()`): 403 `Forbidden` / `ForbiddenByRbac`.
/// Errors as `{"error": {"code", "message", "innererror"?}}`.
package final class AzureKeyVaultSimulator: Sendable {
    package enum Kind: Sendable { case p256, rsa2048 }
    enum Key: Sendable {
        case p256(P256.Signing.PrivateKey)
        case rsa(_RSA.Signing.PrivateKey)
    }
    struct State: Sendable {
        var keys: [String: [(version: String, key: Key)]] = [:]
        var disabled: Set<String> = []
        var forbidden = false
        var signed: [String] = []
        var authorized = 0
    }
    let server: TestHTTPServer
    let state: Locked<State>
    /// The vault's host name, as the kmsref and the TLS certificate name it.
    package let name: String
    package var port: Int { server.port }
    /// Paths that were signed with (`/keys/NAME/VERSION/sign`).
    package var signed: [String] { state.withLock { $0.signed } }
    /// Requests that carried a bearer token.
    package var authorizedRequests: Int { state.withLock { $0.authorized } }

    /// `resource`: what the challenge names (Key Vault's is `https://vault.azure.net`).
    package init(
        name: String, tls: TestCA, trusts entra: EntraIDSimulator, resource: String = "https://vault.azure.net"
    ) async throws {
        self.name = name
        let state = Locked(State())
        self.state = state
        let base = "https://\(name)"
        server = try await TestHTTPServer(tls: (tls.serverCertificate, tls.serverKey)) { request in
            let (path, query) = Self.split(request.uri)
            guard query.contains(where: { $0.hasPrefix("api-version=") && $0.count > "api-version=".count }) else {
                return Self.error(400, "BadParameter", "The api-version query parameter is required.")
            }
            guard let bearer = request.header("Authorization"), bearer.hasPrefix("Bearer ") else {
                return Self.error(
                    401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.",
                    headers: [
                        (
                            "WWW-Authenticate",
                            #"Bearer authorization="https://login.microsoftonline.com/\#(entra.tenant)", "#
                                + #"resource="\#(resource)""#
                        )
                    ])
            }
            state.withLock { $0.authorized += 1 }
            guard entra.scope(of: String(bearer.dropFirst("Bearer ".count))) == resource + "/.default" else {
                return Self.error(401, "Unauthorized", "AKV10022: Invalid audience. Expected \(resource).")
            }
            if state.withLock({ $0.forbidden }) {
                return Self.error(
                    403, "Forbidden",
                    "Caller is not authorized to perform action on resource. Action: "
                        + "'Microsoft.KeyVault/vaults/keys/sign/action'", inner: "ForbiddenByRbac")
            }
            let parts = path.split(separator: "/").map(String.init)
            guard parts.count >= 2, parts[0] == "keys" else {
                return Self.error(404, "NotFound", "\(path) is not a Key Vault path.")
            }
            if request.method == "GET", parts.count <= 3 {
                return Self.getKey(parts[1], version: parts.count == 3 ? parts[2] : nil, base: base, state: state)
            }
            if request.method == "POST", parts.count == 4, parts[3] == "sign" {
                return Self.sign(parts[1], version: parts[2], body: request.body, base: base, state: state)
            }
            return Self.error(405, "BadParameter", "\(request.method) \(path) is not supported.")
        }
    }

    /// Adds a key (or a new version of it, which becomes the latest); returns the version id.
    @discardableResult
    package func addVersion(_ key: String, _ kind: Kind) throws -> String {
        let made: Key =
            switch kind {
            case .p256: .p256(P256.Signing.PrivateKey())
            case .rsa2048: .rsa(try _RSA.Signing.PrivateKey(keySize: .bits2048))
            }
        let version = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        state.withLock { $0.keys[key, default: []].append((version, made)) }
        return version
    }

    /// The PEM public key of `key`'s `version` (the latest by default).
    package func publicKeyPEM(_ key: String, version: String? = nil) -> String? {
        guard let found = state.withLock({ Self.find(key, version, in: $0) }) else { return nil }
        switch found.key {
        case .p256(let k): return k.publicKey.pemRepresentation
        case .rsa(let k): return k.publicKey.pemRepresentation
        }
    }

    package func disable(_ key: String) { state.withLock { _ = $0.disabled.insert(key) } }
    /// Every caller lacks the role from now on.
    package func forbid() { state.withLock { $0.forbidden = true } }
    package func stop() async { await server.stop() }

    static func find(_ key: String, _ version: String?, in state: State) -> (version: String, key: Key)? {
        guard let versions = state.keys[key] else { return nil }
        guard let version else { return versions.last }
        return versions.first { $0.version == version }
    }

    static func getKey(_ key: String, version: String?, base: String, state: Locked<State>) -> ServedResponse {
        let (found, enabled) = state.withLock { (find(key, version, in: $0), !$0.disabled.contains(key)) }
        guard let found else {
            return error(
                404, "KeyNotFound",
                "A key with (name/id) \(key) was not found in this key vault. If you recently "
                    + "deleted this key you may be able to recover it using the correct recovery command.")
        }
        var jwk: [String: Any] = ["kid": "\(base)/keys/\(key)/\(found.version)", "key_ops": ["sign", "verify"]]
        switch found.key {
        case .p256(let k):
            let point = k.publicKey.x963Representation
            jwk["kty"] = "EC-HSM"
            jwk["crv"] = "P-256"
            jwk["x"] = base64URL(point.dropFirst().prefix(32))
            jwk["y"] = base64URL(point.suffix(32))
        case .rsa(let k):
            let primitives = try! k.publicKey.getKeyPrimitives()
            jwk["kty"] = "RSA"
            jwk["n"] = base64URL(primitives.modulus)
            jwk["e"] = base64URL(primitives.publicExponent)
        }
        let attributes: [String: Any] = [
            "enabled": enabled, "created": 1_764_000_000, "updated": 1_764_000_000,
            "recoveryLevel": "Recoverable+Purgeable",
        ]
        return .json(200, object: ["key": jwk, "attributes": attributes])
    }

    static func sign(_ key: String, version: String, body: Data, base: String, state: Locked<State>) -> ServedResponse {
        let (found, enabled) = state.withLock { (find(key, version, in: $0), !$0.disabled.contains(key)) }
        guard let found else {
            return error(404, "KeyNotFound", "A key with (name/id) \(key)/\(version) was not found.")
        }
        guard enabled else { return error(403, "Forbidden", "Operation sign is not allowed on a disabled key.") }
        let request = (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:]
        let alg = request["alg"] as? String
        guard let digest = (request["value"] as? String).flatMap(Self.data(base64URL:)) else {
            return error(400, "BadParameter", "Property 'value' is required.")
        }
        let signature: Data
        switch (found.key, alg) {
        case (.p256(let k), "ES256") where digest.count == 32:
            signature = try! k.signature(for: Prehashed(bytes: digest)).rawRepresentation
        case (.rsa(let k), "RS256") where digest.count == 32:
            let given = digest.withUnsafeBytes { $0.loadUnaligned(as: SHA256.Digest.self) }
            signature = try! k.signature(for: given, padding: .insecurePKCS1v1_5).rawRepresentation
        default:
            return error(
                400, "BadParameter", "Invalid algorithm \(alg ?? "none") or digest length \(digest.count) for the key.")
        }
        state.withLock { $0.signed.append("/keys/\(key)/\(version)/sign") }
        return .json(200, object: ["kid": "\(base)/keys/\(key)/\(version)", "value": base64URL(signature)])
    }

    static func error(
        _ status: Int, _ code: String, _ message: String, inner: String? = nil, headers: [(String, String)] = []
    ) -> ServedResponse {
        var object: [String: Any] = ["code": code, "message": message]
        if let inner { object["innererror"] = ["code": inner] }
        return .json(status, object: ["error": object], headers: headers)
    }

    static func split(_ uri: String) -> (path: String, query: [String]) {
        let parts = uri.split(separator: "?", maxSplits: 1).map(String.init)
        return (parts.first ?? "", parts.count > 1 ? parts[1].split(separator: "&").map(String.init) : [])
    }

    package static func base64URL(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func data(base64URL text: String) -> Data? {
        var b64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.count % 4 != 0 { b64 += "=" }
        return Data(base64Encoded: b64)
    }
}
