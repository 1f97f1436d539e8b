import ChainsConfig
import ChainsCore
import ChainsTesting
import Foundation
import KubeClient
import KubeModels
import Logging
import Signing
import Testing

@testable import Controller

/// The controller against the in-process API server: watch, queue, sign, write back.
@Suite("chains controller against the in-process API server", .serialized)
struct ControllerTests {
    func kaniko(name: String, uid: String, done: Bool = true) throws -> JSONValue {
        let text = try String(contentsOf: PackagePaths.example("taskrun-kaniko.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "4b1c7d2e-6f3a-4c8b-9e21-5a7d3c9b0f11", with: uid)
        var object = try #require(try ManifestReader.parse(Data(text.utf8), source: "kaniko").documents[0].objectValue)
        var metadata = try #require(object["metadata"]?.objectValue)
        metadata["name"] = .string(name)
        metadata["annotations"] = .object([:])
        object["metadata"] = .object(metadata)
        if !done {
            var status = try #require(object["status"]?.objectValue)
            status["conditions"] = [.object(["type": "Succeeded", "status": "Unknown", "reason": "Running"])]
            object["status"] = .object(status)
        }
        return .object(object)
    }

    func annotations(_ api: KubeAPIServer, _ name: String) -> [String: String] {
        (api.object(.taskRuns, namespace: "team-a", name: name)?["metadata"]?["annotations"]?.objectValue ?? [:])
            .compactMapValues(\.stringValue)
    }

    /// The controller as `chains controller` builds it — chains-config from the ConfigMap in `tekton-chains`
    /// (put there from `config`, flat `key: value` lines), the API server as cluster view, attempt records kept on
    /// the run before pushing — with a fresh key, running until `stop()`.
    struct Running {
        /// The signing secrets (the key is read on first use): kept while running.
        let directory: TemporaryDirectory
        let client: KubeAPIClient
        let running: RunningController
        let task: Task<Void, Never>
        var secrets: URL { directory.file("secrets") }
        func stop() {
            task.cancel()
            Task {
                await task.value
                await client.shutdown()
            }
        }
    }

    func configMap(_ flat: String) throws -> JSONValue {
        let dir = try TemporaryDirectory()
        let data = try ChainsConfig.loadData(from: try dir.write("cm.yaml", flat))
        return .object([
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": .object(["name": "chains-config", "namespace": "tekton-chains"]),
            "data": .object(data.mapValues { .string($0) }),
        ])
    }

    func startController(
        _ api: KubeAPIServer, token: BearerToken = .none, config: String = "artifacts.oci.storage: tekton\n",
        runTimeout: Duration? = nil, namespace: String?, threads: Int, queue: WorkQueue = WorkQueue(),
        reloadInterval: Duration = .seconds(10), election: ((inout ControllerOptions) -> Void)? = nil,
        environment: [String: String]? = nil,
        logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    ) async throws -> Running {
        let client = try KubeAPIClient(
            connection: KubeConnection(server: URL(string: api.url)!, token: token, namespace: "tekton-chains"))
        let dir = try TemporaryDirectory()
        _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.file("secrets"))
        api.put(try configMap(config), as: .configMaps)
        var options = ControllerOptions()
        options.namespace = namespace
        options.threads = threads
        options.signingSecrets = dir.file("secrets")
        options.runTimeout = runTimeout
        options.systemNamespace = "tekton-chains"
        options.reloadInterval = reloadInterval
        election?(&options)
        if let environment { options.environment = environment }
        let running = try await ControllerFrontDoor.start(
            client: client, options: options, logger: logger, queue: queue)
        return Running(directory: dir, client: client, running: running, task: Task { await running.run() })
    }

    /// An API server and a token registry holding one image per repository in `repositories`; stopped by `stop`.
    func apiAndRegistry(
        _ repositories: [String]
    ) async throws -> (
        api: KubeAPIServer, registry: TokenRegistry, digests: [String: String], stop: @Sendable () -> Void
    ) {
        let api = try await KubeAPIServer()
        let reg = try await TokenRegistry()
        let http = try ChainsTestingHTTP.transport()
        defer { Task { try? await http.shutdown() } }
        var digests: [String: String] = [:]
        for repository in repositories {
            digests[repository] = try await pushTestImage(
                transport: http, registry: reg.address, repository: repository, tag: "v1",
                authorization: try await directToken(reg, repository: repository))
        }
        return (
            api, reg, digests,
            {
                Task {
                    await api.stop()
                    await reg.stop()
                }
            }
        )
    }

    /// Puts the object a YAML manifest describes into the API server.
    func put(_ api: KubeAPIServer, _ yaml: String, as resource: KubeAPIServer.Resource) throws {
        api.put(try #require(try ManifestReader.parse(Data(yaml.utf8), source: "test").documents.first), as: resource)
    }

    func waitUntil(
        _ what: String, state: () -> String = { "" }, _ condition: () -> Bool
    ) async throws {
        // Up to 90 s (a waiting bound, not a timing check): the whole suite shares the machine's 2 cores with these
        // replicas; a full run once took past 30 s for three replicas to share six buckets.
        for _ in 0..<1800 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out waiting for \(what) \(state())")
    }

    @Test("finished runs are signed once and annotated; a run is signed when it finishes; a new one as it arrives")
    func signsRuns() async throws {
        let api = try await KubeAPIServer(token: "t0ken")
        defer { Task { await api.stop() } }
        let uids = [
            "11111111-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000002",
            "11111111-0000-4000-8000-000000000003",
        ]
        api.put(try kaniko(name: "done-1", uid: uids[0]), as: .taskRuns)
        api.put(try kaniko(name: "running", uid: uids[1], done: false), as: .taskRuns)
        let running = try await startController(api, token: .fixed("t0ken"), namespace: "team-a", threads: 2)
        defer { running.stop() }

        try await waitUntil("done-1 signed") { annotations(api, "done-1")["chains.tekton.dev/signed"] == "true" }
        let signed = annotations(api, "done-1")
        #expect(signed["chains.tekton.dev/signature-taskrun-\(uids[0])"] != nil)
        #expect(signed["chains.tekton.dev/payload-taskrun-\(uids[0])"] != nil)
        #expect(!signed.keys.contains { $0.hasPrefix("chains-in-swift.dev/attempt-") }, "attempt records are removed")
        #expect(annotations(api, "running")["chains.tekton.dev/signed"] == nil)
        // An Event says so on the run (what `kubectl describe taskrun` shows); it follows the patch.
        func signedEvents() -> [JSONValue] {
            api.objects(.events).filter {
                $0["reason"]?.stringValue == "Signed" && $0["involvedObject"]?["name"]?.stringValue == "done-1"
            }
        }
        try await waitUntil("the Signed event") { !signedEvents().isEmpty }
        #expect(signedEvents().count == 1 && signedEvents().first?["type"]?.stringValue == "Normal")
        #expect(signedEvents().first?["involvedObject"]?["uid"]?.stringValue == uids[0])

        // The running one finishes: signed. A new finished one arrives: signed.
        api.put(try kaniko(name: "running", uid: uids[1]), as: .taskRuns)
        api.put(try kaniko(name: "done-2", uid: uids[2]), as: .taskRuns)
        try await waitUntil("running and done-2 signed") {
            annotations(api, "running")["chains.tekton.dev/signed"] == "true"
                && annotations(api, "done-2")["chains.tekton.dev/signed"] == "true"
        }
        // Signed once each: the run's records (one write) and the annotations are what was written to each run.
        #expect(api.stats.byVerb["patch"] ?? 0 >= 6, "\(api.stats.byVerb)")
        for name in ["done-1", "running", "done-2"] {
            let finalizers = api.object(.taskRuns, namespace: "team-a", name: name)?["metadata"]?["finalizers"]
            #expect(finalizers == nil, "\(name) keeps no finalizer once signed")
        }
    }

    @Test(
        "Rekor down: retried with backoff, no retries spent, the signatures kept on the run and reused — one entry each"
    )
    func transientFailure() async throws {
        let api = try await KubeAPIServer()
        let rekor = try await RekorSimulator()
        defer {
            Task {
                await api.stop()
                await rekor.stop()
            }
        }
        let uid = "22222222-0000-4000-8000-000000000001"
        api.put(try kaniko(name: "logged", uid: uid), as: .taskRuns)
        // Rekor answers 503 to everything: the attempt's five tries (about 3 s of backoff) end in a retryable log
        // failure, deferred. The run budget is far longer than that, so a loaded machine cannot make it run out
        // elsewhere first (in the attempt-record PATCH, once, with a 1 s budget) and defer at another stage.
        rekor.setDown(true)
        let running = try await startController(
            api,
            config: "transparency.enabled: \"true\"\ntransparency.url: \(rekor.url)\nartifacts.oci.storage: tekton\n",
            runTimeout: .seconds(120), namespace: nil, threads: 1,
            queue: WorkQueue(baseDelay: .milliseconds(200), maxDelay: .seconds(1)))
        defer { running.stop() }
        func reasons() -> [String] { api.objects(.events).compactMap { $0["reason"]?.stringValue } }
        try await waitUntil("an attempt deferred") { reasons().contains("SigningDeferred") }
        #expect(annotations(api, "logged").keys.contains { $0.hasPrefix("chains-in-swift.dev/attempt-") })
        #expect(annotations(api, "logged")["chains.tekton.dev/retries"] == nil, "a transient failure spends no retry")
        let recordText = try #require(annotations(api, "logged")["chains-in-swift.dev/attempt-taskrun-\(uid)"])
        let record = try JSONDecoder().decode(AttemptRecord.self, from: Data(recordText.utf8))
        #expect(annotations(api, "logged")["chains.tekton.dev/signed"] == nil)
        rekor.setDown(false)
        try await waitUntil("signed after Rekor is back") {
            annotations(api, "logged")["chains.tekton.dev/signed"] == "true"
        }
        let final = annotations(api, "logged")
        #expect(final["chains.tekton.dev/transparency"]?.hasPrefix(rekor.url) == true)
        #expect(rekor.entryCount == 2, "one entry per artifact")
        #expect(
            final["chains.tekton.dev/signature-taskrun-\(uid)"] == record.signature,
            "the retry stored the signature the deferred attempt made, not a new one")
        #expect(!final.keys.contains { $0.hasPrefix("chains-in-swift.dev/attempt-") })
        try await waitUntil("the Signed event") { reasons().contains("Signed") }
        let deferred = api.objects(.events).first { $0["reason"]?.stringValue == "SigningDeferred" }
        // The deferred attempt names the log stage, the log and its answer.
        let message = deferred?["message"]?.stringValue ?? ""
        #expect(
            message.contains("tlog") && message.contains(rekor.url.replacingOccurrences(of: "http://", with: ""))
                && message.contains("503"),
            "\(message)")
    }

    @Test(
        "a record planted on a run (another key's envelope over another statement) is ignored: signed with our key over its real provenance, a Warning Event names it"
    )
    func plantedRecord() async throws {
        let api = try await KubeAPIServer()
        defer { Task { await api.stop() } }
        let uid = "33333333-0000-4000-8000-000000000001"
        var run = try kaniko(name: "planted", uid: uid)
        let statement = Data(
            #"{"_type":"https://in-toto.io/Statement/v0.1","predicate":{"builder":{"id":"https://evil.example/builder"}},"predicateType":"https://slsa.dev/provenance/v0.2","subject":[{"digest":{"sha256":"\#(String(repeating: "ab", count: 32))"},"name":"registry.example.com/victim/app"}]}"#
                .utf8)
        let theirs = KeySigner(key: try PrivateKey.generate(.ecdsaP256), hash: .sha256Always, origin: "planted")
        let envelope = try await DSSE.sign(payload: statement, signer: theirs)
        let record = #"{"format":"in-toto","signature":"\#(envelope.base64EncodedString())"}"#
        var object = try #require(run.objectValue)
        var metadata = try #require(object["metadata"]?.objectValue)
        metadata["annotations"] = .object([AttemptRecord.key(shortKey: "taskrun-\(uid)"): .string(record)])
        object["metadata"] = .object(metadata)
        run = .object(object)
        api.put(run, as: .taskRuns)
        let running = try await startController(api, namespace: nil, threads: 1)
        defer { running.stop() }
        try await waitUntil("planted signed") { annotations(api, "planted")["chains.tekton.dev/signed"] == "true" }
        let signed = annotations(api, "planted")
        let ours = try SigningSecrets.loadSigner(from: running.secrets).publicKey
        let stored = try #require(
            signed["chains.tekton.dev/signature-taskrun-\(uid)"].flatMap { Data(base64Encoded: $0) })
        let payload = try #require(DSSE.verify(envelope: stored, publicKey: ours), "our key signed what is stored")
        // The run's real provenance: what the payload annotation holds, this run's image and builder.
        #expect(signed["chains.tekton.dev/payload-taskrun-\(uid)"] == payload.base64EncodedString())
        let text = String(decoding: payload, as: UTF8.self)
        #expect(text.contains("registry.example.com/team-a/app") && text.contains("https://tekton.dev/chains/v2"))
        #expect(!text.contains("evil.example") && !text.contains("victim"))
        #expect(!signed.keys.contains { $0.hasPrefix(AttemptRecord.prefix) }, "the planted record is gone")
        func ignored() -> [JSONValue] {
            api.objects(.events).filter { $0["reason"]?.stringValue == "AttemptRecordIgnored" }
        }
        try await waitUntil("the AttemptRecordIgnored event") { !ignored().isEmpty }
        let event = try #require(ignored().first)
        #expect(event["type"]?.stringValue == "Warning" && event["involvedObject"]?["name"]?.stringValue == "planted")
        let message = event["message"]?.stringValue ?? ""
        #expect(
            message.contains("chains-in-swift.dev/attempt-taskrun-\(uid)")
                && message.contains("its envelope is not over the payload planned for this artifact now"), "\(message)")
    }

    @Test("no push password, docker config auth or token in any Event, metric label or log line, signed or refused")
    func noSecretInEventsMetricsOrLogs() async throws {
        let (api, reg, byRepository, stop) = try await apiAndRegistry(["team-a/app", "team-b/app"])
        defer { stop() }
        let digests = ["team-a": byRepository["team-a/app"]!, "team-b": byRepository["team-b/app"]!]
        func put(_ yaml: String, as resource: KubeAPIServer.Resource) throws { try self.put(api, yaml, as: resource) }
        let (reader, pusher) = (TokenRegistry.pullUser, TokenRegistry.pushUser)
        // team-a: the reader's secret first (refused for push), then the pusher's; team-b: the reader's only.
        for namespace in ["team-a", "team-b"] {
            try put(
                RunFixtures.dockerConfigSecret(
                    name: "pull-only", namespace: namespace, registry: reg.address, username: reader.0,
                    password: reader.1), as: .secrets)
            try put(
                RunFixtures.serviceAccount(
                    namespace: namespace,
                    secrets: namespace == "team-a" ? ["desktop-store", "pull-only", "push-creds"] : ["pull-only"]),
                as: .serviceAccounts)
            try put(
                RunFixtures.taskRun(
                    image: "\(reg.address)/\(namespace)/app", digest: digests[namespace]!, namespace: namespace),
                as: .taskRuns)
        }
        try put(
            RunFixtures.dockerConfigSecret(
                name: "push-creds", registry: reg.address, username: pusher.0, password: pusher.1), as: .secrets)
        let stored = #"{"auths":{"\#(reg.address)":{}},"credsStore":"desktop"}"#
        api.put(
            .object([
                "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                "metadata": .object(["name": "desktop-store", "namespace": "team-a"]),
                "data": .object([".dockerconfigjson": .string(Data(stored.utf8).base64EncodedString())]),
            ]), as: .secrets)
        let log = CapturedLog()
        let running = try await startController(
            api, config: "artifacts.taskrun.storage: oci,tekton\nartifacts.oci.storage: oci,tekton\n", namespace: nil,
            threads: 2, queue: WorkQueue(baseDelay: .milliseconds(100), maxDelay: .milliseconds(500)),
            // Started as in a cluster (no kubeconfig): the loopback registry and its token realm must be listed.
            election: { $0.allowedRegistries = [reg.address, "127.0.0.1:\(reg.tokens.port)"] }, logger: log.logger())
        defer { running.stop() }
        func reasons() -> [String] { api.objects(.events).compactMap { $0["reason"]?.stringValue } }
        func mark(_ namespace: String) -> [String: String] {
            (api.object(.taskRuns, namespace: namespace, name: "build-1")?["metadata"]?["annotations"]?.objectValue
                ?? [:]).compactMapValues(\.stringValue)
        }
        try await waitUntil("team-a signed, team-b failed for good") {
            mark("team-a")["chains.tekton.dev/signed"] == "true"
                && mark("team-b")["chains.tekton.dev/signed"] == "failed"
                && reasons().contains("SigningFailed") && reasons().contains("Signed")
        }
        #expect(reasons().contains("Signed") && reasons().contains("SigningFailed"), "\(reasons())")
        // The Secret made from a credential-store config is named on the run, with what to do.
        let warning = api.objects(.events).first { $0["reason"]?.stringValue == "CredentialWarning" }
        #expect(
            warning?["message"]?.stringValue?.contains("Secret team-a/desktop-store .dockerconfigjson") == true
                && warning?["type"]?.stringValue == "Warning", "\(reasons())")
        let events = api.objects(.events).map { String(decoding: $0.serializedData(), as: UTF8.self) }
        let metrics = try #require(running.running.controller.metrics).exposition()
        // The refusal is explained (which user, from which secret) without the credential itself.
        #expect(events.contains { $0.contains("user reader") && $0.contains("pull-only") }, "\(events)")
        #expect(metrics.contains("watcher_taskrun_marked_signed_total"), "\(metrics)")
        #expect(log.all.count > 4, "little was logged: the scan would prove little")
        let written = [mark("team-a"), mark("team-b")].flatMap(\.values)
        for (user, password) in [reader, pusher] {
            let basic = Data("\(user):\(password)".utf8).base64EncodedString()
            for secret in [password, basic] {
                #expect(!events.contains { $0.contains(secret) }, "a secret in an Event")
                #expect(!metrics.contains(secret), "a secret in a metric")
                #expect(!log.all.contains { $0.contains(secret) }, "a secret in a log line")
                #expect(!written.contains { $0.contains(secret) }, "a secret in an annotation")
            }
        }
        // Registry tokens the controller was issued are credentials too.
        let tokens = reg.tokens.stats.issued
        #expect(!tokens.isEmpty)
        for token in tokens {
            #expect(!events.contains { $0.contains(token) } && !log.all.contains { $0.contains(token) })
            #expect(!metrics.contains(token))
        }
    }

    @Test(
        "one run, a .sig and an .att pushed: read once, its records written once; its ServiceAccount, each Secret and its Pod read once"
    )
    func clusterReadsOncePerRun() async throws {
        let (api, reg, digests, stop) = try await apiAndRegistry(["team-a/app"])
        defer { stop() }
        let digest = try #require(digests["team-a/app"])
        func put(_ yaml: String, as resource: KubeAPIServer.Resource) throws { try self.put(api, yaml, as: resource) }
        let (reader, pusher) = (TokenRegistry.pullUser, TokenRegistry.pushUser)
        // Every source holds a Secret: the reader's is refused for push, so each push reads on to the pusher's.
        try put(
            RunFixtures.serviceAccount(secrets: ["pull-only"], imagePullSecrets: ["push-creds"]), as: .serviceAccounts)
        for (name, user) in [("pull-only", reader), ("pod-pull", reader), ("push-creds", pusher)] {
            try put(
                RunFixtures.dockerConfigSecret(name: name, registry: reg.address, username: user.0, password: user.1),
                as: .secrets)
        }
        try put(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: build-1-pod, namespace: team-a}\n"
                + "spec: {serviceAccountName: builder, imagePullSecrets: [{name: pod-pull}]}\n", as: .pods)
        try put(
            RunFixtures.taskRun(image: "\(reg.address)/team-a/app", digest: digest).replacingOccurrences(
                of: "status:\n", with: "status:\n  podName: build-1-pod\n"), as: .taskRuns)
        let running = try await startController(
            api, config: "artifacts.taskrun.storage: oci\nartifacts.oci.storage: oci\n", namespace: "team-a",
            threads: 1, election: { $0.allowedRegistries = [reg.address, "127.0.0.1:\(reg.tokens.port)"] })
        defer { running.stop() }
        func mark() -> String? {
            api.object(.taskRuns, namespace: "team-a", name: "build-1")?["metadata"]?["annotations"]?[
                "chains.tekton.dev/signed"]?.stringValue
        }
        try await waitUntil("the run signed") { mark() != nil }
        #expect(mark() == "true")
        let tags = try await listTags(reg, repository: "team-a/app")
        #expect(tags.contains { $0.hasSuffix(".sig") } && tags.contains { $0.hasSuffix(".att") }, "\(tags)")
        // Reconciled once: the attempt-record write coming back through the watch does not queue the run again.
        #expect(api.stats.gets["taskruns/team-a/build-1"] == 1, "\(api.stats.gets)")
        #expect(api.stats.byResource["patch taskruns"] == 2, "one write of attempt records, one of the result")
        let gets = api.stats.gets.filter { !$0.key.hasPrefix("configmaps/") && !$0.key.hasPrefix("taskruns/") }
        #expect(
            gets == [
                "serviceaccounts/team-a/builder": 1, "pods/team-a/build-1-pod": 1, "secrets/team-a/pull-only": 1,
                "secrets/team-a/pod-pull": 1, "secrets/team-a/push-creds": 1,
            ], "\(gets)")
    }

    @Test("finalizers: a running run is held until signed; deleting one releases it at once, signed or not")
    func finalizers() async throws {
        let api = try await KubeAPIServer()
        defer { Task { await api.stop() } }
        api.put(try kaniko(name: "kept", uid: "33333333-0000-4000-8000-000000000001", done: false), as: .taskRuns)
        api.put(try kaniko(name: "deleted", uid: "33333333-0000-4000-8000-000000000002", done: false), as: .taskRuns)
        let running = try await startController(api, namespace: "team-a", threads: 2)
        defer { running.stop() }
        func finalizers(_ name: String) -> [String]? {
            api.object(.taskRuns, namespace: "team-a", name: name).map {
                ($0["metadata"]?["finalizers"]?.arrayValue ?? []).compactMap(\.stringValue)
            }
        }
        try await waitUntil("both held") {
            finalizers("kept") == ["chains.tekton.dev/taskrun"]
                && finalizers("deleted") == ["chains.tekton.dev/taskrun"]
        }
        // Deleted while running: the finalizer is released, not held until a signature that will never come.
        let http = try KubeAPIClient(
            connection: KubeConnection(server: URL(string: api.url)!, token: .none, namespace: "team-a"))
        defer { Task { await http.shutdown() } }
        try await http.delete(.taskRuns, namespace: "team-a", name: "deleted")
        try await waitUntil("the deleted run gone") {
            api.object(.taskRuns, namespace: "team-a", name: "deleted") == nil
        }
        // The other finishes (Tekton updates its status; our finalizer stays): signed, then released.
        _ = try await http.mergePatch(
            .taskRuns, namespace: "team-a", name: "kept",
            .object(["status": .object(["conditions": [.object(["type": "Succeeded", "status": "True"])]])]))
        try await waitUntil("kept signed and released") {
            let annotations = api.object(.taskRuns, namespace: "team-a", name: "kept")?["metadata"]?["annotations"]
            return annotations?["chains.tekton.dev/signed"]?.stringValue == "true" && finalizers("kept") == []
        }
    }

    @Test(
        "spec.managedBy: runs of Tekton (empty, tekton.dev/pipeline) and of filter.managed-by are signed; others untouched"
    )
    func managedBy() async throws {
        let api = try await KubeAPIServer()
        defer { Task { await api.stop() } }
        func run(_ name: String, _ manager: String?, _ n: Int) throws -> JSONValue {
            var object = try #require(
                try kaniko(name: name, uid: "44444444-0000-4000-8000-00000000000\(n)").objectValue)
            var spec = try #require(object["spec"]?.objectValue)
            spec["managedBy"] = manager.map { .string($0) }
            object["spec"] = .object(spec)
            return .object(object)
        }
        api.put(try run("tekton", "tekton.dev/pipeline", 1), as: .taskRuns)
        api.put(try run("allowed", "example.com/kueue", 2), as: .taskRuns)
        api.put(try run("other", "example.com/other", 3), as: .taskRuns)
        let running = try await startController(
            api, config: "filter.managed-by: example.com/kueue\nartifacts.oci.storage: tekton\n", namespace: nil,
            threads: 2)
        defer { running.stop() }
        try await waitUntil("tekton and allowed signed") {
            annotations(api, "tekton")["chains.tekton.dev/signed"] == "true"
                && annotations(api, "allowed")["chains.tekton.dev/signed"] == "true"
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(annotations(api, "other").isEmpty, "a run managed by another controller is not touched")
    }

    @Test("a PipelineRun done before a child: held, then signed once the child finishes, with both children described")
    func pipelineRunWaitsForChildren() async throws {
        let api = try await KubeAPIServer()
        defer { Task { await api.stop() } }
        func manifest(_ file: URL) throws -> JSONValue {
            try ManifestReader.parse(try Data(contentsOf: file), source: file.path).documents[0]
        }
        let pr = try manifest(PackagePaths.example("pipelinerun-git-build.yaml"))
        let fetch = try manifest(PackagePaths.example("cluster/app-ci-4mz8w-fetch-source.yaml"))
        var build = try #require(try manifest(PackagePaths.example("cluster/app-ci-4mz8w-build.yaml")).objectValue)
        let finished = JSONValue.object(build)
        var status = try #require(build["status"]?.objectValue)
        status["conditions"] = [.object(["type": "Succeeded", "status": "Unknown", "reason": "Running"])]
        build["status"] = .object(status)
        api.put(fetch, as: .taskRuns)
        api.put(.object(build), as: .taskRuns)
        api.put(pr, as: .pipelineRuns)
        let running = try await startController(
            api,
            config:
                "artifacts.pipelinerun.format: slsa/v1\nartifacts.pipelinerun.storage: tekton\nartifacts.taskrun.storage: \"\"\nartifacts.oci.storage: \"\"\n",
            namespace: "team-a", threads: 1,
            queue: WorkQueue(baseDelay: .milliseconds(100), maxDelay: .milliseconds(400)))
        defer { running.stop() }
        func prMetadata() -> JSONValue? {
            api.object(.pipelineRuns, namespace: "team-a", name: "app-ci-4mz8w")?["metadata"]
        }
        try await waitUntil("the PipelineRun held") {
            prMetadata()?["finalizers"] == ["chains.tekton.dev/pipelinerun"]
        }
        #expect(prMetadata()?["annotations"]?["chains.tekton.dev/signed"] == nil)
        api.put(finished, as: .taskRuns)
        try await waitUntil("the PipelineRun signed and released") {
            prMetadata()?["annotations"]?["chains.tekton.dev/signed"]?.stringValue == "true"
                && prMetadata()?["finalizers"] == nil
        }
        let uid = try #require(pr["metadata"]?["uid"]?.stringValue)
        let payload = try #require(
            prMetadata()?["annotations"]?["chains.tekton.dev/payload-pipelinerun-\(uid)"]?.stringValue.flatMap {
                Data(base64Encoded: $0)
            })
        // Both children, the one that finished last included, are in the provenance.
        let text = String(decoding: payload, as: UTF8.self)
        #expect(
            text.contains("\"tekton.dev/pipelineTask\":\"build\"")
                && text.contains("\"tekton.dev/pipelineTask\":\"fetch-source\""))
    }
}
