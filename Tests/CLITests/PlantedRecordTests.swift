import ChainsTesting
import Foundation
import KubeModels
import Signing
import Testing

/// Issue 21's report, as anyone who may patch a TaskRun can stage it: two attempt records on the run, made with a
/// self-made certificate — an in-toto envelope over a statement naming another image and builder, and a
/// simplesigning payload for another digest — then `chains sign` with a key. Before the fix both were logged,
/// stored and the run marked signed with them.
@Suite("chains sign: attempt records planted on a run", .serialized)
struct PlantedRecordTests {
    let uid = "4b1c7d2e-6f3a-4c8b-9e21-5a7d3c9b0f11"
    let imageKey = "c6cad725fced"  // the kaniko example's image digest, its first 12 hex digits

    @Test("planted records are ignored with a warning each; the run is signed with our key over its own provenance")
    func plantedRecordsIgnored() async throws {
        let dir = try TemporaryDirectory()
        // The planter's key and a self-made certificate for the identity a cluster's Chains would have.
        let theirs = dir.file("theirs")
        try FileManager.default.createDirectory(at: theirs, withIntermediateDirectories: true)
        let made = try await runProcess(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                theirs.appendingPathComponent("x509.pem").path, "-out", dir.file("cert.pem").path, "-days", "1",
                "-subj", "/O=sigstore.dev", "-addext",
                "subjectAltName=URI:https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller",
                "-addext", "extendedKeyUsage=codeSigning",
            ])
        #expect(made.status == 0, "\(made.stderr)")
        let planter = try SigningSecrets.loadSigner(from: theirs)
        let certificate = try String(contentsOf: dir.file("cert.pem"), encoding: .utf8)
        let statement = Data(
            #"{"_type":"https://in-toto.io/Statement/v0.1","predicate":{"builder":{"id":"https://evil.example/builder"}},"predicateType":"https://slsa.dev/provenance/v0.2","subject":[{"digest":{"sha256":"\#(String(repeating: "ab", count: 32))"},"name":"registry.example.com/victim/app"}]}"#
                .utf8)
        let envelope = try await DSSE.sign(payload: statement, signer: planter)
        let payload = Data(
            #"{"critical":{"identity":{"docker-reference":"registry.example.com/victim/app"},"image":{"docker-manifest-digest":"sha256:\#(String(repeating: "ab", count: 32))"},"type":"cosign container image signature"},"optional":null}"#
                .utf8)
        func record(_ fields: [String: String]) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self)
        }
        let planted = [
            "chains-in-swift.dev/attempt-taskrun-\(uid)": try record([
                "format": "in-toto", "signature": envelope.base64EncodedString(), "chain": certificate,
            ]),
            "chains-in-swift.dev/attempt-\(imageKey)": try record([
                "format": "simplesigning", "payload": payload.base64EncodedString(),
                "signature": try planter.sign(payload).base64EncodedString(), "chain": certificate,
            ]),
        ]
        let example = try ManifestReader.parse(
            try Data(contentsOf: PackagePaths.example("taskrun-kaniko.yaml")), source: "kaniko"
        ).documents[0]
        var object = try #require(example.objectValue)
        var metadata = try #require(object["metadata"]?.objectValue)
        metadata["annotations"] = .object(planted.mapValues { .string($0) })
        object["metadata"] = .object(metadata)
        let run = try dir.write("run.json", JSONValue.object(object).prettySerialized())

        let ours = dir.file("ours")
        _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: ours)
        let signed = try await runProcess(
            try CLITests.binary(),
            ["sign", run.path, "--signing-secrets", ours.path, "--output", dir.file("out.json").path])
        #expect(signed.status == 0, "\(signed.stderr)")
        let warnings = signed.stderr.split(separator: "\n").filter { $0.contains("warning: attempt record ") }
        #expect(warnings.count == 2, "\(signed.stderr)")
        #expect(
            warnings.contains {
                $0.contains("chains-in-swift.dev/attempt-taskrun-\(uid)")
                    && $0.contains("it was signed with a certificate, and this configuration signs with a key")
            }, "\(signed.stderr)")
        #expect(warnings.contains { $0.contains("chains-in-swift.dev/attempt-\(imageKey)") }, "\(signed.stderr)")
        #expect(!signed.stderr.contains("an earlier attempt"), "nothing was reused: \(signed.stderr)")

        let out = try ManifestReader.parse(try Data(contentsOf: dir.file("out.json")), source: "out").documents[0]
        let annotations = (out["metadata"]?["annotations"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        #expect(annotations["chains.tekton.dev/signed"] == "true")
        #expect(!annotations.keys.contains { $0.hasPrefix("chains-in-swift.dev/attempt-") })
        let stored = try #require(
            annotations["chains.tekton.dev/signature-taskrun-\(uid)"].flatMap { Data(base64Encoded: $0) })
        let key = try SigningSecrets.loadSigner(from: ours).publicKey
        let provenance = try #require(DSSE.verify(envelope: stored, publicKey: key), "our key signed what is stored")
        let text = String(decoding: provenance, as: UTF8.self)
        #expect(text.contains("registry.example.com/team-a/app") && !text.contains("evil.example"))
        #expect(DSSE.verify(envelope: stored, publicKey: planter.publicKey) == nil)
    }
}
