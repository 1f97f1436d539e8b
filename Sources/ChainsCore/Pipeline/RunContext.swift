import ChainsConfig
import CloudCredentials
import Foundation
import HTTPTransport
import KubeModels
import OCI
import RegistryAuth
import Signing
import Sigstore
import X509

/// The run an artifact belongs to: where its push credentials are looked up, how it is named in messages.
public struct RunContext: Sendable {
    public var namespace: String
    public var uid: String
    public var serviceAccount: String
    public var podTemplatePullSecrets: [String]
    /// `status.podName` of a TaskRun: the controller also reads that Pod's `imagePullSecrets`.
    public var podName: String?
    public var displayName: String
    public var name: String
    /// `TaskRun` or `PipelineRun`.
    public var kind: String

    public init(run: any TektonRun) {
        name = run.name
        kind = run is PipelineRun ? "PipelineRun" : "TaskRun"
        namespace = run.namespace
        uid = run.uid
        serviceAccount = run.serviceAccountName
        podTemplatePullSecrets = (run.podTemplate?.imagePullSecrets ?? []).compactMap(\.name)
        podName = run.raw["status"]?["podName"]?.stringValue
        displayName = run.displayName
    }

    /// What the credential search needs to know about the run.
    public var credentialScope: RunCredentialScope {
        RunCredentialScope(
            namespace: namespace, serviceAccount: serviceAccount, podTemplatePullSecrets: podTemplatePullSecrets,
            podName: podName)
    }

    /// The run's cluster reads (ServiceAccount, Secrets, Pod), each made at most once for the run; set by the
    /// service for each run it signs. Nil: backends read through their own cluster view.
    public var clusterReads: ClusterReadCache?
}

/// Kubernetes objects the service reads: a PipelineRun's children, and the Secrets, ServiceAccounts and Pods its
/// credentials come from. `chains sign` answers from `--objects` manifests (`ObjectStore`); the controller from the
/// API server, in the run's namespace only.
public protocol ClusterView: ClusterObjects {
    /// The child TaskRuns by `status.childReferences`, in that order.
    func children(of run: PipelineRun) async throws -> ChildLookup
}
