import Foundation
import HTTPTransport
import KubeModels

/// A resource type: where it lives in the API.
public struct KubeResource: Sendable, Hashable {
    public var group: String
    public var version: String
    public var plural: String
    public var namespaced: Bool

    public init(group: String, version: String, plural: String, namespaced: Bool = true) {
        self.group = group
        self.version = version
        self.plural = plural
        self.namespaced = namespaced
    }

    public static let taskRuns = KubeResource(group: "tekton.dev", version: "v1", plural: "taskruns")
    public static let pipelineRuns = KubeResource(group: "tekton.dev", version: "v1", plural: "pipelineruns")
    public static let secrets = KubeResource(group: "", version: "v1", plural: "secrets")
    public static let serviceAccounts = KubeResource(group: "", version: "v1", plural: "serviceaccounts")
    public static let pods = KubeResource(group: "", version: "v1", plural: "pods")
    public static let configMaps = KubeResource(group: "", version: "v1", plural: "configmaps")
    public static let events = KubeResource(group: "", version: "v1", plural: "events")
    public static let leases = KubeResource(group: "coordination.k8s.io", version: "v1", plural: "leases")

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
public struct KubeError: Error, Sendable, CustomStringConvertible, RetryClassifiable {
    public var status: Int?
    /// The Status `reason`: `NotFound`, `Conflict`, `AlreadyExists`, `Expired`, `Forbidden`, …
    public var statusReason: String?
    public var reason: String
    /// Trying again later may work: 429, 5xx, timeouts, a connection that failed. A 409 is retried by re-reading.
    public var isRetryable: Bool

    public init(status: Int? = nil, statusReason: String? = nil, reason: String, isRetryable: Bool = false) {
        self.status = status
        self.statusReason = statusReason
        self.reason = reason
        self.isRetryable = isRetryable
    }

    public var isNotFound: Bool { status == 404 }
    public var isConflict: Bool { status == 409 }
    /// The watch or list asked for a version the server no longer has: list again.
    public var isExpired: Bool { status == 410 || statusReason == "Expired" || statusReason == "Gone" }
    public var description: String {
        "Kubernetes API: " + (status.map { "HTTP \($0)\(statusReason.map { " \($0)" } ?? ""): " } ?? "") + reason
    }
}

/// One event of a watch.
public enum WatchEvent: Sendable {
    case added(JSONValue)
    case modified(JSONValue)
    case deleted(JSONValue)
    /// The server's progress: resume from this version.
    case bookmark(resourceVersion: String)
}
