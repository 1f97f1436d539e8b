import ChainsTesting
import Crypto
import Foundation
import KubeModels
import Signing
import Testing

@testable import ChainsCore

/// End-to-end `chains sign` over the examples, checking what is written with independent verifiers.
@Suite("chains sign")
struct SignJobTests {
    let kaniko = PackagePaths.example("taskrun-kaniko.yaml")
    let trUID = "4b1c7d2e-6f3a-4c8b-9e21-5a7d3c9b0f11"
    let imageKey = "c6cad725fced"

    func annotations(_ report: SignedRun) throws -> [String: String] {
        let doc = try ManifestReader.parse(Data(try #require(report.document).utf8), source: "out").documents[0]
        return try #require(doc["metadata"]?["annotations"]?.objectValue).compactMapValues(\.stringValue)
    }

    @Test("with no key, a P-256 x509.pem is created, and the run and its image are signed and stored as annotations")
    func embeddedDefault() async throws {
        let dir = try TemporaryDirectory()
        setenv("CHAINS_SIGNING_SECRETS", dir.file("secrets").path, 1)
        defer { unsetenv("CHAINS_SIGNING_SECRETS") }
        let report = await signRunFile(kaniko, setup: LocalSetup())
        #expect(report.exitCode == 0, "\(report.facts)")
        #expect(report.report?.createdKey?.path == "\(dir.file("secrets").path)/x509.pem")
        let a = try annotations(report)
        #expect(a["chains.tekton.dev/signed"] == "true")
        for key in ["taskrun-\(trUID)", imageKey] {
            for kind in ["payload", "signature", "cert", "chain"] {
                #expect(a["chains.tekton.dev/\(kind)-\(key)"] != nil)
            }
            #expect(a["chains.tekton.dev/cert-\(key)"] == "")
        }
        // The user's own annotations are kept.
        #expect(a["pipeline.tekton.dev/release"] == "v1.3.0")

        // Verify with securesystemslib (DSSE) and cryptography (simplesigning), from the public key alone.
        let key = try PrivateKey(
            pem: String(contentsOf: dir.file("secrets/x509.pem"), encoding: .utf8), file: "x509.pem")
        let pub = try dir.write("pub.pem", key.publicKey.pem)
        let envelope = try dir.write(
            "env.json", data: try #require(Data(base64Encoded: a["chains.tekton.dev/signature-taskrun-\(trUID)"]!)))
        let payload = try #require(Data(base64Encoded: a["chains.tekton.dev/payload-taskrun-\(trUID)"]!))
        let dsse = try await Python.run("verify_dsse.py", [pub.path, envelope.path])
        #expect(dsse.status == 0, "\(dsse.stderr)")
        #expect(dsse.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == SHA256Hex.of(payload))
        let simple = try dir.write(
            "simple.json", data: try #require(Data(base64Encoded: a["chains.tekton.dev/payload-\(imageKey)"]!)))
        let sig = try dir.write(
            "simple.sig", data: try #require(Data(base64Encoded: a["chains.tekton.dev/signature-\(imageKey)"]!)))
        let checked = try await Python.run("verify_signature.py", [pub.path, simple.path, sig.path])
        #expect(checked.status == 0, "\(checked.stderr)")
        let statement = try JSONValue(parsing: payload)
        #expect(statement["predicateType"] == "https://slsa.dev/provenance/v0.2")

        // A second run with the same key reuses it.
        let again = await signRunFile(kaniko, setup: LocalSetup(), force: true)
        #expect(again.report?.createdKey == nil)
    }

    @Test("a cosign key set signs; the DSSE key id is the key's SSH fingerprint")
    func cosignKey() async throws {
        let dir = try TemporaryDirectory()
        let made = try await Python.run("cosign_key.py", ["make", dir.url.path, "pw"])
        #expect(made.status == 0)
        let report = await signRunFile(kaniko, setup: LocalSetup(signingSecrets: dir.url))
        #expect(report.exitCode == 0)
        let a = try annotations(report)
        let envelope = try JSONValue(
            parsing: try #require(Data(base64Encoded: a["chains.tekton.dev/signature-taskrun-\(trUID)"]!)))
        let fingerprint = try await Python.run("ssh_fingerprint.py", [dir.file("cosign.pub").path])
        #expect(
            envelope["signatures"]?.arrayValue?.first?["keyid"]?.stringValue
                == fingerprint.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let verified = try await Python.run(
            "verify_dsse.py",
            [
                dir.file("cosign.pub").path,
                try dir.write("e.json", data: Data(base64Encoded: a["chains.tekton.dev/signature-taskrun-\(trUID)"]!)!)
                    .path,
            ])
        #expect(verified.status == 0, "\(verified.stderr)")
    }

    @Test("a run that is not finished is reported and left untouched (exit 1)")
    func notDone() async throws {
        let dir = try TemporaryDirectory()
        let text = try String(contentsOf: kaniko, encoding: .utf8).replacingOccurrences(
            of: "status: \"True\"", with: "status: Unknown")
        let run = try dir.write("running.yaml", text)
        let report = await signRunFile(run, setup: LocalSetup(signingSecrets: dir.url))
        #expect(report.exitCode == 1)
        #expect(report.document == nil)
        #expect(report.report?.decision?.skipReason == .notDone(condition: "Unknown"))
        #expect(report.outcome == nil)
    }

    @Test("an already signed run is left alone unless --force")
    func alreadySigned() async throws {
        let dir = try TemporaryDirectory()
        _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.url)
        let first = await signRunFile(kaniko, setup: LocalSetup(signingSecrets: dir.url))
        let signed = try dir.write("signed.yaml", try #require(first.document))
        let second = await signRunFile(signed, setup: LocalSetup(signingSecrets: dir.url))
        #expect(second.exitCode == 0)
        #expect(second.document == nil)
        #expect(second.report?.decision?.skipReason == .alreadyReconciled(mark: "true"))
        let forced = await signRunFile(signed, setup: LocalSetup(signingSecrets: dir.url), force: true)
        #expect(forced.document != nil)
    }

    @Test("a ConfigMap that asks for a backend not built is refused before anything is signed, naming the key (exit 2)")
    func unbuiltBackend() async throws {
        let dir = try TemporaryDirectory()
        _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.url)
        let config = try dir.write(
            "cm.yaml",
            "kind: ConfigMap\napiVersion: v1\ndata:\n  artifacts.taskrun.storage: tekton,kafka\n  artifacts.oci.storage: tekton\n"
        )
        let report = await signRunFile(kaniko, setup: LocalSetup(configFile: config, signingSecrets: dir.url))
        #expect(report.exitCode == 2)
        #expect(report.setupError?.errors.map(\.key) == ["artifacts.taskrun.storage"])
        #expect(report.text.contains("storage backend \"kafka\" cannot be served"))
        #expect(report.document == nil)
    }

    @Test("transparency.url that is not an http(s) URL is refused naming the key: nothing signed, exit 2")
    func transparencyURLRefused() async throws {
        let dir = try TemporaryDirectory()
        _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.url)
        let config = try dir.write(
            "cm.yaml",
            "kind: ConfigMap\napiVersion: v1\ndata:\n  transparency.enabled: \"true\"\n  transparency.url: rekor.local\n"
        )
        let report = await signRunFile(kaniko, setup: LocalSetup(configFile: config, signingSecrets: dir.url))
        #expect(report.exitCode == 2)
        #expect(report.setupError?.errors.map(\.key) == ["transparency.url"])
        #expect(report.document == nil && report.outcome == nil)
    }

    @Test("a registry that does not resolve is reported at once, not retried for a minute")
    func unresolvableRegistry() async throws {
        let dir = try TemporaryDirectory()
        _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.url)
        let config = try dir.write(
            "cm.yaml", "kind: ConfigMap\napiVersion: v1\ndata:\n  artifacts.taskrun.storage: tekton\n")
        let report = await signRunFile(
            kaniko, setup: LocalSetup(configFile: config, signingSecrets: dir.url, dockerConfig: dir.url.path))
        #expect(report.exitCode == 1)
        let text = report.facts.joined(separator: "\n")
        #expect(text.contains("storage oci for registry.example.com/team-a/app:sha256-c6cad725"))
        #expect(text.contains("registry.example.com"))
        #expect(report.outcome?.annotations.all["chains.tekton.dev/retries"] == "0")
    }

    @Test("an invalid ConfigMap is bad input (exit 2) with every error listed")
    func badConfig() async throws {
        let dir = try TemporaryDirectory()
        let config = try dir.write(
            "cm.yaml",
            "kind: ConfigMap\napiVersion: v1\ndata:\n  artifacts.taskrun.format: slsa/v9\n  transparency.enabled: yes\n"
        )
        let report = await signRunFile(kaniko, setup: LocalSetup(configFile: config, signingSecrets: dir.url))
        #expect(report.exitCode == 2)
        let text = report.facts.joined(separator: "\n")
        #expect(text.contains(config.path))
        #expect(text.contains("artifacts.taskrun.format: invalid value \"slsa/v9\""))
        #expect(text.contains("transparency.enabled: invalid value \"yes\""))
    }

    @Test("a PipelineRun's children are found by childReferences among --objects; missing ones are named")
    func pipelineRun() async throws {
        let dir = try TemporaryDirectory()
        _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.url)
        let pr = PackagePaths.example("pipelinerun-git-build.yaml")
        let config = PackagePaths.example("chains-config.yaml")
        let missing = await signRunFile(pr, setup: LocalSetup(configFile: config, signingSecrets: dir.url))
        #expect(missing.exitCode == 1)
        #expect(
            missing.report?.decision?.skipReason
                == .childrenMissing(["app-ci-4mz8w-fetch-source", "app-ci-4mz8w-build"]))
        #expect(missing.document == nil)

        let report = await signRunFile(
            pr,
            setup: LocalSetup(
                configFile: config, signingSecrets: dir.url,
                objectDirectories: [PackagePaths.example("cluster")]))
        #expect(report.exitCode == 0, "\(report.facts)")
        let a = try annotations(report)
        let payload = try JSONValue(
            parsing: try #require(
                Data(base64Encoded: a["chains.tekton.dev/payload-pipelinerun-7c3b2a19-8d4e-4f5a-b6c7-d8e9f0a1b2c3"]!)))
        // Deep inspection is on in the example config: the child TaskRuns' results are byproducts.
        let names =
            payload["predicate"]?["runDetails"]?["byproducts"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names.contains("taskRunResults/app-ci-4mz8w-fetch-source/commit"))
        #expect(payload["predicate"]?["runDetails"]?["builder"]?["id"] == "https://ci.example.com/tekton-chains")
    }

    @Test("malformed input names the file and field (exit 2)")
    func malformed() async throws {
        let dir = try TemporaryDirectory()
        let run = try dir.write("bad.yaml", "apiVersion: tekton.dev/v1\nkind: TaskRun\nstatus:\n  results: 3\n")
        let report = await signRunFile(run, setup: LocalSetup(signingSecrets: dir.url))
        #expect(report.exitCode == 2)
        #expect(report.facts.contains { $0.contains("\(run.path): field status.results") })
    }

    @Test("JSON in gives JSON out")
    func jsonOut() async throws {
        let dir = try TemporaryDirectory()
        _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.url)
        let doc = try ManifestReader.read(file: kaniko).documents[0]
        let run = try dir.write("run.json", doc.prettySerialized())
        let report = await signRunFile(run, setup: LocalSetup(signingSecrets: dir.url))
        #expect(report.document?.hasPrefix("{") == true)
        #expect(try annotations(report)["chains.tekton.dev/signed"] == "true")
    }
}

enum SHA256Hex {
    static func of(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }
}
