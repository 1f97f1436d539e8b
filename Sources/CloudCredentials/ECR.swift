import Foundation
import HTTPTransport
import RegistryAuth
import Synchronization

/// An ECR registry host: `<account>.dkr.ecr.<region>.amazonaws.com`, its FIPS form (`dkr.ecr-fips`) and the China
/// partition (`.amazonaws.com.cn`).
package struct ECRRegistry: Sendable, Equatable {
    package var account: String
    package var region: String
    package var fips: Bool
    package var china: Bool

    package init?(host registry: String) {
        let host = registry.split(separator: ":", maxSplits: 1).first.map(String.init)?.lowercased() ?? ""
        var labels = host.split(separator: ".").map(String.init)
        if labels.last == "cn" {
            china = true
            labels.removeLast()
        } else {
            china = false
        }
        guard labels.count == 6, labels[1] == "dkr", labels[4] == "amazonaws", labels[5] == "com",
            labels[0].count == 12, labels[0].allSatisfy({ $0.isASCII && $0.isNumber }),
            ["ecr", "ecr-fips"].contains(labels[2]), !labels[3].isEmpty,
            // A region is a DNS label: the API endpoint is built from it (found by the fuzzer: bytes that made no URL).
            labels[3].allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") })
        else { return nil }
        account = labels[0]
        fips = labels[2] == "ecr-fips"
        region = labels[3]
    }

    /// The ECR API endpoint for this registry's region.
    package var apiEndpoint: String {
        "https://\(fips ? "ecr-fips" : "api.ecr").\(region).amazonaws.com\(china ? ".cn" : "")"
    }
}

/// ECR's keychain: for ECR hosts only, and only when AWS credentials are configured. `ecr:GetAuthorizationToken`
/// (SigV4-signed) gives a token that decodes to `AWS:<password>`, valid 12 hours; it is kept per registry until
/// five minutes before it expires.
package final class ECRKeychain: CloudKeychain {
    package let name = "ECR"
    let chain: AWSCredentialChain
    let transport: any HTTPTransport
    let tokens = Mutex<[String: (credential: Credential, until: Date)]>([:])

    package init(chain: AWSCredentialChain, transport: any HTTPTransport) {
        self.chain = chain
        self.transport = transport
    }

    package func handles(registry: String) -> Bool { ECRRegistry(host: registry) != nil }

    package func credential(for registry: String) async throws(CredentialWarning) -> SourcedCredential? {
        try await credential(for: registry, now: Date())
    }

    /// The same at a given time (a test moves the clock to just before a kept token's end).
    func credential(for registry: String, now: Date) async throws(CredentialWarning) -> SourcedCredential? {
        guard let ecr = ECRRegistry(host: registry) else { return nil }
        let source = CredentialSource(kind: .cloudKeychain, origin: "ECR, \(chain.identity)", key: registry)
        if let known = tokens.withLock({ $0[registry] }), known.until.timeIntervalSince(now) > 300 {
            return SourcedCredential(known.credential, source: source)
        }
        do {
            let (credential, expiry) = try await authorizationToken(ecr)
            // A token that arrives already expired (a clock off, or a test double) is used once, never kept.
            if expiry.timeIntervalSince(now) > 300 { tokens.withLock { $0[registry] = (credential, expiry) } }
            return SourcedCredential(credential, source: source)
        } catch {
            throw CredentialWarning(
                source: "ECR for \(registry)", message: error.description, isTransient: error.isRetryable)
        }
    }

    func authorizationToken(_ ecr: ECRRegistry) async throws(CloudCredentialError) -> (Credential, Date) {
        let credentials = try await chain.credentials()
        guard let url = chain.endpoint(service: "ECR", standard: ecr.apiEndpoint) else {
            throw CloudCredentialError(identity: chain.identity, reason: "AWS_ENDPOINT_URL_ECR is not a URL")
        }
        let json = try await CloudCall.aws(
            target: "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
            body: Data(#"{"registryIds":["\#(ecr.account)"]}"#.utf8), endpoint: url, service: "ecr", region: ecr.region,
            credentials: credentials, via: transport, identity: chain.identity, peer: "ECR at \(url.hostAndPort)",
            what: "GetAuthorizationToken for account \(ecr.account) in \(ecr.region)")
        return try Self.parseAuthorizationToken(json, identity: chain.identity)
    }

    /// `AWS:<password>` and its expiry from a GetAuthorizationToken answer.
    package static func parseAuthorizationToken(
        _ body: Data, identity: String
    ) throws(CloudCredentialError) -> (Credential, Date) {
        try parseAuthorizationToken(
            (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:], identity: identity)
    }

    static func parseAuthorizationToken(
        _ json: [String: Any], identity: String
    ) throws(CloudCredentialError) -> (Credential, Date) {
        guard let data = (json["authorizationData"] as? [[String: Any]])?.first,
            let token = data["authorizationToken"] as? String,
            let decoded = Data(base64Encoded: token).map({ String(decoding: $0, as: UTF8.self) }),
            let colon = decoded.firstIndex(of: ":")
        else {
            throw CloudCredentialError(identity: identity, reason: "GetAuthorizationToken answered without a token")
        }
        let seconds = (data["expiresAt"] as? Double).flatMap { $0.isFinite ? $0 : nil }
        let expiry = seconds.map { Date(timeIntervalSince1970: $0) } ?? Date().addingTimeInterval(3600)
        let credential = Credential(
            username: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...]))
        return (credential, expiry)
    }
}
