import Foundation

/// `metadata` of any Kubernetes object — the fields Chains reads or writes.
package struct ObjectMeta: Codable, Sendable, Hashable {
    package var name: String?
    package var generateName: String?
    package var namespace: String?
    package var uid: String?
    package var resourceVersion: String?
    package var generation: Int?
    package var creationTimestamp: String?
    package var deletionTimestamp: String?
    package var labels: [String: String]?
    package var annotations: [String: String]?
    package var finalizers: [String]?
    package var ownerReferences: [OwnerReference]?

    package init(name: String? = nil, namespace: String? = nil, uid: String? = nil) {
        self.name = name
        self.namespace = namespace
        self.uid = uid
    }
}

package struct OwnerReference: Codable, Sendable, Hashable {
    package var apiVersion: String?
    package var kind: String?
    package var name: String?
    package var uid: String?
    package var controller: Bool?
}

package struct LocalObjectReference: Codable, Sendable, Hashable {
    package var name: String?
    package init(name: String?) { self.name = name }
}

/// `ObjectReference` as used in a ServiceAccount's `secrets` list.
package struct ObjectReference: Codable, Sendable, Hashable {
    package var name: String?
    package var namespace: String?
    package var kind: String?
    package init(name: String?) { self.name = name }
}

/// core/v1 Secret. `data` values are base64 as on the wire; `stringData` is accepted as `kubectl apply` does.
package struct Secret: Codable, Sendable, Hashable {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta
    package var type: String?
    package var data: [String: String]?
    package var stringData: [String: String]?

    package init(metadata: ObjectMeta, type: String?, data: [String: String]?) {
        self.apiVersion = "v1"
        self.kind = "Secret"
        self.metadata = metadata
        self.type = type
        self.data = data
    }

    /// The decoded value of `key`, from `stringData` (which wins, as on apply) or base64 `data`.
    package func value(forKey key: String) -> Data? {
        if let s = stringData?[key] { return Data(s.utf8) }
        if let b = data?[key] { return Data(base64Encoded: b, options: .ignoreUnknownCharacters) }
        return nil
    }
}

package struct ServiceAccount: Codable, Sendable, Hashable {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta
    package var secrets: [ObjectReference]?
    package var imagePullSecrets: [LocalObjectReference]?

    package init(
        metadata: ObjectMeta, secrets: [ObjectReference]? = nil, imagePullSecrets: [LocalObjectReference]? = nil
    ) {
        self.apiVersion = "v1"
        self.kind = "ServiceAccount"
        self.metadata = metadata
        self.secrets = secrets
        self.imagePullSecrets = imagePullSecrets
    }
}

/// core/v1 Pod: only what credential lookup reads (`spec.imagePullSecrets`, `spec.serviceAccountName`).
package struct Pod: Codable, Sendable, Hashable {
    package struct Spec: Codable, Sendable, Hashable {
        package var serviceAccountName: String?
        package var imagePullSecrets: [LocalObjectReference]?
        package init(serviceAccountName: String? = nil, imagePullSecrets: [LocalObjectReference]? = nil) {
            self.serviceAccountName = serviceAccountName
            self.imagePullSecrets = imagePullSecrets
        }
    }
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta
    package var spec: Spec?

    package init(metadata: ObjectMeta, spec: Spec?) {
        self.apiVersion = "v1"
        self.kind = "Pod"
        self.metadata = metadata
        self.spec = spec
    }
}

package struct ConfigMap: Codable, Sendable, Hashable {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta
    package var data: [String: String]?

    package init(metadata: ObjectMeta, data: [String: String]?) {
        self.apiVersion = "v1"
        self.kind = "ConfigMap"
        self.metadata = metadata
        self.data = data
    }
}

// MARK: - Decoding objects out of JSONValue with field paths in errors

extension JSONValue {
    /// Decodes a typed object; a type mismatch is reported with the dotted path of the field.
    package func decode<T: Decodable>(_ type: T.Type, source: String) throws(ManifestError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: serializedData())
        } catch let error as DecodingError {
            throw ManifestError(decoding: error, source: source)
        } catch {
            throw ManifestError(code: .shape, source: source, reason: "\(error)")
        }
    }
}

extension ManifestError {
    init(decoding error: DecodingError, source: String) {
        func path(_ keys: [any CodingKey]) -> String {
            var out = ""
            for key in keys {
                if let index = key.intValue {
                    out += "[\(index)]"
                } else {
                    out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return out
        }
        switch error {
        case .typeMismatch(let type, let context):
            self.init(
                code: .shape, source: source, field: path(context.codingPath),
                reason: "expected \(ManifestError.friendly(type)); \(context.debugDescription)")
        case .valueNotFound(let type, let context):
            self.init(
                code: .shape, source: source, field: path(context.codingPath),
                reason: "expected \(ManifestError.friendly(type)), found null")
        case .keyNotFound(let key, let context):
            self.init(
                code: .shape, source: source, field: path(context.codingPath + [key]),
                reason: "required field is missing")
        case .dataCorrupted(let context):
            self.init(code: .shape, source: source, field: path(context.codingPath), reason: context.debugDescription)
        @unknown default:
            self.init(code: .shape, source: source, reason: "\(error)")
        }
    }

    static func friendly(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is Double.Type: return "a number"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return name
        }
    }
}
