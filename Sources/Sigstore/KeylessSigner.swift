import Crypto
import Foundation
import HTTPTransport
import Signing
import X509

/// A signer holding an ephemeral P-256 key and the Fulcio certificate for it.
package struct EphemeralSigner: Signer {
    let key: P256.Signing.PrivateKey
    package let publicKey: PublicKey
    package let certificateChain: [Certificate]?
    package let origin: String
    /// The certificate's identity, for the summary (the SAN: a SPIFFE ID, a Kubernetes ServiceAccount URI, an email).
    package let identity: String
    package let notAfter: Date
    package let keyID: String

    init(key: P256.Signing.PrivateKey, chain: [Certificate], fulcio: String, tokenSource: String) {
        self.key = key
        self.publicKey = .p256(key.publicKey)
        self.keyID = publicKey.keyID
        self.certificateChain = chain
        self.notAfter = chain[0].notValidAfter
        self.identity = KeylessVerifier.identities(of: chain[0]).first ?? "\(chain[0].subject)"
        self.origin = "a Fulcio certificate for \(identity) from \(fulcio) (token: \(tokenSource))"
    }

    package func sign(_ message: Data) throws -> Data {
        try key.signature(for: message).derRepresentation
    }
}

/// Keyless signing as a controller needs it: one certificate shared by every run while comfortable validity remains
/// (Chains asks for a token and a certificate for every run and retry), one Fulcio request in flight however many
/// runs ask at once, a fresh token read for each new certificate (projected tokens rotate).
package actor KeylessCertificates {
    let fulcio: FulcioClient
    let providers: [any IdentityTokenProvider]
    let now: @Sendable () -> Date
    var current: EphemeralSigner?
    var inFlight: Task<EphemeralSigner, any Error>?
    /// For benchmarks and tests: tokens read and certificates asked for.
    package private(set) var tokenFetches = 0
    package private(set) var fulcioCalls = 0
    /// Whether certificates are checked against a trusted root's Fulcio CAs (else only for their links).
    package nonisolated var checksTrustedRoot: Bool { fulcio.trustedRoot != nil }
    /// `signers.x509.fulcio.issuer` when set: a token from another issuer is named in a warning (Fulcio decides by
    /// the token's own `iss`; Chains uses the setting only for interactive flows).
    let expectedIssuer: String?
    package private(set) var warnings: [String] = []

    package init(
        fulcio: FulcioClient, providers: [any IdentityTokenProvider], expectedIssuer: String? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.fulcio = fulcio
        self.providers = providers
        self.expectedIssuer = expectedIssuer
        self.now = now
    }

    /// A certificate is reused while more than a third of its life, and at least a minute, remains: a signature
    /// made with it is still inside its validity when a log records it.
    func comfortable(_ signer: EphemeralSigner) -> Bool {
        guard let leaf = signer.certificateChain?.first else { return false }
        let life = leaf.notValidAfter.timeIntervalSince(leaf.notValidBefore)
        return signer.notAfter.timeIntervalSince(now()) > max(60, life / 3)
    }

    /// A failure that will not go away by itself (no token, a refused token) is remembered for a few seconds, so
    /// the artifacts and runs of one burst do not each ask every provider again.
    var lastFailure: IdentityTokenError?
    var lastFailureAt = Date.distantPast
    static let failureMemory: TimeInterval = 10

    package func signer() async throws -> EphemeralSigner {
        if let current, comfortable(current) { return current }
        if let inFlight { return try await inFlight.value }
        if let lastFailure, now().timeIntervalSince(lastFailureAt) < Self.failureMemory { throw lastFailure }
        let task = Task { try await self.fetch() }
        inFlight = task
        let result = await task.result
        inFlight = nil
        switch result {
        case .success(let signer):
            current = signer
            lastFailure = nil
            return signer
        case .failure(let error):
            if let tokenError = error as? IdentityTokenError, !tokenError.isRetryable {
                lastFailure = tokenError
                lastFailureAt = now()
            }
            throw error
        }
    }

    func fetch() async throws -> EphemeralSigner {
        tokenFetches += 1
        let token = try await IdentityTokenProviders.firstToken(from: providers, audience: "sigstore", now: now())
        if let expectedIssuer, token.issuer != expectedIssuer {
            let warning =
                "the identity token (\(token.source)) is from \(token.issuer), not signers.x509.fulcio.issuer \(expectedIssuer); Fulcio goes by the token's issuer"
            if !warnings.contains(warning) { warnings.append(warning) }
        }
        let key = P256.Signing.PrivateKey()
        fulcioCalls += 1
        let chain = try await fulcio.certificate(for: key, token: token)
        return EphemeralSigner(
            key: key, chain: chain, fulcio: fulcio.address.absoluteString, tokenSource: token.source)
    }

    /// Whether `chain` — the certificate an earlier attempt signed with, read back from a run, where anyone who may
    /// write the run's annotations could have put it — is one Fulcio issued to the identity this process signs as:
    /// the same SAN identities and OIDC issuer as `current`'s certificate; a path (RFC 5280 and Fulcio's leaf
    /// profile, judged when it was issued) to a Fulcio CA of the trusted root valid then, with an SCT of its CT
    /// logs; with no trusted root, to the CA that issued `current`. Throws why not.
    package nonisolated func checkEarlier(
        _ chain: [Certificate], current: [Certificate]
    ) async throws(CertificateCheckError) {
        guard let leaf = chain.first, let ours = current.first else {
            throw CertificateCheckError("there is no certificate to compare")
        }
        let theirs = (names: Set(KeylessVerifier.identities(of: leaf)), issuer: KeylessVerifier.oidcIssuer(of: leaf))
        let mine = (names: Set(KeylessVerifier.identities(of: ours)), issuer: KeylessVerifier.oidcIssuer(of: ours))
        guard theirs.names == mine.names, theirs.issuer == mine.issuer else {
            func said(_ who: (names: Set<String>, issuer: String?)) -> String {
                "\(who.names.sorted().joined(separator: ", ")) (issuer \(who.issuer ?? "none"))"
            }
            throw CertificateCheckError(
                "it is for \(said(theirs)), and this configuration signs as \(said(mine))")
        }
        let root = fulcio.trustedRoot ?? TrustedRoot(issuerOf: current)
        let path = try await KeylessVerifier.validatedPath(
            leaf: leaf, chain: Array(chain.dropFirst()), at: leaf.notValidBefore, root: root)
        if !root.ctlogs.isEmpty {
            _ = try SignedCertificateTimestamp.verifyEmbedded(leaf: leaf, issuer: path[1], ctlogs: root.ctlogs)
        }
    }
}
