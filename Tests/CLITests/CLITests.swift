import ChainsTesting
import Foundation
import HTTPTransport
import KubeModels
import Signing
import Sigstore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The `chains` executable as users run it: exit codes, stdout carrying only the document, summaries on stderr,
/// and no secret in any output.
@Suite("chains command line", .serialized)
struct CLITests {
    static func binary() throws -> String {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [here, here.deletingLastPathComponent(), PackagePaths.root.appendingPathComponent(".build/debug")] {
            let candidate = dir.appendingPathComponent("chains").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw MissingTool(
            description: "the chains executable is not built; run scripts/test.sh (it runs swift build first)")
    }

    func chains(_ args: [String], env: [String: String] = [:]) async throws -> ProcessResult {
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        return try await runProcess(try Self.binary(), args, environment: environment)
    }

    @Test("sign prints the signed run on stdout and the summary on stderr; exit 0")
    func signExample() async throws {
        let dir = try TemporaryDirectory()
        let r = try await chains(
            ["sign", PackagePaths.example("taskrun-kaniko.yaml").path], env: ["CHAINS_SIGNING_SECRETS": dir.url.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("apiVersion: tekton.dev/v1"))
        #expect(r.stdout.contains("chains.tekton.dev/signed: \"true\""))
        #expect(r.stderr.contains("created a new ECDSA P-256 signing key"))
        #expect(r.stderr.contains("marked chains.tekton.dev/signed=true"))
        #expect(!r.stdout.contains("found TaskRun"))
        let key = try String(contentsOf: dir.file("x509.pem"), encoding: .utf8)
        let body = key.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        #expect(!(r.stdout + r.stderr).contains(String(body.prefix(40))))
    }

    @Test("the summary, rendered from the typed report: found, key, signed, subjects, mark; skips say why")
    func summary() async throws {
        let dir = try TemporaryDirectory()
        let kaniko = PackagePaths.example("taskrun-kaniko.yaml").path
        let first = try await chains([
            "sign", kaniko, "--signing-secrets", dir.url.path, "--output", dir.file("s.yaml").path,
        ])
        #expect(first.status == 1, "no key in an explicit directory is a signing failure: \(first.stderr)")
        #expect(first.stderr.contains("signing [tekton TaskRun team-a/build-app-kaniko-x7k2p]: \(dir.url.path)"))
        #expect(first.stderr.contains("signing failed; recorded chains.tekton.dev/retries=0 on the run"))
        _ = try await chains(["keys", "generate", "--dir", dir.url.path])
        let signed = try await chains([
            "sign", kaniko, "--signing-secrets", dir.url.path, "--output", dir.file("s.yaml").path,
        ])
        #expect(signed.status == 0, "\(signed.stderr)")
        let lines = signed.stderr.split(separator: "\n").map(String.init)
        #expect(lines.first == "found TaskRun team-a/build-app-kaniko-x7k2p (uid 4b1c7d2e-6f3a-4c8b-9e21-5a7d3c9b0f11)")
        #expect(lines.contains { $0.hasPrefix("key: ECDSA P-256 from \(dir.url.path)/x509.pem, key id SHA256:") })
        #expect(lines.contains("signed tekton TaskRun team-a/build-app-kaniko-x7k2p as in-toto → tekton"))
        #expect(lines.contains { $0.hasPrefix("  subject registry.example.com/team-a/app@sha256:c6cad725") })
        #expect(lines.last == "marked chains.tekton.dev/signed=true; wrote \(dir.file("s.yaml").path)")
        let again = try await chains(["sign", dir.file("s.yaml").path, "--signing-secrets", dir.url.path])
        #expect(again.status == 0 && again.stdout.isEmpty)
        #expect(again.stderr.contains("is already marked chains.tekton.dev/signed=true; nothing to do (use --force"))
        let pr = try await chains([
            "sign", PackagePaths.example("pipelinerun-git-build.yaml").path, "--signing-secrets", dir.url.path,
            "--config", PackagePaths.example("chains-config.yaml").path,
        ])
        #expect(pr.status == 1)
        #expect(
            pr.stderr.contains(
                "child TaskRuns not found among --objects: app-ci-4mz8w-fetch-source, app-ci-4mz8w-build"))
        // A Rekor nobody answers at: signed and written, the log failure retryable, the retry recorded.
        let rekor = try dir.write(
            "rekor.yaml",
            "transparency.enabled: \"true\"\ntransparency.url: http://127.0.0.1:1\nartifacts.oci.storage: tekton\n")
        let unlogged = try await chains([
            "sign", kaniko, "--signing-secrets", dir.url.path, "--config", rekor.path, "--run-timeout", "5s",
        ])
        #expect(unlogged.status == 1 && unlogged.stdout.contains("chains.tekton.dev/signature-taskrun-"))
        #expect(unlogged.stderr.contains("error: tlog [tekton"), "\(unlogged.stderr)")
        #expect(unlogged.stderr.contains("(retryable: the peer may recover; run chains sign again)"))
        #expect(unlogged.stderr.contains("recorded chains.tekton.dev/retries=0 on the run"))
        let badFlag = try await chains(["sign", kaniko, "--run-timeout", "soon"])
        #expect(badFlag.status == 2 && badFlag.stderr.contains("--run-timeout takes a positive duration"))
    }

    @Test("several runs: --output-dir required, one file each, one Fulcio certificate for all when keyless")
    func severalRuns() async throws {
        let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
        let fulcio = try await FulcioSimulator(issuers: [issuer])
        defer { Task { await fulcio.stop() } }
        let dir = try TemporaryDirectory()
        let kaniko = PackagePaths.example("taskrun-kaniko.yaml").path
        let other = try dir.write(
            "in/other.yaml",
            try String(contentsOfFile: kaniko, encoding: .utf8).replacingOccurrences(
                of: "4b1c7d2e-6f3a-4c8b-9e21-5a7d3c9b0f11", with: "5c2d8e3f-7a4b-4d9c-8f32-6b8e4d0a1f22"))
        let noDir = try await chains(["sign", kaniko, other.path])
        #expect(noDir.status == 2 && noDir.stderr.contains("several runs are written with --output-dir DIR"))
        let same = try await chains(["sign", kaniko, kaniko, "--output-dir", dir.file("out").path])
        #expect(same.status == 2 && same.stderr.contains("would both be written as taskrun-kaniko.yaml"))
        try dir.write("token", issuer.token(subject: "system:serviceaccount:tekton-chains:tekton-chains-controller"))
        let cm = try dir.write(
            "cm.yaml",
            "signers.x509.fulcio.enabled: \"true\"\nsigners.x509.fulcio.address: \(fulcio.url)\n"
                + "signers.x509.identity.token.file: \(dir.file("token").path)\nartifacts.oci.storage: tekton\n"
                + "signers.x509.fulcio.issuer: https://oauth2.example.com/auth\n")
        let both = try await chains([
            "sign", kaniko, other.path, "--config", cm.path, "--output-dir", dir.file("out").path,
        ])
        #expect(both.status == 0, "\(both.stderr)")
        #expect(both.stdout.isEmpty)
        for name in ["taskrun-kaniko.yaml", "other.yaml"] {
            let text = try String(contentsOf: dir.file("out/\(name)"), encoding: .utf8)
            #expect(text.contains("chains.tekton.dev/signed: \"true\""))
        }
        #expect(both.stderr.contains("keyless: 1 Fulcio certificate(s) for 2 run(s)"))
        #expect(both.stderr.contains("signed 2 of 2 runs"))
        #expect(
            both.stderr.contains(
                "warning: the identity token (filesystem \(dir.file("token").path)) is from https://oidc.example.com/cluster, not signers.x509.fulcio.issuer https://oauth2.example.com/auth"
            ))
        #expect(
            both.stderr.contains(
                "key: ECDSA P-256 from a Fulcio certificate for https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller"
            ))
        #expect(fulcio.stats.v2 == 1)
    }

    @Test(
        "keyless with SPIFFE: SPIFFE_ENDPOINT_SOCKET as Chains' docs write it, a JWT-SVID, a certificate for the SPIFFE ID"
    )
    func keylessSPIFFE() async throws {
        let spire = TestOIDCIssuer(url: "https://spire.example.org", kind: .spiffe)
        let id = "spiffe://example.org/ns/tekton-chains/sa/tekton-chains-controller"
        let agent = try await SPIFFEAgent(token: spire.token(subject: id))
        defer { agent.stop() }
        let fulcio = try await FulcioSimulator(issuers: [spire])
        defer { Task { await fulcio.stop() } }
        let dir = try TemporaryDirectory()
        let cm = try dir.write(
            "cm.yaml",
            "signers.x509.fulcio.enabled: \"true\"\nsigners.x509.fulcio.address: \(fulcio.url)\n"
                + "signers.x509.fulcio.provider: spiffe\nartifacts.oci.storage: tekton\n")
        let r = try await chains(
            ["sign", PackagePaths.example("taskrun-kaniko.yaml").path, "--config", cm.path],
            env: ["SPIFFE_ENDPOINT_SOCKET": agent.socket])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("key: ECDSA P-256 from a Fulcio certificate for \(id)"))
        #expect(r.stderr.contains("(token: spiffe unix://\(agent.socket))"))
        #expect(agent.log.contains("header=true"))
        let svid = try String(contentsOf: agent.directory.file("svid.jwt"), encoding: .utf8)
        #expect(!(r.stderr + r.stdout).contains(svid.split(separator: ".")[2]))
    }

    @Test("exit codes: 1 for a run that is not finished, 2 for bad input or bad usage")
    func exitCodes() async throws {
        let dir = try TemporaryDirectory()
        let running = try dir.write(
            "running.yaml",
            try String(contentsOf: PackagePaths.example("taskrun-kaniko.yaml"), encoding: .utf8)
                .replacingOccurrences(of: "status: \"True\"", with: "status: Unknown"))
        let notDone = try await chains(["sign", running.path, "--signing-secrets", dir.url.path])
        #expect(notDone.status == 1)
        #expect(notDone.stdout.isEmpty)
        let badConfig = try dir.write("cm.yaml", "transparency.enabled: \"on\"\n")
        let bad = try await chains(["config", "check", badConfig.path])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("transparency.enabled: invalid value \"on\""))
        // config check with a signing config (sigstore's staging one): what it chooses now and what it leaves out.
        let staging = PackagePaths.root.appendingPathComponent(
            "Tests/SigstoreTests/SigningConfigs/staging.signing_config.v0.2.json")
        let keyless = try dir.write(
            "keyless.yaml", "signers.x509.fulcio.enabled: \"true\"\ntransparency.enabled: \"true\"\n")
        let chosen = try await chains(["config", "check", keyless.path, "--signing-config", staging.path])
        #expect(chosen.status == 0, "\(chosen.stderr)")
        for line in [
            "Fulcio CA (ANY): https://fulcio.sigstage.dev (API v1, sigstore.dev)",
            "transparency log (ANY): https://log2025-alpha3.rekor.sigstage.dev (API v2, sigstore.dev)",
            "https://rekor.sigstage.dev: API v2 is preferred",
            "timestamp authority (ANY): https://timestamp.sigstage.dev/api/v1/timestamp",
        ] {
            #expect(chosen.stderr.contains(line), "\(line)\n\(chosen.stderr)")
        }
        let conflicting = try dir.write(
            "conflict.yaml", "transparency.enabled: \"true\"\ntransparency.url: https://rekor.example.com\n")
        let refused = try await chains(["config", "check", conflicting.path, "--signing-config", staging.path])
        #expect(refused.status == 2)
        #expect(
            refused.stderr.contains(
                "transparency.url is https://rekor.example.com but the signing config \(staging.path) chooses "
                    + "https://log2025-alpha3.rekor.sigstage.dev"), "\(refused.stderr)")
        let usage = try await chains(["sign"])
        #expect(usage.status == 2)
        // The controller's flags and leader-election settings are checked before it connects anywhere.
        let address = try await chains(["controller", "--metrics-address", "nowhere"])
        #expect(address.status == 2 && address.stderr.contains("--metrics-address: \"nowhere\" is not HOST:PORT"))
        let lease = try await chains(["controller", "--lease-duration", "soon"])
        #expect(lease.status == 2 && lease.stderr.contains("--lease-duration"), "\(lease.stderr)")
        let format = try await chains(["controller", "--log-format", "xml"])
        #expect(format.status == 2 && format.stderr.contains("--log-format"))
        // --resolve takes a numeric address, on both front doors.
        for command in [["sign", running.path], ["controller"]] {
            let pin = try await chains(command + ["--resolve", "registry.example.com:443=registry.internal"])
            #expect(
                pin.status == 2
                    && pin.stderr.contains(
                        "--resolve takes HOST:PORT=ADDRESS with a numeric address (as curl's), got \"registry.example.com:443=registry.internal\""
                    ),
                "\(pin.stderr)")
        }
        #expect(usage.stderr.contains("Missing expected argument '<run>'"))
    }

    /// `team-a/app:v1` pushed to `reg`, and a finished TaskRun that built it, written as `run.yaml` in `dir`.
    /// `imageAndRun`, with the run's ServiceAccount holding a push credential for the registry (`--objects
    /// objects`) and a read-only docker config (`--docker-config docker`) for verifying.
    func imageAndPushingRun(_ reg: TokenRegistry, _ dir: TemporaryDirectory) async throws -> (String, String, URL) {
        let made = try await imageAndRun(reg, dir)
        try dir.write("objects/sa.yaml", RunFixtures.serviceAccount(secrets: ["push-creds"]))
        try dir.write(
            "objects/b.yaml",
            RunFixtures.dockerConfigSecret(
                name: "push-creds", registry: reg.address, username: "chains", password: "s3cret-push"))
        try dir.write(
            "docker/config.json",
            #"{"auths":{"\#(reg.address)":{"auth":"\#(Data("reader:r3ad-only".utf8).base64EncodedString())"}}}"#)
        return made
    }

    func imageAndRun(_ reg: TokenRegistry, _ dir: TemporaryDirectory) async throws -> (String, String, URL) {
        let transport = try ChainsTestingHTTP.transport()
        let digest = try await pushTestImage(
            transport: transport, registry: reg.address, repository: "team-a/app", tag: "v1",
            authorization: try await directToken(reg, repository: "team-a/app"))
        try await transport.shutdown()
        let image = "\(reg.address)/team-a/app"
        return (image, digest, try dir.write("run.yaml", RunFixtures.taskRun(image: image, digest: digest)))
    }

    @Test(
        "against a registry: sign pushes, verify and verify-attestation pass with the key and fail with another; auth explain; no secret printed"
    )
    func registryRoundTrip() async throws {
        let reg = try await TokenRegistry()
        defer { Task { await reg.stop() } }
        let dir = try TemporaryDirectory()
        let (image, digest, run) = try await imageAndRun(reg, dir)
        try dir.write(
            "objects/sa.yaml", RunFixtures.serviceAccount(secrets: ["desktop-store", "pull-only", "push-creds"]))
        // The seed's trap: a Secret made from a docker config whose credentials are in Docker Desktop's store.
        let stored = #"{"auths":{"\#(reg.address)":{}},"credsStore":"desktop"}"#
        try dir.write(
            "objects/c.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: desktop-store, namespace: team-a}\n"
                + "type: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: "
                + Data(stored.utf8).base64EncodedString() + "\n")
        try dir.write(
            "objects/a.yaml",
            RunFixtures.dockerConfigSecret(
                name: "pull-only", registry: reg.address, username: "reader", password: "r3ad-only"))
        try dir.write(
            "objects/b.yaml",
            RunFixtures.dockerConfigSecret(
                name: "push-creds", registry: reg.address, username: "chains", password: "s3cret-push"))
        try dir.write("config.yaml", RunFixtures.ociConfig)
        try dir.write(
            "docker/config.json",
            #"{"auths":{"\#(reg.address)":{"auth":"\#(Data("reader:r3ad-only".utf8).base64EncodedString())"}}}"#)
        let secrets = dir.file("secrets").path
        _ = try await chains(["keys", "generate", "--dir", secrets])
        var outputs: [ProcessResult] = []

        let sign = try await chains([
            "sign", run.path, "--config", dir.file("config.yaml").path, "--objects", dir.file("objects").path,
            "--signing-secrets", secrets, "--docker-config", dir.file("no-docker").path, "--output",
            dir.file("signed.yaml").path,
        ])
        outputs.append(sign)
        #expect(sign.status == 0, "\(sign.stderr)")
        #expect(sign.stderr.contains(".sig: pushed"))
        #expect(
            sign.stderr.contains(
                "warning: credentials: Secret team-a/desktop-store .dockerconfigjson: names a credential store"),
            "\(sign.stderr)")

        let ref = "\(image)@\(digest)"
        let verify = try await chains([
            "verify", ref, "--key", "\(secrets)/x509.pub", "--docker-config", dir.file("docker").path,
        ])
        outputs.append(verify)
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stdout.contains("\"docker-manifest-digest\":\"\(digest)\""))
        #expect(verify.stderr.contains("✓"))

        let att = try await chains([
            "verify-attestation", "\(image):v1", "--key", "\(secrets)/x509.pub", "--type", "slsaprovenance",
            "--docker-config", dir.file("docker").path,
        ])
        outputs.append(att)
        #expect(att.status == 0, "\(att.stderr)")
        #expect(att.stdout.contains("https://slsa.dev/provenance/v0.2"))

        let otherKey = dir.file("other")
        _ = try await chains(["keys", "generate", "--dir", otherKey.path])
        let wrong = try await chains([
            "verify", ref, "--key", otherKey.appendingPathComponent("x509.pub").path, "--docker-config",
            dir.file("docker").path,
        ])
        outputs.append(wrong)
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("does not verify"))
        // Signed with no log: asking for a log entry refuses it, naming the flag.
        let unlogged = try await chains([
            "verify", ref, "--key", "\(secrets)/x509.pub", "--docker-config", dir.file("docker").path,
            "--tlog-threshold", "1",
        ])
        #expect(
            unlogged.status == 1 && unlogged.stderr.contains("and --tlog-threshold asks for one"), "\(unlogged.stderr)")

        let explain = try await chains([
            "auth", "explain", image, "--run", run.path, "--objects", dir.file("objects").path, "--docker-config",
            dir.file("docker").path, "--check-push",
        ])
        outputs.append(explain)
        #expect(explain.status == 0, "\(explain.stderr)")
        #expect(explain.stdout.contains("2. user chains — secret team-a/push-creds"))
        #expect(explain.stdout.contains("→ pushes would use #2"))
        #expect(explain.stdout.contains("why here: source 1 (ServiceAccount secrets)"), "\(explain.stdout)")
        #expect(
            explain.stdout.contains(
                "warning: Secret team-a/desktop-store .dockerconfigjson: entry \"\(reg.address)\" holds no credential"),
            "\(explain.stdout)")

        for output in outputs {
            for secret in [
                "s3cret-push", "r3ad-only", Data("reader:r3ad-only".utf8).base64EncodedString(),
                Data("chains:s3cret-push".utf8).base64EncodedString(),
            ] {
                #expect(
                    !output.stdout.contains(secret) && !output.stderr.contains(secret), "a secret appeared in output")
            }
        }
    }

    @Test("a key and a log: --tlog-threshold checks the layers' and the run's entries with the trusted root")
    func keyThresholds() async throws {
        let rekor = try await RekorSimulator()
        let other = try await RekorSimulator()
        let reg = try await TokenRegistry()
        defer {
            Task {
                await rekor.stop()
                await other.stop()
                await reg.stop()
            }
        }
        let dir = try TemporaryDirectory()
        let (image, digest, run) = try await imageAndPushingRun(reg, dir)
        let root = try dir.write("trusted_root.json", SigstoreTrust.trustedRoot(tlogs: [rekor.trustedRootLog]))
        let stranger = try dir.write("stranger.json", SigstoreTrust.trustedRoot(tlogs: [other.trustedRootLog]))
        let cm = try dir.write(
            "cm.yaml", RunFixtures.ociConfig + "  transparency.enabled: \"true\"\n  transparency.url: \(rekor.url)\n")
        let secrets = dir.file("secrets").path
        _ = try await chains(["keys", "generate", "--dir", secrets])
        let sign = try await chains([
            "sign", run.path, "--config", cm.path, "--objects", dir.file("objects").path, "--signing-secrets", secrets,
            "--docker-config", dir.file("no-docker").path, "--output", dir.file("signed.yaml").path,
        ])
        #expect(sign.status == 0, "\(sign.stderr)")
        let key = ["--key", "\(secrets)/x509.pub", "--docker-config", dir.file("docker").path]
        let ref = "\(image)@\(digest)"
        for command in [["verify", ref], ["verify-attestation", ref, "--type", "slsaprovenance"]] {
            let plain = try await chains(command + key)
            #expect(plain.status == 0, "\(command[0]): \(plain.stderr)")
            let logged = try await chains(command + key + ["--tlog-threshold", "1", "--trusted-root", root.path])
            #expect(logged.status == 0, "\(command[0]): \(logged.stderr)")
            let noRoot = try await chains(command + key + ["--tlog-threshold", "1"])
            #expect(noRoot.status == 1 && noRoot.stderr.contains("give --trusted-root"), "\(noRoot.stderr)")
            let foreign = try await chains(command + key + ["--tlog-threshold", "1", "--trusted-root", stranger.path])
            #expect(foreign.status == 1 && foreign.stderr.contains("which is not a trusted log"), "\(foreign.stderr)")
            let stamps = try await chains(command + key + ["--timestamp-threshold", "1"])
            #expect(
                stamps.status == 1 && stamps.stderr.contains("--timestamp-threshold 1 cannot be met"),
                "\(stamps.stderr)")
        }
        // verify-run: the run's log entry records its provenance's signature by this key.
        let runKey = ["verify-run", dir.file("signed.yaml").path, "--key", "\(secrets)/x509.pub"]
        let checked = try await chains(runKey + ["--tlog-threshold", "1", "--trusted-root", root.path])
        #expect(checked.status == 0 && checked.stderr.contains("logged at"), "\(checked.stderr)")
        let runNoRoot = try await chains(runKey + ["--tlog-threshold", "1"])
        #expect(runNoRoot.status == 1 && runNoRoot.stderr.contains("give --trusted-root"), "\(runNoRoot.stderr)")
        let runForeign = try await chains(runKey + ["--tlog-threshold", "1", "--trusted-root", stranger.path])
        #expect(
            runForeign.status == 1 && runForeign.stderr.contains("which is not a trusted log"), "\(runForeign.stderr)")
        let stamped = try await chains(runKey + ["--timestamp-threshold", "1"])
        #expect(
            stamped.status == 1
                && stamped.stderr.contains(
                    "the run carries 0 verified RFC 3161 timestamp(s) for this signature, and 1 required")
        )
        // The run's entry swapped for another entry of the log (the image signature's): refused.
        let text = try String(contentsOf: dir.file("signed.yaml"), encoding: .utf8)
        #expect(rekor.stats.created == 2)
        let own = text.contains("log/entries?logIndex=1") ? 1 : 0
        #expect(text.contains("log/entries?logIndex=\(own)"), "\(text)")
        let swapped = try dir.write(
            "swapped.yaml",
            text.replacingOccurrences(of: "log/entries?logIndex=\(own)", with: "log/entries?logIndex=\(1 - own)"))
        let mismatch = try await chains(["verify-run", swapped.path, "--key", "\(secrets)/x509.pub"])
        #expect(
            mismatch.status == 1 && mismatch.stderr.contains("does not record this signature and key"),
            "\(mismatch.stderr)")
    }

    @Test(
        "keyless and logged, as the issue's user runs it: sign with --trusted-root and --bundle-out, then verify and verify-attestation by identity"
    )
    func keylessVerifyByIdentity() async throws {
        let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
        let fulcio = try await FulcioSimulator(issuers: [issuer])
        let rekor = try await RekorSimulator()
        let reg = try await TokenRegistry()
        defer {
            Task {
                await fulcio.stop()
                await rekor.stop()
                await reg.stop()
            }
        }
        let dir = try TemporaryDirectory()
        let (image, digest, run) = try await imageAndPushingRun(reg, dir)
        try dir.write("token", issuer.token(subject: "system:serviceaccount:tekton-chains:tekton-chains-controller"))
        let root = try dir.write("trusted_root.json", SigstoreTrust.trustedRoot(fulcio: fulcio, rekor: rekor))
        let cm = try dir.write(
            "cm.yaml",
            RunFixtures.ociConfig
                + "  signers.x509.fulcio.enabled: \"true\"\n  signers.x509.fulcio.address: \(fulcio.url)\n"
                + "  signers.x509.identity.token.file: \(dir.file("token").path)\n"
                + "  transparency.enabled: \"true\"\n  transparency.url: \(rekor.url)\n")
        let sign = try await chains([
            "sign", run.path, "--config", cm.path, "--objects", dir.file("objects").path, "--docker-config",
            dir.file("no-docker").path, "--trusted-root", root.path, "--bundle-out", dir.file("bundles").path,
            "--output", dir.file("signed.yaml").path,
        ])
        #expect(sign.status == 0, "\(sign.stderr)")
        #expect(sign.stderr.contains("  logged: \(rekor.url)/api/v1/log/entries?logIndex="))
        #expect(sign.stderr.contains("checked with the trusted root's key for this log"))
        #expect(sign.stderr.contains("bundle: \(dir.file("bundles").path)/taskrun-"))
        let signed = try String(contentsOf: dir.file("signed.yaml"), encoding: .utf8)
        #expect(signed.contains("chains.tekton.dev/transparency: \(rekor.url)/api/v1/log/entries?logIndex="))

        let sa = "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller"
        let common = ["--trusted-root", root.path, "--docker-config", dir.file("docker").path]
        let verify = try await chains(
            ["verify", "\(image)@\(digest)", "--certificate-identity", sa, "--certificate-oidc-issuer", issuer.url]
                + common)
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stderr.contains("with keyless identity \(sa), issuer \(issuer.url)"))
        #expect(verify.stderr.contains("signed by \(sa) (\(issuer.url)), logged at"))
        let att = try await chains(
            [
                "verify-attestation", "\(image):v1", "--type", "slsaprovenance", "--certificate-identity-regexp",
                "^https://kubernetes.io/namespaces/tekton-chains/", "--certificate-oidc-issuer", issuer.url,
            ] + common)
        #expect(att.status == 0, "\(att.stderr)")
        #expect(att.stdout.contains("https://slsa.dev/provenance/v0.2"))
        let stranger = try await chains(
            [
                "verify", "\(image)@\(digest)", "--certificate-identity", sa + "-x", "--certificate-oidc-issuer",
                issuer.url,
            ] + common)
        #expect(stranger.status == 1 && stranger.stderr.contains("does not match"), "\(stranger.stderr)")
        let noRoot = try await chains(
            ["verify", "\(image)@\(digest)", "--certificate-identity", sa, "--certificate-oidc-issuer", issuer.url])
        #expect(noRoot.status == 2)
        #expect(noRoot.stderr.contains("keyless verification needs --trusted-root FILE"))
        let mixed = try await chains(["verify", "\(image)@\(digest)", "--key", root.path, "--certificate-identity", sa])
        #expect(mixed.stderr.contains("the --certificate-* options are for keyless"))

        // The bundles --bundle-out wrote, verified as files: the provenance's for the image digest (a subject).
        let bundles = try FileManager.default.contentsOfDirectory(atPath: dir.file("bundles").path)
        let provenance = try #require(bundles.first { $0.hasPrefix("taskrun-") })
        let blob = try await chains(
            [
                "verify-blob", digest, "--bundle", dir.file("bundles/\(provenance)").path, "--certificate-identity", sa,
                "--certificate-oidc-issuer", issuer.url, "--trusted-root", root.path,
            ])
        #expect(blob.status == 0, "\(blob.stderr)")
        #expect(blob.stdout.contains("https://slsa.dev/provenance/v0.2") && blob.stderr.contains("signed by \(sa)"))
        let otherDigest = try await chains(
            [
                "verify-blob", "sha256:" + String(repeating: "0", count: 64), "--bundle",
                dir.file("bundles/\(provenance)").path, "--certificate-identity", sa, "--certificate-oidc-issuer",
                issuer.url, "--trusted-root", root.path,
            ])
        #expect(otherDigest.status == 1 && otherDigest.stderr.contains("no subject with the artifact's digest"))

        // verify-run: the signed run's annotations, the certificate judged at the time of the run's log entry.
        let run1 = try await chains(
            [
                "verify-run", dir.file("signed.yaml").path, "--certificate-identity", sa, "--certificate-oidc-issuer",
                issuer.url, "--trusted-root", root.path,
            ])
        #expect(run1.status == 0, "\(run1.stderr)")
        #expect(run1.stderr.contains("✓ chains.tekton.dev/signature-taskrun-"))
        let text = try String(contentsOf: dir.file("signed.yaml"), encoding: .utf8)
        let payloadLine = try #require(
            text.split(separator: "\n").first { $0.contains("chains.tekton.dev/payload-taskrun-") })
        let forged = text.replacingOccurrences(
            of: String(payloadLine),
            with: String(payloadLine.prefix { $0 != ":" }) + ": " + Data("{}".utf8).base64EncodedString())
        let forgedFile = try dir.write("forged.yaml", forged)
        let run2 = try await chains(
            [
                "verify-run", forgedFile.path, "--certificate-identity", sa, "--certificate-oidc-issuer", issuer.url,
                "--trusted-root", root.path,
            ])
        #expect(
            run2.status == 1 && run2.stderr.contains("the envelope's payload is not the stored payload"),
            "\(run2.stderr)")
    }

    @Test(
        "TUF: chains trusted-root fetches a python-tuf repository's target; chains sign takes its trust from the mirror"
    )
    func trustThroughTUF() async throws {
        let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
        let fulcio = try await FulcioSimulator(issuers: [issuer])
        let rekor = try await RekorSimulator()
        let dir = try TemporaryDirectory()
        let target = try dir.write("target.json", SigstoreTrust.trustedRoot(fulcio: fulcio, rekor: rekor))
        let made = try await Python.run("tuf_repo.py", [dir.file("tuf").path, target.path])
        #expect(made.status == 0, "\(made.stderr)")
        let mirror = try await StaticFileServer(root: dir.file("tuf/repo"))
        defer {
            Task {
                await fulcio.stop()
                await rekor.stop()
                await mirror.stop()
            }
        }
        let pinned = dir.file("tuf/1.root.json").path
        let fetched = try await chains([
            "trusted-root", "--mirror", mirror.url, "--root", pinned, "--cache", dir.file("cache").path,
        ])
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(fetched.stdout == (try String(contentsOf: target, encoding: .utf8)))
        #expect(fetched.stderr.contains("1 Fulcio CA(s), 1 transparency log(s), 1 CT log(s)"))
        let unpinned = try await chains(["trusted-root", "--mirror", mirror.url, "--cache", dir.file("cache").path])
        #expect(unpinned.status == 2 && unpinned.stderr.contains("pin its root.json with signers.x509.tuf.root.file"))

        try dir.write("token", issuer.token(subject: "system:serviceaccount:tekton-chains:tekton-chains-controller"))
        let cm = try dir.write(
            "cm.yaml",
            "signers.x509.fulcio.enabled: \"true\"\nsigners.x509.fulcio.address: \(fulcio.url)\n"
                + "signers.x509.identity.token.file: \(dir.file("token").path)\nartifacts.oci.storage: tekton\n"
                + "transparency.enabled: \"true\"\ntransparency.url: \(rekor.url)\n"
                + "signers.x509.tuf.mirror.url: \(mirror.url)\nsigners.x509.tuf.root.file: \(pinned)\n")
        let sign = try await chains([
            "sign", PackagePaths.example("taskrun-kaniko.yaml").path, "--config", cm.path, "--tuf-cache",
            dir.file("cache2").path, "--output", dir.file("signed.yaml").path,
        ])
        #expect(sign.status == 0, "\(sign.stderr)")
        #expect(sign.stderr.contains("trusted root: TUF \(mirror.url)"))
        #expect(sign.stderr.contains("checked with the trusted root's key for this log"))
        #expect(!sign.stderr.contains("checked for its key and chain links only"))
    }

    @Test(
        "TUF: the signing config is a target of the mirror (signers.x509.signing-config.tuf-target), read in one update with the trusted root"
    )
    func signingConfigThroughTUF() async throws {
        let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
        let dir = try TemporaryDirectory()
        let stack = try await SigstoreStack(directory: dir, log: .v2, issuer: issuer)
        defer { Task { await stack.stop() } }
        let (rekor, tsaURL) = (try #require(stack.rekorV2), try #require(stack.tsaURL))
        let target = try dir.write("target.json", stack.trustedRootJSON)
        let signingConfig = try dir.write("signing-config.json", stack.signingConfigJSON)
        let made = try await Python.run(
            "tuf_repo.py",
            [dir.file("tuf").path, target.path, "good", "signing_config.v0.2.json=\(signingConfig.path)"])
        #expect(made.status == 0, "\(made.stderr)")
        let mirror = try await StaticFileServer(root: dir.file("tuf/repo"))
        defer { Task { await mirror.stop() } }
        try dir.write("token", issuer.token(subject: "system:serviceaccount:tekton-chains:tekton-chains-controller"))
        func sign(_ extra: String) async throws -> ProcessResult {
            let cm = try dir.write(
                "cm.yaml",
                "signers.x509.fulcio.enabled: \"true\"\nsigners.x509.identity.token.file: \(dir.file("token").path)\n"
                    + "artifacts.oci.storage: tekton\ntransparency.enabled: \"true\"\n"
                    + "signers.x509.tuf.mirror.url: \(mirror.url)\n"
                    + "signers.x509.tuf.root.file: \(dir.file("tuf/1.root.json").path)\n" + extra)
            return try await chains([
                "sign", PackagePaths.example("taskrun-kaniko.yaml").path, "--config", cm.path, "--tuf-cache",
                dir.file("cache").path, "--output", dir.file("signed.yaml").path, "--bundle-out",
                dir.file("bundles").path,
            ])
        }
        let signed = try await sign("signers.x509.signing-config.tuf-target: signing_config.v0.2.json\n")
        #expect(signed.status == 0, "\(signed.stderr)")
        #expect(signed.stderr.contains("trusted root: TUF \(mirror.url)"), "\(signed.stderr)")
        #expect(
            signed.stderr.contains("signing config signing_config.v0.2.json: transparency log (ANY): \(rekor.url)"),
            "\(signed.stderr)")
        #expect(signed.stderr.contains("timestamp authority (ANY): \(tsaURL)"), "\(signed.stderr)")
        #expect(rekor.stats.created == 2)
        // `chains config check` reads it the same way.
        let checked = try await chains(["config", "check", dir.file("cm.yaml").path])
        #expect(checked.status == 0 && checked.stderr.contains("transparency log (ANY): \(rekor.url)"))

        // A target the repository does not list, and both keys at once: errors naming them, nothing signed.
        let missing = try await sign("signers.x509.signing-config.tuf-target: signing_config_rekor_v2.v0.2.json\n")
        #expect(missing.status == 2, "\(missing.stderr)")
        #expect(missing.stderr.contains("lists no target signing_config_rekor_v2.v0.2.json"), "\(missing.stderr)")
        let both = try await sign(
            "signers.x509.signing-config.tuf-target: signing_config.v0.2.json\n"
                + "signers.x509.signing-config.file: \(signingConfig.path)\n")
        #expect(both.status == 2, "\(both.stderr)")
        #expect(
            both.stderr.contains(
                "signers.x509.signing-config.file (\(signingConfig.path)) and signers.x509.signing-config.tuf-target "
                    + "(signing_config.v0.2.json) both name a signing config"), "\(both.stderr)")
        #expect(rekor.stats.created == 2)
    }

    @Test(
        "verify-run on a run signed through Rekor v2 and a TSA: each certificate judged at the timestamps stored beside its signature"
    )
    func verifyRunByTimestamps() async throws {
        let dir = try TemporaryDirectory()
        let stack = try await SigstoreStack(directory: dir, log: .v2)
        defer { Task { await stack.stop() } }
        let root = try dir.write("trusted_root.json", stack.trustedRootJSON)
        let token = try dir.write("token", stack.token())
        let cm = try dir.write(
            "cm.yaml",
            "signers.x509.fulcio.enabled: \"true\"\nsigners.x509.identity.token.file: \(token.path)\n"
                + "artifacts.oci.storage: tekton\nartifacts.taskrun.format: slsa/v2alpha4\ntransparency.enabled: \"true\"\n"
        )
        let sign = try await chains([
            "sign", PackagePaths.example("taskrun-kaniko.yaml").path, "--config", cm.path, "--signing-config",
            try dir.write("signing_config.json", stack.signingConfigJSON).path, "--trusted-root", root.path,
            "--output", dir.file("signed.yaml").path,
        ])
        #expect(sign.status == 0, "\(sign.stderr)")
        let signed = try String(contentsOf: dir.file("signed.yaml"), encoding: .utf8)
        #expect(signed.contains("chains-in-swift.dev/timestamps-taskrun-"), "\(signed)")
        let sa = "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller"
        func verifyRun(_ file: URL, _ extra: [String] = [], root: URL) async throws -> ProcessResult {
            try await chains(
                [
                    "verify-run", file.path, "--certificate-identity", sa, "--certificate-oidc-issuer",
                    stack.issuer.url, "--trusted-root", root.path,
                ] + extra)
        }
        let good = try await verifyRun(dir.file("signed.yaml"), ["--timestamp-threshold", "1"], root: root)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stderr.components(separatedBy: "✓").count == 3, "\(good.stderr)")
        #expect(good.stderr.contains("timestamped at"), "\(good.stderr)")
        #expect(good.stderr.contains("names a Rekor v2 entry, which a Rekor v2 log does not serve"), "\(good.stderr)")
        let two = try await verifyRun(dir.file("signed.yaml"), ["--timestamp-threshold", "2"], root: root)
        #expect(two.status == 1 && two.stderr.contains("and 2 required (--timestamp-threshold)"), "\(two.stderr)")
        // The provenance's timestamps swapped for the image signature's: over another signature, refused.
        let lines = signed.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let stampLines = lines.filter { $0.contains("chains-in-swift.dev/timestamps-") }
        #expect(stampLines.count == 2, "\(stampLines)")
        func value(_ line: String) -> String { String(line.split(separator: ":", maxSplits: 1)[1]) }
        let swapped = try dir.write(
            "swapped.yaml",
            signed.replacingOccurrences(of: value(stampLines[0]), with: value(stampLines[1])))
        let refused = try await verifyRun(swapped, root: root)
        #expect(refused.status == 1 && refused.stderr.contains("RFC 3161 timestamp 1 of 1"), "\(refused.stderr)")
        // A root that does not name the authority: the timestamps cannot be checked, so nothing verifies.
        let noTSA = try dir.write(
            "no-tsa.json", SigstoreTrust.trustedRoot(fulcio: stack.fulcio, tlogs: [stack.rekorV2!.trustedRootLog]))
        let unchecked = try await verifyRun(dir.file("signed.yaml"), root: noTSA)
        #expect(unchecked.status == 1, "\(unchecked.stderr)")
    }

    @Test(
        "verify-run, Rekor v1 and a TSA: a timestamp over the provenance's signature made after its certificate expired is refused"
    )
    func verifyRunTimestampOutsideCertificate() async throws {
        let dir = try TemporaryDirectory()
        let stack = try await SigstoreStack(directory: dir, log: .v1)
        defer { Task { await stack.stop() } }
        stack.fulcio.setLifetime(8)
        let tsa = try #require(stack.tsa)
        let root = try dir.write("trusted_root.json", stack.trustedRootJSON)
        let cm = try dir.write(
            "cm.yaml",
            "signers.x509.fulcio.enabled: \"true\"\nsigners.x509.identity.token.file: "
                + "\(try dir.write("token", stack.token()).path)\nartifacts.oci.storage: tekton\n"
                + "artifacts.taskrun.format: slsa/v2alpha4\ntransparency.enabled: \"true\"\n")
        let sign = try await chains([
            "sign", PackagePaths.example("taskrun-kaniko.yaml").path, "--config", cm.path, "--signing-config",
            try dir.write("signing_config.json", stack.signingConfigJSON).path, "--trusted-root", root.path,
            "--output", dir.file("signed.yaml").path,
        ])
        #expect(sign.status == 0, "\(sign.stderr)")
        let signed = try String(contentsOf: dir.file("signed.yaml"), encoding: .utf8)
        let sa = "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller"
        func verifyRun(_ file: URL) async throws -> ProcessResult {
            try await chains([
                "verify-run", file.path, "--certificate-identity", sa, "--certificate-oidc-issuer", stack.issuer.url,
                "--trusted-root", root.path,
            ])
        }
        let good = try await verifyRun(dir.file("signed.yaml"))
        #expect(good.status == 0 && good.stderr.contains("logged at"), "\(good.stderr)")
        // The provenance's signature (its DSSE envelope's), timestamped again once the 8-second certificate expired:
        // a real timestamp over the right signature, at a time the certificate no longer covers.
        let lines = signed.split(separator: "\n").map(String.init)
        func value(_ prefix: String) throws -> String {
            let line = try #require(lines.first { $0.contains(prefix) }, "\(prefix)")
            return line.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)
        }
        let envelope = try #require(Data(base64Encoded: try value("chains.tekton.dev/signature-taskrun-")))
        let decoded = try JSONDecoder().decode(DSSE.Envelope.self, from: envelope)
        let signature = try #require(Data(base64Encoded: decoded.signatures[0].sig))
        try await Task.sleep(for: .seconds(9))
        let late = try tsa.reply(to: RFC3161.request(signature: signature, nonce: [9, 8, 7, 6, 5, 4, 3, 2]))
        let stamped = try value("chains-in-swift.dev/timestamps-taskrun-")
        let replaced = try dir.write(
            "late.yaml", signed.replacingOccurrences(of: stamped, with: late.base64EncodedString()))
        let refused = try await verifyRun(replaced)
        #expect(
            refused.status == 1 && refused.stderr.contains("is outside the signing certificate's validity"),
            "\(refused.stderr)")
    }

    @Test("verify-blob on sigstore-conformance bundles: a GitHub Actions identity under the public-good root")
    func verifyBlobConformance() async throws {
        let base = PackagePaths.root.appendingPathComponent("Tests/SigstoreTests/Conformance")
        let identity =
            "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
        func verify(_ name: String, _ extra: [String] = []) async throws -> ProcessResult {
            let own = base.appendingPathComponent("bundle-verify/\(name)/trusted_root.json")
            let root =
                FileManager.default.fileExists(atPath: own.path)
                ? own : base.appendingPathComponent("public-good-trusted_root.json")
            return try await chains(
                [
                    "verify-blob", base.appendingPathComponent("a.txt").path, "--bundle",
                    base.appendingPathComponent("bundle-verify/\(name)/bundle.sigstore.json").path,
                    "--certificate-identity", identity, "--certificate-oidc-issuer",
                    "https://token.actions.githubusercontent.com", "--trusted-root", root.path,
                ] + extra)
        }
        let good = try await verify("happy-path-v0.3")
        #expect(good.status == 0 && good.stderr.contains("verified") && good.stderr.contains("signed by \(identity)"))
        let bad = try await verify("set-invalid-signature_fail")
        #expect(bad.status == 1 && bad.stderr.contains("signed entry timestamp"), "\(bad.stderr)")
        // Thresholds: a Rekor v1 bundle has one entry and no timestamp; a Rekor v2 one an entry and a timestamp.
        let noStamp = try await verify("happy-path-v0.3", ["--timestamp-threshold", "1"])
        #expect(
            noStamp.status == 1
                && noStamp.stderr.contains("carries 0 verified RFC 3161 timestamps, and 1 is required"),
            "\(noStamp.stderr)")
        let twoEntries = try await verify("happy-path-v0.3", ["--tlog-threshold", "2"])
        #expect(
            twoEntries.status == 1 && twoEntries.stderr.contains("carries 1 verified log entry, and 2 are required"))
        let stamped = try await verify("rekor2-happy-path", ["--timestamp-threshold", "1"])
        #expect(stamped.status == 0, "\(stamped.stderr)")
        let twoStamps = try await verify("rekor2-happy-path", ["--timestamp-threshold", "2"])
        #expect(twoStamps.status == 1 && twoStamps.stderr.contains("carries 1 verified RFC 3161 timestamp, and 2"))
        let negative = try await verify("rekor2-happy-path", ["--tlog-threshold=-1"])
        #expect(negative.status != 0 && negative.stderr.contains("--tlog-threshold must be 0 or more"))
    }

    @Test(
        "--bundle-out: one bundle per artifact; a second run of the call signing the same image gets its uid in the name"
    )
    func bundleNames() async throws {
        let dir = try TemporaryDirectory()
        let kaniko = PackagePaths.example("taskrun-kaniko.yaml").path
        let other = try dir.write(
            "in/other.yaml",
            try String(contentsOfFile: kaniko, encoding: .utf8).replacingOccurrences(
                of: "4b1c7d2e-6f3a-4c8b-9e21-5a7d3c9b0f11", with: "5c2d8e3f-7a4b-4d9c-8f32-6b8e4d0a1f22"))
        let signed = try await chains(
            [
                "sign", kaniko, other.path, "--output-dir", dir.file("out").path, "--bundle-out",
                dir.file("bundles").path,
            ], env: ["CHAINS_SIGNING_SECRETS": dir.file("secrets").path])
        #expect(signed.status == 0, "\(signed.stderr)")
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: dir.file("bundles").path))
        #expect(
            names == [
                "taskrun-4b1c7d2e-6f3a-4c8b-9e21-5a7d3c9b0f11.sigstore.json",
                "taskrun-5c2d8e3f-7a4b-4d9c-8f32-6b8e4d0a1f22.sigstore.json", "c6cad725fced.sigstore.json",
                "c6cad725fced-5c2d8e3f-7a4b-4d9c-8f32-6b8e4d0a1f22.sigstore.json",
            ], "\(names)")
        // A key-signed bundle names its key by hint and carries no certificate.
        let bundle =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: dir.file("bundles/c6cad725fced.sigstore.json"))) as? [String: Any]
        let material = bundle?["verificationMaterial"] as? [String: Any]
        #expect(material?["publicKey"] != nil && material?["certificate"] == nil)
        #expect(bundle?["messageSignature"] != nil)
    }

    @Test("chains controller: reads chains-config from the API, signs a finished TaskRun, stops on SIGTERM")
    func controllerCommand() async throws {
        let api = try await KubeAPIServer(token: "t0ken")
        defer { Task { await api.stop() } }
        let dir = try TemporaryDirectory()
        _ = try await chains(["keys", "generate", "--dir", dir.file("secrets").path])
        api.put(
            .object([
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": .object(["name": "chains-config", "namespace": "tekton-chains"]),
                "data": .object(["artifacts.oci.storage": "tekton", "artifacts.taskrun.format": "slsa/v1"]),
            ]), as: .configMaps)
        let run = try ManifestReader.parse(
            try Data(contentsOf: PackagePaths.example("taskrun-kaniko.yaml")), source: "kaniko"
        ).documents[0]
        api.put(run, as: .taskRuns)
        let kubeconfig = try dir.write("kubeconfig", api.kubeconfig(token: "t0ken"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.binary())
        process.arguments = [
            "controller", "--kubeconfig", kubeconfig.path, "--namespace", "team-a", "--signing-secrets",
            dir.file("secrets").path, "--metrics-address", "127.0.0.1:0",
        ]
        let log = try dir.write("controller.log", "")
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        var signed = false
        for _ in 0..<200 where !signed {
            try await Task.sleep(for: .milliseconds(50))
            let annotations = api.object(.taskRuns, namespace: "team-a", name: "build-app-kaniko-x7k2p")?["metadata"]?[
                "annotations"]
            signed = annotations?["chains.tekton.dev/signed"]?.stringValue == "true"
        }
        // /metrics, /healthz, /readyz on the port the log names; Chains' counters count what was done.
        let early = try String(contentsOf: log, encoding: .utf8)
        let port = try #require(
            early.components(separatedBy: "metrics and health on 127.0.0.1:").dropFirst().first?.prefix {
                $0.isNumber
            })
        let http = try AsyncHTTPClientTransport(policy: .init(default: .init(.plainHTTP)))
        func get(_ path: String) async throws -> (Int, String) {
            let r = try await http.send(
                HTTPRequest(method: "GET", url: URL(string: "http://127.0.0.1:\(port)\(path)")!))
            return (r.status, String(decoding: r.body, as: UTF8.self))
        }
        var metrics = ""
        for _ in 0..<60
        where !(metrics.contains("watcher_taskrun_marked_signed_total 1") && metrics.contains("chains_buckets_led 1")) {
            metrics = try await get("/metrics").1
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await get("/healthz").0 == 200)
        #expect(try await get("/readyz").0 == 200)
        #expect(try await get("/nothing").0 == 404)
        for line in [
            "watcher_taskrun_sign_created_total 2", "watcher_taskrun_payload_stored_total 2",
            "watcher_taskrun_marked_signed_total 1", "chains_queue_depth 0.0", "chains_buckets_led 1.0",
            "chains_done_to_signed_seconds_count 1", "chains_reconciles_total{result=\"done\"}",
        ] {
            #expect(metrics.contains(line), "\(line) not in:\n\(metrics)")
        }
        try await http.shutdown()
        kill(process.processIdentifier, SIGTERM)
        let stopped = Date()
        while process.isRunning && Date().timeIntervalSince(stopped) < 10 {
            try await Task.sleep(for: .milliseconds(50))
        }
        let text = try String(contentsOf: log, encoding: .utf8)
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        #expect(signed, "\(text)")
        #expect(process.terminationStatus == 0 && text.contains("chains controller: stopped"), "\(text)")
        #expect(text.contains("watching namespace team-a"))
        // JSON logs: one object per line; a run's lines carry its namespace, name and kind.
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("{") }
        let objects = lines.compactMap { try? JSONValue(parsing: Data($0.utf8)) }
        #expect(!lines.isEmpty && objects.count == lines.count, "lines that are not JSON:\n\(text)")
        #expect(objects.allSatisfy { $0["ts"] != nil && $0["level"] != nil && $0["msg"] != nil })
        let signedLine = objects.first { $0["msg"]?.stringValue?.contains("signed (2 artifact(s))") == true }
        #expect(signedLine?["namespace"] == "team-a" && signedLine?["name"] == "build-app-kaniko-x7k2p", "\(text)")
        #expect(signedLine?["kind"] == "TaskRun")
        #expect(!text.contains("t0ken"), "the API token appeared in the log")
    }
}
