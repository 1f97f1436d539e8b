import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Paths inside the package, found from this file's location so tests run from any working directory.
package enum PackagePaths {
    package static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    package static var examples: URL { root.appendingPathComponent("Examples") }
    package static var interop: URL { root.appendingPathComponent("Tests/Interop") }
    package static func example(_ name: String) -> URL { examples.appendingPathComponent(name) }
}

/// A directory removed when the value goes away.
package final class TemporaryDirectory: @unchecked Sendable {
    package let url: URL

    package init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("chains-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    package func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    @discardableResult
    package func write(_ name: String, _ text: String) throws -> URL {
        let f = file(name)
        try FileManager.default.createDirectory(at: f.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: f)
        return f
    }

    @discardableResult
    package func write(_ name: String, data: Data) throws -> URL {
        let f = file(name)
        try data.write(to: f)
        return f
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// The result of a child process.
package struct ProcessResult: Sendable {
    package var status: Int32
    package var stdout: String
    package var stderr: String
}

package struct MissingTool: Error, CustomStringConvertible {
    package var description: String
    package init(description: String) { self.description = description }
}

/// Runs a program to completion (stdin closed unless given). The wait happens on a Dispatch thread, not on one of
/// Swift concurrency's few cooperative threads: a child that calls back into a test server of this process (the
/// `chains` binary, sigstore-python against the simulators) must find a thread to answer it on.
package func runProcess(
    _ executable: String, _ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil
) async throws -> ProcessResult {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(
                with: Result {
                    try runProcessBlocking(executable, arguments, stdin: stdin, environment: environment)
                })
        }
    }
}

/// The same, blocking the calling thread: only for set-up tools that never call back into this process (openssl,
/// htpasswd), from synchronous initialisers.
package func runProcessBlocking(
    _ executable: String, _ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil
) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    // Read both pipes before waiting so a chatty child cannot block on a full pipe.
    let group = DispatchGroup()
    nonisolated(unsafe) var outData = Data()
    nonisolated(unsafe) var errData = Data()
    group.enter()
    DispatchQueue.global().async {
        outData = out.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    errData = err.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// The independent Python verifiers (securesystemslib, cryptography, PyNaCl) installed by `scripts/test.sh`.
package enum Python {
    package static func executable() throws -> String {
        let env = ProcessInfo.processInfo.environment["CHAINS_TEST_PYTHON"]
        let candidate = env ?? PackagePaths.root.appendingPathComponent(".venv-test/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw MissingTool(
                description:
                    "the Python verifiers are not installed (\(candidate)); run scripts/test.sh, which creates .venv-test"
            )
        }
        return candidate
    }

    /// Runs a command the venv installed (`sigstore`), beside its python.
    package static func tool(_ name: String, _ arguments: [String]) async throws -> ProcessResult {
        let path = URL(fileURLWithPath: try executable()).deletingLastPathComponent().appendingPathComponent(name).path
        return try await runProcess(path, arguments)
    }

    /// The AWS venv (moto, botocore): `CHAINS_TEST_AWS_PYTHON`, else `.venv-aws/bin/python`. Its own venv: moto
    /// and botocore pin python-dateutil below 3, the Kubernetes client above.
    package static func aws() throws -> String {
        let candidate =
            ProcessInfo.processInfo.environment["CHAINS_TEST_AWS_PYTHON"]
            ?? PackagePaths.root.appendingPathComponent(".venv-aws/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw MissingTool(
                description:
                    "moto and botocore are not installed (\(candidate)); run scripts/test.sh, which creates .venv-aws")
        }
        return candidate
    }

    /// Runs `Tests/Interop/<script>` with the AWS venv.
    package static func runAWS(
        _ script: String, _ arguments: [String], stdin: Data? = nil
    ) async throws -> ProcessResult {
        try await runProcess(
            try aws(), [PackagePaths.interop.appendingPathComponent(script).path] + arguments, stdin: stdin)
    }

    /// Runs the verifier venv's python with `arguments` (`-c CODE`).
    package static func runPython(_ arguments: [String]) async throws -> ProcessResult {
        try await runProcess(try executable(), arguments)
    }

    /// Runs `Tests/Interop/<script>` with the verifier venv.
    package static func run(_ script: String, _ arguments: [String], stdin: Data? = nil) async throws -> ProcessResult {
        try await runProcess(
            try executable(), [PackagePaths.interop.appendingPathComponent(script).path] + arguments, stdin: stdin)
    }
}

/// Opens a TCP connection to 127.0.0.1:`port`, sends `text`, and closes it at once — a client that comes and goes
/// while a server starts or stops. A blocking socket, on a Dispatch thread; a refused connection is not an error.
package func pokeTCP(port: Int, sending text: String) async {
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
        DispatchQueue.global().async {
            if let fd = connectLoopback(port: port) {
                _ = text.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                close(fd)
            }
            done.resume()
        }
    }
}

/// Every long-lived process a test starts (docker-registry, moto, the SPIFFE agent, controller replicas) is noted
/// here and killed when the test process exits, whatever path it leaves a test by: `defer { Task { await x.stop() } }`
/// starts a task the process may end before running, and a server's `deinit` never runs at exit. Each `stop()`
/// still ends its process first; this catches the rest.
package enum ChildProcesses {
    static let running = Mutex<Set<pid_t>>([])
    static let killedAtExit: Void = {
        atexit { ChildProcesses.killAll() }
    }()

    /// Starts `process` and notes it.
    package static func run(_ process: Process) throws {
        _ = killedAtExit
        try process.run()
        let pid = process.processIdentifier
        running.withLock { _ = $0.insert(pid) }
    }

    /// `process` ended (its `stop()` waited for it).
    package static func ended(_ process: Process) {
        let pid = process.processIdentifier
        running.withLock { _ = $0.remove(pid) }
    }

    /// Only a process that is still our child: a pid whose process ended by itself may have been given to another.
    static func killAll() {
        let me = getpid()
        for pid in running.withLock({ $0 }) {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == me { kill(pid, SIGKILL) }
        }
    }
}
