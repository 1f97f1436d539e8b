import Crypto
import Foundation
import HTTPTransport
import Signing
import SwiftASN1
import X509

/// Fulcio refused, failed, or answered something we do not accept. Names the address and the API; never the
/// token.
package struct FulcioError: Error, Sendable, CustomStringConvertible {
    package var address: String
    package var status: Int?
    package var reason: String
    /// 5xx and 429: Fulcio may answer later. 4xx (a refused token, a bad key): it will not.
    package var isRetryable: Bool { status.map(HTTPStatusRule.isRetryable) ?? false }

    package init(address: String, status: Int?, reason: String) {
        self.address = address
        self.status = status
        self.reason = reason
    }
    package var description: String {
        "Fulcio \(address): " + (status.map { "HTTP \($0): " } ?? "") + reason
    }
}

/// A Fulcio client: a short-lived certificate for an ephemeral key, for the identity in an OIDC token. Asks the v2
/// API (`POST /api/v2/signingCert`) and falls back to v1 when v2 is not there (404/405).
package struct FulcioClient: Sendable {
    package var address: URL
    let transport: any HTTPTransport
    /// When given, the chain must end in one of its Fulcio CAs.
    package var trustedRoot: TrustedRoot?

    package init(address: URL, transport: any HTTPTransport, trustedRoot: TrustedRoot? = nil) {
        self.address = address
        self.transport = transport
        self.trustedRoot = trustedRoot
    }

    /// The leaf first, then its chain. Checks that the leaf certifies `key` and that each certificate is signed by
    /// the next.
    package func certificate(
        for key: P256.Signing.PrivateKey, token: IdentityToken
    ) async throws -> [Certificate] {
        let challenge = try token.challenge()
        let proof = try key.signature(for: Data(challenge.utf8)).derRepresentation
        let pem = key.publicKey.pemRepresentation + "\n"
        var chain: [Certificate]
        let v2 = try await post(
            "api/v2/signingCert", token: token,
            body: [
                "credentials": ["oidcIdentityToken": token.raw],
                "publicKeyRequest": [
                    "publicKey": ["algorithm": "ECDSA", "content": pem],
                    "proofOfPossession": proof.base64EncodedString(),
                ],
            ])
        if v2.status == 404 || v2.status == 405 {
            let v1 = try await post(
                "api/v1/signingCert", token: token,
                body: [
                    "publicKey": ["content": Data(pem.utf8).base64EncodedString(), "algorithm": "ecdsa"],
                    "signedEmailAddress": proof.base64EncodedString(),
                ])
            guard v1.status == 201 else { throw failure(v1) }
            chain = try parsePEMChain(String(decoding: v1.body, as: UTF8.self))
        } else {
            guard v2.status == 200 else { throw failure(v2) }
            chain = try parseV2(v2.body)
        }
        try check(chain, key: key)
        return chain
    }

    func post(_ path: String, token: IdentityToken, body: [String: Any]) async throws -> HTTPResponse {
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        return try await transport.send(
            HTTPRequest(
                method: "POST", url: address.appendingPathComponent(path),
                headers: [
                    "Content-Type": "application/json", "Accept": "application/json",
                    "Authorization": "Bearer \(token.raw)",
                ], body: data))
    }

    func failure(_ response: HTTPResponse) -> FulcioError {
        var reason = "certificate refused"
        if let json = try? JSONSerialization.jsonObject(with: response.body.prefix(65536)) as? [String: Any],
            let message = json["message"] as? String
        {
            reason = message
        } else if !response.body.isEmpty, response.body.count < 300 {
            reason = String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return FulcioError(address: address.absoluteString, status: response.status, reason: reason)
    }

    package func parseV2(_ body: Data) throws -> [Certificate] {
        guard let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let signed = (json["signedCertificateEmbeddedSct"] ?? json["signedCertificateDetachedSct"])
                as? [String: Any],
            let certificates = (signed["chain"] as? [String: Any])?["certificates"] as? [String]
        else {
            throw FulcioError(
                address: address.absoluteString, status: 200, reason: "the answer holds no certificate chain")
        }
        return try parsePEMChain(certificates.joined(separator: "\n"))
    }

    func parsePEMChain(_ text: String) throws -> [Certificate] {
        let chain: [Certificate]
        do {
            chain = try PEMDocument.parseMultiple(pemString: text).map { try Certificate(derEncoded: $0.derBytes) }
        } catch {
            throw FulcioError(
                address: address.absoluteString, status: nil, reason: "a certificate does not parse: \(error)")
        }
        guard !chain.isEmpty else {
            throw FulcioError(address: address.absoluteString, status: nil, reason: "the answer holds no certificate")
        }
        return chain
    }

    /// The leaf must certify our key (else someone else's certificate would sign our payloads) and each certificate
    /// must be signed by the next; with a trusted root, the chain must end in one of its Fulcio CAs (valid when the
    /// leaf was issued).
    func check(_ chain: [Certificate], key: P256.Signing.PrivateKey) throws {
        guard chain[0].publicKey == Certificate.PublicKey(key.publicKey) else {
            throw FulcioError(
                address: address.absoluteString, status: nil, reason: "the certificate is for another key; refused")
        }
        for (certificate, issuer) in zip(chain, chain.dropFirst())
        where !issuer.publicKey.isValidSignature(certificate.signature, for: certificate) {
            throw FulcioError(
                address: address.absoluteString, status: nil,
                reason: "the chain is broken: \(certificate.subject) is not signed by \(issuer.subject)")
        }
        guard let trustedRoot else { return }
        if !trustedRoot.anchors(chain, at: chain[0].notValidBefore) {
            throw FulcioError(
                address: address.absoluteString, status: nil,
                reason: "the certificate chain does not end in a Fulcio CA of the trusted root; refused")
        }
        // Fulcio logged the precertificate in a CT log: the embedded SCT proves it (Chains checks nothing here).
        if !trustedRoot.ctlogs.isEmpty {
            guard chain.count > 1 else {
                throw FulcioError(
                    address: address.absoluteString, status: nil,
                    reason: "the answer has no issuer certificate to check the SCT with; refused")
            }
            do {
                _ = try SignedCertificateTimestamp.verifyEmbedded(
                    leaf: chain[0], issuer: chain[1], ctlogs: trustedRoot.ctlogs)
            } catch {
                throw FulcioError(address: address.absoluteString, status: nil, reason: "\(error); refused")
            }
        }
    }
}

extension FulcioError: RetryClassifiable {}
