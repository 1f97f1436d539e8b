import ArgumentParser
import ChainsConfig
import ChainsCore
import Foundation
import KubeModels
import Provenance
import Signing

@main
struct Chains: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chains",
        abstract: "Sign Tekton runs and their images: SLSA provenance and cosign-compatible signatures.",
        discussion: "Keys, annotations and chains-config are Tekton Chains' own; see docs/ for the details.",
        subcommands: [Sign.self, Provenance.self, ConfigCommand.self, Keys.self])
}

/// Writes to stderr (summaries, warnings, errors); stdout carries only the output document.
func say(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

struct Sign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sign a finished TaskRun or PipelineRun and write it back with its chains.tekton.dev/* annotations.")

    @Argument(help: "The run manifest (YAML or JSON, as `kubectl get -o yaml` prints it).")
    var run: String

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

    @Flag(help: "Sign again even if the run is already marked signed or failed.")
    var force = false

    func run() async throws {
        let job = SignJob(
            runFile: URL(fileURLWithPath: run), configFile: config.map { URL(fileURLWithPath: $0) },
            signingSecrets: signingSecrets.map { URL(fileURLWithPath: $0) },
            objectDirectories: objects.map { URL(fileURLWithPath: $0) },
            output: output.map { URL(fileURLWithPath: $0) },
            force: force)
        let report = await job.run()
        if let document = report.document {
            if let output {
                do {
                    try Data(document.utf8).write(to: URL(fileURLWithPath: output))
                } catch {
                    say("error: cannot write \(output): \(error.localizedDescription)")
                    throw ExitCode(1)
                }
            } else {
                FileHandle.standardOutput.write(Data(document.utf8))
            }
        }
        for line in report.lines { say(line) }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
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
            var data: [String: String] = [:]
            if let config { data = try ChainsConfig.loadData(from: URL(fileURLWithPath: config)) }
            let cfg: ChainsConfig
            switch ChainsConfig.parse(data) {
            case .success(let parsed): cfg = parsed.config
            case .failure(let errors):
                say("error: \(errors)")
                throw ExitCode(2)
            }
            let (docs, _) = try ManifestReader.read(file: URL(fileURLWithPath: run))
            guard let doc = docs.first else {
                say("error: \(run): no document")
                throw ExitCode(2)
            }
            let anyRun = try AnyRun(json: doc, source: run)
            let options = FormatOptions(
                builderID: cfg.builderID, buildType: cfg.buildType, deepInspection: cfg.deepInspection)
            var diagnostics = Diagnostics()
            let statement: Statement
            switch anyRun {
            case .taskRun(let tr):
                guard let f = PayloadFormat(rawValue: format ?? cfg.taskRun.format), f.isInToto else {
                    say("error: --format must be one of in-toto, slsa/v1, slsa/v2alpha3, slsa/v2alpha4")
                    throw ExitCode(2)
                }
                statement = try Formats.statement(taskRun: tr, format: f, options: options, diagnostics: &diagnostics)
            case .pipelineRun(let pr):
                guard let f = PayloadFormat(rawValue: format ?? cfg.pipelineRun.format), f.isInToto else {
                    say("error: --format must be one of in-toto, slsa/v1, slsa/v2alpha3, slsa/v2alpha4")
                    throw ExitCode(2)
                }
                var kids: [TaskRun] = []
                for path in children {
                    for d in try ManifestReader.read(file: URL(fileURLWithPath: path)).documents {
                        kids.append(try TaskRun(json: d, source: path))
                    }
                }
                if !objects.isEmpty {
                    let store = try ObjectStore(directories: objects.map { URL(fileURLWithPath: $0) })
                    let (found, missing) = try store.children(of: pr)
                    for m in missing { say("warning: child TaskRun \(m) not found") }
                    kids += found
                }
                statement = try Formats.statement(
                    pipelineRun: PipelineRunWithChildren(pr, children: kids), format: f, options: options,
                    diagnostics: &diagnostics)
            }
            for w in diagnostics.warnings { say("warning: \(w)") }
            FileHandle.standardOutput.write(Data(statement.json.prettySerialized().utf8))
        } catch let error as ExitCode {
            throw error
        } catch {
            say("error: \(error)")
            throw ExitCode(2)
        }
    }
}

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with chains-config.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a chains-config ConfigMap and print the effective configuration, defaults included.")

        @Argument(help: "The chains-config ConfigMap manifest, or a flat key: value file.")
        var file: String

        func run() async throws {
            let data: [String: String]
            do {
                data = try ChainsConfig.loadData(from: URL(fileURLWithPath: file))
            } catch {
                say("error: \(error)")
                throw ExitCode(2)
            }
            switch ChainsConfig.parse(data) {
            case .failure(var errors):
                errors.source = file
                say("error: \(errors)")
                throw ExitCode(2)
            case .success(let parsed):
                let width = parsed.config.effective.map(\.key.count).max() ?? 0
                for entry in parsed.config.effective {
                    let pad = String(repeating: " ", count: width - entry.key.count)
                    print(
                        "\(entry.key)\(pad)  \(entry.value.isEmpty ? "\"\"" : entry.value)\(entry.isDefault ? "  (default)" : "")"
                    )
                }
                for key in parsed.unknownKeys { say("warning: \(key) is not a Chains key; ignored") }
            }
        }
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage signing keys.", subcommands: [Generate.self])

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write x509.pem, or a cosign-compatible cosign.key / cosign.pub / cosign.password set.")

        @Option(help: "Directory to write into (default: the per-user signing-secrets directory).")
        var dir: String?

        @Option(help: "Key type: \(KeyAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")).")
        var type: String = "ecdsa-p256"

        @Flag(help: "Write a cosign key set (encrypted with the password from --password-file) instead of x509.pem.")
        var cosign = false

        @Option(name: .customLong("password-file"), help: "File holding the cosign key password (with --cosign).")
        var passwordFile: String?

        @Flag(help: "Overwrite existing key files.")
        var force = false

        func run() async throws {
            guard let algorithm = KeyAlgorithm(rawValue: type) else {
                say("error: --type must be one of \(KeyAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))")
                throw ExitCode(2)
            }
            let directory = dir.map { URL(fileURLWithPath: $0) } ?? SignJob.defaultSigningSecrets()
            let names =
                cosign
                ? [SigningSecrets.cosignKeyFile, SigningSecrets.cosignPublicFile, SigningSecrets.cosignPasswordFile]
                : [SigningSecrets.x509File]
            let existing = names.filter {
                FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path)
            }
            if !existing.isEmpty && !force {
                say("error: \(directory.path) already has \(existing.joined(separator: ", ")); use --force to replace")
                throw ExitCode(1)
            }
            do {
                let key = try PrivateKey.generate(algorithm)
                if cosign {
                    guard let passwordFile else {
                        say("error: --cosign needs --password-file FILE (the password that encrypts cosign.key)")
                        throw ExitCode(2)
                    }
                    let password = try Data(contentsOf: URL(fileURLWithPath: passwordFile))
                    for url in try SigningSecrets.writeCosign(key, password: password, to: directory) {
                        say("wrote \(url.path)")
                    }
                } else {
                    say("wrote \(try SigningSecrets.writeX509(key, to: directory).path)")
                }
                say("key id \(key.publicKey.keyID) (\(key.algorithmName))")
                print(key.publicKey.pem, terminator: "")
            } catch let error as ExitCode {
                throw error
            } catch {
                say("error: \(error)")
                throw ExitCode(1)
            }
        }
    }
}
