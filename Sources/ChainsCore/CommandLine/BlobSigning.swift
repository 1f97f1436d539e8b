import ChainsConfig
import Foundation
import HTTPTransport
import Signing
import Sigstore
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
        guard let signingConfig = FileManager.default.contents(atPath: request.signingConfig.path) else {
            throw ChainsError(.badInput, "the signing config cannot be read", file: request.signingConfig.path)
        }
        let plan = try SigningAssembly.applySigningConfig(
            .init(
                data: signingConfig, source: request.signingConfig.path, name: request.signingConfig.lastPathComponent),
            config: parsed.config, now: Date())
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

    /// The artifact as `chains sign` makes one — so that logging (`TransparencyLog`), timestamping and the bundle
    /// (`SignedArtifact.sigstoreBundle`) are the same code: a message signature over the file, or a DSSE envelope of
    /// the statement.
    static func make(
        _ request: Request, content: Data, plan: SigningAssembly.ServicePlan, root: TrustedRoot,
        transport: any HTTPTransport
    ) async throws -> SigstoreBundle {
        guard let fulcioURL = URL(string: plan.config.fulcioAddress),
            let logURL = URL(string: plan.config.transparency.url)
        else { throw ChainsError(.badInput, "the signing config's Fulcio or Rekor URL is not a URL") }
        let log = try SigningAssembly.transparencyLog(
            at: logURL, version: plan.transparencyVersion, transport: transport, trustedRoot: root,
            trustedRootSource: "file \(request.trustedRoot.path)")
        let signer = try await KeylessCertificates(
            fulcio: FulcioClient(address: fulcioURL, transport: transport, trustedRoot: root),
            providers: [GivenTokenProvider(jwt: request.identityToken)]
        ).signer()
        var artifact = SignedArtifact(
            artifactType: .oci, shortKey: request.file.lastPathComponent, fullKey: request.file.path,
            format: request.inToto ? .inToto : .simpleSigning, payload: content,
            signature: request.inToto
                ? try await DSSE.sign(payload: content, signer: signer) : try signer.sign(content),
            publicKey: signer.publicKey, certificateChain: signer.certificateChain, bundleEnvelope: nil,
            transparency: nil)
        if !plan.timestampAuthorities.isEmpty {
            let authority = SigningAssembly.timestampAuthority(
                plan.timestampAuthorities, transport: transport, trustedRoot: root)
            artifact.timestamps = try await SigningService.timestamps(artifact, by: authority)
        }
        artifact.transparency = try await log.record(artifact)
        return try artifact.sigstoreBundle()
    }
}
