import Crypto
import Foundation
import Signing
import SwiftASN1
import X509

/// A signed certificate timestamp (RFC 6962 §3.2): a CT log's promise that it logged a (pre)certificate.
package struct SignedCertificateTimestamp: Sendable, Equatable {
    /// OID of the embedded SCT list extension.
    package static let listOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 11129, 2, 4, 2]
    /// OID of the precertificate poison extension.
    package static let poisonOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 11129, 2, 4, 3]

    package var version: UInt8
    /// SHA-256 of the log's DER SubjectPublicKeyInfo.
    package var logID: Data
    /// Milliseconds since the epoch.
    package var timestamp: UInt64
    package var extensions: Data
    package var hashAlgorithm: UInt8
    package var signatureAlgorithm: UInt8
    package var signature: Data

    package var date: Date { Date(timeIntervalSince1970: Double(timestamp) / 1000) }

    /// The SCTs embedded in `certificate`; empty when it has none.
    package static func embedded(in certificate: Certificate) throws(CertificateCheckError) -> [Self] {
        guard let ext = certificate.extensions.first(where: { $0.oid == listOID }) else { return [] }
        // The extension value is an OCTET STRING holding the TLS-encoded list.
        guard let octets = try? ASN1OctetString(derEncoded: ext.value) else {
            throw CertificateCheckError("the SCT extension is not an OCTET STRING")
        }
        return try parseList(Data(octets.bytes))
    }

    /// A TLS `SignedCertificateTimestampList`: a 2-byte length, then 2-byte-length-prefixed SCTs.
    package static func parseList(_ data: Data) throws(CertificateCheckError) -> [Self] {
        var reader = TLSReader(data)
        let list = try reader.vector(lengthBytes: 2)
        var items = TLSReader(list)
        var out: [Self] = []
        while !items.atEnd {
            var one = TLSReader(try items.vector(lengthBytes: 2))
            let version = try one.integer(bytes: 1)
            guard version == 0 else { throw CertificateCheckError("SCT version \(version) is not v1") }
            let sct = Self(
                version: 0, logID: try one.bytes(32), timestamp: try one.integer(bytes: 8),
                extensions: try one.vector(lengthBytes: 2), hashAlgorithm: UInt8(try one.integer(bytes: 1)),
                signatureAlgorithm: UInt8(try one.integer(bytes: 1)), signature: try one.vector(lengthBytes: 2))
            guard one.atEnd else { throw CertificateCheckError("an SCT has trailing bytes") }
            out.append(sct)
        }
        guard reader.atEnd else { throw CertificateCheckError("the SCT list has trailing bytes") }
        return out
    }

    /// The TLS encoding of this SCT (without the list's length prefix).
    package func serialized() -> Data {
        var out = Data([version])
        out += logID
        out += TLSWriter.integer(timestamp, bytes: 8)
        out += TLSWriter.vector(extensions, lengthBytes: 2)
        out += Data([hashAlgorithm, signatureAlgorithm])
        out += TLSWriter.vector(signature, lengthBytes: 2)
        return out
    }

    /// What the log signed for a precertificate entry (RFC 6962 §3.2 `digitally-signed` struct, entry type 1).
    package static func signedData(
        timestamp: UInt64, issuerKeyHash: Data, tbsCertificate: Data, extensions: Data
    ) -> Data {
        var out = Data([0, 0])  // sct_version v1, signature_type certificate_timestamp
        out += TLSWriter.integer(timestamp, bytes: 8)
        out += TLSWriter.integer(1, bytes: 2)  // precert_entry
        out += issuerKeyHash
        out += TLSWriter.vector(tbsCertificate, lengthBytes: 3)
        out += TLSWriter.vector(extensions, lengthBytes: 2)
        return out
    }

    /// The leaf's TBSCertificate with the SCT list extension removed: what the log saw as the precertificate.
    package static func precertificateTBS(of certificate: Certificate) throws(CertificateCheckError) -> Data {
        do {
            let tbs = try DER.parse(certificate.tbsCertificateBytes)
            guard case .constructed(let fields) = tbs.content else {
                throw CertificateCheckError("the TBS certificate is not a SEQUENCE")
            }
            var serializer = DER.Serializer()
            try serializer.appendConstructedNode(identifier: tbs.identifier) { out in
                for field in fields {
                    // Extensions are `[3] EXPLICIT SEQUENCE OF Extension`.
                    guard field.identifier == ASN1Identifier(tagWithNumber: 3, tagClass: .contextSpecific),
                        case .constructed(let inner) = field.content, let sequence = inner.first(where: { _ in true }),
                        case .constructed(let extensions) = sequence.content
                    else {
                        out.serializeRawBytes(field.encodedBytes)
                        continue
                    }
                    try out.appendConstructedNode(identifier: field.identifier) { explicit in
                        try explicit.appendConstructedNode(identifier: sequence.identifier) { list in
                            for ext in extensions {
                                let parsed = try Certificate.Extension(derEncoded: ext.encodedBytes)
                                if parsed.oid != listOID { list.serializeRawBytes(ext.encodedBytes) }
                            }
                        }
                    }
                }
            }
            return Data(serializer.serializedBytes)
        } catch let error as CertificateCheckError {
            throw error
        } catch {
            throw CertificateCheckError("the TBS certificate does not parse: \(error)")
        }
    }

    /// Checks the embedded SCTs of `leaf` (issued by `issuer`) against the CT logs of a trusted root: at least one
    /// must come from a known log, inside that key's validity, with a valid signature. Returns the logs that
    /// vouched for it. SCTs from unknown logs are skipped, as sigstore-go does.
    package static func verifyEmbedded(
        leaf: Certificate, issuer: Certificate, ctlogs: [TrustedRoot.LogInstance]
    ) throws(CertificateCheckError) -> [TrustedRoot.LogInstance] {
        let scts = try embedded(in: leaf)
        guard !scts.isEmpty else {
            throw CertificateCheckError("the certificate carries no signed certificate timestamp (SCT)")
        }
        let tbs = try precertificateTBS(of: leaf)
        let issuerKeyHash = Data(SHA256.hash(data: issuer.publicKey.derSubjectPublicKeyInfo))
        var vouched: [TrustedRoot.LogInstance] = []
        var problems: [String] = []
        for sct in scts {
            guard let log = ctlogs.first(where: { $0.keyID == sct.logID }) else {
                problems.append(
                    "an SCT from log \(sct.logID.hexString.prefix(16))… which the trusted root does not list")
                continue
            }
            guard log.validFor?.contains(sct.date) ?? true else {
                problems.append("the SCT of log \(log.baseURL) is dated outside the log key's validity")
                continue
            }
            let message = signedData(
                timestamp: sct.timestamp, issuerKeyHash: issuerKeyHash, tbsCertificate: tbs, extensions: sct.extensions)
            guard let key = try? PublicKey(der: log.publicKey), key.isValidSignature(sct.signature, for: message)
            else {
                problems.append("the SCT of log \(log.baseURL) has an invalid signature")
                continue
            }
            vouched.append(log)
        }
        guard !vouched.isEmpty else {
            throw CertificateCheckError(
                "no SCT verifies against the trusted root's CT logs: " + problems.joined(separator: "; "))
        }
        return vouched
    }
}

/// A certificate, SCT or log entry that does not pass a check.
package struct CertificateCheckError: Error, Sendable, CustomStringConvertible {
    package var reason: String
    package init(_ reason: String) { self.reason = reason }
    package var description: String { reason }
}

/// Reads TLS presentation-language structures (RFC 8446 §3): big-endian integers and length-prefixed vectors.
struct TLSReader {
    let data: Data
    var offset: Int

    init(_ data: Data) {
        self.data = Data(data)
        offset = 0
    }

    var atEnd: Bool { offset == data.count }

    mutating func bytes(_ count: Int) throws(CertificateCheckError) -> Data {
        guard count >= 0, data.count - offset >= count else {
            throw CertificateCheckError("a TLS structure is truncated")
        }
        defer { offset += count }
        return data.subdata(in: offset..<offset + count)
    }

    mutating func integer(bytes count: Int) throws(CertificateCheckError) -> UInt64 {
        try bytes(count).reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func vector(lengthBytes: Int) throws(CertificateCheckError) -> Data {
        try bytes(Int(try integer(bytes: lengthBytes)))
    }
}

enum TLSWriter {
    static func integer(_ value: UInt64, bytes: Int) -> Data {
        Data((0..<bytes).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) })
    }

    static func vector(_ data: Data, lengthBytes: Int) -> Data {
        integer(UInt64(data.count), bytes: lengthBytes) + data
    }
}
