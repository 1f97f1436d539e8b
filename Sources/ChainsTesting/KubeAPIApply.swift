import Foundation
import KubeModels

/// Server-side apply (`PATCH` with `application/apply-patch+yaml`, `?fieldManager=…&force=…`) of what the controller
/// applies — `metadata.annotations`, `metadata.labels` (maps: each key a field) and `metadata.finalizers` (a set:
/// each value a field, shared by the managers that apply it) — with ownership kept in `metadata.managedFields` as
/// the API server keeps it (FieldsV1). A field another manager owns with another value is a conflict (409) unless
/// `force`; a field the manager applied before and leaves out now is removed unless another manager owns it too.
/// A merge patch with `?fieldManager=` records an `Update` owner of what it sets. Apply creates a missing object
/// (a `metadata.uid` in it is a precondition: 409 when it does not match, or the object is missing). Other fields
/// are refused (422): the in-process server applies metadata only.
extension KubeAPIServer.API {
    enum Field: Hashable, Comparable {
        case annotation(String), label(String), finalizer(String)

        var path: String {
            switch self {
            case .annotation(let k): return ".metadata.annotations.\(k)"
            case .label(let k): return ".metadata.labels.\(k)"
            case .finalizer(let v): return ".metadata.finalizers[\(v)]"
            }
        }
    }

    struct Owner {
        var manager: String
        var operation: String
        var fields: Set<Field>
    }

    func apply(_ t: Target, name: String, body: Data, query: [String: [String]]) -> ServedResponse {
        guard let manager = query["fieldManager"]?.first, !manager.isEmpty else {
            return Self.status(
                422, "Invalid", "PATCH is invalid: fieldManager: Required value: is required for apply patch")
        }
        let force = query["force"]?.first == "true"
        guard let applied = try? ManifestReader.parse(body, source: "apply").documents.first, case .object = applied
        else { return Self.status(400, "BadRequest", "the apply patch is not a YAML or JSON object") }
        let extra = Set((applied.objectValue ?? [:]).keys).subtracting(["apiVersion", "kind", "metadata"])
            .union(
                Set((applied["metadata"]?.objectValue ?? [:]).keys)
                    .subtracting(["name", "namespace", "uid", "annotations", "labels", "finalizers"]))
        guard extra.isEmpty else {
            return Self.status(422, "Invalid", "the in-process server applies metadata only, not \(extra.sorted())")
        }
        return store.withLock { s in
            count("patch", t, &s)
            let key = "\(t.namespace ?? "")/\(name)"
            let current = s.objects[t.resource]?[key]
            if let uid = applied["metadata"]?["uid"]?.stringValue, uid != current?["metadata"]?["uid"]?.stringValue {
                return Self.status(
                    409, "Conflict",
                    "Precondition failed: UID in precondition: \(uid), UID in object meta: \(current?["metadata"]?["uid"]?.stringValue ?? "")"
                )
            }
            // Apply creates what is not there (with the uid precondition above, a deleted run is not made again).
            guard let current else {
                var metadata = applied["metadata"]?.objectValue ?? [:]
                metadata["namespace"] = t.namespace.map { .string($0) }
                metadata["managedFields"] = Self.encode([
                    Owner(manager: manager, operation: "Apply", fields: Self.fields(applied["metadata"]))
                ])
                let object = Self.write(
                    Self.setting(applied, "metadata", .object(metadata)), resource: t.resource, into: &s)
                return Self.ok(object, status: 201)
            }
            switch Self.applying(applied, to: current, manager: manager, force: force) {
            case .failure(let conflicts):
                let list = conflicts.list.map { "conflict with \"\($0.manager)\": \($0.field.path)" }
                return Self.status(
                    409, "Conflict", "Apply failed with \(list.count) conflict(s): \(list.joined(separator: "; "))"
                )
            case .success(let merged):
                return Self.ok(Self.write(merged, resource: t.resource, into: &s))
            }
        }
    }

    static func applying(
        _ applied: JSONValue, to current: JSONValue, manager: String, force: Bool
    ) -> Result<JSONValue, ApplyConflicts> {
        var metadata = current["metadata"]?.objectValue ?? [:]
        var owners = Self.owners(metadata["managedFields"])
        let wanted = Self.fields(applied["metadata"])
        var conflicts: [(manager: String, field: Field)] = []
        for field in wanted.sorted() {
            for i in owners.indices where owners[i].manager != manager && owners[i].fields.contains(field) {
                guard
                    Self.value(of: field, in: metadata)
                        != Self.value(of: field, in: applied["metadata"]?.objectValue ?? [:])
                else { continue }
                if force { owners[i].fields.remove(field) } else { conflicts.append((owners[i].manager, field)) }
            }
        }
        if !conflicts.isEmpty { return .failure(ApplyConflicts(list: conflicts)) }
        let before = owners.first { $0.manager == manager && $0.operation == "Apply" }?.fields ?? []
        owners.removeAll { $0.manager == manager && $0.operation == "Apply" }
        for field in before.subtracting(wanted) where !owners.contains(where: { $0.fields.contains(field) }) {
            Self.set(field, nil, in: &metadata)
        }
        for field in wanted {
            Self.set(field, Self.value(of: field, in: applied["metadata"]?.objectValue ?? [:]), in: &metadata)
        }
        owners.append(Owner(manager: manager, operation: "Apply", fields: wanted))
        metadata["managedFields"] = Self.encode(owners.filter { !$0.fields.isEmpty })
        return .success(setting(current, "metadata", .object(metadata)))
    }

    struct ApplyConflicts: Error {
        var list: [(manager: String, field: Field)]
    }

    /// Ownership after a merge patch by `manager` (an `Update`): what it set is its, what it removed is no one's.
    static func updating(_ patched: JSONValue, from current: JSONValue, manager: String?) -> JSONValue {
        var metadata = patched["metadata"]?.objectValue ?? [:]
        var owners = Self.owners(current["metadata"]?["managedFields"])
        let now = Self.fields(patched["metadata"])
        let changed = now.filter {
            Self.value(of: $0, in: metadata) != Self.value(of: $0, in: current["metadata"]?.objectValue ?? [:])
        }
        for i in owners.indices { owners[i].fields.formIntersection(now) }
        if let manager, !changed.isEmpty {
            // A map key set to another value is the patcher's alone; a finalizer (a set item) stays shared.
            let taken = changed.filter { if case .finalizer = $0 { return false } else { return true } }
            for i in owners.indices where owners[i].manager != manager { owners[i].fields.subtract(taken) }
            if let i = owners.firstIndex(where: { $0.manager == manager && $0.operation == "Update" }) {
                owners[i].fields.formUnion(changed)
            } else {
                owners.append(Owner(manager: manager, operation: "Update", fields: changed))
            }
        }
        let kept = owners.filter { !$0.fields.isEmpty }
        metadata["managedFields"] = kept.isEmpty ? nil : Self.encode(kept)
        return setting(patched, "metadata", .object(metadata))
    }

    static func fields(_ metadata: JSONValue?) -> Set<Field> {
        var out: Set<Field> = []
        for k in (metadata?["annotations"]?.objectValue ?? [:]).keys { out.insert(.annotation(k)) }
        for k in (metadata?["labels"]?.objectValue ?? [:]).keys { out.insert(.label(k)) }
        for v in (metadata?["finalizers"]?.arrayValue ?? []).compactMap(\.stringValue) { out.insert(.finalizer(v)) }
        return out
    }

    static func value(of field: Field, in metadata: [String: JSONValue]) -> JSONValue? {
        switch field {
        case .annotation(let k): return metadata["annotations"]?[k]
        case .label(let k): return metadata["labels"]?[k]
        case .finalizer(let v):
            return (metadata["finalizers"]?.arrayValue ?? []).contains(.string(v)) ? .string(v) : nil
        }
    }

    static func set(_ field: Field, _ value: JSONValue?, in metadata: inout [String: JSONValue]) {
        func map(_ name: String, _ key: String) {
            var m = metadata[name]?.objectValue ?? [:]
            m[key] = value
            metadata[name] = m.isEmpty ? nil : .object(m)
        }
        switch field {
        case .annotation(let k): map("annotations", k)
        case .label(let k): map("labels", k)
        case .finalizer(let v):
            var list = (metadata["finalizers"]?.arrayValue ?? []).compactMap(\.stringValue)
            if value == nil { list.removeAll { $0 == v } } else if !list.contains(v) { list.append(v) }
            metadata["finalizers"] = list.isEmpty ? nil : .array(list.map { .string($0) })
        }
    }

    /// `managedFields` entries (FieldsV1) → owners.
    static func owners(_ managed: JSONValue?) -> [Owner] {
        (managed?.arrayValue ?? []).map { entry in
            let meta = entry["fieldsV1"]?["f:metadata"]
            var fields: Set<Field> = []
            for k in (meta?["f:annotations"]?.objectValue ?? [:]).keys where k.hasPrefix("f:") {
                fields.insert(.annotation(String(k.dropFirst(2))))
            }
            for k in (meta?["f:labels"]?.objectValue ?? [:]).keys where k.hasPrefix("f:") {
                fields.insert(.label(String(k.dropFirst(2))))
            }
            for k in (meta?["f:finalizers"]?.objectValue ?? [:]).keys where k.hasPrefix("v:") {
                if let v = try? JSONValue(parsing: Data(k.dropFirst(2).utf8)).stringValue {
                    fields.insert(.finalizer(v))
                }
            }
            return Owner(
                manager: entry["manager"]?.stringValue ?? "", operation: entry["operation"]?.stringValue ?? "Update",
                fields: fields)
        }
    }

    static func encode(_ owners: [Owner]) -> JSONValue {
        .array(
            owners.map { owner in
                var annotations: [String: JSONValue] = [:]
                var labels: [String: JSONValue] = [:]
                var finalizers: [String: JSONValue] = [:]
                for field in owner.fields {
                    switch field {
                    case .annotation(let k): annotations["f:\(k)"] = .object([:])
                    case .label(let k): labels["f:\(k)"] = .object([:])
                    case .finalizer(let v): finalizers["v:\(JSONValue.string(v).serialized())"] = .object([:])
                    }
                }
                var meta: [String: JSONValue] = [:]
                if !annotations.isEmpty { meta["f:annotations"] = .object(annotations) }
                if !labels.isEmpty { meta["f:labels"] = .object(labels) }
                if !finalizers.isEmpty { meta["f:finalizers"] = .object(finalizers) }
                return .object([
                    "manager": .string(owner.manager), "operation": .string(owner.operation),
                    "apiVersion": "v1", "time": .string(Self.now()), "fieldsType": "FieldsV1",
                    "fieldsV1": .object(["f:metadata": .object(meta)]),
                ])
            })
    }
}
