import ChainsCore
import ChainsTesting
import Crypto
import Foundation
import Sigstore
import Testing

/// `chains sign` with a signing config (`--signing-config`): Fulcio, Rekor and an RFC 3161 timestamp authority chosen
/// from it, the bundles carrying a timestamp that sigstore-python verifies offline; a chains-config address that
/// disagrees with the signing config, a root without the authority, or a log this build cannot speak: errors naming
/// them, before anything is signed.
@Suite("Signing configs in chains sign: services chosen, timestamps in bundles, conflicts refused", .serialized)
struct SigningConfigSignTests {
    let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
    let identity = "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller"
    let kaniko = PackagePaths.example("taskrun-kaniko.yaml")
    let imageDigest = "c6cad725fced12b1e7594736b205ac4ca71d0f3a665e2e471f6e23b9f1debc86"

    /// chains-config: keyless and Rekor on, addresses left to the signing config unless `extra` names them.
    func config(_ dir: TemporaryDirectory, extra: String = "", transparency: Bool = true) throws -> URL {
        _ = try dir.write(
            "token", issuer.token(subject: "system:serviceaccount:tekton-chains:tekton-chains-controller"))
        return try dir.write(
            "cm.yaml",
            """
            signers.x509.fulcio.enabled: "true"
            signers.x509.identity.token.file: \(dir.file("token").path)
            artifacts.oci.storage: tekton
            artifacts.taskrun.format: slsa/v2alpha4
            transparency.enabled: "\(transparency)"
            \(extra)
            """)
    }

    @Test(
        "Fulcio, Rekor and the timestamp authority come from the signing config; sigstore-python verifies the bundles")
    func signsWithSigningConfig() async throws {
        let dir = try TemporaryDirectory()
        let stack = try await SigstoreStack(directory: dir, log: .v1, issuer: issuer)
        defer { Task { await stack.stop() } }
        let (fulcio, rekor, tsa) = (stack.fulcio, try #require(stack.rekor), try #require(stack.tsa))
        let tsaURL = try #require(stack.tsaURL)
        let root = try dir.write("trusted_root.json", stack.trustedRootJSON)
        let signingConfig = try dir.write("signing_config.json", stack.signingConfigJSON)
        var setup = LocalSetup(
            configFile: try config(dir), trustedRoot: root, bundleOut: dir.file("bundles"))
        setup.signingConfig = signingConfig
        let run = await signRunFile(kaniko, setup: setup)
        #expect(run.exitCode == 0, "\(run.text)")
        #expect(rekor.stats.created == 2)
        // The summary says what was chosen and from where.
        #expect(run.text.contains("transparency log (ANY): \(rekor.url) (API v1, test)"), "\(run.text)")
        #expect(run.text.contains("timestamp authority (ANY): \(tsaURL)"), "\(run.text)")
        let outcome = try #require(run.outcome)
        #expect(outcome.artifacts.count == 2)

        // sigstore-python, offline, with the authority in its trusted root: certificate, SCT, log entry, and the
        // RFC 3161 timestamp (sigstore-python verifies every timestamp a bundle carries).
        let trust = try dir.write(
            "trust.json",
            SigstoreTrust.clientTrustConfig(fulcio: fulcio, rekor: rekor, timestampAuthority: (tsa, url: tsaURL)))
        let image = try #require(outcome.artifacts.first { $0.artifactType == .oci })
        let payload = try dir.write("simplesigning.json", data: image.payload)
        let bundle = dir.file("bundles").appendingPathComponent("\(imageDigest.prefix(12)).sigstore.json")
        let json = try JSONSerialization.jsonObject(with: try Data(contentsOf: bundle)) as? [String: Any]
        let material = json?["verificationMaterial"] as? [String: Any]
        #expect((material?["timestampVerificationData"] as? [String: Any])?["rfc3161Timestamps"] != nil)
        let verified = try await Python.tool(
            "sigstore",
            [
                "--trust-config", trust.path, "verify", "identity", "--offline", "--bundle", bundle.path,
                "--cert-identity", identity, "--cert-oidc-issuer", issuer.url, payload.path,
            ])
        #expect(verified.status == 0, "\(verified.stderr)")
        // The provenance's bundle (DSSE, Rekor v1 + timestamp), for a subject of its statement.
        let provenance = try #require(outcome.artifacts.first { $0.artifactType != .oci })
        let statement = try JSONSerialization.jsonObject(with: provenance.payload) as? [String: Any]
        let subjectDigest = try #require(
            ((statement?["subject"] as? [[String: Any]])?.first?["digest"] as? [String: String])?["sha256"])
        let provenanceBundle = try #require(
            try FileManager.default.contentsOfDirectory(at: dir.file("bundles"), includingPropertiesForKeys: nil)
                .first { $0.lastPathComponent.hasPrefix("taskrun") })
        let dsse = try await Python.run(
            "sigstore_verify.py",
            [trust.path, provenanceBundle.path, identity, issuer.url, "sha256:" + subjectDigest])
        #expect(dsse.status == 0, "\(dsse.stdout) \(dsse.stderr)")
        // The same bundle with a trust config whose root lacks the authority: sigstore-python refuses it too.
        let strangerRoot = try dir.write(
            "trust-no-tsa.json", SigstoreTrust.clientTrustConfig(fulcio: fulcio, rekor: rekor))
        let refused = try await Python.tool(
            "sigstore",
            [
                "--trust-config", strangerRoot.path, "verify", "identity", "--offline", "--bundle", bundle.path,
                "--cert-identity", identity, "--cert-oidc-issuer", issuer.url, payload.path,
            ])
        #expect(refused.status != 0)
    }

    @Test("Fulcio, Rekor v2 and a TSA from the signing config: both bundles verify with sigstore-python and with us")
    func signsWithRekorV2() async throws {
        let dir = try TemporaryDirectory()
        let stack = try await SigstoreStack(directory: dir, log: .v2, issuer: issuer)
        defer { Task { await stack.stop() } }
        let (rekor, tsaURL) = (try #require(stack.rekorV2), try #require(stack.tsaURL))
        let rootJSON = stack.trustedRootJSON
        let root = try dir.write("trusted_root.json", rootJSON)
        let signingConfigJSON = stack.signingConfigJSON
        var setup = LocalSetup(configFile: try config(dir), trustedRoot: root, bundleOut: dir.file("bundles"))
        setup.signingConfig = try dir.write("signing_config.json", signingConfigJSON)
        let run = await signRunFile(kaniko, setup: setup)
        #expect(run.exitCode == 0, "\(run.text)")
        #expect(run.text.contains("transparency log (ANY): \(rekor.url) (API v2, test)"), "\(run.text)")
        #expect(run.text.contains("raise it (64 workers cost 64 tasks, not threads)"), "\(run.text)")
        #expect(rekor.stats.created == 2 && rekor.entryCount == 2)
        let outcome = try #require(run.outcome)
        let annotation = try #require(outcome.annotations.all["chains.tekton.dev/transparency"])
        #expect(annotation.hasPrefix("\(rekor.url)?logIndex="), "\(annotation)")

        let trust = try dir.write("trust.json", stack.clientTrustConfigJSON)
        let trusted = try TrustedRoot(json: Data(rootJSON.utf8), source: "root")
        let authority = BundleAuthority.keyless(identity: .exact(identity), issuer: .exact(issuer.url))
        let bundles = try FileManager.default.contentsOfDirectory(
            at: dir.file("bundles"), includingPropertiesForKeys: nil)
        #expect(bundles.count == 2, "\(bundles)")
        for artifact in outcome.artifacts {
            let isImage = artifact.artifactType == .oci
            let bundleFile = try #require(
                bundles.first { $0.lastPathComponent.hasPrefix(isImage ? String(imageDigest.prefix(12)) : "taskrun") },
                "\(bundles)")
            let bundle = try Data(contentsOf: bundleFile)
            let entry = try #require(try ParsedBundle(bundle).entries.first)
            #expect(entry.kindVersion.kind == "hashedrekord" && entry.kindVersion.version == "0.0.2")
            #expect(try ParsedBundle(bundle).signedTimestamps.count == 1)
            // sigstore-python, offline: the image signature over its payload, the provenance by a subject.
            let subject: String
            if isImage {
                subject = try dir.write("simplesigning.json", data: artifact.payload).path
            } else {
                let statement = try JSONSerialization.jsonObject(with: artifact.payload) as? [String: Any]
                let digests = (statement?["subject"] as? [[String: Any]])?.first?["digest"] as? [String: String]
                subject = "sha256:" + (try #require(digests?["sha256"]))
            }
            let checked = try await Python.run(
                "sigstore_verify.py", [trust.path, bundleFile.path, identity, issuer.url, subject])
            #expect(checked.status == 0, "\(bundleFile.lastPathComponent): \(checked.stdout) \(checked.stderr)")
            let input: BundleArtifact =
                isImage ? .bytes(artifact.payload) : .sha256(Data(hex: String(subject.dropFirst(7)))!)
            let verified = try await BundleVerifier.verify(
                bundle, artifact: input, authority: authority, trustedRoot: trusted)
            #expect(!verified.timeFromLog && verified.timestampedBy == [tsaURL] && verified.logIndex >= 0)
        }
    }

    @Test(
        "two timestamp authorities (tsaConfig ALL): each timestamps every signature; both verified, by us and sigstore-python"
    )
    func twoTimestampAuthorities() async throws {
        let dir = try TemporaryDirectory()
        let fulcio = try await FulcioSimulator(issuers: [issuer])
        let rekor = try await RekorSimulator()
        let (tsaA, tsaB) = (
            try OpenSSLTimestampAuthority(directory: dir, name: "tsa-a"),
            try OpenSSLTimestampAuthority(directory: dir, name: "tsa-b")
        )
        let (serverA, serverB) = (try await tsaA.serve(), try await tsaB.serve())
        defer {
            Task {
                await fulcio.stop()
                await rekor.stop()
                await serverA.stop()
                await serverB.stop()
            }
        }
        let (urlA, urlB) = (
            "http://127.0.0.1:\(serverA.port)/api/v1/timestamp", "http://127.0.0.1:\(serverB.port)/api/v1/timestamp"
        )
        func root(_ authorities: [String]) -> String {
            fulcio.trustedRootJSON(tlogs: [rekor.trustedRootLog], timestampAuthorities: authorities)
        }
        let bothJSON = root([tsaA.trustedRootEntry(uri: urlA), tsaB.trustedRootEntry(uri: urlB)])
        let signingConfigJSON = SigstoreTrust.signingConfig(
            ca: [SigstoreTrust.service(fulcio.url, operator: "f")],
            tlogs: [SigstoreTrust.service(rekor.url, operator: "r")],
            tsas: [SigstoreTrust.service(urlA, operator: "a"), SigstoreTrust.service(urlB, operator: "b")],
            tsaSelector: "ALL")
        var setup = LocalSetup(
            configFile: try config(dir), trustedRoot: try dir.write("trusted_root.json", bothJSON),
            bundleOut: dir.file("bundles"))
        setup.signingConfig = try dir.write("signing_config.json", signingConfigJSON)
        let run = await signRunFile(kaniko, setup: setup)
        #expect(run.exitCode == 0, "\(run.text)")
        #expect(run.text.contains("timestamp authority (ALL): \(urlA)"), "\(run.text)")
        #expect(run.text.contains(urlB))
        let image = try #require(run.outcome?.artifacts.first { $0.artifactType == .oci })
        #expect(image.signed.timestamps.count == 2)
        let bundleFile = dir.file("bundles").appendingPathComponent("\(imageDigest.prefix(12)).sigstore.json")
        let bundle = try Data(contentsOf: bundleFile)
        #expect(try ParsedBundle(bundle).signedTimestamps.count == 2)
        let authority = BundleAuthority.keyless(identity: .exact(identity), issuer: .exact(issuer.url))
        let verified = try await BundleVerifier.verify(
            bundle, artifact: .bytes(image.payload), authority: authority,
            trustedRoot: try TrustedRoot(json: Data(bothJSON.utf8), source: "root"),
            thresholds: VerificationThresholds(logEntries: 1, signedTimestamps: 2))
        #expect(Set(verified.timestampedBy) == [urlA, urlB], "\(verified.timestampedBy)")
        // A root that knows only the first authority: the second's timestamp cannot be checked, so refused.
        await #expect(throws: CertificateCheckError.self) {
            _ = try await BundleVerifier.verify(
                bundle, artifact: .bytes(image.payload), authority: authority,
                trustedRoot: try TrustedRoot(json: Data(root([tsaA.trustedRootEntry(uri: urlA)]).utf8), source: "root"))
        }
        let trust = try dir.write(
            "trust.json", SigstoreTrust.clientTrustConfig(trustedRoot: bothJSON, signingConfig: signingConfigJSON))
        let payload = try dir.write("simplesigning.json", data: image.payload)
        let checked = try await Python.run(
            "sigstore_verify.py", [trust.path, bundleFile.path, identity, issuer.url, payload.path])
        #expect(checked.status == 0, "\(checked.stdout) \(checked.stderr)")
    }

    @Test(
        "two transparency logs (rekorTlogConfig ALL): every signature in both; bundles carry both entries; a log failing fails the run, retryable"
    )
    func twoTransparencyLogs() async throws {
        let dir = try TemporaryDirectory()
        let fulcio = try await FulcioSimulator(issuers: [issuer])
        let (first, second) = (try await RekorSimulator(), try await RekorSimulator())
        defer {
            Task {
                await fulcio.stop()
                await first.stop()
                await second.stop()
            }
        }
        let bothJSON = fulcio.trustedRootJSON(tlogs: [first.trustedRootLog, second.trustedRootLog])
        // transparency.url names the second: it is the first written to, whose entry the run's annotation names.
        let signingConfig = try dir.write(
            "signing_config.json",
            SigstoreTrust.signingConfig(
                ca: [SigstoreTrust.service(fulcio.url, operator: "f")],
                tlogs: [
                    SigstoreTrust.service(first.url, operator: "a"), SigstoreTrust.service(second.url, operator: "b"),
                ],
                tsas: [], tlogSelector: "ALL"))
        var setup = LocalSetup(
            configFile: try config(dir, extra: "transparency.url: \(second.url)"),
            trustedRoot: try dir.write("trusted_root.json", bothJSON), bundleOut: dir.file("bundles"))
        setup.signingConfig = signingConfig
        let run = await signRunFile(kaniko, setup: setup)
        #expect(run.exitCode == 0, "\(run.text)")
        #expect(run.text.contains("transparency log (ALL): "), "\(run.text)")
        #expect(first.stats.created == 2 && second.stats.created == 2, "\(first.stats) \(second.stats)")
        let outcome = try #require(run.outcome)
        #expect(outcome.annotations.all["chains.tekton.dev/transparency"]?.hasPrefix(second.url) == true)
        let image = try #require(outcome.artifacts.first { $0.artifactType == .oci })
        let bundle = try Data(
            contentsOf: dir.file("bundles").appendingPathComponent("\(imageDigest.prefix(12)).sigstore.json"))
        #expect(try ParsedBundle(bundle).entries.count == 2)
        let authority = BundleAuthority.keyless(identity: .exact(identity), issuer: .exact(issuer.url))
        let verified = try await BundleVerifier.verify(
            bundle, artifact: .bytes(image.payload), authority: authority,
            trustedRoot: try TrustedRoot(json: Data(bothJSON.utf8), source: "root"),
            thresholds: VerificationThresholds(logEntries: 2))
        #expect(verified.timeFromLog)
        // A root that trusts only one of the logs: the other's entry is not trusted, so the bundle is refused.
        let oneLog = try TrustedRoot(
            json: Data(fulcio.trustedRootJSON(tlogs: [first.trustedRootLog]).utf8), source: "root")
        await #expect(throws: CertificateCheckError.self) {
            _ = try await BundleVerifier.verify(
                bundle, artifact: .bytes(image.payload), authority: authority, trustedRoot: oneLog)
        }
        // One log answering 503 (past the transport's retries): the run fails retryable, naming that log.
        second.fail(status: 503, count: 100)
        let failed = await signRunFile(kaniko, setup: setup)
        #expect(failed.exitCode == 1, "\(failed.text)")
        #expect(failed.text.contains(second.url), "\(failed.text)")
    }

    @Test("no log, a timestamp: the keyless bundle carries no entry, and verifies by its RFC 3161 timestamp")
    func timestampWithoutLog() async throws {
        let dir = try TemporaryDirectory()
        let fulcio = try await FulcioSimulator(issuers: [issuer])
        let tsa = try OpenSSLTimestampAuthority(directory: dir)
        let tsaServer = try await tsa.serve()
        defer {
            Task {
                await fulcio.stop()
                await tsaServer.stop()
            }
        }
        let tsaURL = "http://127.0.0.1:\(tsaServer.port)/api/v1/timestamp"
        let rootJSON = SigstoreTrust.trustedRoot(fulcio: fulcio, rekor: nil, timestampAuthority: (tsa, url: tsaURL))
        let root = try dir.write("trusted_root.json", rootJSON)
        var setup = LocalSetup(
            configFile: try config(dir, transparency: false), trustedRoot: root, bundleOut: dir.file("bundles"))
        setup.signingConfig = try dir.write(
            "signing_config.json", SigstoreTrust.signingConfig(fulcio: fulcio.url, rekor: nil, tsa: tsaURL))
        let run = await signRunFile(kaniko, setup: setup)
        #expect(run.exitCode == 0, "\(run.text)")
        let image = try #require(run.outcome?.artifacts.first { $0.artifactType == .oci })
        let bundle = try Data(
            contentsOf: dir.file("bundles").appendingPathComponent("\(imageDigest.prefix(12)).sigstore.json"))
        #expect(try ParsedBundle(bundle).entries.isEmpty)
        let trusted = try TrustedRoot(json: Data(rootJSON.utf8), source: "root")
        let authority = BundleAuthority.keyless(identity: .exact(identity), issuer: .exact(issuer.url))
        // By default a log entry is required, as cosign, sigstore-go and sigstore-python require one: refused,
        // naming the flag that accepts it.
        do {
            _ = try await BundleVerifier.verify(
                bundle, artifact: .bytes(image.payload), authority: authority, trustedRoot: trusted)
            Issue.record("a bundle with no log entry verified under the default thresholds")
        } catch {
            #expect(
                error.description.contains("carries 0 verified log entries, and 1 is required (--tlog-threshold"),
                "\(error)")
        }
        // sigstore-python's own checks, those that need no log entry (its Bundle type requires one): timestamp,
        // chain at the timestamp's time, identity, signature. Refused for another identity and without the authority.
        let payload = try dir.write("simplesigning.json", data: image.payload)
        let bundleFile = dir.file("bundles").appendingPathComponent("\(imageDigest.prefix(12)).sigstore.json")
        // sigstore-python's Verifier will not start without a log in its root: one no entry names.
        let unusedLog = TrustedRootLog.json(
            url: "https://unused.example", publicKeyDER: P256.Signing.PrivateKey().publicKey.derRepresentation)
        func trust(_ name: String, authority: Bool) throws -> URL {
            try dir.write(
                name,
                SigstoreTrust.clientTrustConfig(
                    trustedRoot: SigstoreTrust.trustedRoot(
                        fulcio: fulcio, tlogs: [unusedLog], timestampAuthority: authority ? (tsa, url: tsaURL) : nil),
                    signingConfig: SigstoreTrust.signingConfig(fulcio: fulcio.url, rekor: nil, tsa: tsaURL)))
        }
        let withAuthority = try trust("trust.json", authority: true)
        let withoutAuthority = try trust("stranger.json", authority: false)
        for (who, root, passes) in [
            (identity, withAuthority, true), (identity + "x", withAuthority, false),
            (identity, withoutAuthority, false),
        ] {
            let checked = try await Python.run(
                "tsa_only_verify.py", [root.path, bundleFile.path, who, issuer.url, payload.path])
            #expect((checked.status == 0) == passes, "\(who): \(checked.stdout) \(checked.stderr)")
            #expect(passes || checked.stderr.hasPrefix("FAIL:"), "\(checked.stderr)")
        }
        let noLog = VerificationThresholds(logEntries: 0)
        let verified = try await BundleVerifier.verify(
            bundle, artifact: .bytes(image.payload), authority: authority, trustedRoot: trusted, thresholds: noLog)
        #expect(verified.logIndex == -1 && verified.timestampedBy == [tsaURL], "\(verified)")
        #expect(abs(verified.integratedTime.timeIntervalSinceNow) < 120)
        // Two timestamps asked for, one carried: refused.
        await #expect(throws: CertificateCheckError.self) {
            _ = try await BundleVerifier.verify(
                bundle, artifact: .bytes(image.payload), authority: authority, trustedRoot: trusted,
                thresholds: VerificationThresholds(logEntries: 0, signedTimestamps: 2))
        }
        // Another identity, or a root without the authority: refused.
        await #expect(throws: CertificateCheckError.self) {
            _ = try await BundleVerifier.verify(
                bundle, artifact: .bytes(image.payload),
                authority: .keyless(identity: .exact(identity + "x"), issuer: .exact(issuer.url)), trustedRoot: trusted,
                thresholds: noLog)
        }
        let noAuthority = try TrustedRoot(
            json: Data(SigstoreTrust.trustedRoot(fulcio: fulcio, rekor: nil).utf8), source: "root")
        await #expect(throws: CertificateCheckError.self) {
            _ = try await BundleVerifier.verify(
                bundle, artifact: .bytes(image.payload), authority: authority, trustedRoot: noAuthority,
                thresholds: noLog)
        }
    }

    @Test(
        "refused, naming why: an address that disagrees, a root without the TSA, Rekor v2 outside the root or without a TSA",
        arguments: ["fulcio-disagrees", "root-without-tsa", "rekor-v2-not-in-root", "rekor-v2-without-tsa"])
    func refusals(case name: String) async throws {
        let dir = try TemporaryDirectory()
        let fulcio = try await FulcioSimulator(issuers: [issuer])
        let rekor = try await RekorSimulator()
        let tsa = try OpenSSLTimestampAuthority(directory: dir)
        defer {
            Task {
                await fulcio.stop()
                await rekor.stop()
            }
        }
        let tsaURL = "http://127.0.0.1:1/api/v1/timestamp"
        let withTSA = name == "root-without-tsa" ? nil : (tsa, url: tsaURL)
        let root = try dir.write(
            "trusted_root.json", SigstoreTrust.trustedRoot(fulcio: fulcio, rekor: rekor, timestampAuthority: withTSA))
        let v2 = name.hasPrefix("rekor-v2")
        let v2URL = "http://127.0.0.1:2"
        let signingConfig = try dir.write(
            "signing_config.json",
            SigstoreTrust.signingConfig(
                fulcio: fulcio.url, rekor: name == "rekor-v2-not-in-root" ? v2URL : rekor.url,
                tsa: name == "rekor-v2-without-tsa" ? nil : tsaURL, rekorVersion: v2 ? 2 : 1))
        let extra = name == "fulcio-disagrees" ? "signers.x509.fulcio.address: https://fulcio.elsewhere.example" : ""
        var setup = LocalSetup(configFile: try config(dir, extra: extra), trustedRoot: root)
        setup.signingConfig = signingConfig
        let run = await signRunFile(kaniko, setup: setup)
        #expect(run.exitCode == 2, "\(run.text)")
        let expected: String
        switch name {
        case "fulcio-disagrees":
            expected =
                "signers.x509.fulcio.address is https://fulcio.elsewhere.example but the signing config "
                + "\(signingConfig.path) chooses \(fulcio.url)"
        case "root-without-tsa":
            expected = "the signing config names timestamp authority \(tsaURL), and the trusted root"
        case "rekor-v2-not-in-root":
            expected = "Rekor v2 log \(v2URL) is not in the trusted root (file \(root.path))"
        default:
            expected =
                "the signing config chooses Rekor v2 log \(rekor.url), whose entries carry no time, and lists no "
                + "timestamp authority"
        }
        #expect(run.text.contains(expected), "\(run.text)")
        #expect(rekor.stats.created == 0 && fulcio.stats.v1 + fulcio.stats.v2 == 0)
    }
}
