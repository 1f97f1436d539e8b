import Foundation
import HTTPTransport
import RegistryAuth
import Signing
import Synchronization

/// Azure Container Registry (`*.azurecr.io`, `.azurecr.cn`, `.azurecr.us`) with AKS workload identity: the app's Entra
/// ID token (`EntraIDCredential`: the projected token `AZURE_FEDERATED_TOKEN_FILE` as a client assertion, or
/// `AZURE_CLIENT_SECRET`, for `AZURE_CLIENT_ID` in `AZURE_TENANT_ID`), scoped to Azure Resource Manager, is
/// exchanged at the registry's `POST /oauth2/exchange` for an ACR refresh token, used as the password of user
/// `00000000-0000-0000-0000-000000000000` (as `docker login` takes it). Both are kept until near their end.
package final class ACRKeychain: CloudKeychain {
    package let name = "ACR"
    static let nullUser = "00000000-0000-0000-0000-000000000000"
    /// The app's Entra ID tokens (through the cloud's client).
    let entra: EntraIDCredential
    /// The registry itself (its TLS settings and connection rules): the exchange is a request to the registry.
    let registry: any HTTPTransport
    let refresh = Mutex<[String: (credential: Credential, until: Date)]>([:])

    /// nil unless Entra ID's variables are set (`EntraIDCredential`).
    package init?(environment: [String: String], cloud: any HTTPTransport, registry: any HTTPTransport) {
        guard let entra = EntraIDCredential(environment: environment, transport: cloud) else { return nil }
        self.entra = entra
        self.registry = registry
    }

    package var identity: String { entra.identity }

    package func handles(registry: String) -> Bool {
        let host = registry.split(separator: ":", maxSplits: 1).first.map { $0.lowercased() } ?? ""
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count == 3 && !labels[0].isEmpty && labels[1] == "azurecr"
            && ["io", "cn", "us"].contains(labels[2])
    }

    package func credential(for registry: String) async throws(CredentialWarning) -> SourcedCredential? {
        guard handles(registry: registry) else { return nil }
        let source = CredentialSource(kind: .cloudKeychain, origin: "ACR, \(identity)", key: registry)
        if let known = refresh.withLock({ $0[registry] }), known.until.timeIntervalSinceNow > 300 {
            return SourcedCredential(known.credential, source: source)
        }
        do {
            let access = try await entra.token(scope: "https://management.azure.com/.default")
            let (credential, until) = try await exchange(access, at: registry)
            refresh.withLock { $0[registry] = (credential, until) }
            return SourcedCredential(credential, source: source)
        } catch {
            throw CredentialWarning(
                source: "ACR for \(registry)", message: error.description, isTransient: error.isRetryable)
        }
    }

    func exchange(_ access: String, at registry: String) async throws(CloudCredentialError) -> (Credential, Date) {
        let host = String(registry.split(separator: ":", maxSplits: 1).first ?? "")
        guard let url = URL(string: "https://\(registry)/oauth2/exchange") else {
            throw CloudCredentialError(identity: identity, reason: "\(registry) is not a registry host")
        }
        let json = try await EntraIDCredential.post(
            url,
            form: [
                ("grant_type", "access_token"), ("service", host), ("tenant", entra.tenantID), ("access_token", access),
            ], via: self.registry, identity: identity, what: "\(registry)/oauth2/exchange")
        guard let token = json["refresh_token"] as? String, !token.isEmpty else {
            throw CloudCredentialError(
                identity: identity, reason: "\(registry) answered the exchange without a refresh_token")
        }
        // ACR refresh tokens last three hours; a JWT's own exp wins when it says less.
        let until = Self.expiry(ofJWT: token) ?? Date().addingTimeInterval(3 * 3600)
        return (Credential(username: Self.nullUser, password: token), until)
    }

    /// A JWT's `exp`, when the token is one.
    static func expiry(ofJWT token: String) -> Date? {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { return nil }
        guard let data = PublicKey.base64URL(String(parts[1])),
            let claims = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let exp = claims["exp"] as? Double, exp.isFinite
        else { return nil }
        return Date(timeIntervalSince1970: exp)
    }
}
