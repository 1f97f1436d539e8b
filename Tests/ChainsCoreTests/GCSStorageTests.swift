import ChainsConfig
import ChainsTesting
import CloudCredentials
import Crypto
import Foundation
import HTTPTransport
import KubeModels
import Signing
import Synchronization
import Testing

@testable import ChainsCore

/// Records which hosts received an `Authorization` header, so a test can show a credential went only where it
/// belongs.
final class AuthorizationLog: HTTPTransport {
    let base: any HTTPTransport
    let hosts = Mutex<[String]>([])
    init(_ base: any HTTPTransport) { self.base = base }
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        if request.headers["Authorization"] != nil {
            hosts.withLock { $0.append("\(request.url.host ?? ""):\(request.url.port ?? 0)") }
        }
        return try await base.send(request)
    }
}

@Suite("gcs backend: endpoints, the upload's read-back, credentials")
struct GCSStorageTests {
    @Test(
        "STORAGE_EMULATOR_HOST as host:port or a URL (no token); gcloud's override (token; plain http only to loopback)"
    )
    func endpoints() throws {
        let emulator = try GCSStorage.endpoint(environment: ["STORAGE_EMULATOR_HOST": "127.0.0.1:4443"])
        #expect(emulator.base.absoluteString == "http://127.0.0.1:4443" && emulator.emulator)
        let url = try GCSStorage.endpoint(environment: ["STORAGE_EMULATOR_HOST": "https://gcs.test:9000/storage/v1/"])
        #expect(url.base.absoluteString == "https://gcs.test:9000" && url.emulator)
        let real = try GCSStorage.endpoint(environment: [:])
        #expect(real.base.absoluteString == "https://storage.googleapis.com" && !real.emulator)
        let override = try GCSStorage.endpoint(
            environment: ["CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE": "https://private.example/storage/v1/"])
        #expect(override.base.absoluteString == "https://private.example" && !override.emulator)
        #expect(throws: ChainsError.self) {
            try GCSStorage.endpoint(environment: ["CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE": "http://gcs.example"])
        }
        #expect(throws: ChainsError.self) { try GCSStorage.endpoint(environment: ["STORAGE_EMULATOR_HOST": "://"]) }
    }

    @Test("the upload's answer must name the object and hold its size and MD5 (or CRC32C); anything else fails")
    func readBack() throws {
        let body = Data("123456789".utf8)
        #expect(CRC32C.checksum(body) == 0xE306_9283, "RFC 3720's check value")
        let md5 = Data(Insecure.MD5.hash(data: body)).base64EncodedString()
        func answer(_ fields: [String: Any]) throws -> Data {
            try JSONSerialization.data(
                withJSONObject: ["name": "f/k.payload", "bucket": "b", "size": "9"].merging(fields) { $1 })
        }
        let check = { (data: Data) in GCSStorage.problem(with: data, name: "f/k.payload", bucket: "b", stored: body) }
        #expect(check(try answer(["md5Hash": md5])) == nil)
        #expect(check(try answer(["crc32c": CRC32C.base64(body)])) == nil)
        #expect(
            check(try answer(["md5Hash": Data(Insecure.MD5.hash(data: Data("x".utf8))).base64EncodedString()]))?
                .contains("MD5") == true)
        #expect(check(try answer(["crc32c": "AAAAAA=="]))?.contains("CRC32C") == true)
        #expect(check(try answer([:]))?.contains("neither md5Hash nor crc32c") == true)
        #expect(check(try answer(["md5Hash": md5, "size": "8"]))?.contains("stored 8 bytes") == true)
        #expect(check(try answer(["md5Hash": md5, "name": "f/other"]))?.contains("not the object sent") == true)
        #expect(check(try answer(["md5Hash": md5, "bucket": "c"]))?.contains("not the object sent") == true)
        #expect(check(Data("OK".utf8))?.contains("not an object resource") == true)
    }

    @Test(
        "a service account key: an RS256 JWT that PyJWT verifies with the account's public key is exchanged for a token, kept; the token goes to GCS only; the key never leaves"
    )
    func serviceAccount() async throws {
        let gcs = try await FakeGCSServer(buckets: ["prov"])
        defer { gcs.stop() }
        let forms = Mutex<[String]>([])
        let tokenServer = try await TestHTTPServer { request in
            forms.withLock { $0.append(String(decoding: request.body, as: UTF8.self)) }
            guard request.header("Authorization") == nil else { return .json(400, #"{"error":"invalid_request"}"#) }
            return .json(200, #"{"access_token":"ya29.from-sa","expires_in":3599,"token_type":"Bearer"}"#)
        }
        defer { Task { await tokenServer.stop() } }
        let dir = try TemporaryDirectory()
        let key = try PrivateKey.generate(.rsa2048)
        let tokenURI = "http://127.0.0.1:\(tokenServer.port)/token"
        let file = try dir.write(
            "sa.json",
            data: try JSONSerialization.data(withJSONObject: [
                "type": "service_account", "client_email": "chains@proj.iam.gserviceaccount.com",
                "private_key_id": "k1", "private_key": key.pkcs8PEM, "token_uri": tokenURI,
            ]))
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let log = AuthorizationLog(http)
        let tokens = try GoogleCredentials.applicationDefault(
            environment: ["GOOGLE_APPLICATION_CREDENTIALS": file.path], transport: log,
            metadata: GCRKeychain(environment: [:], transport: log))
        #expect(tokens.identity == "service account chains@proj.iam.gserviceaccount.com (key file \(file.path))")
        let storage = GCSStorage(
            bucket: "prov",
            endpoint: try GCSStorage.endpoint(environment: ["CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE": gcs.url]),
            tokens: tokens, transport: log)
        let run = try AnyRun(
            json: try ManifestReader.parse(
                Data(
                    RunFixtures.taskRun(image: "r.test/app", digest: "sha256:" + String(repeating: "a", count: 64))
                        .utf8), source: "run.yaml"
            ).documents[0], source: "run")
        let item = SignedArtifact(
            artifactType: .taskRun, shortKey: "taskrun-u1", fullKey: "x", format: .slsaV1, payload: Data("{}".utf8),
            signature: Data("{\"payload\":\"\"}".utf8), publicKey: key.publicKey, certificateChain: nil)
        for _ in 0..<2 { _ = try await storage.store(item, for: RunContext(run: run.run)) }
        #expect(
            log.hosts.withLock { $0 } == Array(repeating: gcs.host, count: 8), "the token to GCS only, 4 objects twice")
        let sent = forms.withLock { $0 }
        #expect(sent.count == 1, "the token is kept")
        let pemBody = key.pkcs8PEM.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        #expect(!sent[0].contains(String(pemBody.prefix(40))), "the key never leaves")
        let fields = Dictionary(
            uniqueKeysWithValues: sent[0].split(separator: "&").map {
                let kv = $0.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
                return (kv[0], kv.count > 1 ? kv[1] : "")
            })
        #expect(fields["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer")
        let pub = try dir.write("pub.pem", key.publicKey.pem)
        let verified = try await Python.run("jwt_check.py", [pub.path, fields["assertion"] ?? "", tokenURI])
        #expect(verified.status == 0, "\(verified.stderr)")
        let decoded = try JSONSerialization.jsonObject(with: Data(verified.stdout.utf8)) as? [[String: Any]]
        #expect(decoded?[0]["kid"] as? String == "k1")
        #expect(decoded?[1]["iss"] as? String == "chains@proj.iam.gserviceaccount.com")
        #expect(decoded?[1]["scope"] as? String == "https://www.googleapis.com/auth/cloud-platform")
        let lifetime = ((decoded?[1]["exp"] as? Int) ?? 0) - ((decoded?[1]["iat"] as? Int) ?? 0)
        #expect(lifetime == 3600)
    }

    @Test(
        "credential files: a refused exchange names the account and Google's error (not retryable; 503 is); authorized_user uses its refresh token; other types, unreadable files and plain-http token endpoints are refused by name"
    )
    func credentialFiles() async throws {
        let answer = Mutex<(Int, String)>(
            (400, #"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#))
        let forms = Mutex<[String]>([])
        let server = try await TestHTTPServer { request in
            forms.withLock { $0.append(String(decoding: request.body, as: UTF8.self)) }
            let (status, body) = answer.withLock { $0 }
            return .json(status, body)
        }
        defer { Task { await server.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let dir = try TemporaryDirectory()
        let uri = "http://127.0.0.1:\(server.port)/token"
        func file(_ name: String, _ object: [String: Any]) throws -> String {
            try dir.write(name, data: try JSONSerialization.data(withJSONObject: object)).path
        }
        func source(
            _ path: String, _ extra: [String: String] = [:]
        ) throws(CloudCredentialError) -> any GoogleTokenSource {
            try GoogleCredentials.applicationDefault(
                environment: ["GOOGLE_APPLICATION_CREDENTIALS": path].merging(extra) { $1 }, transport: http,
                metadata: GCRKeychain(environment: [:], transport: http))
        }
        let sa = try file(
            "sa.json",
            [
                "type": "service_account", "client_email": "a@p.iam.gserviceaccount.com",
                "private_key": try PrivateKey.generate(.rsa2048).pkcs8PEM, "token_uri": uri,
            ])
        do {
            _ = try await source(sa).bearerToken()
            Issue.record("a refused exchange gave a token")
        } catch {
            #expect(error.description.contains("a@p.iam.gserviceaccount.com"))
            #expect(error.description.contains("invalid_grant: Invalid JWT Signature."))
            #expect(!error.isRetryable)
        }
        answer.withLock { $0 = (503, "{}") }
        await #expect(throws: CloudCredentialError.self) { _ = try await source(sa).bearerToken() }
        do { _ = try await source(sa).bearerToken() } catch { #expect(error.isRetryable) }

        answer.withLock { $0 = (200, #"{"access_token":"ya29.user","expires_in":3599}"#) }
        let user = try file(
            "user.json",
            [
                "type": "authorized_user", "client_id": "cid", "client_secret": "cs", "refresh_token": "rt-1",
                "token_uri": uri,
            ])
        #expect(try await source(user).bearerToken() == "ya29.user")
        #expect(forms.withLock { $0.last }?.contains("grant_type=refresh_token") == true)
        #expect(forms.withLock { $0.last }?.contains("refresh_token=rt-1") == true)

        // gcloud's well-known file when the variable is unset; the metadata server when there is none.
        try FileManager.default.createDirectory(at: dir.file("gcloud"), withIntermediateDirectories: true)
        let gcloud = try dir.write(
            "gcloud/application_default_credentials.json", data: try Data(contentsOf: URL(fileURLWithPath: user)))
        let wellKnown = try GoogleCredentials.applicationDefault(
            environment: ["CLOUDSDK_CONFIG": gcloud.deletingLastPathComponent().path], transport: http,
            metadata: GCRKeychain(environment: [:], transport: http))
        #expect(wellKnown.identity.contains(gcloud.path))
        let metadata = try GoogleCredentials.applicationDefault(
            environment: ["HOME": dir.file("nowhere").path], transport: http,
            metadata: GCRKeychain(environment: ["GCE_METADATA_HOST": "127.0.0.1:1"], transport: http))
        #expect(metadata.identity.contains("metadata server (127.0.0.1:1)"))

        for (name, object, words) in [
            ("ext.json", ["type": "external_account"] as [String: Any], "\"external_account\""),
            (
                "http.json",
                [
                    "type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r",
                    "token_uri": "http://oauth.example/token",
                ], "not an https URL"
            ),
            (
                "ec.json",
                [
                    "type": "service_account", "client_email": "e@p",
                    "private_key": try PrivateKey.generate(.ecdsaP256).pkcs8PEM,
                ],
                "not an RSA key"
            ),
        ] {
            #expect(throws: CloudCredentialError.self) { _ = try source(try file(name, object)) }
            let path = try file(name, object)
            do { _ = try source(path) } catch { #expect(error.description.contains(words), "\(error)") }
        }
        do { _ = try source(dir.file("missing.json").path) } catch {
            #expect(error.description.contains("missing.json") && error.description.contains("cannot be read"))
        }
    }
}

@Suite("docdb: storage.docdb.url, go-cloud's DynamoDB encoding")
struct DocDBEncodingTests {
    @Test(
        "dynamodb://, mongo:// and firestore:// read as go-cloud reads them; what cannot be honoured is refused naming it"
    )
    func urls() throws {
        #expect(
            try DocDBURL.parse("dynamodb://t?partition_key=Name&region=eu-west-1&endpoint=http://127.0.0.1:4566")
                == .dynamodb(table: "t", region: "eu-west-1", endpoint: URL(string: "http://127.0.0.1:4566")))
        #expect(
            try DocDBURL.parse("dynamodb://t?partition_key=Name&allow_scans=true")
                == .dynamodb(table: "t", region: nil, endpoint: nil))
        #expect(
            try DocDBURL.parse("mongo://db/coll?id_field=name")
                == .mongo(database: "db", collection: "coll", idField: "name", revisionField: "DocstoreRevision"))
        for (text, words) in [
            ("dynamodb://t", "has no partition_key"), ("dynamodb://t?partition_key=name", "case-sensitively"),
            ("dynamodb://t?partition_key=Name&profile=x", "profiles are not read"),
            ("dynamodb://t?partition_key=Name&endpoint=http://dynamo.example", "plain http to another host"),
            ("dynamodb://t/extra?partition_key=Name", "one table name"), ("mongo://db", "DATABASE/COLLECTION"),
            ("mongo://db/c?foo=1", "foo"),
            ("firestore://projects/p/databases/d/documents/c", "firestore:// is not served"),
            ("s3://b", "not a docstore driver"), ("dynamodb://t?partition_key=Name&partition_key=Name", "twice"),
        ] {
            do {
                _ = try DocDBURL.parse(text)
                Issue.record("\(text) accepted")
            } catch {
                #expect(error.key == "storage.docdb.url" && error.description.contains(words), "\(text): \(error)")
            }
        }
    }

    @Test("numbers as Go's FormatFloat(f, 'f', -1, 64); an item's size; the read-back compares numbers as decimals")
    func encoding() throws {
        let cases: [(Double, String)] = [
            (5, "5"), (1.5, "1.5"), (0.1, "0.1"), (1e21, "1000000000000000000000"), (1e-7, "0.0000001"), (-2.5, "-2.5"),
            (123_456_789_012, "123456789012"), (0, "0"), (1.0000000000000002, "1.0000000000000002"),
            (1e16, "10000000000000000"), (3.14e-10, "0.000000000314"), (100, "100"), (-0.0, "-0"),
        ]
        for (value, go) in cases { #expect(DynamoDBDocument.goFixed(value) == go, "\(value)") }
        let item: [String: Any] = [
            "Name": ["S": "abc"], "Signed": ["B": Data([1, 2, 3]).base64EncodedString()],
            "Object": ["M": ["n": ["N": "12345"], "l": ["L": [["BOOL": true], ["NULL": true]]]]],
        ]
        // 4+3, 6+3, 6 + (3 + (1+1+4) + (1+1+(3+1+1+1+1))): names and values as DynamoDB counts them.
        #expect(DynamoDBDocument.size(of: item) == 7 + 9 + 6 + 3 + 6 + 9)
        #expect(DynamoDBDocument.same(["a": ["N": "1.50"]], ["a": ["N": "1.5"]]))
        #expect(!DynamoDBDocument.same(["a": ["N": "1.51"]], ["a": ["N": "1.5"]]))
        #expect(!DynamoDBDocument.same(["a": ["S": "x"]], ["a": ["S": "x"], "b": ["NULL": true]]))
    }
}
