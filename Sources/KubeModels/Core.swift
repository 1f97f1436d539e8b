import Foundation

/// `metadata` of any Kubernetes object — the fields Chains reads or writes.
public struct ObjectMeta: Codable, Sendable, Hashable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int?
    public var creationTimestamp: String?
    public var deletionTimestamp: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var finalizers: [String]?
    public var ownerReferences: [OwnerReference]?

    public init(name: String? = nil, namespace: String? = nil, uid: String? = nil) {
        self.name = name
        self.namespace = namespace
        self.uid = uid
    }
}

public struct OwnerReference: Codable, Sendable, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var name: String?
    public var uid: String?
    public var controller: Bool?
}

public struct LocalObjectReference: Codable, Sendable, Hashable {
    public var name: String?
    public init(name: String?) { self.name = name }
}

/// `ObjectReference` as used in a ServiceAccount's `secrets` list.
public struct ObjectReference: Codable, Sendable, Hashable {
    public var name: String?
    public var namespace: String?
    public var kind: String?
    public init(name: String?) { self.name = name }
}

/// core/v1 Secret. `data` values are base64 as on the wire; `stringData` is accepted as `kubectl apply` does.
public struct Secret: Codable, Sendable, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var type: String?
    public var data: [String: String]?
    public var stringData: [String: String]?

    public init(metadata: ObjectMeta, type: String?, data: [String: String]?) {
        self.apiVersion = "v1"
        self.kind = "Secret"
        self.metadata = metadata
        self.type = type
        self.data = data
    }

    /// The decoded value of `key`, from `stringData` (which wins, as on apply) or base64 `data`.
    public func value(forKey key: String) -> Data? {
        if let s = stringData?[key] { return Data(s.utf8) }
        if let b = data?[key] { return Data(base64Encoded: b, options: .ignoreUnknownCharacters) }
        return nil
    }
}

public struct ServiceAccount: Codable, Sendable, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var secrets: [ObjectReference]?
    public var imagePullSecrets: [LocalObjectReference]?

    public init(
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
public struct Pod: Codable, Sendable, Hashable {
    public struct Spec: Codable, Sendable, Hashable {
        public var serviceAccountName: String?
        public var imagePullSecrets: [LocalObjectReference]?
        public init(serviceAccountName: String? = nil, imagePullSecrets: [LocalObjectReference]? = nil) {
            self.serviceAccountName = serviceAccountName
            self.imagePullSecrets = imagePullSecrets
        }
    }
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?

    public init(metadata: ObjectMeta, spec: Spec?) {
        self.apiVersion = "v1"
        self.kind = "Pod"
        self.metadata = metadata
        self.spec = spec
    }
}

public struct ConfigMap: Codable, Sendable, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var data: [String: String]?

    public init(metadata: ObjectMeta, data: [String: String]?) {
        self.apiVersion = "v1"
        self.kind = "ConfigMap"
        self.metadata = metadata
        self.data = data
    }
}

// MARK: - Decoding objects out of JSONValue with field paths in errors

extension JSONValue {
    /// Decodes a typed object; a type mismatch is reported with the dotted path of the field.
    public func decode<T: Decodable>(_ type: T.Type, source: String) throws(ManifestError) -> T {
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
