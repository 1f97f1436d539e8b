import ChainsConfig
import Foundation
import HTTPTransport
import Signing
import Sigstore
import SwiftASN1
import X509

/// `chains sign-bundle`: the sigstore-conformance suite's signing protocol (`docs/cli_protocol.md`) — a file (or, with
/// `--in-toto`, an in-toto statement as DSSE) signed keylessly with the identity token given, through the services a
/// signing config chooses (the same selection as `chains sign`): a Fulcio certificate for a fresh P-256 key, an RFC
/// 3161 timestamp when it lists an authority, a Rekor v1 or v2 entry, each answer checked against the trusted root;
/// then a v0.3 bundle.
package enum BlobSigning {
    /// What to sign and with what.
    package struct Request: Sendable {
        package var file: URL
        package var inToto: Bool
        package var identityToken: String
        package var signingConfig: URL
        package var trustedRoot: URL
        package var bundleOut: URL

        package init(
            file: URL, inToto: Bool, identityToken: String, signingConfig: URL, trustedRoot: URL, bundleOut: URL
        ) {
            self.file = file
            self.inToto = inToto
            self.identityToken = identityToken
            self.signingConfig = signingConfig
            self.trustedRoot = trustedRoot
            self.bundleOut = bundleOut
        }
    }

    /// Signs, writes the bundle, and returns the notes on the services chosen.
    package static func sign(_ request: Request) async throws(ChainsError) -> [Diagnostic] {
        guard let content = FileManager.default.contents(atPath: request.file.path) else {
            throw ChainsError(.badInput, "cannot be read", file: request.file.path)
        }
        let root: TrustedRoot
        do {
            root = try TrustedRoot(contentsOf: request.trustedRoot)
        } catch {
            throw ChainsError(.badInput, "\(error)", file: request.trustedRoot.path, underlying: error)
        }
        // The assembly's selection, on a chains-config asking for keyless and a log.
        guard
            case .success(let parsed) = ChainsConfig.parse([
                "signers.x509.fulcio.enabled": "true", "transparency.enabled": "true",
            ])
        else { throw ChainsError(.badInput, "internal: the keyless chains-config does not parse") }
        let plan = try SigningAssembly.applySigningConfig(
            flag: request.signingConfig, config: parsed.config, now: Date())
        let http: AsyncHTTPClientTransport
        do {
            http = try AsyncHTTPClientTransport(timeouts: HTTPTimeouts(request: .seconds(30)))
        } catch {
            throw ChainsError.classify(error, stage: .signing)
        }
        defer { Task { try? await http.shutdown() } }
        do {
            let bundle = try await make(request, content: content, plan: plan, root: root, transport: http)
            try bundle.serialized().write(to: request.bundleOut)
        } catch let error as ChainsError {
            throw error
        } catch {
            throw ChainsError.classify(error, stage: .signing)
        }
        return plan.notes
    }

    static func make(
        _ request: Request, content: Data, plan: SigningAssembly.ServicePlan, root: TrustedRoot,
        transport: any HTTPTransport
    ) async throws -> SigstoreBundle {
        guard let fulcioURL = URL(string: plan.config.fulcioAddress),
            let logURL = URL(string: plan.config.transparency.url)
        else { throw ChainsError(.badInput, "the signing config's Fulcio or Rekor URL is not a URL") }
        let signer = try await KeylessCertificates(
            fulcio: FulcioClient(address: fulcioURL, transport: transport, trustedRoot: root),
            providers: [GivenTokenProvider(jwt: request.identityToken)]
        ).signer()
        guard let leaf = signer.certificateChain?.first else {
            throw ChainsError(.signing, "Fulcio \(fulcioURL.absoluteString) gave no certificate")
        }
        var serializer = DER.Serializer()
        try serializer.serialize(leaf)
        let leafDER = Data(serializer.serializedBytes)
        let publicKey = signer.publicKey
        // What is signed, and the signature bytes a timestamp and a log entry are over.
        let signed: Data
        let signature: Data
        let envelope: Data?
        if request.inToto {
            let pae = DSSE.pae(payloadType: DSSE.inTotoPayloadType, payload: content)
            signature = try signer.sign(pae)
            envelope = DSSE.envelope(
                payload: content, payloadType: DSSE.inTotoPayloadType, keyID: "", signature: signature)
            signed = pae
        } else {
            signature = try signer.sign(content)
            envelope = nil
            signed = content
        }
        var timestamps: [Data] = []
        if let tsa = plan.timestampAuthority {
            let client = TimestampClient(address: tsa, transport: transport, authorities: root.timestampAuthorities)
            timestamps = [try await client.timestamp(signature: signature).der]
        }
        let entry: TransparencyLogEntry
        if plan.transparencyVersion == 2 {
            guard let client = RekorV2Client(address: logURL, transport: transport, logs: root.tlogs) else {
                throw ChainsError(.badInput, "Rekor v2 log \(logURL.absoluteString) is not in the trusted root")
            }
            entry = try await client.add(
                try RekorV2Proposal(signed: signed, signature: signature, publicKey: publicKey, certificateDER: leafDER)
            )
        } else {
            let pem = try leaf.serializeAsPEM().pemString + "\n"
            let proposal: RekorProposal =
                envelope.map { .dsse(envelope: $0, verifierPEM: pem) }
                ?? .hashedRekord(payload: content, signature: signature, verifierPEM: pem)
            entry = try await RekorClient(address: logURL, transport: transport, logs: root.tlogs).add(proposal)
                .bundleEntry
        }
        if let envelope {
            return try SigstoreBundle(
                envelope: envelope, publicKeyDER: publicKey.derRepresentation, certificateDER: leafDER,
                tlogEntries: [entry], timestamps: timestamps)
        }
        return SigstoreBundle(
            message: content, signature: signature, publicKeyDER: publicKey.derRepresentation,
            certificateDER: leafDER, tlogEntries: [entry], timestamps: timestamps)
    }
}
