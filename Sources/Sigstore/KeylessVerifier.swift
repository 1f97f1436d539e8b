import Foundation
import Signing
import SwiftASN1
// The SPI swift-certificates names for validating at a fixed time: a keyless certificate is judged at the moment the
// log recorded the signature, not now.
@_spi(FixedExpiryValidationTime) import X509

/// A value to match: exactly, or by a regular expression (matched anywhere, as cosign's Go `regexp` does; anchor
/// it with `^…$`).
package enum IdentityMatch: Sendable, CustomStringConvertible {
    case exact(String)
    case pattern(String)

    package func matches(_ value: String) -> Bool {
        switch self {
        case .exact(let expected): return value == expected
        case .pattern(let pattern):
            guard let regex = try? Regex(pattern) else { return false }
            return value.contains(regex)
        }
    }

    package var description: String {
        switch self {
        case .exact(let s): return s
        case .pattern(let p): return "/\(p)/"
        }
    }
}

/// Who a keyless signature must come from, and what it must chain to: `--certificate-identity`,
/// `--certificate-oidc-issuer` (or their `-regexp` forms) and `--trusted-root`.
package struct KeylessPolicy: Sendable {
    package var identity: IdentityMatch
    package var issuer: IdentityMatch
    package var trustedRoot: TrustedRoot

    package init(identity: IdentityMatch, issuer: IdentityMatch, trustedRoot: TrustedRoot) {
        self.identity = identity
        self.issuer = issuer
        self.trustedRoot = trustedRoot
    }
}

/// A keyless signer whose certificate passed every check.
package struct VerifiedSigner: Sendable {
    package var identity: String
    package var issuer: String
    /// When the log recorded the signature: the time the certificate was judged at.
    package var integratedTime: Date
    package var logIndex: Int64
    /// The leaf's key: the signature is checked with it.
    package var publicKey: PublicKey
}

/// Verification of a Fulcio certificate as sigstore clients do it: the log entry proves when the signature was made
/// (its SET, and its inclusion proof up to a signed checkpoint when there is one); at that time the chain must lead
/// to a Fulcio CA of the trusted root, the leaf must carry an SCT of its CT logs, and its identity and issuer must
/// match the policy. The caller checks the signature with `publicKey` and the entry's body against the content.
package enum KeylessVerifier {
    /// `timestamps` are the bundle's verified RFC 3161 timestamps: with no log entry, they are the proof of when the
    /// signature was made, and the certificate is judged at each of them (sigstore-go's signed-timestamp threshold).
    package static func verify(
        leaf: Certificate, chain: [Certificate], entry: RekorEntry?, policy: KeylessPolicy,
        requireInclusionProof: Bool = true, timestamps: [VerifiedTimestamp] = []
    ) async throws(CertificateCheckError) -> VerifiedSigner {
        let time: Date
        if let entry {
            try RekorClient.verify(
                entry, logs: policy.trustedRoot.tlogs, requireInclusionProof: requireInclusionProof)
            time = entry.integratedDate
        } else if let first = timestamps.first {
            time = first.genTime
            for later in timestamps.dropFirst() {
                _ = try await validatedPath(leaf: leaf, chain: chain, at: later.genTime, root: policy.trustedRoot)
            }
        } else {
            throw CertificateCheckError(
                "no transparency-log entry and no signed timestamp: a keyless certificate lives minutes, so only a "
                    + "log entry or an RFC 3161 timestamp proves the signature was made while it was valid")
        }
        let path = try await validatedPath(leaf: leaf, chain: chain, at: time, root: policy.trustedRoot)
        if !policy.trustedRoot.ctlogs.isEmpty {
            _ = try SignedCertificateTimestamp.verifyEmbedded(
                leaf: leaf, issuer: path[1], ctlogs: policy.trustedRoot.ctlogs)
        }
        let names = identities(of: leaf)
        guard let identity = names.first(where: policy.identity.matches) else {
            throw CertificateCheckError(
                "the certificate's identity \(names.joined(separator: ", ")) does not match \(policy.identity)")
        }
        let issuer = oidcIssuer(of: leaf) ?? ""
        guard policy.issuer.matches(issuer) else {
            throw CertificateCheckError(
                "the certificate's OIDC issuer \(issuer.isEmpty ? "(none)" : issuer) does not match \(policy.issuer)")
        }
        guard let key = try? PublicKey(certificateKey: leaf.publicKey) else {
            throw CertificateCheckError("the certificate's key is not a supported public key")
        }
        return VerifiedSigner(
            identity: identity, issuer: issuer, integratedTime: time, logIndex: entry?.logIndex ?? -1, publicKey: key)
    }

    /// RFC 5280 path validation at `time`, from the leaf through the given chain and the trusted root's
    /// intermediates to one of its Fulcio CA roots valid then.
    static func validatedPath(
        leaf: Certificate, chain: [Certificate], at time: Date, root: TrustedRoot
    ) async throws(CertificateCheckError) -> [Certificate] {
        // Said plainly here: the path validator's own message for this prints the whole certificate.
        guard leaf.notValidBefore <= time, time <= leaf.notValidAfter else {
            throw CertificateCheckError(
                "the signing certificate was not valid at \(time), when the signature was made (it is valid from "
                    + "\(leaf.notValidBefore) to \(leaf.notValidAfter))")
        }
        let cas = root.certificateAuthorities.filter { $0.validFor?.contains(time) ?? true }
        let anchors = cas.compactMap(\.chain.last)
        guard !anchors.isEmpty else {
            throw CertificateCheckError("the trusted root has no Fulcio CA valid at \(time)")
        }
        let intermediates = cas.flatMap { $0.chain.dropLast() } + chain.filter { !anchors.contains($0) }
        var verifier = Verifier(rootCertificates: CertificateStore(anchors)) {
            RFC5280Policy(fixedExpiryValidationTime: time)
            FulcioLeafPolicy()
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(intermediates))
        switch result {
        case .validCertificate(let path) where path.count >= 2:
            return Array(path)
        case .validCertificate:
            throw CertificateCheckError("the certificate is itself a trust anchor, not a Fulcio leaf")
        case .couldNotValidate(let failures):
            let reason =
                failures.first.map { "\($0.policyFailureReason)" }
                ?? "no path to a Fulcio CA (a certificate of another CA, or an unhandled critical extension)"
            throw CertificateCheckError(
                "the certificate does not chain to a Fulcio CA of the trusted root at \(time): \(reason)")
        }
    }

    /// The SAN values Fulcio writes: URIs (SPIFFE IDs, Kubernetes ServiceAccounts, CI workflows) and emails.
    package static func identities(of certificate: Certificate) -> [String] {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { name in
            switch name {
            case .uniformResourceIdentifier(let uri): return uri
            case .rfc822Name(let email): return email
            default: return nil
            }
        }
    }

    /// The OIDC issuer: `1.3.6.1.4.1.57264.1.8` (a DER UTF8String), else the deprecated `.1.1` (raw bytes).
    package static func oidcIssuer(of certificate: Certificate) -> String? {
        if let v2 = certificate.extensions.first(where: { $0.oid == [1, 3, 6, 1, 4, 1, 57264, 1, 8] }),
            let text = try? ASN1UTF8String(derEncoded: v2.value)
        {
            return String(text)
        }
        if let v1 = certificate.extensions.first(where: { $0.oid == [1, 3, 6, 1, 4, 1, 57264, 1, 1] }) {
            return String(decoding: v1.value, as: UTF8.self)
        }
        return nil
    }
}

/// Fulcio's leaf profile, as sigstore clients check it: KeyUsage digitalSignature, EKU codeSigning, and a SAN —
/// which Fulcio marks critical (its subject is empty), so this policy is what handles that critical extension; the
/// SAN's value is matched against the verification policy afterwards.
struct FulcioLeafPolicy: VerifierPolicy {
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.subjectAlternativeName]

    mutating func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
        let leaf = chain.leaf
        guard (try? leaf.extensions.keyUsage)??.digitalSignature == true else {
            return .failsToMeetPolicy(reason: "the leaf's KeyUsage lacks digitalSignature")
        }
        guard (try? leaf.extensions.extendedKeyUsage)??.contains(.codeSigning) == true else {
            return .failsToMeetPolicy(reason: "the leaf's extended key usage lacks codeSigning")
        }
        guard let names = try? leaf.extensions.subjectAlternativeNames, !names.isEmpty else {
            return .failsToMeetPolicy(reason: "the leaf has no subject alternative name")
        }
        return .meetsPolicy
    }
}

extension RekorEntry {
    /// An entry as a sigstore bundle carries it (`verificationMaterial.tlogEntries[]`).
    package init(bundled entry: TransparencyLogEntry, logURL: String = "") throws(CertificateCheckError) {
        guard let index = Int64(entry.logIndex), let time = Int64(entry.integratedTime ?? "0"),
            let logID = Data(base64Encoded: entry.logId.keyId),
            let body = Data(base64Encoded: entry.canonicalizedBody)
        else { throw CertificateCheckError("the bundle's log entry is malformed") }
        guard let promise = entry.inclusionPromise.flatMap({ Data(base64Encoded: $0.signedEntryTimestamp) }) else {
            throw CertificateCheckError("the bundle's log entry has no inclusion promise (SET)")
        }
        self.init(
            id: "", logIndex: index, integratedTime: time, logID: logID, body: body, kind: entry.kindVersion.kind,
            signedEntryTimestamp: promise, inclusionProof: entry.inclusionProof, logURL: logURL)
    }

    /// An entry from cosign's `dev.sigstore.cosign/bundle` layer annotation: the SET and what it signs, no proof.
    package init(cosignBundle json: String) throws(CertificateCheckError) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
            let set = (object["SignedEntryTimestamp"] as? String).flatMap({ Data(base64Encoded: $0) }),
            let payload = object["Payload"] as? [String: Any],
            let body = (payload["body"] as? String).flatMap({ Data(base64Encoded: $0) }),
            let time = (payload["integratedTime"] as? NSNumber)?.int64Value,
            let index = (payload["logIndex"] as? NSNumber)?.int64Value,
            let logID = (payload["logID"] as? String).flatMap(Data.init(hex:))
        else { throw CertificateCheckError("the dev.sigstore.cosign/bundle annotation is malformed") }
        let kind = ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any])?["kind"] as? String ?? ""
        self.init(
            id: "", logIndex: index, integratedTime: time, logID: logID, body: body, kind: kind,
            signedEntryTimestamp: set, inclusionProof: nil, logURL: "")
    }
}
