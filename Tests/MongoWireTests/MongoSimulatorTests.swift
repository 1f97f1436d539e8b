import ChainsTesting
import Foundation
import MongoWire
import Testing

/// The MongoDB simulator on its own, before our client is tested against it: pymongo, the official driver, connects
/// (OP_QUERY handshake, SCRAM-SHA-256 with its own SASLprep), writes and reads every BSON type, and meets mongod's
/// errors.
@Suite("MongoDB simulator, checked by pymongo")
struct MongoSimulatorTests {
    static let unicodePassword = "p\u{E4}ss\u{A0}w\u{AD}ord\u{2168}"

    func users() -> [MongoSimulator.User] {
        [.init("chains", password: "s3cret:@/ pw"), .init("ünï", password: Self.unicodePassword)]
    }

    @Test("pymongo: handshake, SCRAM-SHA-256, insert/replace/update/bulk/find/delete, every BSON type, mongod's errors")
    func pymongo() async throws {
        let sim = try await MongoSimulator(users: users())
        defer { Task { await sim.stop() } }
        let result = try await Python.run(
            "mongo_check.py", [String(sim.port), "chains", "s3cret:@/ pw", "ünï", Self.unicodePassword])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.last == "22 checks passed", "\(result.stdout)")
        // pymongo's writes reached the server authenticated, its unauthenticated ones as nobody.
        #expect(sim.commands.contains("insert db chains"))
        #expect(sim.commands.contains("insert db -"))
    }

    @Test("pymongo over TLS: the simulator's certificate verified against the test CA")
    func pymongoTLS() async throws {
        let dir = try TemporaryDirectory()
        let ca = try TestCA(directory: dir, names: TestCA.defaultNames)
        let sim = try await MongoSimulator(users: users(), tls: ca)
        defer { Task { await sim.stop() } }
        let result = try await Python.run(
            "mongo_check.py",
            [String(sim.port), "chains", "s3cret:@/ pw", "ünï", Self.unicodePassword, ca.certificate.path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }
}
