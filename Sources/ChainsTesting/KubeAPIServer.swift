import Foundation
import KubeModels
import Synchronization

/// A Kubernetes API server for the resources the controller uses, in process, following the API conventions
/// (api-conventions.md, the API concepts page): objects with `uid`, `resourceVersion` (one counter for the store),
/// `creationTimestamp`; `GET`, `LIST` with `limit`/`continue` and the list's `resourceVersion`; `WATCH` as a
/// chunked stream of `{"type","object"}` lines — `ADDED`/`MODIFIED`/`DELETED`, `BOOKMARK`s when asked, an `ERROR`
/// carrying a 410 `Expired` Status when the requested version is older than the kept history; `POST` (201, 409
/// `AlreadyExists`), `PUT` (409 `Conflict` on a stale `resourceVersion`), `PATCH` with
/// `application/merge-patch+json` (RFC 7386, a `resourceVersion` in the patch is a precondition), `DELETE`
/// (finalizers hold an object, with `deletionTimestamp` set, until they are removed). Errors are `Status` objects.
/// A bearer token is required when one is set. Faults: answer the next requests with a status, end every watch,
/// forget history (so watches from old versions get 410).
package final class KubeAPIServer: Sendable {
    /// A resource type served here.
    package struct Resource: Hashable, Sendable {
        package var group: String
        package var version: String
        package var plural: String
        package var kind: String
        package var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

        package static let secrets = Resource(group: "", version: "v1", plural: "secrets", kind: "Secret")
        package static let serviceAccounts = Resource(
            group: "", version: "v1", plural: "serviceaccounts", kind: "ServiceAccount")
        package static let pods = Resource(group: "", version: "v1", plural: "pods", kind: "Pod")
        package static let events = Resource(group: "", version: "v1", plural: "events", kind: "Event")
        package static let configMaps = Resource(group: "", version: "v1", plural: "configmaps", kind: "ConfigMap")
        package static let taskRuns = Resource(group: "tekton.dev", version: "v1", plural: "taskruns", kind: "TaskRun")
        package static let pipelineRuns = Resource(
            group: "tekton.dev", version: "v1", plural: "pipelineruns", kind: "PipelineRun")
        package static let leases = Resource(
            group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease")
        package static let all: [Resource] = [
            secrets, serviceAccounts, pods, events, configMaps, taskRuns, pipelineRuns, leases,
        ]
    }

    /// Requests served, by verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`).
    package struct Stats: Sendable {
        package var byVerb: [String: Int] = [:]
        package var total: Int { byVerb.values.reduce(0, +) }
        /// Every kind of request made, as RBAC sees it: what a ServiceAccount's rules must allow.
        package var accesses: Set<Access> = []
        /// GETs of one object, by `plural/namespace/name` (found or not).
        package var gets: [String: Int] = [:]
        /// Requests by verb and resource (`get taskruns`, `patch taskruns`, `create events`).
        package var byResource: [String: Int] = [:]
    }

    /// One request as an RBAC rule matches it: the verb, the API group and resource, the namespace (nil: cluster-wide).
    package struct Access: Hashable, Sendable, CustomStringConvertible {
        package var verb: String
        package var group: String
        package var resource: String
        package var namespace: String?
        package var description: String {
            "\(verb) \(group.isEmpty ? "" : group + "/")\(resource)\(namespace.map { " in \($0)" } ?? " (all namespaces)")"
        }
    }

    struct Change {
        var version: Int
        var resource: Resource
        var namespace: String
        var type: String
        var object: JSONValue
    }

    struct Watcher {
        var resource: Resource
        var namespace: String?
        var continuation: AsyncStream<Data>.Continuation
        var bookmarks: Bool
    }

    struct Store {
        var version = 1
        var objects: [Resource: [String: JSONValue]] = [:]
        var history: [Change] = []
        /// Versions at or below this are no longer in `history`: a watch from them is answered 410.
        var compacted = 0
        var watchers: [UUID: Watcher] = [:]
        var failures: [(status: Int, remaining: Int)] = []
        var stats = Stats()
    }

    let server: TestHTTPServer
    let api: API
    package var url: String { "http://127.0.0.1:\(server.port)" }

    /// A kubeconfig naming this server, with a bearer token, as `chains controller --kubeconfig` reads it.
    package func kubeconfig(token: String) -> String {
        """
        apiVersion: v1
        kind: Config
        current-context: test
        contexts: [{name: test, context: {cluster: c, user: u}}]
        clusters: [{name: c, cluster: {server: "\(url)"}}]
        users: [{name: u, user: {token: \(token)}}]
        """
    }
    package var stats: Stats { api.store.withLock { $0.stats } }

    /// `token`: the bearer token every request must carry (nil: none needed).
    package init(token: String? = nil) async throws {
        let api = API(token: token)
        self.api = api
        server = try await TestHTTPServer { request in api.handle(request) }
    }

    package func stop() async {
        dropWatches()
        await server.stop()
    }

    // MARK: Direct access for tests (what kubectl apply or Tekton would do)

    /// Creates or replaces `object` (a manifest) as the API would; returns it as stored.
    @discardableResult
    package func put(_ object: JSONValue, as resource: Resource) -> JSONValue {
        api.store.withLock { s in API.write(object, resource: resource, into: &s) }
    }

    /// The stored object, or nil.
    package func object(_ resource: Resource, namespace: String, name: String) -> JSONValue? {
        api.store.withLock { $0.objects[resource]?["\(namespace)/\(name)"] }
    }

    package func objects(_ resource: Resource) -> [JSONValue] {
        api.store.withLock { s in (s.objects[resource] ?? [:]).sorted { $0.key < $1.key }.map(\.value) }
    }

    /// The next `count` requests (any verb) are answered with `status`.
    package func fail(status: Int, count: Int) { api.store.withLock { $0.failures.append((status, count)) } }

    /// Ends every open watch, as an API server restart or a load balancer does.
    package func dropWatches() {
        // Finished outside the lock: a stream's termination handler takes the lock to forget its watcher.
        let open = api.store.withLock { s in
            let all = s.watchers.values.map(\.continuation)
            s.watchers = [:]
            return all
        }
        for continuation in open { continuation.finish() }
    }

    /// Forgets the change history: a watch from any version before now is answered with 410 Expired.
    package func compact() {
        api.store.withLock { s in
            s.compacted = s.version
            s.history = []
        }
    }

    /// Sends a BOOKMARK to every watch that asked for them.
    package func bookmark() {
        api.store.withLock { s in
            for w in s.watchers.values where w.bookmarks {
                w.continuation.yield(API.bookmark(w.resource, version: s.version))
            }
        }
    }

    /// Writes a line that is not a watch event into every open watch (a proxy that corrupts the stream).
    package func sendGarbage() {
        api.store.withLock { s in
            for w in s.watchers.values { w.continuation.yield(Data("<html>502 Bad Gateway</html>\n".utf8)) }
        }
    }

    package var watchCount: Int { api.store.withLock { $0.watchers.count } }
}
