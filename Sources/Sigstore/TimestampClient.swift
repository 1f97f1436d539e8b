import Foundation
import HTTPTransport

/// A timestamp authority refused, failed, or answered what we do not accept. Names the authority.
package struct TimestampError: Error, Sendable, CustomStringConvertible, RetryClassifiable {
    package var address: String
    package var status: Int?
    package var reason: String
    /// An answer that is not a timestamp at all (garbage, HTML from a proxy): broken now, maybe not when asked again.
    package var malformedAnswer: Bool
    /// 5xx, 429 and 408 (`HTTPStatusRule`) and garbage may pass; a refused request or a timestamp that does not
    /// verify will not.
    package var isRetryable: Bool { malformedAnswer || (status.map(HTTPStatusRule.isRetryable) ?? false) }
    package var description: String {
        "timestamp authority \(address): " + (status.map { "HTTP \($0): " } ?? "") + reason
    }
}

/// An RFC 3161 client as sigstore-go is one: `POST` a DER `TimeStampReq` over SHA-256 of the signature bytes
/// (`Content-Type: application/timestamp-query`), with a fresh nonce and `certReq`; the answer (at most 1 MiB, 200 or
/// 201) is verified with `RFC3161.verify` — nonce, imprint, signed attributes, and the signer's chain to one of
/// `authorities` (the trusted root's `timestampAuthorities`) at `genTime` — before it is returned.
package struct TimestampClient: Sendable {
    package let address: URL
    let transport: any HTTPTransport
    let authorities: [TrustedRoot.CertificateAuthority]
    static let maximumAnswer = 1 << 20

    package init(address: URL, transport: any HTTPTransport, authorities: [TrustedRoot.CertificateAuthority]) {
        self.address = address
        self.transport = transport
        self.authorities = authorities
    }

    /// A verified timestamp over `signature`: the DER `TimeStampResp` a bundle carries, and what it says.
    package func timestamp(signature: Data) async throws -> (der: Data, verified: VerifiedTimestamp) {
        let nonce = RFC3161.nonce()
        let request = HTTPRequest(
            method: "POST", url: address,
            headers: ["Content-Type": "application/timestamp-query", "Accept": "application/timestamp-reply"],
            body: RFC3161.request(signature: signature, nonce: nonce))
        let response = try await transport.send(request)
        func failure(_ reason: String, status: Int? = nil, malformed: Bool = false) -> TimestampError {
            TimestampError(address: address.absoluteString, status: status, reason: reason, malformedAnswer: malformed)
        }
        guard response.status == 200 || response.status == 201 else {
            let text = String(decoding: response.body.prefix(200), as: UTF8.self)
            throw failure("the request was not answered with a timestamp: \(text)", status: response.status)
        }
        guard response.body.count <= Self.maximumAnswer else {
            throw failure("the answer is larger than 1 MiB", malformed: true)
        }
        do {
            let verified = try await RFC3161.verify(
                response: response.body, signature: signature, authorities: authorities, nonce: ArraySlice(nonce))
            return (response.body, verified)
        } catch {
            // Not DER at all: a broken answer that may pass. DER that does not verify: it will not.
            let garbage = (try? RFC3161.parse(response: response.body)) == nil && response.body.first != 0x30
            throw failure("the timestamp does not verify: \(error.reason)", malformed: garbage)
        }
    }
}
