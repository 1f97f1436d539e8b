import ChainsConfig
import ChainsTesting
import CloudCredentials
import Foundation
import HTTPTransport
import KubeModels
import Signing
import Synchronization
import Testing

@testable import ChainsCore

/// Peers that answer "stored" without storing what was sent: each backend's read-back check must catch them, and
/// the failure must not be retryable (the peer answered; it did not store these bytes).
@Suite("storage backends against peers that do not store what they were sent")
struct LyingBackendTests {
    let item: SignedArtifact
    let context: RunContext

    init() throws {
        let fixture = try BackendFixture(
            payload: Data(#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[],"n":1.5}"#.utf8))
        item = fixture.item
        context = fixture.context
    }

    func failure(_ body: () async throws -> Void) async -> BackendError? { await BackendFixture.failure(body) }

    @Test("gcs: an answer with another object's MD5 or size fails the store, not retryable")
    func gcs() async throws {
        let answer = Mutex<[String: Any]>([:])
        let server = try await TestHTTPServer { request in
            var object = answer.withLock { $0 }.mapValues { "\($0)" }
            object["name"] = request.query["name"]?.first ?? ""
            object["bucket"] = "b"
            return .json(200, object: object)
        }
        defer { Task { await server.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let storage = GCSStorage(
            bucket: "b",
            endpoint: try GCSStorage.endpoint(environment: ["STORAGE_EMULATOR_HOST": "127.0.0.1:\(server.port)"]),
            tokens: nil, transport: http)
        answer.withLock { $0 = ["size": "3", "md5Hash": "AAAAAAAAAAAAAAAAAAAAAA=="] }
        let error = await failure { _ = try await storage.store(item, for: context) }
        #expect(
            error?.kind == .failed && error?.description.contains("bytes, not") == true, "\(String(describing: error))")
        answer.withLock { $0 = ["size": "\(item.signature.count)", "md5Hash": "AAAAAAAAAAAAAAAAAAAAAA=="] }
        let md5 = await failure { _ = try await storage.store(item, for: context) }
        #expect(md5?.kind == .failed && md5?.description.contains("MD5") == true, "\(String(describing: md5))")
    }

    @Test("archivista: a gitoid that is not the body's, or a read-back of other bytes, fails the store")
    func archivista() async throws {
        let mode = Mutex("wrong-gitoid")
        let server = try await TestHTTPServer { request in
            if request.method == "POST" {
                let id =
                    mode.withLock { $0 } == "wrong-gitoid"
                    ? String(repeating: "ab", count: 32) : ArchivistaSimulator.gitoid(request.body)
                return .json(200, "{\"gitoid\":\"\(id)\"}\n")
            }
            return ServedResponse(status: 200, body: Data("{}".utf8))
        }
        defer { Task { await server.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let storage = ArchivistaStorage(base: URL(string: "http://127.0.0.1:\(server.port)")!, transport: http)
        let wrong = await failure { _ = try await storage.store(item, for: context) }
        let expected = ArchivistaStorage.gitoid(try ArchivistaStorage.uploadBody(envelope: item.signature))
        #expect(wrong?.kind == .failed && wrong?.description.contains("not \(expected)") == true)
        mode.withLock { $0 = "other-bytes" }
        let other = await failure { _ = try await storage.store(item, for: context) }
        #expect(other?.kind == .failed && other?.description.contains("is not the envelope uploaded") == true)
    }

    @Test("docdb: PutItem answered, then GetItem finds nothing or another item: the store fails")
    func dynamodb() async throws {
        let read = Mutex<String>("{}")
        let server = try await TestHTTPServer { request in
            switch request.header("X-Amz-Target") {
            case "DynamoDB_20120810.DescribeTable":
                return .json(
                    200,
                    #"{"Table":{"KeySchema":[{"AttributeName":"Name","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"Name","AttributeType":"S"}]}}"#
                )
            case "DynamoDB_20120810.GetItem": return .json(200, read.withLock { $0 })
            default: return .json(200, "{}")
            }
        }
        defer { Task { await server.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let chain = try #require(
            AWSCredentialChain(
                environment: ["AWS_ACCESS_KEY_ID": "AKIATEST", "AWS_SECRET_ACCESS_KEY": "s"], transport: http))
        let storage = DynamoDBStorage(
            table: "t", region: "us-east-1", endpoint: URL(string: "http://127.0.0.1:\(server.port)")!, chain: chain,
            transport: http)
        let missing = await failure { _ = try await storage.store(item, for: context) }
        #expect(missing?.kind == .failed && missing?.description.contains("it was not stored") == true)
        var other = try DynamoDBDocument.item(for: item)
        other["Signature"] = ["S": "b3RoZXI="]
        let text = String(decoding: try JSONSerialization.data(withJSONObject: ["Item": other]), as: UTF8.self)
        read.withLock { $0 = text }
        let changed = await failure { _ = try await storage.store(item, for: context) }
        #expect(changed?.kind == .failed && changed?.description.contains("another document") == true)
        // The item as written (numbers as DynamoDB normalizes them): stored.
        let same = String(
            decoding: try JSONSerialization.data(withJSONObject: ["Item": try DynamoDBDocument.item(for: item)]),
            as: UTF8.self)
        read.withLock { $0 = same }
        _ = try await storage.store(item, for: context)
    }

    @Test("grafeas: an occurrence answered without the envelope sent fails the store, not retryable")
    func grafeas() async throws {
        let server = try await TestHTTPServer { request in
            switch (request.method, request.path.hasSuffix("/occurrences")) {
            case ("POST", true):
                return .json(
                    200,
                    #"{"name":"projects/p/occurrences/1","resourceUri":"r.test/app@sha256:aa","envelope":{"payload":"b3RoZXI="}}"#
                )
            case ("GET", _): return .json(200, "{}")
            default: return .json(200, #"{"name":"projects/p/notes/n"}"#)
            }
        }
        defer { Task { await server.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let storage = GrafeasStorage(
            base: URL(string: "http://127.0.0.1:\(server.port)")!, project: "p", noteID: "", noteHint: "h", keyID: "",
            tokens: nil, transport: http)
        var image = item
        image.payload = Data(
            #"{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"name":"r.test/app","digest":{"sha256":"aa"}}]}"#
                .utf8)
        let error = await failure { _ = try await storage.store(image, for: context) }
        #expect(
            error?.kind == .failed && error?.description.contains("without the envelope sent") == true,
            "\(String(describing: error))")
    }
}
