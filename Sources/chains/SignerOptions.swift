import ArgumentParser
import ChainsCore
import Foundation
import Signing
import Sigstore

/// Who must have signed, for every verify command: `--key`, or keyless `--certificate-identity(-regexp)` and
/// `--certificate-oidc-issuer(-regexp)` under `--trusted-root`.
struct SignerOptions: ParsableArguments {
    @Option(help: "Public key PEM (cosign.pub, x509.pub) — or the private key file, whose public half is used.")
    var key: String?

    @Option(
        name: .customLong("certificate-identity"),
        help: "Keyless: the certificate's identity (SAN: SPIFFE ID, ServiceAccount URI, email), exactly.")
    var certificateIdentity: String?

    @Option(
        name: .customLong("certificate-identity-regexp"),
        help: "Keyless: a regular expression the identity must match (anywhere; anchor with ^…$).")
    var certificateIdentityRegexp: String?

    @Option(
        name: .customLong("certificate-oidc-issuer"), help: "Keyless: the OIDC issuer in the certificate, exactly.")
    var certificateOIDCIssuer: String?

    @Option(
        name: .customLong("certificate-oidc-issuer-regexp"),
        help: "Keyless: a regular expression the OIDC issuer must match.")
    var certificateOIDCIssuerRegexp: String?

    @Option(
        name: .customLong("trusted-root"),
        help: "Keyless: the sigstore trusted_root.json (Fulcio CAs, CT logs, Rekor keys) to verify against.")
    var trustedRoot: String?

    @Option(
        name: .customLong("tlog-threshold"),
        help: ArgumentHelp(
            "Verified transparency-log entries (Rekor v1 or v2) a signature must have (bundles: default 1, as cosign and sigstore-go; 0 accepts one signed with no log). With --key, give --trusted-root to check them.",
            valueName: "n"))
    var tlogThreshold: Int?

    @Option(
        name: .customLong("timestamp-threshold"),
        help: ArgumentHelp(
            "Verified RFC 3161 timestamps a signature must have (default 0; every one present is verified anyway).",
            valueName: "n"))
    var timestampThreshold: Int?

    /// The thresholds given on the command line; nil when neither is (each path's defaults).
    var thresholds: VerificationThresholds? {
        guard tlogThreshold != nil || timestampThreshold != nil else { return nil }
        return VerificationThresholds(logEntries: tlogThreshold, signedTimestamps: timestampThreshold ?? 0)
    }

    /// With `--key`, the trusted root that checks log entries and timestamps (`--trusted-root`), if given.
    func logRoot() throws -> TrustedRoot? {
        guard key != nil, let trustedRoot else { return nil }
        return try LocalRegistryAccess.readTrustedRoot(trustedRoot)
    }

    func validate() throws {
        for (flag, value) in [("--tlog-threshold", tlogThreshold), ("--timestamp-threshold", timestampThreshold)]
        where (value ?? 0) < 0 {
            throw ValidationError("\(flag) must be 0 or more")
        }
        let identity = [certificateIdentity, certificateIdentityRegexp].compactMap { $0 }
        let issuer = [certificateOIDCIssuer, certificateOIDCIssuerRegexp].compactMap { $0 }
        if key != nil {
            guard identity.isEmpty && issuer.isEmpty else {
                throw ValidationError("--key verifies a key signature; the --certificate-* options are for keyless")
            }
            return
        }
        guard identity.count == 1, issuer.count == 1 else {
            throw ValidationError(
                "give --key PUB, or for keyless one of --certificate-identity / --certificate-identity-regexp and one of --certificate-oidc-issuer / --certificate-oidc-issuer-regexp"
            )
        }
        guard trustedRoot != nil else {
            throw ValidationError(
                "keyless verification needs --trusted-root FILE (the sigstore trusted_root.json of the Fulcio and Rekor that signed)"
            )
        }
    }

    /// The key, or the keyless policy, the options name.
    func authority() throws -> (AttachmentVerifier.Authority, String) {
        if let key {
            let publicKey = try LocalRegistryAccess.readKey(key)
            return (.key(publicKey), "key \(publicKey.keyID)")
        }
        let identity: IdentityMatch =
            certificateIdentity.map { .exact($0) } ?? .pattern(certificateIdentityRegexp ?? "")
        let issuer: IdentityMatch =
            certificateOIDCIssuer.map { .exact($0) } ?? .pattern(certificateOIDCIssuerRegexp ?? "")
        for pattern in [certificateIdentityRegexp, certificateOIDCIssuerRegexp].compactMap({ $0 })
        where (try? Regex(pattern)) == nil {
            throw ValidationError("\"\(pattern)\" is not a regular expression")
        }
        let root = try LocalRegistryAccess.readTrustedRoot(trustedRoot ?? "")
        return (
            .keyless(KeylessPolicy(identity: identity, issuer: issuer, trustedRoot: root)),
            "keyless identity \(identity), issuer \(issuer)"
        )
    }

    /// The same, for bundle verification (a key, or an identity; the trusted root apart).
    func bundleAuthority() throws -> (BundleAuthority, TrustedRoot?) {
        switch try authority().0 {
        case .key(let key):
            return (.key(key), try trustedRoot.map { try LocalRegistryAccess.readTrustedRoot($0) })
        case .keyless(let policy):
            return (.keyless(identity: policy.identity, issuer: policy.issuer), policy.trustedRoot)
        }
    }
}
