import ChainsConfig
import CloudCredentials
import Foundation
import HTTPTransport
import KubeModels
import Synchronization

/// The `grafeas` backend: Container Analysis / Grafeas v1 notes and occurrences as Tekton Chains writes them, over
/// the API's REST mapping (Chains uses the gRPC mapping of the same RPCs) at `storage.grafeas.endpoint`, in project
/// `storage.grafeas.projectid`. Notes `<noteid>-simplesigning` (ATTESTATION, hint `storage.grafeas.notehint`) and
/// `<noteid>-<taskrun|pipelinerun>-intoto` (BUILD) are created once (409 ALREADY_EXISTS is fine); an image signature
/// is one ATTESTATION occurrence on `<repo>@sha256:<hex>`; provenance is one BUILD occurrence per subject, carrying
/// the statement (`intotoStatement` for SLSA v0.2, `inTotoSlsaProvenanceV1` for v1.0) and the DSSE envelope. Each
/// created occurrence's answer must hold the envelope sent. A retry finds the occurrence it made before (same
/// resource, same envelope) and adds none.
package final class GrafeasStorage: StorageBackend {
    package let kind = StorageKind.grafeas
    let base: URL
    let project: String
    let noteID: String
    let noteHint: String
    let keyID: String
    let tokens: (any GoogleTokenSource)?
    let transport: any HTTPTransport
    let notesMade = Mutex<Set<String>>([])

    package init(
        base: URL, project: String, noteID: String, noteHint: String, keyID: String, tokens: (any GoogleTokenSource)?,
        transport: any HTTPTransport
    ) {
        self.base = base
        self.project = project
        self.noteID = noteID
        self.noteHint = noteHint
        self.keyID = keyID
        self.tokens = tokens
        self.transport = transport
    }

    var peer: String { "Grafeas project \(project) (\(base.absoluteString))" }

    package func store(_ item: SignedArtifact, for run: RunContext) async throws -> StorageReceipt {
        // Chains keeps the first run's namespace as the default note id until the next reload; each run's own here.
        let prefix = noteID.isEmpty ? "tekton-\(run.namespace)" : noteID
        var receipt = StorageReceipt(backend: kind)
        do throws(BackendError) {
            let token = try await bearerToken()
            let planned = try Self.occurrences(
                for: item, run: run, notePrefix: prefix, project: project, keyID: keyID, hint: noteHint)
            try await ensureNote(planned.noteID, planned.note, token: token)
            for occurrence in planned.occurrences {
                let (name, present) = try await create(occurrence, token: token)
                receipt.locations.append(
                    .init(
                        target: "\(occurrence["resourceUri"]?.stringValue ?? "") → \(name)",
                        credential: tokens?.identity ?? "",
                        detail: present ? "already there (an earlier attempt's occurrence)" : "occurrence created",
                        alreadyPresent: present))
            }
        } catch {
            throw StorageError(backend: kind, item: "\(item.fullKey)", reason: error.description, underlying: error)
        }
        return receipt
    }

    func bearerToken() async throws(BackendError) -> String? {
        try await BackendHTTP.bearerToken(tokens, backend: kind, peer: peer)
    }

    func send(
        _ method: String, _ path: String, _ body: JSONValue?, token: String?, what: String
    )
        async throws(BackendError) -> JSONValue
    {
        guard let url = URL(string: base.absoluteString + path) else {
            throw BackendError(.failed, backend: kind, peer: peer, reason: "no URL for \(what)")
        }
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        if let token { headers["Authorization"] = "Bearer \(token)" }
        var data: Data?
        if let body { data = try Self.encode(body) }
        let response = try await BackendHTTP.send(
            HTTPRequest(method: method, url: url, headers: headers, body: data),
            via: transport, backend: kind, peer: peer, what: what, message: BackendHTTP.googleMessage)
        return (try? JSONValue(parsing: response.body)) ?? .null
    }

    static func encode(_ value: JSONValue) throws(BackendError) -> Data {
        do {
            return try JSONEncoder().encode(value)
        } catch {
            throw BackendError(.failed, backend: .grafeas, peer: "grafeas", reason: "cannot encode: \(error)")
        }
    }

    /// Creates the note once per process; ALREADY_EXISTS (409) is fine, as in Chains.
    func ensureNote(_ id: String, _ note: JSONValue, token: String?) async throws(BackendError) {
        guard !notesMade.withLock({ $0.contains(id) }) else { return }
        do throws(BackendError) {
            _ = try await send(
                "POST", "/v1/projects/\(project)/notes?noteId=\(id)", note, token: token, what: "CreateNote \(id)")
        } catch {
            // ALREADY_EXISTS: made by an earlier run or another replica.
            guard error.reason.contains("HTTP 409") else { throw error }
        }
        notesMade.withLock { _ = $0.insert(id) }
    }

    /// The occurrence, unless one for the same resource with the same envelope is there already (a retry's).
    func create(_ occurrence: JSONValue, token: String?) async throws(BackendError) -> (String, Bool) {
        let note = occurrence["noteName"]?.stringValue ?? ""
        let uri = occurrence["resourceUri"]?.stringValue ?? ""
        let filter = "resourceUrl=\"\(uri)\"".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let listed = try await send(
            "GET", "/v1/\(note)/occurrences?filter=\(filter)", nil, token: token, what: "ListNoteOccurrences")
        if let same = (listed["occurrences"]?.arrayValue ?? []).first(where: {
            Self.sameEnvelope($0["envelope"], occurrence["envelope"])
        }) {
            return (same["name"]?.stringValue ?? "", true)
        }
        let made = try await send(
            "POST", "/v1/projects/\(project)/occurrences", occurrence, token: token, what: "CreateOccurrence on \(uri)")
        guard let name = made["name"]?.stringValue, Self.sameEnvelope(made["envelope"], occurrence["envelope"]),
            made["resourceUri"]?.stringValue == uri
        else {
            throw BackendError(
                .failed, backend: kind, peer: peer,
                reason: "CreateOccurrence on \(uri) answered without the envelope sent; nothing shows it was stored")
        }
        return (name, false)
    }
}

extension GrafeasStorage {
    /// The same payload, type and signatures (proto3 JSON leaves out empty fields such as an empty `keyid`, so the
    /// objects themselves are not compared).
    static func sameEnvelope(_ a: JSONValue?, _ b: JSONValue?) -> Bool {
        func sigs(_ e: JSONValue?) -> [String] {
            (e?["signatures"]?.arrayValue ?? []).map { $0["sig"]?.stringValue ?? "" }
        }
        guard let a, let b, let payload = a["payload"]?.stringValue, !payload.isEmpty else { return false }
        return payload == b["payload"]?.stringValue && a["payloadType"] == b["payloadType"] && sigs(a) == sigs(b)
    }

    /// The note an artifact goes under and its occurrences, as Tekton Chains builds them.
    package static func occurrences(
        for item: SignedArtifact, run: RunContext, notePrefix: String, project: String, keyID: String, hint: String
    ) throws(BackendError) -> (noteID: String, note: JSONValue, occurrences: [JSONValue]) {
        let payload = JSONValue.string(item.payload.base64EncodedString())
        let signature = JSONValue.string(item.signature.base64EncodedString())
        guard item.format.isInToto else {
            let id = "\(notePrefix)-simplesigning"
            let note = JSONValue.object([
                "shortDescription": "OCI Artifact Attestation Note",
                "attestation": .object(["hint": .object(["humanReadableName": .string(hint)])]),
            ])
            let occurrence = JSONValue.object([
                "resourceUri": .string(item.fullKey), "noteName": .string("projects/\(project)/notes/\(id)"),
                "attestation": .object([
                    "serializedPayload": payload,
                    "signatures": [.object(["signature": signature, "publicKeyId": .string(keyID)])],
                ]),
                "envelope": .object([
                    "payload": payload, "payloadType": "application/vnd.dev.cosign.simplesigning.v1+json",
                    "signatures": [.object(["sig": signature, "keyid": .string(keyID)])],
                ]),
            ])
            return (id, note, [occurrence])
        }
        guard let statement = try? JSONValue(parsing: item.payload) else {
            throw BackendError(
                .failed, backend: .grafeas, peer: "grafeas", reason: "the payload is not an in-toto statement")
        }
        let runKind = run.kind.lowercased()
        let id = "\(notePrefix)-\(runKind)-intoto"
        let note = JSONValue.object([
            "shortDescription": "Build Provenance Note for TaskRun",
            "build": .object(["builderVersion": .string("tekton.dev/v1/\(run.kind)")]),
        ])
        let build = buildDetails(statement)
        let envelope = JSONValue.object([
            "payload": payload, "payloadType": "application/vnd.in-toto+json",
            "signatures": [.object(["sig": signature, "keyid": .string(keyID)])],
        ])
        let occurrences = (statement["subject"]?.arrayValue ?? []).compactMap { subject -> JSONValue? in
            guard let name = subject["name"]?.stringValue, let digests = subject["digest"]?.objectValue,
                let algorithm = digests["sha256"] != nil ? "sha256" : digests.keys.sorted().first,
                let hex = digests[algorithm]?.stringValue
            else { return nil }
            return .object([
                "resourceUri": .string("\(name)@\(algorithm):\(hex)"),
                "noteName": .string("projects/\(project)/notes/\(id)"), "build": build, "envelope": envelope,
            ])
        }
        return (id, note, occurrences)
    }

    /// The statement as Grafeas' `BuildOccurrence`: SLSA v0.2 as `intotoStatement` with `slsaProvenanceZeroTwo` (the
    /// proto's JSON names are SLSA's but for `buildInvocationId`); SLSA v1.0 as `inTotoSlsaProvenanceV1`, whose
    /// predicate's JSON names are SLSA v1.0's own.
    static func buildDetails(_ statement: JSONValue) -> JSONValue {
        let head: [String: JSONValue] = [
            "_type": statement["_type"] ?? .null, "subject": statement["subject"] ?? .array([]),
            "predicateType": statement["predicateType"] ?? .null,
        ]
        let predicate = statement["predicate"]?.objectValue ?? [:]
        if statement["predicateType"]?.stringValue == "https://slsa.dev/provenance/v1" {
            return .object(["inTotoSlsaProvenanceV1": .object(head.merging(["predicate": .object(predicate)]) { $1 })])
        }
        var zeroTwo = predicate
        if var metadata = zeroTwo["metadata"]?.objectValue, let id = metadata.removeValue(forKey: "buildInvocationID") {
            metadata["buildInvocationId"] = id
            zeroTwo["metadata"] = .object(metadata)
        }
        return .object(["intotoStatement": .object(head.merging(["slsaProvenanceZeroTwo": .object(zeroTwo)]) { $1 })])
    }
}
