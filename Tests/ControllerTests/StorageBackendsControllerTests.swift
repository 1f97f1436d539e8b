import ChainsCore
import ChainsTesting
import Foundation
import MongoWire
import Testing

@testable import Controller

extension ControllerTests {
    @Test(
        "gcs, docdb (dynamodb) and archivista in one list, in the controller; GCS down while runs finish, then back: every run stored in every backend, marked signed once"
    )
    func otherBackends() async throws {
        let api = try await KubeAPIServer()
        let moto = try await MotoServer(unauthenticatedActions: 6)
        let setup = try await moto.setUp(["--user", "--dynamodb", "chains-signed"])
        let archivista = try await ArchivistaSimulator()
        // GCS is down at first: its port is known, nothing listens there yet.
        let gcsPort = try freePort()
        defer {
            moto.stop()
            Task {
                await api.stop()
                await archivista.stop()
            }
        }
        let environment = [
            "STORAGE_EMULATOR_HOST": "127.0.0.1:\(gcsPort)", "AWS_ACCESS_KEY_ID": try #require(setup["access_key"]),
            "AWS_SECRET_ACCESS_KEY": try #require(setup["secret_key"]), "AWS_REGION": "us-east-1",
        ]
        let names = (1...4).map { "build-\($0)" }
        for (n, name) in names.enumerated() {
            api.put(try kaniko(name: name, uid: "55555555-0000-4000-8000-00000000000\(n)"), as: .taskRuns)
        }
        let running = try await startController(
            api,
            config: """
                artifacts.taskrun.storage: tekton,gcs,docdb,archivista
                artifacts.oci.storage: gcs,docdb
                storage.gcs.bucket: prov
                storage.docdb.url: dynamodb://chains-signed?partition_key=Name&endpoint=\(moto.endpoint)
                storage.archivista.url: \(archivista.url)

                """, namespace: nil, threads: 2, environment: environment)
        defer { running.stop() }
        // Every run is tried, and fails on GCS alone (retryable): nothing is marked signed meanwhile.
        try await waitUntil("each run's provenance in archivista", state: { "\(archivista.objects.count)" }) {
            archivista.objects.count >= names.count
        }
        #expect(names.allSatisfy { annotations(api, $0)["chains.tekton.dev/signed"] == nil })
        let gcs = try await FakeGCSServer(buckets: ["prov"], port: gcsPort)
        defer { gcs.stop() }
        try await waitUntil("every run signed") {
            names.allSatisfy { annotations(api, $0)["chains.tekton.dev/signed"] == "true" }
        }
        // GCS: four objects per payload, per run; DynamoDB: one item per key; Archivista: the gitoid on the run is
        // an envelope it holds. Each run's provenance was signed once (attempt records reused on the retries).
        let listed = try await runProcess(
            try Python.executable(), [PackagePaths.interop.appendingPathComponent("gcs_read.py").path, "prov"],
            environment: ProcessInfo.processInfo.environment.merging(["STORAGE_EMULATOR_HOST": gcs.url]) { $1 })
        let objects = try #require(
            try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: String])
        #expect(objects.count == names.count * 8, "\(objects.keys.sorted())")
        let items = try await runProcess(
            try Python.aws(),
            [PackagePaths.interop.appendingPathComponent("dynamodb_read.py").path, moto.endpoint, "chains-signed"],
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
        let table = try #require(try JSONSerialization.jsonObject(with: Data(items.stdout.utf8)) as? [String: Any])
        #expect(table.count == names.count + 1, "each run's provenance and the one image: \(table.keys.sorted())")
        for (n, name) in names.enumerated() {
            let a = annotations(api, name)
            let key = "taskrun-55555555-0000-4000-8000-00000000000\(n)"
            let gitoid = try #require(a["chains-in-swift.dev/archivista-\(key)"])
            let envelope = try #require(archivista.objects[gitoid])
            // The envelope in Archivista carries the signature the run's annotation holds (one signature per run).
            let signature = try #require(a["chains.tekton.dev/signature-\(key)"].flatMap { Data(base64Encoded: $0) })
            let sig = try JSONSerialization.jsonObject(with: signature) as? [String: Any]
            let stored = try JSONSerialization.jsonObject(with: envelope) as? [String: Any]
            #expect(
                ((sig?["signatures"] as? [[String: Any]])?.first?["sig"] as? String)
                    == ((stored?["signatures"] as? [[String: Any]])?.first?["sig"] as? String))
            #expect(objects["taskrun-team-a-\(name)/\(key).signature"] == signature.base64EncodedString())
        }
        #expect(archivista.objects.count == names.count, "no second signature of any run reached Archivista")
    }
}

extension ControllerTests {
    @Test(
        "docdb on mongo:// in the controller: while the server refuses writes as not primary, runs wait unmarked; the URL's Secret file rewritten to another server: every run stored there once, marked signed"
    )
    func mongoBackend() async throws {
        let api = try await KubeAPIServer()
        let first = try await MongoSimulator(users: [.init("chains", password: "pw1")])
        let second = try await MongoSimulator(users: [.init("chains", password: "pw2")])
        defer {
            Task {
                await api.stop()
                await first.stop()
                await second.stop()
            }
        }
        for _ in 0..<1000 {
            first.inject(.error(command: "update", code: 10107, codeName: "NotWritablePrimary", message: "not primary"))
        }
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(at: dir.file("mongo"), withIntermediateDirectories: true)
        let secret = try dir.write("mongo/MONGO_SERVER_URL", first.url + "\n")
        let names = (1...3).map { "build-\($0)" }
        for (n, name) in names.enumerated() {
            api.put(try kaniko(name: name, uid: "66666666-0000-4000-8000-00000000000\(n)"), as: .taskRuns)
        }
        let running = try await startController(
            api,
            config: """
                artifacts.taskrun.storage: tekton,docdb
                artifacts.oci.storage: docdb
                storage.docdb.url: mongo://tekton-chains/attestations?id_field=name
                storage.docdb.mongo-server-url-dir: \(dir.file("mongo").path)

                """, namespace: nil, threads: 2)
        defer { running.stop() }
        // Every run is tried against the first server and fails there (retryable): nothing is marked meanwhile.
        try await waitUntil("each run tried on the first server", state: { "\(first.commands)" }) {
            first.commands.filter { $0.hasPrefix("update") }.count >= names.count + 1
        }
        #expect(names.allSatisfy { annotations(api, $0)["chains.tekton.dev/signed"] == nil })
        #expect(first.documents("tekton-chains", "attestations").isEmpty)
        // The Secret is rotated (as the kubelet does, replacing the file): the next store goes to the second server.
        try (second.url + "\n").write(to: secret, atomically: true, encoding: .utf8)
        try await waitUntil("every run signed") {
            names.allSatisfy { annotations(api, $0)["chains.tekton.dev/signed"] == "true" }
        }
        let stored = second.documents("tekton-chains", "attestations")
        #expect(stored.count == names.count + 1, "each run's provenance and the one image: \(stored.map(\.keys))")
        for (n, name) in names.enumerated() {
            let key = "taskrun-66666666-0000-4000-8000-00000000000\(n)"
            let document = try #require(stored.first { $0["_id"] == .string(key) })
            // The document holds the signature the run's annotation holds: one signature per run, stored once.
            #expect(document["Signature"]?.string == annotations(api, name)["chains.tekton.dev/signature-\(key)"])
        }
    }
}
