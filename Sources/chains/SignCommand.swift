import ArgumentParser
import ChainsCore
import Foundation
import Logging
import SPIFFE
import Sigstore

struct Sign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sign a finished TaskRun or PipelineRun and write it back with its chains.tekton.dev/* annotations.")

    @Argument(help: "The run manifest (YAML or JSON, as `kubectl get -o yaml` prints it).")
    var run: String

    @Argument(help: "More runs, signed by the same process (one certificate shared when keyless); needs --output-dir.")
    var moreRuns: [String] = []

    @Option(
        help: "The chains-config ConfigMap (or a flat key: value file). Default: every artifact stored with tekton.")
    var config: String?

    @Option(
        name: .customLong("signing-secrets"),
        help:
            "Directory with x509.pem, or cosign.key + cosign.password. Default: a per-user directory, created on first use."
    )
    var signingSecrets: String?

    @Option(
        name: .customLong("objects"),
        help: "Directory of Kubernetes manifests standing in for the cluster (repeatable).")
    var objects: [String] = []

    @Option(help: "Where to write the signed run (default: stdout).")
    var output: String?

    @Option(
        name: .customLong("output-dir"),
        help: "Write each signed run as DIR/<its file name> (required with several runs).")
    var outputDir: String?

    @Flag(help: "Sign again even if the run is already marked signed or failed.")
    var force = false

    @Option(
        name: .customLong("request-timeout"),
        help: "The longest one registry request may take, e.g. 30s (default: chains-in-swift.timeout.request, 60s).")
    var requestTimeout: String?

    @Option(
        name: .customLong("run-timeout"),
        help: "The time budget for signing and storing the run, e.g. 2m (default: chains-in-swift.timeout.run, 3m).")
    var runTimeout: String?

    @Option(
        name: .customLong("trusted-root"),
        help:
            "A sigstore trusted_root.json: keyless certificates must chain to one of its Fulcio CAs and carry an SCT of its CT logs; Rekor entries must verify with its log keys."
    )
    var trustedRoot: String?

    @Option(
        name: .customLong("signing-config"),
        help:
            "A sigstore signing config v0.2 (signing_config.json): Fulcio, Rekor and the RFC 3161 timestamp authority to use; a chains-config address that disagrees with it is an error. Wins over signers.x509.signing-config.file."
    )
    var signingConfig: String?

    @Option(
        name: .customLong("tuf-cache"),
        help: "Where TUF metadata is cached (default ~/.cache/chains/tuf/<mirror host>).")
    var tufCache: String?

    @Option(
        name: .customLong("bundle-out"),
        help: "Write a sigstore bundle (v0.3) per signed artifact as DIR/<short key>.sigstore.json.")
    var bundleOut: String?

    @Flag(name: .customLong("verbose"), help: "Log what the service does (requests, decisions) on stderr.")
    var verbose = false

    @OptionGroup var registry: RegistryOptions

    func setup() throws -> LocalSetup {
        var setup = LocalSetup(
            configFile: config.map { URL(fileURLWithPath: $0) },
            signingSecrets: signingSecrets.map { URL(fileURLWithPath: $0) },
            objectDirectories: objects.map { URL(fileURLWithPath: $0) }, dockerConfig: registry.dockerConfig,
            registries: try registry.settings(), requestTimeout: try durationFlag(requestTimeout, "request-timeout"),
            runTimeout: try durationFlag(runTimeout, "run-timeout"),
            trustedRoot: trustedRoot.map { URL(fileURLWithPath: $0) },
            bundleOut: bundleOut.map { URL(fileURLWithPath: $0) },
            tufCache: tufCache.map { URL(fileURLWithPath: $0) })
        setup.signingConfig = signingConfig.map { URL(fileURLWithPath: $0) }
        setup.spiffeTokenProvider = { (endpoint: String?, explicit: Bool) throws(IdentityTokenError) in
            try SPIFFETokenProvider(endpoint: endpoint, explicit: explicit)
        }
        return setup
    }

    var runs: [String] { [run] + moreRuns }

    func validate() throws {
        if output != nil && outputDir != nil { throw ValidationError("use --output or --output-dir, not both") }
        guard runs.count > 1 else { return }
        guard outputDir != nil else {
            throw ValidationError("several runs are written with --output-dir DIR (stdout and --output take one run)")
        }
        var seen: [String: String] = [:]
        for path in runs {
            let name = URL(fileURLWithPath: path).lastPathComponent
            if let other = seen[name] {
                throw ValidationError("\(other) and \(path) would both be written as \(name) in --output-dir")
            }
            seen[name] = path
        }
    }

    /// Where each signed run goes: `--output-dir DIR/<file name>`, `--output FILE`, or stdout (nil).
    func destination(_ path: String) -> String? {
        if let outputDir {
            return URL(fileURLWithPath: outputDir).appendingPathComponent(URL(fileURLWithPath: path).lastPathComponent)
                .path
        }
        return output
    }

    func run() async throws {
        let setup = try setup()
        var logger = Logger(label: "chains")
        logger.logLevel = verbose ? .debug : .warning
        if let outputDir {
            try? FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
        }
        let files = runs.map { (URL(fileURLWithPath: $0), destination($0)) }
        let force = self.force
        let results: [(SignReport, [String], String?)]
        let closing: [String]
        do {
            (results, closing) = try await withLocalSigning(setup, logger: logger) { front in
                var out: [(SignReport, [String], String?)] = []
                for (index, (file, destination)) in files.enumerated() {
                    let report = await front.sign(file: file, force: force)
                    out.append(
                        (
                            report, SignSummary.lines(report, front: front, output: destination, first: index == 0),
                            destination
                        ))
                }
                return (out, await SignSummary.closing(out.map(\.0), front: front))
            }
        } catch {
            for d in error.diagnostics { say(d.description) }
            for e in error.errors { say("error: \(e)") }
            throw ExitCode(2)
        }
        var writeFailed = false
        for (report, summary, destination) in results {
            if let document = report.document {
                if let destination {
                    do {
                        try Data(document.utf8).write(to: URL(fileURLWithPath: destination))
                    } catch {
                        say("error: cannot write \(destination): \(error.localizedDescription)")
                        writeFailed = true
                    }
                } else {
                    FileHandle.standardOutput.write(Data(document.utf8))
                }
            }
            for line in summary { say(line) }
        }
        for line in closing { say(line) }
        let codes = results.map(\.0.exitCode)
        let code: Int32 = codes.count == 1 ? codes[0] : (codes.allSatisfy { $0 == 0 } ? 0 : 1)
        if writeFailed { throw ExitCode(1) }
        if code != 0 { throw ExitCode(code) }
    }
}

/// The summary `chains sign` prints on stderr, rendered from the typed report.
enum SignSummary {
    static func lines(_ report: SignReport, front: LocalSigning, output: String?, first: Bool = true) -> [String] {
        var lines: [String] = []
        if let run = report.run {
            lines.append("found \(run) (uid \(report.uid.map { $0.isEmpty ? "<none>" : $0 } ?? "<none>"))")
        } else {
            lines.append("read \(report.file.path)")
        }
        if first { lines += front.diagnostics.map(\.description) }
        if first, let source = front.trustedRootSource { lines.append("trusted root: \(source)") }
        if first && front.config.file == nil {
            lines.append("config: embedded default (every artifact stored with \"tekton\": annotations in the output)")
        }
        if let error = report.error {
            return lines + ["error: \(error)"]
        }
        switch report.decision {
        case .skip(let reason):
            lines.append(skipped(reason, run: report.run ?? "the run"))
        case .sign(let reason, let children):
            if case .copiedAnnotations(let others) = reason {
                lines.append(
                    "note: its chains.tekton.dev annotations were copied from another run (uid \(others.joined(separator: ", "))); signing it as a new run"
                )
            }
            if !children.isEmpty { lines.append("found \(children.count) child TaskRun(s) by status.childReferences") }
        case nil:
            break
        }
        if let created = report.createdKey {
            lines.append("created a new ECDSA P-256 signing key: \(created.path) (public key: x509.pub beside it)")
        }
        if let outcome = report.outcome { lines += signed(outcome, output: output) }
        lines += report.bundles.map { "bundle: \($0.path)" }
        if let error = report.bundleError { lines.append("error: \(error)") }
        return lines
    }

    /// After several runs, or keyless: how many were signed, which failed, how many certificates it took.
    static func closing(_ reports: [SignReport], front: LocalSigning) async -> [String] {
        var lines: [String] = []
        if let keyless = front.keyless {
            let calls = await keyless.fulcioCalls
            lines += await keyless.warnings.map { "warning: \($0)" }
            if !keyless.checksTrustedRoot && calls > 0 {
                lines.append(
                    "note: the Fulcio certificate was checked for its key and chain links only; give --trusted-root FILE (or signers.x509.trusted-root.file) to require a trusted Fulcio CA"
                )
            }
            lines.append("keyless: \(calls) Fulcio certificate(s) for \(reports.count) run(s)")
        }
        if reports.count > 1 {
            let failed = reports.filter { $0.exitCode != 0 }.map { $0.run ?? $0.file.path }
            lines.append(
                "signed \(reports.count - failed.count) of \(reports.count) runs"
                    + (failed.isEmpty ? "" : "; not signed: \(failed.joined(separator: ", "))"))
        }
        return lines
    }

    static func skipped(_ reason: SkipReason, run: String) -> String {
        switch reason {
        case .notDone(let condition):
            return "error: \(run) is not finished (Succeeded condition: \(condition)); "
                + "Chains signs runs only when they are done. Nothing was signed or written."
        case .alreadyReconciled(let mark):
            return
                "\(run) is already marked chains.tekton.dev/signed=\(mark); nothing to do (use --force to sign it again)"
        case .childrenMissing(let names):
            return "error: \(run): child TaskRuns not found among --objects: \(names.joined(separator: ", ")). "
                + "Give the directory holding them with --objects DIR (Chains does not sign a PipelineRun whose children it cannot see)."
        case .childrenUnfinished(let names):
            return "error: child \(names.joined(separator: ", ")) is not finished; nothing was signed"
        case .childrenUnavailable(let why):
            return "error: \(run): its child TaskRuns cannot be read: \(why)"
        }
    }

    static func signed(_ outcome: RunOutcome, output: String?) -> [String] {
        var lines: [String] = []
        var keys: [String] = []
        for a in outcome.artifacts {
            let key = "key: \(a.keyAlgorithm) from \(a.signerOrigin), key id \(a.keyID)"
            if !keys.contains(key) { keys.append(key) }
        }
        lines += keys
        var notes: [String] = []
        for receipt in outcome.artifacts.flatMap(\.receipts) {
            for l in receipt.locations where receipt.backend != .tekton {
                lines.append("\(receipt.backend): \(l.target): \(l.detail) (\(l.credential))")
            }
            notes += receipt.diagnostics.map(\.description)
        }
        lines += Set(notes).sorted()
        for a in outcome.artifacts {
            lines.append(
                "signed \(a.artifactType) \(a.object) as \(a.format)"
                    + (a.storedIn.isEmpty
                        ? " (not stored)" : " → \(a.storedIn.map(\.rawValue).joined(separator: ", "))"))
            for subject in a.subjects { lines.append("  subject \(subject)") }
            if let first = a.transparency {
                for record in [first] + first.others {
                    lines.append(
                        "  logged: \(record.entry.annotationValue) (\(record.entry.kind), checked with \(record.keySource))"
                    )
                }
            }
        }
        if outcome.nothingEnabled {
            lines.append("nothing to sign: every artifact type is disabled in chains-config")
        }
        lines += outcome.diagnostics.map(\.description)
        lines += outcome.failures.map {
            "error: \($0)" + ($0.isRetryable ? " (retryable: the peer may recover; run chains sign again)" : "")
        }
        if outcome.succeeded {
            lines.append("marked chains.tekton.dev/signed=true; wrote \(output ?? "the run to stdout")")
        } else {
            let mark = outcome.annotations.mark.map { "\($0.key)=\($0.value)" }.sorted()
            lines.append("signing failed; recorded \(mark.joined(separator: ", ")) on the run")
        }
        return lines
    }
}

struct Provenance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the in-toto statement Chains would sign for a run, without signing it.")

    @Argument(help: "The run manifest.")
    var run: String

    @Option(
        help: "Payload format: in-toto, slsa/v1, slsa/v2alpha3, slsa/v2alpha4 (default: from --config, else in-toto).")
    var format: String?

    @Option(help: "The chains-config ConfigMap (builder.id, builddefinition.buildtype, deep inspection, formats).")
    var config: String?

    @Option(
        name: .customLong("objects"),
        help: "Directory of manifests holding a PipelineRun's child TaskRuns (repeatable).")
    var objects: [String] = []

    @Option(name: .customLong("child"), help: "A child TaskRun manifest, in order (repeatable; instead of --objects).")
    var children: [String] = []

    func run() async throws {
        do {
            let (statement, diagnostics) = try await LocalProvenance.statement(
                runFile: URL(fileURLWithPath: run), configFile: config.map { URL(fileURLWithPath: $0) },
                objectDirectories: objects.map { URL(fileURLWithPath: $0) },
                childFiles: children.map { URL(fileURLWithPath: $0) }, format: format)
            for d in diagnostics { say(d.description) }
            FileHandle.standardOutput.write(Data(statement.json.prettySerialized().utf8))
        } catch {
            say("error: \(error)")
            throw ExitCode(2)
        }
    }
}
