import Foundation
import HTTPTransport

/// One request to a cloud provider, as every keychain and KMS signer makes it: sent, its JSON read; a peer that
/// cannot be reached is a retryable error naming `peer`. Each caller words the refusals its provider sends.
enum CloudCall {
    static func send(
        _ request: HTTPRequest, via transport: any HTTPTransport, identity: String, peer: String
    ) async throws(CloudCredentialError) -> (response: HTTPResponse, json: [String: Any]) {
        let response: HTTPResponse
        do {
            response = try await transport.send(request)
        } catch {
            throw CloudCredentialError(
                identity: identity, reason: "\(peer) cannot be reached: \(error)", isRetryable: true)
        }
        let json = (try? JSONSerialization.jsonObject(with: response.body) as? [String: Any]) ?? [:]
        return (response, json)
    }

    /// A refusal worth another attempt: the provider was busy (`HTTPStatusRule`: 408, 429, 5xx).
    static func isBusy(_ status: Int) -> Bool { HTTPStatusRule.isRetryable(status) }

    /// An AWS JSON-protocol call (ECR, KMS): SigV4-signed `POST` with `X-Amz-Target: target`; a refusal reads
    /// `"<what> refused: HTTP <status> <__type>: <message>"`, retryable when AWS was busy or throttling.
    static func aws(
        target: String, body: Data, endpoint: URL, service: String, region: String, credentials: AWSCredentials,
        via transport: any HTTPTransport, identity: String, peer: String, what: String
    ) async throws(CloudCredentialError) -> [String: Any] {
        var request = HTTPRequest(
            method: "POST", url: endpoint,
            headers: ["Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target], body: body)
        SigV4.sign(&request, service: service, region: region, credentials: credentials)
        let (response, json) = try await send(request, via: transport, identity: identity, peer: peer)
        guard response.status == 200 else {
            let type = (json["__type"] as? String).map { $0.split(separator: "#").last.map(String.init) ?? $0 }
            let text =
                (json["message"] ?? json["Message"]) as? String
                ?? AWSXML.error(String(decoding: response.body.prefix(2048), as: UTF8.self), status: response.status)
            throw CloudCredentialError(
                identity: identity,
                reason: "\(what) refused: HTTP \(response.status)\(type.map { " \($0)" } ?? ""): \(text)",
                isRetryable: isBusy(response.status) || type == "ThrottlingException")
        }
        return json
    }
}
