import Foundation
import HTTPTransport
import RegistryAuth
import Synchronization

/// GCR and Artifact Registry: `gcr.io`, `*.gcr.io`, `*-docker.pkg.dev`. An access token for the Pod's Google
/// service account (GKE workload identity) from the metadata server — `GET /computeMetadata/v1/instance/
/// service-accounts/default/token` with `Metadata-Flavor: Google`, 1 second at most, so nothing waits outside GCP —
/// used as the password of user `oauth2accesstoken`, kept until five minutes before it expires. `GCE_METADATA_HOST`
/// names another metadata server (`host[:port]`), as Google's libraries read it.
package final class GCRKeychain: CloudKeychain {
    package let name = "GCR"
    let metadataHost: String
    let transport: any HTTPTransport
    let token = Mutex<(credential: Credential, until: Date)?>(nil)
    /// After a failure the metadata server is not asked again for a minute (outside GCP every GCR image would
    /// otherwise wait its second); the same warning is given meanwhile.
    let failed = Mutex<(warning: CredentialWarning, until: Date)?>(nil)

    package init(environment: [String: String], transport: any HTTPTransport) {
        metadataHost = environment["GCE_METADATA_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "metadata.google.internal"
        self.transport = transport
    }

    package var identity: String { "the GKE metadata server (\(metadataHost)), default service account" }

    package func handles(registry: String) -> Bool {
        let host = registry.split(separator: ":", maxSplits: 1).first.map { $0.lowercased() } ?? ""
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        if host == "gcr.io" { return true }
        if labels.count == 3, host.hasSuffix(".gcr.io"), !labels[0].isEmpty { return true }
        // LOCATION-docker.pkg.dev
        return labels.count == 3 && labels[1] == "pkg" && labels[2] == "dev" && labels[0].hasSuffix("-docker")
            && labels[0].count > "-docker".count
    }

    package func credential(for registry: String) async throws(CredentialWarning) -> SourcedCredential? {
        guard handles(registry: registry) else { return nil }
        let source = CredentialSource(kind: .cloudKeychain, origin: "GCR, \(identity)", key: registry)
        if let known = token.withLock({ $0 }), known.until.timeIntervalSinceNow > 300 {
            return SourcedCredential(known.credential, source: source)
        }
        if let recent = failed.withLock({ $0 }), recent.until > Date() { throw recent.warning }
        do {
            let (credential, until) = try await accessToken()
            if until.timeIntervalSinceNow > 300 { token.withLock { $0 = (credential, until) } }
            failed.withLock { $0 = nil }
            return SourcedCredential(credential, source: source)
        } catch {
            let warning = CredentialWarning(source: "GCR for \(registry)", message: error.description)
            failed.withLock { $0 = (warning, Date().addingTimeInterval(60)) }
            throw warning
        }
    }

    /// The service account's access token itself (for Cloud KMS), from the same cache.
    package func bearerToken() async throws(CloudCredentialError) -> String {
        if let known = token.withLock({ $0 }), known.until.timeIntervalSinceNow > 300 {
            return known.credential.password
        }
        let (credential, until) = try await accessToken()
        if until.timeIntervalSinceNow > 300 { token.withLock { $0 = (credential, until) } }
        return credential.password
    }

    func accessToken() async throws(CloudCredentialError) -> (Credential, Date) {
        guard
            let url = URL(
                string: "http://\(metadataHost)/computeMetadata/v1/instance/service-accounts/default/token")
        else {
            throw CloudCredentialError(identity: identity, reason: "GCE_METADATA_HOST is not host[:port]")
        }
        let response: HTTPResponse
        do {
            response = try await RequestBudget.withBudget(.seconds(1), label: "the metadata server's 1s limit") {
                try await transport.send(HTTPRequest(method: "GET", url: url, headers: ["Metadata-Flavor": "Google"]))
            }
        } catch {
            throw CloudCredentialError(
                identity: identity, reason: "no answer within 1s (not on GCP, or no workload identity): \(error)")
        }
        // A proxy or another service on that address would not say it is Google's metadata server.
        guard response.headers["Metadata-Flavor"] == "Google" else {
            throw CloudCredentialError(
                identity: identity,
                reason: "HTTP \(response.status) without Metadata-Flavor: Google; not a metadata server")
        }
        guard response.status == 200 else {
            let text = String(decoding: response.body.prefix(300), as: UTF8.self)
            throw CloudCredentialError(identity: identity, reason: "HTTP \(response.status): \(text)")
        }
        return try Self.parseToken(response.body, identity: identity)
    }

    /// `oauth2accesstoken` and the token's end from the metadata server's answer.
    package static func parseToken(_ body: Data, identity: String) throws(CloudCredentialError) -> (Credential, Date) {
        guard let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let access = json["access_token"] as? String, !access.isEmpty
        else {
            throw CloudCredentialError(identity: identity, reason: "the answer has no access_token")
        }
        let raw = (json["expires_in"] as? Double) ?? (json["expires_in"] as? Int).map(Double.init) ?? 0
        let lifetime = raw.isFinite ? min(max(raw, 0), 86_400) : 0
        return (Credential(username: "oauth2accesstoken", password: access), Date().addingTimeInterval(lifetime))
    }
}
