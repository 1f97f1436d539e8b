import Foundation
import KubeModels

extension KubeAPIServer.API {
    typealias Resource = KubeAPIServer.Resource

    /// Stores `object` (create or replace): uid and creationTimestamp kept or made, resourceVersion from the store's
    /// counter, kind and apiVersion set; a change event for watchers. An object being deleted whose last finalizer
    /// is gone is removed instead.
    static func write(_ object: JSONValue, resource: Resource, into s: inout KubeAPIServer.Store) -> JSONValue {
        var metadata = object["metadata"]?.objectValue ?? [:]
        let namespace = metadata["namespace"]?.stringValue ?? ""
        let name = metadata["name"]?.stringValue ?? ""
        let key = "\(namespace)/\(name)"
        let existing = s.objects[resource]?[key]
        if metadata["deletionTimestamp"] != nil, (metadata["finalizers"]?.arrayValue ?? []).isEmpty, existing != nil {
            return remove(resource, key: key, into: &s)
        }
        s.version += 1
        metadata["uid"] = existing?["metadata"]?["uid"] ?? metadata["uid"] ?? .string(UUID().uuidString.lowercased())
        metadata["creationTimestamp"] =
            existing?["metadata"]?["creationTimestamp"] ?? metadata["creationTimestamp"] ?? .string(now())
        metadata["resourceVersion"] = .string(String(s.version))
        if metadata["finalizers"]?.arrayValue?.isEmpty == true { metadata["finalizers"] = nil }
        var stored = setting(object, "metadata", .object(metadata))
        stored = setting(stored, "kind", .string(resource.kind))
        stored = setting(stored, "apiVersion", .string(resource.apiVersion))
        s.objects[resource, default: [:]][key] = stored
        record(existing == nil ? "ADDED" : "MODIFIED", stored, resource: resource, namespace: namespace, into: &s)
        return stored
    }

    static func remove(_ resource: Resource, key: String, into s: inout KubeAPIServer.Store) -> JSONValue {
        guard let object = s.objects[resource]?.removeValue(forKey: key) else { return .null }
        s.version += 1
        var metadata = object["metadata"]?.objectValue ?? [:]
        metadata["resourceVersion"] = .string(String(s.version))
        let gone = setting(object, "metadata", .object(metadata))
        record("DELETED", gone, resource: resource, namespace: metadata["namespace"]?.stringValue ?? "", into: &s)
        return gone
    }

    static func record(
        _ type: String, _ object: JSONValue, resource: Resource, namespace: String, into s: inout KubeAPIServer.Store
    ) {
        s.history.append(
            KubeAPIServer.Change(
                version: s.version, resource: resource, namespace: namespace, type: type, object: object))
        if s.history.count > 10_000 {
            s.compacted = s.history[999].version
            s.history.removeFirst(1000)
        }
        let event = line(type, object)
        for w in s.watchers.values where w.resource == resource && (w.namespace == nil || w.namespace == namespace) {
            w.continuation.yield(event)
        }
    }

    /// The identity fields a client cannot change by replacing or patching.
    static func keepingIdentity(_ object: JSONValue, of current: JSONValue, namespace: String?) -> JSONValue {
        var metadata = object["metadata"]?.objectValue ?? [:]
        for field in ["name", "namespace", "uid", "creationTimestamp", "deletionTimestamp"] {
            metadata[field] = current["metadata"]?[field]
        }
        return .object(metadata)
    }

    /// RFC 7386 JSON merge patch.
    static func mergePatch(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(let changes) = patch else { return patch }
        var result = target.objectValue ?? [:]
        for (key, value) in changes {
            if case .null = value {
                result[key] = nil
            } else {
                result[key] = mergePatch(result[key] ?? .null, value)
            }
        }
        return .object(result)
    }

    static func setting(_ object: JSONValue, _ key: String, _ value: JSONValue) -> JSONValue {
        var o = object.objectValue ?? [:]
        o[key] = value
        return .object(o)
    }

    static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date())
    }

    static func line(_ type: String, _ object: JSONValue) -> Data {
        JSONValue.object(["type": .string(type), "object": object]).serializedData() + Data("\n".utf8)
    }

    static func bookmark(_ resource: Resource, version: Int) -> Data {
        line(
            "BOOKMARK",
            .object([
                "kind": .string(resource.kind), "apiVersion": .string(resource.apiVersion),
                "metadata": .object(["resourceVersion": .string(String(version))]),
            ]))
    }

    static func ok(_ object: JSONValue, status: Int = 200) -> ServedResponse {
        ServedResponse(status: status, headers: [("Content-Type", "application/json")], body: object.serializedData())
    }

    static func statusObject(_ code: Int, _ reason: String, _ message: String) -> JSONValue {
        .object([
            "kind": "Status", "apiVersion": "v1", "metadata": .object([:]), "status": "Failure",
            "message": .string(message), "reason": .string(reason), "code": .number(Double(code)),
        ])
    }

    static func status(_ code: Int, _ reason: String, _ message: String) -> ServedResponse {
        ok(statusObject(code, reason, message), status: code)
    }

    static func notFound(_ resource: Resource, _ name: String) -> ServedResponse {
        let group = resource.group.isEmpty ? "" : ".\(resource.group)"
        return status(404, "NotFound", "\(resource.plural)\(group) \"\(name)\" not found")
    }

    static func conflict(_ resource: Resource, _ name: String) -> ServedResponse {
        let group = resource.group.isEmpty ? "" : ".\(resource.group)"
        return status(
            409, "Conflict",
            "Operation cannot be fulfilled on \(resource.plural)\(group) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again"
        )
    }
}
