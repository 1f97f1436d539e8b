import Foundation
import KubeModels
import Synchronization

/// Grafeas v1 (Container Analysis) over its REST mapping (`google.api.http` of grafeas.proto), the part Tekton Chains
/// uses and reads: `POST /v1/projects/{p}/notes?noteId=`, `GET …/notes/{n}`, `GET …/notes`, `POST /v1/projects/{p}/occurrences`,
/// `GET …/occurrences/{o}`, `GET /v1/projects/{p}/occurrences?filter=` and `GET …/notes/{n}/occurrences?filter=`
/// (`pageSize`, `pageToken`). The server fills `name`, `kind` (from the details oneof: `attestation` → ATTESTATION,
/// `build` → BUILD, …), `createTime` and `updateTime`; occurrence ids are UUIDs. JSON as proto3's mapping writes it
/// (camelCase, bytes base64, enums by name); `_type` kept as sent. Errors in Google's format
/// (`{"error":{"code","message","status"}}`): a duplicate note 409 ALREADY_EXISTS; an unknown note or occurrence, or
/// an occurrence whose note does not exist, 404 NOT_FOUND; a missing `noteId`, `resourceUri`, `noteName` or details,
/// a note/occurrence kind mismatch, or a bad filter 400 INVALID_ARGUMENT; another route 501. Filters: an AIP-160
/// subset — `field = "v"`, `!=`, `AND`, `OR` (binding tighter than AND, as AIP-160 says), `NOT`, parentheses — over
/// `resourceUrl` (alias `resourceUri`), `kind`, `noteProjectId`, `noteId`. With `token`, every request needs
/// `Authorization: Bearer <token>` (401 UNAUTHENTICATED). Checked by Google's `grafeas` Python client in
/// `Tests/Interop/grafeas_check.py`.
package final class GrafeasSimulator: Sendable {
    final class State: Sendable {
        let notes = Mutex<[String: [String: JSONValue]]>([:])
        let occurrences = Mutex<[(name: String, object: [String: JSONValue])]>([])
        let requests = Mutex<[String]>([])
    }
    let server: TestHTTPServer
    let state = State()
    package var url: String { "http://127.0.0.1:\(server.port)" }
    /// `METHOD path` of every request, in order.
    package var requests: [String] { state.requests.withLock { $0 } }
    package var occurrences: [[String: JSONValue]] { state.occurrences.withLock { $0.map(\.object) } }
    package var notes: [String: [String: JSONValue]] { state.notes.withLock { $0 } }

    package init(token: String? = nil) async throws {
        let state = self.state
        server = try await TestHTTPServer { request in
            state.requests.withLock { $0.append("\(request.method) \(request.path)") }
            if let token, request.header("Authorization") != "Bearer \(token)" {
                return Self.error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
            }
            return Self.route(request, state: state)
        }
    }

    package func stop() async { await server.stop() }

    static func route(_ request: ServedRequest, state: State) -> ServedResponse {
        let parts = request.path.split(separator: "/").map(String.init)
        guard parts.count >= 4, parts[0] == "v1", parts[1] == "projects" else {
            return error(501, "UNIMPLEMENTED", "\(request.method) \(request.path) is not served")
        }
        let project = parts[2]
        let rest = Array(parts.dropFirst(3))
        let id = rest.count > 1 ? rest[1] : ""
        switch (request.method, rest.count, rest[0], rest.count == 3 ? rest[2] : "") {
        case ("POST", 1, "notes", _): return createNote(request, project: project, state: state)
        case ("GET", 1, "notes", _):
            let notes = state.notes.withLock { $0 }.filter { $0.key.hasPrefix("projects/\(project)/") }
                .sorted { $0.key < $1.key }.map { JSONValue.object($0.value) }
            return json(200, notes.isEmpty ? .object([:]) : .object(["notes": .array(notes)]))
        case ("GET", 2, "notes", _):
            guard let note = state.notes.withLock({ $0["projects/\(project)/notes/\(id)"] }) else {
                return error(404, "NOT_FOUND", "note projects/\(project)/notes/\(id) not found")
            }
            return json(200, .object(note))
        case ("POST", 1, "occurrences", _): return createOccurrence(request, project: project, state: state)
        case ("GET", 2, "occurrences", _):
            let name = "projects/\(project)/occurrences/\(id)"
            guard let found = state.occurrences.withLock({ $0.first { $0.name == name } }) else {
                return error(404, "NOT_FOUND", "occurrence \(name) not found")
            }
            return json(200, .object(found.object))
        case ("GET", 1, "occurrences", _):
            return list(request, state: state) { $0["name"]?.stringValue?.hasPrefix("projects/\(project)/") == true }
        case ("GET", 3, "notes", "occurrences"):
            let note = "projects/\(project)/notes/\(id)"
            guard state.notes.withLock({ $0[note] }) != nil else {
                return error(404, "NOT_FOUND", "note \(note) not found")
            }
            return list(request, state: state) { $0["noteName"]?.stringValue == note }
        default:
            return error(501, "UNIMPLEMENTED", "\(request.method) \(request.path) is not served")
        }
    }

    /// The details oneof fields and the kind each gives.
    static let kinds: [String: String] = [
        "vulnerability": "VULNERABILITY", "build": "BUILD", "image": "IMAGE", "package": "PACKAGE",
        "deployment": "DEPLOYMENT", "discovery": "DISCOVERY", "attestation": "ATTESTATION", "upgrade": "UPGRADE",
        "compliance": "COMPLIANCE", "dsseAttestation": "DSSE_ATTESTATION",
        "vulnerabilityAssessment":
            "VULNERABILITY_ASSESSMENT", "sbomReference": "SBOM_REFERENCE",
    ]

    static func kind(of object: [String: JSONValue]) -> String? {
        let present = kinds.keys.filter { object[$0] != nil }
        return present.count == 1 ? kinds[present[0]] : nil
    }

    static func createNote(_ request: ServedRequest, project: String, state: State) -> ServedResponse {
        guard let id = request.query["noteId"]?.first, !id.isEmpty else {
            return error(400, "INVALID_ARGUMENT", "noteId is required")
        }
        guard var note = (try? JSONValue(parsing: request.body))?.objectValue, let kind = kind(of: note) else {
            return error(400, "INVALID_ARGUMENT", "a note needs exactly one of its details (attestation, build, …)")
        }
        let name = "projects/\(project)/notes/\(id)"
        let now = JSONValue.string(timestamp())
        note["name"] = .string(name)
        note["kind"] = .string(kind)
        note["createTime"] = now
        note["updateTime"] = now
        let created = state.notes.withLock { notes -> Bool in
            guard notes[name] == nil else { return false }
            notes[name] = note
            return true
        }
        guard created else { return error(409, "ALREADY_EXISTS", "note \(name) already exists") }
        return json(200, .object(note))
    }

    static func createOccurrence(_ request: ServedRequest, project: String, state: State) -> ServedResponse {
        guard var occurrence = (try? JSONValue(parsing: request.body))?.objectValue else {
            return error(400, "INVALID_ARGUMENT", "the body is not an occurrence")
        }
        guard occurrence["resourceUri"]?.stringValue?.isEmpty == false else {
            return error(400, "INVALID_ARGUMENT", "resourceUri is required")
        }
        guard let noteName = occurrence["noteName"]?.stringValue, !noteName.isEmpty else {
            return error(400, "INVALID_ARGUMENT", "noteName is required")
        }
        guard let kind = kind(of: occurrence) else {
            return error(400, "INVALID_ARGUMENT", "an occurrence needs exactly one of its details")
        }
        guard let note = state.notes.withLock({ $0[noteName] }) else {
            return error(404, "NOT_FOUND", "note \(noteName) not found")
        }
        guard note["kind"]?.stringValue == kind else {
            return error(
                400, "INVALID_ARGUMENT",
                "the occurrence's kind \(kind) is not its note's \(note["kind"]?.stringValue ?? "")")
        }
        let name = "projects/\(project)/occurrences/\(UUID().uuidString.lowercased())"
        let now = JSONValue.string(timestamp())
        occurrence["name"] = .string(name)
        occurrence["kind"] = .string(kind)
        occurrence["createTime"] = now
        occurrence["updateTime"] = now
        state.occurrences.withLock { $0.append((name, occurrence)) }
        return json(200, .object(occurrence))
    }

    static func list(
        _ request: ServedRequest, state: State, _ scope: ([String: JSONValue]) -> Bool
    ) -> ServedResponse {
        let matcher: GrafeasFilter
        do {
            matcher = try GrafeasFilter(formValue("filter", in: request.uri) ?? "")
        } catch {
            return Self.error(400, "INVALID_ARGUMENT", "invalid filter: \(error.message)")
        }
        let all = state.occurrences.withLock { $0.map(\.object) }.filter { scope($0) && matcher.matches($0) }
        let size = request.query["pageSize"]?.first.flatMap(Int.init) ?? 0
        let start = request.query["pageToken"]?.first.flatMap(Int.init) ?? 0
        let end = size > 0 ? min(all.count, start + size) : all.count
        var body: [String: JSONValue] = [:]
        if start < end { body["occurrences"] = .array(all[start..<end].map { .object($0) }) }
        if end < all.count { body["nextPageToken"] = .string("\(end)") }
        return json(200, .object(body))
    }

    /// A query parameter as an HTTP server reads a form-encoded query: `+` is a space, then percent-decoding.
    static func formValue(_ name: String, in uri: String) -> String? {
        guard let query = uri.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv[0] == name else { continue }
            return (kv.count > 1 ? kv[1] : "").replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }

    /// Now, as protobuf's JSON writes a Timestamp (RFC 3339, UTC, `Z`).
    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }

    static func json(_ status: Int, _ value: JSONValue) -> ServedResponse {
        ServedResponse(
            status: status, headers: [("Content-Type", "application/json")],
            body: (try? JSONEncoder().encode(value)) ?? Data())
    }

    static func error(_ code: Int, _ status: String, _ message: String) -> ServedResponse {
        json(
            code,
            .object([
                "error": .object([
                    "code": .number(Double(code)), "message": .string(message), "status": .string(status),
                ])
            ]))
    }
}

/// The AIP-160 subset the Grafeas simulator filters by.
struct GrafeasFilter {
    struct Failure: Error { var message: String }
    indirect enum Node {
        case compare(field: String, equal: Bool, value: String)
        case and(Node, Node)
        case or(Node, Node)
        case not(Node)
        case all
    }
    static let fields = ["resourceUrl", "resourceUri", "kind", "noteProjectId", "noteId"]
    let root: Node

    init(_ text: String) throws(Failure) {
        var tokens = try Self.tokens(text)
        if tokens.isEmpty {
            root = .all
            return
        }
        root = try Self.conjunction(&tokens)
        guard tokens.isEmpty else { throw Failure(message: "unexpected \(tokens[0])") }
    }

    static func tokens(_ text: String) throws(Failure) -> [String] {
        var out: [String] = []
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c == " " {
                i = text.index(after: i)
            } else if c == "\"" {
                guard let close = text[text.index(after: i)...].firstIndex(of: "\"") else {
                    throw Failure(message: "unterminated string")
                }
                out.append(String(text[i...close]))
                i = text.index(after: close)
            } else if "()=".contains(c) {
                out.append(String(c))
                i = text.index(after: i)
            } else if c == "!", text[i...].hasPrefix("!=") {
                out.append("!=")
                i = text.index(i, offsetBy: 2)
            } else {
                let end = text[i...].firstIndex { " ()=!\"".contains($0) } ?? text.endIndex
                out.append(String(text[i..<end]))
                i = end
            }
        }
        return out
    }

    static func conjunction(_ t: inout [String]) throws(Failure) -> Node {
        var left = try disjunction(&t)
        while t.first == "AND" {
            t.removeFirst()
            left = .and(left, try disjunction(&t))
        }
        return left
    }

    static func disjunction(_ t: inout [String]) throws(Failure) -> Node {
        var left = try factor(&t)
        while t.first == "OR" {
            t.removeFirst()
            left = .or(left, try factor(&t))
        }
        return left
    }

    static func factor(_ t: inout [String]) throws(Failure) -> Node {
        guard let first = t.first else { throw Failure(message: "the filter ends early") }
        if first == "NOT" {
            t.removeFirst()
            return .not(try factor(&t))
        }
        if first == "(" {
            t.removeFirst()
            let inner = try conjunction(&t)
            guard t.first == ")" else { throw Failure(message: "missing )") }
            t.removeFirst()
            return inner
        }
        guard t.count >= 3, fields.contains(t[0]), ["=", "!="].contains(t[1]), t[2].hasPrefix("\"") else {
            throw Failure(message: "expected field = \"value\" (fields: \(fields.joined(separator: ", "))) at \(first)")
        }
        let node = Node.compare(field: t[0], equal: t[1] == "=", value: String(t[2].dropFirst().dropLast()))
        t.removeFirst(3)
        return node
    }

    func matches(_ occurrence: [String: JSONValue]) -> Bool { Self.evaluate(root, occurrence) }

    static func evaluate(_ node: Node, _ o: [String: JSONValue]) -> Bool {
        switch node {
        case .all: return true
        case .not(let inner): return !evaluate(inner, o)
        case .and(let a, let b): return evaluate(a, o) && evaluate(b, o)
        case .or(let a, let b): return evaluate(a, o) || evaluate(b, o)
        case .compare(let field, let equal, let value):
            let note = (o["noteName"]?.stringValue ?? "").split(separator: "/").map(String.init)
            let actual: String? =
                switch field {
                case "resourceUrl", "resourceUri": o["resourceUri"]?.stringValue
                case "kind": o["kind"]?.stringValue
                case "noteProjectId": note.count == 4 ? note[1] : nil
                default: note.count == 4 ? note[3] : nil
                }
            return (actual == value) == equal
        }
    }
}
