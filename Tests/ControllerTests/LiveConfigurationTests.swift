import ChainsCore
import ChainsTesting
import Foundation
import KubeClient
import KubeModels
import Signing
import Testing

@testable import Controller

/// chains-config and the signing secrets change while the controller runs.
extension ControllerTests {
    func payload(_ api: KubeAPIServer, _ name: String, uid: String) throws -> JSONValue {
        let encoded = try #require(annotations(api, name)["chains.tekton.dev/payload-taskrun-\(uid)"])
        return try JSONValue(parsing: try #require(Data(base64Encoded: encoded)))
    }

    func uid(_ n: Int) -> String { String(format: "22222222-0000-4000-8000-%012d", n) }

    @Test("a changed chains-config applies to the next run; an invalid one keeps the previous and names the key")
    func liveConfig() async throws {
        let api = try await KubeAPIServer()
        defer { Task { await api.stop() } }
        let running = try await startController(
            api, config: "artifacts.oci.storage: tekton\nartifacts.taskrun.format: in-toto\n", namespace: "team-a",
            threads: 1)
        defer { running.stop() }
        api.put(try kaniko(name: "one", uid: uid(1)), as: .taskRuns)
        try await waitUntil("one signed") { annotations(api, "one")["chains.tekton.dev/signed"] == "true" }
        #expect(try payload(api, "one", uid: uid(1))["predicateType"] == "https://slsa.dev/provenance/v0.2")

        // An invalid value: the previous configuration stays, an Event on the ConfigMap names the key.
        api.put(try configMap("artifacts.oci.storage: tekton\nartifacts.taskrun.format: slsa/v9\n"), as: .configMaps)
        func invalid() -> [JSONValue] {
            api.objects(.events).filter { $0["reason"]?.stringValue == "InvalidConfiguration" }
        }
        try await waitUntil("the InvalidConfiguration event") { !invalid().isEmpty }
        let event = try #require(invalid().first)
        #expect(event["involvedObject"]?["kind"] == "ConfigMap" && event["type"] == "Warning")
        #expect(event["involvedObject"]?["name"] == "chains-config")
        #expect(event["message"]?.stringValue?.contains("artifacts.taskrun.format") == true, "\(event)")
        #expect(event["message"]?.stringValue?.contains("slsa/v9") == true)
        // Parsed from the ConfigMap's data as it is, not through a file: the error names the ConfigMap.
        #expect(
            event["message"]?.stringValue?.contains("ConfigMap tekton-chains/chains-config") == true
                && event["message"]?.stringValue?.contains(".json") == false, "\(event)")
        #expect(running.running.supply.generation == 0)
        api.put(try kaniko(name: "two", uid: uid(2)), as: .taskRuns)
        try await waitUntil("two signed") { annotations(api, "two")["chains.tekton.dev/signed"] == "true" }
        #expect(try payload(api, "two", uid: uid(2))["predicateType"] == "https://slsa.dev/provenance/v0.2")

        // Asking for a backend that is not served is refused the same way (never weaker than asked).
        api.put(try configMap("artifacts.taskrun.storage: kafka\n"), as: .configMaps)
        try await waitUntil("a second InvalidConfiguration event") { invalid().count == 2 }
        let messages = invalid().compactMap { $0["message"]?.stringValue }
        #expect(messages.contains { $0.contains("kafka") && $0.contains("artifacts.taskrun.storage") }, "\(messages)")

        // A valid change: the next run is signed with it.
        api.put(
            try configMap("artifacts.oci.storage: tekton\nartifacts.taskrun.format: slsa/v2alpha4\n"), as: .configMaps)
        try await waitUntil("the new configuration") { running.running.supply.generation == 1 }
        api.put(try kaniko(name: "three", uid: uid(3)), as: .taskRuns)
        try await waitUntil("three signed") { annotations(api, "three")["chains.tekton.dev/signed"] == "true" }
        #expect(try payload(api, "three", uid: uid(3))["predicateType"] == "https://slsa.dev/provenance/v1")
        #expect(invalid().count == 2, "a valid update raises no event")
    }

    @Test("new signing secrets (a mounted Secret's symlink swap) are used for the next run")
    func secretsReload() async throws {
        let api = try await KubeAPIServer()
        defer { Task { await api.stop() } }
        let running = try await startController(
            api, namespace: "team-a", threads: 1, reloadInterval: .milliseconds(100))
        defer { running.stop() }
        let first = try SigningSecrets.loadSigner(from: running.secrets)
        api.put(try kaniko(name: "one", uid: uid(11)), as: .taskRuns)
        try await waitUntil("one signed") { annotations(api, "one")["chains.tekton.dev/signed"] == "true" }

        // As the kubelet does: the new files in a fresh directory, `..data` swapped to it, the names are links.
        let mount = running.directory.file("mount")
        let fm = FileManager.default
        try fm.createDirectory(at: mount, withIntermediateDirectories: true)
        let next = try PrivateKey.generate(.ecdsaP256)
        _ = try SigningSecrets.writeX509(next, to: mount.appendingPathComponent("..2026_12_02"))
        try fm.createSymbolicLink(
            atPath: mount.appendingPathComponent("..data").path, withDestinationPath: "..2026_12_02")
        try fm.createSymbolicLink(
            atPath: mount.appendingPathComponent("x509.pem").path, withDestinationPath: "..data/x509.pem")
        try fm.removeItem(at: running.secrets)
        try fm.moveItem(at: mount, to: running.secrets)
        try await waitUntil("the new key in use") { running.running.supply.generation == 1 }

        api.put(try kaniko(name: "two", uid: uid(12)), as: .taskRuns)
        try await waitUntil("two signed") { annotations(api, "two")["chains.tekton.dev/signed"] == "true" }
        func envelope(_ name: String, _ uid: String) throws -> Data {
            let encoded = try #require(annotations(api, name)["chains.tekton.dev/signature-taskrun-\(uid)"])
            return try #require(Data(base64Encoded: encoded))
        }
        #expect(DSSE.verify(envelope: try envelope("one", uid(11)), publicKey: first.publicKey) != nil)
        #expect(DSSE.verify(envelope: try envelope("two", uid(12)), publicKey: next.publicKey) != nil)
        #expect(DSSE.verify(envelope: try envelope("two", uid(12)), publicKey: first.publicKey) == nil)
    }
}

extension ControllerTests {
    @Test(
        "finalizers by server-side apply as Chains: ours released, Chains' own apply and a merge-patched one too, others kept"
    )
    func finalizersByApply() async throws {
        let api = try await KubeAPIServer()
        defer { Task { await api.stop() } }
        let client = try KubeAPIClient(
            connection: KubeConnection(server: URL(string: api.url)!, token: .none, namespace: "team-a"))
        defer { Task { await client.shutdown() } }
        for (i, name) in ["by-chains", "by-patch", "shared"].enumerated() {
            api.put(try kaniko(name: name, uid: uid(400 + i)), as: .taskRuns)
        }
        func meta(_ name: String, _ finalizers: [String]) -> JSONValue {
            .object([
                "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
                "metadata": .object([
                    "name": .string(name), "namespace": "team-a", "finalizers": .array(finalizers.map { .string($0) }),
                ]),
            ])
        }
        // Tekton Chains held this one (its field manager); someone else merge-patched ours onto the next; the third
        // has ours and another controller's.
        _ = try await client.apply(
            .taskRuns, namespace: "team-a", name: "by-chains", meta("by-chains", ["chains.tekton.dev/taskrun"]),
            fieldManager: "tekton-chains-controller/finalizers")
        _ = try await client.mergePatch(
            .taskRuns, namespace: "team-a", name: "by-patch",
            .object(["metadata": .object(["finalizers": ["chains.tekton.dev/taskrun"]])]), fieldManager: "kubectl")
        _ = try await client.apply(
            .taskRuns, namespace: "team-a", name: "shared", meta("shared", ["example.com/keep"]),
            fieldManager: "another-controller")
        _ = try await client.apply(
            .taskRuns, namespace: "team-a", name: "shared", meta("shared", ["chains.tekton.dev/taskrun"]),
            fieldManager: "tekton-chains-controller/finalizers")
        let running = try await startController(api, namespace: "team-a", threads: 2)
        defer { running.stop() }
        func finalizers(_ name: String) -> [String] {
            (api.object(.taskRuns, namespace: "team-a", name: name)?["metadata"]?["finalizers"]?.arrayValue ?? [])
                .compactMap(\.stringValue)
        }
        try await waitUntil("all signed and released") {
            ["by-chains", "by-patch", "shared"].allSatisfy {
                annotations(api, $0)["chains.tekton.dev/signed"] == "true"
            }
                && finalizers("by-chains").isEmpty && finalizers("by-patch").isEmpty
                && finalizers("shared") == ["example.com/keep"]
        }
        #expect(finalizers("shared") == ["example.com/keep"])
        let owners =
            (api.object(.taskRuns, namespace: "team-a", name: "shared")?["metadata"]?["managedFields"]?
            .arrayValue ?? []).compactMap { $0["manager"]?.stringValue }
        #expect(owners.contains("another-controller") && owners.contains("tekton-chains-controller"), "\(owners)")
    }
}
