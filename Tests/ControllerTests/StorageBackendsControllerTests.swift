import ChainsCore
import ChainsTesting
import Foundation
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
