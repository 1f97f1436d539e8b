import ChainsTesting
import Foundation
import HTTPTransport
import Testing

@testable import Sigstore

/// Our TUF client against repositories python-tuf made, and against sigstore's real public-good root.
@Suite("TUF: root rotation, timestamp → snapshot → targets, the trusted_root.json target", .serialized)
struct TUFTests {
    /// A repository made by `Tests/Interop/tuf_repo.py` with python-tuf, its target a trusted root of the Fulcio
    /// simulator's, served over HTTP.
    func repository(_ scenario: String) async throws -> (TemporaryDirectory, StaticFileServer, Data, FulcioSimulator) {
        let dir = try TemporaryDirectory()
        let fulcio = try await FulcioSimulator(issuers: [])
        let target = try dir.write("trusted_root.json", fulcio.trustedRootJSON)
        let made = try await Python.run("tuf_repo.py", [dir.file("out").path, target.path, scenario])
        #expect(made.status == 0, "\(made.stderr)")
        let server = try await StaticFileServer(root: dir.file("out/repo"))
        return (dir, server, try Data(contentsOf: target), fulcio)
    }

    func client(
        _ dir: TemporaryDirectory, _ server: StaticFileServer, http: AsyncHTTPClientTransport
    ) throws
        -> TUFClient
    {
        TUFClient(
            mirror: URL(string: server.url)!, transport: http, cache: dir.file("cache"),
            initialRoot: try Data(contentsOf: dir.file("out/1.root.json")))
    }

    func failure(_ client: TUFClient) async -> String {
        do {
            _ = try await client.target("trusted_root.json")
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test("sigstore's embedded public-good root is signed by 3 of its 5 root keys over our canonical JSON")
    func publicGoodRoot() throws {
        let root = try TUFMetadata(Data(PublicGoodTUFRoot.json.utf8), role: "root", source: "embedded")
        let role = try #require(root.role("root"))
        #expect(role.threshold == 3 && root.version >= 15)
        #expect(root.isSigned(by: role, keys: root.keys))
        // One changed byte in what is signed, and the signatures no longer count.
        let altered = PublicGoodTUFRoot.json.replacingOccurrences(
            of: "\"consistent_snapshot\": true", with: "\"consistent_snapshot\": false")
        #expect(altered != PublicGoodTUFRoot.json)
        let bad = try TUFMetadata(Data(altered.utf8), role: "root", source: "altered")
        #expect(!bad.isSigned(by: role, keys: bad.keys))
    }

    @Test("canonical JSON as securesystemslib writes it: sorted keys, no spaces, only quote and backslash escaped")
    func canonical() async throws {
        let value = try #require(TUFJSON.parse(Data(#"{"b": [1, true, null], "a": "x\"\\\n\u00e9", "A": {}}"#.utf8)))
        #expect(
            String(decoding: try #require(value.canonical), as: UTF8.self)
                == "{\"A\":{},\"a\":\"x\\\"\\\\\né\",\"b\":[1,true,null]}")
        #expect(TUFJSON.parse(Data(#"{"f": 1.5}"#.utf8))?.canonical == nil)
        let checked = try await Python.run(
            "canonical_json.py", [], stdin: Data(#"{"b": [1, true, null], "a": "x\"\\\n\u00e9", "A": {}}"#.utf8))
        #expect(checked.stdout == String(decoding: try #require(value.canonical), as: UTF8.self), "\(checked.stderr)")
    }

    @Test("a good repository: roots 1 → 3 walked (v3 needs 2 of 2), the target fetched by hash, checked, cached")
    func goodRepository() async throws {
        let (dir, server, expected, fulcio) = try await repository("good")
        defer {
            Task {
                await server.stop()
                await fulcio.stop()
            }
        }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let tuf = try client(dir, server, http: http)
        let root = try await tuf.updatedRoot()
        #expect(root.version == 3 && root.role("root")?.threshold == 2)
        #expect(try await tuf.target("trusted_root.json") == expected)
        let trusted = try await tuf.trustedRoot()
        #expect(trusted.certificateAuthorities.count == 1 && trusted.ctlogs.count == 1)
        for name in ["timestamp.json", "snapshot.json", "targets.json", "targets/trusted_root.json"] {
            #expect(FileManager.default.fileExists(atPath: dir.file("cache/\(name)").path), "\(name) not cached")
        }
        // A tampered target on the mirror is refused (a fresh cache, so it is fetched).
        let hashed = try #require(
            try FileManager.default.contentsOfDirectory(atPath: dir.file("out/repo/targets").path).first)
        try Data(expected.dropLast() + Data("x".utf8)).write(to: dir.file("out/repo/targets/\(hashed)"))
        var fresh = tuf
        fresh.cache = dir.file("cache2")
        #expect(await failure(fresh).contains("length or hash does not match"))
        // A timestamp changed on the mirror no longer verifies.
        let served = try String(contentsOf: dir.file("out/repo/timestamp.json"), encoding: .utf8)
        try served.replacingOccurrences(of: "\"version\": 1", with: "\"version\": 2").write(
            to: dir.file("out/repo/timestamp.json"), atomically: true, encoding: .utf8)
        #expect(await failure(fresh).contains("not signed by a threshold of the root's timestamp keys"))
    }

    @Test("rollback: a timestamp, snapshot or targets older than the cached one is refused, each on its own")
    func rollbackOfEveryRole() async throws {
        let (dir, server, expected, fulcio) = try await repository("good")
        defer {
            Task {
                await server.stop()
                await fulcio.stop()
            }
        }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let tuf = try client(dir, server, http: http)
        #expect(try await tuf.target("trusted_root.json") == expected)
        for role in ["timestamp", "snapshot", "targets"] {
            let file = dir.file("cache/\(role).json")
            let cached = try String(contentsOf: file, encoding: .utf8)
            // Only the role's own version: the last in the file (keys are sorted: "meta" comes before "version").
            let own = try #require(cached.range(of: "\"version\": 1", options: .backwards))
            let newer = cached.replacingCharacters(in: own, with: "\"version\": 9")
            try newer.write(to: file, atomically: true, encoding: .utf8)
            #expect(try TUFMetadata(Data(newer.utf8), role: role, source: "test").version == 9)
            let message = await failure(tuf)
            #expect(message.contains("\(role): version 1 is older than the cached 9 (rollback)"), "\(message)")
            try cached.write(to: file, atomically: true, encoding: .utf8)
            #expect(try await tuf.target("trusted_root.json") == expected, "restored: accepted again")
        }
    }

    @Test("refused: a root rotation without the old root's threshold, an expired timestamp, an expired root")
    func badRepositories() async throws {
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        for (scenario, expected) in [
            ("bad-rotation", "version 4 is not signed by a threshold of version 3's root keys"),
            ("expired-timestamp", "timestamp: version 1 expired"),
            ("expired-root", "the newest root (version 3) expired"),
            // A key the root lists for another role signs nothing for this one.
            (
                "timestamp-by-snapshot-key",
                "timestamp: version 1 is not signed by a threshold of the root's timestamp keys"
            ),
            // Metadata is held to the bytes its parent names, though its signature verifies.
            ("snapshot-reformatted", "snapshot: its length or hash does not match the timestamp"),
            ("snapshot-length-only", "snapshot: its length or hash does not match the timestamp"),
        ] {
            let (dir, server, _, fulcio) = try await repository(scenario)
            let message = await failure(try client(dir, server, http: http))
            #expect(message.contains(expected), "\(scenario): \(message)")
            #expect(message.contains(server.url), "the error names the mirror: \(message)")
            await server.stop()
            await fulcio.stop()
        }
    }
}
