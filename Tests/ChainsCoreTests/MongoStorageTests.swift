import ChainsConfig
import ChainsTesting
import Foundation
import KubeModels
import MongoWire
import Signing
import Testing

@testable import ChainsCore

/// The `docdb` backend on `mongo://` against the MongoDB simulator (checked by pymongo in MongoWireTests): go-cloud's
/// document, the read-back that catches a server that does not store, the URL read again at every store.
@Suite("docdb mongo:// against the MongoDB simulator")
struct MongoStorageTests {
    let item: SignedArtifact
    let context: RunContext

    init() throws {
        let fixture = try BackendFixture(
            payload: Data(#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[],"n":1,"x":[true,null,"s"]}"#.utf8)
        )
        item = fixture.item
        context = fixture.context
    }

    func storage(
        _ server: MongoServerURL, idField: String = "name", revision: String = "DocstoreRevision",
        timeout: Duration = .seconds(60)
    ) -> MongoStorage {
        MongoStorage(
            database: "tekton-chains", collection: "attestations", idField: idField, revisionField: revision,
            server: server, timeout: timeout)
    }

    func server(value: String = "", path: String = "", directory: String = "", env: String? = nil) -> MongoServerURL {
        MongoServerURL(path: path, directory: directory, value: value, environment: env)
    }

    func failure(_ body: () async throws -> Void) async -> BackendError? { await BackendFixture.failure(body) }

    @Test(
        "go-cloud's document: _id, Signed binary, Signature base64, Cert/Chain \"\" kept, Object with doubles, Name, a fresh revision per write"
    )
    func document() async throws {
        let sim = try await MongoSimulator(users: [.init("chains", password: "pw")])
        defer { Task { await sim.stop() } }
        let storage = storage(server(value: sim.url))
        let receipt = try await storage.store(item, for: context)
        #expect(receipt.locations.first?.target == "mongo://tekton-chains/attestations _id=taskrun-u1")
        #expect(receipt.locations.first?.credential == "chains")
        let stored = try #require(sim.documents("tekton-chains", "attestations").first)
        #expect(stored.keys == ["_id", "Signed", "Signature", "Cert", "Chain", "Object", "Name", "DocstoreRevision"])
        #expect(stored["_id"] == "taskrun-u1" && stored["Name"] == "taskrun-u1")
        #expect(stored["Signed"] == .binary(subtype: 0, item.payload))
        #expect(stored["Signature"] == .string(item.signature.base64EncodedString()))
        #expect(stored["Cert"] == "" && stored["Chain"] == "")
        #expect(stored["Object"]?.document?["n"] == .double(1))
        #expect(stored["Object"]?.document?["x"] == [true, .null, "s"])
        let first = stored["DocstoreRevision"]
        _ = try await storage.store(item, for: context)
        let again = try #require(sim.documents("tekton-chains", "attestations").first)
        #expect(sim.documents("tekton-chains", "attestations").count == 1 && again["DocstoreRevision"] != first)
        #expect(sim.commands.filter { $0.hasPrefix("update") }.count == 2)

        // id_field spelled exactly Name: go-cloud deletes Name; a revision_field renames the revision.
        let named = self.storage(server(value: sim.url), idField: "Name", revision: "rev")
        sim.put("tekton-chains", "attestations", [])
        _ = try await named.store(item, for: context)
        #expect(
            sim.documents("tekton-chains", "attestations").first?.keys
                == ["_id", "Signed", "Signature", "Cert", "Chain", "Object", "rev"])
    }

    @Test("a server that answers stored without storing, or returns another document, fails the store (not retryable)")
    func lyingServer() async throws {
        let sim = try await MongoSimulator()
        defer { Task { await sim.stop() } }
        let storage = storage(server(value: sim.url))
        sim.inject(.dropWrite)
        let dropped = await failure { _ = try await storage.store(item, for: context) }
        #expect(
            dropped?.kind == .failed && dropped?.description.contains("0 documents") == true,
            "\(String(describing: dropped))")
        sim.inject(.alterFound(field: "Signature", value: "b3RoZXI="))
        let altered = await failure { _ = try await storage.store(item, for: context) }
        #expect(altered?.kind == .failed && altered?.description.contains("another document") == true)
        sim.inject(.error(command: "update", code: 11000, codeName: "DuplicateKey", message: "E11000 duplicate key"))
        let refused = await failure { _ = try await storage.store(item, for: context) }
        #expect(refused?.kind == .failed && refused?.description.contains("E11000") == true)
        // A unique index on Name that another document holds: mongod answers ok with a write error, named to the user.
        sim.inject(
            .writeError(
                code: 11000,
                message: "E11000 duplicate key error collection: tekton-chains.attestations index: Name_1 dup key"))
        let unique = await failure { _ = try await storage.store(item, for: context) }
        #expect(
            unique?.kind == .failed && unique?.description.contains("index: Name_1") == true,
            "\(String(describing: unique))")
        sim.inject(.error(command: "update", code: 10107, codeName: "NotWritablePrimary", message: "not primary"))
        let stepDown = await failure { _ = try await storage.store(item, for: context) }
        #expect(stepDown?.kind == .unavailable, "a primary stepping down is retryable")
        sim.inject(.stall(command: "find"))
        let stalled = await failure {
            _ = try await self.storage(server(value: sim.url), timeout: .seconds(3)).store(item, for: context)
        }
        #expect(stalled?.kind == .timeout && stalled?.description.contains("did not answer find") == true)
    }

    @Test(
        "the URL is read at every store: a rewritten Secret file moves the next store to the new server; precedence path > dir > value > MONGO_SERVER_URL"
    )
    func rotation() async throws {
        let a = try await MongoSimulator(users: [.init("a", password: "pa")])
        let b = try await MongoSimulator(users: [.init("b", password: "pb")])
        defer {
            Task {
                await a.stop()
                await b.stop()
            }
        }
        let dir = try TemporaryDirectory()
        let file = try dir.write("url", a.url + "\n")
        let storage = storage(server(value: "mongodb://127.0.0.1:1/", path: file.path))
        _ = try await storage.store(item, for: context)
        try (b.url + "\n").write(to: file, atomically: true, encoding: .utf8)
        _ = try await storage.store(item, for: context)
        #expect(a.documents("tekton-chains", "attestations").count == 1)
        #expect(b.documents("tekton-chains", "attestations").count == 1)
        try FileManager.default.removeItem(at: file)
        let gone = await failure { _ = try await storage.store(item, for: context) }
        #expect(
            gone?.description.contains("storage.docdb.mongo-server-url-path") == true, "\(String(describing: gone))")

        try FileManager.default.createDirectory(at: dir.file("d"), withIntermediateDirectories: true)
        _ = try dir.write("d/MONGO_SERVER_URL", "mongodb://from-dir\n")
        #expect(try server(value: "v", directory: dir.file("d").path, env: "e").resolve() == "mongodb://from-dir")
        #expect(try server(value: "mongodb://v", env: "e").resolve() == "mongodb://v")
        #expect(try server(env: "mongodb://e").resolve() == "mongodb://e")
        #expect(throws: ChainsError.self) { try server().resolve() }
        #expect(throws: ChainsError.self) { try server(directory: dir.file("absent").path).resolve() }
    }
}
