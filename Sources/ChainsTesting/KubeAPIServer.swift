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
public final class KubeAPIServer: Sendable {
    /// A resource type served here.
    public struct Resource: Hashable, Sendable {
        public var group: String
        public var version: String
        public var plural: String
        public var kind: String
        public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

        public static let secrets = Resource(group: "", version: "v1", plural: "secrets", kind: "Secret")
        public static let serviceAccounts = Resource(
            group: "", version: "v1", plural: "serviceaccounts", kind: "ServiceAccount")
        public static let pods = Resource(group: "", version: "v1", plural: "pods", kind: "Pod")
        public static let events = Resource(group: "", version: "v1", plural: "events", kind: "Event")
        public static let configMaps = Resource(group: "", version: "v1", plural: "configmaps", kind: "ConfigMap")
        public static let taskRuns = Resource(group: "tekton.dev", version: "v1", plural: "taskruns", kind: "TaskRun")
        public static let pipelineRuns = Resource(
            group: "tekton.dev", version: "v1", plural: "pipelineruns", kind: "PipelineRun")
        public static let leases = Resource(
            group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease")
        public static let all: [Resource] = [
            secrets, serviceAccounts, pods, events, configMaps, taskRuns, pipelineRuns, leases,
        ]
    }

    /// Requests served, by verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`).
    public struct Stats: Sendable {
        public var byVerb: [String: Int] = [:]
        public var total: Int { byVerb.values.reduce(0, +) }
        /// Every kind of request made, as RBAC sees it: what a ServiceAccount's rules must allow.
        public var accesses: Set<Access> = []
        /// GETs of one object, by `plural/namespace/name` (found or not).
        public var gets: [String: Int] = [:]
        /// Requests by verb and resource (`get taskruns`, `patch taskruns`, `create events`).
        public var byResource: [String: Int] = [:]
    }

    /// One request as an RBAC rule matches it: the verb, the API group and resource, the namespace (nil: cluster-wide).
    public struct Access: Hashable, Sendable, CustomStringConvertible {
        public var verb: String
        public var group: String
        public var resource: String
        public var namespace: String?
        public var description: String {
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
    public var url: String { "http://127.0.0.1:\(server.port)" }

    /// A kubeconfig naming this server, with a bearer token, as `chains controller --kubeconfig` reads it.
    public func kubeconfig(token: String) -> String {
        """
        apiVersion: v1
        kind: Config
        current-context: test
        contexts: [{name: test, context: {cluster: c, user: u}}]
        clusters: [{name: c, cluster: {server: "\(url)"}}]
        users: [{name: u, user: {token: \(token)}}]
        """
    }
    public var stats: Stats { api.store.withLock { $0.stats } }

    /// `token`: the bearer token every request must carry (nil: none needed).
    public init(token: String? = nil) async throws {
        let api = API(token: token)
        self.api = api
        server = try await TestHTTPServer { request in api.handle(request) }
    }

    public func stop() async {
        dropWatches()
        await server.stop()
    }

    // MARK: Direct access for tests (what kubectl apply or Tekton would do)

    /// Creates or replaces `object` (a manifest) as the API would; returns it as stored.
    @discardableResult
    public func put(_ object: JSONValue, as resource: Resource) -> JSONValue {
        api.store.withLock { s in API.write(object, resource: resource, into: &s) }
    }

    /// The stored object, or nil.
    public func object(_ resource: Resource, namespace: String, name: String) -> JSONValue? {
        api.store.withLock { $0.objects[resource]?["\(namespace)/\(name)"] }
    }

    public func objects(_ resource: Resource) -> [JSONValue] {
        api.store.withLock { s in (s.objects[resource] ?? [:]).sorted { $0.key < $1.key }.map(\.value) }
    }

    /// The next `count` requests (any verb) are answered with `status`.
    public func fail(status: Int, count: Int) { api.store.withLock { $0.failures.append((status, count)) } }

    /// Ends every open watch, as an API server restart or a load balancer does.
    public func dropWatches() {
        // Finished outside the lock: a stream's termination handler takes the lock to forget its watcher.
        let open = api.store.withLock { s in
            let all = s.watchers.values.map(\.continuation)
            s.watchers = [:]
            return all
        }
        for continuation in open { continuation.finish() }
    }

    /// Forgets the change history: a watch from any version before now is answered with 410 Expired.
    public func compact() {
        api.store.withLock { s in
            s.compacted = s.version
            s.history = []
        }
    }

    /// Sends a BOOKMARK to every watch that asked for them.
    public func bookmark() {
        api.store.withLock { s in
            for w in s.watchers.values where w.bookmarks {
                w.continuation.yield(API.bookmark(w.resource, version: s.version))
            }
        }
    }

    /// Writes a line that is not a watch event into every open watch (a proxy that corrupts the stream).
    public func sendGarbage() {
        api.store.withLock { s in
            for w in s.watchers.values { w.continuation.yield(Data("<html>502 Bad Gateway</html>\n".utf8)) }
        }
    }

    public var watchCount: Int { api.store.withLock { $0.watchers.count } }
}
