import ChainsTesting
import Foundation
import KubeModels
import Synchronization
import Testing

@testable import KubeClient

/// Our Kubernetes client against the in-process API server (itself checked with the official Python client).
@Suite("KubeClient: connections, requests, watches, the reflector", .serialized)
struct KubeClientTests {
    let ns = "team-a"

    func taskRun(_ name: String, annotations: [String: String] = [:]) -> JSONValue {
        .object([
            "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
            "metadata": .object([
                "name": .string(name), "namespace": .string(ns),
                "annotations": .object(annotations.mapValues { .string($0) }),
            ]),
            "spec": .object(["taskRef": .object(["name": "build"])]),
            "status": .object(["podName": .string("\(name)-pod"), "steps": .array(Array(repeating: "x", count: 50))]),
        ])
    }

    func client(_ api: KubeAPIServer, token: BearerToken = .fixed("t0ken"), qps: Double = 1000) throws -> KubeAPIClient
    {
        try KubeAPIClient(
            connection: KubeConnection(server: URL(string: api.url)!, token: token, namespace: ns), qps: qps,
            burst: 1000)
    }

    @Test("in-cluster and kubeconfig connections: server, CA, token (fixed or a file), namespace; refusals name why")
    func connections() throws {
        let dir = try TemporaryDirectory()
        try dir.write("sa/token", "abc\n")
        try dir.write("sa/namespace", "tekton-chains")
        try dir.write("sa/ca.crt", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
        let inCluster = try KubeConnection.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"],
            directory: dir.file("sa").path)
        #expect(inCluster.server.absoluteString == "https://10.0.0.1:443" && inCluster.namespace == "tekton-chains")
        #expect(try inCluster.token.current() == "abc" && inCluster.caFile == dir.file("sa/ca.crt").path)
        // The token file is read for each request: a rotated token is used at once.
        try dir.write("sa/token", "rotated")
        #expect(try inCluster.token.current() == "rotated")
        #expect(throws: KubeError.self) {
            try KubeConnection.inCluster(environment: [:], directory: dir.file("sa").path)
        }

        let config = try dir.write(
            "kubeconfig",
            """
            apiVersion: v1
            kind: Config
            current-context: ci
            contexts:
            - name: ci
              context: {cluster: c, user: u, namespace: builds}
            - name: cert
              context: {cluster: c, user: cert}
            clusters:
            - name: c
              cluster: {server: "https://kube.example.com:6443", certificate-authority-data: \(Data("pem".utf8).base64EncodedString())}
            users:
            - name: u
              user: {token: s3cret}
            - name: cert
              user: {client-certificate-data: eA==, client-key-data: eA==}
            """)
        let fromFile = try KubeConnection.kubeconfig(path: config.path)
        #expect(fromFile.server.host == "kube.example.com" && fromFile.namespace == "builds")
        #expect(try fromFile.token.current() == "s3cret")
        #expect(fromFile.caFile.map { (try? String(contentsOfFile: $0, encoding: .utf8)) == "pem" } == true)
        do {
            _ = try KubeConnection.kubeconfig(path: config.path, context: "cert")
            Issue.record("a client-certificate user was accepted")
        } catch {
            #expect(error.reason.contains("client certificate"))
        }
    }

    @Test("get (nil for 404), list across pages, create (409 typed), merge patch (conditional: 409), 401 and 503 typed")
    func requests() async throws {
        let api = try await KubeAPIServer(token: "t0ken")
        defer { Task { await api.stop() } }
        for i in 0..<7 { api.put(taskRun("run-\(i)"), as: .taskRuns) }
        let kube = try client(api)
        defer { Task { await kube.shutdown() } }
        #expect(try await kube.get(.taskRuns, namespace: ns, name: "missing") == nil)
        let one = try #require(try await kube.get(.taskRuns, namespace: ns, name: "run-1"))
        let (items, version) = try await kube.list(.taskRuns, namespace: ns, pageSize: 3)
        #expect(items.count == 7 && !version.isEmpty)
        #expect(api.stats.byVerb["list"] == 3)
        do {
            _ = try await kube.create(.taskRuns, namespace: ns, taskRun("run-1"))
            Issue.record("a duplicate was created")
        } catch {
            #expect(error.status == 409 && error.statusReason == "AlreadyExists" && !error.isRetryable)
        }
        let rv = try #require(one["metadata"]?["resourceVersion"]?.stringValue)
        let patched = try await kube.mergePatch(
            .taskRuns, namespace: ns, name: "run-1",
            .object(["metadata": .object(["resourceVersion": .string(rv), "annotations": .object(["a": "1"])])]))
        #expect(patched["metadata"]?["annotations"]?["a"]?.stringValue == "1")
        do {
            _ = try await kube.mergePatch(
                .taskRuns, namespace: ns, name: "run-1",
                .object(["metadata": .object(["resourceVersion": .string(rv)])]))
            Issue.record("a stale conditional patch was applied")
        } catch {
            #expect(error.isConflict)
        }
        let stranger = try client(api, token: .fixed("wrong"))
        defer { Task { await stranger.shutdown() } }
        do {
            _ = try await stranger.get(.taskRuns, namespace: ns, name: "run-1")
            Issue.record("a wrong token was accepted")
        } catch {
            #expect(error.status == 401 && !error.isRetryable)
        }
        api.fail(status: 503, count: 1)
        do {
            _ = try await kube.get(.taskRuns, namespace: ns, name: "run-1")
            Issue.record("an injected 503 was not seen")
        } catch {
            #expect(error.status == 503 && error.isRetryable)
        }
    }

    @Test("the rate limit: 30 requests at 20 qps with a burst of 10 take about a second")
    func rateLimit() async throws {
        let api = try await KubeAPIServer()
        defer { Task { await api.stop() } }
        api.put(taskRun("r"), as: .taskRuns)
        let kube = try KubeAPIClient(
            connection: KubeConnection(server: URL(string: api.url)!, token: .none, namespace: ns), qps: 20, burst: 10)
        defer { Task { await kube.shutdown() } }
        let start = ContinuousClock.now
        for _ in 0..<30 { _ = try await kube.get(.taskRuns, namespace: ns, name: "r") }
        let elapsed = ContinuousClock.now - start
        // 10 at once, then 20 more at 20/s: at least ~1 s. (A behaviour check with a wide margin, not a benchmark.)
        #expect(elapsed >= .milliseconds(900), "\(elapsed)")
    }

    @Test("the reflector: list, live changes, a dropped watch resumed, 410 answered by a re-list; objects trimmed")
    func reflector() async throws {
        let api = try await KubeAPIServer()
        defer { Task { await api.stop() } }
        api.put(taskRun("a"), as: .taskRuns)
        api.put(taskRun("b"), as: .taskRuns)
        let kube = try client(api)
        defer { Task { await kube.shutdown() } }
        let errors = Mutex<[String]>([])
        let reflector = Reflector(
            client: kube, resource: .taskRuns, namespace: ns, watchTimeoutSeconds: 30,
            transform: { o in .object(["metadata": o["metadata"] ?? .null]) },
            onError: { e in errors.withLock { $0.append(e.description) } })
        var iterator = reflector.events().makeAsyncIterator()
        guard case .synced(let first) = await iterator.next() else { Issue.record("no sync first"); return }
        #expect(first.count == 2 && first.allSatisfy { $0["status"] == nil && $0["spec"] == nil })
        try await Task.sleep(for: .milliseconds(200))
        api.put(taskRun("c"), as: .taskRuns)
        guard case .upsert(let c) = await iterator.next() else { Issue.record("no upsert"); return }
        #expect(c["metadata"]?["name"]?.stringValue == "c")
        // The server ends every watch: the reflector resumes from the last version, no re-list.
        api.dropWatches()
        try await Task.sleep(for: .milliseconds(200))
        api.put(taskRun("d"), as: .taskRuns)
        guard case .upsert(let d) = await iterator.next() else { Issue.record("no upsert after a drop"); return }
        #expect(d["metadata"]?["name"]?.stringValue == "d" && api.stats.byVerb["list"] == 1)
        // The watch drops and the API fails once (the reflector backs off); meanwhile the history it would resume
        // from is forgotten: its version is too old (410), so it lists again.
        api.fail(status: 503, count: 1)
        api.dropWatches()
        try await Task.sleep(for: .milliseconds(300))
        api.put(taskRun("e"), as: .taskRuns)
        api.compact()
        var relisted: [JSONValue]?
        while relisted == nil {
            if case .synced(let all) = await iterator.next() { relisted = all }
        }
        #expect(relisted?.count == 5 && api.stats.byVerb["list"] == 2)
        #expect(errors.withLock { $0 }.count == 1 && errors.withLock { $0 }.first?.contains("503") == true)
    }

    /// The fault suite's watch rows: a stream that carries garbage is given up and resumed, with the error reported
    /// naming the watch; nothing is missed and nothing re-listed.
    @Test("a watch that sends garbage: reported, resumed from the last version, later changes still arrive")
    func garbageWatch() async throws {
        let api = try await KubeAPIServer()
        defer { Task { await api.stop() } }
        api.put(taskRun("a"), as: .taskRuns)
        let kube = try client(api)
        defer { Task { await kube.shutdown() } }
        let errors = Mutex<[String]>([])
        let reflector = Reflector(
            client: kube, resource: .taskRuns, namespace: ns, watchTimeoutSeconds: 30, transform: { $0 },
            onError: { e in errors.withLock { $0.append(e.description) } })
        var iterator = reflector.events().makeAsyncIterator()
        guard case .synced = await iterator.next() else { Issue.record("no sync first"); return }
        try await Task.sleep(for: .milliseconds(200))
        api.sendGarbage()
        try await Task.sleep(for: .milliseconds(300))
        api.put(taskRun("b"), as: .taskRuns)
        guard case .upsert(let b) = await iterator.next() else { Issue.record("no upsert after garbage"); return }
        #expect(b["metadata"]?["name"]?.stringValue == "b")
        #expect(api.stats.byVerb["list"] == 1, "resumed, not re-listed")
        let reported = errors.withLock { $0 }
        #expect(reported.contains { $0.contains("not {type, object}") && $0.contains("taskruns") }, "\(reported)")
    }

    /// Bounded resources: a watch stream is split into events however its chunks fall, a burst of events in one chunk
    /// costs linear time, and a line that never ends is given up at maxEventBytes, not held in memory.
    @Test("watch lines: split across chunks, a 20 MB event read whole, a line without end given up at the limit")
    func watchLines() async throws {
        func stream(_ chunks: [Data]) -> AsyncThrowingStream<Data, any Error> {
            AsyncThrowingStream { c in
                for chunk in chunks { c.yield(chunk) }
                c.finish()
            }
        }
        func event(_ name: String, padding: Int = 0) -> String {
            #"{"type":"ADDED","object":{"kind":"TaskRun","metadata":{"name":"\#(name)"},"pad":"\#(String(repeating: "x", count: padding))"}}"#
                + "\n"
        }
        // 5,000 events in one chunk, then one event cut into single bytes.
        var names: [String] = []
        let burst = Data((0..<5000).map { event("r\($0)") }.joined().utf8)
        let split = Data(event("split").utf8).map { Data([$0]) }
        for try await e in KubeAPIClient.events(from: stream([burst] + split), path: "/w") {
            if case .added(let o) = e { names.append(o["metadata"]?["name"]?.stringValue ?? "") }
        }
        #expect(names.count == 5001 && names.first == "r0" && names.last == "split")
        // A 20 MB object in 64 KiB chunks: read whole.
        let big = Data(event("big", padding: 20_000_000).utf8)
        let pieces = stride(from: 0, to: big.count, by: 65536).map { big[$0..<min($0 + 65536, big.count)] }
        var sizes: [Int] = []
        for try await e in KubeAPIClient.events(from: stream(pieces.map { Data($0) }), path: "/w") {
            if case .added(let o) = e { sizes.append(o["pad"]?.stringValue?.count ?? 0) }
        }
        #expect(sizes == [20_000_000])
        // A line that never ends: an error naming the watch once it passes the limit.
        let endless = (0..<(KubeAPIClient.maxEventBytes / 1_048_576 + 2)).map { _ in
            Data(repeating: 0x61, count: 1_048_576)
        }
        await #expect {
            for try await _ in KubeAPIClient.events(from: stream(endless), path: "/apis/tekton.dev/v1/taskruns") {}
        } throws: { "\($0)".contains("/apis/tekton.dev/v1/taskruns") && "\($0)".contains("MiB") }
    }
}
