import ChainsTesting
import Foundation
import MongoWire
import Testing

@Suite("MongoDB client: SCRAM, BSON, connection strings")
struct MongoWireUnitTests {
    @Test("SCRAM-SHA-256: RFC 7677's example exchange, byte for byte")
    func rfc7677() throws {
        var scram = SCRAMClient(user: "user", password: "pencil", nonce: "rOprNGfwEbeRWgbNEkqO")
        #expect(scram.first == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        let final = try scram.final(
            serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
        #expect(
            final
                == "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        )
        try scram.verify(serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        #expect(throws: SCRAMError.self) {
            try scram.verify(serverFinal: "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        }
        #expect(throws: SCRAMError.self) { try scram.verify(serverFinal: "e=invalid-proof") }
    }

    @Test("SCRAM refuses a nonce that does not extend ours, and fewer than 4096 iterations")
    func scramRefusals() {
        var scram = SCRAMClient(user: "user", password: "pencil", nonce: "abc")
        #expect(throws: SCRAMError.self) { try scram.final(serverFirst: "r=xyz123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096") }
        #expect(throws: SCRAMError.self) { try scram.final(serverFirst: "r=abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096") }
        #expect(throws: SCRAMError.self) { try scram.final(serverFirst: "r=abc123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095") }
        #expect(SCRAMClient(user: "a=b,c", password: "x", nonce: "n").first == "n,,n=a=3Db=2Cc,r=n")
    }

    @Test("SASLprep: RFC 4013's examples")
    func saslprep() throws {
        #expect(try SASLprep.prepare("I\u{AD}X") == "IX")
        #expect(try SASLprep.prepare("user") == "user")
        #expect(try SASLprep.prepare("USER") == "USER")
        #expect(try SASLprep.prepare("\u{AA}") == "a")
        #expect(try SASLprep.prepare("\u{2168}") == "IX")
        #expect(try SASLprep.prepare("a\u{A0}b") == "a b")
        #expect(throws: SCRAMError.self) { try SASLprep.prepare("\u{7}") }
        #expect(throws: SCRAMError.self) { try SASLprep.prepare("a\u{E000}") }
    }

    @Test("BSON: every type written and read back; bsonspec's example bytes")
    func bson() throws {
        let document: BSONDocument = [
            "d": 1.5, "s": "ünï", "doc": ["a": 1], "arr": [1, "x", .null],
            "bin": .binary(subtype: 0, Data([0, 1, 255])),
            "oid": .objectID(Data(repeating: 7, count: 12)), "t": true, "dt": .datetime(1_765_000_000_000), "n": .null,
            "re": .regex(pattern: "^a", options: "i"), "i32": .int32(-5), "ts": .timestamp(1 << 33),
            "i64": .int64(1 << 40),
            "dec": .decimal128(Data(repeating: 1, count: 16)), "min": .minKey, "max": .maxKey,
        ]
        let bytes = try document.encoded()
        #expect(try BSONReader.document(bytes) == document)
        // bsonspec.org: {"hello": "world"}
        let hello: BSONDocument = ["hello": "world"]
        #expect(
            try hello.encoded()
                == [
                    0x16, 0, 0, 0, 0x02, 0x68, 0x65, 0x6C, 0x6C, 0x6F, 0, 0x06, 0, 0, 0, 0x77, 0x6F, 0x72, 0x6C, 0x64,
                    0, 0,
                ])
    }

    @Test("BSON from untrusted bytes: wrong lengths, missing terminators, bad UTF-8, deep nesting are errors")
    func bsonRefusals() throws {
        let good = try (["k": "v"] as BSONDocument).encoded()
        var longer = good
        longer[0] += 1
        #expect(throws: BSONError.self) { try BSONReader.document(longer) }
        #expect(throws: BSONError.self) { try BSONReader.document(good.dropLast()) }
        #expect(throws: BSONError.self) { try BSONReader.document(good + [0]) }
        var badString = good
        badString[7] = 0xFF  // the string's length
        #expect(throws: BSONError.self) { try BSONReader.document(badString) }
        var badUTF8 = good
        badUTF8[9] = 0xC0
        #expect(throws: BSONError.self) { try BSONReader.document(badUTF8) }
        var deep: BSONDocument = ["x": 1]
        for _ in 0..<120 { deep = ["x": .document(deep)] }
        #expect(throws: BSONError.self) { try BSONReader.document(try deep.encoded()) }
        #expect(throws: BSONError.self) { try (["a\u{0}b": 1] as BSONDocument).encoded() }
    }

    @Test("connection strings: hosts, IPv6, credentials percent-decoded, options, refusals naming the option")
    func connectionStrings() throws {
        let url = try MongoConnectionString.parse(
            "mongodb://us%40er:p%3Aw%40d@Db1.example:27018,[::1]:27019,db3/tekton?authSource=admin&tls=true&tlsCAFile=/ca.pem&replicaSet=rs0&w=majority&journal=true&retryWrites=true&appName=chains"
        )
        #expect(url.user == "us@er" && url.password == "p:w@d")
        #expect(url.hosts.map(\.description) == ["db1.example:27018", "[::1]:27019", "db3:27017"])
        #expect(url.database == "tekton" && url.authDatabase == "admin" && url.tls && url.tlsCAFile == "/ca.pem")
        #expect(url.replicaSet == "rs0" && url.writeConcern == ["w": "majority", "j": true])
        #expect(!url.redacted.contains("p:w@d") && url.redacted.contains("***"))
        #expect(try MongoConnectionString.parse("mongodb://h/db").authDatabase == "db")
        #expect(try MongoConnectionString.parse("mongodb://h").authDatabase == "admin")
        #expect(try MongoConnectionString.parse("mongodb+srv://cluster0.example.net/").tls)
        for (bad, named) in [
            ("mongodb://h/?authMechanism=MONGODB-X509", "authMechanism"),
            ("mongodb://h/?tlsCertificateKeyFile=/k", "tlsCertificateKeyFile"),
            ("mongodb://h/?loadBalanced=true", "loadBalanced"), ("mongodb://h:99999", "port"),
            ("postgres://h", "mongodb://"),
            ("mongodb+srv://a.b.c:27017", "no port"), ("mongodb+srv://a.b", "three"), ("mongodb://u:a:b@h", "':'"),
            ("mongodb://h/?tls=maybe", "tls=maybe"), ("mongodb://h/?w=1&W=2", "twice"),
        ] {
            #expect {
                try MongoConnectionString.parse(bad)
            } throws: { error in
                (error as? MongoError)?.description.contains(named) ?? false
            }
        }
    }
}

@Suite("MongoDB client against the simulator")
struct MongoClientTests {
    func client(_ url: String, timeout: Duration = .seconds(60)) throws -> MongoClient {
        try MongoClient(url: MongoConnectionString.parse(url), timeout: timeout, driver: "test")
    }

    @Test(
        "authenticates with SCRAM-SHA-256, writes and reads; a wrong password and a forged server signature are refused"
    )
    func authenticates() async throws {
        let sim = try await MongoSimulator(users: [.init("chains", password: "pw")])
        defer { Task { await sim.stop() } }
        let good = try client("mongodb://chains:pw@127.0.0.1:\(sim.port)/")
        let insert = try await good.command(["insert": "c", "documents": [["_id": "a", "x": 1]]], database: "db")
        #expect(insert["n"]?.int == 1)
        let found = try await good.command(["find": "c", "filter": ["_id": "a"]], database: "db")
        #expect(found["cursor"]?.document?["firstBatch"]?.array?.first?.document?["x"]?.int == 1)
        #expect(sim.commands == ["insert db chains", "find db chains"])
        await good.close()

        await #expect {
            try await client("mongodb://chains:wrong@127.0.0.1:\(sim.port)/").command(["ping": 1], database: "db")
        } throws: { error in
            let error = error as? MongoError
            return error?.kind == .refused && error?.code == 18 && !(error?.description.contains("wrong") ?? true)
        }
        sim.inject(.forgeServerSignature)
        await #expect {
            try await client("mongodb://chains:pw@127.0.0.1:\(sim.port)/").command(["ping": 1], database: "db")
        } throws: { error in
            (error as? MongoError)?.kind == .refused && "\(error)".contains("server's signature is wrong")
        }
        sim.inject(.iterations(1000))
        await #expect {
            try await client("mongodb://chains:pw@127.0.0.1:\(sim.port)/").command(["ping": 1], database: "db")
        } throws: { error in
            (error as? MongoError)?.kind == .refused && "\(error)".contains("1000 iterations")
        }
        // Without credentials the server refuses the write (13), not our client.
        await #expect {
            try await client("mongodb://127.0.0.1:\(sim.port)/").command(
                ["insert": "c", "documents": [["x": 1]]], database: "db")
        } throws: { error in
            (error as? MongoError)?.kind == .refused && (error as? MongoError)?.code == 13
        }
    }

    @Test("finds the primary: a secondary's primary field is followed; a replica set name that differs is an error")
    func topology() async throws {
        let primary = try await MongoSimulator(role: .primary(set: "rs0"))
        let secondary = try await MongoSimulator(role: .secondary(set: "rs0", primary: "127.0.0.1:\(primary.port)"))
        defer {
            Task {
                await primary.stop()
                await secondary.stop()
            }
        }
        let mongo = try client("mongodb://127.0.0.1:\(secondary.port)/?replicaSet=rs0")
        _ = try await mongo.command(["insert": "c", "documents": [["_id": 1]]], database: "db")
        #expect(primary.documents("db", "c").count == 1 && secondary.documents("db", "c").isEmpty)
        await #expect {
            try await client("mongodb://127.0.0.1:\(secondary.port)/?directConnection=true").command(
                ["ping": 1], database: "db")
        } throws: { error in
            (error as? MongoError)?.kind == .unavailable && "\(error)".contains("is a secondary")
        }
        await #expect {
            try await client("mongodb://127.0.0.1:\(primary.port)/?replicaSet=other").command(
                ["ping": 1], database: "db")
        } throws: { error in
            "\(error)".contains("not replicaSet=other")
        }
    }

    @Test(
        "a server that never answers is a timeout naming it; a closed connection is unavailable, and the next call reconnects"
    )
    func failures() async throws {
        let sim = try await MongoSimulator()
        defer { Task { await sim.stop() } }
        let mongo = try client("mongodb://127.0.0.1:\(sim.port)/")
        sim.inject(.stall(command: "find"))
        await #expect {
            try await mongo.command(["find": "c"], database: "db", timeout: .milliseconds(500))
        } throws: { error in
            (error as? MongoError)?.kind == .timeout && "\(error)".contains("127.0.0.1:\(sim.port) did not answer find")
        }
        sim.inject(.close(command: "find"))
        await #expect {
            try await mongo.command(["find": "c"], database: "db")
        } throws: { error in
            (error as? MongoError)?.kind == .unavailable
        }
        let reply = try await mongo.command(["find": "c"], database: "db")
        #expect(reply["cursor"] != nil)
        #expect(sim.connections == 3)
        await #expect {
            try await client("mongodb://127.0.0.1:1/").command(["ping": 1], database: "db")
        } throws: { error in
            (error as? MongoError)?.kind == .unavailable && "\(error)".contains("127.0.0.1:1")
        }
    }

    @Test("TLS: verified against tlsCAFile; an unknown CA refused; tlsAllowInvalidCertificates opts out")
    func tls() async throws {
        let dir = try TemporaryDirectory()
        let ca = try TestCA(directory: dir, names: TestCA.defaultNames)
        let sim = try await MongoSimulator(users: [.init("chains", password: "pw")], tls: ca)
        defer { Task { await sim.stop() } }
        let base = "mongodb://chains:pw@127.0.0.1:\(sim.port)/?tls=true"
        _ = try await client("\(base)&tlsCAFile=\(ca.certificate.path)").command(["ping": 1], database: "admin")
        _ = try await client("mongodb://chains:pw@localhost:\(sim.port)/?tls=true&tlsCAFile=\(ca.certificate.path)")
            .command(["ping": 1], database: "admin")
        await #expect {
            try await client(base).command(["ping": 1], database: "admin")
        } throws: { error in
            (error as? MongoError)?.kind == .unavailable
        }
        _ = try await client("\(base)&tlsAllowInvalidCertificates=true").command(["ping": 1], database: "admin")
    }
}
