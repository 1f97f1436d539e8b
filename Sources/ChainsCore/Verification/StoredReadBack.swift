import ChainsConfig
import Foundation
import HTTPTransport
import KubeModels
import MongoWire

/// What a storage backend holds for a run, read back and written as the `tekton` backend's annotations would hold
/// it (`chains.tekton.dev/{signature,payload,cert,chain}-<key>`, base64), so `verify-run` checks every backend the
/// same way. The run's other annotations (its log entry, timestamps) are kept.
package enum StoredReadBack {
    /// The run's annotations with the storage keys replaced by what `kind` holds; notes say what was not found.
    package static func annotations(
        from kind: StorageKind, run: AnyRun, config: ChainsConfig, environment: [String: String],
        transport: any HTTPTransport, notes: inout [String]
    ) async throws(ChainsError) -> [String: String] {
        let meta = run.run
        if kind == .tekton { return meta.metadata.annotations ?? [:] }
        var out = (meta.metadata.annotations ?? [:]).filter { !isStorageKey($0.key) }
        let found: [String: Stored]
        do {
            switch try SigningAssembly.makeBackend(kind, environment, config: config, transport: transport) {
            case let gcs as GCSStorage:
                found = try await fromGCS(gcs, context: RunContext(run: meta))
            case let docdb as any DocumentReadBack:
                found = try await fromDocDB(docdb, run: meta, notes: &notes)
            case let archivista as ArchivistaStorage:
                found = try await fromArchivista(archivista, annotations: meta.metadata.annotations ?? [:])
            default:
                throw ChainsError(.unsupported, "reading back from \(kind) is not built", key: "--storage")
            }
        } catch {
            throw ChainsError.classify(error, stage: .storage)
        }
        if found.isEmpty { notes.append("\(kind) holds nothing for \(meta.displayName)") }
        for (short, stored) in found {
            let keys = ChainsAnnotations.storageKeys(shortKey: short)
            out[keys.signature] = stored.signature.base64EncodedString()
            out[keys.payload] = stored.payload.base64EncodedString()
            out[keys.cert] = Data(stored.cert.utf8).base64EncodedString()
            out[keys.chain] = Data(stored.chain.utf8).base64EncodedString()
        }
        return out
    }

    struct Stored {
        var signature: Data
        var payload: Data
        var cert = ""
        var chain = ""
    }

    static func isStorageKey(_ key: String) -> Bool {
        ["signature-", "payload-", "cert-", "chain-"].contains { key.hasPrefix(ChainsAnnotations.prefix + $0) }
    }

    /// Every `<key>.signature` under the run's folder, with its `.payload`, `.cert` and `.chain`.
    static func fromGCS(_ gcs: GCSStorage, context: RunContext) async throws(BackendError) -> [String: Stored] {
        let folder = GCSStorage.folder(for: context) + "/"
        let names = try await gcs.objects(under: folder)
        var out: [String: Stored] = [:]
        for name in names where name.hasSuffix(".signature") {
            let base = String(name.dropLast(".signature".count))
            let short = String(base.dropFirst(folder.count))
            let signature = try await gcs.download(name)
            let payload = try await gcs.download(base + ".payload")
            let cert = names.contains(base + ".cert") ? try await gcs.download(base + ".cert") : Data()
            let chain = names.contains(base + ".chain") ? try await gcs.download(base + ".chain") : Data()
            out[short] = Stored(
                signature: signature, payload: payload, cert: String(decoding: cert, as: UTF8.self),
                chain: String(decoding: chain, as: UTF8.self))
        }
        return out
    }

    /// The run's own document, then one per image its provenance names as a subject (and any the run's
    /// annotations name).
    static func fromDocDB(
        _ docdb: any DocumentReadBack, run: any TektonRun, notes: inout [String]
    ) async throws(BackendError) -> [String: Stored] {
        let own = "\(run is PipelineRun ? "pipelinerun" : "taskrun")-\(run.uid)"
        var out: [String: Stored] = [:]
        guard let stored = try await docdb.stored(own) else {
            notes.append("\(docdb.label) has no document \(own)")
            return out
        }
        out[own] = stored
        let statement = try? JSONValue(parsing: stored.payload)
        var keys = Set(
            (statement?["subject"]?.arrayValue ?? []).compactMap { $0["digest"]?["sha256"]?.stringValue?.prefix(12) }
                .map(String.init))
        let prefix = ChainsAnnotations.prefix + "signature-"
        for key in (run.metadata.annotations ?? [:]).keys where key.hasPrefix(prefix) {
            keys.insert(String(key.dropFirst(prefix.count)))
        }
        keys.remove(own)
        for key in keys.sorted() {
            guard let image = try await docdb.stored(key) else {
                notes.append("\(docdb.label) has no document \(key), which the run's provenance names")
                continue
            }
            out[key] = image
        }
        return out
    }

    /// A DynamoDB item as go-cloud wrote it: `Signed` B, `Signature` S (base64), `Cert`/`Chain` S or NULL.
    static func stored(_ item: [String: Any]) -> Stored? {
        func string(_ name: String) -> String? { (item[name] as? [String: Any])?["S"] as? String }
        guard let payload = ((item["Signed"] as? [String: Any])?["B"] as? String).flatMap({ Data(base64Encoded: $0) }),
            let signature = string("Signature").flatMap({ Data(base64Encoded: $0) })
        else { return nil }
        return Stored(signature: signature, payload: payload, cert: string("Cert") ?? "", chain: string("Chain") ?? "")
    }

    /// Each envelope the run's `chains-in-swift.dev/archivista-<key>` annotations name (no certificate is kept there).
    static func fromArchivista(
        _ archivista: ArchivistaStorage, annotations: [String: String]
    ) async throws(BackendError) -> [String: Stored] {
        let prefix = ArchivistaStorage.annotationKey(shortKey: "")
        var out: [String: Stored] = [:]
        for (key, gitoid) in annotations where key.hasPrefix(prefix) {
            let envelope = try await archivista.download(gitoid)
            let payload = (try? JSONValue(parsing: envelope))?["payload"]?.stringValue.flatMap {
                Data(base64Encoded: $0)
            }
            out[String(key.dropFirst(prefix.count))] = Stored(signature: envelope, payload: payload ?? Data())
        }
        return out
    }
}

/// A `docdb` backend that reads a document back by its key, as `verify-run` needs.
protocol DocumentReadBack: StorageBackend {
    var label: String { get }
    /// The document under `key`, nil when there is none or it is not a Chains document.
    func stored(_ key: String) async throws(BackendError) -> StoredReadBack.Stored?
}

extension DynamoDBStorage: DocumentReadBack {
    var label: String { "DynamoDB" }
    func stored(_ key: String) async throws(BackendError) -> StoredReadBack.Stored? {
        try await item(key).flatMap(StoredReadBack.stored)
    }
}

extension MongoStorage: DocumentReadBack {
    var label: String { "MongoDB" }
    /// A document as go-cloud wrote it: `Signed` binary, `Signature` string (base64), `Cert`/`Chain` strings.
    func stored(_ key: String) async throws(BackendError) -> StoredReadBack.Stored? {
        guard let document = try await document(key), case .binary(_, let payload) = document["Signed"],
            let signature = document["Signature"]?.string.flatMap({ Data(base64Encoded: $0) })
        else { return nil }
        return StoredReadBack.Stored(
            signature: signature, payload: payload, cert: document["Cert"]?.string ?? "",
            chain: document["Chain"]?.string ?? "")
    }
}
