import ChainsConfig
import ChainsCore
import ChainsTesting
import Foundation
import HTTPTransport
import KubeModels
import OCI
import OCIRegistry
import Provenance
import RegistryAuth
import Signing
import Sigstore

// Benchmarks for docs/performance.md. Numbers, not assertions: run `scripts/bench.sh` (release build).
//   chains-bench [--seconds S] [--only TEXT] [--chains PATH_TO_CHAINS_BINARY] [--cold-runs N]
//   --only TEXT: only the throughput lines whose label contains TEXT (for a profiler: `perf record … --only Service`).
//   --rekor-v2 N [--log-latency MS,MS] [--concurrency C]: keyless runs/s through Fulcio, Rekor v2 and a TSA.
//   --controller N [--replicas R] [--latency MS] [--also-gcs]: `chains controller` processes; --also-gcs stores in
//   oci and gcs (fake-gcs-server) instead of oci alone.

let arguments = CommandLine.arguments
func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}
let seconds = Double(option("--seconds") ?? "2") ?? 2
let only = option("--only")
func selected(_ label: String) -> Bool { only.map { label.contains($0) } ?? true }

func pad(_ s: String) -> String { s.count >= 52 ? s : s + String(repeating: " ", count: 52 - s.count) }

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs `body` repeatedly for about `seconds`, returns operations per second.
func measure(_ label: String, _ body: () throws -> Void) rethrows {
    guard selected(label) else { return }
    for _ in 0..<50 { try body() }  // warm-up
    var count = 0
    let start = now()
    var elapsed = 0.0
    repeat {
        for _ in 0..<100 { try body() }
        count += 100
        elapsed = now() - start
    } while elapsed < seconds
    let perSecond = Double(count) / elapsed
    print(pad(label) + String(format: "%10.0f /s  %8.1f µs/op", perSecond, 1e6 / perSecond))
}

// Keyless with a signing config's services: Fulcio, Rekor v2 (which answers a write only once a checkpoint covers it:
// `--log-latency MS` of it) and an RFC 3161 authority (openssl ts). N runs through the signing service, C at a time:
// throughput comes from overlapping writes — both artifacts of a run at once, and C runs at once.
if let n = option("--rekor-v2").flatMap(Int.init) {
    let concurrency = Int(option("--concurrency") ?? "64") ?? 64
    let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
    let fulcio = try await FulcioSimulator(issuers: [issuer])
    let rekor = try await RekorV2Simulator()
    let dir = try TemporaryDirectory()
    let tsa = try OpenSSLTimestampAuthority(directory: dir)
    let tsaServer = try await tsa.serve()
    let tsaURL = "http://127.0.0.1:\(tsaServer.port)/api/v1/timestamp"
    let tokenFile = try dir.write("token", issuer.token(subject: "system:serviceaccount:tekton-chains:controller"))
    let root = try TrustedRoot(
        json: Data(
            SigstoreTrust.trustedRoot(
                fulcio: fulcio, tlogs: [rekor.trustedRootLog], timestampAuthority: (tsa, url: tsaURL)
            ).utf8), source: "bench")
    let http = try AsyncHTTPClientTransport(timeouts: HTTPTimeouts(request: .seconds(30)), connectionsPerHost: 256)
    let certificates = KeylessCertificates(
        fulcio: FulcioClient(address: URL(string: fulcio.url)!, transport: http, trustedRoot: root),
        providers: [FileTokenProvider(path: tokenFile.path)])
    guard
        case .success(let parsed) = ChainsConfig.parse([
            "artifacts.oci.storage": "tekton", "transparency.enabled": "true",
        ])
    else { fatalError() }
    let log = RekorV2TransparencyLog(
        client: RekorV2Client(address: URL(string: rekor.url)!, transport: http, logs: root.tlogs)!)
    let stamps = RFC3161TimestampAuthority(
        client: TimestampClient(address: URL(string: tsaURL)!, transport: http, authorities: root.timestampAuthorities),
        authorities: root.timestampAuthorities)
    let service = try SigningService(
        config: parsed.config, signers: KeylessSignerSource(certificates: certificates), backends: [TektonStorage()],
        cluster: ObjectStore(), transparency: log, timestamps: stamps)
    print("")
    print(
        "Rekor v2 benchmark: \(n) keyless runs (provenance + image each), \(concurrency) at a time: simulated Fulcio "
            + "and Rekor v2 (every answer's checkpoint and inclusion proof verified), openssl TSA (every timestamp "
            + "verified), on loopback")
    for latency in (option("--log-latency") ?? "200,2000").split(separator: ",").compactMap({ Int($0) }) {
        rekor.setWriteLatency(.milliseconds(latency))
        let runs = try (0..<n).map { i -> AnyRun in
            let doc = try ManifestReader.parse(Data(Synthetic.taskRunYAML(index: i).utf8), source: "bench").documents[0]
            return try AnyRun(json: doc, source: "bench")
        }
        let entriesBefore = rekor.entryCount
        let start = now()
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func add() {
                let run = runs[next]
                next += 1
                group.addTask {
                    let outcome = await service.sign(run)
                    guard outcome.succeeded else { fatalError("\(outcome.failures)") }
                }
            }
            while next < min(concurrency, runs.count) { add() }
            while try await group.next() != nil { if next < runs.count { add() } }
        }
        let seconds = now() - start
        print(
            pad("runs/s at \(latency) ms of log write latency")
                + String(
                    format: "%8.1f runs/s  (%d entries, %.1f s)", Double(n) / seconds,
                    rekor.entryCount - entriesBefore, seconds))
    }
    print(pad("Fulcio certificates requested") + "\(await certificates.fulcioCalls)")
    try? await http.shutdown()
    await fulcio.stop()
    await rekor.stop()
    await tsaServer.stop()
}

let yaml = Synthetic.taskRunYAML(results: 20, steps: 5)
let parsed = try ManifestReader.parse(Data(yaml.utf8), source: "bench").documents[0]
guard case .taskRun(let taskRun) = try AnyRun(json: parsed, source: "bench") else { fatalError("not a TaskRun") }
let signer = KeySigner(key: try PrivateKey.generate(.ecdsaP256), hash: .sha256Always, origin: "bench")
let options = FormatOptions()

if let n = option("--controller").flatMap(Int.init) {
    let gcs = arguments.contains("--also-gcs") ? try await FakeGCSServer(buckets: ["bench"]) : nil
    let mongo =
        arguments.contains("--also-mongo")
        ? try await MongoSimulator(users: [.init("bench", password: "bench-pw")]) : nil
    try await controllerBench(
        chains: option("--chains") ?? "chains", runs: n, replicas: Int(option("--replicas") ?? "1") ?? 1,
        latencyMilliseconds: Int(option("--latency") ?? "0") ?? 0, idle: Int(option("--idle") ?? "0") ?? 0,
        qps: Int(option("--kube-api-qps") ?? "50") ?? 50,
        also: gcs.map(BenchStorage.gcs) ?? mongo.map(BenchStorage.mongo))
    gcs?.stop()
    if let mongo {
        out("MongoDB: \(mongo.documents("bench", "attestations").count) documents, \(mongo.connections) connection(s)")
        await mongo.stop()
    }
    exit(0)
}
let throughput =
    (option("--push") == nil && option("--keyless") == nil && option("--rekor-v2") == nil)
    || arguments.contains("--all")
if throughput {
    print("chains-bench: one core, typical TaskRun (20 results, 5 steps), ECDSA P-256; \(seconds) s per line")
}
for format in [PayloadFormat.slsaV1, .slsaV2alpha3, .slsaV2alpha4] where throughput {
    try measure("payload only, \(format.rawValue)") {
        var d = Diagnostics()
        _ = try Formats.statement(taskRun: taskRun, format: format, options: options, diagnostics: &d).bytes
    }
    try measure("payload + DSSE sign, \(format.rawValue)") {
        var d = Diagnostics()
        let bytes = try Formats.statement(taskRun: taskRun, format: format, options: options, diagnostics: &d).bytes
        _ = try DSSE.sign(payload: bytes, signer: signer)
    }
}
if throughput {
    try measure("parse YAML + payload + DSSE sign, slsa/v2alpha4") {
        let doc = try ManifestReader.parse(Data(yaml.utf8), source: "bench").documents[0]
        guard case .taskRun(let tr) = try AnyRun(json: doc, source: "bench") else { return }
        var d = Diagnostics()
        let bytes = try Formats.statement(taskRun: tr, format: .slsaV2alpha4, options: options, diagnostics: &d).bytes
        _ = try DSSE.sign(payload: bytes, signer: signer)
    }
    try measure("simplesigning payload + ECDSA P-256 sign") {
        _ = try signer.sign(Formats.simpleSigning(try ImageReferenceFixture.image))
    }
    // What the service does besides those: find the run's images (type hints), name the key.
    measure("service part: images from type hints (20 results)") {
        var d = Diagnostics()
        guard TypeHints.ociImages(taskRun.results, diagnostics: &d).count == 1 else { fatalError("no image") }
    }
    measure("service part: key id (SHA256 of the SSH wire form)") {
        guard signer.publicKey.keyID.hasPrefix("SHA256:") else { fatalError("key id") }
    }
}

/// As `measure`, for the signing service's async path. The loop runs in a task off the main actor, where the
/// controller's workers call the service: measured from top-level code, each call paid two executor hops (a thread
/// handoff each, about 30 µs a run) that no real caller pays.
func measureAsync(_ label: String, _ body: @escaping @Sendable () async throws -> Void) async throws {
    guard selected(label) else { return }
    let seconds = seconds
    let perSecond = try await Task.detached {
        for _ in 0..<50 { try await body() }
        var count = 0
        let start = now()
        var elapsed = 0.0
        repeat {
            for _ in 0..<100 { try await body() }
            count += 100
            elapsed = now() - start
        } while elapsed < seconds
        return Double(count) / elapsed
    }.value
    print(pad(label) + String(format: "%10.0f /s  %8.1f µs/op", perSecond, 1e6 / perSecond))
}

/// The signer the service asks for: the same in-memory key.
struct BenchSigners: SignerSource {
    let signer: KeySigner
    func supports(_ kind: SignerKind) -> Bool { kind == .x509 }
    func signer(named kind: SignerKind, for run: RunContext) async throws -> any Signer { signer }
}

if throughput {
    // The whole pipeline as the controller calls it: decide, payloads, sign, store (tekton), mark.
    guard
        case .success(let parsed) = ChainsConfig.parse([
            "artifacts.oci.storage": "tekton", "transparency.enabled": "true",
        ])
    else { fatalError() }
    let service = try SigningService(
        config: parsed.config, signers: BenchSigners(signer: signer), backends: [TektonStorage()],
        cluster: ObjectStore())
    let run = AnyRun.taskRun(taskRun)
    try await measureAsync("SigningService.decide + sign, in-toto + images") {
        guard case .sign(let reason, let children) = await service.decide(run) else { fatalError("skipped") }
        let outcome = await service.sign(run, children: children, reason: reason)
        guard outcome.succeeded else { fatalError("\(outcome.failures)") }
    }
    // A retry of a run whose first attempt failed at storage: every artifact's record is checked (signer, payload
    // planned now, signature) and reused instead of signed.
    let retried = try await BenchRetry.runWithRecords(signer: signer, yaml: yaml)
    try await measureAsync("SigningService.sign, retry reusing attempt records") {
        let outcome = await service.sign(retried)
        guard outcome.succeeded, outcome.artifacts.allSatisfy(\.reused) else {
            fatalError("not reused: \(outcome.diagnostics) \(outcome.failures)")
        }
    }
}

/// A run carrying the attempt records a failed attempt leaves (its storage refused everything).
enum BenchRetry {
    struct Refusing: StorageBackend {
        let kind = StorageKind.tekton
        func store(_ item: SignedArtifact, for run: RunContext) async throws -> StorageReceipt {
            throw ChainsError(.storage, "refused for the benchmark", isRetryable: true)
        }
    }

    static func runWithRecords(signer: KeySigner, yaml: String) async throws -> AnyRun {
        let parsed = try ManifestReader.parse(Data(yaml.utf8), source: "bench").documents[0]
        guard case .success(let config) = ChainsConfig.parse(["artifacts.oci.storage": "tekton"]) else { fatalError() }
        let failing = try SigningService(
            config: config.config, signers: BenchSigners(signer: signer), backends: [Refusing()],
            cluster: ObjectStore())
        let first = await failing.sign(try AnyRun(json: parsed, source: "bench"))
        guard !first.annotations.attempts.isEmpty else { fatalError("no attempt records") }
        guard var object = parsed.objectValue, var metadata = object["metadata"]?.objectValue else { fatalError() }
        metadata["annotations"] = .object(first.annotations.attempts.mapValues { .string($0) })
        object["metadata"] = .object(metadata)
        return try AnyRun(json: .object(object), source: "bench")
    }
}

enum ImageReferenceFixture {
    static var image: ImageReference {
        get throws {
            try ImageReference(
                parsingDigest: "registry.example.com/bench/app@sha256:" + String(repeating: "ab", count: 32))
        }
    }
}

// A PipelineRun with deep inspection, by its number of children: the cost must grow linearly.
if let chains = option("--chains"), let sizes = option("--pipeline-children") {
    let dir = try TemporaryDirectory()
    _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.file("secrets"))
    let config = try dir.write(
        "config.yaml",
        "artifacts.pipelinerun.enable-deep-inspection: \"true\"\nartifacts.pipelinerun.format: slsa/v1\n"
            + "artifacts.taskrun.storage: tekton\nartifacts.oci.storage: tekton\n")
    for n in sizes.split(separator: ",").compactMap({ Int($0) }) {
        let (pr, children) = Synthetic.pipelineRunYAML(children: n)
        let run = try dir.write("pr-\(n).yaml", pr)
        let objects = dir.file("objects-\(n)")
        try FileManager.default.createDirectory(at: objects, withIntermediateDirectories: true)
        try Data(children.utf8).write(to: objects.appendingPathComponent("children.yaml"))
        // In process: the provenance alone, from parsed objects (what was quadratic).
        let store = try ObjectStore(directories: [objects])
        guard
            case .pipelineRun(let pipelineRun) = try AnyRun(
                json: try ManifestReader.parse(Data(pr.utf8), source: "bench").documents[0], source: "bench")
        else { fatalError("not a PipelineRun") }
        let found = try store.lookupChildren(of: pipelineRun).found
        var deep = FormatOptions()
        deep.deepInspection = true
        let t0 = now()
        var d = Diagnostics()
        let statement = try Formats.statement(
            pipelineRun: PipelineRunWithChildren(pipelineRun, children: found), format: .slsaV1, options: deep,
            diagnostics: &d)
        let inProcess = now() - t0
        let start = now()
        let result = try await runProcess(
            chains,
            [
                "sign", run.path, "--objects", objects.path, "--config", config.path, "--signing-secrets",
                dir.file("secrets").path, "--output", dir.file("out-\(n).yaml").path,
            ])
        let whole = now() - start
        guard result.status == 0 else { fatalError("chains sign failed: \(result.stderr)") }
        print(
            pad("PipelineRun, deep inspection, \(n) children")
                + String(
                    format: "chains sign %7.2f s   provenance alone %7.3f s  (%d KiB statement)", whole, inProcess,
                    statement.bytes.count / 1024))
    }
}

// Cold start of the whole command, as a user runs it.
if let chains = option("--chains") {
    let runs = Int(option("--cold-runs") ?? "20") ?? 20
    let dir = try TemporaryDirectory()
    let run = try dir.write("run.yaml", yaml)
    _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.file("secrets"))
    var times: [Double] = []
    for _ in 0..<runs {
        let start = now()
        let result = try await runProcess(
            chains,
            ["sign", run.path, "--signing-secrets", dir.file("secrets").path, "--output", dir.file("out.yaml").path])
        times.append(now() - start)
        guard result.status == 0 else { fatalError("chains sign failed: \(result.stderr)") }
    }
    times.sort()
    print(
        pad("chains sign, one run, cold process")
            + String(
                format: "median %6.1f ms   min %6.1f ms   max %6.1f ms  (%d runs)", times[runs / 2] * 1000,
                times[0] * 1000,
                times[runs - 1] * 1000, runs))
}

// Push benchmark: N images' .sig and .att to a local token-auth registry (Debian docker-registry + our token server),
// through the real client, versus the same raw requests sent directly — both measured in this run.
if let n = option("--push").flatMap(Int.init) {
    let registry = try await TokenRegistry()
    let base = try AsyncHTTPClientTransport()
    let counting = CountingTransport(base)
    let client = RegistryClient(transport: counting)
    let repo = try ImageReference(parsingRepository: "\(registry.address)/bench/app")
    let session = client.session(
        repository: repo,
        credential: Credential(username: TokenRegistry.pushUser.0, password: TokenRegistry.pushUser.1),
        scopes: [Scope.push("bench/app")])
    func subject(_ i: Int, _ salt: String) -> Digest { Digest.sha256(of: Data("\(salt) image \(i)".utf8)) }
    func sigLayer(_ d: Digest) throws -> CosignLayer {
        let image = repo.with(digest: d)
        let payload = Formats.simpleSigning(image)
        return .signature(payload: payload, signature: try signer.sign(payload), certificate: "", chain: "")
    }
    func attLayer(_ d: Digest) throws -> CosignLayer {
        let statement = Data(
            #"{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2","subject":[{"name":"\#(repo.name)","digest":{"sha256":"\#(d.hex)"}}],"predicate":{}}"#
                .utf8)
        return .attestation(
            envelope: try DSSE.sign(payload: statement, signer: signer),
            predicateType: "https://slsa.dev/provenance/v0.2",
            certificate: "", chain: "")
    }
    // Warm up: token and connections.
    _ = try await session.attach(try sigLayer(subject(-1, "warm")), as: .signature, to: subject(-1, "warm"))
    counting.reset()
    let tokenRequestsBefore = registry.tokens.stats.gets
    var start = now()
    for i in 0..<n { _ = try await session.attach(try sigLayer(subject(i, "a")), as: .signature, to: subject(i, "a")) }
    let sigSeconds = now() - start
    let sigRequests = counting.total
    counting.reset()
    start = now()
    for i in 0..<n {
        _ = try await session.attach(try attLayer(subject(i, "a")), as: .attestation, to: subject(i, "a"))
    }
    let attSeconds = now() - start
    let attRequests = counting.total
    let tokenRequests = registry.tokens.stats.gets - tokenRequestsBefore

    // The same raw requests, precomputed, with a token fetched once.
    let token = try await directToken(registry, repository: "bench/app")
    func raw(
        _ method: String, _ url: URL, _ headers: HTTPHeaders = [:], _ body: Data? = nil
    ) async throws -> HTTPResponse {
        var h = headers
        h["Authorization"] = token
        return try await base.send(HTTPRequest(method: method, url: url, headers: h, body: body))
    }
    let root = "http://\(registry.address)/v2/bench/app"
    var rawCount = 0
    start = now()
    for i in 0..<n {
        let d = subject(i, "b")
        let layer = try sigLayer(d)
        let tag = "sha256-\(d.hex).sig"
        _ = try await raw("GET", URL(string: "\(root)/manifests/\(tag)")!, ["Accept": MediaType.ociManifest])
        let layerDesc = Descriptor(
            mediaType: layer.mediaType, digest: layer.digest.description, size: layer.payload.count,
            annotations: layer.annotations)
        let config = Data(
            #"{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["\#(layer.digest)"]},"config":{}}"#
                .utf8)
        for (blob, digest) in [
            (layer.payload, layer.digest.description), (config, Digest.sha256(of: config).description),
        ] {
            let post = try await raw("POST", URL(string: "\(root)/blobs/uploads/")!)
            let location = URL(string: post.headers["Location"]!)!
            _ = try await raw(
                "PUT", URL(string: location.absoluteString + "&digest=" + digest)!,
                ["Content-Type": "application/octet-stream"], blob)
        }
        let manifest = ImageManifest(config: Descriptor.of(config, mediaType: MediaType.ociConfig), layers: [layerDesc])
            .encoded()
        _ = try await raw(
            "PUT", URL(string: "\(root)/manifests/\(tag)")!, ["Content-Type": MediaType.ociManifest], manifest)
        _ = try await raw("GET", URL(string: "\(root)/manifests/\(tag)")!, ["Accept": MediaType.ociManifest])
        rawCount += 7
    }
    let rawSeconds = now() - start
    try? await base.shutdown()
    await registry.stop()
    print("")
    print("push benchmark: \(n) images to a local token-auth registry (distribution 2.8), one client, sequential")
    print(
        pad(".sig push (ours)")
            + String(
                format: "%8.1f images/s  %5.2f requests/image", Double(n) / sigSeconds, Double(sigRequests) / Double(n))
    )
    print(
        pad(".att push (ours)")
            + String(
                format: "%8.1f images/s  %5.2f requests/image", Double(n) / attSeconds, Double(attRequests) / Double(n))
    )
    print(
        pad("same raw requests, precomputed (.sig)")
            + String(
                format: "%8.1f images/s  %5.2f requests/image", Double(n) / rawSeconds, Double(rawCount) / Double(n)))
    print(pad("ours vs raw (.sig)") + String(format: "%8.2fx the raw time", sigSeconds / rawSeconds))
    print(pad("token requests during the run (warm token)") + "\(tokenRequests)")
}

// Keyless: N runs signed in one process against the Fulcio simulator on loopback (HTTP): how many tokens and
// certificates it takes. Tekton Chains asks for a token and a certificate for every run.
if let n = option("--keyless").flatMap(Int.init) {
    let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
    let fulcio = try await FulcioSimulator(issuers: [issuer])
    let rekor = try await RekorSimulator()
    let dir = try TemporaryDirectory()
    let tokenFile = try dir.write("token", issuer.token(subject: "system:serviceaccount:tekton-chains:controller"))
    let root = try TrustedRoot(
        json: Data(SigstoreTrust.trustedRoot(fulcio: fulcio, rekor: rekor).utf8), source: "bench")
    let http = try AsyncHTTPClientTransport()
    let certificates = KeylessCertificates(
        fulcio: FulcioClient(address: URL(string: fulcio.url)!, transport: http, trustedRoot: root),
        providers: [FileTokenProvider(path: tokenFile.path)])
    for logged in [false, true] {
        let values = ["artifacts.oci.storage": "tekton", "transparency.enabled": logged ? "true" : "false"]
        guard case .success(let parsed) = ChainsConfig.parse(values) else { fatalError() }
        let log = RekorTransparencyLog(
            client: RekorClient(address: URL(string: rekor.url)!, transport: http, logs: root.tlogs))
        let service = try SigningService(
            config: parsed.config, signers: KeylessSignerSource(certificates: certificates),
            backends: [TektonStorage()], cluster: ObjectStore(), transparency: logged ? log : nil)
        var runs: [AnyRun] = []
        for i in 0..<n {
            let doc = try ManifestReader.parse(Data(Synthetic.taskRunYAML(index: i).utf8), source: "bench").documents[0]
            runs.append(try AnyRun(json: doc, source: "bench"))
        }
        let entriesBefore = rekor.entryCount
        let start = now()
        for run in runs {
            let outcome = await service.sign(run)
            guard outcome.succeeded else { fatalError("\(outcome.failures)") }
        }
        let seconds = now() - start
        print("")
        print(
            "keyless benchmark: \(n) runs (provenance + image each), one process, simulated Fulcio"
                + (logged ? " and Rekor (every entry's SET, inclusion proof and checkpoint verified)" : "")
                + " on loopback")
        print(pad("runs signed keylessly") + String(format: "%8.1f runs/s", Double(n) / seconds))
        if logged { print(pad("Rekor entries made") + "\(rekor.entryCount - entriesBefore)") }
    }
    print(pad("identity tokens read") + "\(await certificates.tokenFetches)")
    print(pad("Fulcio certificates requested") + "\(await certificates.fulcioCalls) (Tekton Chains: \(n))")
    try? await http.shutdown()
    await fulcio.stop()
    await rekor.stop()
}
