import Crypto
import Foundation
import HTTPTransport
import Signing
import X509

/// `gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N`: a Cloud KMS key version, used with
/// the Pod's Google service account (the GKE metadata server's token). `GET …:publicKey` once (`pem`, `algorithm`);
/// `POST …:asymmetricSign` with the digest made here. The API endpoint: `CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS`
/// (gcloud's override), else `https://cloudkms.googleapis.com/`.
package struct GCPKMSSigner: Signer {
    package let version: String
    package let publicKey: PublicKey
    package var certificateChain: [Certificate]? { nil }
    package var origin: String { "Cloud KMS key gcpkms://\(version)" }
    let digestName: String
    let endpoint: URL
    let tokens: GCRKeychain
    let transport: any HTTPTransport

    /// The key version a kmsref names; an error says what is missing.
    package static func version(of kmsref: String) throws(CloudCredentialError) -> String {
        let name = String(kmsref.dropFirst("gcpkms://".count))
        let parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 10, parts[0] == "projects", parts[2] == "locations", parts[4] == "keyRings",
            parts[6] == "cryptoKeys", parts[8] == "cryptoKeyVersions", parts.allSatisfy({ !$0.isEmpty })
        else {
            throw CloudCredentialError(
                identity: "signers.kms.kmsref \(kmsref)",
                reason:
                    "is not gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N (name the version)"
            )
        }
        return name
    }

    package static func connect(
        version: String, environment: [String: String], tokens: GCRKeychain, transport: any HTTPTransport
    ) async throws(CloudCredentialError) -> GCPKMSSigner {
        let base =
            environment["CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "https://cloudkms.googleapis.com/"
        guard let endpoint = URL(string: base.hasSuffix("/") ? base : base + "/") else {
            throw CloudCredentialError(identity: "gcpkms://\(version)", reason: "\(base) is not a URL")
        }
        let who = "signers.kms.kmsref gcpkms://\(version) (\(tokens.identity))"
        let answer = try await call(
            "GET", "\(version)/publicKey", nil, endpoint: endpoint, tokens: tokens, transport: transport, who: who)
        let (key, digest) = try parsePublicKey(answer, who: who)
        return GCPKMSSigner(
            version: version, publicKey: key, digestName: digest, endpoint: endpoint, tokens: tokens,
            transport: transport)
    }

    var who: String { "signers.kms.kmsref gcpkms://\(version) (\(tokens.identity))" }

    /// The key and the digest to send, from a `publicKey` answer; PSS and decryption keys refused by name.
    package static func parsePublicKey(
        _ answer: [String: Any], who: String
    ) throws(CloudCredentialError) -> (PublicKey, String) {
        guard let pem = answer["pem"] as? String, let algorithm = answer["algorithm"] as? String else {
            throw CloudCredentialError(identity: who, reason: "the publicKey answer has no pem/algorithm")
        }
        let digests = [
            "EC_SIGN_P256_SHA256": "sha256", "EC_SIGN_P384_SHA384": "sha384",
            "RSA_SIGN_PKCS1_2048_SHA256": "sha256", "RSA_SIGN_PKCS1_3072_SHA256": "sha256",
            "RSA_SIGN_PKCS1_4096_SHA256": "sha256", "RSA_SIGN_PKCS1_4096_SHA512": "sha512",
        ]
        guard let digest = digests[algorithm] else {
            throw CloudCredentialError(
                identity: who, reason: "the key's algorithm \(algorithm) is not served (EC_SIGN_* or RSA_SIGN_PKCS1_*)")
        }
        do {
            return (try PublicKey(pem: pem, file: who), digest)
        } catch {
            throw CloudCredentialError(identity: who, reason: "the public key is not usable: \(error)")
        }
    }

    package func sign(_ message: Data) async throws -> Data {
        let digest: Data
        switch digestName {
        case "sha384": digest = Data(SHA384.hash(data: message))
        case "sha512": digest = Data(SHA512.hash(data: message))
        default: digest = Data(SHA256.hash(data: message))
        }
        let answer = try await Self.call(
            "POST", "\(version):asymmetricSign", ["digest": [digestName: digest.base64EncodedString()]],
            endpoint: endpoint, tokens: tokens, transport: transport, who: who)
        guard let signature = (answer["signature"] as? String).flatMap({ Data(base64Encoded: $0) }) else {
            throw CloudCredentialError(identity: who, reason: "asymmetricSign answered without a signature")
        }
        return signature
    }

    static func call(
        _ method: String, _ path: String, _ body: [String: Any]?, endpoint: URL, tokens: GCRKeychain,
        transport: any HTTPTransport, who: String
    ) async throws(CloudCredentialError) -> [String: Any] {
        let token = try await tokens.bearerToken()
        guard let url = URL(string: "v1/\(path)", relativeTo: endpoint)?.absoluteURL else {
            throw CloudCredentialError(identity: who, reason: "no URL for \(path)")
        }
        let request = HTTPRequest(
            method: method, url: url,
            headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"],
            body: body.flatMap { try? JSONSerialization.data(withJSONObject: $0) })
        let (response, json) = try await CloudCall.send(request, via: transport, identity: who, peer: "Cloud KMS")
        guard response.status == 200 else {
            let error = json["error"] as? [String: Any]
            let detail = [error?["status"] as? String, error?["message"] as? String].compactMap { $0 }
            throw CloudCredentialError(
                identity: who,
                reason:
                    "\(method) \(path): HTTP \(response.status)\(detail.isEmpty ? "" : ": " + detail.joined(separator: ": "))",
                isRetryable: CloudCall.isBusy(response.status))
        }
        return json
    }
}
