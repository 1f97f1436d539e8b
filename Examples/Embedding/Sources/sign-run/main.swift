import ChainsConfig
import ChainsCore
import Foundation
import Logging

// Signs one run file as `chains sign` does, with only the ChainsCore product's public API, and prints what the
// report says: the status, each artifact signed (type, format, key id, where it went), each failure, and the
// annotations to write on the run.
let arguments = CommandLine.arguments
guard arguments.count > 1 else {
    print("usage: sign-run RUN.yaml [CHAINS_CONFIG] (signing secrets: $CHAINS_SIGNING_SECRETS or the per-user default)")
    exit(2)
}
let setup = LocalSetup(configFile: arguments.count > 2 ? URL(fileURLWithPath: arguments[2]) : nil)
do {
    let report = try await withLocalSigning(setup, logger: Logger(label: "sign-run")) { front in
        await front.sign(file: URL(fileURLWithPath: arguments[1]))
    }
    print("\(report.run ?? report.file.path): \(report.status), exit code \(report.exitCode)")
    if let error = report.error { print("error: \(error.code): \(error)") }
    for artifact in report.outcome?.artifacts ?? [] {
        let stored = artifact.storedIn.map(\.description).joined(separator: ", ")
        print(
            "signed \(artifact.artifactType) \(artifact.object) as \(artifact.format) by \(artifact.keyID) → \(stored)")
    }
    for failure in report.outcome?.failures ?? [] {
        print("failed: \(failure) (retryable: \(failure.isRetryable))")
    }
    for key in (report.outcome?.annotations.all.keys).map({ $0.sorted() }) ?? [] { print("annotation \(key)") }
    exit(report.exitCode)
} catch {
    for problem in error.errors { print("error: \(problem.code): \(problem)") }
    exit(2)
}
