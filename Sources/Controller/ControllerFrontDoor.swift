import ChainsCore
import Dispatch
import Foundation
import KubeClient
import KubeModels
import Logging
import Sigstore

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
    /// How often the signing secrets (and `--config`) are compared with what the service was built from.
    public var reloadInterval: Duration = .seconds(10)
    /// `--run-timeout`: a run's whole budget.
    public var runTimeout: Duration?
    /// Makes the `spiffe` identity provider (the executable links the SPIFFE target).
    public var spiffeTokenProvider: (@Sendable () throws(IdentityTokenError) -> any IdentityTokenProvider)?

    public init() {}
}

/// A controller built and ready: `run()` watches, signs and follows configuration changes until cancelled, then
/// shuts its signing services down.
public final class RunningController: Sendable {
    public let controller: ChainsController
    public let live: LiveConfiguration
    public var supply: ServiceSupply { controller.supply }

    init(controller: ChainsController, live: LiveConfiguration) {
        self.controller = controller
        self.live = live
    }

    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.controller.run() }
            group.addTask { await self.live.run() }
        }
        await supply.shutdown()
    }
}

/// Builds the controller: the API client, chains-config (the ConfigMap in the controller's namespace, watched), the
/// one signing service with the API server as its cluster view, and runs it until SIGTERM or SIGINT.
public enum ControllerFrontDoor {
    public static func run(_ options: ControllerOptions, logger: Logger) async throws {
        let connection =
            try options.kubeconfig.map { try KubeConnection.kubeconfig(path: $0) } ?? KubeConnection.inCluster()
        let client = try KubeAPIClient(connection: connection, qps: options.qps, burst: options.burst)
        defer { Task { await client.shutdown() } }
        let running = try await start(client: client, options: options, logger: logger)
        logger.info(
            "chains controller: watching \(options.namespace.map { "namespace \($0)" } ?? "all namespaces") at \(connection.server.absoluteString)"
        )
        let task = Task { await running.run() }
        let signals = stopOnSignals { task.cancel() }
        await task.value
        signals.forEach { $0.cancel() }
        logger.info("chains controller: stopped")
    }

    /// The controller `chains controller` runs, built on `client`: an invalid chains-config at start is an error
    /// (exit 2); later ones keep the configuration in use.
    public static func start(
        client: KubeAPIClient, options: ControllerOptions, logger: Logger, queue: WorkQueue = WorkQueue()
    ) async throws -> RunningController {
        var data: JSONValue?
        if options.configFile == nil {
            let map = try await client.get(
                .configMaps, namespace: options.systemNamespace, name: LiveConfiguration.name)
            if map == nil {
                logger.warning("no ConfigMap \(options.systemNamespace)/chains-config: Tekton Chains' defaults apply")
            }
            data = map.map { $0["data"] ?? .object([:]) }
        }
        let front = try await LiveConfiguration.build(data, client: client, options: options, logger: logger)
        for d in front.diagnostics { logger.warning("\(d)") }
        let supply = ServiceSupply(front)
        let controller = ChainsController(
            client: client, supply: supply, namespace: options.namespace, threads: options.threads, logger: logger,
            queue: queue)
        let live = LiveConfiguration(
            client: client, options: options, supply: supply, applied: data, logger: logger)
        return RunningController(controller: controller, live: live)
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
