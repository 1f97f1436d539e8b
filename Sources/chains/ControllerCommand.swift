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

    @Option(help: "A chains-config file instead of the chains-config ConfigMap in $SYSTEM_NAMESPACE.")
    var config: String?

    @Flag(name: .customLong("verbose"), help: "Log each run's decision and outcome.")
    var verbose = false

    func run() async throws {
        var logger = Logger(label: "chains.controller")
        logger.logLevel = verbose ? .debug : .info
        var options = ControllerOptions()
        options.kubeconfig = kubeconfig
        options.namespace = namespace
        options.threads = threads
        options.qps = qps
        options.burst = burst
        options.signingSecrets = URL(fileURLWithPath: signingSecrets)
        options.trustedRoot = trustedRoot.map { URL(fileURLWithPath: $0) }
        options.configFile = config.map { URL(fileURLWithPath: $0) }
        options.spiffeTokenProvider = { () throws(IdentityTokenError) in try SPIFFETokenProvider() }
        do {
            try await ControllerFrontDoor.run(options, logger: logger)
        } catch let error as LocalSetupError {
            for e in error.errors { say("error: \(e)") }
            throw ExitCode(2)
        } catch {
            say("error: \(error)")
            throw ExitCode(1)
        }
    }
}
