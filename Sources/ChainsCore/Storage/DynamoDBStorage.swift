import ChainsConfig
import CloudCredentials
import Foundation
import HTTPTransport
import KubeModels
import Signing
import Synchronization

/// The `docdb` backend on `dynamodb://TABLE?partition_key=Name`: one item per stored payload, encoded as go-cloud
/// encodes Tekton Chains' `SignedDocument` (`DynamoDBDocument`), written with `PutItem` (an overwrite, as go-cloud's
/// `Put`) and read back with a consistent `GetItem` that must return the same item. The table is described once,
/// before the first write (a missing table or one not keyed by `Name` is an error naming it). SigV4 with the AWS
/// credential chain the KMS signer and ECR keychain use.
package final class DynamoDBStorage: StorageBackend {
    package let kind = StorageKind.docdb
    let table: String
    let region: String
    let endpoint: URL
    let chain: AWSCredentialChain
    let transport: any HTTPTransport
    let described = Mutex<Bool>(false)

    package init(table: String, region: String, endpoint: URL, chain: AWSCredentialChain, transport: any HTTPTransport)
    {
        self.table = table
        self.region = region
        self.endpoint = endpoint
        self.chain = chain
        self.transport = transport
    }

    var peer: String { "DynamoDB table \(table) (\(endpoint.absoluteString), \(chain.identity))" }

    package func store(_ item: SignedArtifact, for run: RunContext) async throws -> StorageReceipt {
        let what = "document \(item.shortKey)"
        do throws(BackendError) {
            let document = try DynamoDBDocument.item(for: item)
            let size = DynamoDBDocument.size(of: document)
            guard size <= DynamoDBDocument.limit else {
                throw BackendError(
                    .failed, backend: kind, peer: peer,
                    reason:
                        "the item would be \(size / 1024) KB, over DynamoDB's 400 KB item limit (Chains' document holds the payload about four times: Signed, Object and the base64 Signature); store large provenance in gcs or oci"
                )
            }
            try await describeOnce()
            _ = try await call("PutItem", ["TableName": table, "Item": document], what: "PutItem of \(what)")
            let read = try await call(
                "GetItem", ["TableName": table, "Key": ["Name": ["S": item.shortKey]], "ConsistentRead": true],
                what: "GetItem of \(what)")
            guard let stored = read["Item"] else {
                throw BackendError(
                    .failed, backend: kind, peer: peer,
                    reason: "GetItem after PutItem finds no \(what): it was not stored")
            }
            guard DynamoDBDocument.same(stored, document) else {
                throw BackendError(
                    .failed, backend: kind, peer: peer,
                    reason: "GetItem after PutItem returns another \(what) than was written")
            }
        } catch {
            throw StorageError(
                backend: kind, item: "\(table)/\(item.shortKey)", reason: error.description, underlying: error)
        }
        var receipt = StorageReceipt(backend: kind)
        receipt.locations = [
            .init(
                target: "dynamodb://\(table) Name=\(item.shortKey)", credential: chain.identity,
                detail: "PutItem through \(endpoint.absoluteString); read back", alreadyPresent: false)
        ]
        return receipt
    }

    /// The item stored under `shortKey` (a consistent read), nil when there is none.
    package func item(_ shortKey: String) async throws(BackendError) -> [String: Any]? {
        let read = try await call(
            "GetItem", ["TableName": table, "Key": ["Name": ["S": shortKey]], "ConsistentRead": true],
            what: "GetItem of document \(shortKey)")
        return read["Item"] as? [String: Any]
    }

    /// DescribeTable, once per process: the table must exist and be keyed by `Name` (a string) alone.
    func describeOnce() async throws(BackendError) {
        guard !described.withLock({ $0 }) else { return }
        let answer = try await call("DescribeTable", ["TableName": table], what: "DescribeTable")
        let description = answer["Table"] as? [String: Any]
        let keys = (description?["KeySchema"] as? [[String: Any]]) ?? []
        let types = (description?["AttributeDefinitions"] as? [[String: Any]]) ?? []
        let nameType = types.first { $0["AttributeName"] as? String == "Name" }?["AttributeType"] as? String
        guard keys.count == 1, keys[0]["AttributeName"] as? String == "Name", keys[0]["KeyType"] as? String == "HASH",
            nameType == "S"
        else {
            let shown = keys.map { "\($0["AttributeName"] ?? "?") (\($0["KeyType"] ?? "?"))" }.joined(separator: ", ")
            throw BackendError(
                .failed, backend: kind, peer: peer,
                reason:
                    "the table's key is \(shown.isEmpty ? "not described" : shown), not the partition key Name (a string) alone: Chains' documents cannot be stored there"
            )
        }
        described.withLock { $0 = true }
    }

    func call(_ action: String, _ body: [String: Any], what: String) async throws(BackendError) -> [String: Any] {
        let credentials: AWSCredentials
        do {
            credentials = try await chain.credentials()
        } catch {
            throw BackendError(
                error.isRetryable ? .unavailable : .refused, backend: kind, peer: peer,
                reason: "no AWS credentials: \(error.description)")
        }
        let data = (try? JSONSerialization.data(withJSONObject: body)) ?? Data()
        var request = HTTPRequest(
            method: "POST", url: endpoint,
            headers: ["Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.\(action)"],
            body: data)
        SigV4.sign(&request, service: "dynamodb", region: region, credentials: credentials)
        let response = try await BackendHTTP.send(
            request, via: transport, backend: kind, peer: peer, what: what, message: Self.message,
            kindOf: { status, body in Self.kind(status: status, body: body, table: self.table) })
        return (try? JSONSerialization.jsonObject(with: response.body) as? [String: Any]) ?? [:]
    }

    /// The exception's short name from `__type` (`com.amazonaws.dynamodb.v20120810#ResourceNotFoundException`).
    static func exception(_ body: Data) -> String? {
        let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
        return (json?["__type"] as? String).map { String($0.split(separator: "#").last ?? "") }
    }

    static func message(_ body: Data) -> String? {
        let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
        let text = (json?["message"] ?? json?["Message"]) as? String
        let parts = [exception(body), text].compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: ": ")
    }

    /// AWS answers most refusals with 400: the exception says which are credentials, throttling, or the request.
    static func kind(status: Int, body: Data, table: String) -> BackendError.Kind? {
        switch exception(body) {
        case "UnrecognizedClientException", "AccessDeniedException", "InvalidSignatureException",
            "ExpiredTokenException", "MissingAuthenticationTokenException", "IncompleteSignature":
            return .refused
        case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
            "LimitExceededException", "InternalServerError", "ServiceUnavailable":
            return .unavailable
        default:
            return nil
        }
    }
}

/// Tekton Chains' `SignedDocument` as go-cloud's DynamoDB driver encodes it (attribute names are the Go field
/// names): `Name` S (the short key), `Signed` B (the payload), `Signature` S (base64 of the signature), `Cert` and
/// `Chain` S or NULL when empty, `Object` the payload's JSON as a map — strings S (`""` as NULL), numbers N in Go's
/// `FormatFloat(f, 'f', -1, 64)`, booleans BOOL, null NULL, arrays L, objects M.
package enum DynamoDBDocument {
    /// DynamoDB's item size limit.
    package static let limit = 400 * 1024

    package static func item(for artifact: SignedArtifact) throws(BackendError) -> [String: Any] {
        guard let object = try? JSONValue(parsing: artifact.payload) else {
            throw BackendError(
                .failed, backend: .docdb, peer: "docdb", reason: "the payload is not JSON; a document needs its Object")
        }
        func string(_ text: String) -> [String: Any] { text.isEmpty ? ["NULL": true] : ["S": text] }
        return [
            "Name": ["S": artifact.shortKey], "Signed": ["B": artifact.payload.base64EncodedString()],
            "Signature": ["S": artifact.signature.base64EncodedString()],
            "Cert": string(CertificatePEM.leaf(artifact.certificateChain)),
            "Chain": string(CertificatePEM.rest(artifact.certificateChain)), "Object": value(object),
        ]
    }

    /// One JSON value as an attribute value.
    package static func value(_ json: JSONValue) -> [String: Any] {
        switch json {
        case .string(let text): return text.isEmpty ? ["NULL": true] : ["S": text]
        case .bool(let flag): return ["BOOL": flag]
        case .number(let number): return ["N": goFixed(number)]
        case .array(let array): return ["L": array.map(value)]
        case .object(let object): return ["M": object.mapValues(value)]
        case .null: return ["NULL": true]
        }
    }

    /// Go's `strconv.FormatFloat(d, 'f', -1, 64)`: the shortest digits that read back as `d`, never an exponent.
    package static func goFixed(_ d: Double) -> String {
        guard d.isFinite else { return d.isNaN ? "NaN" : (d < 0 ? "-Inf" : "+Inf") }
        let shortest = "\(abs(d))"  // Swift prints the shortest round-trip digits, maybe with an exponent
        let parts = shortest.split(separator: "e")
        let mantissa = String(parts[0])
        let exponent = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        let point =
            mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) }
            ?? mantissa.count
        var digits = mantissa.replacingOccurrences(of: ".", with: "")
        var position = point + exponent
        // Leading zeros do not count; trailing zeros after the point are dropped below.
        while digits.count > 1, digits.first == "0" {
            digits.removeFirst()
            position -= 1
        }
        var text: String
        if position <= 0 {
            text = "0." + String(repeating: "0", count: -position) + digits
        } else if position >= digits.count {
            text = digits + String(repeating: "0", count: position - digits.count)
        } else {
            let cut = digits.index(digits.startIndex, offsetBy: position)
            text = String(digits[..<cut]) + "." + String(digits[cut...])
        }
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        if text == "0" && digits.allSatisfy({ $0 == "0" }) { return d.sign == .minus ? "-0" : "0" }
        return (d < 0 ? "-" : "") + text
    }

    /// The item's size as DynamoDB counts it: names and values in bytes (UTF-8 strings, raw binary, about one byte
    /// per two digits of a number), one byte for a boolean or null, three for a map or list plus one per element.
    package static func size(of item: [String: Any]) -> Int {
        item.reduce(0) { $0 + $1.key.utf8.count + valueSize($1.value) }
    }

    static func valueSize(_ attribute: Any) -> Int {
        guard let attribute = attribute as? [String: Any], let (type, value) = attribute.first else { return 1 }
        switch (type, value) {
        case ("S", let text as String): return text.utf8.count
        case ("B", let text as String): return Data(base64Encoded: text)?.count ?? text.utf8.count
        case ("N", let text as String): return (text.filter(\.isNumber).count + 1) / 2 + 1
        case ("L", let list as [Any]): return 3 + list.reduce(0) { $0 + 1 + valueSize($1) }
        case ("M", let map as [String: Any]):
            return 3 + map.reduce(0) { $0 + 1 + $1.key.utf8.count + valueSize($1.value) }
        default: return 1
        }
    }

    /// Whether the item read back is the one written: numbers compared as decimals (DynamoDB normalizes them).
    package static func same(_ read: Any, _ written: Any) -> Bool {
        func normal(_ value: Any) -> Any {
            switch value {
            case let map as [String: Any]:
                if map.count == 1, let n = map["N"] as? String { return ["N": Decimal(string: n)?.description ?? n] }
                return map.mapValues(normal)
            case let list as [Any]: return list.map(normal)
            default: return value
            }
        }
        func bytes(_ value: Any) -> Data? {
            try? JSONSerialization.data(withJSONObject: normal(value), options: [.sortedKeys, .fragmentsAllowed])
        }
        guard let a = bytes(read), let b = bytes(written),
            let ra = try? JSONSerialization.jsonObject(with: a), let rb = try? JSONSerialization.jsonObject(with: b),
            let ca = bytes(ra), let cb = bytes(rb)
        else { return false }
        return ca == cb
    }
}
