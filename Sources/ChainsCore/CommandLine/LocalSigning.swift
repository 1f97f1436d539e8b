import ChainsConfig
import CloudCredentials
import Foundation
import HTTPTransport
import KubeModels
import Logging
import OCIRegistry
import RegistryAuth
import Signing
import Sigstore

/// What happened to one run file, for the exit code and the summary.
public struct SignReport: Sendable {
    /// What became of the run: signed, failed, not finished, already signed, or the file was bad input.
    public enum Status: Sendable { case signed, failed, notDone, alreadySigned, badInput }
    /// The run file that was read.
    public var file: URL
    /// What became of it.
    public var status: Status
    /// `TaskRun ns/name` and its uid, once the file was read.
    public var run: String?
    /// The run's `metadata.uid`, once the file was read.
    public var uid: String?
    package var decision: SigningDecision?
    /// What signing did, artifact by artifact; nil when the run was not signed (not finished, already signed, bad input).
    public var outcome: RunOutcome?
    /// Why the file could not be used (bad input).
    public var error: ChainsError?
    /// The run with its annotations (YAML or JSON, as read), or nil when nothing is written.
    public var document: String?
    /// A key created on first use for this run.
    public var createdKey: URL?
    /// `--bundle-out`: the bundles written, or why they could not be.
    public var bundles: [URL] = []
    /// Why a bundle could not be written, when `--bundle-out` failed.
    public var bundleError: ChainsError?

    /// 0 done; 1 the work failed or the run is not finished; 2 bad input.
    public var exitCode: Int32 {
        switch status {
        case .signed, .alreadySigned: return 0
        case .failed, .notDone: return 1
        case .badInput: return 2
        }
    }
}

/// The `chains sign` front door: chains-config and `--objects` read from files, the signing service built once by
/// `SigningAssembly`, a run file in, the run with its annotations and a typed report out. `shutdown()` closes what
/// the assembly made; `withLocalSigning` does that on every path.
public final class LocalSigning: Sendable {
    package let assembly: SigningAssembly
    package let config: LoadedConfig
    package let objects: ObjectStore
    /// What setting up found worth saying: unknown config keys, ignored manifests, an unreadable docker config.
    public let diagnostics: [Diagnostic]
    let bundleFiles: BundleFiles?

    /// The signing service, built once; a program may call it directly for runs it already holds.
    package var service: SigningService { assembly.service }
    /// The keyless certificates, when `signers.x509.fulcio.enabled` (for the summary: token source, Fulcio calls).
    package var keyless: KeylessCertificates? { assembly.keyless }
    /// Where the trusted root came from (a file, TUF), for the summary; nil when there is none.
    package var trustedRootSource: String? { assembly.trustedRootSource }

    init(
        assembly: SigningAssembly, config: LoadedConfig, objects: ObjectStore, diagnostics: [Diagnostic],
        bundleOut: URL?
    ) {
        self.assembly = assembly
        self.config = config
        self.objects = objects
        self.diagnostics = diagnostics
        self.bundleFiles = bundleOut.map(BundleFiles.init(directory:))
    }

    /// Shuts the HTTP clients down; call once when done (`withLocalSigning` does).
    public func shutdown() async { await assembly.shutdown() }

    /// Reads chains-config and `--objects`, then builds the service with `SigningAssembly`.
    public static func start(_ setup: LocalSetup, logger: Logger) async throws(AssemblyError) -> LocalSigning {
        var diagnostics: [Diagnostic] = []
        let loaded: LoadedConfig
        let store: ObjectStore
        do throws(ChainsError) {
            loaded = try LoadedConfig.load(setup.configFile)
            diagnostics += loaded.diagnostics
            do throws(ManifestError) {
                store = try ObjectStore(directories: setup.objectDirectories)
            } catch {
                throw ChainsError(.badInput, error.description, file: error.source, underlying: error)
            }
        } catch {
            throw AssemblyError(errors: [error], diagnostics: diagnostics)
        }
        diagnostics += store.warnings.map { .warning($0) }
        do {
            let assembly = try await SigningAssembly.build(loaded.config, setup.assemblyEnvironment(store, logger))
            return LocalSigning(
                assembly: assembly, config: loaded, objects: store, diagnostics: diagnostics + assembly.diagnostics,
                bundleOut: setup.bundleOut)
        } catch {
            throw AssemblyError(errors: error.errors, diagnostics: diagnostics + error.diagnostics)
        }
    }

    /// Reads, decides, signs and writes back one run file. Bad input is a report, not a throw.
    public func sign(file: URL, force: Bool = false) async -> SignReport {
        var report = SignReport(file: file, status: .badInput)
        let runFile: RunFile
        do throws(ManifestError) {
            runFile = try RunFile.read(file)
        } catch {
            report.error = ChainsError(.badInput, error.description, file: error.source, underlying: error)
            return report
        }
        let meta = runFile.run.run
        report.run = meta.displayName
        report.uid = meta.uid
        let decision = await service.decide(runFile.run, force: force)
        report.decision = decision
        let children: [TaskRun]
        let reason: SignReason
        switch decision {
        case .skip(let skip):
            report.status = Self.status(for: skip)
            return report
        case .sign(let r, let found):
            (reason, children) = (r, found)
        }
        let created = await assembly.keys?.createdKey
        let outcome = await service.sign(runFile.run, children: children, reason: reason)
        if created == nil { report.createdKey = await assembly.keys?.createdKey }
        report.outcome = outcome
        // Written back also after a failure: the retry counter is recorded, as Chains records it.
        report.document = runFile.document(
            adding: outcome.annotations.all, removing: outcome.annotations.remove)
        report.status = outcome.succeeded ? .signed : .failed
        if let bundleFiles {
            do throws(ChainsError) {
                report.bundles = try bundleFiles.write(outcome)
            } catch {
                report.bundleError = error
                report.status = .failed
            }
        }
        return report
    }

    static func status(for skip: SkipReason) -> SignReport.Status {
        switch skip {
        case .notDone, .childrenUnfinished: return .notDone
        case .alreadyReconciled: return .alreadySigned
        case .childrenMissing, .childrenUnavailable: return .failed
        }
    }
}

/// Runs `body` with the `chains sign` front door and shuts its HTTP client down on every path.
public func withLocalSigning<T: Sendable>(
    _ setup: LocalSetup, logger: Logger, _ body: (LocalSigning) async -> T
) async throws(AssemblyError) -> T {
    let front = try await LocalSigning.start(setup, logger: logger)
    let value = await body(front)
    await front.shutdown()
    return value
}
