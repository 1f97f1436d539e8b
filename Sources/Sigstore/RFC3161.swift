import Crypto
import Foundation
import SwiftASN1
@_spi(FixedExpiryValidationTime) import X509

/// RFC 3161 signed timestamps, parsed with swift-asn1 and verified as sigstore-go and timestamp-authority do. Written
/// here because swift-certificates' CMS verification accepts only `id-data` content, and a timestamp token's
/// content is a `TSTInfo` (docs/development.md, "Written by hand").
package enum RFC3161 {
    static let signedData: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 7, 2]
    static let tstInfo: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 9, 16, 1, 4]
    static let contentTypeAttribute: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 9, 3]
    static let messageDigestAttribute: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 9, 4]
    static let sha256: ASN1ObjectIdentifier = [2, 16, 840, 1, 101, 3, 4, 2, 1]
    static let sha384: ASN1ObjectIdentifier = [2, 16, 840, 1, 101, 3, 4, 2, 2]
    static let sha512: ASN1ObjectIdentifier = [2, 16, 840, 1, 101, 3, 4, 2, 3]

    /// A digest by its algorithm's OID; nil for one we do not take.
    static func digest(_ algorithm: ASN1ObjectIdentifier, of data: some DataProtocol) -> Data? {
        switch algorithm {
        case sha256: return Data(SHA256.hash(data: data))
        case sha384: return Data(SHA384.hash(data: data))
        case sha512: return Data(SHA512.hash(data: data))
        default: return nil
        }
    }

    /// The signature algorithm of a signer info: a combined OID, or a key OID beside its digest algorithm.
    static func signatureAlgorithm(
        _ oid: ASN1ObjectIdentifier, digest: ASN1ObjectIdentifier
    ) -> Certificate.SignatureAlgorithm? {
        let rsa: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 1, 1]
        let ecPublicKey: ASN1ObjectIdentifier = [1, 2, 840, 10045, 2, 1]
        switch (oid, digest) {
        case ([1, 2, 840, 10045, 4, 3, 2], _), (ecPublicKey, sha256): return .ecdsaWithSHA256
        case ([1, 2, 840, 10045, 4, 3, 3], _), (ecPublicKey, sha384): return .ecdsaWithSHA384
        case ([1, 2, 840, 10045, 4, 3, 4], _), (ecPublicKey, sha512): return .ecdsaWithSHA512
        case ([1, 2, 840, 113_549, 1, 1, 11], _), (rsa, sha256): return .sha256WithRSAEncryption
        case ([1, 2, 840, 113_549, 1, 1, 12], _), (rsa, sha384): return .sha384WithRSAEncryption
        case ([1, 2, 840, 113_549, 1, 1, 13], _), (rsa, sha512): return .sha512WithRSAEncryption
        case ([1, 3, 101, 112], _): return .ed25519
        default: return nil
        }
    }

    /// What a timestamp token says and what is needed to check its signature.
    package struct Token: Sendable {
        /// `TSTInfo.genTime`: when the authority says it saw the imprint.
        package var genTime: Date
        package var imprintAlgorithm: ASN1ObjectIdentifier
        package var imprint: Data
        package var nonce: ArraySlice<UInt8>?
        package var policy: ASN1ObjectIdentifier
        /// The DER `TSTInfo` (the signed content) and the signer info's parts.
        var content: [UInt8]
        var digestAlgorithm: ASN1ObjectIdentifier
        var signedAttributes: [UInt8]
        var attributeContentType: ASN1ObjectIdentifier?
        var attributeDigest: [UInt8]?
        var signatureOID: ASN1ObjectIdentifier
        var signature: [UInt8]
        var issuerAndSerial: (issuer: [UInt8], serial: ArraySlice<UInt8>)?
        var subjectKeyID: [UInt8]?
        /// Certificates the token carries (`certReq`); untrusted, used only to find the signer.
        var certificates: [Certificate]
    }

    /// Parses a DER `TimeStampResp` (what a bundle's `signedTimestamp` holds): its status must be granted, and its
    /// token a CMS SignedData over a TSTInfo with one signer.
    package static func parse(response der: Data) throws(CertificateCheckError) -> Token {
        do {
            let root = try DER.parse(Array(der))
            return try DER.sequence(root, identifier: .sequence) { nodes in
                guard let statusNode = nodes.next() else { throw CertificateCheckError("the response has no status") }
                let status = try DER.sequence(statusNode, identifier: .sequence) { fields in
                    let value = try Int(derEncoded: &fields)
                    while fields.next() != nil {}
                    return value
                }
                // granted (0) or grantedWithMods (1).
                guard status == 0 || status == 1 else {
                    throw CertificateCheckError("the timestamp authority did not grant it (PKIStatus \(status))")
                }
                guard let token = nodes.next() else { throw CertificateCheckError("the response has no token") }
                return try parse(token: token)
            }
        } catch let error as CertificateCheckError {
            throw error
        } catch {
            throw CertificateCheckError("the RFC 3161 timestamp does not parse: \(error)")
        }
    }

    static func parse(token node: ASN1Node) throws -> Token {
        try DER.sequence(node, identifier: .sequence) { nodes in
            guard try ASN1ObjectIdentifier(derEncoded: &nodes) == signedData else {
                throw CertificateCheckError("the timestamp token is not CMS SignedData")
            }
            return try DER.explicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) { signed in
                try DER.sequence(signed, identifier: .sequence) { fields in try parseSignedData(&fields) }
            }
        }
    }

    static func parseSignedData(_ fields: inout ASN1NodeCollection.Iterator) throws -> Token {
        _ = try Int(derEncoded: &fields)  // version
        _ = fields.next()  // digestAlgorithms
        guard let encapsulated = fields.next() else { throw CertificateCheckError("the token has no content") }
        let content: [UInt8] = try DER.sequence(encapsulated, identifier: .sequence) { inner in
            guard try ASN1ObjectIdentifier(derEncoded: &inner) == tstInfo else {
                throw CertificateCheckError("the token's content is not a TSTInfo")
            }
            guard
                let octets = try DER.optionalExplicitlyTagged(
                    &inner, tagNumber: 0, tagClass: .contextSpecific,
                    {
                        try ASN1OctetString(derEncoded: $0)
                    })
            else { throw CertificateCheckError("the token's TSTInfo is missing") }
            return Array(octets.bytes)
        }
        var certificates: [Certificate] = []
        _ = try DER.optionalImplicitlyTagged(&fields, tagNumber: 0, tagClass: .contextSpecific) { node in
            guard case .constructed(let list) = node.content else { return }
            for item in list { certificates.append(try Certificate(derEncoded: Array(item.encodedBytes))) }
        }
        _ = DER.optionalImplicitlyTagged(&fields, tagNumber: 1, tagClass: .contextSpecific) { _ in }  // crls
        guard let signerInfos = fields.next(), case .constructed(let signers) = signerInfos.content else {
            throw CertificateCheckError("the token has no signer")
        }
        var all = Array(signers)
        guard all.count == 1 else { throw CertificateCheckError("the token has \(all.count) signers, not one") }
        var token = try parseTSTInfo(content, certificates: certificates)
        try parseSignerInfo(all.removeFirst(), into: &token)
        return token
    }

    static func parseTSTInfo(_ der: [UInt8], certificates: [Certificate]) throws -> Token {
        try DER.sequence(try DER.parse(der), identifier: .sequence) { nodes in
            guard try Int(derEncoded: &nodes) == 1 else { throw CertificateCheckError("TSTInfo version is not 1") }
            let policy = try ASN1ObjectIdentifier(derEncoded: &nodes)
            guard let imprintNode = nodes.next() else { throw CertificateCheckError("TSTInfo has no imprint") }
            let (algorithm, imprint) = try DER.sequence(imprintNode, identifier: .sequence) { inner in
                let algorithm = try algorithmOID(inner.next())
                return (algorithm, try ASN1OctetString(derEncoded: &inner).bytes)
            }
            _ = try integerBytes(nodes.next())  // serialNumber: TSAs write negative ones too; only its presence matters
            let time = try GeneralizedTime(derEncoded: &nodes)
            var nonce: ArraySlice<UInt8>?
            while let node = nodes.next() {
                if node.identifier == .integer { nonce = try integerBytes(node) }
            }
            return Token(
                genTime: try date(time), imprintAlgorithm: algorithm, imprint: Data(imprint), nonce: nonce,
                policy: policy, content: der, digestAlgorithm: sha256, signedAttributes: [],
                signatureOID: sha256, signature: [], certificates: certificates)
        }
    }

    static func parseSignerInfo(_ node: ASN1Node, into token: inout Token) throws {
        try DER.sequence(node, identifier: .sequence) { fields in
            _ = try Int(derEncoded: &fields)  // version
            guard let sid = fields.next() else { throw CertificateCheckError("the signer has no identifier") }
            if sid.identifier == .sequence {
                token.issuerAndSerial = try DER.sequence(sid, identifier: .sequence) { inner in
                    guard let issuer = inner.next() else { throw CertificateCheckError("the signer has no issuer") }
                    return (Array(issuer.encodedBytes), try integerBytes(inner.next()))
                }
            } else if case .primitive(let bytes) = sid.content {
                token.subjectKeyID = Array(bytes)
            }
            token.digestAlgorithm = try algorithmOID(fields.next())
            guard let attributes = fields.next(),
                attributes.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific),
                case .constructed(let list) = attributes.content
            else { throw CertificateCheckError("the signer has no signed attributes") }
            // Signed over as a SET: the implicit [0] tag becomes SET's 0x31.
            var encoded = Array(attributes.encodedBytes)
            encoded[0] = 0x31
            token.signedAttributes = encoded
            for attribute in list {
                try DER.sequence(attribute, identifier: .sequence) { inner in
                    let type = try ASN1ObjectIdentifier(derEncoded: &inner)
                    guard let values = inner.next(), case .constructed(let set) = values.content,
                        let value = set.first(where: { _ in true })
                    else { return }
                    if type == contentTypeAttribute {
                        token.attributeContentType = try ASN1ObjectIdentifier(derEncoded: value)
                    } else if type == messageDigestAttribute {
                        token.attributeDigest = Array(try ASN1OctetString(derEncoded: value).bytes)
                    }
                }
            }
            token.signatureOID = try algorithmOID(fields.next())
            token.signature = Array(try ASN1OctetString(derEncoded: &fields).bytes)
            while fields.next() != nil {}
        }
    }

    /// An INTEGER's content octets as written (a serial number or nonce is compared, never computed with).
    static func integerBytes(_ node: ASN1Node?) throws -> ArraySlice<UInt8> {
        guard let node, node.identifier == .integer, case .primitive(let bytes) = node.content, !bytes.isEmpty else {
            throw CertificateCheckError("an INTEGER is missing or malformed")
        }
        return bytes
    }

    static func algorithmOID(_ node: ASN1Node?) throws -> ASN1ObjectIdentifier {
        guard let node else { throw CertificateCheckError("an algorithm identifier is missing") }
        return try DER.sequence(node, identifier: .sequence) { inner in
            let oid = try ASN1ObjectIdentifier(derEncoded: &inner)
            while inner.next() != nil {}
            return oid
        }
    }

    static func date(_ time: GeneralizedTime) throws -> Date {
        var components = DateComponents()
        (components.year, components.month, components.day) = (time.year, time.month, time.day)
        (components.hour, components.minute, components.second) = (time.hours, time.minutes, time.seconds)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        guard let date = calendar.date(from: components) else {
            throw CertificateCheckError("the timestamp's genTime is not a date")
        }
        return date.addingTimeInterval(time.fractionalSeconds)
    }
}

/// A timestamp that verified: when, and which authority of the trusted root signed it.
package struct VerifiedTimestamp: Sendable, Equatable {
    package var genTime: Date
    /// The authority's URI in the trusted root, or its signing certificate's subject.
    package var authority: String

    package init(genTime: Date, authority: String) {
        self.genTime = genTime
        self.authority = authority
    }
}

extension RFC3161 {
    /// Verifies a bundle's `signedTimestamp` over `signature` (its bytes, as sigstore clients timestamp them): the
    /// authority granted it; its message imprint is the signature's digest (and its nonce the one asked for, when
    /// given); the signed attributes name a TSTInfo and carry its digest; their signature verifies with a signing
    /// certificate — the authority's own or one the token carries, matching the signer identifier — that is an end
    /// entity with exactly one extended key usage, a critical id-kp-timeStamping, and chains to a
    /// `timestampAuthorities` entry of the trusted root valid at `genTime`, judged at `genTime` (as
    /// timestamp-authority does since its #1384, #1389, #1405, #1416).
    package static func verify(
        response der: Data, signature: Data, authorities: [TrustedRoot.CertificateAuthority],
        nonce: ArraySlice<UInt8>? = nil
    ) async throws(CertificateCheckError) -> VerifiedTimestamp {
        let token = try parse(response: der)
        guard let expected = digest(token.imprintAlgorithm, of: signature) else {
            throw CertificateCheckError("the timestamp's imprint algorithm \(token.imprintAlgorithm) is not SHA-2")
        }
        guard expected == token.imprint else {
            throw CertificateCheckError("the timestamp is not over this signature (its message imprint differs)")
        }
        let significant = { (bytes: ArraySlice<UInt8>) in Array(bytes.drop { $0 == 0 }) }
        if let nonce, token.nonce.map(significant) != significant(nonce) {
            throw CertificateCheckError("the timestamp does not carry the nonce that was asked for")
        }
        guard token.attributeContentType == tstInfo else {
            throw CertificateCheckError("the timestamp's signed attributes do not name a TSTInfo")
        }
        guard let contentDigest = digest(token.digestAlgorithm, of: token.content),
            token.attributeDigest == Array(contentDigest)
        else { throw CertificateCheckError("the timestamp's signed message digest is not its TSTInfo's") }
        guard let algorithm = signatureAlgorithm(token.signatureOID, digest: token.digestAlgorithm) else {
            throw CertificateCheckError("the timestamp's signature algorithm \(token.signatureOID) is not supported")
        }
        guard !authorities.isEmpty else {
            throw CertificateCheckError("the trusted root lists no timestamp authority")
        }
        var problems: [String] = []
        for authority in authorities {
            let name = authority.uri.isEmpty ? (authority.chain.first.map { "\($0.subject)" } ?? "?") : authority.uri
            guard authority.validFor?.contains(token.genTime) ?? true, let root = authority.chain.last else {
                problems.append("\(name): not valid at \(token.genTime)")
                continue
            }
            let signers = (Array(authority.chain.prefix(1)) + token.certificates).filter { isSigner($0, of: token) }
            guard !signers.isEmpty else {
                problems.append("\(name): no certificate matches the token's signer")
                continue
            }
            for leaf in signers {
                guard
                    leaf.publicKey.isValidSignature(
                        token.signature, for: token.signedAttributes, signatureAlgorithm: algorithm)
                else {
                    problems.append("\(name): the signature does not verify with \(leaf.subject)")
                    continue
                }
                var verifier = Verifier(rootCertificates: CertificateStore([root])) {
                    RFC5280Policy(fixedExpiryValidationTime: token.genTime)
                    TimestampingLeafPolicy()
                }
                let result = await verifier.validate(
                    leaf: leaf, intermediates: CertificateStore(Array(authority.chain.dropLast()) + token.certificates))
                switch result {
                case .validCertificate:
                    return VerifiedTimestamp(genTime: token.genTime, authority: name)
                case .couldNotValidate(let failures):
                    let reasons = Set(failures.map { "\($0.policyFailureReason)" }).sorted().joined(separator: ", ")
                    problems.append(
                        "\(name): \(leaf.subject) does not chain to it at \(token.genTime)"
                            + (reasons.isEmpty ? "" : " (\(reasons))"))
                }
            }
        }
        throw CertificateCheckError(
            "the RFC 3161 timestamp is not from a trusted timestamp authority: " + problems.joined(separator: "; "))
    }

    /// Whether `certificate` is the one the token's signer identifier names.
    static func isSigner(_ certificate: Certificate, of token: Token) -> Bool {
        if let (issuer, serial) = token.issuerAndSerial {
            let trimmed = { (bytes: ArraySlice<UInt8>) in Array(bytes.drop { $0 == 0 }) }
            guard let name = try? DistinguishedName(derEncoded: DER.parse(issuer)) else { return false }
            return name == certificate.issuer && trimmed(serial) == trimmed(certificate.serialNumber.bytes)
        }
        if let keyID = token.subjectKeyID {
            return (try? certificate.extensions.subjectKeyIdentifier)??.keyIdentifier.elementsEqual(keyID) == true
        }
        return false
    }
}

/// A timestamp authority's signing certificate: an end entity whose only extended key usage is a critical
/// id-kp-timeStamping (RFC 3161 §2.3). This policy handles that critical extension.
struct TimestampingLeafPolicy: VerifierPolicy {
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.extendedKeyUsage]

    mutating func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
        let leaf = chain.leaf
        guard let extensionValue = leaf.extensions[oid: .X509ExtensionID.extendedKeyUsage], extensionValue.critical,
            let usages = try? ExtendedKeyUsage(extensionValue), Array(usages) == [.timeStamping]
        else {
            return .failsToMeetPolicy(
                reason: "the timestamp authority's certificate must have exactly one extended key usage, a critical "
                    + "id-kp-timeStamping")
        }
        if case .isCertificateAuthority = (try? leaf.extensions.basicConstraints) ?? nil {
            return .failsToMeetPolicy(reason: "the timestamp authority's signing certificate is a CA")
        }
        return .meetsPolicy
    }
}

extension RFC3161 {
    /// A DER `TimeStampReq` for `signature`, as sigstore-go sends it: version 1, a SHA-256 message imprint of the
    /// signature bytes, a nonce, and `certReq` so the reply carries the authority's certificate. `nonce` is the
    /// INTEGER's content (unsigned, big-endian); `RFC3161.verify(… nonce:)` checks the reply carries it.
    package static func request(signature: Data, nonce: [UInt8]) -> Data {
        var serializer = DER.Serializer()
        // Built from values that always serialize; a failure here is a bug, not input.
        try! serializer.appendConstructedNode(identifier: .sequence) { request in
            try request.serialize(1)
            try request.appendConstructedNode(identifier: .sequence) { imprint in
                try imprint.appendConstructedNode(identifier: .sequence) { algorithm in
                    try algorithm.serialize(sha256)
                    try algorithm.serialize(ASN1Null())
                }
                try imprint.serialize(ASN1OctetString(contentBytes: ArraySlice(SHA256.hash(data: signature))))
            }
            try request.serialize(ArraySlice(nonce))
            try request.serialize(true)
        }
        return Data(serializer.serializedBytes)
    }

    /// A fresh 64-bit nonce, as the INTEGER content `request` and `verify` take.
    package static func nonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return withUnsafeBytes(of: generator.next() as UInt64) { Array($0) }
    }
}
