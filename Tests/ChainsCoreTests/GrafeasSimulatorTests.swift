import ChainsTesting
import Foundation
import HTTPTransport
import KubeModels
import Testing

/// The Grafeas simulator on its own, before any backend is tested against it: Google's `grafeas` Python client
/// (REST transport) creates and lists through it what Tekton Chains writes and reads.
@Suite("Grafeas simulator, checked by Google's grafeas client")
struct GrafeasSimulatorTests {
    @Test(
        "the grafeas client (REST): Chains' notes and occurrences, duplicates 409, list by resourceUrl, paging, NotFound, BadRequest, Unauthorized"
    )
    func googleClient() async throws {
        let sim = try await GrafeasSimulator(token: "ya29.grafeas-test")
        defer { Task { await sim.stop() } }
        let result = try await Python.run("grafeas_check.py", [sim.url, "ya29.grafeas-test"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 14 && lines.allSatisfy { $0.hasPrefix("ok ") }, "\(result.stdout)")
        // The wrong token reached the server (it was answered 401, not refused by the client before sending).
        #expect(
            sim.requests.filter { $0 == "GET /v1/projects/chains-test/notes/tekton-team-a-simplesigning" }.count == 2)
        // What the client sent, as stored: bytes base64, camelCase, the kind filled in by the server.
        let attestation = try #require(sim.occurrences.first)
        #expect(attestation["kind"] == "ATTESTATION")
        #expect(
            attestation["envelope"]?["payload"]?.stringValue == Data(#"{"critical":{}}"#.utf8).base64EncodedString())
        #expect(attestation["envelope"]?["payloadType"] == "application/vnd.dev.cosign.simplesigning.v1+json")
        #expect(
            sim.notes["projects/chains-test/notes/tekton-team-a-taskrun-intoto"]?["build"]?["builderVersion"]
                == "tekton.dev/v1/TaskRun")
    }

    @Test("filters: OR binds tighter than AND (AIP-160); NOT and parentheses; unknown fields refused")
    func filters() async throws {
        let sim = try await GrafeasSimulator()
        defer { Task { await sim.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        func send(_ method: String, _ path: String, _ body: String? = nil) async throws -> (Int, JSONValue?) {
            let r = try await http.send(
                HTTPRequest(method: method, url: URL(string: sim.url + path)!, body: body.map { Data($0.utf8) }))
            return (r.status, try? JSONValue(parsing: r.body))
        }
        #expect(try await send("POST", "/v1/projects/p/notes?noteId=b", #"{"build":{"builderVersion":"v"}}"#).0 == 200)
        #expect(try await send("POST", "/v1/projects/p/notes?noteId=a", #"{"attestation":{}}"#).0 == 200)
        let (duplicate, body) = try await send("POST", "/v1/projects/p/notes?noteId=a", #"{"attestation":{}}"#)
        #expect(duplicate == 409 && body?["error"]?["status"] == "ALREADY_EXISTS")
        for (uri, note, details) in [
            ("x", "b", #""build":{}"#), ("y", "b", #""build":{}"#), ("x", "a", #""attestation":{}"#),
        ] {
            let (status, _) = try await send(
                "POST", "/v1/projects/p/occurrences",
                #"{"resourceUri":"\#(uri)","noteName":"projects/p/notes/\#(note)",\#(details)}"#)
            #expect(status == 200)
        }
        func count(_ filter: String) async throws -> Int? {
            let query = filter.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let (status, body) = try await send("GET", "/v1/projects/p/occurrences?filter=\(query)")
            return status == 200 ? body?["occurrences"]?.arrayValue?.count ?? 0 : nil
        }
        #expect(try await count(#"resourceUrl="x" AND kind="BUILD" OR kind="ATTESTATION""#) == 2)
        #expect(try await count(#"(resourceUrl="x" AND kind="BUILD") OR kind="ATTESTATION""#) == 2)
        #expect(try await count(#"resourceUrl="y" OR resourceUrl="x" AND kind="ATTESTATION""#) == 1)
        #expect(try await count(#"NOT resourceUrl="x""#) == 1)
        #expect(try await count(#"noteId="b" AND resourceUri!="y""#) == 1)
        #expect(try await count(#"color="red""#) == nil)
        #expect(
            try await send("POST", "/v1/projects/p/occurrences", #"{"noteName":"projects/p/notes/b","build":{}}"#).0
                == 400)
        #expect(try await send("GET", "/v1/projects/p/notes/b:batchCreate").0 == 404)
    }
}
