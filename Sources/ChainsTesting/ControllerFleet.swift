import Foundation
import HTTPTransport
import KubeModels
import OCI
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `chains controller` replicas as processes against the in-process API server, a real registry behind a proxy
/// (optional latency) and, optionally, the Rekor simulator — what the kill test and the controller benchmark drive.
/// Every replica gets `POD_NAME` as the Deployment's downward API gives it.
package final class ControllerFleet: @unchecked Sendable {
    package let api: KubeAPIServer
    package let registry: RegistryServer
    package let proxy: RegistryProxy
    package let rekor: RekorSimulator?
    package let directory: TemporaryDirectory
    let binary: String
    let arguments: [String]
    /// More variables for every replica (a backend's emulator, cloud credentials).
    let environment: [String: String]
    let processes = Mutex<[String: Process]>([:])
    let http: AsyncHTTPClientTransport
    package let namespace = "team-a"

    /// `flags`: more `chains controller` flags (leader election by default: short Leases for tests).
    package init(
        binary: String, transparency: Bool, latency: Duration = .zero, threads: Int = 2,
        flags: [String] = ["--lease-duration", "2s", "--renew-deadline", "1500ms", "--retry-period", "200ms"],
        config: [String: String] = [:], environment: [String: String] = [:]
    ) async throws {
        self.binary = binary
        self.environment = environment
        api = try await KubeAPIServer()
        registry = try await RegistryServer()
        proxy = try await RegistryProxy(upstream: registry.address)
        proxy.setLatency(latency)
        rekor = transparency ? try await RekorSimulator() : nil
        directory = try TemporaryDirectory()
        var data: [String: JSONValue] = [
            "artifacts.taskrun.format": "slsa/v1", "artifacts.taskrun.storage": "oci", "artifacts.oci.storage": "oci",
            "storage.oci.repository.insecure": "true",
        ]
        for (key, value) in config { data[key] = .string(value) }
        if let rekor {
            data["transparency.enabled"] = "true"
            data["transparency.url"] = .string(rekor.url)
        }
        api.put(
            .object([
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": .object(["name": "chains-config", "namespace": "tekton-chains"]), "data": .object(data),
            ]), as: .configMaps)
        let kubeconfig = try directory.write("kubeconfig", api.kubeconfig(token: "fleet"))
        let keys = try await runProcess(binary, ["keys", "generate", "--dir", directory.file("secrets").path])
        guard keys.status == 0 else { throw MissingTool(description: "chains keys generate: \(keys.stderr)") }
        arguments =
            [
                "controller", "--kubeconfig", kubeconfig.path, "--namespace", namespace, "--signing-secrets",
                directory.file("secrets").path, "--threads-per-controller", String(threads), "--metrics-address",
                "127.0.0.1:0",
            ] + flags
        // Last: a client that is not shut down traps in its deinit, so nothing may throw after it is made.
        http = try AsyncHTTPClientTransport(policy: .init(default: .init(.plainHTTP)))
    }

    /// Pushes `count` distinct images (one layer and config shared, a manifest each) and puts a finished TaskRun
    /// that built each. Returns the runs' names and their images' digests.
    package func addRuns(_ count: Int, first: Int = 0) async throws -> [(name: String, digest: String)] {
        let config = #"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}"#
        let configDigest = try await upload(Data(config.utf8))
        var out: [(String, String)] = []
        for i in first..<(first + count) {
            let manifest = Data(
                #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(configDigest)","size":\#(config.utf8.count)},"layers":[],"annotations":{"n":"\#(i)"}}"#
                    .utf8)
            let put = try await http.send(
                HTTPRequest(
                    method: "PUT", url: URL(string: "http://\(registry.address)/v2/app/manifests/build-\(i)")!,
                    headers: ["Content-Type": "application/vnd.oci.image.manifest.v1+json"], body: manifest))
            guard put.status == 201 else { throw MissingTool(description: "image \(i): HTTP \(put.status)") }
            let digest = Digest.sha256(of: manifest).description
            let name = "build-\(i)"
            var run = try ManifestReader.parse(
                Data(RunFixtures.taskRun(image: "\(proxy.address)/app", digest: digest, name: name).utf8),
                source: name
            ).documents[0].objectValue!
            var metadata = run["metadata"]!.objectValue!
            metadata["uid"] = .string(String(format: "44444444-0000-4000-8000-%012d", i))
            run["metadata"] = .object(metadata)
            api.put(.object(run), as: .taskRuns)
            out.append((name, digest))
        }
        return out
    }

    func upload(_ data: Data) async throws -> String {
        let digest = Digest.sha256(of: data).description
        let start = try await http.send(
            HTTPRequest(method: "POST", url: URL(string: "http://\(registry.address)/v2/app/blobs/uploads/")!))
        guard start.status == 202, let location = start.headers["Location"] else {
            throw MissingTool(description: "blob upload: HTTP \(start.status)")
        }
        var c = URLComponents(
            url: URL(string: location, relativeTo: start.url)!.absoluteURL, resolvingAgainstBaseURL: false)!
        c.queryItems = (c.queryItems ?? []) + [URLQueryItem(name: "digest", value: digest)]
        let put = try await http.send(
            HTTPRequest(
                method: "PUT", url: c.url!, headers: ["Content-Type": "application/octet-stream"], body: data))
        guard put.status == 201 else { throw MissingTool(description: "blob upload: HTTP \(put.status)") }
        return digest
    }

    /// Starts (or restarts) a replica; its log is `<name>.log` (appended).
    package func start(_ name: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment.merging(self.environment) { $1 }
        environment["POD_NAME"] = name
        environment["SYSTEM_NAMESPACE"] = "tekton-chains"
        process.environment = environment
        let log = directory.file("\(name).log")
        if !FileManager.default.fileExists(atPath: log.path) {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardError = handle
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try ChildProcesses.run(process)
        processes.withLock { $0[name] = process }
    }

    /// Sends `signal` and waits for the replica to end (SIGKILL after 30 s).
    package func stop(_ name: String, signal: Int32 = SIGKILL) async {
        guard let process = processes.withLock({ $0.removeValue(forKey: name) }) else { return }
        kill(process.processIdentifier, signal)
        let started = ContinuousClock.now
        while process.isRunning {
            if ContinuousClock.now - started > .seconds(30) { kill(process.processIdentifier, SIGKILL) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        ChildProcesses.ended(process)
    }

    package var running: [String] { processes.withLock { Array($0.keys).sorted() } }

    /// A replica's CPU time so far (user + system), in seconds.
    package func cpuSeconds(_ name: String) -> Double? {
        guard let pid = processes.withLock({ $0[name]?.processIdentifier }),
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// A replica's peak resident memory so far (`VmHWM`), in bytes.
    package func peakRSS(_ name: String) -> Int? {
        guard let pid = processes.withLock({ $0[name]?.processIdentifier }),
            let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return nil }
        return line.split(separator: " ").compactMap { Int($0) }.first.map { $0 * 1024 }
    }

    package func log(_ name: String) -> String {
        (try? String(contentsOf: directory.file("\(name).log"), encoding: .utf8)) ?? ""
    }

    package func annotations(_ name: String) -> [String: String] {
        (api.object(.taskRuns, namespace: namespace, name: name)?["metadata"]?["annotations"]?.objectValue ?? [:])
            .compactMapValues(\.stringValue)
    }

    package func isSigned(_ name: String) -> Bool { annotations(name)["chains.tekton.dev/signed"] == "true" }

    /// The layers of `app:sha256-<hex>.<suffix>` (0 when there is none).
    package func layerCount(digest: String, suffix: String) async throws -> Int {
        let tag = digest.replacingOccurrences(of: ":", with: "-") + "." + suffix
        let response = try await http.send(
            HTTPRequest(
                method: "GET", url: URL(string: "http://\(registry.address)/v2/app/manifests/\(tag)")!,
                headers: ["Accept": "application/vnd.oci.image.manifest.v1+json"]))
        guard response.status == 200 else { return 0 }
        return try JSONValue(parsing: response.body)["layers"]?.arrayValue?.count ?? 0
    }

    package func shutdown() async {
        for name in running { await stop(name) }
        await api.stop()
        await proxy.stop()
        await rekor?.stop()
        registry.stop()
        try? await http.shutdown()
    }
}

/// A small seeded generator (SplitMix64), so a kill schedule can be replayed.
package struct SeededRandom: RandomNumberGenerator, Sendable {
    var state: UInt64
    package init(seed: UInt64) { state = seed }
    package mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
