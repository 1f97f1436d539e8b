import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The Python SPIFFE Workload API agent (`Tests/Interop/spiffe_agent.py`, grpcio + py-spiffe's stubs) on a Unix
/// socket in a temporary directory, answering with the JWT-SVID in `token`.
package final class SPIFFEAgent: @unchecked Sendable {
    package let directory: TemporaryDirectory
    package var socket: String { directory.file("agent.sock").path }
    let process: Process

    package init(token: String, deny: Bool = false) async throws {
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
        try ChildProcesses.run(process)
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            // The socket file appears when it is bound, a moment before the agent listens: wait for a connect.
            if FileManager.default.fileExists(atPath: socket), Self.accepts(socket) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        stop()
        throw MissingTool(description: "the SPIFFE agent did not start: \(log)")
    }

    /// Whether a Unix-socket connect to `path` succeeds (the agent is listening).
    static func accepts(_ path: String) -> Bool {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }

    /// What the agent logged: each call's audience and `workload.spiffe.io` header.
    package var log: String { (try? String(contentsOf: directory.file("agent.log"), encoding: .utf8)) ?? "" }

    package func setToken(_ token: String) throws { try directory.write("svid.jwt", token) }

    /// SIGKILL: the test process's blocked-signal mask is inherited, and Python (unlike Go) does not unblock
    /// SIGTERM, so `terminate()` would leave the agent running.
    package func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        ChildProcesses.ended(process)
    }

    deinit { stop() }
}
