import Foundation
import HTTPTransport
import Synchronization

/// Why AWS credentials could not be had: names the identity (role, source) and what AWS answered.
package struct CloudCredentialError: Error, Sendable, CustomStringConvertible {
    package var identity: String
    package var reason: String
    /// The provider could not be reached or was busy (timeouts, resets, 5xx, throttling): worth another attempt.
    package var isRetryable: Bool
    package init(identity: String, reason: String, isRetryable: Bool = false) {
        self.identity = identity
        self.reason = reason
        self.isRetryable = isRetryable
    }
    package var description: String { "\(identity): \(reason)" }
}

/// The AWS credentials the SDKs would find, in their order, for the variables a Pod on EKS gets: the environment
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`); IRSA (`AWS_ROLE_ARN` +
/// `AWS_WEB_IDENTITY_TOKEN_FILE`: `sts:AssumeRoleWithWebIdentity`, unsigned, the token read afresh each time); EKS
/// Pod Identity (`AWS_CONTAINER_CREDENTIALS_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` or
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN`). Temporary credentials are kept until five minutes before they expire.
package final class AWSCredentialChain: Sendable {
    package enum Source: Sendable, Equatable {
        case environment
        case webIdentity(roleARN: String, tokenFile: String, sessionName: String)
        case containerCredentials(uri: String, tokenFile: String?, token: String?)
    }

    package let source: Source
    let environment: [String: String]
    let transport: any HTTPTransport
    let cached = Mutex<AWSCredentials?>(nil)

    /// nil when the environment names no AWS credentials (not on AWS, or not configured): ECR is then not asked.
    package init?(environment: [String: String], transport: any HTTPTransport) {
        self.environment = environment
        self.transport = transport
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        if value("AWS_ACCESS_KEY_ID") != nil, value("AWS_SECRET_ACCESS_KEY") != nil {
            source = .environment
        } else if let role = value("AWS_ROLE_ARN"), let file = value("AWS_WEB_IDENTITY_TOKEN_FILE") {
            source = .webIdentity(
                roleARN: role, tokenFile: file, sessionName: value("AWS_ROLE_SESSION_NAME") ?? "chains-in-swift")
        } else if let uri = value("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            source = .containerCredentials(
                uri: uri, tokenFile: value("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
                token: value("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
        } else {
            return nil
        }
    }

    /// Who we are, for messages (no secret).
    package var identity: String {
        switch source {
        case .environment:
            return "AWS access key \(environment["AWS_ACCESS_KEY_ID"]!.prefix(4))… from the environment"
        case .webIdentity(let role, _, _): return "IAM role \(role) (web identity, IRSA)"
        case .containerCredentials(let uri, _, _): return "EKS Pod Identity (\(uri))"
        }
    }

    /// Current credentials: cached ones while they have five minutes left, else fresh.
    package func credentials(now: Date = Date()) async throws(CloudCredentialError) -> AWSCredentials {
        if let known = cached.withLock({ $0 }),
            known.expiration.map({ $0.timeIntervalSince(now) > 300 }) ?? true
        {
            return known
        }
        let fresh = try await fetch()
        cached.withLock { $0 = fresh }
        return fresh
    }

    func fetch() async throws(CloudCredentialError) -> AWSCredentials {
        switch source {
        case .environment:
            return AWSCredentials(
                accessKeyID: environment["AWS_ACCESS_KEY_ID"]!, secretAccessKey: environment["AWS_SECRET_ACCESS_KEY"]!,
                sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }, origin: "environment")
        case .webIdentity(let role, let file, let session):
            return try await assumeRoleWithWebIdentity(role: role, tokenFile: file, sessionName: session)
        case .containerCredentials(let uri, let file, let token):
            return try await containerCredentials(uri: uri, tokenFile: file, token: token)
        }
    }

    /// The region: `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `fallback`.
    func region(fallback: String) -> String {
        environment["AWS_REGION"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["AWS_DEFAULT_REGION"].flatMap { $0.isEmpty ? nil : $0 } ?? fallback
    }

    /// A service's endpoint: `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`, else `standard`.
    package func endpoint(service: String, standard: String) -> URL? {
        let key = "AWS_ENDPOINT_URL_" + service.uppercased().replacingOccurrences(of: " ", with: "_")
        let text = [environment[key], environment["AWS_ENDPOINT_URL"]].compactMap { $0 }.first { !$0.isEmpty }
        return URL(string: text ?? standard)
    }

    func assumeRoleWithWebIdentity(
        role: String, tokenFile: String, sessionName: String
    ) async throws(CloudCredentialError) -> AWSCredentials {
        let who = "IAM role \(role) (web identity, IRSA)"
        guard let data = FileManager.default.contents(atPath: tokenFile),
            case let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
            !token.isEmpty
        else {
            throw CloudCredentialError(
                identity: who, reason: "cannot read the web identity token \(tokenFile) (AWS_WEB_IDENTITY_TOKEN_FILE)")
        }
        let region = region(fallback: "us-east-1")
        guard let base = endpoint(service: "STS", standard: "https://sts.\(region).amazonaws.com") else {
            throw CloudCredentialError(identity: who, reason: "AWS_ENDPOINT_URL_STS is not a URL")
        }
        let fields = [
            ("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", role),
            ("RoleSessionName", sessionName), ("WebIdentityToken", token),
        ]
        let body = fields.map { "\(SigV4.encode($0.0))=\(SigV4.encode($0.1))" }.joined(separator: "&")
        // Unsigned, as AWS documents it: the web identity token is the proof.
        let request = HTTPRequest(
            method: "POST", url: base, headers: ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8"],
            body: Data(body.utf8))
        let (response, _) = try await CloudCall.send(
            request, via: transport, identity: who, peer: "STS at \(base.hostAndPort)")
        let text = String(decoding: response.body.prefix(65_536), as: UTF8.self)
        guard response.status == 200 else {
            throw CloudCredentialError(
                identity: who,
                reason: "STS refused AssumeRoleWithWebIdentity: \(AWSXML.error(text, status: response.status))",
                isRetryable: CloudCall.isBusy(response.status))
        }
        return try Self.parseAssumeRole(text, who: who)
    }

    /// The credentials in an `AssumeRoleWithWebIdentityResponse` (the fuzz harness feeds it too).
    package static func parseAssumeRole(_ text: String, who: String) throws(CloudCredentialError) -> AWSCredentials {
        guard let key = AWSXML.value("AccessKeyId", in: text), let secret = AWSXML.value("SecretAccessKey", in: text),
            let session = AWSXML.value("SessionToken", in: text), !key.isEmpty, !secret.isEmpty
        else {
            throw CloudCredentialError(identity: who, reason: "STS answered without credentials")
        }
        let expiry = AWSXML.value("Expiration", in: text).flatMap(AWSXML.date)
        return AWSCredentials(
            accessKeyID: key, secretAccessKey: secret, sessionToken: session, expiration: expiry, origin: who)
    }

    func containerCredentials(
        uri: String, tokenFile: String?, token: String?
    ) async throws(CloudCredentialError) -> AWSCredentials {
        let who = "EKS Pod Identity (\(uri))"
        guard let url = URL(string: uri), let host = url.host else {
            throw CloudCredentialError(identity: who, reason: "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL")
        }
        // As the SDKs: plain http only to the EKS and ECS agents' addresses or loopback.
        let agents = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23", "[fd00:ec2::23]"]
        guard url.carriesCredentialsSafely || (url.scheme == "http" && agents.contains(host)) else {
            throw CloudCredentialError(
                identity: who, reason: "plain http is allowed only to the Pod Identity agent or loopback, not \(host)")
        }
        var authorization = token
        if let tokenFile {
            guard let data = FileManager.default.contents(atPath: tokenFile) else {
                throw CloudCredentialError(
                    identity: who, reason: "cannot read \(tokenFile) (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)")
            }
            authorization = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var headers: HTTPHeaders = ["Accept": "application/json"]
        if let authorization { headers["Authorization"] = authorization }
        let (response, json) = try await CloudCall.send(
            HTTPRequest(method: "GET", url: url, headers: headers), via: transport, identity: who, peer: "the agent")
        guard response.status == 200 else {
            let detail = String(decoding: response.body.prefix(300), as: UTF8.self)
            throw CloudCredentialError(identity: who, reason: "the agent answered HTTP \(response.status): \(detail)")
        }
        return try Self.parseContainerCredentials(json, who: who)
    }

    /// The credentials in a container credentials answer (EKS Pod Identity, ECS).
    package static func parseContainerCredentials(
        _ body: Data, who: String
    ) throws(CloudCredentialError) -> AWSCredentials {
        try parseContainerCredentials(
            (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:], who: who)
    }

    static func parseContainerCredentials(
        _ json: [String: Any], who: String
    ) throws(CloudCredentialError) -> AWSCredentials {
        guard let key = json["AccessKeyId"] as? String, let secret = json["SecretAccessKey"] as? String, !key.isEmpty,
            !secret.isEmpty
        else {
            throw CloudCredentialError(identity: who, reason: "the agent answered without AccessKeyId/SecretAccessKey")
        }
        let token = (json["Token"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        return AWSCredentials(
            accessKeyID: key, secretAccessKey: secret, sessionToken: token,
            expiration: (json["Expiration"] as? String).flatMap(AWSXML.date), origin: who)
    }
}

/// The few fields we read from AWS's XML answers (STS's query protocol). Hand-written: the answers are flat,
/// attribute-free elements; the five XML entities are decoded.
package enum AWSXML {
    package static func value(_ element: String, in text: String) -> String? {
        guard let open = text.range(of: "<\(element)>"),
            let close = text.range(of: "</\(element)>", range: open.upperBound..<text.endIndex)
        else { return nil }
        return String(text[open.upperBound..<close.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// "HTTP 403 AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity".
    package static func error(_ text: String, status: Int) -> String {
        let code = value("Code", in: text) ?? ""
        let message = value("Message", in: text) ?? String(text.prefix(200))
        return "HTTP \(status)\(code.isEmpty ? "" : " \(code)"): \(message)"
    }

    package static func date(_ text: String) -> Date? {
        Timestamps.rfc3339(text)
    }
}

extension CloudCredentialError: RetryClassifiable {}
