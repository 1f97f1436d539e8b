import Crypto
import Foundation
import SwiftASN1
import Synchronization
import X509

/// A test OIDC issuer: ES256 JWTs with the claims Kubernetes, SPIFFE and email issuers put in them.
package struct TestOIDCIssuer: Sendable {
    package enum Kind: String, Sendable { case kubernetes, spiffe, email }
    package let url: String
    package let kind: Kind
    let key: P256.Signing.PrivateKey
    package var publicKey: P256.Signing.PublicKey { key.publicKey }

    package init(url: String, kind: Kind) {
        self.url = url
        self.kind = kind
        self.key = P256.Signing.PrivateKey()
    }

    static func b64url(_ d: Data) -> String {
        d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// A signed token. `subject` is the ServiceAccount (`system:serviceaccount:NS:SA`), the SPIFFE ID, or the email.
    package func token(
        subject: String, audience: String = "sigstore", lifetime: TimeInterval = 600, now: Date = Date(),
        extra: [String: Any] = [:]
    ) -> String {
        var claims: [String: Any] = [
            "iss": url, "sub": subject, "aud": [audience], "iat": Int(now.timeIntervalSince1970),
            "exp": Int(now.timeIntervalSince1970 + lifetime),
        ]
        switch kind {
        case .kubernetes:
            let parts = subject.split(separator: ":")
            if parts.count == 4 {
                claims["kubernetes.io"] = ["namespace": String(parts[2]), "serviceaccount": ["name": String(parts[3])]]
            }
        case .email:
            claims["email"] = subject
            claims["email_verified"] = true
        case .spiffe:
            break
        }
        for (k, v) in extra { claims[k] = v }
        let h = Self.b64url(try! JSONSerialization.data(withJSONObject: ["alg": "ES256", "typ": "JWT"]))
        let c = Self.b64url(try! JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]))
        let signature = try! key.signature(for: Data("\(h).\(c)".utf8))
        return "\(h).\(c).\(Self.b64url(signature.rawRepresentation))"
    }
}

/// Fulcio, simulated from its API (spec: fulcio.proto, grpc_server.go, legacy_server.go): `POST /api/v2/signingCert`
/// (200, JSON chain; the key as `publicKeyRequest` with a proof of possession, or as a `certificateSigningRequest`)
/// and `POST /api/v1/signingCert` (201, PEM chain). It checks what Fulcio checks — the token's
/// signature against its issuer, the audience `sigstore`, expiry, the proof of possession over `email` or `sub` —
/// and issues certificates with Fulcio's profile: empty subject, one critical SAN per identity type, KeyUsage
/// digitalSignature, EKU codeSigning, the issuer in OIDs 1.3.6.1.4.1.57264.1.1 (raw) and .1.8 (DER UTF8String).
/// Each certificate carries an embedded SCT from the simulator's CT log (RFC 6962: the log signs the precertificate
/// TBS, the SCT list goes in as the last extension), as sigstore-python requires.
package final class FulcioSimulator: Sendable {
    /// What the certificates carry for a CT log.
    package enum SCTMode: Sendable { case embedded, none, badSignature }
    package struct Stats: Sendable {
        package var v1 = 0
        package var v2 = 0
        package var refused = 0
    }
    struct State {
        var stats = Stats()
        var v2Enabled = true
        var failures: [(status: Int, remaining: Int)] = []
        var lifetime: TimeInterval = 600
        var sctMode = SCTMode.embedded
    }

    let server: TestHTTPServer
    let handler: Handler
    package let issuers: [TestOIDCIssuer]
    package let rootCertificate: Certificate
    package let intermediateCertificate: Certificate
    let intermediateKey: P256.Signing.PrivateKey

    package var url: String { "http://127.0.0.1:\(server.port)" }
    package var stats: Stats { handler.state.withLock { $0.stats } }
    /// Answer the v2 API with 404, as a Fulcio that only has v1 does.
    package func setV2Enabled(_ on: Bool) { handler.state.withLock { $0.v2Enabled = on } }
    /// The next `count` signing requests get `status`.
    package func fail(status: Int, count: Int) { handler.state.withLock { $0.failures.append((status, count)) } }
    package func setLifetime(_ seconds: TimeInterval) { handler.state.withLock { $0.lifetime = seconds } }
    package func setSCTMode(_ mode: SCTMode) { handler.state.withLock { $0.sctMode = mode } }
    /// The CT log's key (DER SubjectPublicKeyInfo) and ID (its SHA-256).
    package var ctLogPublicKeyDER: Data { handler.ctKey.publicKey.derRepresentation }

    package init(issuers: [TestOIDCIssuer]) async throws {
        self.issuers = issuers
        let rootKey = P256.Signing.PrivateKey()
        let intermediateKey = P256.Signing.PrivateKey()
        let now = Date()
        let rootName = try DistinguishedName {
            OrganizationName("sigstore.test")
            CommonName("sigstore")
        }
        let intermediateName = try DistinguishedName {
            OrganizationName("sigstore.test")
            CommonName("sigstore-intermediate")
        }
        rootCertificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(rootKey.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 86400 * 365, issuer: rootName, subject: rootName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 1))
                Critical(KeyUsage(keyCertSign: true))
            }, issuerPrivateKey: .init(rootKey))
        intermediateCertificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(intermediateKey.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 86400 * 365, issuer: rootName, subject: intermediateName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true))
                try ExtendedKeyUsage([.codeSigning])
            }, issuerPrivateKey: .init(rootKey))
        self.intermediateKey = intermediateKey
        let box = Handler(
            issuers: issuers, intermediateKey: intermediateKey, chain: [intermediateCertificate, rootCertificate])
        handler = box
        server = try await TestHTTPServer { request in await box.handle(request) }
    }

    /// The CA chain (intermediate, root) as PEM, for a trust bundle or `openssl verify`.
    package var caPEM: String {
        [intermediateCertificate, rootCertificate].compactMap { try? $0.serializeAsPEM().pemString }.joined(
            separator: "\n") + "\n"
    }

    /// A `trusted_root.json` naming this Fulcio's CA chain (intermediate, then the root as the anchor) and its CT
    /// log; `tlogs` are the transparency logs' entries (`RekorSimulator.trustedRootLog`).
    package var trustedRootJSON: String { trustedRootJSON(tlogs: []) }

    package func trustedRootJSON(tlogs: [String], timestampAuthorities: [String] = []) -> String {
        func der(_ c: Certificate) -> String {
            var s = DER.Serializer()
            try? s.serialize(c)
            return Data(s.serializedBytes).base64EncodedString()
        }
        let ca =
            #"{"subject": {"organization": "sigstore.test", "commonName": "sigstore"}, "uri": "\#(url)", "#
            + #""certChain": {"certificates": [{"rawBytes": "\#(der(intermediateCertificate))"}, "#
            + #"{"rawBytes": "\#(der(rootCertificate))"}]}, "validFor": {"start": "2020-01-01T00:00:00.000Z"}}"#
        let ctlog = TrustedRootLog.json(url: url + "/ct", publicKeyDER: ctLogPublicKeyDER)
        return
            #"{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1", "tlogs": [\#(tlogs.joined(separator: ", "))], "#
            + #""certificateAuthorities": [\#(ca)], "ctlogs": [\#(ctlog)], "#
            + #""timestampAuthorities": [\#(timestampAuthorities.joined(separator: ", "))]}"#
    }

    package func stop() async { await server.stop() }
}

/// The request handling, apart from the server's lifetime.
final class Handler: Sendable {
    let issuers: [TestOIDCIssuer]
    let intermediateKey: P256.Signing.PrivateKey
    let chain: [Certificate]
    let ctKey = P256.Signing.PrivateKey()
    let state = Mutex(FulcioSimulator.State())

    init(issuers: [TestOIDCIssuer], intermediateKey: P256.Signing.PrivateKey, chain: [Certificate]) {
        self.issuers = issuers
        self.intermediateKey = intermediateKey
        self.chain = chain
    }

    static func error(_ status: Int, _ grpcCode: Int, _ message: String) -> ServedResponse {
        .json(status, #"{"code":\#(grpcCode),"message":"\#(message)","details":[]}"#)
    }

    func handle(_ request: ServedRequest) async -> ServedResponse {
        let v2 = request.path == "/api/v2/signingCert"
        guard request.method == "POST", v2 || request.path == "/api/v1/signingCert" else {
            return Self.error(404, 5, "Not Found")
        }
        let decision: ServedResponse? = state.withLock { s in
            if v2 && !s.v2Enabled { return Self.error(404, 5, "Not Found") }
            if let i = s.failures.firstIndex(where: { $0.remaining > 0 }) {
                s.failures[i].remaining -= 1
                return Self.error(s.failures[i].status, 14, "injected")
            }
            if v2 { s.stats.v2 += 1 } else { s.stats.v1 += 1 }
            return nil
        }
        if let decision { return decision }
        let (lifetime, sct) = state.withLock { ($0.lifetime, $0.sctMode) }
        switch issue(request, v2: v2, lifetime: lifetime, sct: sct) {
        case .success(let response): return response
        case .failure(let refusal):
            state.withLock { $0.stats.refused += 1 }
            return refusal.response
        }
    }

    struct Refusal: Error {
        var response: ServedResponse
        init(_ status: Int, _ code: Int, _ message: String) { response = Handler.error(status, code, message) }
    }

    func issue(
        _ request: ServedRequest, v2: Bool, lifetime: TimeInterval, sct: FulcioSimulator.SCTMode
    ) -> Result<ServedResponse, Refusal> {
        do {
            guard let body = try? JSONSerialization.jsonObject(with: request.body) as? [String: Any] else {
                throw Refusal(400, 3, "The request could not be parsed")
            }
            let bearer = request.header("Authorization").flatMap {
                $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil
            }
            let token =
                ((body["credentials"] as? [String: Any])?["oidcIdentityToken"] as? String) ?? bearer ?? ""
            let (claims, issuer) = try verify(token)
            let publicKey: P256.Signing.PublicKey
            if v2, let csr = body["certificateSigningRequest"] as? String {
                // The CSR form of v2 (what sigstore-python sends): its self-signature is the proof of possession.
                publicKey = try Self.keyOfCSR(csr)
            } else {
                let (key, proof) = try keyAndProof(body, v2: v2)
                let challenge = (claims["email"] as? String) ?? (claims["sub"] as? String ?? "")
                guard let signature = try? P256.Signing.ECDSASignature(derRepresentation: proof),
                    key.isValidSignature(signature, for: Data(challenge.utf8))
                else { throw Refusal(400, 3, "The signature supplied in the request could not be verified") }
                publicKey = key
            }
            let leaf = try certificate(for: publicKey, claims: claims, issuer: issuer, lifetime: lifetime, sct: sct)
            let pems = ([leaf] + chain).compactMap { try? $0.serializeAsPEM().pemString }
            if v2 {
                let json = try JSONSerialization.data(
                    withJSONObject: ["signedCertificateEmbeddedSct": ["chain": ["certificates": pems]]])
                return .success(
                    ServedResponse(status: 200, headers: [("Content-Type", "application/json")], body: json))
            }
            return .success(
                ServedResponse(
                    status: 201, headers: [("Content-Type", "application/pem-certificate-chain")],
                    body: Data(pems.joined(separator: "\n").utf8)))
        } catch let refusal as Refusal {
            return .failure(refusal)
        } catch {
            return .failure(Refusal(500, 13, "\(error)"))
        }
    }

    /// The token's signature by its issuer, `aud` containing `sigstore`, not expired.
    func verify(_ token: String) throws -> ([String: Any], TestOIDCIssuer) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        func decode(_ s: Substring) -> Data? {
            var t = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while t.count % 4 != 0 { t += "=" }
            return Data(base64Encoded: t)
        }
        let unusable = Refusal(400, 3, "There was an error processing the identity token")
        guard parts.count == 3, let payload = decode(parts[1]), let sig = decode(parts[2]),
            let claims = try? JSONSerialization.jsonObject(with: payload) as? [String: Any],
            let iss = claims["iss"] as? String, let issuer = issuers.first(where: { $0.url == iss }),
            let signature = try? P256.Signing.ECDSASignature(rawRepresentation: sig),
            issuer.publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8))
        else { throw unusable }
        let audiences = (claims["aud"] as? [String]) ?? [(claims["aud"] as? String) ?? ""]
        guard audiences.contains("sigstore"), let exp = claims["exp"] as? NSNumber,
            exp.doubleValue > Date().timeIntervalSince1970
        else { throw unusable }
        return (claims, issuer)
    }

    /// `certificateSigningRequest`: base64 of a PEM PKCS#10 request, signed by the key it names.
    static func keyOfCSR(_ text: String) throws -> P256.Signing.PublicKey {
        let bad = Refusal(400, 3, "The certificate signing request could not be parsed")
        guard let pem = Data(base64Encoded: text).map({ String(decoding: $0, as: UTF8.self) }),
            let document = try? PEMDocument(pemString: pem),
            let csr = try? CertificateSigningRequest(derEncoded: document.derBytes)
        else { throw bad }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw Refusal(400, 3, "The signature of the certificate signing request could not be verified")
        }
        guard let key = P256.Signing.PublicKey(csr.publicKey) else {
            throw Refusal(400, 3, "The public key in the certificate signing request is not ECDSA P-256")
        }
        return key
    }

    func keyAndProof(_ body: [String: Any], v2: Bool) throws -> (P256.Signing.PublicKey, Data) {
        let bad = Refusal(400, 3, "The public key supplied in the request could not be parsed")
        if v2 {
            guard let request = body["publicKeyRequest"] as? [String: Any],
                let content = (request["publicKey"] as? [String: Any])?["content"] as? String,
                let proof = (request["proofOfPossession"] as? String).flatMap({ Data(base64Encoded: $0) }),
                let key = try? P256.Signing.PublicKey(pemRepresentation: content)
            else { throw bad }
            return (key, proof)
        }
        guard let content = (body["publicKey"] as? [String: Any])?["content"] as? String,
            let pem = Data(base64Encoded: content).map({ String(decoding: $0, as: UTF8.self) }),
            let proof = (body["signedEmailAddress"] as? String).flatMap({ Data(base64Encoded: $0) }),
            let key = try? P256.Signing.PublicKey(pemRepresentation: pem)
        else { throw bad }
        return (key, proof)
    }

    /// The SAN Fulcio writes for each identity type (spec §7.3).
    static func san(_ claims: [String: Any], kind: TestOIDCIssuer.Kind) -> GeneralName {
        switch kind {
        case .email: return .rfc822Name(claims["email"] as? String ?? "")
        case .spiffe: return .uniformResourceIdentifier(claims["sub"] as? String ?? "")
        case .kubernetes:
            let k8s = claims["kubernetes.io"] as? [String: Any]
            let ns = k8s?["namespace"] as? String ?? ""
            let sa = (k8s?["serviceaccount"] as? [String: Any])?["name"] as? String ?? ""
            return .uniformResourceIdentifier("https://kubernetes.io/namespaces/\(ns)/serviceaccounts/\(sa)")
        }
    }

    func certificate(
        for key: P256.Signing.PublicKey, claims: [String: Any], issuer: TestOIDCIssuer, lifetime: TimeInterval,
        sct: FulcioSimulator.SCTMode
    ) throws -> Certificate {
        // Whole seconds: X.509 times have no fraction, and a rounded-up notBefore is "not yet valid" for a moment.
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        var utf8 = DER.Serializer()
        try utf8.serialize(ASN1UTF8String(issuer.url))
        let issuerName = chain.first?.subject ?? DistinguishedName()
        var serial = [UInt8](repeating: 0, count: 20)
        for i in serial.indices { serial[i] = UInt8.random(in: 0...255) }
        serial[0] &= 0x7f
        var extensions = try Certificate.Extensions {
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.codeSigning])
            SubjectKeyIdentifier(hash: Certificate.PublicKey(key))
            AuthorityKeyIdentifier(
                keyIdentifier: SubjectKeyIdentifier(hash: Certificate.PublicKey(intermediateKey.publicKey))
                    .keyIdentifier)
            Critical(SubjectAlternativeNames([Self.san(claims, kind: issuer.kind)]))
            Certificate.Extension(
                oid: [1, 3, 6, 1, 4, 1, 57264, 1, 1], critical: false, value: ArraySlice(Array(issuer.url.utf8)))
            Certificate.Extension(
                oid: [1, 3, 6, 1, 4, 1, 57264, 1, 8], critical: false, value: utf8.serializedBytes[...])
        }
        func make() throws -> Certificate {
            try Certificate(
                version: .v3, serialNumber: .init(bytes: serial[...]), publicKey: .init(key), notValidBefore: now,
                notValidAfter: now + lifetime, issuer: issuerName, subject: DistinguishedName(),
                signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: .init(intermediateKey))
        }
        let precertificate = try make()
        guard sct != .none else { return precertificate }
        try extensions.append(sctListExtension(for: precertificate, corrupt: sct == .badSignature))
        return try make()
    }

    /// The CT log's part (RFC 6962 §3.2): sign `v1 ‖ certificate_timestamp ‖ time ‖ precert_entry ‖
    /// SHA-256(issuer SPKI) ‖ uint24 TBS ‖ no extensions`, and encode the SCT list in an OCTET STRING.
    func sctListExtension(for precertificate: Certificate, corrupt: Bool) throws -> Certificate.Extension {
        func be(_ v: UInt64, _ n: Int) -> [UInt8] {
            (0..<n).reversed().map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) }
        }
        let time = UInt64(Date().timeIntervalSince1970 * 1000)
        let tbs = Array(precertificate.tbsCertificateBytes)
        var signed: [UInt8] = [0, 0] + be(time, 8) + be(1, 2)
        signed += Array(SHA256.hash(data: intermediateKey.publicKey.derRepresentation))
        signed += be(UInt64(tbs.count), 3) + tbs + be(0, 2)
        var signature = Array(try ctKey.signature(for: signed).derRepresentation)
        if corrupt { signature[signature.count - 1] ^= 0x01 }
        var sct: [UInt8] = [0] + Array(SHA256.hash(data: ctKey.publicKey.derRepresentation)) + be(time, 8) + be(0, 2)
        sct += [4, 3] + be(UInt64(signature.count), 2) + signature
        let list = be(UInt64(sct.count + 2), 2) + be(UInt64(sct.count), 2) + sct
        var octets = DER.Serializer()
        try octets.serialize(ASN1OctetString(contentBytes: list[...]))
        return Certificate.Extension(
            oid: [1, 3, 6, 1, 4, 1, 11129, 2, 4, 2], critical: false, value: octets.serializedBytes[...])
    }
}

/// A log's entry in a `trusted_root.json` (`tlogs` or `ctlogs`).
package enum TrustedRootLog {
    package static func json(url: String, publicKeyDER: Data) -> String {
        let id = Data(SHA256.hash(data: publicKeyDER)).base64EncodedString()
        return
            #"{"baseUrl": "\#(url)", "hashAlgorithm": "SHA2_256", "publicKey": {"rawBytes": "\#(publicKeyDER.base64EncodedString())", "#
            + #""keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": "2020-01-01T00:00:00Z"}}, "logId": {"keyId": "\#(id)"}}"#
    }
}
