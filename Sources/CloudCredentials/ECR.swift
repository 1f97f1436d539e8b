import Foundation
import HTTPTransport
import RegistryAuth
import Synchronization

/// An ECR registry host: `<account>.dkr.ecr.<region>.amazonaws.com`, its FIPS form (`dkr.ecr-fips`) and the China
/// partition (`.amazonaws.com.cn`).
public struct ECRRegistry: Sendable, Equatable {
    public var account: String
    public var region: String
    public var fips: Bool
    public var china: Bool

    public init?(host registry: String) {
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
    public var apiEndpoint: String {
        "https://\(fips ? "ecr-fips" : "api.ecr").\(region).amazonaws.com\(china ? ".cn" : "")"
    }
}

/// ECR's keychain: for ECR hosts only, and only when AWS credentials are configured. `ecr:GetAuthorizationToken`
/// (SigV4-signed) gives a token that decodes to `AWS:<password>`, valid 12 hours; it is kept per registry until
/// five minutes before it expires.
public final class ECRKeychain: CloudKeychain {
    public let name = "ECR"
    let chain: AWSCredentialChain
    let transport: any HTTPTransport
    let tokens = Mutex<[String: (credential: Credential, until: Date)]>([:])

    public init(chain: AWSCredentialChain, transport: any HTTPTransport) {
        self.chain = chain
        self.transport = transport
    }

    public func handles(registry: String) -> Bool { ECRRegistry(host: registry) != nil }

    public func credential(for registry: String) async throws(CredentialWarning) -> SourcedCredential? {
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
        var request = HTTPRequest(
            method: "POST", url: url,
            headers: [
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
            ],
            body: Data(#"{"registryIds":["\#(ecr.account)"]}"#.utf8))
        SigV4.sign(&request, service: "ecr", region: ecr.region, credentials: credentials)
        let response: HTTPResponse
        do {
            response = try await transport.send(request)
        } catch {
            throw CloudCredentialError(
                identity: chain.identity, reason: "ECR at \(url.hostAndPort) cannot be reached: \(error)",
                isRetryable: true)
        }
        let json = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any]
        guard response.status == 200 else {
            let type = (json?["__type"] as? String).map { $0.split(separator: "#").last.map(String.init) ?? $0 }
            let message = (json?["message"] ?? json?["Message"]) as? String
            let text =
                message
                ?? AWSXML.error(String(decoding: response.body.prefix(2048), as: UTF8.self), status: response.status)
            throw CloudCredentialError(
                identity: chain.identity,
                reason:
                    "GetAuthorizationToken for account \(ecr.account) in \(ecr.region) refused: HTTP \(response.status)"
                    + "\(type.map { " \($0)" } ?? ""): \(text)",
                isRetryable: response.status >= 500 || response.status == 429 || type == "ThrottlingException")
        }
        return try Self.parseAuthorizationToken(response.body, identity: chain.identity)
    }

    /// `AWS:<password>` and its expiry from a GetAuthorizationToken answer.
    package static func parseAuthorizationToken(
        _ body: Data, identity: String
    ) throws(CloudCredentialError) -> (Credential, Date) {
        let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
        guard let data = (json?["authorizationData"] as? [[String: Any]])?.first,
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
