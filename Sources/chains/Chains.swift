import ArgumentParser
import ChainsCore
import Foundation
import Logging
import OCI
import OCIRegistry
import Signing
import Sigstore

@main
struct Chains: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chains",
        abstract: "Sign Tekton runs and their images: SLSA provenance and cosign-compatible signatures.",
        discussion: "Keys, annotations and chains-config are Tekton Chains' own; see docs/ for the details.",
        subcommands: [
            Sign.self, Verify.self, VerifyAttestation.self, Auth.self, Provenance.self, ConfigCommand.self, Keys.self,
            VerifyBlob.self, VerifyRun.self, TrustedRootCommand.self, ControllerCommand.self, SignBundle.self,
            VerifyBundle.self,
        ])

    /// As ArgumentParser's, but bad usage exits with 2 (the project's convention) instead of 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if !message.isEmpty {
                if code == .success {
                    print(message)
                } else {
                    say(message)
                }
            }
            Foundation.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }
}

/// Writes to stderr (summaries, warnings, errors); stdout carries only the output document.
func say(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with chains-config.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a chains-config ConfigMap and print the effective configuration, defaults included.")

        @Argument(help: "The chains-config ConfigMap manifest, or a flat key: value file.")
        var file: String

        @Option(
            name: .customLong("signing-config"),
            help: "A sigstore signing config v0.2 to check with it (default: signers.x509.signing-config.file).")
        var signingConfig: String?

        func run() async throws {
            let loaded: LoadedConfig
            do {
                loaded = try LoadedConfig.load(URL(fileURLWithPath: file))
            } catch {
                say("error: \(error)")
                throw ExitCode(2)
            }
            let width = loaded.config.effective.map(\.key.count).max() ?? 0
            for entry in loaded.config.effective {
                let pad = String(repeating: " ", count: width - entry.key.count)
                print(
                    "\(entry.key)\(pad)  \(entry.value.isEmpty ? "\"\"" : entry.value)\(entry.isDefault ? "  (default)" : "")"
                )
            }
            for d in loaded.diagnostics { say(d.description) }
            // The services a signing config chooses now, with what it left out and why.
            do throws(ChainsError) {
                let notes = try await SigningAssembly.describeSigningConfig(
                    flag: signingConfig.map { URL(fileURLWithPath: $0) }, config: loaded.config,
                    logger: Logger(label: "chains", factory: { _ in SwiftLogNoOpLogHandler() }))
                for note in notes { say(note.description) }
            } catch {
                say("error: \(error)")
                throw ExitCode(2)
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
            let directory = dir.map { URL(fileURLWithPath: $0) } ?? LocalSetup.defaultSigningSecrets()
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

/// Options every registry-facing command shares.
struct RegistryOptions: ParsableArguments {
    @Option(
        name: .customLong("docker-config"),
        help: "Directory holding a docker config.json with push credentials (default: $DOCKER_CONFIG, then ~/.docker).")
    var dockerConfig: String?

    @Option(
        name: .customLong("registry-ca"), help: "HOST=FILE: trust the CA bundle FILE for registry HOST (repeatable).")
    var registryCA: [String] = []

    @Option(
        name: .customLong("insecure-registry"),
        help: "HOST: skip TLS verification for this registry and allow plain HTTP (repeatable; opt-in per registry).")
    var insecureRegistry: [String] = []

    @Option(
        name: .customLong("allowed-registries"),
        help:
            "HOST[:PORT],…: push only to these registries (*. wildcards as in docker config keys; default: any but link-local and metadata addresses)."
    )
    var allowedRegistries: String?

    @Option(
        name: .customLong("resolve"),
        help:
            "HOST:PORT=ADDRESS: connect to ADDRESS for registry HOST:PORT, TLS still verified as HOST (repeatable; as curl's --resolve)."
    )
    var resolve: [String] = []

    func settings() throws -> RegistrySettings {
        var cas: [String: String] = [:]
        for entry in registryCA {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--registry-ca takes HOST=FILE, got \"\(entry)\"")
            }
            guard FileManager.default.isReadableFile(atPath: parts[1]) else {
                throw ValidationError("--registry-ca \(parts[0]): cannot read \(parts[1])")
            }
            cas[parts[0]] = parts[1]
        }
        return RegistrySettings(
            caBundles: cas, insecure: Set(insecureRegistry),
            destinations: RegistryDestinations(allowed: RegistryDestinations.patterns(allowedRegistries)),
            resolve: try pins(resolve))
    }
}

func parseImage(_ text: String) throws -> ImageReference {
    do {
        return try ImageReference(parsing: text)
    } catch {
        say("error: \(error)")
        throw ExitCode(2)
    }
}

/// What `verify` and `verify-attestation` share: the image, the key, where attachments are, registry access.
struct VerifyOptions: ParsableArguments {
    @Argument(help: "The image (repo@sha256:… or repo:tag).")
    var image: String

    @OptionGroup var signer: SignerOptions

    @Option(
        name: .customLong("repository"),
        help: "Where signatures/attestations were stored (storage.oci.repository), if not beside the image.")
    var repository: String?

    @OptionGroup var registry: RegistryOptions

    /// Runs `checks`, prints what was checked on stderr and the verified payloads on stdout; exit 1 when nothing
    /// valid is found.
    func run(
        noun: String,
        _ checks:
            @Sendable (AttachmentVerifier, ImageReference, ImageReference?) async throws -> [AttachmentVerifier.Report]
    ) async throws {
        let ref = try parseImage(image)
        let authority: AttachmentVerifier.Authority
        let by: String
        do {
            (authority, by) = try signer.authority()
        } catch let error as ValidationError {
            throw error
        } catch {
            say("error: \(error)")
            throw ExitCode(2)
        }
        let target = try repository.map { try ImageReference(parsingRepository: $0) }
        let reports: [AttachmentVerifier.Report]
        do {
            // The keychain `sign` composes, without a run: the docker config and its helpers, the cloud keychains
            // (an ECR, GCR or ACR image is read with the workload identity it was pushed with), anonymous.
            reports = try await LocalRegistryAccess.withVerifier(
                try registry.settings(), dockerConfig: registry.dockerConfig, image: target ?? ref,
                authority: authority,
                thresholds: signer.thresholds, logRoot: try signer.logRoot()
            ) { verifier, notes in
                for n in notes { say(n.description) }
                return try await checks(verifier, ref, target)
            }
        } catch let error as ValidationError {
            throw error
        } catch {
            say("error: \(error)")
            throw ExitCode(1)
        }
        for report in reports
        where !report.checks.isEmpty || report.location.hasSuffix(".sig") || report.location.hasSuffix(".att") {
            say("checked \(report.checks.count) \(noun)(s) in \(report.location) with \(by)")
            for c in report.checks { say("  \(c.valid ? "✓" : "✗") \(c.layer.prefix(19))…: \(c.detail)") }
        }
        let valid = reports.flatMap(\.valid)
        guard !valid.isEmpty else {
            say("error: no valid \(noun) for \(reports.first?.image.description ?? image)")
            throw ExitCode(1)
        }
        for c in valid { print(String(decoding: c.payload, as: UTF8.self)) }
    }
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Check an image's signatures (cosign sha256-<hex>.sig, or sigstore bundle referrers) with a public key.")

    @OptionGroup var options: VerifyOptions

    func run() async throws {
        try await options.run(noun: "signature") { verifier, ref, target in
            let tagged = try await verifier.verifySignatures(ref, repository: target)
            let bundles = try await verifier.verifyBundles(
                tagged.image, predicateType: SigstoreBundleReferrer.cosignSignPredicate)
            return [tagged, bundles]
        }
    }
}

struct VerifyAttestation: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-attestation",
        abstract:
            "Check an image's attestations (sha256-<hex>.att, or sigstore bundle referrers); print the verified statements."
    )

    @OptionGroup var options: VerifyOptions

    @Option(help: "Predicate type: slsaprovenance (v0.2), slsaprovenance1 (v1.0), or a URI. Default: any.")
    var type: String?

    func run() async throws {
        let predicate = type.map(AttachmentVerifier.predicateType(forType:))
        try await options.run(noun: "attestation") { verifier, ref, target in
            let tagged = try await verifier.verifyAttestations(ref, predicateType: predicate, repository: target)
            var bundles = try await verifier.verifyBundles(tagged.image, predicateType: predicate)
            // Without a type, cosign's image-signature statements are signatures, not attestations.
            bundles.checks.removeAll { check in
                String(decoding: check.payload, as: UTF8.self).contains(SigstoreBundleReferrer.cosignSignPredicate)
            }
            return [tagged, bundles]
        }
    }
}

struct Auth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Registry credentials.", subcommands: [Explain.self])

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "List every credential that matches an image, in the order pushes try them, with where each came from.")

        @Argument(help: "The image or repository.")
        var image: String

        @Option(help: "The run whose ServiceAccount, pod template and namespace decide the credentials.")
        var run: String?

        @Option(
            name: .customLong("objects"),
            help: "Directory of Secrets and ServiceAccounts standing in for the cluster (repeatable).")
        var objects: [String] = []

        @Flag(
            name: .customLong("check-push"),
            help: "Ask the registry whether each credential may push (opens and cancels an upload).")
        var checkPush = false

        @OptionGroup var registry: RegistryOptions

        func run() async throws {
            let ref = try parseImage(image)
            let result: (context: RunContext, explanation: AuthExplainer.Explanation, [Diagnostic])
            do {
                result = try await LocalRegistryAccess.explain(
                    image: ref, runFile: run.map { URL(fileURLWithPath: $0) },
                    objectDirectories: objects.map { URL(fileURLWithPath: $0) }, dockerConfig: registry.dockerConfig,
                    settings: try registry.settings(), checkPush: checkPush)
            } catch let error as ChainsError {
                say("error: \(error)")
                throw ExitCode(error.code == .badInput ? 2 : 1)
            }
            for d in result.2 { say(d.description) }
            let context = result.context
            let explanation = result.explanation
            say(
                "run: \(context.displayName) — namespace \(context.namespace.isEmpty ? "default" : context.namespace), "
                    + "ServiceAccount \(context.serviceAccount.isEmpty ? "default" : context.serviceAccount)")
            print(explanation.text, terminator: "")
            if checkPush && explanation.firstGranted == nil {
                say("error: no credential found for \(ref.name) is granted push")
                throw ExitCode(1)
            }
        }
    }
}

/// A duration flag (`90s`, `3m`, `1m30s`, `500ms`): nil when not given; a usage error naming the flag when not one.
func durationFlag(_ text: String?, _ flag: String) throws -> Duration? {
    guard let text else { return nil }
    guard let value = LocalSetup.duration(text) else {
        throw ValidationError("--\(flag) takes a positive duration such as 90s, 3m or 1m30s, got \"\(text)\"")
    }
    return value
}

/// `--resolve` values, or a ValidationError naming the one that is not HOST:PORT=ADDRESS.
func pins(_ values: [String]) throws -> [String: String] {
    do {
        return try RegistrySettings.pins(values)
    } catch {
        throw ValidationError(error.message)
    }
}
