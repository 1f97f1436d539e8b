import ArgumentParser
import ChainsCore
import Controller
import Foundation
import Logging
import SPIFFE
import Sigstore

struct ControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract:
            "Watch finished TaskRuns and PipelineRuns in the cluster and sign each once (Tekton Chains' controller).")

    @Option(help: "A kubeconfig (token auth); default: in-cluster (the ServiceAccount's token and CA).")
    var kubeconfig: String?

    @Option(help: "Watch only this namespace (default: all).")
    var namespace: String?

    @Option(name: .customLong("threads-per-controller"), help: "Workers signing runs at once.")
    var threads = 2

    @Option(name: .customLong("kube-api-qps"), help: "Client-side limit on API requests per second.")
    var qps: Double = 50

    @Option(name: .customLong("kube-api-burst"), help: "Requests allowed at once above the QPS limit.")
    var burst = 50

    @Option(name: .customLong("signing-secrets"), help: "Directory with x509.pem, or cosign.key + cosign.password.")
    var signingSecrets = "/etc/signing-secrets"

    @Option(name: .customLong("trusted-root"), help: "A sigstore trusted_root.json (keyless and Rekor checks).")
    var trustedRoot: String?

    @Option(
        name: .customLong("signing-config"),
        help:
            "A sigstore signing config v0.2 (signing_config.json): Fulcio, Rekor and the RFC 3161 timestamp authority to use; a chains-config address that disagrees with it is an error. Wins over signers.x509.signing-config.file."
    )
    var signingConfig: String?

    @Option(help: "A chains-config file instead of the chains-config ConfigMap in $SYSTEM_NAMESPACE.")
    var config: String?

    @Option(
        name: .customLong("lease-duration"),
        help: "Leader election: a Lease holds this long after its last renewal (default: the ConfigMap's, or 60s).")
    var leaseDuration: String?

    @Option(
        name: .customLong("renew-deadline"),
        help: "Leader election: stop working on a bucket not renewed for this long (default 40s).")
    var renewDeadline: String?

    @Option(name: .customLong("retry-period"), help: "Leader election: how often Leases are renewed (default 10s).")
    var retryPeriod: String?

    @Option(help: "Leader election: split the runs into this many buckets, each led by one replica (1-10; default 1).")
    var buckets: Int?

    @Option(
        name: .customLong("metrics-address"),
        help: "Where /metrics, /healthz and /readyz are served (host:port; default :9090, Chains' metrics port).")
    var metricsAddress = ":9090"

    @Option(
        name: .customLong("allowed-registries"),
        help:
            "HOST[:PORT],…: push only to these registries (*. wildcards; default: chains-config's storage.oci.allowed-registries, else any but link-local, metadata, the API service and, in a cluster, loopback)."
    )
    var allowedRegistries: String?

    @Option(
        name: .customLong("resolve"),
        help: "HOST:PORT=ADDRESS: connect to ADDRESS for registry HOST:PORT, TLS still verified as HOST (repeatable).")
    var resolve: [String] = []

    @Option(name: .customLong("run-timeout"), help: "A run's whole time budget (default 3m, chains-config's key).")
    var runTimeout: String?

    @Option(
        name: .customLong("log-format"),
        help: "json (one object per line: ts, level, logger, msg, and a run's namespace, name and kind) or text.")
    var logFormat = "json"

    @Flag(name: .customLong("verbose"), help: "Log each run's decision and outcome.")
    var verbose = false

    func run() async throws {
        guard ["json", "text"].contains(logFormat) else {
            throw ValidationError("--log-format: \"\(logFormat)\" is neither json nor text")
        }
        var logger =
            logFormat == "json"
            ? Logger(label: "chains.controller", factory: { JSONLogHandler(label: $0) })
            : Logger(label: "chains.controller")
        logger.logLevel = verbose ? .debug : .info
        var options = ControllerOptions()
        options.kubeconfig = kubeconfig
        options.namespace = namespace
        options.threads = threads
        options.qps = qps
        options.burst = burst
        options.signingSecrets = URL(fileURLWithPath: signingSecrets)
        options.trustedRoot = trustedRoot.map { URL(fileURLWithPath: $0) }
        options.signingConfig = signingConfig.map { URL(fileURLWithPath: $0) }
        options.configFile = config.map { URL(fileURLWithPath: $0) }
        options.leaseDuration = try durationFlag(leaseDuration, "lease-duration")
        options.renewDeadline = try durationFlag(renewDeadline, "renew-deadline")
        options.retryPeriod = try durationFlag(retryPeriod, "retry-period")
        options.runTimeout = try durationFlag(runTimeout, "run-timeout")
        options.buckets = buckets
        options.metricsAddress = metricsAddress
        options.allowedRegistries = RegistryDestinations.patterns(allowedRegistries)
        options.resolve = try pins(resolve)
        options.spiffeTokenProvider = { (endpoint: String?, explicit: Bool) throws(IdentityTokenError) in
            try SPIFFETokenProvider(endpoint: endpoint, explicit: explicit)
        }
        do {
            try await ControllerFrontDoor.run(options, logger: logger)
        } catch let error as LeaderElectionError {
            say("error: \(error)")
            throw ExitCode(2)
        } catch let error as ControllerOptionError {
            say("error: \(error)")
            throw ExitCode(2)
        } catch let error as AssemblyError {
            for e in error.errors { say("error: \(e)") }
            throw ExitCode(2)
        } catch {
            say("error: \(error)")
            throw ExitCode(1)
        }
    }
}
