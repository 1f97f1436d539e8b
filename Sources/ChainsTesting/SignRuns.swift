import ChainsCore
import Foundation
import Logging

/// `chains sign` on one run file through the library front door, as the tests drive it.
package struct SignedRun: Sendable {
    package var report: SignReport?
    package var setupError: AssemblyError?
    package var setupDiagnostics: [Diagnostic] = []

    package var exitCode: Int32 { setupError != nil ? 2 : (report?.exitCode ?? 2) }
    package var document: String? { report?.document }
    package var outcome: RunOutcome? { report?.outcome }

    /// What the typed report holds, one fact per line — errors, diagnostics, where each artifact went and with
    /// which credential — for assertions on content (the summary's wording is the executable's; CLI tests check it).
    package var facts: [String] {
        var out = setupError?.errors.map { "error: \($0)" } ?? []
        out += setupDiagnostics.map(\.description)
        guard let report else { return out }
        if let error = report.error { out.append("error: \(error)") }
        if let skip = report.decision?.skipReason { out.append("skipped: \(skip)") }
        if let key = report.createdKey { out.append("created key \(key.path)") }
        guard let outcome = report.outcome else { return out }
        for a in outcome.artifacts {
            out.append(
                "signed \(a.artifactType) \(a.object) as \(a.format) → \(a.storedIn.map(\.rawValue).joined(separator: ", "))"
            )
            out.append("key \(a.keyAlgorithm) \(a.signerOrigin) \(a.keyID)")
            for r in a.receipts {
                out += r.locations.map { "\(r.backend): \($0.target): \($0.detail) (\($0.credential))" }
                out += r.diagnostics.map(\.description)
            }
        }
        out += outcome.diagnostics.map(\.description)
        out += outcome.failures.map { "error: \($0)" }
        out += outcome.annotations.mark.map { "mark \($0.key)=\($0.value)" }
        return out
    }

    package var text: String { facts.joined(separator: "\n") }
}

/// Builds the front door from `setup`, signs `file`, shuts it down.
package func signRunFile(
    _ file: URL, setup: LocalSetup, force: Bool = false, log: CapturedLog? = nil
) async -> SignedRun {
    let logger = log?.logger() ?? Logger(label: "chains.test", factory: { _ in SwiftLogNoOpLogHandler() })
    do {
        return try await withLocalSigning(setup, logger: logger) { front in
            SignedRun(report: await front.sign(file: file, force: force), setupDiagnostics: front.diagnostics)
        }
    } catch {
        return SignedRun(report: nil, setupError: error, setupDiagnostics: error.diagnostics)
    }
}
