import ChainsTesting
import Foundation
import KubeModels
import Signing
import Testing

@testable import ChainsCore

@Suite("a run with 10,000 results")
struct ManyResultsTests {
    @Test("500 type-hinted images among 10,000 results: every image signed once, the provenance names them all")
    func tenThousandResults() async throws {
        let dir = try TemporaryDirectory()
        var yaml = Synthetic.taskRunYAML(index: 3, results: 2, steps: 1)
        let hints = 500
        // The results list is the last thing before taskSpec; add ours after the synthetic pair.
        var results = ""
        for i in 0..<hints {
            let digest = SHA256Hex.of(Data("image \(i)".utf8))
            results += "    - {name: IMG\(i)_IMAGE_URL, value: registry.example.com/many/app\(i)}\n"
            results += "    - {name: IMG\(i)_IMAGE_DIGEST, value: \"sha256:\(digest)\"}\n"
        }
        for i in 0..<(10_000 - 2 * hints - 2) { results += "    - {name: plain\(i), value: \"value \(i)\"}\n" }
        yaml = yaml.replacingOccurrences(of: "  taskSpec:\n", with: results + "  taskSpec:\n")
        let run = try dir.write("many.yaml", yaml)
        let config = try dir.write(
            "config.yaml",
            "artifacts.taskrun.format: slsa/v1\nartifacts.taskrun.storage: tekton\n"
                + "artifacts.oci.storage: tekton\n")
        var setup = LocalSetup()
        setup.configFile = config
        setup.signingSecrets = dir.file("secrets")
        _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.file("secrets"))
        let signed = await signRunFile(run, setup: setup)
        let document = try #require(signed.document, "\(signed.facts)")
        let written = try ManifestReader.parse(Data(document.utf8), source: "out").documents[0]
        #expect(written["status"]?["results"]?.arrayValue?.count == 10_000)
        let annotations = try #require(written["metadata"]?["annotations"]?.objectValue)
        // One simplesigning payload per image (500 + the synthetic run's own image), each stored once.
        let payloads = annotations.keys.filter { $0.hasPrefix("chains.tekton.dev/payload-") && !$0.contains("taskrun") }
        #expect(payloads.count == hints + 1)
        let provenance = annotations.first { $0.key.contains("payload-taskrun-") }?.value.stringValue
        let encoded = try #require(provenance)
        let payload = try #require(Data(base64Encoded: encoded))
        let statement = try JSONValue(parsing: payload)
        let subjects = try #require(statement["subject"]?.arrayValue)
        #expect(subjects.count == hints + 1)
        #expect(Set(subjects.compactMap { $0["name"]?.stringValue }).count == hints + 1)
        #expect(annotations["chains.tekton.dev/signed"] == .string("true"))
    }
}
