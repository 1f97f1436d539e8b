import ChainsTesting
import Foundation
import MongoWire
import Testing

/// `mongodb+srv://` seed lists: our DNS answers checked by pymongo's own lookup (dnspython), our lookup's hosts and
/// options equal to pymongo's, its refusals, and a client that finds and authenticates to a seed list's primary
/// over TLS by name.
@Suite("MongoDB seed lists (mongodb+srv://)")
struct MongoSRVTests {
    func resolver(_ dns: DNSServer) -> DNSResolver {
        DNSResolver(servers: [("127.0.0.1", dns.port)], timeout: .seconds(60))
    }

    /// pymongo's reading of `uri` through `dns`.
    func pymongo(_ dns: DNSServer, _ uri: String) async throws -> [String: Any] {
        let result = try await Python.run("mongo_srv_check.py", [String(dns.port), uri])
        try #require(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    @Test("the SRV and TXT records: pymongo (dnspython) and our lookup find the same hosts and options")
    func sameAsPymongo() async throws {
        let dns = try await DNSServer([
            "_mongodb._tcp.cluster0.chains.test": [
                .srv(port: 27017, target: "node-a.chains.test"),
                .srv(priority: 1, port: 27018, target: "node-b.chains.test"),
            ],
            "cluster0.chains.test": [.txt(["authSource=tekton", "&replicaSet=rs0"])],
        ])
        defer { Task { await dns.stop() } }
        let uri = "mongodb+srv://chains:pw@cluster0.chains.test/"
        let theirs = try await pymongo(dns, uri)
        let ours = try await MongoSRV.resolve(try MongoConnectionString.parse(uri), resolver: resolver(dns))
        let nodes = try #require(theirs["nodelist"] as? [[Any]])
        #expect(nodes.map { "\($0[0]):\($0[1])" } == ["node-a.chains.test:27017", "node-b.chains.test:27018"])
        #expect(ours.hosts.map(\.description).sorted() == nodes.map { "\($0[0]):\($0[1])" })
        let options = try #require(theirs["options"] as? [String: Any])
        #expect(options["authsource"] as? String == "tekton" && ours.authDatabase == "tekton")
        #expect(options["replicaset"] as? String == "rs0" && ours.replicaSet == "rs0")
        #expect(options["tls"] as? Bool == true && ours.tls)
        // An option in the string wins over the TXT record's.
        let given = try await MongoSRV.resolve(
            try MongoConnectionString.parse(uri + "?authSource=admin"), resolver: resolver(dns))
        #expect(given.authDatabase == "admin" && given.replicaSet == "rs0")
        #expect(dns.queries.contains("SRV _mongodb._tcp.cluster0.chains.test"))
    }

    @Test(
        "refused as pymongo refuses: a host outside the parent domain, two TXT records, a TXT option not allowed, no SRV record"
    )
    func refusals() async throws {
        let dns = try await DNSServer([
            "_mongodb._tcp.evil.chains.test": [.srv(port: 27017, target: "db.attacker.example")],
            "_mongodb._tcp.suffix.chains.test": [.srv(port: 27017, target: "notchains.test")],
            "_mongodb._tcp.twotxt.chains.test": [.srv(port: 27017, target: "a.chains.test")],
            "twotxt.chains.test": [.txt(["authSource=a"]), .txt(["replicaSet=b"])],
            "_mongodb._tcp.badtxt.chains.test": [.srv(port: 27017, target: "a.chains.test")],
            "badtxt.chains.test": [.txt(["ssl=false"])],
        ])
        defer { Task { await dns.stop() } }
        for (host, words) in [
            ("evil.chains.test", "not under chains.test"), ("suffix.chains.test", "not under chains.test"),
            ("twotxt.chains.test", "2 TXT records"), ("badtxt.chains.test", "the option ssl"),
            ("none.chains.test", "no SRV record"),
        ] {
            let uri = "mongodb+srv://\(host)/"
            let theirs = try await pymongo(dns, uri)
            #expect(theirs["error"] != nil, "pymongo accepts \(host): \(theirs)")
            await #expect {
                try await MongoSRV.resolve(try MongoConnectionString.parse(uri), resolver: resolver(dns))
            } throws: { error in
                "\(error)".contains(words)
            }
        }
    }

    @Test(
        "a client on mongodb+srv:// finds the seed list's primary by name, verifies its certificate for that name, authenticates on the TXT record's database"
    )
    func connects() async throws {
        let dir = try TemporaryDirectory()
        let ca = try TestCA(directory: dir, names: ["DNS:*.chains.test"])
        let primary = try await MongoSimulator(
            users: [.init("chains", password: "pw", database: "tekton")], tls: ca, role: .primary(set: "rs0"))
        let secondary = try await MongoSimulator(
            users: [.init("chains", password: "pw", database: "tekton")], tls: ca,
            role: .secondary(set: "rs0", primary: "node-b.chains.test:\(primary.port)"))
        let dns = try await DNSServer([
            "_mongodb._tcp.cluster0.chains.test": [.srv(port: UInt16(secondary.port), target: "node-a.chains.test")],
            "cluster0.chains.test": [.txt(["authSource=tekton&replicaSet=rs0"])],
        ])
        defer {
            Task {
                await dns.stop()
                await primary.stop()
                await secondary.stop()
            }
        }
        let url = try MongoConnectionString.parse(
            "mongodb+srv://chains:pw@cluster0.chains.test/?tlsCAFile=\(ca.certificate.path)")
        let client = try MongoClient(
            url: url, timeout: .seconds(60), driver: "test", resolver: resolver(dns),
            pinned: ["node-a.chains.test": "127.0.0.1", "node-b.chains.test": "127.0.0.1"])
        _ = try await client.command(["insert": "c", "documents": [["_id": 1]]], database: "db")
        #expect(primary.documents("db", "c").count == 1)
        #expect(primary.commands == ["insert db chains"])
        // A certificate for other names is refused, even with the seed list's names pinned.
        let otherDir = try TemporaryDirectory()
        let other = try TestCA(directory: otherDir, names: ["DNS:other.example"])
        let wrongName = try await MongoSimulator(tls: other)
        defer { Task { await wrongName.stop() } }
        dns.set(
            "_mongodb._tcp.cluster1.chains.test", [.srv(port: UInt16(wrongName.port), target: "node-c.chains.test")])
        let refused = try MongoClient(
            url: try MongoConnectionString.parse(
                "mongodb+srv://cluster1.chains.test/?tlsCAFile=\(other.certificate.path)"),
            timeout: .seconds(60), driver: "test", resolver: resolver(dns), pinned: ["node-c.chains.test": "127.0.0.1"])
        await #expect(throws: MongoError.self) { try await refused.command(["ping": 1], database: "db") }
    }

    @Test("DNS answers from untrusted bytes: truncated messages, overrunning records and pointer loops are errors")
    func dnsParsing() throws {
        let query = try DNSMessage.query(id: 7, name: "a.b", type: DNSMessage.srv)
        #expect(query.count == 12 + 5 + 4 + 11)
        var answer = Array(query[0..<17 + 4])
        answer[2] = 0x81
        answer[3] = 0x80
        answer[7] = 1  // one answer
        answer[11] = 0
        let pointerLoop: [UInt8] = [0xC0, 21, 0, 33, 0, 1, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0x69, 0x42]
        #expect(throws: MongoError.self) { try DNSMessage.parse(answer + pointerLoop) }
        let overrun: [UInt8] = [0xC0, 12, 0, 33, 0, 1, 0, 0, 0, 1, 0, 60, 0, 0]
        #expect(throws: MongoError.self) { try DNSMessage.parse(answer + overrun) }
        #expect(throws: MongoError.self) { try DNSMessage.parse(Array(answer.prefix(10))) }
        let good: [UInt8] = [0xC0, 12, 0, 33, 0, 1, 0, 0, 0, 1, 0, 10, 0, 1, 0, 2, 0x69, 0x89, 1, 0x78, 0xC0, 12]
        #expect(
            try DNSMessage.parse(answer + good).records == [.srv(priority: 1, weight: 2, port: 27017, target: "x.a.b")])
    }
}
