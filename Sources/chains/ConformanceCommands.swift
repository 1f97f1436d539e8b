import ArgumentParser
import ChainsCore
import Foundation
import Sigstore

/// `chains sign-bundle`: the sigstore-conformance suite's signing command (its `docs/cli_protocol.md`), so the suite
/// can run `chains` as a client.
struct SignBundle: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign-bundle",
        abstract: "Sign a file keylessly into a sigstore bundle, as the sigstore-conformance suite asks a client to.",
        discussion:
            "Fulcio, Rekor (v1 or v2) and the timestamp authority come from --signing-config, checked against --trusted-root. With --in-toto, FILE is an in-toto statement, signed as DSSE."
    )

    @Flag(help: "Sigstore's staging instance: give its --trusted-root and --signing-config.") var staging = false
    @Flag(name: .customLong("in-toto"), help: "FILE is an in-toto statement: sign it as a DSSE envelope.")
    var inToto = false
    @Option(name: .customLong("identity-token"), help: "The OIDC identity token (a JWT).") var identityToken: String
    @Option(help: "Where to write the bundle.") var bundle: String
    @Option(name: .customLong("trusted-root"), help: "The trusted_root.json to check the services' answers against.")
    var trustedRoot: String?
    @Option(name: .customLong("signing-config"), help: "The signing config v0.2 choosing the services.")
    var signingConfig: String?
    @Argument(help: "The file to sign.") var file: String

    func run() async throws {
        guard let trustedRoot, let signingConfig else {
            say(
                "error: sign-bundle needs --trusted-root and --signing-config (this build embeds neither sigstore's "
                    + "staging nor its production signing config)")
            throw ExitCode(2)
        }
        do throws(ChainsError) {
            let notes = try await BlobSigning.sign(
                .init(
                    file: URL(fileURLWithPath: file), inToto: inToto, identityToken: identityToken,
                    signingConfig: URL(fileURLWithPath: signingConfig), trustedRoot: URL(fileURLWithPath: trustedRoot),
                    bundleOut: URL(fileURLWithPath: bundle)))
            for note in notes { say("\(note)") }
            say("signed \(file): \(bundle)")
        } catch {
            say("error: \(error)")
            throw ExitCode(error.code == .badInput ? 2 : 1)
        }
    }
}

/// `chains verify-bundle`: the suite's verification command — `verify-blob` under the protocol's name and flags.
struct VerifyBundle: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-bundle",
        abstract: "Verify a sigstore bundle as the sigstore-conformance suite asks a client to (verify-blob).")

    @Flag(help: "Sigstore's staging instance: give its --trusted-root.") var staging = false
    @Option(help: "The sigstore bundle.") var bundle: String
    @OptionGroup var signer: SignerOptions
    @Argument(help: "The artifact file, or sha256:<hex>.") var artifact: String

    func run() async throws {
        let (authority, root) = try signer.bundleAuthority()
        guard let root else {
            say("error: verify-bundle needs --trusted-root FILE (the log keys, CAs and authorities come from it)")
            throw ExitCode(2)
        }
        do throws(ChainsError) {
            let verified = try await LocalVerification.verifyBlob(
                artifact: artifact, bundle: bundle, authority: authority, trustedRoot: root)
            say("verified \(artifact): \(verified.mediaType), signed by \(verified.signer), \(verified.when)")
        } catch {
            say("error: \(error)")
            throw ExitCode(1)
        }
    }
}
