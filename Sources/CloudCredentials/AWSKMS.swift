import Crypto
import Foundation
import HTTPTransport
import Signing
import X509

/// `signers.kms.kmsref`'s `awskms://` form, as cosign and Tekton Chains write it.
package struct AWSKMSReference: Sendable, Equatable {
    /// `awskms://ENDPOINT/…`: a host[:port] reached over https; nil for `awskms:///…`.
    package var endpoint: String?
    /// A key id, a key ARN, an alias (`alias/chains`) or an alias ARN.
    package var keyID: String
    package var text: String

    /// Parses `awskms://[ENDPOINT]/KEY`; an error says what is wrong with it.
    package init(parsing text: String) throws(CloudCredentialError) {
        self.text = text
        let who = "signers.kms.kmsref \(text)"
        guard text.hasPrefix("awskms://") else {
            throw CloudCredentialError(
                identity: who,
                reason:
                    "is not a KMS reference (awskms://, gcpkms://, azurekms:// or hashivault://); for AWS: "
                    + "awskms://[ENDPOINT]/KEY-ID, alias/NAME or an ARN")
        }
        let rest = text.dropFirst("awskms://".count)
        guard let slash = rest.firstIndex(of: "/") else {
            throw CloudCredentialError(identity: who, reason: "names no key (awskms:///KEY-ID)")
        }
        endpoint = rest[..<slash].isEmpty ? nil : String(rest[..<slash])
        keyID = String(rest[rest.index(after: slash)...])
        guard !keyID.isEmpty, !keyID.contains(" ") else {
            throw CloudCredentialError(identity: who, reason: "names no key (awskms:///KEY-ID)")
        }
    }

    /// The region an ARN names (`arn:aws:kms:REGION:ACCOUNT:key/…`), else nil.
    package var arnRegion: String? {
        let parts = keyID.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 6, parts[0] == "arn", parts[2] == "kms", !parts[3].isEmpty else { return nil }
        return String(parts[3])
    }
}

/// A signer whose private key stays in AWS KMS: `GetPublicKey` once (the key's type picks the algorithm), then
/// `Sign` for every payload with `MessageType: DIGEST`, the hash computed here (as sigstore's clients do). The
/// signature is what a local key of the same type makes (ASN.1 DER ECDSA, PKCS#1 v1.5 RSA), so key ids, DSSE and
/// verification work as for local keys.
package struct AWSKMSSigner: Signer {
    package let reference: AWSKMSReference
    package let publicKey: PublicKey
    package var certificateChain: [Certificate]? { nil }
    package var origin: String { "AWS KMS key \(reference.text)" }
    let algorithm: String
    let endpoint: URL
    let region: String
    let chain: AWSCredentialChain
    let transport: any HTTPTransport

    /// Reads the key's public half and checks it can sign; errors name the kmsref and what KMS answered.
    package static func connect(
        _ reference: AWSKMSReference, chain: AWSCredentialChain, transport: any HTTPTransport
    ) async throws(CloudCredentialError) -> AWSKMSSigner {
        let who = "signers.kms.kmsref \(reference.text) (\(chain.identity))"
        guard let region = reference.arnRegion ?? chain.configuredRegion else {
            throw CloudCredentialError(identity: who, reason: "no region: set AWS_REGION, or use the key's ARN")
        }
        let standard =
            reference.endpoint.map { "https://\($0)" }
            ?? "https://kms.\(region).amazonaws.com\(region.hasPrefix("cn-") ? ".cn" : "")"
        guard
            let endpoint = reference.endpoint != nil
                ? URL(string: standard) : chain.endpoint(service: "KMS", standard: standard)
        else {
            throw CloudCredentialError(identity: who, reason: "the KMS endpoint is not a URL")
        }
        let answer = try await call(
            "GetPublicKey", ["KeyId": reference.keyID], endpoint: endpoint, region: region, chain: chain,
            transport: transport, who: who)
        let (key, algorithm) = try parsePublicKey(answer, who: who)
        return AWSKMSSigner(
            reference: reference, publicKey: key, algorithm: algorithm, endpoint: endpoint, region: region,
            chain: chain,
            transport: transport)
    }

    /// The public key and the signing algorithm from a GetPublicKey answer.
    package static func parsePublicKey(
        _ answer: [String: Any], who: String
    ) throws(CloudCredentialError) -> (PublicKey, String) {
        guard let der = (answer["PublicKey"] as? String).flatMap({ Data(base64Encoded: $0) }), !der.isEmpty else {
            throw CloudCredentialError(identity: who, reason: "GetPublicKey answered without a public key")
        }
        if let usage = answer["KeyUsage"] as? String, usage != "SIGN_VERIFY" {
            throw CloudCredentialError(identity: who, reason: "the key's usage is \(usage), not SIGN_VERIFY")
        }
        let pem =
            "-----BEGIN PUBLIC KEY-----\n"
            + der.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
            + "\n-----END PUBLIC KEY-----\n"
        let key: PublicKey
        do {
            key = try PublicKey(pem: pem, file: who)
        } catch {
            throw CloudCredentialError(identity: who, reason: "the key's public half is not usable: \(error)")
        }
        let algorithm: String
        switch key {
        case .p256: algorithm = "ECDSA_SHA_256"
        case .p384: algorithm = "ECDSA_SHA_384"
        case .p521: algorithm = "ECDSA_SHA_512"
        case .rsa: algorithm = "RSASSA_PKCS1_V1_5_SHA_256"
        case .ed25519: throw CloudCredentialError(identity: who, reason: "Ed25519 keys cannot sign in AWS KMS")
        }
        if let offered = answer["SigningAlgorithms"] as? [String], !offered.contains(algorithm) {
            throw CloudCredentialError(
                identity: who,
                reason: "the key does not offer \(algorithm) (it offers \(offered.joined(separator: ", ")))")
        }
        return (key, algorithm)
    }

    package func sign(_ message: Data) async throws -> Data {
        let who = "signers.kms.kmsref \(reference.text) (\(chain.identity))"
        // DIGEST always, as sigstore's KMS clients send it: RAW stops at 4,096 bytes, provenance does not.
        let digest: Data
        switch algorithm {
        case "ECDSA_SHA_384": digest = Data(SHA384.hash(data: message))
        case "ECDSA_SHA_512": digest = Data(SHA512.hash(data: message))
        default: digest = Data(SHA256.hash(data: message))
        }
        let request: [String: Any] = [
            "KeyId": reference.keyID, "SigningAlgorithm": algorithm, "MessageType": "DIGEST",
            "Message": digest.base64EncodedString(),
        ]
        let answer = try await Self.call(
            "Sign", request, endpoint: endpoint, region: region, chain: chain, transport: transport, who: who)
        guard let signature = (answer["Signature"] as? String).flatMap({ Data(base64Encoded: $0) }) else {
            throw CloudCredentialError(identity: who, reason: "Sign answered without a signature")
        }
        return signature
    }

    /// One KMS JSON-protocol call (`TrentService.<action>`), SigV4-signed.
    static func call(
        _ action: String, _ body: [String: Any], endpoint: URL, region: String, chain: AWSCredentialChain,
        transport: any HTTPTransport, who: String
    ) async throws(CloudCredentialError) -> [String: Any] {
        let credentials: AWSCredentials
        do {
            credentials = try await chain.credentials()
        } catch {
            throw CloudCredentialError(identity: who, reason: error.description, isRetryable: error.isRetryable)
        }
        return try await CloudCall.aws(
            target: "TrentService.\(action)", body: (try? JSONSerialization.data(withJSONObject: body)) ?? Data(),
            endpoint: endpoint, service: "kms", region: region, credentials: credentials, via: transport, identity: who,
            peer: "KMS at \(endpoint.hostAndPort)", what: "KMS \(action)")
    }
}

extension AWSCredentialChain {
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`, else nil.
    package var configuredRegion: String? {
        environment["AWS_REGION"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["AWS_DEFAULT_REGION"].flatMap { $0.isEmpty ? nil : $0 }
    }
}
