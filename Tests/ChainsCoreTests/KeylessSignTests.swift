import ChainsCore
import ChainsTesting
import Foundation
import KubeModels
import Logging
import Testing

/// `chains sign` with `signers.x509.fulcio.enabled: "true"` against the Fulcio simulator.
@Suite("Keyless chains sign", .serialized)
struct KeylessSignTests {
    let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
    let kaniko = PackagePaths.example("taskrun-kaniko.yaml")
    let uid = "4b1c7d2e-6f3a-4c8b-9e21-5a7d3c9b0f11"

    func config(_ dir: TemporaryDirectory, fulcio: FulcioSimulator) throws -> URL {
        try dir.write(
            "token", issuer.token(subject: "system:serviceaccount:tekton-chains:tekton-chains-controller"))
        return try dir.write(
            "cm.yaml",
            """
            kind: ConfigMap
            apiVersion: v1
            data:
              signers.x509.fulcio.enabled: "true"
              signers.x509.fulcio.address: \(fulcio.url)
              signers.x509.identity.token.file: \(dir.file("token").path)
              artifacts.oci.storage: tekton

            """)
    }

    @Test("two runs share one Fulcio certificate; cert-/chain- hold it; the envelope verifies with its key")
    func signsKeyless() async throws {
        let fulcio = try await FulcioSimulator(issuers: [issuer])
        defer { Task { await fulcio.stop() } }
        let dir = try TemporaryDirectory()
        let setup = LocalSetup(configFile: try config(dir, fulcio: fulcio))
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let (first, second, calls) = try await withLocalSigning(setup, logger: logger) { front in
            let a = await front.sign(file: kaniko)
            let b = await front.sign(file: kaniko, force: true)
            return (a, b, await front.keyless?.fulcioCalls ?? -1)
        }
        #expect(first.exitCode == 0 && second.exitCode == 0, "\(String(describing: first.outcome?.failures))")
        #expect(calls == 1 && fulcio.stats.v2 == 1, "calls \(calls), v2 \(fulcio.stats.v2)")
        let artifact = try #require(first.outcome?.artifacts.first)
        #expect(artifact.certificateChain?.count == 3)
        #expect(artifact.signerOrigin.contains("https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/"))
        #expect(artifact.signerOrigin.contains("filesystem \(dir.file("token").path)"))

        let doc = try ManifestReader.parse(Data(try #require(first.document).utf8), source: "out").documents[0]
        let a = try #require(doc["metadata"]?["annotations"]?.objectValue).compactMapValues(\.stringValue)
        let cert = String(
            decoding: try #require(Data(base64Encoded: a["chains.tekton.dev/cert-taskrun-\(uid)"]!)), as: UTF8.self)
        let chain = String(
            decoding: try #require(Data(base64Encoded: a["chains.tekton.dev/chain-taskrun-\(uid)"]!)), as: UTF8.self)
        #expect(cert.components(separatedBy: "BEGIN CERTIFICATE").count == 2)
        #expect(chain.components(separatedBy: "BEGIN CERTIFICATE").count == 3)
        // Independently: openssl checks the chain and extracts the key; securesystemslib verifies the envelope.
        let leaf = try dir.write("leaf.pem", cert)
        let cas = try dir.write("chain.pem", chain)
        let verified = try await runProcess("/usr/bin/openssl", ["verify", "-CAfile", cas.path, leaf.path])
        #expect(verified.status == 0, "\(verified.stderr)")
        let pub = try await runProcess("/usr/bin/openssl", ["x509", "-in", leaf.path, "-pubkey", "-noout"])
        let pubFile = try dir.write("pub.pem", pub.stdout)
        let envelope = try dir.write(
            "env.json", data: try #require(Data(base64Encoded: a["chains.tekton.dev/signature-taskrun-\(uid)"]!)))
        let dsse = try await Python.run("verify_dsse.py", [pubFile.path, envelope.path])
        #expect(dsse.status == 0, "\(dsse.stderr)")
    }

    @Test("with a trusted root the chain must end in its Fulcio CA: this Fulcio's passes, another's is refused")
    func trustedRoot() async throws {
        let fulcio = try await FulcioSimulator(issuers: [issuer])
        let other = try await FulcioSimulator(issuers: [issuer])
        defer {
            Task {
                await fulcio.stop()
                await other.stop()
            }
        }
        let dir = try TemporaryDirectory()
        let cm = try config(dir, fulcio: fulcio)
        let ours = try dir.write("ours.json", fulcio.trustedRootJSON)
        let theirs = try dir.write("theirs.json", other.trustedRootJSON)
        let good = await signRunFile(kaniko, setup: LocalSetup(configFile: cm, trustedRoot: ours))
        #expect(good.exitCode == 0, "\(good.text)")
        let bad = await signRunFile(kaniko, setup: LocalSetup(configFile: cm, trustedRoot: theirs))
        #expect(bad.exitCode == 1)
        #expect(bad.text.contains("does not end in a Fulcio CA of the trusted root"))
        let broken = try dir.write("broken.json", #"{"mediaType": "text/plain"}"#)
        let refused = await signRunFile(kaniko, setup: LocalSetup(configFile: cm, trustedRoot: broken))
        #expect(refused.exitCode == 2 && refused.text.contains("not a sigstore trusted root"))
    }

    @Test("no identity token anywhere: a signing failure that says where to put one; nothing falls back to a key")
    func noToken() async throws {
        let dir = try TemporaryDirectory()
        let cm = try dir.write(
            "cm.yaml",
            "signers.x509.fulcio.enabled: \"true\"\nsigners.x509.fulcio.provider: filesystem\nartifacts.oci.storage: tekton\n"
                + "signers.x509.fulcio.address: http://127.0.0.1:1\n"
        )
        let report = await signRunFile(kaniko, setup: LocalSetup(configFile: cm, signingSecrets: dir.url))
        #expect(report.exitCode == 1)
        let failures = report.outcome?.failures ?? []
        #expect(!failures.isEmpty && failures.allSatisfy { $0.stage == .signing && !$0.isRetryable })
        #expect(report.text.contains("no identity token found"))
        #expect(report.outcome?.artifacts.isEmpty == true)
        #expect(!FileManager.default.fileExists(atPath: dir.file("x509.pem").path))
        // A TUF mirror other than sigstore's, with no root pinned: refused before anything, naming the key.
        let tuf = try dir.write(
            "tuf.yaml",
            "signers.x509.fulcio.enabled: \"true\"\nsigners.x509.fulcio.address: http://127.0.0.1:1\n"
                + "signers.x509.tuf.mirror.url: https://tuf.example.com\n")
        let unpinned = await signRunFile(kaniko, setup: LocalSetup(configFile: tuf, signingSecrets: dir.url))
        #expect(unpinned.exitCode == 2 && unpinned.setupError?.errors.first?.key == "signers.x509.tuf.mirror.url")
        #expect(unpinned.text.contains("pin its root.json with signers.x509.tuf.root.file"))
    }

    @Test("a plain-http Fulcio elsewhere than this machine is refused: the token would cross the network in clear")
    func plainHTTPFulcio() async throws {
        let dir = try TemporaryDirectory()
        let cm = try dir.write(
            "cm.yaml", "signers.x509.fulcio.enabled: \"true\"\nsigners.x509.fulcio.address: http://fulcio.example.com\n"
        )
        let report = await signRunFile(kaniko, setup: LocalSetup(configFile: cm))
        #expect(report.exitCode == 2)
        #expect(report.setupError?.errors.map(\.key) == ["signers.x509.fulcio.address"])
    }

    @Test("an expired token is refused before Fulcio is called")
    func expiredToken() async throws {
        let fulcio = try await FulcioSimulator(issuers: [issuer])
        defer { Task { await fulcio.stop() } }
        let dir = try TemporaryDirectory()
        let cm = try config(dir, fulcio: fulcio)
        try dir.write("token", issuer.token(subject: "system:serviceaccount:a:b", now: Date() - 1200))
        let report = await signRunFile(kaniko, setup: LocalSetup(configFile: cm))
        #expect(report.exitCode == 1)
        #expect(report.text.contains("expired"))
        #expect(fulcio.stats.v2 == 0 && fulcio.stats.refused == 0)
    }
}
