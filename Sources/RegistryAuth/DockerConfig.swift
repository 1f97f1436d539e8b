import Foundation
import KubeModels
import Synchronization

/// A docker `config.json` (`{"auths": …, "credHelpers": …, "credsStore": …}`) or a legacy `.dockercfg`
/// (the bare map of entries).
package struct DockerConfig: Sendable, Hashable {
    package var auths: [String: Credential]
    package var credHelpers: [String: String]
    package var credsStore: String?

    package init(auths: [String: Credential] = [:], credHelpers: [String: String] = [:], credsStore: String? = nil) {
        self.auths = auths
        self.credHelpers = credHelpers
        self.credsStore = credsStore
    }

    package struct FormatError: Error, Sendable, CustomStringConvertible {
        package var description: String
    }

    /// Parses either format. An entry that cannot be decoded is reported, the others are kept.
    package static func parse(_ data: Data) throws(FormatError) -> (config: DockerConfig, problems: [String]) {
        guard let root = try? JSONValue(parsing: data), case .object(let object) = root else {
            throw FormatError(description: "not a JSON object (expected {\"auths\": {…}})")
        }
        var config = DockerConfig()
        var problems: [String] = []
        let entries: [String: JSONValue]
        if object["auths"] != nil || object["credHelpers"] != nil || object["credsStore"] != nil {
            entries = object["auths"]?.objectValue ?? [:]
            for (host, helper) in object["credHelpers"]?.objectValue ?? [:] {
                if let name = helper.stringValue { config.credHelpers[host] = name }
            }
            config.credsStore = object["credsStore"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        } else {
            entries = object  // legacy .dockercfg
        }
        for (key, value) in entries {
            switch decodeEntry(value) {
            case .success(let c): config.auths[key] = c
            case .failure(let reason): problems.append("entry \"\(key)\": \(reason)")
            }
        }
        return (config, problems)
    }

    static func decodeEntry(_ value: JSONValue) -> Result<Credential, FormatError> {
        guard case .object(let o) = value else { return .failure(FormatError(description: "not an object")) }
        var c = Credential(
            username: o["username"]?.stringValue ?? "", password: o["password"]?.stringValue ?? "",
            identityToken: o["identitytoken"]?.stringValue ?? "", registryToken: o["registrytoken"]?.stringValue ?? "")
        if let auth = o["auth"]?.stringValue, !auth.isEmpty {
            guard let decoded = decodeBase64(auth), let text = String(data: decoded, encoding: .utf8) else {
                return .failure(FormatError(description: "\"auth\" is not base64 of user:password"))
            }
            guard let colon = text.firstIndex(of: ":") else {
                return .failure(FormatError(description: "\"auth\" does not decode to user:password"))
            }
            c.username = String(text[..<colon])
            var password = String(text[text.index(after: colon)...])
            while password.hasSuffix("\0") { password.removeLast() }
            c.password = password
        }
        return .success(c)
    }

    /// Padded or unpadded standard base64, as Kubernetes and go-containerregistry accept it.
    static func decodeBase64(_ s: String) -> Data? {
        var t = s.trimmingCharacters(in: .whitespacesAndNewlines)
        while t.count % 4 != 0 { t += "=" }
        return Data(base64Encoded: t)
    }

    /// `https://host:port/path` → `host:port` (docker's `ConvertToHostname`).
    static func hostname(_ key: String) -> String {
        var k = Substring(key)
        if let range = k.range(of: "://") { k = k[range.upperBound...] }
        return String(k.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }
}

/// Runs `docker-credential-<helper> get` (the docker credential helper protocol).
package struct CredentialHelper: Sendable {
    package var name: String
    /// Directories to look for the program in (default: `$PATH`).
    package var searchPath: [String]
    /// How long the helper may take before it is stopped. docker sets no limit; a helper that asks a cloud
    /// that does not answer, or shows a keychain prompt nobody sees, must not hang a run.
    package var timeout: Duration

    package static let defaultTimeout: Duration = .seconds(20)

    package init(name: String, searchPath: [String]? = nil, timeout: Duration = CredentialHelper.defaultTimeout) {
        self.name = name
        self.searchPath =
            searchPath
            ?? (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
            .map(String.init)
        self.timeout = timeout
    }

    package var program: String { "docker-credential-\(name)" }

    /// SIGPIPE ignored, once, process-wide (as Go's runtime does for every descriptor but stdout): writing to a
    /// helper that has already exited must be an error to handle, not the end of `chains` or the controller — it
    /// was, found by a test with a helper that exits at once. Sockets are unaffected (NIO sends with MSG_NOSIGNAL).
    static let brokenPipesAreErrors: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// The credential for `serverURL`; nil when the helper has none ("credentials not found").
    package func get(_ serverURL: String) async throws(CredentialWarning) -> Credential? {
        guard
            let executable = searchPath.map({ "\($0)/\(program)" }).first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else {
            throw CredentialWarning(
                source: program, message: "not found on PATH; install it or remove it from the docker config")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["get"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        _ = Self.brokenPipesAreErrors
        do {
            try process.run()
        } catch {
            throw CredentialWarning(source: program, message: "could not be run: \(error.localizedDescription)")
        }
        // A helper may exit without reading its input (a broken one, one that fails at once): the write then fails
        // with EPIPE, and what it printed and its exit status still say why.
        try? input.fileHandleForWriting.write(contentsOf: Data(serverURL.utf8))
        try? input.fileHandleForWriting.close()
        guard let data = await HelperRun(process).output(output.fileHandleForReading, within: timeout) else {
            throw CredentialWarning(
                source: program,
                message:
                    "get \(serverURL) did not answer within \(timeout) and was stopped; check that it can reach what "
                    + "it asks (a cloud, a keychain that may be prompting) or remove it from the docker config")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0 else {
            if text.contains("credentials not found") { return nil }
            // Helpers print their error on stdout; it names no secret.
            throw CredentialWarning(source: program, message: "get \(serverURL) failed: \(text.prefix(200))")
        }
        guard let json = try? JSONValue(parsing: data), let secret = json["Secret"]?.stringValue else {
            throw CredentialWarning(
                source: program, message: "returned something that is not {\"Username\",\"Secret\"} JSON")
        }
        let username = json["Username"]?.stringValue ?? ""
        if username == "<token>" { return Credential(identityToken: secret) }
        return Credential(username: username, password: secret)
    }
}

/// A started helper, waited for on Dispatch threads (never on one of Swift concurrency's few cooperative threads).
final class HelperRun: @unchecked Sendable {
    // Process is not Sendable; it is only touched by the reader (read, wait) and, if that takes too long, by the
    // timer (terminate, kill), which Process allows from any thread.
    let process: Process
    let waiting = Mutex<CheckedContinuation<Data?, Never>?>(nil)

    init(_ process: Process) { self.process = process }

    /// Everything the helper wrote once it exits; nil when it has not exited within `limit`: it is then sent
    /// SIGTERM, and SIGKILL a second later if still running.
    func output(_ handle: FileHandle, within limit: Duration) async -> Data? {
        let seconds = Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18
        return await withCheckedContinuation { continuation in
            waiting.withLock { $0 = continuation }
            DispatchQueue.global().async {
                let data = handle.readDataToEndOfFile()
                self.process.waitUntilExit()
                self.finish(data)
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
                guard self.finish(nil) else { return }
                self.process.terminate()
                DispatchQueue.global().asyncAfter(deadline: .now() + 1) {
                    if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
                }
            }
        }
    }

    /// Resumes the waiting caller once; false when it was already resumed.
    @discardableResult
    func finish(_ data: Data?) -> Bool {
        guard let continuation = waiting.withLock({ $0.take() }) else { return false }
        continuation.resume(returning: data)
        return true
    }
}
