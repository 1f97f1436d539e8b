import Crypto
import Foundation
import HTTPTransport
import Signing
import X509

/// `azurekms://VAULT/KEY[/VERSION]`, as sigstore writes it: VAULT is the vault's host (`NAME.vault.azure.net`, or a
/// sovereign cloud's `vault.azure.cn`, `vault.usgovcloudapi.net`), reached over https; without a version, the key's
/// latest version when the signer connects.
package struct AzureKeyVaultReference: Sendable, Equatable {
    /// `host[:port]`, lowercased.
    package var vault: String
    package var key: String
    package var version: String?
    package var text: String

    /// Parses a kmsref; an error says what is wrong with it.
    package init(parsing text: String) throws(CloudCredentialError) {
        self.text = text
        let form = "azurekms://VAULT.vault.azure.net/KEY[/VERSION]"
        func bad(_ why: String) -> CloudCredentialError {
            CloudCredentialError(identity: "signers.kms.kmsref \(text)", reason: "\(why) (\(form))")
        }
        guard text.hasPrefix("azurekms://") else { throw bad("is not an Azure Key Vault reference") }
        let parts = text.dropFirst("azurekms://".count).split(separator: "/", omittingEmptySubsequences: false)
            .map(String.init)
        guard parts.count == 2 || parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw bad("names no vault and key")
        }
        let host = parts[0].lowercased()
        guard let url = URL(string: "https://\(host)/"), url.hostAndPort == host, url.user == nil,
            !host.contains("@")
        else { throw bad("\(parts[0]) is not a vault host") }
        // Key Vault's own rule for key names; versions are its lowercase hex ids.
        let nameCharacters = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-"))
        guard parts[1].count <= 127, parts[1].unicodeScalars.allSatisfy({ $0.isASCII && nameCharacters.contains($0) })
        else { throw bad("the key name \(parts[1]) may hold only letters, digits and -") }
        let version = parts.count == 3 && !parts[2].isEmpty ? parts[2] : nil
        if let version, !version.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) }) {
            throw bad("the key version \(version) is not a Key Vault version id")
        }
        vault = host
        key = parts[1]
        self.version = version
    }

    /// The vault's host without a port.
    package var vaultHost: String { String(vault.split(separator: ":").first ?? "") }
}

/// A signer whose private key stays in Azure Key Vault (keys REST API 7.4). Connecting asks the vault unauthenticated
/// first, as the Azure SDKs do: its `401` challenge names the resource its tokens are for, which must be a parent
/// domain of the vault's host (else no token is sent); then the app's Entra ID token for that resource reads the key
/// (`GET /keys/KEY[/VERSION]`, a JWK) once. Each payload's digest is made here and signed with
/// `POST /keys/KEY/VERSION/sign` — always the version read when connecting, so a key rotated meanwhile does not make
/// signatures the cached public key cannot verify. ES256/384/512 answers (raw `r || s`) become ASN.1 DER, as
/// sigstore's client makes them; RSA keys sign with RS256 (PKCS#1 v1.5, SHA-256). Each signature is checked against
/// the public key before it is used.
package struct AzureKeyVaultSigner: Signer {
    package let reference: AzureKeyVaultReference
    package let publicKey: PublicKey
    /// The key version every signature is made with.
    package let version: String
    package var certificateChain: [Certificate]? { nil }
    package var origin: String { "Azure Key Vault key \(reference.text)" }
    let algorithm: String
    let scope: String
    let credential: EntraIDCredential
    let transport: any HTTPTransport
    static let apiVersion = "7.4"

    var who: String { "signers.kms.kmsref \(reference.text) (\(credential.identity))" }

    /// Reads the key's public half; errors name the kmsref, the identity and what Key Vault or Entra ID answered.
    package static func connect(
        _ reference: AzureKeyVaultReference, credential: EntraIDCredential, transport: any HTTPTransport
    ) async throws(CloudCredentialError) -> AzureKeyVaultSigner {
        let who = "signers.kms.kmsref \(reference.text) (\(credential.identity))"
        let path = "keys/\(reference.key)" + (reference.version.map { "/\($0)" } ?? "")
        let keyURL = try url(reference, path, who: who)
        let (challenge, _) = try await CloudCall.send(
            HTTPRequest(method: "GET", url: keyURL), via: transport, identity: who, peer: "Key Vault \(reference.vault)"
        )
        guard challenge.status == 401 else {
            throw CloudCredentialError(
                identity: who,
                reason:
                    "\(reference.vault) answered a request without a token with HTTP \(challenge.status), not Key "
                    + "Vault's 401 challenge: is it a key vault?", isRetryable: CloudCall.isBusy(challenge.status))
        }
        let scope = try tokenScope(
            challenge.headers.values("WWW-Authenticate"), vaultHost: reference.vaultHost, who: who)
        let token = try await credential.token(scope: scope)
        let answer = try await call(
            "GET", keyURL, nil, token: token, transport: transport, who: who, what: "GET \(path)")
        let (key, version, algorithm) = try parseKey(answer, who: who)
        return AzureKeyVaultSigner(
            reference: reference, publicKey: key, version: reference.version ?? version, algorithm: algorithm,
            scope: scope, credential: credential, transport: transport)
    }

    /// The scope to ask Entra ID for, from the vault's `Bearer` challenge (`resource="https://vault.azure.net"`, or
    /// `scope=…`); refused unless the resource's host is a parent domain of the vault's.
    package static func tokenScope(
        _ challenges: [String], vaultHost: String, who: String
    ) throws(CloudCredentialError) -> String {
        guard let bearer = Challenge.parse(challenges).first(where: { $0.scheme == "bearer" }),
            let resource = bearer.parameters["resource"] ?? bearer.parameters["scope"],
            let host = URL(string: resource)?.host?.lowercased(), !host.isEmpty
        else {
            throw CloudCredentialError(
                identity: who, reason: "\(vaultHost) answered 401 without a Bearer challenge naming its resource")
        }
        guard vaultHost.hasSuffix("." + host) else {
            throw CloudCredentialError(
                identity: who,
                reason:
                    "\(vaultHost) asks for a token for \(resource), which it is not part of: no token was sent "
                    + "(check the vault in the kmsref)")
        }
        if let scope = bearer.parameters["scope"], bearer.parameters["resource"] == nil { return scope }
        return (resource.hasSuffix("/") ? String(resource.dropLast()) : resource) + "/.default"
    }

    /// The public key, the version (from `kid`) and the algorithm, from a `GET /keys/…` answer; a disabled key, or
    /// one that may not sign, is refused by name.
    package static func parseKey(
        _ answer: [String: Any], who: String
    ) throws(CloudCredentialError) -> (PublicKey, String, String) {
        guard let jwk = answer["key"] as? [String: Any], let kid = jwk["kid"] as? String,
            let version = kid.split(separator: "/").last.map(String.init), kid.contains("/keys/")
        else {
            throw CloudCredentialError(identity: who, reason: "Key Vault answered without a key and its kid")
        }
        if let attributes = answer["attributes"] as? [String: Any], attributes["enabled"] as? Bool == false {
            throw CloudCredentialError(identity: who, reason: "the key \(kid) is disabled in Key Vault")
        }
        if let operations = jwk["key_ops"] as? [String], !operations.contains("sign") {
            throw CloudCredentialError(
                identity: who, reason: "the key \(kid) may not sign (key_ops: \(operations.joined(separator: ", ")))")
        }
        let key: PublicKey
        do {
            key = try PublicKey(jwk: jwk, source: kid)
        } catch {
            throw CloudCredentialError(identity: who, reason: error.description)
        }
        switch key {
        case .p256: return (key, version, "ES256")
        case .p384: return (key, version, "ES384")
        case .p521: return (key, version, "ES512")
        case .rsa: return (key, version, "RS256")
        case .ed25519: throw CloudCredentialError(identity: who, reason: "Ed25519 keys cannot sign in Key Vault")
        }
    }

    package func sign(_ message: Data) async throws -> Data {
        let digest: Data
        switch algorithm {
        case "ES384": digest = Data(SHA384.hash(data: message))
        case "ES512": digest = Data(SHA512.hash(data: message))
        default: digest = Data(SHA256.hash(data: message))
        }
        let path = "keys/\(reference.key)/\(version)/sign"
        let token = try await credential.token(scope: scope)
        let answer = try await Self.call(
            "POST", try Self.url(reference, path, who: who),
            ["alg": algorithm, "value": PublicKey.base64URL(digest)], token: token, transport: transport, who: who,
            what: "POST \(path)")
        guard let raw = (answer["value"] as? String).flatMap(PublicKey.base64URL), !raw.isEmpty else {
            throw CloudCredentialError(identity: who, reason: "Key Vault's sign answer has no value")
        }
        let signature = algorithm.hasPrefix("ES") ? publicKey.derSignature(fromRaw: raw) : raw
        guard let signature, publicKey.isValidSignature(signature, for: message) else {
            throw CloudCredentialError(
                identity: who,
                reason: "Key Vault's \(algorithm) signature does not verify with version \(version)'s public key")
        }
        return signature
    }

    static func url(
        _ reference: AzureKeyVaultReference, _ path: String, who: String
    ) throws(CloudCredentialError) -> URL {
        guard let url = URL(string: "https://\(reference.vault)/\(path)?api-version=\(apiVersion)") else {
            throw CloudCredentialError(identity: who, reason: "no URL for \(path)")
        }
        return url
    }

    static func call(
        _ method: String, _ url: URL, _ body: [String: Any]?, token: String, transport: any HTTPTransport,
        who: String, what: String
    ) async throws(CloudCredentialError) -> [String: Any] {
        let request = HTTPRequest(
            method: method, url: url,
            headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"],
            body: body.flatMap { try? JSONSerialization.data(withJSONObject: $0) })
        let (response, json) = try await CloudCall.send(
            request, via: transport, identity: who, peer: "Key Vault \(url.hostAndPort)")
        guard response.status == 200 else {
            throw CloudCredentialError(
                identity: who,
                reason: "Key Vault \(what): HTTP \(response.status): \(EntraIDCredential.azureError(json, response))",
                isRetryable: CloudCall.isBusy(response.status))
        }
        return json
    }
}
