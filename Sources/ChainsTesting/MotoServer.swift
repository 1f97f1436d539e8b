import Foundation
import HTTPTransport

#if canImport(Glibc)
    import Glibc
#endif

/// moto's server (PyPI `moto`, through `Tests/Interop/moto_server.py`): STS, IAM, ECR and KMS on loopback, from the AWS venv
/// (`.venv-aws`, made by scripts/test.sh). With `INITIAL_NO_AUTH_ACTION_COUNT` = n it answers the first n actions
/// unauthenticated (set-up, and STS's unsigned AssumeRoleWithWebIdentity), then checks every SigV4 signature and
/// IAM policy.
package final class MotoServer: @unchecked Sendable {
    package let port: Int
    let process: Process
    let directory: TemporaryDirectory
    package var endpoint: String { "http://127.0.0.1:\(port)" }

    package init(unauthenticatedActions: Int) async throws {
        directory = try TemporaryDirectory()
        port = try freePort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: try Python.aws())
        // moto's server with KMS Sign's DIGEST as AWS documents it (Tests/Interop/moto_server.py says why).
        process.arguments = [
            PackagePaths.interop.appendingPathComponent("moto_server.py").path, "-H", "127.0.0.1", "-p", "\(port)",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["INITIAL_NO_AUTH_ACTION_COUNT"] = "\(unauthenticatedActions)"
        for key in environment.keys where key.hasPrefix("AWS_") { environment[key] = nil }
        process.environment = environment
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = try FileHandle(forWritingTo: directory.write("moto.log", ""))
        try ChildProcesses.run(process)
        if try await waitUntilListening(port: port, poll: .milliseconds(50)) { return }
        stop()
        throw MissingTool(description: "moto did not start on port \(port): \(log)")
    }

    /// What moto logged: one line per request with its status.
    package var log: String { (try? String(contentsOf: directory.file("moto.log"), encoding: .utf8)) ?? "" }

    /// Runs `Tests/Interop/moto_setup.py` against this server: an IAM role (and, asked for, a user with an access
    /// key) allowed `ecr:GetAuthorizationToken` and the KMS calls. Its JSON answer.
    package func setUp(_ arguments: [String] = []) async throws -> [String: String] {
        let result = try await Python.runAWS("moto_setup.py", [endpoint] + arguments)
        guard result.status == 0,
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: String]
        else {
            throw MissingTool(description: "moto set-up failed: \(result.stderr)")
        }
        return object
    }

    /// Answers the next `count` actions unauthenticated again (moto's `/moto-api/reset-auth`): a second client's
    /// unsigned AssumeRoleWithWebIdentity; every action after them is checked as before.
    package func allowUnauthenticated(_ count: Int) async throws {
        let transport = try AsyncHTTPClientTransport()
        defer { Task { try? await transport.shutdown() } }
        let response = try await transport.send(
            HTTPRequest(
                method: "POST", url: URL(string: "\(endpoint)/moto-api/reset-auth")!, body: Data("\(count)".utf8)))
        guard response.status == 200 else {
            throw MissingTool(description: "moto reset-auth answered \(response.status)")
        }
    }

    package func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        ChildProcesses.ended(process)
    }

    deinit { stop() }
}
