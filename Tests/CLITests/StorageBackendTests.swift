import ChainsTesting
import Crypto
import Foundation
import HTTPTransport
import KubeModels
import Signing
import Synchronization
import Testing

/// The storage backends beside `tekton` and `oci`, each against a real peer or one checked on its own, read back
/// with an independent client, through the `chains` executable as users run it.
@Suite("storage backends against their peers", .serialized)
struct StorageBackendTests {
    let cli = CLITests()
    let kaniko = PackagePaths.example("taskrun-kaniko.yaml").path
    static let taskRunKey = "taskrun-4b1c7d2e-6f3a-4c8b-9e21-5a7d3c9b0f11"
    static let imageKey = "c6cad725fced"
    static let folder = "taskrun-team-a-build-app-kaniko-x7k2p"

    func config(_ dir: TemporaryDirectory, _ data: String) throws -> URL {
        try dir.write("cm.yaml", "kind: ConfigMap\napiVersion: v1\ndata:\n" + data)
    }

    /// A key in `dir/secrets`, and its public half in `dir/pub.pem`.
    func key(_ dir: TemporaryDirectory, _ algorithm: KeyAlgorithm = .ecdsaP256) throws -> (secrets: String, pub: URL) {
        let key = try PrivateKey.generate(algorithm)
        _ = try SigningSecrets.writeX509(key, to: dir.file("secrets"))
        return (dir.file("secrets").path, try dir.write("pub.pem", key.publicKey.pem))
    }

    /// Every object in `bucket`, as Google's own client lists and downloads it.
    func readBucket(_ gcs: FakeGCSServer, _ bucket: String) async throws -> [String: Data] {
        let result = try await runProcess(
            try Python.executable(), [PackagePaths.interop.appendingPathComponent("gcs_read.py").path, bucket],
            environment: ProcessInfo.processInfo.environment.merging(["STORAGE_EMULATOR_HOST": gcs.url]) { $1 })
        try #require(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: String])
        return object.compactMapValues { Data(base64Encoded: $0) }
    }

    @Test(
        "gcs: chains sign writes Chains' four objects per payload to fake-gcs-server; Google's client reads them back; the signatures verify; a re-sign overwrites"
    )
    func gcsRoundTrip() async throws {
        let gcs = try await FakeGCSServer(buckets: ["chains-prov"])
        defer { gcs.stop() }
        let dir = try TemporaryDirectory()
        let (secrets, pub) = try key(dir)
        let cm = try config(
            dir,
            "  artifacts.taskrun.storage: gcs\n  artifacts.oci.storage: tekton,gcs\n  storage.gcs.bucket: chains-prov\n"
        )
        let env = ["STORAGE_EMULATOR_HOST": gcs.host]
        let out = dir.file("signed.yaml").path
        let r = try await cli.chains(
            ["sign", kaniko, "--config", cm.path, "--signing-secrets", secrets, "--output", out], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("gs://chains-prov/\(Self.folder)/\(Self.taskRunKey).{signature,payload,cert,chain}"))

        let objects = try await readBucket(gcs, "chains-prov")
        var expected: Set<String> = []
        for key in [Self.taskRunKey, Self.imageKey] {
            for suffix in ["signature", "payload", "cert", "chain"] {
                expected.insert("\(Self.folder)/\(key).\(suffix)")
            }
        }
        #expect(Set(objects.keys) == expected)
        // Key-signed: the certificate and chain are there, empty, as Chains writes them.
        #expect(objects["\(Self.folder)/\(Self.taskRunKey).cert"] == Data())
        #expect(objects["\(Self.folder)/\(Self.imageKey).chain"] == Data())

        // The provenance's envelope verifies with securesystemslib over the payload object; the image's raw
        // signature with cryptography.
        let envelope = try dir.write(
            "env.json", data: try #require(objects["\(Self.folder)/\(Self.taskRunKey).signature"]))
        let payload = try #require(objects["\(Self.folder)/\(Self.taskRunKey).payload"])
        let dsse = try await Python.run("verify_dsse.py", [pub.path, envelope.path])
        #expect(dsse.status == 0, "\(dsse.stderr)")
        #expect(
            dsse.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                == SHA256.hash(data: payload).map { String(format: "%02x", $0) }.joined())
        let simple = try dir.write(
            "simple.json", data: try #require(objects["\(Self.folder)/\(Self.imageKey).payload"]))
        let sig = try dir.write("simple.sig", data: try #require(objects["\(Self.folder)/\(Self.imageKey).signature"]))
        let checked = try await Python.run("verify_signature.py", [pub.path, simple.path, sig.path])
        #expect(checked.status == 0, "\(checked.stderr)")
        // The image's signature went to both of its backends: the same bytes in the annotation and the object.
        let signed = try String(contentsOf: URL(fileURLWithPath: out), encoding: .utf8)
        #expect(
            signed.contains((try #require(objects["\(Self.folder)/\(Self.imageKey).signature"])).base64EncodedString()))
        #expect(signed.contains("chains.tekton.dev/signed: \"true\""))

        // verify-run reads the objects back and checks them; a payload replaced in the bucket fails.
        let verify = ["verify-run", out, "--key", pub.path, "--storage", "gcs", "--config", cm.path]
        let verified = try await cli.chains(verify, env: env)
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(
            verified.stderr.contains("✓ gcs: \(Self.taskRunKey)") && verified.stderr.contains("✓ gcs: \(Self.imageKey)")
        )
        let http = try ChainsTestingHTTP.transport()
        defer { Task { try? await http.shutdown() } }
        let object = "\(Self.folder)/\(Self.imageKey).payload".addingPercentEncoding(
            withAllowedCharacters: .alphanumerics)!
        let tamper = try await http.send(
            HTTPRequest(
                method: "POST",
                url: URL(string: "\(gcs.url)/upload/storage/v1/b/chains-prov/o?uploadType=media&name=\(object)")!,
                body: Data(#"{"critical":{"identity":{"docker-reference":"evil"}}}"#.utf8)))
        #expect(tamper.status == 200)
        let refused = try await cli.chains(verify, env: env)
        #expect(refused.status == 1 && refused.stderr.contains("✗ gcs: \(Self.imageKey)"), "\(refused.stderr)")

        // Signed again (forced): the same eight objects, overwritten, none added.
        let again = try await cli.chains(
            ["sign", kaniko, "--config", cm.path, "--signing-secrets", secrets, "--force", "--output", out], env: env)
        #expect(again.status == 0, "\(again.stderr)")
        let after = try await readBucket(gcs, "chains-prov")
        #expect(Set(after.keys) == expected)
        #expect(after["\(Self.folder)/\(Self.taskRunKey).payload"] != nil)
    }

    @Test(
        "gcs failures: a missing bucket is named and not retryable; an emulator that is down is retryable; neither run is marked signed; an empty bucket key is refused before signing"
    )
    func gcsFailures() async throws {
        let gcs = try await FakeGCSServer(buckets: ["chains-prov"])
        let dir = try TemporaryDirectory()
        let (secrets, _) = try key(dir)
        let missing = try dir.write(
            "missing.yaml",
            "kind: ConfigMap\napiVersion: v1\ndata:\n  artifacts.taskrun.storage: gcs\n  artifacts.oci.storage: \"\"\n  storage.gcs.bucket: no-such-bucket\n"
        )
        let env = ["STORAGE_EMULATOR_HOST": gcs.url]
        let out = dir.file("out.yaml").path
        let r = try await cli.chains(
            ["sign", kaniko, "--config", missing.path, "--signing-secrets", secrets, "--output", out], env: env)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("GCS bucket no-such-bucket (the emulator at \(gcs.url))"), "\(r.stderr)")
        #expect(r.stderr.contains("HTTP 404") && r.stderr.contains("does the bucket exist"), "\(r.stderr)")
        #expect(!r.stderr.contains("(retryable"), "a missing bucket does not come back by itself")
        #expect(
            !((try? String(contentsOf: URL(fileURLWithPath: out), encoding: .utf8)) ?? "").contains("signed: \"true\""))

        gcs.stop()
        let down = try dir.write(
            "down.yaml",
            "kind: ConfigMap\napiVersion: v1\ndata:\n  artifacts.taskrun.storage: gcs\n  artifacts.oci.storage: \"\"\n  storage.gcs.bucket: chains-prov\n"
        )
        let unreachable = try await cli.chains(
            [
                "sign", kaniko, "--config", down.path, "--signing-secrets", secrets, "--output", out, "--run-timeout",
                "10s",
            ], env: env)
        #expect(unreachable.status == 1, "\(unreachable.stderr)")
        #expect(unreachable.stderr.contains("GCS bucket chains-prov"), "\(unreachable.stderr)")
        #expect(unreachable.stderr.contains("retryable"), "\(unreachable.stderr)")
        #expect(
            !((try? String(contentsOf: URL(fileURLWithPath: out), encoding: .utf8)) ?? "").contains("signed: \"true\""))

        let empty = try dir.write(
            "empty.yaml", "kind: ConfigMap\napiVersion: v1\ndata:\n  artifacts.taskrun.storage: tekton,gcs\n")
        let refused = try await cli.chains(
            ["sign", kaniko, "--config", empty.path, "--signing-secrets", secrets, "--output", out], env: env)
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("storage.gcs.bucket"), "\(refused.stderr)")
    }

    /// moto with an IAM user allowed the DynamoDB calls (SigV4 and IAM checked after set-up), a table keyed by
    /// `Name` and one keyed by `name`; the user's keys as the environment gives them.
    func dynamo() async throws -> (MotoServer, [String: String]) {
        let moto = try await MotoServer(unauthenticatedActions: 7)
        let setup = try await moto.setUp(["--user", "--dynamodb", "chains-signed", "--dynamodb", "lowercase:name"])
        let env = [
            "AWS_ACCESS_KEY_ID": try #require(setup["access_key"]),
            "AWS_SECRET_ACCESS_KEY": try #require(setup["secret_key"]), "AWS_REGION": "us-east-1",
        ]
        return (moto, env)
    }

    func docdbConfig(_ dir: TemporaryDirectory, _ url: String, name: String = "cm.yaml") throws -> URL {
        try dir.write(
            name,
            "kind: ConfigMap\napiVersion: v1\ndata:\n  artifacts.taskrun.storage: docdb\n  artifacts.oci.storage: tekton,docdb\n  storage.docdb.url: \"\(url)\"\n"
        )
    }

    /// Every item of `table`, as boto3 scans and gets it.
    func readTable(_ moto: MotoServer, _ table: String, env: [String: String]) async throws -> [String: [String: Any]] {
        let result = try await runProcess(
            try Python.aws(),
            [PackagePaths.interop.appendingPathComponent("dynamodb_read.py").path, moto.endpoint, table],
            environment: ProcessInfo.processInfo.environment.merging(env) { $1 })
        try #require(result.status == 0, "\(result.stderr)")
        return try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: [String: Any]])
    }

    @Test(
        "docdb dynamodb://: chains sign puts Chains' SignedDocument per payload (SigV4, IAM-checked by moto); boto3 reads back Name, Signed, Signature, Cert/Chain NULL and Object; the signatures verify; a re-sign overwrites"
    )
    func dynamoRoundTrip() async throws {
        let (moto, env) = try await dynamo()
        defer { moto.stop() }
        let dir = try TemporaryDirectory()
        let (secrets, pub) = try key(dir)
        let cm = try docdbConfig(
            dir, "dynamodb://chains-signed?partition_key=Name&region=us-east-1&endpoint=\(moto.endpoint)")
        let out = dir.file("signed.yaml").path
        let r = try await cli.chains(
            ["sign", kaniko, "--config", cm.path, "--signing-secrets", secrets, "--output", out], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("dynamodb://chains-signed Name=\(Self.taskRunKey)"), "\(r.stderr)")

        let items = try await readTable(moto, "chains-signed", env: env)
        #expect(Set(items.keys) == [Self.taskRunKey, Self.imageKey])
        let provenance = try #require(items[Self.taskRunKey])
        #expect(Set(provenance.keys) == ["Name", "Signed", "Signature", "Cert", "Chain", "Object"])
        #expect(
            (provenance["Cert"] as? [String: Any])?["NULL"] as? Bool == true,
            "an empty string is NULL, as go-cloud writes it")
        #expect((provenance["Chain"] as? [String: Any])?["NULL"] as? Bool == true)
        let payload = try #require(
            ((provenance["Signed"] as? [String: Any])?["B"] as? String).flatMap { Data(base64Encoded: $0) })
        let signature = try #require(
            ((provenance["Signature"] as? [String: Any])?["S"] as? String).flatMap { Data(base64Encoded: $0) })
        let envelope = try dir.write("env.json", data: signature)
        let dsse = try await Python.run("verify_dsse.py", [pub.path, envelope.path])
        #expect(dsse.status == 0, "\(dsse.stderr)")
        #expect(
            dsse.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                == SHA256.hash(data: payload).map { String(format: "%02x", $0) }.joined())
        let object = try #require((provenance["Object"] as? [String: Any])?["M"] as? [String: Any])
        #expect((object["_type"] as? [String: Any])?["S"] as? String == "https://in-toto.io/Statement/v0.1")
        #expect((object["predicateType"] as? [String: Any])?["S"] as? String == "https://slsa.dev/provenance/v0.2")

        let image = try #require(items[Self.imageKey])
        let simplePayload = try #require(
            ((image["Signed"] as? [String: Any])?["B"] as? String).flatMap { Data(base64Encoded: $0) })
        let simpleSig = try #require(
            ((image["Signature"] as? [String: Any])?["S"] as? String).flatMap { Data(base64Encoded: $0) })
        let checked = try await Python.run(
            "verify_signature.py",
            [pub.path, try dir.write("s.json", data: simplePayload).path, try dir.write("s.sig", data: simpleSig).path])
        #expect(checked.status == 0, "\(checked.stderr)")
        let critical = ((image["Object"] as? [String: Any])?["M"] as? [String: Any])?["critical"] as? [String: Any]
        let type = ((critical?["M"] as? [String: Any])?["type"] as? [String: Any])?["S"] as? String
        #expect(type == "cosign container image signature")

        // verify-run reads the run's document and the image's its provenance names; another key fails both.
        let verify = ["verify-run", out, "--storage", "docdb", "--config", cm.path, "--key"]
        let verified = try await cli.chains(verify + [pub.path], env: env)
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(
            verified.stderr.contains("✓ docdb: \(Self.taskRunKey)")
                && verified.stderr.contains("✓ docdb: \(Self.imageKey)"))
        let other = try dir.write("other.pem", try PrivateKey.generate(.ecdsaP256).publicKey.pem)
        let refused = try await cli.chains(verify + [other.path], env: env)
        #expect(refused.status == 1 && refused.stderr.contains("✗ docdb: \(Self.taskRunKey)"), "\(refused.stderr)")

        let again = try await cli.chains(
            ["sign", kaniko, "--config", cm.path, "--signing-secrets", secrets, "--force", "--output", out], env: env)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(Set(try await readTable(moto, "chains-signed", env: env).keys) == [Self.taskRunKey, Self.imageKey])
    }

    @Test(
        "docdb failures: a missing table, a table keyed otherwise, refused credentials (named, not retryable), an item over 400 KB (said before sending); partition_key=name, firestore://, a mongo:// without a server or id_field refused by name before signing"
    )
    func dynamoFailures() async throws {
        let (moto, env) = try await dynamo()
        defer { moto.stop() }
        let dir = try TemporaryDirectory()
        let (secrets, _) = try key(dir)
        let base = "region=us-east-1&endpoint=\(moto.endpoint)"
        func sign(_ url: String, env: [String: String], run: String? = nil) async throws -> ProcessResult {
            let cm = try docdbConfig(dir, url, name: "cm-\(UUID().uuidString).yaml")
            return try await cli.chains(
                [
                    "sign", run ?? kaniko, "--config", cm.path, "--signing-secrets", secrets, "--output",
                    dir.file("o.yaml").path,
                ],
                env: env)
        }
        let missing = try await sign("dynamodb://absent?partition_key=Name&\(base)", env: env)
        #expect(missing.status == 1 && missing.stderr.contains("DynamoDB table absent"), "\(missing.stderr)")
        #expect(missing.stderr.contains("ResourceNotFoundException") && !missing.stderr.contains("(retryable"))
        let lower = try await sign("dynamodb://lowercase?partition_key=Name&\(base)", env: env)
        #expect(lower.status == 1 && lower.stderr.contains("not the partition key Name"), "\(lower.stderr)")
        var wrong = env
        wrong["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
        let refused = try await sign("dynamodb://chains-signed?partition_key=Name&\(base)", env: wrong)
        #expect(refused.status == 1 && refused.stderr.contains("DynamoDB table chains-signed"), "\(refused.stderr)")
        #expect(refused.stderr.contains("DescribeTable: HTTP 403"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("(retryable") && !refused.stderr.contains("not-the-secret"))

        // A run whose provenance passes 100 KB: stored four times over, the item would pass DynamoDB's limit.
        let text = try String(contentsOfFile: kaniko, encoding: .utf8).replacingOccurrences(
            of: "\n  params:\n",
            with: "\n  params:\n    - name: BIG\n      value: \"\(String(repeating: "x", count: 120_000))\"\n")
        let big = try dir.write("big.yaml", text)
        let large = try await sign("dynamodb://chains-signed?partition_key=Name&\(base)", env: env, run: big.path)
        #expect(large.status == 1 && large.stderr.contains("over DynamoDB's 400 KB item limit"), "\(large.stderr)")

        for (url, words) in [
            ("dynamodb://chains-signed?partition_key=name&\(base)", "partition_key=name"),
            ("dynamodb://chains-signed?partition_key=Name&sort_key=Signature&\(base)", "sort_key"),
            ("firestore://projects/p/databases/(default)/documents/c?name_field=name", "firestore:// is not served"),
            ("mongo://tekton-chains/attestations?id_field=name", "mongo:// needs a server"),
            ("mongo://tekton-chains/attestations", "has no id_field"),
        ] {
            let r = try await sign(url, env: env)
            #expect(r.status == 2, "\(url): \(r.stderr)")
            #expect(r.stderr.contains("storage.docdb.url") && r.stderr.contains(words), "\(r.stderr)")
        }
    }

    /// Every document of `database.collection`, as pymongo reads it.
    func readCollection(_ url: String, _ database: String, _ collection: String) async throws -> [String: [String: Any]]
    {
        let result = try await Python.run("mongo_read.py", [url, database, collection])
        try #require(result.status == 0, "\(result.stderr)")
        return try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: [String: Any]])
    }

    @Test(
        "docdb mongo://: chains sign replaces-with-upsert Chains' SignedDocument over SCRAM-SHA-256 (URL from a mounted Secret file); pymongo reads back _id, Signed binary, Signature, Cert/Chain \"\", Object, Name, DocstoreRevision; the signatures verify; verify-run reads them back; a re-sign overwrites"
    )
    func mongoRoundTrip() async throws {
        let sim = try await MongoSimulator(users: [.init("chains", password: "mongo-pw-9c1f")])
        defer { Task { await sim.stop() } }
        let dir = try TemporaryDirectory()
        let (secrets, pub) = try key(dir)
        let secret = try dir.write("mongo-url", sim.url + "\n")
        let cm = try dir.write(
            "cm.yaml",
            "kind: ConfigMap\napiVersion: v1\ndata:\n  artifacts.taskrun.storage: docdb\n  artifacts.oci.storage: tekton,docdb\n  storage.docdb.url: mongo://tekton-chains/attestations?id_field=name\n  storage.docdb.mongo-server-url-path: \(secret.path)\n"
        )
        let out = dir.file("signed.yaml").path
        let r = try await cli.chains([
            "sign", kaniko, "--config", cm.path, "--signing-secrets", secrets, "--output", out,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("mongo://tekton-chains/attestations _id=\(Self.taskRunKey)"), "\(r.stderr)")
        #expect(!r.stderr.contains("mongo-pw-9c1f"))

        let documents = try await readCollection(sim.url, "tekton-chains", "attestations")
        #expect(Set(documents.keys) == [Self.taskRunKey, Self.imageKey])
        let provenance = try #require(documents[Self.taskRunKey])
        #expect(
            provenance["keys"] as? [String]
                == ["_id", "Signed", "Signature", "Cert", "Chain", "Object", "Name", "DocstoreRevision"])
        let types = try #require(provenance["types"] as? [String: String])
        #expect(types["Signed"] == "bytes" && types["Object"] == "dict" && types["Cert"] == "str")
        let values = try #require(provenance["values"] as? [String: Any])
        #expect(values["Name"] as? String == Self.taskRunKey && values["Cert"] as? String == "")
        let payload = try #require((values["Signed"] as? String).flatMap { Data(base64Encoded: $0) })
        let signature = try #require((values["Signature"] as? String).flatMap { Data(base64Encoded: $0) })
        let dsse = try await Python.run("verify_dsse.py", [pub.path, try dir.write("env.json", data: signature).path])
        #expect(dsse.status == 0, "\(dsse.stderr)")
        #expect(
            dsse.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                == SHA256.hash(data: payload).map { String(format: "%02x", $0) }.joined())
        let object = try #require(values["Object"] as? [String: Any])
        #expect(object["_type"] as? String == "https://in-toto.io/Statement/v0.1")
        #expect(object["predicateType"] as? String == "https://slsa.dev/provenance/v0.2")
        let image = try #require(documents[Self.imageKey]?["values"] as? [String: Any])
        let checked = try await Python.run(
            "verify_signature.py",
            [
                pub.path,
                try dir.write("s.json", data: try #require(Data(base64Encoded: image["Signed"] as? String ?? ""))).path,
                try dir.write("s.sig", data: try #require(Data(base64Encoded: image["Signature"] as? String ?? "")))
                    .path,
            ])
        #expect(checked.status == 0, "\(checked.stderr)")

        let verify = ["verify-run", out, "--storage", "docdb", "--config", cm.path, "--key"]
        let verified = try await cli.chains(verify + [pub.path])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(
            verified.stderr.contains("✓ docdb: \(Self.taskRunKey)")
                && verified.stderr.contains("✓ docdb: \(Self.imageKey)"))
        let other = try dir.write("other.pem", try PrivateKey.generate(.ecdsaP256).publicKey.pem)
        let refused = try await cli.chains(verify + [other.path])
        #expect(refused.status == 1 && refused.stderr.contains("✗ docdb: \(Self.taskRunKey)"), "\(refused.stderr)")

        let revision = values["DocstoreRevision"] as? String
        let again = try await cli.chains(
            ["sign", kaniko, "--config", cm.path, "--signing-secrets", secrets, "--force", "--output", out])
        #expect(again.status == 0, "\(again.stderr)")
        let after = try await readCollection(sim.url, "tekton-chains", "attestations")
        #expect(Set(after.keys) == [Self.taskRunKey, Self.imageKey])
        #expect((after[Self.taskRunKey]?["values"] as? [String: Any])?["DocstoreRevision"] as? String != revision)
    }

    @Test(
        "docdb mongo:// failures: a wrong password refused (named, not retryable, never printed); no server reachable is unavailable naming it; a bad URL names its key before signing"
    )
    func mongoFailures() async throws {
        let sim = try await MongoSimulator(users: [.init("chains", password: "right-pw")])
        defer { Task { await sim.stop() } }
        let dir = try TemporaryDirectory()
        let (secrets, _) = try key(dir)
        func sign(_ extra: String, env: [String: String] = [:]) async throws -> ProcessResult {
            let cm = try dir.write(
                "cm-\(UUID().uuidString).yaml",
                "kind: ConfigMap\napiVersion: v1\ndata:\n  artifacts.taskrun.storage: docdb\n  artifacts.oci.storage: tekton\n  storage.docdb.url: mongo://tekton-chains/attestations?id_field=name\n  chains-in-swift.timeout.request: 30s\n\(extra)"
            )
            return try await cli.chains(
                [
                    "sign", kaniko, "--config", cm.path, "--signing-secrets", secrets, "--output",
                    dir.file("o.yaml").path,
                ],
                env: env)
        }
        let wrong = try await sign(
            "  storage.docdb.mongo-server-url: mongodb://chains:wrong-pw@127.0.0.1:\(sim.port)/\n")
        #expect(wrong.status == 1 && wrong.stderr.contains("authentication of user chains on admin"), "\(wrong.stderr)")
        #expect(!wrong.stderr.contains("wrong-pw") && !wrong.stderr.contains("(retryable"), "\(wrong.stderr)")
        let down = try await sign("", env: ["MONGO_SERVER_URL": "mongodb://chains:right-pw@127.0.0.1:1/"])
        #expect(down.status == 1 && down.stderr.contains("127.0.0.1:1"), "\(down.stderr)")
        #expect(!down.stderr.contains("right-pw"))
        let bad = try await sign("  storage.docdb.mongo-server-url: mongodb://h/?authMechanism=PLAIN\n")
        #expect(bad.status == 2 && bad.stderr.contains("storage.docdb.mongo-server-url"), "\(bad.stderr)")
        #expect(bad.stderr.contains("authMechanism=PLAIN"))
        let srv = try await sign("  storage.docdb.mongo-server-url: mongodb+srv://u:p@cluster0.example.net:27017/\n")
        #expect(srv.status == 2 && srv.stderr.contains("no port"), "\(srv.stderr)")
        let missing = try await sign("  storage.docdb.mongo-server-url-dir: \(dir.file("absent").path)\n")
        #expect(
            missing.status == 2 && missing.stderr.contains("storage.docdb.mongo-server-url-dir"), "\(missing.stderr)")
        #expect(sim.documents("tekton-chains", "attestations").isEmpty)
    }

    @Test(
        "the Archivista simulator on its own: gitoids are git's blob ids (git hash-object in a SHA-256 repository; go-gitoid's SHA-1 vector for the framing); the real server's answers to re-uploads, other methods, unknown gitoids and non-statements"
    )
    func archivistaSimulator() async throws {
        let dir = try TemporaryDirectory()
        let repo = dir.file("repo").path
        let made = try await runProcess("/usr/bin/git", ["init", "-q", "--object-format=sha256", repo])
        try #require(made.status == 0, "\(made.stderr)")
        let statement = Data(#"{"_type":"https://in-toto.io/Statement/v1","subject":[]}"#.utf8).base64EncodedString()
        let envelope = Data(
            #"{"payload":"\#(statement)","payloadType":"application/vnd.in-toto+json","signatures":[]}"#.utf8)
        for body in [Data(), Data("example".utf8), envelope] {
            let file = try dir.write("body-\(body.count)", data: body)
            let git = try await runProcess("/usr/bin/git", ["-C", repo, "hash-object", file.path])
            #expect(ArchivistaSimulator.gitoid(body) == git.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        // go-gitoid's gitoid_test.go: "example" with SHA-1 is 96236f81…: the same "blob <len>\0" framing.
        let sha1 = Insecure.SHA1.hash(data: Data("blob 7\u{0}example".utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(sha1 == "96236f8158b12701d5e75c14fb876c4a0f31b963")

        let sim = try await ArchivistaSimulator()
        defer { Task { await sim.stop() } }
        let http = try ChainsTestingHTTP.transport()
        defer { Task { try? await http.shutdown() } }
        func send(_ method: String, _ path: String, _ body: Data? = nil) async throws -> (Int, Data) {
            let r = try await http.send(HTTPRequest(method: method, url: URL(string: sim.url + path)!, body: body))
            return (r.status, r.body)
        }
        let (status, answer) = try await send("POST", "/upload", envelope)
        #expect(
            status == 200
                && String(decoding: answer, as: UTF8.self)
                    == "{\"gitoid\":\"\(ArchivistaSimulator.gitoid(envelope))\"}\n"
        )
        #expect(try await send("POST", "/v1/upload", envelope).0 == 500, "an identical body again")
        #expect(try await send("GET", "/download/\(ArchivistaSimulator.gitoid(envelope))") == (200, envelope))
        #expect(try await send("GET", "/v1/download/\(ArchivistaSimulator.gitoid(envelope))").1 == envelope)
        #expect(try await send("GET", "/download/\(String(repeating: "0", count: 64))").0 == 500)
        #expect(try await send("GET", "/upload").0 == 400)
        #expect(
            try await send("POST", "/upload", Data(#"{"payload":"e30=","payloadType":"x","signatures":[]}"#.utf8)).0
                == 500)
        #expect(
            try await send(
                "POST", "/upload", Data(#"{"payload":"\#(statement)","payloadType":"","signatures":[]}"#.utf8)
            ).0 == 500)
    }

    @Test(
        "archivista: chains sign uploads the provenance's envelope as go-witness encodes it; the gitoid is checked, read back, kept on the run; securesystemslib verifies the stored bytes; a re-sign's 500 counts as stored"
    )
    func archivistaRoundTrip() async throws {
        let sim = try await ArchivistaSimulator()
        defer { Task { await sim.stop() } }
        let dir = try TemporaryDirectory()
        // Ed25519 signs deterministically: the forced re-sign below uploads the very same envelope again.
        let (secrets, pub) = try key(dir, .ed25519)
        let cm = try config(
            dir,
            "  artifacts.taskrun.storage: tekton,archivista\n  artifacts.oci.storage: tekton\n  storage.archivista.url: \(sim.url)\n"
        )
        let out = dir.file("signed.yaml").path
        let r = try await cli.chains([
            "sign", kaniko, "--config", cm.path, "--signing-secrets", secrets, "--output", out,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let objects = sim.objects
        try #require(objects.count == 1)
        let (gitoid, body) = try #require(objects.first)
        #expect(r.stderr.contains("archivista: \(sim.url) gitoid \(gitoid): uploaded; read back"), "\(r.stderr)")
        let signed = try String(contentsOf: URL(fileURLWithPath: out), encoding: .utf8)
        #expect(signed.contains("chains-in-swift.dev/archivista-\(Self.taskRunKey): \(gitoid)"), "\(signed)")
        let text = String(decoding: body, as: UTF8.self)
        #expect(
            text.hasPrefix("{\"payload\":\"")
                && text.contains("\",\"payloadType\":\"application/vnd.in-toto+json\",\"signatures\":[{\"keyid\":"))
        #expect(text.hasSuffix("}]}\n"))
        let dsse = try await Python.run("verify_dsse.py", [pub.path, try dir.write("env.json", data: body).path])
        #expect(dsse.status == 0, "\(dsse.stderr)")

        // verify-run fetches the envelope the run's annotation names and checks it.
        let verified = try await cli.chains(
            ["verify-run", out, "--key", pub.path, "--storage", "archivista,tekton", "--config", cm.path])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(
            verified.stderr.contains("✓ archivista: \(Self.taskRunKey)")
                && verified.stderr.contains("✓ tekton: \(Self.taskRunKey)"))

        let again = try await cli.chains(
            ["sign", kaniko, "--config", cm.path, "--signing-secrets", secrets, "--force", "--output", out])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(
            again.stderr.contains("already there (Archivista refused the identical upload); read back"),
            "\(again.stderr)")
        #expect(sim.objects.count == 1 && sim.received.count == 2)
    }

    @Test(
        "archivista failures: simplesigning routed there and an empty URL are refused before signing naming the key; a server that is down is retryable and nothing is marked"
    )
    func archivistaFailures() async throws {
        let dir = try TemporaryDirectory()
        let (secrets, _) = try key(dir)
        let out = dir.file("out.yaml").path
        for (data, key) in [
            (
                "  artifacts.oci.storage: archivista\n  storage.archivista.url: http://127.0.0.1:1\n",
                "artifacts.oci.storage"
            ),
            ("  artifacts.taskrun.storage: archivista\n", "storage.archivista.url"),
        ] {
            let cm = try config(dir, data)
            let r = try await cli.chains([
                "sign", kaniko, "--config", cm.path, "--signing-secrets", secrets, "--output", out,
            ])
            #expect(r.status == 2 && r.stderr.contains(key), "\(r.stderr)")
        }
        let sim = try await ArchivistaSimulator()
        let url = sim.url
        await sim.stop()
        let cm = try config(
            dir,
            "  artifacts.taskrun.storage: archivista\n  artifacts.oci.storage: \"\"\n  storage.archivista.url: \(url)\n"
        )
        let r = try await cli.chains([
            "sign", kaniko, "--config", cm.path, "--signing-secrets", secrets, "--output", out,
        ])
        #expect(
            r.status == 1 && r.stderr.contains("Archivista \(url)") && r.stderr.contains("(retryable"), "\(r.stderr)")
        #expect(
            !((try? String(contentsOf: URL(fileURLWithPath: out), encoding: .utf8)) ?? "").contains("signed: \"true\""))
    }

    /// A token endpoint for a service account key file, answering `token` to any assertion (the JWT itself is
    /// checked by PyJWT in GCSStorageTests); the tests set what it answers.
    final class TokenEndpoint: Sendable {
        final class Current: Sendable { let value: Mutex<String>; init(_ v: String) { value = Mutex(v) } }
        let server: TestHTTPServer
        let current: Current
        var token: String {
            get { current.value.withLock { $0 } }
            set { current.value.withLock { $0 = newValue } }
        }
        init(token: String) async throws {
            let current = Current(token)
            self.current = current
            server = try await TestHTTPServer { request in
                guard request.body.starts(with: Data("grant_type=".utf8)) else { return .json(400, "{}") }
                return .json(200, #"{"access_token":"\#(current.value.withLock { $0 })","expires_in":3600}"#)
            }
        }
        var url: String { "http://127.0.0.1:\(server.port)/token" }
    }

    /// The Grafeas simulator requiring a token, a service account key file whose token endpoint gives it, and the
    /// environment naming that file (nothing from the machine's own gcloud).
    func grafeas(_ dir: TemporaryDirectory) async throws -> (GrafeasSimulator, TokenEndpoint, [String: String]) {
        let token = "ya29.grafeas-\(UUID().uuidString)"
        let endpoint = try await TokenEndpoint(token: token)
        let sim = try await GrafeasSimulator(token: token)
        let file = try dir.write(
            "sa.json",
            data: try JSONSerialization.data(withJSONObject: [
                "type": "service_account", "client_email": "chains@chains-test.iam.gserviceaccount.com",
                "private_key": try PrivateKey.generate(.rsa2048).pkcs8PEM, "token_uri": endpoint.url,
            ]))
        return (sim, endpoint, ["GOOGLE_APPLICATION_CREDENTIALS": file.path])
    }

    func grafeasConfig(_ dir: TemporaryDirectory, _ sim: GrafeasSimulator, extra: String = "") throws -> URL {
        try config(
            dir,
            "  artifacts.taskrun.storage: grafeas\n  artifacts.oci.storage: grafeas\n  storage.grafeas.projectid: chains-test\n"
                + "  storage.grafeas.endpoint: \(sim.url)\n" + extra)
    }

    @Test(
        "grafeas: chains sign creates Chains' notes and occurrences (a service account's token); Google's grafeas client reads them back; the signatures verify; a retry adds no occurrence"
    )
    func grafeasRoundTrip() async throws {
        let dir = try TemporaryDirectory()
        let (sim, tokens, env) = try await grafeas(dir)
        defer {
            Task {
                await sim.stop()
                await tokens.server.stop()
            }
        }
        // Ed25519 signs deterministically: the forced re-sign below is the retry of the same signature.
        let (secrets, pub) = try key(dir, .ed25519)
        let cm = try grafeasConfig(dir, sim, extra: "  storage.grafeas.notehint: made by chains\n")
        let out = dir.file("signed.yaml").path
        let r = try await cli.chains(
            ["sign", kaniko, "--config", cm.path, "--signing-secrets", secrets, "--output", out], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let read = try await Python.run("grafeas_read.py", [sim.url, tokens.token, "chains-test"])
        try #require(read.status == 0, "\(read.stderr)")
        let project = try #require(try JSONValue(parsing: Data(read.stdout.utf8)).objectValue)
        let notes = project["notes"]?.arrayValue ?? []
        #expect(
            Set(notes.compactMap { $0["name"]?.stringValue }) == [
                "projects/chains-test/notes/tekton-team-a-simplesigning",
                "projects/chains-test/notes/tekton-team-a-taskrun-intoto",
            ])
        #expect(notes.contains { $0["attestation"]?["hint"]?["humanReadableName"] == "made by chains" })
        #expect(notes.contains { $0["build"]?["builderVersion"] == "tekton.dev/v1/TaskRun" })
        let occurrences = project["occurrences"]?.arrayValue ?? []
        try #require(occurrences.count == 2, "\(occurrences)")
        let image =
            "registry.example.com/team-a/app@sha256:c6cad725fced12b1e7594736b205ac4ca71d0f3a665e2e471f6e23b9f1debc86"
        let attestation = try #require(occurrences.first { $0["kind"] == "ATTESTATION" })
        #expect(attestation["resourceUri"]?.stringValue == image)
        let build = try #require(occurrences.first { $0["kind"] == "BUILD" })
        #expect(build["resourceUri"]?.stringValue == image)
        #expect(build["build"]?["intotoStatement"]?["predicateType"] == "https://slsa.dev/provenance/v0.2")
        #expect(
            build["build"]?["intotoStatement"]?["slsaProvenanceZeroTwo"]?["builder"]?["id"]
                == "https://tekton.dev/chains/v2")
        // `_type` is on the wire (the Python client drops it when it parses: its proto-plus name is "type").
        #expect(
            sim.occurrences.contains {
                $0["build"]?["intotoStatement"]?["_type"] == "https://in-toto.io/Statement/v0.1"
            })
        // The signatures: the DSSE envelope in the BUILD occurrence (securesystemslib), the raw signature over the
        // serialized payload in the ATTESTATION one (cryptography).
        let envelope = try #require(
            build["envelope"]?["signatures"]?.arrayValue?.first?["sig"]?.stringValue.flatMap { Data(base64Encoded: $0) }
        )
        let dsse = try await Python.run("verify_dsse.py", [pub.path, try dir.write("env.json", data: envelope).path])
        #expect(dsse.status == 0, "\(dsse.stderr)")
        let payload = try #require(
            attestation["attestation"]?["serializedPayload"]?.stringValue.flatMap { Data(base64Encoded: $0) })
        let signature = try #require(
            attestation["attestation"]?["signatures"]?.arrayValue?.first?["signature"]?.stringValue.flatMap {
                Data(base64Encoded: $0)
            })
        let checked = try await Python.run(
            "verify_signature.py",
            [pub.path, try dir.write("p.json", data: payload).path, try dir.write("p.sig", data: signature).path])
        #expect(checked.status == 0, "\(checked.stderr)")

        let again = try await cli.chains(
            ["sign", kaniko, "--config", cm.path, "--signing-secrets", secrets, "--force", "--output", out], env: env)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("already there (an earlier attempt's occurrence)"), "\(again.stderr)")
        #expect(sim.occurrences.count == 2, "the retry added no occurrence")

        // Another run builds the same image, signed with another key: its BUILD occurrence sits on the same resource.
        let otherKey = try PrivateKey.generate(.ecdsaP256)
        _ = try SigningSecrets.writeX509(otherKey, to: dir.file("other-secrets"))
        let second = try dir.write(
            "second.yaml",
            try String(contentsOfFile: kaniko, encoding: .utf8).replacingOccurrences(
                of: "4b1c7d2e-6f3a-4c8b-9e21-5a7d3c9b0f11", with: "99999999-6f3a-4c8b-9e21-5a7d3c9b0f11"
            ).replacingOccurrences(of: "build-app-kaniko-x7k2p", with: "build-app-kaniko-q9z4w"))
        let signed2 = try await cli.chains(
            [
                "sign", second.path, "--config", cm.path, "--signing-secrets", dir.file("other-secrets").path,
                "--output",
                dir.file("signed2.yaml").path,
            ], env: env)
        #expect(signed2.status == 0, "\(signed2.stderr)")
        #expect(sim.occurrences.count == 4)
        // verify-run finds this run's provenance among the image's occurrences (SLSA v0.2 names no uid: by the run's
        // labels and times), and of the image's two signatures the one stored with it.
        let verify = ["verify-run", out, "--storage", "grafeas", "--config", cm.path, "--key"]
        let verified = try await cli.chains(verify + [pub.path], env: env)
        #expect(verified.stderr.contains("✓ grafeas: \(Self.taskRunKey)"), "\(verified.stderr)")
        #expect(!verified.stderr.contains("✗ grafeas: \(Self.taskRunKey)"), "\(verified.stderr)")
        let byOther = try await cli.chains(verify + [try dir.write("other.pem", otherKey.publicKey.pem).path], env: env)
        #expect(byOther.status == 1 && byOther.stderr.contains("✗ grafeas: \(Self.taskRunKey)"), "\(byOther.stderr)")
    }

    @Test(
        "grafeas failures: no project or a plain-http remote endpoint refused before signing; a token the server refuses is named, not retryable"
    )
    func grafeasFailures() async throws {
        let dir = try TemporaryDirectory()
        let (sim, tokens, env) = try await grafeas(dir)
        defer {
            Task {
                await sim.stop()
                await tokens.server.stop()
            }
        }
        let (secrets, _) = try key(dir)
        let out = dir.file("out.yaml").path
        for (data, key) in [
            ("  artifacts.taskrun.storage: grafeas\n", "storage.grafeas.projectid"),
            (
                "  artifacts.taskrun.storage: grafeas\n  storage.grafeas.projectid: p\n  storage.grafeas.endpoint: http://grafeas.example\n",
                "storage.grafeas.endpoint"
            ),
        ] {
            let cm = try config(dir, data)
            let r = try await cli.chains(
                ["sign", kaniko, "--config", cm.path, "--signing-secrets", secrets, "--output", out], env: env)
            #expect(r.status == 2 && r.stderr.contains(key), "\(r.stderr)")
        }
        tokens.token = "ya29.not-the-one"
        let cm = try grafeasConfig(dir, sim)
        let r = try await cli.chains(
            ["sign", kaniko, "--config", cm.path, "--signing-secrets", secrets, "--output", out], env: env)
        #expect(
            r.status == 1 && r.stderr.contains("Grafeas project chains-test") && r.stderr.contains("HTTP 401"),
            "\(r.stderr)")
        #expect(!r.stderr.contains("(retryable") && !r.stderr.contains("ya29.not-the-one"))
    }

    @Test(
        "grafeas with SLSA v1.0 provenance: the statement goes in inTotoSlsaProvenanceV1, whose fields Google's grafeas client parses (buildDefinition, runDetails)"
    )
    func grafeasSLSAv1() async throws {
        let dir = try TemporaryDirectory()
        let (sim, tokens, env) = try await grafeas(dir)
        defer {
            Task {
                await sim.stop()
                await tokens.server.stop()
            }
        }
        let (secrets, pub) = try key(dir)
        let cm = try grafeasConfig(dir, sim, extra: "  artifacts.taskrun.format: slsa/v2alpha4\n")
        let r = try await cli.chains(
            ["sign", kaniko, "--config", cm.path, "--signing-secrets", secrets, "--output", dir.file("o.yaml").path],
            env: env)
        #expect(r.status == 0, "\(r.stderr)")
        // verify-run tells this run's SLSA v1.0 provenance by its invocationId, the run's uid.
        let verified = try await cli.chains(
            ["verify-run", dir.file("o.yaml").path, "--storage", "grafeas", "--config", cm.path, "--key", pub.path],
            env: env)
        #expect(verified.status == 0 && verified.stderr.contains("✓ grafeas: \(Self.taskRunKey)"), "\(verified.stderr)")
        let read = try await Python.run("grafeas_read.py", [sim.url, tokens.token, "chains-test"])
        try #require(read.status == 0, "\(read.stderr)")
        let project = try JSONValue(parsing: Data(read.stdout.utf8))
        let build = try #require(project["occurrences"]?.arrayValue?.first { $0["kind"] == "BUILD" })
        let v1 = try #require(build["build"]?["inTotoSlsaProvenanceV1"], "\(build)")
        #expect(v1["predicateType"] == "https://slsa.dev/provenance/v1")
        // Parsed by the client (it drops what it does not know): SLSA v1.0's names are the proto's.
        #expect(v1["predicate"]?["buildDefinition"]?["buildType"]?.stringValue?.isEmpty == false, "\(v1)")
        #expect(v1["predicate"]?["runDetails"]?["builder"]?["id"]?.stringValue?.isEmpty == false, "\(v1)")
        #expect(v1["predicate"]?["buildDefinition"]?["externalParameters"] != nil, "\(v1)")
        #expect(build["build"]?["intotoStatement"] == nil)
    }
}
