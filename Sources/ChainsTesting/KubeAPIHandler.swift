import Foundation
import KubeModels
import Synchronization

extension KubeAPIServer {
    /// The request handling, apart from the server's lifetime.
    final class API: Sendable {
        let store = Mutex(Store())
        let token: String?

        init(token: String?) { self.token = token }

        struct Target {
            var resource: Resource
            var namespace: String?
            var name: String?
        }

        func handle(_ request: ServedRequest) -> ServedResponse {
            if let token, request.header("Authorization") != "Bearer \(token)" {
                return Self.status(401, "Unauthorized", "Unauthorized")
            }
            let injected: Int? = store.withLock { s in
                guard let i = s.failures.firstIndex(where: { $0.remaining > 0 }) else { return nil }
                s.failures[i].remaining -= 1
                return s.failures[i].status
            }
            if let injected {
                return Self.status(injected, injected == 429 ? "TooManyRequests" : "InternalError", "injected")
            }
            guard let target = Self.target(request.path) else {
                return Self.status(404, "NotFound", "the server could not find the requested resource")
            }
            let query = request.query
            switch (request.method, target.name) {
            case ("GET", nil):
                if ["true", "1"].contains(query["watch"]?.first ?? "") { return watch(target, query: query) }
                return list(target, query: query)
            case ("GET", let name?): return get(target, name: name)
            case ("POST", nil): return create(target, body: request.body)
            case ("PUT", let name?): return replace(target, name: name, body: request.body)
            case ("PATCH", let name?):
                let type = request.header("Content-Type") ?? ""
                if type.hasPrefix("application/apply-patch+yaml") {
                    return apply(target, name: name, body: request.body, query: query)
                }
                return patch(
                    target, name: name, body: request.body, contentType: type, manager: query["fieldManager"]?.first)
            case ("DELETE", let name?): return delete(target, name: name)
            default:
                return Self.status(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            }
        }

        /// `/api/v1/…` or `/apis/<group>/<version>/…`, then `namespaces/<ns>/<plural>[/<name>]` or `<plural>`.
        static func target(_ path: String) -> Target? {
            let parts = path.split(separator: "/").map(String.init)
            var group = ""
            var version = ""
            var rest: ArraySlice<String>
            if parts.count >= 2, parts[0] == "api" {
                version = parts[1]
                rest = parts.dropFirst(2)
            } else if parts.count >= 3, parts[0] == "apis" {
                group = parts[1]
                version = parts[2]
                rest = parts.dropFirst(3)
            } else {
                return nil
            }
            var namespace: String?
            if rest.first == "namespaces", rest.count >= 3 {
                namespace = rest[rest.startIndex + 1]
                rest = rest.dropFirst(2)
            }
            guard let plural = rest.first, rest.count <= 2,
                let resource = Resource.all.first(where: {
                    $0.group == group && $0.version == version && $0.plural == plural
                })
            else { return nil }
            return Target(resource: resource, namespace: namespace, name: rest.count == 2 ? rest.last : nil)
        }

        func count(_ verb: String, _ t: Target, _ s: inout Store) {
            s.stats.byVerb[verb, default: 0] += 1
            s.stats.byResource["\(verb) \(t.resource.plural)", default: 0] += 1
            s.stats.accesses.insert(
                Access(verb: verb, group: t.resource.group, resource: t.resource.plural, namespace: t.namespace))
        }

        func get(_ t: Target, name: String) -> ServedResponse {
            store.withLock { s in
                count("get", t, &s)
                s.stats.gets["\(t.resource.plural)/\(t.namespace ?? "")/\(name)", default: 0] += 1
                guard let object = s.objects[t.resource]?["\(t.namespace ?? "")/\(name)"] else {
                    return Self.notFound(t.resource, name)
                }
                return Self.ok(object)
            }
        }

        func list(_ t: Target, query: [String: [String]]) -> ServedResponse {
            store.withLock { s in
                count("list", t, &s)
                var items = (s.objects[t.resource] ?? [:]).filter { key, _ in
                    t.namespace.map { key.hasPrefix("\($0)/") } ?? true
                }.sorted { $0.key < $1.key }
                if let token = query["continue"]?.first, !token.isEmpty {
                    guard let decoded = Data(base64Encoded: token).map({ String(decoding: $0, as: UTF8.self) }) else {
                        return Self.status(400, "BadRequest", "invalid continue token")
                    }
                    items = items.filter { $0.key > decoded }
                }
                var metadata: [String: JSONValue] = ["resourceVersion": .string(String(s.version))]
                if let limit = query["limit"]?.first.flatMap(Int.init), limit > 0, items.count > limit {
                    items = Array(items.prefix(limit))
                    metadata["continue"] = .string(Data(items.last!.key.utf8).base64EncodedString())
                    metadata["remainingItemCount"] = .number(0)
                }
                return Self.ok(
                    .object([
                        "kind": .string("\(t.resource.kind)List"), "apiVersion": .string(t.resource.apiVersion),
                        "metadata": .object(metadata), "items": .array(items.map(\.value)),
                    ]))
            }
        }

        func watch(_ t: Target, query: [String: [String]]) -> ServedResponse {
            let (stream, continuation) = AsyncStream<Data>.makeStream(bufferingPolicy: .unbounded)
            let id = UUID()
            let from = query["resourceVersion"]?.first.flatMap(Int.init)
            let bookmarks = query["allowWatchBookmarks"]?.first == "true"
            store.withLock { s in
                count("watch", t, &s)
                if let from, from > 0, from < s.compacted {
                    continuation.yield(
                        Self.line(
                            "ERROR",
                            Self.statusObject(410, "Expired", "too old resource version: \(from) (\(s.compacted))")))
                    continuation.finish()
                    return
                }
                if let from, from > 0 {
                    for change in s.history
                    where change.version > from && change.resource == t.resource
                        && (t.namespace == nil || change.namespace == t.namespace)
                    {
                        continuation.yield(Self.line(change.type, change.object))
                    }
                } else {
                    for (key, object) in (s.objects[t.resource] ?? [:]).sorted(by: { $0.key < $1.key })
                    where t.namespace.map({ key.hasPrefix("\($0)/") }) ?? true {
                        continuation.yield(Self.line("ADDED", object))
                    }
                }
                if bookmarks { continuation.yield(Self.bookmark(t.resource, version: s.version)) }
                s.watchers[id] = Watcher(
                    resource: t.resource, namespace: t.namespace, continuation: continuation, bookmarks: bookmarks)
            }
            continuation.onTermination = { [self] _ in _ = store.withLock { $0.watchers.removeValue(forKey: id) } }
            if let seconds = query["timeoutSeconds"]?.first.flatMap(Int.init), seconds > 0 {
                Task {
                    try? await Task.sleep(for: .seconds(seconds))
                    continuation.finish()
                }
            }
            return ServedResponse(status: 200, headers: [("Content-Type", "application/json")], stream: stream)
        }

        func create(_ t: Target, body: Data) -> ServedResponse {
            guard var object = try? JSONValue(parsing: body), case .object = object else {
                return Self.status(400, "BadRequest", "the body is not a JSON object")
            }
            var metadata = object["metadata"]?.objectValue ?? [:]
            if metadata["name"]?.stringValue == nil, let prefix = metadata["generateName"]?.stringValue {
                metadata["name"] = .string(prefix + String(UUID().uuidString.lowercased().prefix(5)))
            }
            guard let name = metadata["name"]?.stringValue, !name.isEmpty else {
                return Self.status(422, "Invalid", "metadata.name: Required value")
            }
            if let ns = t.namespace { metadata["namespace"] = .string(ns) }
            object = Self.setting(object, "metadata", .object(metadata))
            return store.withLock { s in
                count("create", t, &s)
                if s.objects[t.resource]?["\(t.namespace ?? "")/\(name)"] != nil {
                    return Self.status(409, "AlreadyExists", "\(t.resource.plural) \"\(name)\" already exists")
                }
                return Self.ok(Self.write(object, resource: t.resource, into: &s), status: 201)
            }
        }

        func replace(_ t: Target, name: String, body: Data) -> ServedResponse {
            guard let object = try? JSONValue(parsing: body), case .object = object else {
                return Self.status(400, "BadRequest", "the body is not a JSON object")
            }
            return store.withLock { s in
                count("update", t, &s)
                let key = "\(t.namespace ?? "")/\(name)"
                guard let current = s.objects[t.resource]?[key] else { return Self.notFound(t.resource, name) }
                if Self.isStale(object, current) { return Self.conflict(t.resource, name) }
                var merged = object
                merged = Self.setting(
                    merged, "metadata", Self.keepingIdentity(object, of: current, namespace: t.namespace))
                return Self.ok(Self.write(merged, resource: t.resource, into: &s))
            }
        }

        func patch(_ t: Target, name: String, body: Data, contentType: String, manager: String?) -> ServedResponse {
            guard contentType.hasPrefix("application/merge-patch+json") else {
                return Self.status(
                    415, "UnsupportedMediaType", "the body of the request was in an unknown format: \(contentType)")
            }
            guard let patch = try? JSONValue(parsing: body), case .object = patch else {
                return Self.status(400, "BadRequest", "the patch is not a JSON object")
            }
            return store.withLock { s in
                count("patch", t, &s)
                let key = "\(t.namespace ?? "")/\(name)"
                guard let current = s.objects[t.resource]?[key] else { return Self.notFound(t.resource, name) }
                if Self.isStale(patch, current) { return Self.conflict(t.resource, name) }
                var merged = Self.mergePatch(current, patch)
                merged = Self.setting(
                    merged, "metadata", Self.keepingIdentity(merged, of: current, namespace: t.namespace))
                merged = Self.updating(merged, from: current, manager: manager)
                return Self.ok(Self.write(merged, resource: t.resource, into: &s))
            }
        }

        /// The body names a `resourceVersion` (an optimistic-concurrency precondition) that is not the current one.
        static func isStale(_ body: JSONValue, _ current: JSONValue) -> Bool {
            guard let asked = body["metadata"]?["resourceVersion"]?.stringValue else { return false }
            return asked != current["metadata"]?["resourceVersion"]?.stringValue
        }

        func delete(_ t: Target, name: String) -> ServedResponse {
            store.withLock { s in
                count("delete", t, &s)
                let key = "\(t.namespace ?? "")/\(name)"
                guard let current = s.objects[t.resource]?[key] else { return Self.notFound(t.resource, name) }
                var metadata = current["metadata"]?.objectValue ?? [:]
                if !(metadata["finalizers"]?.arrayValue ?? []).isEmpty {
                    if metadata["deletionTimestamp"] == nil {
                        metadata["deletionTimestamp"] = .string(Self.now())
                    }
                    return Self.ok(
                        Self.write(Self.setting(current, "metadata", .object(metadata)), resource: t.resource, into: &s)
                    )
                }
                return Self.ok(Self.remove(t.resource, key: key, into: &s))
            }
        }
    }
}
