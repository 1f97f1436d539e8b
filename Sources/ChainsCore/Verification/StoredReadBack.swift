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
            case let grafeas as GrafeasStorage:
                found = try await fromGrafeas(grafeas, run: run, config: config, notes: &notes)
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

extension GrafeasStorage {
    /// The occurrences of note `noteID` on `resourceURI` (ListNoteOccurrences with a `resourceUrl` filter, every page).
    func occurrences(note noteID: String, on resourceURI: String) async throws(BackendError) -> [JSONValue] {
        let token = try await bearerToken()
        let filter = "resourceUrl=\"\(resourceURI)\"".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        var out: [JSONValue] = []
        var page = ""
        for _ in 0..<100 {
            let listed = try await send(
                "GET",
                "/v1/projects/\(project)/notes/\(noteID)/occurrences?filter=\(filter)&pageSize=100"
                    + (page.isEmpty ? "" : "&pageToken=\(page)"),
                nil, token: token, what: "ListNoteOccurrences of \(noteID) on \(resourceURI)")
            out += listed["occurrences"]?.arrayValue ?? []
            page = listed["nextPageToken"]?.stringValue ?? ""
            if page.isEmpty { break }
        }
        return out
    }

    /// The note-name prefix a run's occurrences go under (`storage.grafeas.noteid`, else `tekton-<namespace>`).
    func notePrefix(_ run: RunContext) -> String { noteID.isEmpty ? "tekton-\(run.namespace)" : noteID }
}

extension StoredReadBack {
    /// The run's provenance and its images' signatures, found through the subjects of the provenance this run makes
    /// (the statement rebuilt from the run, as `chains provenance` prints it): on each subject, the BUILD occurrence
    /// whose statement is this run's (`belongs`), and the image's ATTESTATION occurrence — when other runs signed the
    /// same image too, the one stored closest in time to this run's provenance (a note says so).
    static func fromGrafeas(
        _ grafeas: GrafeasStorage, run: AnyRun, config: ChainsConfig, notes: inout [String]
    ) async throws(BackendError) -> [String: Stored] {
        let meta = run.run
        let context = RunContext(run: meta)
        let isPipeline = meta is PipelineRun
        let format = isPipeline ? config.pipelineRun.format : config.taskRun.format
        let own = "\(isPipeline ? "pipelinerun" : "taskrun")-\(meta.uid)"
        let rebuilt: JSONValue
        do {
            rebuilt = try SigningService.statement(
                for: run, children: [], config: config, format: format.isInToto ? format : .slsaV1
            ).0.json
        } catch {
            notes.append("the run's subjects cannot be rebuilt (\(error.description)); grafeas not read")
            return [:]
        }
        let prefix = grafeas.notePrefix(context)
        var out: [String: Stored] = [:]
        var ownTime: Date?
        var images: [(key: String, uri: String, candidates: [(Stored, Date?)])] = []
        for subject in rebuilt["subject"]?.arrayValue ?? [] {
            guard let name = subject["name"]?.stringValue, let hex = subject["digest"]?["sha256"]?.stringValue else {
                continue
            }
            let uri = "\(name)@sha256:\(hex)"
            for occurrence in try await grafeas.occurrences(
                note: "\(prefix)-\(context.kind.lowercased())-intoto", on: uri)
            {
                guard let stored = envelope(occurrence), belongs(stored.payload, uid: meta.uid, rebuilt: rebuilt) else {
                    continue
                }
                out[own] = stored
                ownTime = ownTime ?? created(occurrence)
            }
            let candidates = try await grafeas.occurrences(note: "\(prefix)-simplesigning", on: uri).compactMap {
                occurrence in envelope(occurrence).map { ($0, created(occurrence)) }
            }
            if !candidates.isEmpty { images.append((String(hex.prefix(12)), uri, candidates)) }
        }
        if out[own] == nil { notes.append("Grafeas has no BUILD occurrence of \(own) on the run's subjects") }
        for image in images {
            let distance = { (time: Date?) in abs((time ?? .distantPast).timeIntervalSince(ownTime ?? .distantFuture)) }
            let chosen = image.candidates.min { distance($0.1) < distance($1.1) } ?? image.candidates[0]
            if image.candidates.count > 1 {
                notes.append(
                    "Grafeas holds \(image.candidates.count) signatures of \(image.uri) (other runs signed it too); checked the one stored closest in time to this run's provenance"
                )
            }
            out[image.key] = chosen.0
        }
        return out
    }

    /// The envelope of an occurrence as stored: the payload, and the signature (the DSSE envelope for provenance).
    static func envelope(_ occurrence: JSONValue) -> Stored? {
        guard let envelope = occurrence["envelope"],
            let payload = envelope["payload"]?.stringValue.flatMap({ Data(base64Encoded: $0) }),
            let signature = envelope["signatures"]?.arrayValue?.first?["sig"]?.stringValue.flatMap({
                Data(base64Encoded: $0)
            })
        else { return nil }
        return Stored(signature: signature, payload: payload)
    }

    static func created(_ occurrence: JSONValue) -> Date? {
        guard let text = occurrence["createTime"]?.stringValue else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text)
    }

    /// Whether a stored statement is this run's provenance: SLSA v1.0 names the run's uid
    /// (`runDetails.metadata.invocationId`); Chains' SLSA v0.2 names no uid, so its run labels
    /// (`invocation.environment.labels`, which name the run) and start and finish times must be the rebuilt ones.
    static func belongs(_ payload: Data, uid: String, rebuilt: JSONValue) -> Bool {
        guard let statement = try? JSONValue(parsing: payload), let predicate = statement["predicate"] else {
            return false
        }
        if let invocation = predicate["runDetails"]?["metadata"]?["invocationId"]?.stringValue {
            return invocation == uid
        }
        let mine = rebuilt["predicate"]
        guard let labels = predicate["invocation"]?["environment"]?["labels"],
            let started = predicate["metadata"]?["buildStartedOn"]
        else { return false }
        return labels == mine?["invocation"]?["environment"]?["labels"]
            && started == mine?["metadata"]?["buildStartedOn"]
            && predicate["metadata"]?["buildFinishedOn"] == mine?["metadata"]?["buildFinishedOn"]
    }
}
