import Foundation
import Signing
import Sigstore
import SwiftASN1
import X509

/// What one attempt signed for an artifact, kept on the run when the attempt did not finish, so the next attempt
/// stores and logs the same signature instead of making another. A keyless signature cannot be remade (each
/// certificate has a new key); a second one would be a second `.att` layer and a second Rekor entry for the same
/// payload. Annotation `chains-in-swift.dev/attempt-<short key>`, JSON; removed once the run is signed. Provenance
/// leaves it out (like `chains.tekton.dev/*`).
public struct AttemptRecord: Codable, Sendable, Equatable {
    public static let prefix = "chains-in-swift.dev/attempt-"

    public var format: String
    /// The payload (simplesigning) — for in-toto formats it is inside the envelope, so not repeated.
    public var payload: String?
    /// The raw signature (simplesigning) or the DSSE envelope JSON, base64.
    public var signature: String
    /// The signer's certificate and chain (keyless), PEM; nil for a key.
    public var chain: String?
    /// cosign v3's signed image statement for the `sigstore-bundle` encoding, base64.
    public var bundleEnvelope: String?

    public static func key(shortKey: String) -> String { prefix + shortKey }

    init(_ artifact: ArtifactOutcome) {
        self.init(
            format: artifact.format, payload: artifact.payload, signature: artifact.signature,
            chain: artifact.certificateChain, bundleEnvelope: artifact.bundleEnvelope)
    }

    init(_ artifact: SignedArtifact) {
        self.init(
            format: artifact.format, payload: artifact.payload, signature: artifact.signature,
            chain: artifact.certificateChain, bundleEnvelope: artifact.bundleEnvelope)
    }

    init(format: String, payload: Data, signature: Data, chain: [Certificate]?, bundleEnvelope: Data?) {
        self.format = format
        self.payload = format == "simplesigning" ? payload.base64EncodedString() : nil
        self.signature = signature.base64EncodedString()
        self.chain = chain.map(CertificatePEM.pem)
        self.bundleEnvelope = bundleEnvelope?.base64EncodedString()
    }

    var annotationValue: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    static func read(_ annotations: [String: String], shortKey: String) -> AttemptRecord? {
        guard let text = annotations[key(shortKey: shortKey)] else { return nil }
        return try? JSONDecoder().decode(AttemptRecord.self, from: Data(text.utf8))
    }

    /// The earlier attempt's signature, when it can stand: same format, it verifies, and (keyless) its certificate
    /// is still valid — an expired one could no longer be logged inside its validity, so that artifact is signed
    /// anew. `currentKey` is the key signer's key (a rotated key means a new signature).
    func reusable(
        for item: PlannedArtifact, currentKey: PublicKey?, now: Date
    ) -> (payload: Data, signature: Data, chain: [Certificate]?, publicKey: PublicKey, bundleEnvelope: Data?)? {
        guard format == item.setting.format, let signature = Data(base64Encoded: signature) else { return nil }
        var certificates: [Certificate]?
        let key: PublicKey
        if let chain {
            guard let documents = try? PEMDocument.parseMultiple(pemString: chain), !documents.isEmpty else {
                return nil
            }
            let parsed = documents.compactMap { try? Certificate(derEncoded: $0.derBytes) }
            guard parsed.count == documents.count, parsed[0].notValidAfter > now.addingTimeInterval(60),
                let leafKey = try? PublicKey(certificateKey: parsed[0].publicKey)
            else { return nil }
            certificates = parsed
            key = leafKey
        } else {
            guard let currentKey else { return nil }
            key = currentKey
        }
        let payload: Data
        if format == "simplesigning" {
            guard let p = self.payload.flatMap({ Data(base64Encoded: $0) }), key.isValidSignature(signature, for: p)
            else { return nil }
            payload = p
        } else {
            guard let p = DSSE.verify(envelope: signature, publicKey: key) else { return nil }
            payload = p
        }
        let envelope = bundleEnvelope.flatMap { Data(base64Encoded: $0) }
        if let envelope, DSSE.verify(envelope: envelope, publicKey: key) == nil { return nil }
        return (payload, signature, certificates, key, envelope)
    }
}

/// Keeps what an attempt signed on the run before anything is pushed, so that an attempt that dies half-way (a
/// killed controller) leaves it for the next one. The controller patches the run; `chains sign` needs none (it
/// writes the run, records included, when the attempt ends).
public protocol AttemptRecorder: Sendable {
    /// `annotations` are `chains-in-swift.dev/attempt-<short key>` records to add to the run.
    func record(_ annotations: [String: String], on run: RunContext) async throws
}

/// Stands for the signer of a reused signature: its key (the current key, or the earlier certificate's), never
/// asked to sign again.
struct ReusedSigner: Signer {
    let publicKey: PublicKey
    let certificateChain: [Certificate]?
    var origin: String {
        "the signature an earlier attempt of this run made"
            + (certificateChain.map {
                " (certificate for \(KeylessVerifier.identities(of: $0[0]).first ?? "\($0[0].subject)"))"
            } ?? "")
    }
    func sign(_ message: Data) throws -> Data {
        throw SigningError(code: .signingFailed, file: "", reason: "a reused signature is not signed again")
    }
}
