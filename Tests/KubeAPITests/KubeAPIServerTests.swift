import ChainsTesting
import Foundation
import HTTPTransport
import KubeModels
import Testing

/// The in-process Kubernetes API server on its own: its conventions, and the official Python client against it.
@Suite("The in-process Kubernetes API server", .serialized)
struct KubeAPIServerTests {
    let ns = "team-a"

    func taskRun(_ name: String) -> JSONValue {
        .object([
            "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
            "metadata": .object(["name": .string(name), "namespace": .string(ns)]),
            "spec": .object(["taskRef": .object(["name": "build"])]),
        ])
    }

    func send(
        _ http: AsyncHTTPClientTransport, _ method: String, _ url: String, token: String = "t0ken",
        body: JSONValue? = nil, contentType: String = "application/json"
    ) async throws -> (Int, JSONValue) {
        var headers: HTTPHeaders = ["Authorization": "Bearer \(token)", "Accept": "application/json"]
        if body != nil { headers["Content-Type"] = contentType }
        let response = try await http.send(
            HTTPRequest(method: method, url: URL(string: url)!, headers: headers, body: body?.serializedData()))
        return (response.status, (try? JSONValue(parsing: response.body)) ?? .null)
    }

    @Test("create, get, list with paging, merge patch, stale update, finalizers holding a delete, Status errors")
    func conventions() async throws {
        let api = try await KubeAPIServer(token: "t0ken")
        defer { Task { await api.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let base = "\(api.url)/apis/tekton.dev/v1/namespaces/\(ns)/taskruns"
        let (unauthorized, status) = try await send(http, "GET", base, token: "wrong")
        #expect(unauthorized == 401 && status["kind"]?.stringValue == "Status")
        for name in ["a", "b", "c"] {
            let (code, created) = try await send(http, "POST", base, body: taskRun(name))
            #expect(code == 201 && created["metadata"]?["uid"]?.stringValue?.count == 36)
        }
        let (dup, dupStatus) = try await send(http, "POST", base, body: taskRun("a"))
        #expect(dup == 409 && dupStatus["reason"]?.stringValue == "AlreadyExists")
        let (_, page1) = try await send(http, "GET", base + "?limit=2")
        #expect(page1["items"]?.arrayValue?.count == 2 && page1["kind"]?.stringValue == "TaskRunList")
        let token = try #require(page1["metadata"]?["continue"]?.stringValue)
        let (_, page2) = try await send(http, "GET", base + "?limit=2&continue=\(token)")
        #expect(page2["items"]?.arrayValue?.map { $0["metadata"]?["name"]?.stringValue } == ["c"])

        let (_, a) = try await send(http, "GET", base + "/a")
        let rv = try #require(a["metadata"]?["resourceVersion"]?.stringValue)
        let (patched, after) = try await send(
            http, "PATCH", base + "/a",
            body: .object([
                "metadata": .object(["annotations": .object(["x": "1"]), "finalizers": ["chains.tekton.dev/taskrun"]])
            ]),
            contentType: "application/merge-patch+json")
        #expect(patched == 200 && after["metadata"]?["annotations"]?["x"]?.stringValue == "1")
        #expect(after["metadata"]?["resourceVersion"]?.stringValue != rv)
        // A patch naming the old resourceVersion is a precondition that fails.
        let (stale, staleStatus) = try await send(
            http, "PATCH", base + "/a", body: .object(["metadata": .object(["resourceVersion": .string(rv)])]),
            contentType: "application/merge-patch+json")
        #expect(stale == 409 && staleStatus["reason"]?.stringValue == "Conflict")
        let (json, _) = try await send(
            http, "PATCH", base + "/a", body: .object([:]), contentType: "application/json-patch+json")
        #expect(json == 415)
        // The finalizer holds the delete; removing it lets the object go.
        let (held, deleting) = try await send(http, "DELETE", base + "/a")
        #expect(held == 200 && deleting["metadata"]?["deletionTimestamp"] != nil)
        #expect(api.object(.taskRuns, namespace: ns, name: "a") != nil)
        _ = try await send(
            http, "PATCH", base + "/a", body: .object(["metadata": .object(["finalizers": .null])]),
            contentType: "application/merge-patch+json")
        #expect(api.object(.taskRuns, namespace: ns, name: "a") == nil)
        let (missing, missingStatus) = try await send(http, "GET", base + "/a")
        #expect(missing == 404 && missingStatus["reason"]?.stringValue == "NotFound")
        api.fail(status: 503, count: 1)
        #expect(try await send(http, "GET", base).0 == 503)
    }

    @Test("server-side apply: field manager required, uid precondition, metadata only, ownership in managedFields")
    func serverSideApply() async throws {
        let api = try await KubeAPIServer(token: "t0ken")
        defer { Task { await api.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let base = "\(api.url)/apis/tekton.dev/v1/namespaces/\(ns)/taskruns"
        let created = api.put(taskRun("r"), as: .taskRuns)
        let uid = try #require(created["metadata"]?["uid"]?.stringValue)
        func apply(
            _ manager: String?, _ metadata: [String: JSONValue], force: Bool = false
        ) async throws -> (Int, JSONValue) {
            var query = manager.map { "?fieldManager=\($0)" } ?? ""
            if force { query += "&force=true" }
            var meta = metadata
            meta["name"] = "r"
            return try await send(
                http, "PATCH", base + "/r" + query,
                body: .object(["apiVersion": "tekton.dev/v1", "kind": "TaskRun", "metadata": .object(meta)]),
                contentType: "application/apply-patch+yaml")
        }
        #expect(try await apply(nil, ["finalizers": ["x"]]).0 == 422, "apply needs a field manager")
        let (wrongUID, status) = try await apply(
            "m", ["uid": "00000000-0000-4000-8000-000000000000", "finalizers": ["x"]])
        #expect(wrongUID == 409 && status["message"]?.stringValue?.contains("Precondition failed: UID") == true)
        let (spec, _) = try await send(
            http, "PATCH", base + "/r?fieldManager=m", body: .object(["spec": .object(["timeout": "1h"])]),
            contentType: "application/apply-patch+yaml")
        #expect(spec == 422, "only metadata is applied here")
        let (ok, applied) = try await apply("m", ["uid": .string(uid), "finalizers": ["x"], "labels": ["l": "1"]])
        #expect(ok == 200 && applied["metadata"]?["finalizers"] == ["x"] && applied["spec"] != nil)
        let managed = try #require(applied["metadata"]?["managedFields"]?.arrayValue?.first)
        #expect(managed["manager"] == "m" && managed["operation"] == "Apply" && managed["fieldsType"] == "FieldsV1")
        #expect(managed["fieldsV1"]?["f:metadata"]?["f:finalizers"]?["v:\"x\""] != nil)
        #expect(managed["fieldsV1"]?["f:metadata"]?["f:labels"]?["f:l"] != nil)
        // A merge patch with a field manager takes the label it changes (an Update); the applier keeps the finalizer.
        let (_, merged) = try await send(
            http, "PATCH", base + "/r?fieldManager=editor",
            body: .object(["metadata": .object(["labels": ["l": "2"]])]),
            contentType: "application/merge-patch+json")
        let owners = (merged["metadata"]?["managedFields"]?.arrayValue ?? []).map {
            "\($0["manager"]?.stringValue ?? ""):\($0["operation"]?.stringValue ?? "")"
        }
        #expect(Set(owners) == ["m:Apply", "editor:Update"])
        let (conflict, _) = try await apply("m", ["finalizers": ["x"], "labels": ["l": "1"]])
        #expect(conflict == 409, "the label is the editor's now")
        // Applying without the finalizer removes it (no one else owns it).
        let (_, released) = try await apply("m", ["finalizers": []])
        #expect(released["metadata"]?["finalizers"] == nil && released["metadata"]?["labels"]?["l"] == "2")
        // A missing object: made by apply, unless a uid says which object was meant.
        let fresh: JSONValue = .object([
            "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
            "metadata": .object(["name": "new", "uid": .string(uid)]),
        ])
        #expect(
            try await send(
                http, "PATCH", base + "/new?fieldManager=m", body: fresh, contentType: "application/apply-patch+yaml"
            ).0 == 409)
        #expect(api.object(.taskRuns, namespace: ns, name: "new") == nil)
        let (made, _) = try await send(
            http, "PATCH", base + "/new?fieldManager=m",
            body: .object(["apiVersion": "tekton.dev/v1", "kind": "TaskRun", "metadata": .object(["name": "new"])]),
            contentType: "application/apply-patch+yaml")
        #expect(made == 201 && api.object(.taskRuns, namespace: ns, name: "new") != nil)
    }

    @Test("watch: history from a resourceVersion, live events, bookmarks, timeout, 410 after compaction")
    func watches() async throws {
        let api = try await KubeAPIServer()
        defer { Task { await api.stop() } }
        api.put(taskRun("one"), as: .taskRuns)
        let rv = try #require(
            api.object(.taskRuns, namespace: ns, name: "one")?["metadata"]?["resourceVersion"]?.stringValue)
        api.put(taskRun("two"), as: .taskRuns)
        let url = URL(
            string:
                "\(api.url)/apis/tekton.dev/v1/namespaces/\(ns)/taskruns?watch=true&resourceVersion=\(rv)&allowWatchBookmarks=true&timeoutSeconds=1"
        )!
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let task = Task { try await http.send(HTTPRequest(method: "GET", url: url)).body }
        // The history and the first bookmark are sent when the watch is registered (under one lock): wait for that,
        // not for a fixed time — on a loaded machine the request can arrive after "three" is stored.
        let registered = ContinuousClock.now + .seconds(10)
        while api.watchCount == 0 && ContinuousClock.now < registered { try await Task.sleep(for: .milliseconds(10)) }
        try #require(api.watchCount == 1, "the watch request never reached the server")
        var three = taskRun("three")
        three = .object((three.objectValue ?? [:]).merging(["status": .object(["podName": "p"])]) { $1 })
        api.put(three, as: .taskRuns)
        let data = try await task.value
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONValue(parsing: Data($0.utf8))
        }
        let seen = lines.map {
            "\($0["type"]?.stringValue ?? "") \($0["object"]?["metadata"]?["name"]?.stringValue ?? "")"
        }
        #expect(seen == ["ADDED two", "BOOKMARK ", "ADDED three"], "\(seen)")
        #expect(api.watchCount == 0, "a finished watch is forgotten")

        api.compact()
        let old = try await http.send(
            HTTPRequest(
                method: "GET",
                url: URL(string: "\(api.url)/apis/tekton.dev/v1/taskruns?watch=true&resourceVersion=\(rv)")!)
        ).body
        let error = try JSONValue(parsing: Data(String(decoding: old, as: UTF8.self).split(separator: "\n")[0].utf8))
        #expect(error["type"]?.stringValue == "ERROR" && error["object"]?["code"] == JSONValue.number(410))
    }

    @Test("the official Kubernetes Python client: paging, custom objects, leases, 409s, merge patch, apply, watch, 404")
    func pythonClient() async throws {
        let api = try await KubeAPIServer(token: "s3cret-token")
        defer { Task { await api.stop() } }
        for name in ["build-a", "build-b", "build-c"] { api.put(taskRun(name), as: .taskRuns) }
        api.put(
            .object([
                "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                "metadata": .object(["name": "push-creds", "namespace": .string(ns)]), "data": .object([:]),
            ]), as: .secrets)
        let result = try await Python.run("kube_client_check.py", [api.url, "s3cret-token", ns])
        #expect(result.status == 0, "\(result.stderr)")
        let out = try JSONValue(parsing: Data(result.stdout.utf8))
        #expect(out["listed"] == ["build-a", "build-b", "build-c"])
        #expect(out["secret_type"]?.stringValue == "kubernetes.io/dockerconfigjson")
        #expect(out["lease_again"] == [.number(409), "AlreadyExists"])
        #expect(out["stale_replace"] == [.number(409), "Conflict"])
        #expect(out["patched_annotations"]?["chains.tekton.dev/signed"]?.stringValue == "true")
        #expect(
            out["events"] == [
                ["MODIFIED", "build-a"], ["MODIFIED", "build-b"], ["MODIFIED", "build-b"], ["MODIFIED", "build-b"],
                ["MODIFIED", "build-b"],
            ], "\(String(describing: out["events"]))")
        // Server-side apply: finalizers are a set shared by managers; a map key another manager owns is a conflict
        // until forced; a manager that stops applying a field lets it go (its annotation, taken over, stays).
        #expect(out["apply_finalizers"] == ["example.com/a", "example.com/b"])
        #expect(out["apply_managers"] == ["py-a:Apply", "py-b:Apply"])
        #expect(out["apply_conflict"] == [.number(409), "Conflict"])
        #expect(out["forced_owner"] == "b")
        #expect(out["released_finalizers"] == ["example.com/b"])
        #expect(out["released_annotations"]?["example.com/owner"] == "b")
        #expect(out["missing"] == [.number(404), "NotFound"])
        #expect(api.objects(.leases).count == 1)
    }
}
