import ChainsConfig
import Foundation

/// `storage.docdb.url`, a go-cloud docstore URL, read as Tekton Chains' go-cloud v0.46 reads it. Every parameter we
/// cannot honour is an error naming it (go-cloud also refuses parameters it does not know).
package enum DocDBURL: Sendable, Equatable {
    /// `dynamodb://TABLE?partition_key=Name[&region=R][&endpoint=URL]`.
    case dynamodb(table: String, region: String?, endpoint: URL?)
    /// `mongo://DB/COLLECTION?id_field=name[&revision_field=F]`; the server from `MONGO_SERVER_URL` (or the
    /// `storage.docdb.mongo-server-url*` keys). `idField` as given (go-cloud deletes that spelling from the document).
    case mongo(database: String, collection: String, idField: String, revisionField: String)

    static let key = "storage.docdb.url"

    package static func parse(_ text: String) throws(ChainsError) -> DocDBURL {
        guard let components = URLComponents(string: text), let scheme = components.scheme else {
            throw ChainsError(
                .badInput, "\(text) is not a docstore URL (dynamodb://TABLE?partition_key=Name&region=R)", key: key)
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard query[item.name] == nil else {
                throw ChainsError(.badInput, "names the parameter \(item.name) twice", key: key)
            }
            query[item.name] = item.value ?? ""
        }
        let host = components.percentEncodedHost.flatMap { $0.removingPercentEncoding } ?? ""
        switch scheme {
        case "dynamodb":
            return try dynamodb(table: host, path: components.path, query: query)
        case "mongo":
            let collection = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
            guard !host.isEmpty, !collection.isEmpty, !collection.contains("/") else {
                throw ChainsError(.badInput, "\(text) is not mongo://DATABASE/COLLECTION", key: key)
            }
            for name in query.keys.sorted() where !["id_field", "revision_field"].contains(name) {
                throw ChainsError(
                    .badInput, "the mongo parameter \(name) is not one go-cloud knows (id_field, revision_field)",
                    key: key)
            }
            // go-cloud finds the key by this field, case-insensitively, in Chains' document: only Name holds it.
            guard let idField = query["id_field"], idField.lowercased() == "name" else {
                throw ChainsError(
                    .badInput,
                    query["id_field"] == nil
                        ? "has no id_field: go-cloud then looks for a field _id, which Chains' documents lack, and Tekton Chains fails every store; add ?id_field=name"
                        : "id_field=\(query["id_field"]!): Chains' documents are keyed by their Name field; use id_field=name",
                    key: key)
            }
            let revision = query["revision_field"].flatMap { $0.isEmpty ? nil : $0 } ?? "DocstoreRevision"
            return .mongo(database: host, collection: collection, idField: idField, revisionField: revision)
        case "firestore":
            throw ChainsError(
                .unsupported,
                "firestore:// is not served by Chains in Swift: no Firestore emulator runs where it is tested, and an untested backend would be a guess; use dynamodb://, gcs or oci",
                key: key)
        default:
            throw ChainsError(
                .badInput, "the scheme \(scheme):// is not a docstore driver (dynamodb, mongo, firestore)", key: key)
        }
    }

    static func dynamodb(table: String, path: String, query: [String: String]) throws(ChainsError) -> DocDBURL {
        guard !table.isEmpty, path.isEmpty || path == "/" else {
            throw ChainsError(.badInput, "is not dynamodb://TABLE?partition_key=Name (one table name)", key: key)
        }
        // go-cloud's parameters: those read for the AWS config, those for the collection.
        let ignored: Set<String> = ["allow_scans", "consistent_read", "revision_field", "awssdk"]
        let served: Set<String> = ["partition_key", "region", "endpoint"]
        for name in query.keys.sorted() where !served.contains(name) && !ignored.contains(name) {
            let known = [
                "sort_key": "Chains' documents have no second key field: every store would fail; remove it",
                "profile":
                    "shared AWS config profiles are not read; give credentials through the environment, IRSA or EKS Pod Identity",
            ]
            throw ChainsError(
                .badInput,
                "the dynamodb parameter \(name) is not served: \(known[name] ?? "use partition_key, region and endpoint")",
                key: key)
        }
        guard let partition = query["partition_key"] else {
            throw ChainsError(
                .badInput, "has no partition_key; Chains' documents are keyed by Name: add ?partition_key=Name",
                key: key)
        }
        guard partition == "Name" else {
            throw ChainsError(
                .badInput,
                "partition_key=\(partition): Chains' documents are keyed by the field Name, matched case-sensitively (Tekton Chains fails every store with missing key field \"\(partition)\"); use partition_key=Name",
                key: key)
        }
        var endpoint: URL?
        if let text = query["endpoint"] {
            guard let url = URL(string: text), let host = url.host, url.scheme == "https" || url.scheme == "http" else {
                throw ChainsError(.badInput, "endpoint=\(text) is not an http(s) URL", key: key)
            }
            guard url.scheme == "https" || ["127.0.0.1", "localhost", "::1"].contains(host) else {
                throw ChainsError(
                    .badInput,
                    "endpoint=\(text) is plain http to another host: requests are signed with AWS credentials; use https",
                    key: key)
            }
            endpoint = url
        }
        return .dynamodb(table: table, region: query["region"].flatMap { $0.isEmpty ? nil : $0 }, endpoint: endpoint)
    }
}
