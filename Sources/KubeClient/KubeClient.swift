import Foundation
import HTTPTransport
import KubeModels

/// A resource type: where it lives in the API.
package struct KubeResource: Sendable, Hashable {
    package var group: String
    package var version: String
    package var plural: String
    package var namespaced: Bool

    package init(group: String, version: String, plural: String, namespaced: Bool = true) {
        self.group = group
        self.version = version
        self.plural = plural
        self.namespaced = namespaced
    }

    package static let taskRuns = KubeResource(group: "tekton.dev", version: "v1", plural: "taskruns")
    package static let pipelineRuns = KubeResource(group: "tekton.dev", version: "v1", plural: "pipelineruns")
    package static let secrets = KubeResource(group: "", version: "v1", plural: "secrets")
    package static let serviceAccounts = KubeResource(group: "", version: "v1", plural: "serviceaccounts")
    package static let pods = KubeResource(group: "", version: "v1", plural: "pods")
    package static let configMaps = KubeResource(group: "", version: "v1", plural: "configmaps")
    package static let events = KubeResource(group: "", version: "v1", plural: "events")
    package static let leases = KubeResource(group: "coordination.k8s.io", version: "v1", plural: "leases")

    /// `/api/v1/namespaces/NS/secrets/NAME`, `/apis/tekton.dev/v1/taskruns`, …
    func path(namespace: String?, name: String?) -> String {
        var p = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if let namespace, namespaced { p += "/namespaces/\(namespace)" }
        p += "/\(plural)"
        if let name { p += "/\(name)" }
        return p
    }
}

/// The API server refused or failed: its `Status` (code, reason, message), or why the request did not get there.
package struct KubeError: Error, Sendable, CustomStringConvertible, RetryClassifiable {
    package var status: Int?
    /// The Status `reason`: `NotFound`, `Conflict`, `AlreadyExists`, `Expired`, `Forbidden`, …
    package var statusReason: String?
    package var reason: String
    /// Trying again later may work: 429, 5xx, timeouts, a connection that failed. A 409 is retried by re-reading.
    package var isRetryable: Bool

    package init(status: Int? = nil, statusReason: String? = nil, reason: String, isRetryable: Bool = false) {
        self.status = status
        self.statusReason = statusReason
        self.reason = reason
        self.isRetryable = isRetryable
    }

    package var isNotFound: Bool { status == 404 }
    package var isConflict: Bool { status == 409 }
    /// The watch or list asked for a version the server no longer has: list again.
    package var isExpired: Bool { status == 410 || statusReason == "Expired" || statusReason == "Gone" }
    package var description: String {
        "Kubernetes API: " + (status.map { "HTTP \($0)\(statusReason.map { " \($0)" } ?? ""): " } ?? "") + reason
    }
}

/// One event of a watch.
package enum WatchEvent: Sendable {
    case added(JSONValue)
    case modified(JSONValue)
    case deleted(JSONValue)
    /// The server's progress: resume from this version.
    case bookmark(resourceVersion: String)
}
