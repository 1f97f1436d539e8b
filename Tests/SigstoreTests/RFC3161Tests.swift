import ChainsTesting
import Foundation
import Testing
import X509

@testable import Sigstore

/// RFC 3161 timestamps: our `TimeStampReq` answered by a real authority (`openssl ts -reply`), its reply verified;
/// every check a verifier must make refuses what it must (imprint, nonce, trust, validity, the signer's profile,
/// integrity, status).
@Suite("RFC 3161 timestamps against openssl's timestamp authority")
struct RFC3161Tests {
    static func authority(
        _ tsa: OpenSSLTimestampAuthority, validFor: TrustedRoot.ValidFor? = nil
    ) throws -> TrustedRoot.CertificateAuthority {
        try tsa.certificateAuthority(uri: "https://tsa.test", validFor: validFor)
    }

    static func expectRefusal(
        _ fragment: String, _ body: () async throws -> VerifiedTimestamp,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        do {
            let verified = try await body()
            Issue.record(
                "verified, but must be refused for \"\(fragment)\": \(verified)", sourceLocation: sourceLocation)
        } catch {
            #expect("\(error)".contains(fragment), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("a reply to our request verifies: the signature's imprint, our nonce, the authority's chain, at genTime")
    func roundTrip() async throws {
        let dir = try TemporaryDirectory()
        let tsa = try OpenSSLTimestampAuthority(directory: dir)
        let signature = Data((0..<72).map { _ in UInt8.random(in: 0...255) })
        let nonce = RFC3161.nonce()
        let reply = try tsa.reply(to: RFC3161.request(signature: signature, nonce: nonce))
        let authority = try Self.authority(tsa)
        let verified = try await RFC3161.verify(
            response: reply, signature: signature, authorities: [authority], nonce: ArraySlice(nonce))
        #expect(verified.authority == "https://tsa.test")
        #expect(abs(verified.genTime.timeIntervalSinceNow) < 120, "\(verified.genTime)")
        let token = try RFC3161.parse(response: reply)
        #expect(token.policy == [1, 3, 6, 1, 4, 1, 57264, 2] && token.certificates.count == 1)

        // Another signature, another nonce, another authority, an authority not valid then: each refused.
        await Self.expectRefusal("not over this signature") {
            try await RFC3161.verify(response: reply, signature: signature + Data([0]), authorities: [authority])
        }
        await Self.expectRefusal("does not carry the nonce") {
            try await RFC3161.verify(
                response: reply, signature: signature, authorities: [authority], nonce: [1, 2, 3])
        }
        // Another authority of the trusted root: the token's own (embedded) certificates name its signer, and they
        // do not chain to that authority's root.
        let stranger = try OpenSSLTimestampAuthority(directory: dir, name: "stranger")
        await Self.expectRefusal("https://tsa.test: CN=Chains Test TSA does not chain to it") {
            try await RFC3161.verify(response: reply, signature: signature, authorities: [try Self.authority(stranger)])
        }
        let ended = TrustedRoot.ValidFor(
            start: Date(timeIntervalSinceNow: -86_400), end: Date(timeIntervalSinceNow: -3_600))
        await Self.expectRefusal("not valid at") {
            try await RFC3161.verify(
                response: reply, signature: signature, authorities: [try Self.authority(tsa, validFor: ended)])
        }
        await Self.expectRefusal("lists no timestamp authority") {
            try await RFC3161.verify(response: reply, signature: signature, authorities: [])
        }
    }

    @Test("a reply whose signed content or signature was altered, or that was not granted, is refused")
    func integrity() async throws {
        let dir = try TemporaryDirectory()
        let tsa = try OpenSSLTimestampAuthority(directory: dir)
        let signature = Data("a signature".utf8)
        let reply = try tsa.reply(to: RFC3161.request(signature: signature, nonce: RFC3161.nonce()))
        let authority = try Self.authority(tsa)
        // The genTime's last digit inside the TSTInfo: the content no longer matches its signed digest.
        let token = try RFC3161.parse(response: reply)
        let stamp = Array(token.content)
        let marker = Array("Z".utf8)[0]
        let zIndex = try #require(stamp.lastIndex(of: marker))
        let contentStart = try #require(reply.firstRange(of: Data(stamp)))
        var altered = reply
        let at = contentStart.lowerBound + zIndex - 1
        altered[at] = altered[at] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        await Self.expectRefusal("signed message digest is not its TSTInfo's") {
            try await RFC3161.verify(response: altered, signature: signature, authorities: [authority])
        }
        // The signature's last byte.
        var badSignature = reply
        badSignature[badSignature.count - 1] ^= 0x01
        await Self.expectRefusal("does not verify") {
            try await RFC3161.verify(response: badSignature, signature: signature, authorities: [authority])
        }
        // PKIStatus rejection (2), no token.
        await Self.expectRefusal("did not grant it (PKIStatus 2)") {
            try await RFC3161.verify(
                response: Data([0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02]), signature: signature,
                authorities: [authority])
        }
        await Self.expectRefusal("does not parse") {
            try await RFC3161.verify(response: Data("not DER".utf8), signature: signature, authorities: [authority])
        }
    }

    @Test(
        "the signing certificate's profile: exactly one extended key usage, a critical id-kp-timeStamping, no CA",
        arguments: [
            ("basicConstraints=critical,CA:FALSE\nextendedKeyUsage=timeStamping\n", false),
            ("basicConstraints=critical,CA:FALSE\nextendedKeyUsage=critical,timeStamping,codeSigning\n", false),
            ("basicConstraints=critical,CA:TRUE\nextendedKeyUsage=critical,timeStamping\n", false),
            (
                "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n",
                true
            ),
        ])
    func signerProfile(extensions: String, accepted: Bool) async throws {
        // openssl signs only with a certificate fit for timestamping, so the policy is held to certificates alone.
        let dir = try TemporaryDirectory()
        let made = try OpenSSLTimestampAuthority(directory: dir, extensions: extensions)
        let leaf = try Certificate(pemEncoded: made.signerPEM)
        var verifier = Verifier(rootCertificates: CertificateStore([try Certificate(pemEncoded: made.caPEM)])) {
            RFC5280Policy()
            TimestampingLeafPolicy()
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore([]))
        if case .validCertificate = result {
            #expect(accepted, "accepted: \(extensions)")
        } else {
            #expect(!accepted, "refused: \(extensions): \(result)")
        }
    }
}
