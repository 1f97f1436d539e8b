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
package struct RunContext: Sendable {
    package var namespace: String
    package var uid: String
    package var serviceAccount: String
    package var podTemplatePullSecrets: [String]
    /// `status.podName` of a TaskRun: the controller also reads that Pod's `imagePullSecrets`.
    package var podName: String?
    package var displayName: String
    package var name: String
    /// `TaskRun` or `PipelineRun`.
    package var kind: String

    package init(run: any TektonRun) {
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
    package var credentialScope: RunCredentialScope {
        RunCredentialScope(
            namespace: namespace, serviceAccount: serviceAccount, podTemplatePullSecrets: podTemplatePullSecrets,
            podName: podName)
    }

    /// The run's cluster reads (ServiceAccount, Secrets, Pod), each made at most once for the run; set by the
    /// service for each run it signs. Nil: backends read through their own cluster view.
    package var clusterReads: ClusterReadCache?
}

/// Kubernetes objects the service reads: a PipelineRun's children, and the Secrets, ServiceAccounts and Pods its
/// credentials come from. `chains sign` answers from `--objects` manifests (`ObjectStore`); the controller from the
/// API server, in the run's namespace only.
package protocol ClusterView: ClusterObjects {
    /// The child TaskRuns by `status.childReferences`, in that order.
    func children(of run: PipelineRun) async throws -> ChildLookup
}
