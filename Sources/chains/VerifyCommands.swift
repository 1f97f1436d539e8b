import ArgumentParser
import ChainsConfig
import ChainsCore
import Foundation
import Sigstore

struct VerifyBlob: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-blob",
        abstract:
            "Verify a sigstore bundle (v0.1–v0.3) for a file or a sha256:<hex> digest; exit 0 only if every check passed.",
        discussion:
            "Ours from chains sign --bundle-out, and other clients'. For a DSSE bundle the artifact is a subject of the statement, which is printed."
    )

    @Argument(help: "The artifact file, or sha256:<hex>.")
    var artifact: String

    @Option(help: "The sigstore bundle (.sigstore.json).")
    var bundle: String

    @OptionGroup var signer: SignerOptions

    func validate() throws {
        if signer.trustedRoot == nil {
            throw ValidationError("verify-blob needs --trusted-root FILE: the log's key comes from it")
        }
    }

    func run() async throws {
        let (authority, root) = try signer.bundleAuthority()
        guard let root else { throw ValidationError("verify-blob needs --trusted-root FILE") }
        do throws(ChainsError) {
            let verified = try await LocalVerification.verifyBlob(
                artifact: artifact, bundle: bundle, authority: authority, trustedRoot: root,
                thresholds: signer.thresholds ?? .init())
            if let statement = verified.statement { print(String(decoding: statement, as: UTF8.self)) }
            say("verified \(artifact): \(verified.mediaType), signed by \(verified.signer), \(verified.when)")
        } catch {
            say("error: \(error)")
            throw ExitCode(1)
        }
    }
}

struct VerifyRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-run",
        abstract: "Check the chains.tekton.dev/* signatures on a signed run (key or keyless); exit 0 when they hold.")

    @Argument(help: "The signed run manifest (as chains sign writes it, or kubectl get -o yaml prints it).")
    var run: String

    @OptionGroup var signer: SignerOptions

    @Option(
        help: ArgumentHelp(
            "Where to read the signatures: a comma list of tekton (the run's annotations), gcs, docdb, grafeas, archivista.",
            discussion:
                "gcs, docdb, grafeas and archivista are read with --config's settings and the environment's credentials."
        ))
    var storage = "tekton"

    @Option(
        help:
            "The chains-config ConfigMap (or flat key: value file) naming the backends' bucket, table, project or URL.")
    var config: String?

    func run() async throws {
        let (authority, by) = try signer.authority()
        let logRoot = try signer.logRoot()
        var kinds: [StorageKind] = []
        for name in storage.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let kind = StorageKind(rawValue: name), [.tekton, .gcs, .docdb, .grafeas, .archivista].contains(kind)
            else {
                say("error: --storage \(name): read back from tekton, gcs, docdb, grafeas or archivista")
                throw ExitCode(2)
            }
            kinds.append(kind)
        }
        let report: RunVerifier.Report
        do throws(ChainsError) {
            report = try await LocalVerification.verifyRun(
                file: URL(fileURLWithPath: run), authority: authority, thresholds: signer.thresholds,
                logRoot: logRoot, storage: kinds, configFile: config.map { URL(fileURLWithPath: $0) })
        } catch {
            say("error: \(error)")
            throw ExitCode(2)
        }
        say("checked \(report.checks.count) signature(s) on \(report.run) with \(by)")
        for note in report.notes { say("note: \(note)") }
        for c in report.checks {
            let mark = c.result == .verified ? "✓" : (c.result == .failed ? "✗" : "–")
            say("  \(mark) \(c.key): \(c.detail)")
        }
        guard report.passed else {
            say("error: the run's signatures do not all verify")
            throw ExitCode(1)
        }
    }
}
