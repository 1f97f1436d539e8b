import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The Python SPIFFE Workload API agent (`Tests/Interop/spiffe_agent.py`, grpcio + py-spiffe's stubs) on a Unix
/// socket in a temporary directory, answering with the JWT-SVID in `token`.
public final class SPIFFEAgent: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public var socket: String { directory.file("agent.sock").path }
    let process: Process

    public init(token: String, deny: Bool = false) async throws {
        directory = try TemporaryDirectory()
        try directory.write("svid.jwt", token)
        process = Process()
        process.executableURL = URL(fileURLWithPath: try Python.executable())
        process.arguments =
            [
                PackagePaths.interop.appendingPathComponent("spiffe_agent.py").path, socket,
                directory.file("svid.jwt").path,
            ]
            + (deny ? ["--deny"] : [])
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = try FileHandle(forWritingTo: directory.write("agent.log", ""))
        try process.run()
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: socket) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        stop()
        throw MissingTool(description: "the SPIFFE agent did not start: \(log)")
    }

    /// What the agent logged: each call's audience and `workload.spiffe.io` header.
    public var log: String { (try? String(contentsOf: directory.file("agent.log"), encoding: .utf8)) ?? "" }

    public func setToken(_ token: String) throws { try directory.write("svid.jwt", token) }

    /// SIGKILL: the test process's blocked-signal mask is inherited, and Python (unlike Go) does not unblock
    /// SIGTERM, so `terminate()` would leave the agent running.
    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}
