import Crypto
import Foundation
import Signing

/// The body of a Rekor v2 (rekor-tiles) log entry, `dev.sigstore.rekor.v2.Entry` as protojson writes it: `hashedrekord`
/// 0.0.2 (a digest, a signature and its verifier), or the deprecated `dsse` 0.0.2 older bundles still carry (a payload
/// hash and signatures). Decoding keeps only the fields the protos define, so `canonical` is the body rebuilt from
/// what was parsed — the leaf hash is computed over that, as the log computed it, never over bytes we did not read.
package struct RekorV2Body: Codable, Sendable, Equatable {
    /// `dev.sigstore.common.v1.HashOutput`: `SHA2_256` and the digest's bytes (base64).
    package struct HashOutput: Codable, Sendable, Equatable {
        package var algorithm: String
        package var digest: String
        package init(sha256: Data) {
            algorithm = "SHA2_256"
            digest = sha256.base64EncodedString()
        }
    }
    package struct RawBytes: Codable, Sendable, Equatable { package var rawBytes: String }
    /// Who made a signature: a certificate (DER) or a public key (DER SubjectPublicKeyInfo), with its key details
    /// (`PKIX_ECDSA_P256_SHA_256`, …).
    package struct Verifier: Codable, Sendable, Equatable {
        package var publicKey: RawBytes?
        package var x509Certificate: RawBytes?
        package var keyDetails: String

        /// Whether this is the signer `der` names: the same certificate, or the same public key (compared as keys:
        /// a log may re-encode what it was given).
        func isSame(as der: Data) -> Bool {
            if let certificate = x509Certificate { return Data(base64Encoded: certificate.rawBytes) == der }
            guard let raw = publicKey.flatMap({ Data(base64Encoded: $0.rawBytes) }) else { return false }
            if raw == der { return true }
            guard let logged = try? PublicKey(der: raw), let given = try? PublicKey(der: der) else { return false }
            return logged.derRepresentation == given.derRepresentation
        }
    }
    package struct Signature: Codable, Sendable, Equatable {
        /// The signature's bytes (base64).
        package var content: String
        package var verifier: Verifier
    }
    package struct HashedRekord: Codable, Sendable, Equatable {
        package var data: HashOutput
        package var signature: Signature
    }
    package struct DSSE: Codable, Sendable, Equatable {
        package var payloadHash: HashOutput
        package var signatures: [Signature]
    }
    package struct Spec: Codable, Sendable, Equatable {
        package var hashedRekordV002: HashedRekord?
        package var dsseV002: DSSE?
    }

    package var apiVersion: String
    package var kind: String
    package var spec: Spec

    /// A `hashedrekord` 0.0.2 body.
    package init(hashedRekord: HashedRekord) {
        apiVersion = "0.0.2"
        kind = "hashedrekord"
        spec = Spec(hashedRekordV002: hashedRekord, dsseV002: nil)
    }

    /// Parses a canonicalized body; an unknown kind or version, or a body without its kind's spec, is an error.
    package init(parsing data: Data) throws(CertificateCheckError) {
        guard let body = try? JSONDecoder().decode(RekorV2Body.self, from: data) else {
            throw CertificateCheckError("the Rekor v2 entry's body is not a hashedrekord or dsse 0.0.2 entry")
        }
        guard body.apiVersion == "0.0.2",
            (body.kind == "hashedrekord" && body.spec.hashedRekordV002 != nil && body.spec.dsseV002 == nil)
                || (body.kind == "dsse" && body.spec.dsseV002 != nil && body.spec.hashedRekordV002 == nil)
        else {
            throw CertificateCheckError(
                "the Rekor v2 entry's body is \(body.kind) \(body.apiVersion), which is not a hashedrekord or dsse "
                    + "0.0.2 entry")
        }
        self = body
    }

    /// RFC 8785 JSON of what was parsed: what the log hashed into its tree.
    package var canonical: Data {
        func hash(_ h: HashOutput) -> CanonicalJSON {
            .object(["algorithm": .string(h.algorithm), "digest": .string(h.digest)])
        }
        func signature(_ s: Signature) -> CanonicalJSON {
            var verifier: [String: CanonicalJSON] = ["keyDetails": .string(s.verifier.keyDetails)]
            if let key = s.verifier.publicKey { verifier["publicKey"] = .object(["rawBytes": .string(key.rawBytes)]) }
            if let cert = s.verifier.x509Certificate {
                verifier["x509Certificate"] = .object(["rawBytes": .string(cert.rawBytes)])
            }
            return .object(["content": .string(s.content), "verifier": .object(verifier)])
        }
        var spec: [String: CanonicalJSON] = [:]
        if let h = self.spec.hashedRekordV002 {
            spec["hashedRekordV002"] = .object(["data": hash(h.data), "signature": signature(h.signature)])
        }
        if let d = self.spec.dsseV002 {
            spec["dsseV002"] = .object([
                "payloadHash": hash(d.payloadHash), "signatures": .array(d.signatures.map(signature)),
            ])
        }
        return CanonicalJSON.object([
            "apiVersion": .string(apiVersion), "kind": .string(kind), "spec": .object(spec),
        ]).serialized
    }

    /// Whether this body records `signature` by the verifier `verifierDER` over content whose SHA-256 is
    /// `digest`: for `hashedrekord`, the digest of the artifact (or, for a DSSE envelope, of its PAE — Rekor v2 logs
    /// envelopes that way); for `dsse`, `digest` is the payload's and the signature one of those recorded.
    package func records(digest: Data, signature: Data, verifierDER: Data) -> Bool {
        func same(_ s: Signature) -> Bool {
            Data(base64Encoded: s.content) == signature && s.verifier.isSame(as: verifierDER)
        }
        if let h = spec.hashedRekordV002 {
            return h.data.algorithm == "SHA2_256" && Data(base64Encoded: h.data.digest) == digest && same(h.signature)
        }
        if let d = spec.dsseV002 {
            return d.payloadHash.algorithm == "SHA2_256" && Data(base64Encoded: d.payloadHash.digest) == digest
                && d.signatures.contains(where: same)
        }
        return false
    }
}

/// Rekor v2 (rekor-tiles) log entries as bundles carry them, checked offline as rekor-tiles' CLIENTS.md asks: the
/// entry names a log of the trusted root by its checkpoint key id; the checkpoint (a C2SP signed note) carries a
/// signature by that log — under the log's own name, with the key hint the C2SP rules give its key, among any witness
/// cosignatures and other lines, which are ignored — and the inclusion proof leads from the rebuilt body's leaf hash at
/// the entry's index to the checkpoint's root at the checkpoint's size. A Rekor v2 entry has no integrated time and no
/// promise: the time comes from an RFC 3161 timestamp, which the caller requires.
package enum RekorV2Entry {
    /// A bundle entry from a Rekor v2 log: `hashedrekord` or `dsse` at version 0.0.2 (`intoto` 0.0.2 is Rekor v1's).
    package static func isV2(_ entry: TransparencyLogEntry) -> Bool {
        entry.kindVersion.version == "0.0.2" && ["hashedrekord", "dsse"].contains(entry.kindVersion.kind)
    }

    /// A checked entry: its index, the trusted log that holds it, and its parsed body.
    package struct Verified: Sendable {
        package var logIndex: Int64
        package var log: TrustedRoot.LogInstance
        package var body: RekorV2Body
    }

    /// The C2SP signed-note key id of a log key under the log's name — what rekor-tiles publishes as its log id, and
    /// whose first 4 bytes are the key hint of its checkpoint signatures: Ed25519 SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key);
    /// ECDSA SHA-256(SubjectPublicKeyInfo); RSA SHA-256(name ‖ 0x0A ‖ 0xFF ‖ "PKIX-RSA-PKCS#1v1.5" ‖ SPKI).
    package static func checkpointKeyID(name: String, publicKeyDER: Data) -> Data? {
        guard let key = try? PublicKey(der: publicKeyDER) else { return nil }
        let named = Data(name.utf8) + [0x0A]
        switch key {
        case .ed25519(let k): return Data(SHA256.hash(data: named + [0x01] + k.rawRepresentation))
        case .p256, .p384, .p521: return Data(SHA256.hash(data: publicKeyDER))
        case .rsa: return Data(SHA256.hash(data: named + [0xFF] + Data("PKIX-RSA-PKCS#1v1.5".utf8) + publicKeyDER))
        }
    }

    /// Checks one entry as described above; returns what the caller still needs (the body for the content check,
    /// the log for the time check).
    package static func verify(
        _ entry: TransparencyLogEntry, logs: [TrustedRoot.LogInstance]
    ) throws(CertificateCheckError) -> Verified {
        guard let index = Int64(entry.logIndex), index >= 0, let logID = Data(base64Encoded: entry.logId.keyId),
            let bodyBytes = Data(base64Encoded: entry.canonicalizedBody)
        else { throw CertificateCheckError("the bundle's Rekor v2 log entry is malformed") }
        guard let log = logs.first(where: { $0.keyID == logID }) else {
            throw CertificateCheckError(
                "the entry is from log \(entry.logId.keyId), which is not a log of the trusted root")
        }
        let body = try RekorV2Body(parsing: bodyBytes)
        guard body.kind == entry.kindVersion.kind else {
            throw CertificateCheckError("the Rekor v2 entry says \(entry.kindVersion.kind), its body \(body.kind)")
        }
        guard let proof = entry.inclusionProof else {
            throw CertificateCheckError(
                "the Rekor v2 entry has no inclusion proof (a Rekor v2 entry is only proven by its inclusion proof)")
        }
        guard let envelope = proof.checkpoint?.envelope else {
            throw CertificateCheckError("the Rekor v2 entry's inclusion proof has no checkpoint")
        }
        let checkpoint = try Checkpoint(parsing: envelope)
        try checkSigned(checkpoint, by: log)
        // The index is the entry's; size and root are the checkpoint's (CLIENTS.md: the proof's own copies are not
        // what the log signed).
        let path = proof.hashes.compactMap { Data(base64Encoded: $0) }
        guard path.count == proof.hashes.count, UInt64(index) < checkpoint.size,
            Merkle.root(
                fromInclusionProof: path, index: UInt64(index), size: checkpoint.size,
                leafHash: Merkle.leafHash(body.canonical)) == checkpoint.rootHash
        else {
            throw CertificateCheckError(
                "the Rekor v2 entry's inclusion proof does not lead to the checkpoint's root (\(log.baseURL), "
                    + "entry \(index) of \(checkpoint.size))")
        }
        return Verified(logIndex: index, log: log, body: body)
    }

    /// The checkpoint is signed by `log`: its origin is a name whose checkpoint key id for the log's key is the log's
    /// id, and a signature line under that name with that key hint verifies over the note's text.
    package static func checkSigned(
        _ checkpoint: Checkpoint, by log: TrustedRoot.LogInstance
    ) throws(CertificateCheckError) {
        guard let key = try? PublicKey(der: log.publicKey) else {
            throw CertificateCheckError("the trusted root's key for log \(log.baseURL) cannot be read")
        }
        guard checkpointKeyID(name: checkpoint.origin, publicKeyDER: log.publicKey) == log.keyID else {
            // An Ed25519 or RSA key id depends on the name; an ECDSA one is the key's alone.
            switch key {
            case .ed25519, .rsa:
                throw CertificateCheckError(
                    "the checkpoint's origin \"\(checkpoint.origin.prefix(100))\" is not the name of log \(log.baseURL)"
                )
            default:
                throw CertificateCheckError(
                    "the trusted root's key for log \(log.baseURL) is not the key its log id names")
            }
        }
        let hint = log.keyID.prefix(4)
        let text = Data(checkpoint.text.utf8)
        guard
            checkpoint.signatures.contains(where: {
                $0.name == checkpoint.origin && $0.keyHint == hint && key.isValidSignature($0.signature, for: text)
            })
        else {
            throw CertificateCheckError(
                "the checkpoint carries no valid signature of log \(log.baseURL) (\(checkpoint.signatures.count) "
                    + "signature line\(checkpoint.signatures.count == 1 ? "" : "s"), none by its key)")
        }
    }
}
