import ChainsCore
import Foundation
import KubeClient
import KubeModels
import Logging
import ServiceLifecycle
import Sigstore

/// `chains controller`'s flags, as Tekton Chains names them where it has them.
package struct ControllerOptions: Sendable {
    /// `--kubeconfig`; nil: in-cluster.
    package var kubeconfig: String?
    /// `--namespace`: watch one namespace; nil: all.
    package var namespace: String?
    /// `--threads-per-controller`.
    package var threads = 2
    /// `--kube-api-qps`, `--kube-api-burst`.
    package var qps: Double = 50
    package var burst = 50
    /// `--signing-secrets DIR` (default `/etc/signing-secrets`, where the Chains Deployment mounts them).
    package var signingSecrets = URL(fileURLWithPath: "/etc/signing-secrets")
    package var trustedRoot: URL?
    /// `--signing-config FILE`: wins over `signers.x509.signing-config.file`.
    package var signingConfig: URL?
    /// `--config FILE` instead of the `chains-config` ConfigMap in the controller's namespace.
    package var configFile: URL?
    /// `SYSTEM_NAMESPACE` (default `tekton-chains`): where `chains-config` is read.
    package var systemNamespace = ProcessInfo.processInfo.environment["SYSTEM_NAMESPACE"] ?? "tekton-chains"
    /// How often the signing secrets (and `--config`) are compared with what the service was built from.
    package var reloadInterval: Duration = .seconds(10)
    /// `--run-timeout`: a run's whole budget.
    package var runTimeout: Duration?
    /// Makes the `spiffe` identity provider (the executable links the SPIFFE target).
    package var spiffeTokenProvider: SPIFFEProviderFactory?

    /// Overrides of the leader-election ConfigMap (`--lease-duration`, `--renew-deadline`, `--retry-period`,
    /// `--buckets`).
    package var leaseDuration: Duration?
    package var renewDeadline: Duration?
    package var retryPeriod: Duration?
    package var buckets: Int?
    /// The leader-election ConfigMap: `CONFIG_LEADERELECTION_NAME`, as Chains' Deployment sets it.
    package var leaderElectionConfigMap =
        ProcessInfo.processInfo.environment["CONFIG_LEADERELECTION_NAME"] ?? "tekton-chains-config-leader-election"
    /// `--allowed-registries`: push only to these `host[:port]` patterns (chains-config's
    /// `storage.oci.allowed-registries` when empty). In a cluster (no `--kubeconfig`), loopback and the API service
    /// are refused as well.
    package var allowedRegistries: [String] = []
    /// `--resolve`: lowercased `host:port` → the numeric address registry connections for it go to.
    package var resolve: [String: String] = [:]
    /// `--metrics-address`: where `/metrics`, `/healthz` and `/readyz` are served (Chains' metrics port).
    package var metricsAddress = ":9090"
    /// The Lease holder identity: `POD_NAME`, else the host name and a random suffix.
    package var identity = LeaderElectionSettings.identity()
    /// Where backends, cloud keychains and KMS clients read their variables (`AWS_*`, `STORAGE_EMULATOR_HOST`,
    /// `GOOGLE_APPLICATION_CREDENTIALS`, …): the process environment unless a caller (a test) gives its own.
    package var environment = ProcessInfo.processInfo.environment

    package init() {}
}

/// A flag that cannot be used (exit 2).
package struct ControllerOptionError: Error, Sendable, CustomStringConvertible {
    package var flag: String
    package var reason: String
    package var description: String { "\(flag): \(reason)" }
}

/// A controller built and ready: `run()` watches, signs and follows configuration changes until cancelled, then
/// shuts its signing services down.
package final class RunningController: Service {
    package let controller: ChainsController
    package let live: LiveConfiguration
    package let elector: BucketElector
    package var supply: ServiceSupply { controller.supply }

    init(controller: ChainsController, live: LiveConfiguration, elector: BucketElector) {
        self.controller = controller
        self.live = live
        self.elector = elector
    }

    /// Runs until graceful shutdown (swift-service-lifecycle) or cancellation. A graceful shutdown drains: no new work,
    /// the runs in flight finish; cancellation cuts them short. Then the Leases are handed back so another replica
    /// takes over at once, and the signing services are shut down.
    package func run() async {
        let election = Task { await elector.run() }
        let live = Task { await self.live.run() }
        let work = Task { await controller.run() }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await work.value
            } onGracefulShutdown: {
                Task { await self.controller.stop() }
            }
        } onCancel: {
            // Cancelled (the graceful shutdown took too long, or a caller cut it): the work in flight is cut short
            // too; what it pushed is recorded on its runs and reused by whoever signs them next.
            work.cancel()
            Task { await self.controller.stop() }
        }
        election.cancel()
        live.cancel()
        await election.value
        await live.value
        // Not in this (cancelled) task: its requests would be cancelled before they are sent.
        await Task { [elector, supply] in
            await elector.stop()
            await supply.shutdown()
        }.value
    }
}

/// Builds the controller: the API client, chains-config (the ConfigMap in the controller's namespace, watched), the
/// one signing service with the API server as its cluster view, and runs it until SIGTERM or SIGINT.
package enum ControllerFrontDoor {
    package static func run(_ options: ControllerOptions, logger: Logger) async throws {
        guard let address = HealthServer.parse(address: options.metricsAddress) else {
            throw ControllerOptionError(
                flag: "--metrics-address", reason: "\"\(options.metricsAddress)\" is not HOST:PORT (e.g. :9090)")
        }
        let connection =
            try options.kubeconfig.map { try KubeConnection.kubeconfig(path: $0) } ?? KubeConnection.inCluster()
        let client = try KubeAPIClient(connection: connection, qps: options.qps, burst: options.burst)
        defer { Task { await client.shutdown() } }
        let running = try await start(client: client, options: options, logger: logger)
        logger.info(
            "chains controller: watching \(options.namespace.map { "namespace \($0)" } ?? "all namespaces") at \(connection.server.absoluteString)"
        )
        let health = HealthServer(
            host: address.host, port: address.port, metrics: running.controller.metrics ?? ControllerMetrics(),
            logger: logger, ready: { running.controller.isReady })
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: health, serviceName: "metrics"),
                .init(
                    service: running, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "controller"),
            ], logger: logger)
        // SIGTERM (Kubernetes stopping the Pod) and SIGINT drain: the runs in flight finish, the Leases are handed
        // back; a drain longer than this is cut short.
        configuration.gracefulShutdownSignals = [.sigterm, .sigint]
        configuration.maximumGracefulShutdownDuration = .seconds(120)
        try await ServiceGroup(configuration: configuration).run()
        logger.info("chains controller: stopped")
    }

    /// The controller `chains controller` runs, built on `client`: an invalid chains-config at start is an error
    /// (exit 2); later ones keep the configuration in use.
    package static func start(
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
        let ownWrites = OwnWrites()
        let built = try await LiveConfiguration.build(
            data, client: client, options: options, ownWrites: ownWrites, logger: logger)
        for d in built.diagnostics { logger.warning("\(d)") }
        let settings = try await leaderElection(client, options: options)
        let elector = BucketElector(
            client: client, namespace: options.systemNamespace, settings: settings, identity: options.identity,
            logger: logger)
        let supply = ServiceSupply(built.assembly)
        let controller = ChainsController(
            client: client, supply: supply, namespace: options.namespace, threads: options.threads, logger: logger,
            queue: queue, elector: elector, metrics: ControllerMetrics(), ownWrites: ownWrites)
        let live = LiveConfiguration(
            client: client, options: options, supply: supply, applied: data, ownWrites: ownWrites, logger: logger)
        logger.info(
            "leader election: \(settings.buckets) bucket(s), lease \(settings.leaseDuration), renew deadline \(settings.renewDeadline), retry \(settings.retryPeriod), identity \(options.identity)"
        )
        return RunningController(controller: controller, live: live, elector: elector)
    }

    /// The leader-election ConfigMap's keys (absent: the defaults), then the flags.
    static func leaderElection(
        _ client: KubeAPIClient, options: ControllerOptions
    ) async throws -> LeaderElectionSettings {
        let map = try await client.get(
            .configMaps, namespace: options.systemNamespace, name: options.leaderElectionConfigMap)
        let data = (map?["data"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        var settings = try LeaderElectionSettings.parse(data)
        if let d = options.leaseDuration { settings.leaseDuration = d }
        if let d = options.renewDeadline { settings.renewDeadline = d }
        if let d = options.retryPeriod { settings.retryPeriod = d }
        if let n = options.buckets { settings.buckets = n }
        try settings.validate()
        guard (1...10).contains(settings.buckets) else {
            throw LeaderElectionError(key: "buckets", reason: "\(settings.buckets) is not from 1 to 10")
        }
        return settings
    }
}
