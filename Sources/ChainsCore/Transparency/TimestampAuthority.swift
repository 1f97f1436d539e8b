import ChainsConfig
import Foundation
import Signing

/// An RFC 3161 timestamp over a signature: the DER `TimeStampResponse` a sigstore bundle carries in
/// `verificationMaterial.timestampVerificationData.rfc3161Timestamps[].signedTimestamp`, and who issued it.
package struct SignedTimestamp: Sendable, Equatable {
    package var der: Data
    /// The authority's address, for messages.
    package var authority: String

    package init(der: Data, authority: String) {
        self.der = der
        self.authority = authority
    }
}

/// Where signatures are timestamped: after signing, before the transparency log. A log without integrated times
/// (Rekor v2) makes a keyless signature verifiable only with a timestamp inside its certificate's validity. The
/// timestamp is kept with the signature — in the signed artifact, its bundles and its attempt record — so a retry
/// that reuses a signature keeps its timestamp instead of asking again.
package protocol TimestampAuthority: Sendable {
    /// The authority's address, for messages.
    var address: String { get }
    /// A timestamp over `signature` — the signature bytes a bundle of the artifact carries (see
    /// `SignedArtifact.bundleSignature`) — checked before it is returned.
    func timestamp(signature: Data) async throws -> SignedTimestamp
    /// Whether `timestamp` is one this authority issued over `signature`: an attempt record's, read back from the
    /// run, where anyone who may write its annotations could have put it. Throws why not.
    func verify(_ timestamp: SignedTimestamp, signature: Data) async throws
    /// How many timestamps `timestamps(signature:)` makes: one per authority (1 unless several were chosen).
    var authorityCount: Int { get }
    /// A timestamp from each authority over `signature` (all or none: one failing fails the call).
    func timestamps(signature: Data) async throws -> [SignedTimestamp]
}

extension TimestampAuthority {
    package var authorityCount: Int { 1 }
    package func timestamps(signature: Data) async throws -> [SignedTimestamp] {
        [try await timestamp(signature: signature)]
    }
}

/// Several timestamp authorities at once (a signing config's `tsaConfig` selecting `ALL` or `EXACT n` of several):
/// each timestamps every signature, concurrently, and the bundle carries all of them. All or none: one authority
/// failing fails the artifact's timestamping (retryable as its error says), and the retry asks them all again.
package struct TimestampAuthorities: TimestampAuthority {
    package let members: [any TimestampAuthority]

    package init(_ members: [any TimestampAuthority]) {
        precondition(!members.isEmpty, "TimestampAuthorities needs one authority at least")
        self.members = members
    }

    package var address: String { members.map(\.address).joined(separator: ", ") }
    package var authorityCount: Int { members.count }

    /// The first authority's timestamp; callers wanting all of them use `timestamps(signature:)`.
    package func timestamp(signature: Data) async throws -> SignedTimestamp {
        try await members[0].timestamp(signature: signature)
    }

    package func timestamps(signature: Data) async throws -> [SignedTimestamp] {
        try await eachConcurrently(members) { try await $0.timestamp(signature: signature) }
    }

    /// Verified when one of the authorities verifies it (each checks against the trusted root's authorities).
    package func verify(_ timestamp: SignedTimestamp, signature: Data) async throws {
        var last: (any Error)?
        for member in members {
            do {
                return try await member.verify(timestamp, signature: signature)
            } catch {
                last = error
            }
        }
        throw last!
    }
}

extension SignedArtifact {
    /// The signature a sigstore bundle of this artifact carries, which a timestamp is over: the bundle envelope's
    /// (an image's cosign v3 statement), else the DSSE envelope's (in-toto), else the raw signature (simplesigning).
    package var bundleSignature: Data? {
        Self.bundleSignature(format: format, signature: signature, bundleEnvelope: bundleEnvelope)
    }

    static func bundleSignature(format: PayloadFormat, signature: Data, bundleEnvelope: Data?) -> Data? {
        if let bundleEnvelope { return envelopeSignature(bundleEnvelope) }
        return format.isInToto ? envelopeSignature(signature) : signature
    }

    static func envelopeSignature(_ envelope: Data) -> Data? {
        guard let decoded = try? JSONDecoder().decode(DSSE.Envelope.self, from: envelope),
            let first = decoded.signatures.first
        else { return nil }
        return Data(base64Encoded: first.sig)
    }

    /// The sigstore bundle v0.3 of this artifact — the one builder `--bundle-out` and `oci` storage's
    /// `sigstore-bundle` encoding share: its bundle envelope (an image's cosign v3 statement), else its DSSE envelope
    /// (in-toto), else its simplesigning payload's message signature; with the log entry that matches that content
    /// and its timestamps.
    package func sigstoreBundle() throws(SigningError) -> SigstoreBundle {
        let certificate = CertificatePEM.leafDER(certificateChain)
        let stamps = timestamps.map(\.der)
        if format == .simpleSigning && bundleEnvelope == nil {
            return SigstoreBundle(
                message: payload, signature: signature, publicKeyDER: publicKey.derRepresentation,
                certificateDER: certificate,
                tlogEntries: transparency.map { [$0.entry.bundleEntry] + $0.others.map(\.entry.bundleEntry) } ?? [],
                timestamps: stamps)
        }
        return try SigstoreBundle(
            envelope: bundleEnvelope ?? signature, publicKeyDER: publicKey.derRepresentation,
            certificateDER: certificate, tlogEntries: transparency?.bundleEntries ?? [], timestamps: stamps)
    }
}

/// `body` for each of `members` at once; the results in `members`' order, or the first error (the others are then
/// cancelled). For the sets of authorities and logs: all or none.
func eachConcurrently<Member: Sendable, Output: Sendable>(
    _ members: [Member], _ body: @escaping @Sendable (Member) async throws -> Output
) async throws -> [Output] {
    try await withThrowingTaskGroup(of: (Int, Output).self) { group in
        for (index, member) in members.enumerated() {
            group.addTask { (index, try await body(member)) }
        }
        var found: [Int: Output] = [:]
        for try await (index, output) in group { found[index] = output }
        return members.indices.map { found[$0]! }
    }
}
