import ChainsCore
import Dispatch
import Foundation
import KubeClient
import KubeModels
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// `chains controller`'s flags, as Tekton Chains names them where it has them.
public struct ControllerOptions: Sendable {
    /// `--kubeconfig`; nil: in-cluster.
    public var kubeconfig: String?
    /// `--namespace`: watch one namespace; nil: all.
    public var namespace: String?
    /// `--threads-per-controller`.
    public var threads = 2
    /// `--kube-api-qps`, `--kube-api-burst`.
    public var qps: Double = 50
    public var burst = 50
    /// `--signing-secrets DIR` (default `/etc/signing-secrets`, where the Chains Deployment mounts them).
    public var signingSecrets = URL(fileURLWithPath: "/etc/signing-secrets")
    public var trustedRoot: URL?
    /// `--config FILE` instead of the `chains-config` ConfigMap in the controller's namespace.
    public var configFile: URL?
    /// `SYSTEM_NAMESPACE` (default `tekton-chains`): where `chains-config` is read.
    public var systemNamespace = ProcessInfo.processInfo.environment["SYSTEM_NAMESPACE"] ?? "tekton-chains"

    public init() {}
}

/// Builds the controller: the API client, chains-config (the ConfigMap, read once at start for now), the one
/// signing service with the API server as its cluster view, and runs it until SIGTERM or SIGINT.
public enum ControllerFrontDoor {
    public static func run(_ options: ControllerOptions, logger: Logger) async throws {
        let connection =
            try options.kubeconfig.map { try KubeConnection.kubeconfig(path: $0) } ?? KubeConnection.inCluster()
        let client = try KubeAPIClient(connection: connection, qps: options.qps, burst: options.burst)
        defer { Task { await client.shutdown() } }
        var setup = LocalSetup(signingSecrets: options.signingSecrets, trustedRoot: options.trustedRoot)
        if let file = options.configFile {
            setup.configFile = file
        } else {
            setup.configFile = try await configMapFile(client, namespace: options.systemNamespace, logger: logger)
        }
        setup.cluster = KubeClusterView(client: client)
        setup.attempts = KubeAttemptRecorder(client: client)
        let front = try await LocalSigning.start(setup, logger: logger)
        for d in front.diagnostics { logger.warning("\(d)") }
        let controller = ChainsController(
            client: client, service: front.service, namespace: options.namespace, threads: options.threads,
            logger: logger)
        logger.info(
            "chains controller: watching \(options.namespace.map { "namespace \($0)" } ?? "all namespaces") at \(connection.server.absoluteString)"
        )
        let task = Task { await controller.run() }
        let signals = stopOnSignals { task.cancel() }
        await task.value
        signals.forEach { $0.cancel() }
        await front.shutdown()
        logger.info("chains controller: stopped")
    }

    /// `chains-config` from the API, written where the config loader reads files; Chains' defaults when absent.
    static func configMapFile(_ client: KubeAPIClient, namespace: String, logger: Logger) async throws -> URL {
        let map = try await client.get(.configMaps, namespace: namespace, name: "chains-config")
        if map == nil { logger.warning("no ConfigMap \(namespace)/chains-config: Tekton Chains' defaults apply") }
        let object = map ?? .object(["apiVersion": "v1", "kind": "ConfigMap", "data": .object([:])])
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "chains-config-\(UUID().uuidString).json")
        try object.serializedData().write(to: file)
        return file
    }

    /// SIGTERM (Kubernetes stopping the Pod) and SIGINT end the run: in-flight work finishes its current step.
    static func stopOnSignals(_ stop: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: stop)
            source.resume()
            return source
        }
    }
}
