import ChainsCore
import ChainsTesting
import Foundation
import KubeModels
import Logging
import Testing

/// `chains sign` with `transparency.enabled` against the simulated Rekor (and Fulcio), checked by sigstore-python.
@Suite(
    "Rekor in chains sign: entries, the transparency annotation, bundles sigstore-python verifies, outages", .serialized
)
struct TransparencySignTests {
    let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
    let identity = "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller"
    let kaniko = PackagePaths.example("taskrun-kaniko.yaml")
    let uid = "4b1c7d2e-6f3a-4c8b-9e21-5a7d3c9b0f11"
    let imageDigest = "c6cad725fced12b1e7594736b205ac4ca71d0f3a665e2e471f6e23b9f1debc86"

    func config(
        _ dir: TemporaryDirectory, fulcio: FulcioSimulator?, rekor: RekorSimulator, mode: String = "true",
        format: String = "slsa/v1"
    ) throws -> URL {
        var keyless = ""
        if let fulcio {
            _ = try dir.write(
                "token", issuer.token(subject: "system:serviceaccount:tekton-chains:tekton-chains-controller"))
            keyless = """
                  signers.x509.fulcio.enabled: "true"
                  signers.x509.fulcio.address: \(fulcio.url)
                  signers.x509.identity.token.file: \(dir.file("token").path)

                """
        }
        return try dir.write(
            "cm.yaml",
            """
            kind: ConfigMap
            apiVersion: v1
            data:
            \(keyless)  artifacts.oci.storage: tekton
              artifacts.taskrun.format: \(format)
              transparency.enabled: "\(mode)"
              transparency.url: \(rekor.url)

            """)
    }

    func annotations(_ document: String?) throws -> [String: String] {
        let doc = try ManifestReader.parse(Data(try #require(document).utf8), source: "out").documents[0]
        return try #require(doc["metadata"]?["annotations"]?.objectValue).compactMapValues(\.stringValue)
    }

    func sigstore(_ trust: URL, bundle: URL, artifact: String, identity: String) async throws -> ProcessResult {
        try await Python.tool(
            "sigstore",
            [
                "--trust-config", trust.path, "verify", "identity", "--offline", "--bundle", bundle.path,
                "--cert-identity", identity, "--cert-oidc-issuer", issuer.url, artifact,
            ])
    }

    @Test("keyless: a dsse entry for the provenance, a hashedrekord one for the image; bundles sigstore-python accepts")
    func keylessBundlesVerify() async throws {
        let fulcio = try await FulcioSimulator(issuers: [issuer])
        let rekor = try await RekorSimulator()
        defer {
            Task {
                await fulcio.stop()
                await rekor.stop()
            }
        }
        let dir = try TemporaryDirectory()
        let root = try dir.write("trusted_root.json", SigstoreTrust.trustedRoot(fulcio: fulcio, rekor: rekor))
        let bundles = dir.file("bundles")
        let run = await signRunFile(
            kaniko,
            setup: LocalSetup(
                configFile: try config(dir, fulcio: fulcio, rekor: rekor, format: "slsa/v2alpha4"), trustedRoot: root,
                bundleOut: bundles))
        #expect(run.exitCode == 0, "\(run.text)")
        #expect(rekor.stats.created == 2 && rekor.entryCount == 2)
        let outcome = try #require(run.outcome)
        let provenance = try #require(outcome.artifacts.first { $0.artifactType == .taskRun })
        let image = try #require(outcome.artifacts.first { $0.artifactType == .oci })
        #expect(provenance.transparency?.entry.kind == "dsse" && image.transparency?.entry.kind == "hashedrekord")
        #expect(provenance.transparency?.keySource.contains("trusted root") == true)
        // Chains' annotation, for the run's own provenance entry.
        let a = try annotations(run.document)
        let index = try #require(provenance.transparency?.entry.logIndex)
        #expect(a["chains.tekton.dev/transparency"] == "\(rekor.url)/api/v1/log/entries?logIndex=\(index)")
        #expect(a["chains.tekton.dev/signed"] == "true")

        let written = try #require(run.report?.bundles)
        #expect(
            Set(written.map(\.lastPathComponent))
                == ["taskrun-\(uid).sigstore.json", "\(imageDigest.prefix(12)).sigstore.json"])
        // sigstore-python, offline, against a trust config made of the simulators' keys: certificate chain, SCT,
        // identity and issuer, SET, inclusion proof and checkpoint, and the signature over the artifact.
        let trust = try dir.write("trust.json", SigstoreTrust.clientTrustConfig(fulcio: fulcio, rekor: rekor))
        let payload = try dir.write("simplesigning.json", data: image.payload)
        let imageBundle = bundles.appendingPathComponent("\(imageDigest.prefix(12)).sigstore.json")
        let ok = try await sigstore(trust, bundle: imageBundle, artifact: payload.path, identity: identity)
        #expect(ok.status == 0, "\(ok.stderr)")
        let attestation = bundles.appendingPathComponent("taskrun-\(uid).sigstore.json")
        let dsse = try await sigstore(trust, bundle: attestation, artifact: "sha256:\(imageDigest)", identity: identity)
        #expect(dsse.status == 0, "\(dsse.stderr)")
        // (sigstore-python's CLI takes only in-toto Statement v1, which slsa/v2alpha3/4 are; slsa/v1 is v0.1.)
        #expect(dsse.stdout.contains("https://slsa.dev/provenance/v1"))

        // What must fail does: another identity, another artifact, a bundle whose log entry was altered.
        let wrongIdentity = try await sigstore(
            trust, bundle: imageBundle, artifact: payload.path, identity: identity + "x")
        #expect(wrongIdentity.status != 0)
        let other = try dir.write("other.json", data: image.payload + Data(" ".utf8))
        await #expect(try sigstore(trust, bundle: imageBundle, artifact: other.path, identity: identity).status != 0)
        let bundleData = try Data(contentsOf: imageBundle)
        var json = try #require(try JSONSerialization.jsonObject(with: bundleData) as? [String: Any])
        var material = try #require(json["verificationMaterial"] as? [String: Any])
        var entries = try #require(material["tlogEntries"] as? [[String: Any]])
        entries[0]["integratedTime"] = String(Int(entries[0]["integratedTime"] as! String)! + 1)
        material["tlogEntries"] = entries
        json["verificationMaterial"] = material
        let tampered = try dir.write("tampered.json", data: try JSONSerialization.data(withJSONObject: json))
        let refused = try await sigstore(trust, bundle: tampered, artifact: payload.path, identity: identity)
        #expect(refused.status != 0 && refused.stderr.contains("SET"), "\(refused.stderr)")
        // Without its log entry, a short-lived certificate proves nothing about when it signed: refused.
        material["tlogEntries"] = []
        json["verificationMaterial"] = material
        let unlogged = try dir.write("unlogged.json", data: try JSONSerialization.data(withJSONObject: json))
        let noEntry = try await sigstore(trust, bundle: unlogged, artifact: payload.path, identity: identity)
        #expect(noEntry.status != 0, "\(noEntry.stderr)")
    }

    @Test(
        "Rekor down: the signature is still stored, the failure is retryable, no transparency annotation; later it logs"
    )
    func rekorOutage() async throws {
        let rekor = try await RekorSimulator()
        defer { Task { await rekor.stop() } }
        let dir = try TemporaryDirectory()
        rekor.setDown(true)
        var keyed = LocalSetup(configFile: try config(dir, fulcio: nil, rekor: rekor), runTimeout: .seconds(20))
        keyed.signingSecrets = try await keyDirectory(dir)
        let down = await signRunFile(kaniko, setup: keyed)
        #expect(down.exitCode == 1)
        let outcome = try #require(down.outcome)
        #expect(outcome.failures.count == 2 && outcome.failures.allSatisfy { $0.stage == .tlog && $0.isRetryable })
        #expect(outcome.isRetryable)
        #expect(outcome.failures.first.map { "\($0)".contains(rekor.url) } == true, "\(down.text)")
        let a = try annotations(down.document)
        #expect(a["chains.tekton.dev/signature-taskrun-\(uid)"] != nil, "the signature was not stored")
        #expect(a["chains.tekton.dev/transparency"] == nil && a["chains.tekton.dev/retries"] == "0")

        rekor.setDown(false)
        let retry = dir.file("retry.yaml")
        try Data(try #require(down.document).utf8).write(to: retry)
        let up = await signRunFile(retry, setup: keyed)
        #expect(up.exitCode == 0, "\(up.text)")
        let b = try annotations(up.document)
        #expect(b["chains.tekton.dev/transparency"]?.hasPrefix("\(rekor.url)/api/v1/log/entries?logIndex=") == true)
        #expect(rekor.entryCount == 2)
        // A key signer logs its public key: the bundle names the key by hint, and the entry holds the PEM.
        let provenance = try #require(up.outcome?.artifacts.first { $0.artifactType == .taskRun })
        let entryBody = try #require(provenance.transparency?.entry.canonicalizedBody)
        let body = try #require(try JSONSerialization.jsonObject(with: entryBody) as? [String: Any])
        let signatures = (body["spec"] as? [String: Any])?["signatures"] as? [[String: Any]]
        let verifier = (signatures?.first?["verifier"] as? String).flatMap { Data(base64Encoded: $0) }
        #expect(verifier.map { String(decoding: $0, as: UTF8.self).contains("BEGIN PUBLIC KEY") } == true)
    }

    @Test("manual mode: only runs annotated transparency-upload: \"true\", and not again once they carry the entry")
    func manualMode() async throws {
        let rekor = try await RekorSimulator()
        defer { Task { await rekor.stop() } }
        let dir = try TemporaryDirectory()
        let setup = LocalSetup(
            configFile: try config(dir, fulcio: nil, rekor: rekor, mode: "manual"),
            signingSecrets: nil)
        var keyed = setup
        keyed.signingSecrets = try await keyDirectory(dir)
        let plain = await signRunFile(kaniko, setup: keyed)
        #expect(plain.exitCode == 0 && rekor.entryCount == 0, "\(plain.text)")
        #expect(try annotations(plain.document)["chains.tekton.dev/transparency"] == nil)

        let text = try String(contentsOf: kaniko, encoding: .utf8).replacingOccurrences(
            of: "  annotations:\n", with: "  annotations:\n    chains.tekton.dev/transparency-upload: \"true\"\n")
        let opted = try dir.write("opted.yaml", text)
        let logged = await signRunFile(opted, setup: keyed)
        #expect(logged.exitCode == 0 && rekor.entryCount == 2, "\(logged.text)")
        let marked = try annotations(logged.document)
        #expect(marked["chains.tekton.dev/transparency"] != nil)
        // Signed again (--force): it already carries its entry, so nothing new is logged.
        let again = try dir.write("again.yaml", try #require(logged.document))
        let forced = await signRunFile(again, setup: keyed, force: true)
        #expect(forced.exitCode == 0 && rekor.entryCount == 2, "\(forced.text)")
    }

    func keyDirectory(_ dir: TemporaryDirectory) async throws -> URL {
        let secrets = dir.file("keys")
        try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true)
        let ec = secrets.appendingPathComponent("ec.pem").path
        _ = try await runProcess(
            "/usr/bin/openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ec])
        let pkcs8 = try await runProcess("/usr/bin/openssl", ["pkcs8", "-topk8", "-nocrypt", "-in", ec])
        try Data(pkcs8.stdout.utf8).write(to: secrets.appendingPathComponent("x509.pem"))
        try FileManager.default.removeItem(atPath: ec)
        return secrets
    }
}
