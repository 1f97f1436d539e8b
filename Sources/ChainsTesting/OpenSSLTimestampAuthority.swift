import Foundation
import Sigstore
import Synchronization
import X509

/// A real RFC 3161 timestamp authority for tests: OpenSSL's `openssl ts -reply`, answering `TimeStampReq`s with a
/// signing certificate under a test CA (both made with openssl). The certificate's extensions are chosen per
/// authority, so tests can make one the RFC forbids (a non-critical or second extended key usage, a CA). The reply
/// carries only the signing certificate: with the CA too, openssl writes the certificates SET unsorted, which is not
/// DER, and sigstore-python (rfc3161-client) refuses it.
package struct OpenSSLTimestampAuthority: Sendable {
    /// The CA's certificate (PEM) and the TSA's signing certificate (PEM).
    package let caPEM: String
    package let signerPEM: String
    let directory: URL

    /// The RFC's profile: an end entity whose only extended key usage is a critical id-kp-timeStamping.
    package static let rfcExtensions =
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n"

    /// Makes the CA and the signing certificate in `directory` (under `name`), with `extensions` on the signer.
    package init(directory: TemporaryDirectory, name: String = "tsa", extensions: String = rfcExtensions) throws {
        let d = directory.url.appendingPathComponent(name).path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try makeOpenSSLCA(in: d, subject: "/CN=Chains Test TSA Root")
        try openssl([
            "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout",
            "\(d)/tsa.key", "-out", "\(d)/tsa.csr", "-subj", "/CN=Chains Test TSA",
        ])
        try Data(extensions.utf8).write(to: URL(fileURLWithPath: "\(d)/tsa.ext"))
        try openssl([
            "x509", "-req", "-in", "\(d)/tsa.csr", "-CA", "\(d)/ca.crt", "-CAkey", "\(d)/ca.key", "-CAcreateserial",
            "-out", "\(d)/tsa.crt", "-days", "2", "-extfile", "\(d)/tsa.ext",
        ])
        let config = """
            [tsa]
            default_tsa = tsa_config
            [tsa_config]
            dir = \(d)
            serial = \(d)/serial
            signer_cert = \(d)/tsa.crt
            signer_key = \(d)/tsa.key
            signer_digest = sha256
            default_policy = 1.3.6.1.4.1.57264.2
            digests = sha256, sha384, sha512
            ess_cert_id_alg = sha256
            accuracy = secs:1
            ordering = no
            tsa_name = no
            ess_cert_id_chain = no

            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: "\(d)/tsa.cnf"))
        try Data("01\n".utf8).write(to: URL(fileURLWithPath: "\(d)/serial"))
        self.directory = URL(fileURLWithPath: d)
        caPEM = try String(contentsOfFile: "\(d)/ca.crt", encoding: .utf8)
        signerPEM = try String(contentsOfFile: "\(d)/tsa.crt", encoding: .utf8)
    }

    /// Serves this authority over HTTP as sigstore's timestamp-authority does (`POST` a DER query with
    /// `Content-Type: application/timestamp-query`, 201 with the reply); `answer` may replace the reply (a fault),
    /// `seen` counts the requests.
    package func serve(
        seen: (@Sendable () -> Void)? = nil, answer: (@Sendable (ServedRequest) -> ServedResponse?)? = nil
    ) async throws -> TestHTTPServer {
        try await TestHTTPServer { request in
            seen?()
            if let fault = answer?(request) { return fault }
            guard request.method == "POST", request.header("Content-Type") == "application/timestamp-query",
                let reply = try? self.reply(to: request.body)
            else { return ServedResponse(status: 400, body: Data("bad request".utf8)) }
            return ServedResponse(status: 201, headers: [("Content-Type", "application/timestamp-reply")], body: reply)
        }
    }

    /// This authority as a parsed trusted root's `timestampAuthorities` entry: its signing certificate, then the CA.
    package func certificateAuthority(
        uri: String, validFor: TrustedRoot.ValidFor? = nil
    ) throws -> TrustedRoot.CertificateAuthority {
        .init(
            uri: uri, chain: [try Certificate(pemEncoded: signerPEM), try Certificate(pemEncoded: caPEM)],
            validFor: validFor)
    }

    /// This authority as a trusted root's `timestampAuthorities` entry: its signing certificate, then the CA.
    package func trustedRootEntry(uri: String) -> String {
        func der(_ pem: String) -> String {
            pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        }
        return #"{"subject": {"organization": "chains.test", "commonName": "tsa"}, "uri": "\#(uri)", "#
            + #""certChain": {"certificates": [{"rawBytes": "\#(der(signerPEM))"}, {"rawBytes": "\#(der(caPEM))"}]}, "#
            + #""validFor": {"start": "2020-01-01T00:00:00Z"}}"#
    }

    /// Answers a DER `TimeStampReq` with openssl's DER `TimeStampResp`. One at a time: `openssl ts -reply` reads and
    /// rewrites its serial-number file, and two at once answer with a rejection (PKIStatus 2).
    package func reply(to request: Data) throws -> Data {
        let query = directory.appendingPathComponent("query-\(UUID().uuidString).tsq")
        let answer = directory.appendingPathComponent("reply-\(UUID().uuidString).tsr")
        try request.write(to: query)
        try openSSLReplies.withLock { _ in
            try openssl([
                "ts", "-reply", "-config", directory.appendingPathComponent("tsa.cnf").path, "-queryfile", query.path,
                "-out", answer.path,
            ])
        }
        return try Data(contentsOf: answer)
    }
}

/// Serialises `openssl ts -reply` (its serial file).
let openSSLReplies = Mutex(())
