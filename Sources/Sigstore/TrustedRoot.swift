import Foundation
import HTTPTransport
import SwiftASN1
import X509

/// A sigstore trusted root (`trusted_root.json`, protobuf-specs `TrustedRoot` as JSON): the Fulcio CAs, and the
/// transparency and CT logs with their keys. Read from a file here; fetched through TUF later.
package struct TrustedRoot: Sendable {
    package struct ValidFor: Codable, Sendable {
        package var start: Date?
        package var end: Date?
        package init(start: Date?, end: Date?) {
            self.start = start
            self.end = end
        }
        func contains(_ date: Date) -> Bool { (start.map { $0 <= date } ?? true) && (end.map { date <= $0 } ?? true) }
    }
    package struct CertificateAuthority: Sendable {
        package var uri: String
        /// Intermediates then the trust anchor, as the file lists them.
        package var chain: [Certificate]
        package var validFor: ValidFor?

        package init(uri: String, chain: [Certificate], validFor: ValidFor?) {
            self.uri = uri
            self.chain = chain
            self.validFor = validFor
        }
    }
    package struct LogInstance: Sendable {
        package var baseURL: String
        /// DER SubjectPublicKeyInfo.
        package var publicKey: Data
        package var keyID: Data
        package var validFor: ValidFor?

        package init(baseURL: String, publicKey: Data, keyID: Data, validFor: ValidFor? = nil) {
            self.baseURL = baseURL
            self.publicKey = publicKey
            self.keyID = keyID
            self.validFor = validFor
        }
    }

    package var certificateAuthorities: [CertificateAuthority]
    /// RFC 3161 timestamp authorities: each chain leaf first (the TSA's signing certificate), root last.
    package var timestampAuthorities: [CertificateAuthority] = []
    package var tlogs: [LogInstance]
    package var ctlogs: [LogInstance]

    static let mediaTypes = [
        "application/vnd.dev.sigstore.trustedroot.v0.2+json", "application/vnd.dev.sigstore.trustedroot.v0.1+json",
        "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    ]

    package init(json data: Data, source: String) throws(IdentityTokenError) {
        func bad(_ reason: String) -> IdentityTokenError {
            IdentityTokenError(.malformed, source: source, reason: reason)
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { d in
            let text = try d.singleValueContainer().decode(String.self)
            if let date = Self.protobufTime(text) { return date }
            throw DecodingError.dataCorrupted(.init(codingPath: d.codingPath, debugDescription: "not a time: \(text)"))
        }
        let file: File
        do {
            file = try decoder.decode(File.self, from: data)
        } catch {
            throw bad("not a trusted root: \(error)")
        }
        guard Self.mediaTypes.contains(file.mediaType ?? "") else {
            throw bad("media type \(file.mediaType ?? "missing") is not a sigstore trusted root")
        }
        func authorities(_ list: [File.CA]?) throws(IdentityTokenError) -> [CertificateAuthority] {
            var out: [CertificateAuthority] = []
            for ca in list ?? [] {
                var chain: [Certificate] = []
                for raw in ca.certChain?.certificates ?? [] {
                    guard let der = Data(base64Encoded: raw.rawBytes),
                        let certificate = try? Certificate(derEncoded: Array(der))
                    else { throw bad("a certificate of \(ca.uri ?? "a CA") does not parse") }
                    chain.append(certificate)
                }
                out.append(CertificateAuthority(uri: ca.uri ?? "", chain: chain, validFor: ca.validFor))
            }
            return out
        }
        let cas = try authorities(file.certificateAuthorities)
        timestampAuthorities = try authorities(file.timestampAuthorities)
        func logs(_ list: [File.Log]?) throws(IdentityTokenError) -> [LogInstance] {
            var out: [LogInstance] = []
            for log in list ?? [] {
                guard let key = log.publicKey?.rawBytes.flatMap({ Data(base64Encoded: $0) }),
                    let id = log.logId?.keyId.flatMap({ Data(base64Encoded: $0) })
                else { throw bad("log \(log.baseUrl ?? "?") has no key or key id") }
                out.append(
                    LogInstance(
                        baseURL: log.baseUrl ?? "", publicKey: key, keyID: id, validFor: log.publicKey?.validFor))
            }
            return out
        }
        certificateAuthorities = cas
        tlogs = try logs(file.tlogs)
        ctlogs = try logs(file.ctlogs)
    }

    /// A protobuf `Timestamp` in JSON: RFC 3339, with or without fractional seconds (trusted roots, signing configs).
    static func protobufTime(_ text: String) -> Date? {
        Timestamps.rfc3339(text)
    }

    /// A root of one CA, the issuers in `chain` (a chain Fulcio answered, leaf first): what a certificate read back
    /// from a run must chain to when no trusted root is configured.
    init(issuerOf chain: [Certificate]) {
        certificateAuthorities = [CertificateAuthority(uri: "", chain: Array(chain.dropFirst()), validFor: nil)]
        tlogs = []
        ctlogs = []
    }

    package init(contentsOf url: URL) throws(IdentityTokenError) {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw IdentityTokenError(.unavailable, source: url.path, reason: "the trusted root cannot be read")
        }
        try self.init(json: data, source: url.path)
    }

    /// Whether `chain` (leaf first) ends in a Fulcio CA of this root that was valid at `date`: its last
    /// certificate is one of a CA's certificates, or is signed by one.
    package func anchors(_ chain: [Certificate], at date: Date) -> Bool {
        guard let last = chain.last else { return false }
        for ca in certificateAuthorities where ca.validFor?.contains(date) ?? true {
            for certificate in ca.chain {
                if certificate == last { return true }
                if certificate.subject == last.issuer, certificate.publicKey.isValidSignature(last.signature, for: last)
                {
                    return true
                }
            }
        }
        return false
    }

    /// The file's shape (protojson names).
    struct File: Decodable {
        struct RawBytes: Decodable { var rawBytes: String }
        struct Chain: Decodable { var certificates: [RawBytes]? }
        struct CA: Decodable {
            var uri: String?
            var certChain: Chain?
            var validFor: ValidFor?
        }
        struct Key: Decodable {
            var rawBytes: String?
            var keyDetails: String?
            var validFor: ValidFor?
        }
        struct LogID: Decodable { var keyId: String? }
        struct Log: Decodable {
            var baseUrl: String?
            var publicKey: Key?
            var logId: LogID?
        }
        var mediaType: String?
        var tlogs: [Log]?
        var certificateAuthorities: [CA]?
        var timestampAuthorities: [CA]?
        var ctlogs: [Log]?
    }
}
