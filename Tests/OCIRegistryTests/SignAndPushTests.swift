import ChainsCore
import ChainsTesting
import Foundation
import HTTPTransport
import KubeModels
import Logging
import OCI
import OCIRegistry
import RegistryAuth
import Signing
import Sigstore
import Testing

/// `chains sign` with `oci` storage against a real token-auth registry, credentials from Kubernetes objects.
@Suite("Sign and push to a real registry", .serialized)
struct SignAndPushTests {
    struct Setup {
        var registry: TokenRegistry
        var transport: AsyncHTTPClientTransport
        var digest: String
        var image: String
        var dir: TemporaryDirectory
        var key: PrivateKey

        func stop() async {
            try? await transport.shutdown()
            await registry.stop()
        }

        /// The run's ServiceAccount with one secret holding the push user's credentials.
        var pushCredentials: [String: String] {
            [
                "sa.yaml": RunFixtures.serviceAccount(secrets: ["push-creds"]),
                "secret.yaml": RunFixtures.dockerConfigSecret(
                    name: "push-creds", registry: registry.address, username: "chains", password: "s3cret-push"),
            ]
        }
    }

    func setup(repository: String = "team-a/app") async throws -> Setup {
        let reg = try await TokenRegistry()
        let transport = try AsyncHTTPClientTransport(policy: .init(registries: [reg.address: .init(.plainHTTP)]))
        let digest = try await pushTestImage(
            transport: transport, registry: reg.address, repository: repository, tag: "v1",
            authorization: try await directToken(reg, repository: repository))
        let dir = try TemporaryDirectory()
        let key = try PrivateKey.generate(.ecdsaP256)
        _ = try SigningSecrets.writeX509(key, to: dir.file("secrets"))
        try dir.write("config.yaml", RunFixtures.ociConfig)
        return Setup(
            registry: reg, transport: transport, digest: digest, image: "\(reg.address)/\(repository)", dir: dir,
            key: key)
    }

    func sign(
        _ s: Setup, run: String, objects: [String: String], dockerConfig: String? = nil
    ) async throws -> SignedRun {
        let runFile = try s.dir.write("run-\(UUID().uuidString).yaml", run)
        let objectsDir = s.dir.file("objects-\(UUID().uuidString)")
        for (name, text) in objects { try s.dir.write("\(objectsDir.lastPathComponent)/\(name)", text) }
        try FileManager.default.createDirectory(at: objectsDir, withIntermediateDirectories: true)
        return await signRunFile(
            runFile,
            setup: LocalSetup(
                configFile: s.dir.file("config.yaml"), signingSecrets: s.dir.file("secrets"),
                objectDirectories: [objectsDir], dockerConfig: dockerConfig ?? s.dir.file("no-docker").path))
    }

    func verify(_ s: Setup) async throws -> (sig: AttachmentVerifier.Report, att: AttachmentVerifier.Report) {
        let client = RegistryClient(
            transport: s.transport, policy: .init(registries: [s.registry.address: .init(.plainHTTP)]))
        let verifier = AttachmentVerifier(
            client: client,
            credentials: [
                SourcedCredential(
                    Credential(username: "reader", password: "r3ad-only"),
                    source: .init(kind: .dockerConfig, origin: "test", key: ""))
            ],
            key: s.key.publicKey)
        let image = try ImageReference(parsingDigest: "\(s.image)@\(s.digest)")
        return (
            try await verifier.verifySignatures(image),
            try await verifier.verifyAttestations(image, predicateType: "https://slsa.dev/provenance/v0.2")
        )
    }

    @Test("credentials in the ServiceAccount's secrets: .sig and .att pushed, verified, and the run marked signed")
    func serviceAccountSecrets() async throws {
        let s = try await setup()
        defer { Task { await s.stop() } }
        let report = try await sign(
            s, run: RunFixtures.taskRun(image: s.image, digest: s.digest),
            objects: s.pushCredentials)
        #expect(report.exitCode == 0, "\(report.facts.joined(separator: "\n"))")
        #expect(
            report.facts.contains {
                $0.hasPrefix("oci: \(s.image):sha256-") && $0.contains(".sig: pushed")
                    && $0.contains("secret team-a/push-creds")
            })
        #expect(report.facts.contains { $0.contains(".att: pushed") })
        let (sig, att) = try await verify(s)
        #expect(sig.valid.count == 1)
        #expect(att.valid.count == 1)
        // No secret in anything we print.
        #expect(!report.facts.joined().contains("s3cret-push"))
        #expect(!(report.document ?? "").contains("s3cret-push"))
    }

    @Test(
        "signing again (a retry) adds no layer: .sig dedupes by payload digest, .att by statement + key (Chains appends)"
    )
    func retryAddsNothing() async throws {
        let s = try await setup()
        defer { Task { await s.stop() } }
        let objects = s.pushCredentials
        let run = RunFixtures.taskRun(image: s.image, digest: s.digest)
        let first = try await sign(s, run: run, objects: objects)
        #expect(first.exitCode == 0, "\(first.facts.joined(separator: "\n"))")
        let second = try await sign(s, run: run, objects: objects)
        #expect(second.exitCode == 0)
        #expect(
            second.facts.filter { $0.contains("already there") }.count == 2, "\(second.facts.joined(separator: "\n"))")
        let (sig, att) = try await verify(s)
        #expect(sig.checks.count == 1)
        #expect(att.checks.count == 1)
        // A rotated key is a different signer: its signature and attestation are added, not mistaken for ours
        // (Chains' digest-only dedupe would drop the new key's image signature, and verification with it fails).
        let rotated = try PrivateKey.generate(.ecdsaP256)
        _ = try SigningSecrets.writeX509(rotated, to: s.dir.file("secrets"))
        let third = try await sign(s, run: run, objects: objects)
        #expect(third.facts.contains { $0.contains(".att: pushed; read back with 2 layer(s)") })
        #expect(third.facts.contains { $0.contains(".sig: pushed; read back with 2 layer(s)") })
        var rotatedSetup = s
        rotatedSetup.key = rotated
        let (sig2, att2) = try await verify(rotatedSetup)
        #expect(sig2.valid.count == 1)
        #expect(att2.valid.count == 1)
    }

    @Test("credentials only in the run's Pod imagePullSecrets (status.podName) are found, while the Pod exists")
    func podPullSecrets() async throws {
        let s = try await setup()
        defer { Task { await s.stop() } }
        let run = RunFixtures.taskRun(image: s.image, digest: s.digest).replacingOccurrences(
            of: "status:\n", with: "status:\n  podName: build-1-pod\n")
        let pod =
            "apiVersion: v1\nkind: Pod\nmetadata: {name: build-1-pod, namespace: team-a}\n"
            + "spec: {serviceAccountName: builder, imagePullSecrets: [{name: node-creds}]}\n"
        let secret = RunFixtures.dockerConfigSecret(
            name: "node-creds", registry: s.registry.address, username: "chains", password: "s3cret-push")
        let objects = ["sa.yaml": RunFixtures.serviceAccount(), "pod.yaml": pod, "secret.yaml": secret]
        // `auth explain` lists what `sign` tries: the Pod's secret first (it once printed only anonymous here).
        let objectsDir = s.dir.file("explain-objects")
        for (name, text) in objects { try s.dir.write("explain-objects/\(name)", text) }
        let (_, explanation, _) = try await LocalRegistryAccess.explain(
            image: try ImageReference(parsing: s.image), runFile: try s.dir.write("explain-run.yaml", run),
            objectDirectories: [objectsDir], dockerConfig: s.dir.file("no-docker").path, settings: RegistrySettings(),
            checkPush: true, environment: [:])
        #expect(explanation.lines.map(\.credential) == ["user chains", "anonymous"], "\(explanation.text)")
        #expect(explanation.lines.first?.source.contains("the run's Pod imagePullSecrets") == true)
        #expect(explanation.firstGranted == 1, "\(explanation.text)")
        let found = try await sign(s, run: run, objects: objects)
        #expect(found.exitCode == 0, "\(found.facts.joined(separator: "\n"))")
        #expect(found.facts.contains { $0.contains(".sig: pushed") && $0.contains("the run's Pod imagePullSecrets") })
        #expect(
            found.facts.contains { $0.contains(".sig: pushed") && $0.contains(explanation.lines[0].source) },
            "sign used a credential other than the one explain listed first")
        // The Pod is gone (cleaned up after the run): its secrets are not known; the push is refused.
        let gone = try await sign(
            s, run: run.replacingOccurrences(of: "name: build-1\n", with: "name: build-2\n"),
            objects: ["sa.yaml": RunFixtures.serviceAccount(), "secret.yaml": secret])
        #expect(gone.exitCode == 1)
    }

    @Test("credentials only in the pod template's imagePullSecrets are found (Chains ignores them)")
    func podTemplateOnly() async throws {
        let s = try await setup()
        defer { Task { await s.stop() } }
        let report = try await sign(
            s, run: RunFixtures.taskRun(image: s.image, digest: s.digest, podTemplatePullSecrets: ["regcred"]),
            objects: [
                "sa.yaml": RunFixtures.serviceAccount(),
                "secret.yaml": RunFixtures.dockerConfigSecret(
                    name: "regcred", registry: s.registry.address, username: "chains", password: "s3cret-push"),
            ])
        #expect(report.exitCode == 0, "\(report.facts.joined(separator: "\n"))")
        #expect(report.facts.contains { $0.contains(".sig: pushed") && $0.contains("pod template imagePullSecrets") })
    }

    @Test("a read-only pull secret listed before a push-capable one: the push falls through to the second and succeeds")
    func readOnlyFirst() async throws {
        let s = try await setup()
        defer { Task { await s.stop() } }
        let report = try await sign(
            s, run: RunFixtures.taskRun(image: s.image, digest: s.digest),
            objects: [
                "sa.yaml": RunFixtures.serviceAccount(secrets: ["pull-only", "push-creds"]),
                "a.yaml": RunFixtures.dockerConfigSecret(
                    name: "pull-only", registry: s.registry.address, username: "reader", password: "r3ad-only"),
                "b.yaml": RunFixtures.dockerConfigSecret(
                    name: "push-creds", registry: s.registry.address, username: "chains", password: "s3cret-push"),
            ])
        #expect(report.exitCode == 0, "\(report.facts.joined(separator: "\n"))")
        #expect(report.facts.contains { $0.contains(".sig: pushed") && $0.contains("push-creds") })
        let (sig, _) = try await verify(s)
        #expect(sig.valid.count == 1)
    }

    @Test("a wrong password fails with a message naming the registry and every source tried, and records a retry")
    func wrongPassword() async throws {
        let s = try await setup()
        defer { Task { await s.stop() } }
        let report = try await sign(
            s, run: RunFixtures.taskRun(image: s.image, digest: s.digest),
            objects: [
                "sa.yaml": RunFixtures.serviceAccount(secrets: ["push-creds"]),
                "secret.yaml": RunFixtures.dockerConfigSecret(
                    name: "push-creds", registry: s.registry.address, username: "chains", password: "hunter2-wrong"),
            ])
        #expect(report.exitCode == 1)
        let text = report.facts.joined(separator: "\n")
        #expect(text.contains("\(s.image): push sha256-"))
        #expect(text.contains("refused for every credential found"))
        #expect(text.contains("user chains from secret team-a/push-creds (ServiceAccount secrets of team-a/builder)"))
        #expect(text.contains("anonymous"))
        #expect(!text.contains("hunter2-wrong"))
        #expect(report.outcome?.annotations.all["chains.tekton.dev/retries"] == "0")
    }

    @Test("secrets in another namespace are not used, and a missing ServiceAccount is a warning")
    func otherNamespace() async throws {
        let s = try await setup()
        defer { Task { await s.stop() } }
        let report = try await sign(
            s, run: RunFixtures.taskRun(image: s.image, digest: s.digest),
            objects: [
                "sa.yaml": RunFixtures.serviceAccount(namespace: "team-b", secrets: ["push-creds"]),
                "secret.yaml": RunFixtures.dockerConfigSecret(
                    name: "push-creds", namespace: "team-b", registry: s.registry.address, username: "chains",
                    password: "s3cret-push"),
            ])
        #expect(report.exitCode == 1)
        let text = report.facts.joined(separator: "\n")
        #expect(text.contains("ServiceAccount team-a/builder: not found"))
        #expect(!text.contains("team-b/push-creds"))
    }

    @Test(
        "a Secret that cannot be read for a passing reason (the API down) makes a refused push retryable, not a spent retry"
    )
    func unreadableSecretIsRetryable() async throws {
        let s = try await setup()
        defer { Task { await s.stop() } }
        let objects = s.dir.file("objects-flaky")
        for (name, text) in s.pushCredentials { try s.dir.write("objects-flaky/\(name)", text) }
        // The assembly as the controller builds it, with a cluster whose Secrets cannot be read.
        var env = AssemblyEnvironment(
            signingSecrets: .directory(s.dir.file("secrets")),
            cluster: UnreadableSecrets(base: try ObjectStore(directories: [objects])),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        env.dockerConfig = s.dir.file("no-docker").path
        let config = try LoadedConfig.load(s.dir.file("config.yaml")).config
        let assembly = try await SigningAssembly.build(config, env)
        let run = try RunFile.read(
            try s.dir.write("run-flaky.yaml", RunFixtures.taskRun(image: s.image, digest: s.digest))
        ).run
        let outcome = await assembly.service.sign(run)
        await assembly.shutdown()
        #expect(!outcome.succeeded)
        let storage = outcome.failures.filter { $0.stage == .storage }
        let text = outcome.failures.map { "\($0.error)" }.joined(separator: "\n")
        #expect(!storage.isEmpty && storage.allSatisfy(\.isRetryable), "\(text)")
        #expect(text.contains("could not all be read"), "\(text)")
    }
}

/// A cluster view whose Secrets cannot be read, as when the API server answers 503.
struct UnreadableSecrets: ClusterView {
    let base: ObjectStore
    struct Unavailable: RetryClassifiable {
        var isRetryable: Bool { true }
    }
    func children(of run: PipelineRun) async throws -> ChildLookup { try await base.children(of: run) }
    func secret(namespace: String, name: String) async throws -> Secret? { throw Unavailable() }
    func serviceAccount(namespace: String, name: String) async throws -> ServiceAccount? {
        try await base.serviceAccount(namespace: namespace, name: name)
    }
    func pod(namespace: String, name: String) async throws -> Pod? { nil }
}

@Suite("sigstore-bundle encoding against a registry without a referrers API", .serialized)
struct BundleModeTests {
    @Test(
        "bundles become referrers through the sha256-<hex> fallback index; the image signature is cosign v3's statement"
    )
    func bundles() async throws {
        let s = try await SignAndPushTests().setup()
        defer { Task { await s.stop() } }
        try s.dir.write(
            "config.yaml",
            RunFixtures.ociConfig
                + "  storage.oci.encoding-format: sigstore-bundle\n  storage.oci.repository: somewhere.example.com/ignored\n"
        )
        let report = try await SignAndPushTests().sign(
            s, run: RunFixtures.taskRun(image: s.image, digest: s.digest),
            objects: s.pushCredentials)
        #expect(report.exitCode == 0, "\(report.facts.joined(separator: "\n"))")
        #expect(
            report.facts.contains { $0.contains("storage.oci.repository is ignored with the sigstore-bundle encoding") }
        )
        let hex = String(s.digest.dropFirst(7))
        #expect(report.facts.filter { $0.contains("(referrer of \(s.digest), index sha256-\(hex))") }.count == 2)

        let client = RegistryClient(transport: s.transport)
        let reader = Credential(username: "reader", password: "r3ad-only")
        let session = client.session(
            repository: try ImageReference(parsingRepository: s.image), credential: reader,
            scopes: [Scope.pull("team-a/app")])
        let (index, viaAPI) = try await session.listReferrers(try Digest(parsingSHA256: s.digest))
        #expect(!viaAPI)
        #expect(index.manifests.count == 2)
        #expect(index.manifests.allSatisfy { $0.artifactType == MediaType.sigstoreBundle })
        let bundles = try await session.bundles(of: try Digest(parsingSHA256: s.digest))
        #expect(
            Set(bundles.map(\.predicateType)) == [
                "https://sigstore.dev/cosign/sign/v1", "https://slsa.dev/provenance/v0.2",
            ])

        // Verified by our verifier and, for the DSSE inside each bundle, by securesystemslib.
        let verifier = AttachmentVerifier(
            client: client,
            credentials: [SourcedCredential(reader, source: .init(kind: .dockerConfig, origin: "t", key: ""))],
            key: s.key.publicKey)
        let image = try ImageReference(parsingDigest: "\(s.image)@\(s.digest)")
        #expect(
            try await verifier.verifyBundles(image, predicateType: "https://sigstore.dev/cosign/sign/v1").valid.count
                == 1)
        #expect(
            try await verifier.verifyBundles(image, predicateType: "https://slsa.dev/provenance/v0.2").valid.count == 1)
        let pub = try s.dir.write("pub.pem", s.key.publicKey.pem)
        for entry in bundles {
            let bundle = try JSONSerialization.jsonObject(with: entry.bundle) as! [String: Any]
            #expect(bundle["mediaType"] as? String == "application/vnd.dev.sigstore.bundle.v0.3+json")
            let material = bundle["verificationMaterial"] as! [String: Any]
            #expect((material["publicKey"] as? [String: String])?["hint"] != nil)
            let envelope = try s.dir.write(
                "env-\(UUID()).json", data: JSONSerialization.data(withJSONObject: bundle["dsseEnvelope"]!))
            let checked = try await Python.run("verify_dsse.py", [pub.path, envelope.path])
            #expect(checked.status == 0, "\(checked.stderr)")
        }
        // A bundle that carries an RFC 3161 timestamp is a time source the verifier must check: with a key and no
        // trusted root naming a timestamp authority, it cannot be, and the bundle is refused — here the image
        // signature's own bundle, with a timestamp added and attached again.
        let signatureBundle = try #require(bundles.first { $0.predicateType == "https://sigstore.dev/cosign/sign/v1" })
        var stamped = try JSONSerialization.jsonObject(with: signatureBundle.bundle) as! [String: Any]
        var material = stamped["verificationMaterial"] as! [String: Any]
        material["timestampVerificationData"] = [
            "rfc3161Timestamps": [["signedTimestamp": Data("a TimeStampResponse".utf8).base64EncodedString()]]
        ]
        stamped["verificationMaterial"] = material
        let writer = client.session(
            repository: try ImageReference(parsingRepository: s.image),
            credential: Credential(username: "chains", password: "s3cret-push"),
            scopes: [Scope.pull("team-a/app"), Scope.push("team-a/app")])
        _ = try await writer.attachBundle(
            try JSONSerialization.data(withJSONObject: stamped), predicateType: "https://sigstore.dev/cosign/sign/v1",
            to: try Digest(parsingSHA256: s.digest))
        let rechecked = try await verifier.verifyBundles(image, predicateType: "https://sigstore.dev/cosign/sign/v1")
        #expect(rechecked.checks.count == 3 && rechecked.valid.count == 1, "\(rechecked.checks.map(\.detail))")
        #expect(
            rechecked.checks.contains {
                !$0.valid && $0.detail.contains("carries 1 RFC 3161 timestamp, and no trusted root names a timestamp")
            },
            "\(rechecked.checks.map(\.detail))")

        // No .sig / .att tags in this mode.
        let tags = try await session.tags()
        #expect(!tags.contains { $0.hasSuffix(".sig") || $0.hasSuffix(".att") })
        #expect(tags.contains("sha256-\(hex)"))
    }
}

@Suite("Every run has a time budget")
struct DeadlineTests {
    @Test("a registry that accepts the connection and never answers fails the run within its budget, naming it")
    func silentRegistry() async throws {
        let silent = try SilentServer()
        defer { silent.stop() }
        let dir = try TemporaryDirectory()
        _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.file("secrets"))
        try dir.write("config.yaml", RunFixtures.ociConfig)
        let run = try dir.write(
            "run.yaml",
            RunFixtures.taskRun(
                image: "\(silent.address)/team-a/app", digest: "sha256:" + String(repeating: "c", count: 64)))
        try FileManager.default.createDirectory(at: dir.file("objects"), withIntermediateDirectories: true)
        let started = ContinuousClock.now
        let report = await signRunFile(
            run,
            setup: LocalSetup(
                configFile: dir.file("config.yaml"), signingSecrets: dir.file("secrets"),
                objectDirectories: [dir.file("objects")], dockerConfig: dir.file("no-docker").path,
                runTimeout: .seconds(2)))
        let elapsed = ContinuousClock.now - started
        #expect(report.exitCode == 1, "\(report.text)")
        let failures = report.outcome?.failures ?? []
        #expect(failures.count == 2, "\(report.text)")
        #expect(failures.allSatisfy { $0.stage == .storage && $0.isRetryable && $0.error.code == .timeout })
        #expect(failures.allSatisfy { "\($0)".contains(silent.address) && "\($0)".contains("time budget of 2s") })
        #expect(report.outcome?.annotations.mark == ["chains.tekton.dev/retries": "0"])
        // A correctness bound, far above the budget (a full suite on a loaded 2-core machine once took 38 s to get
        // here; alone it takes 2 s): without one the run waited for many minutes.
        #expect(elapsed < .seconds(90))
    }
}

@Suite("Keyless, logged, stored as referrers: what cosign v3 users verify", .serialized)
struct KeylessReferrerTests {
    let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)

    /// A registry with an image, Fulcio and Rekor simulators, the chains-config lines that point at them, and
    /// their trusted root written to a file.
    func stack() async throws -> (
        SignAndPushTests.Setup, FulcioSimulator, RekorSimulator, keyless: String, root: URL
    ) {
        let s = try await SignAndPushTests().setup()
        let fulcio = try await FulcioSimulator(issuers: [issuer])
        let rekor = try await RekorSimulator()
        let token = try s.dir.write(
            "token", issuer.token(subject: "system:serviceaccount:tekton-chains:tekton-chains-controller"))
        let keyless = """
              signers.x509.fulcio.enabled: "true"
              signers.x509.fulcio.address: \(fulcio.url)
              signers.x509.identity.token.file: \(token.path)
              transparency.enabled: "true"
              transparency.url: \(rekor.url)

            """
        let root = try s.dir.write("root.json", SigstoreTrust.trustedRoot(fulcio: fulcio, rekor: rekor))
        return (s, fulcio, rekor, keyless, root)
    }

    @Test(
        "bundles read back from the registry pass sigstore-python offline; .sig/.att carry cosign's bundle annotation")
    func keylessReferrers() async throws {
        let (s, fulcio, rekor, keyless, root) = try await stack()
        defer {
            Task {
                await s.stop()
                await fulcio.stop()
                await rekor.stop()
            }
        }
        let trust = try s.dir.write("trust.json", SigstoreTrust.clientTrustConfig(fulcio: fulcio, rekor: rekor))
        let hex = String(s.digest.dropFirst(7))

        // 1. sigstore-bundle referrers.
        try s.dir.write(
            "config.yaml",
            RunFixtures.ociConfig.replacingOccurrences(of: "slsa/v1", with: "slsa/v2alpha4") + keyless
                + "  storage.oci.encoding-format: sigstore-bundle\n")
        let runFile = try s.dir.write("run.yaml", RunFixtures.taskRun(image: s.image, digest: s.digest))
        let objects = s.dir.file("objects")
        for (name, text) in s.pushCredentials { try s.dir.write("objects/\(name)", text) }
        let setup = LocalSetup(
            configFile: s.dir.file("config.yaml"), objectDirectories: [objects],
            dockerConfig: s.dir.file("no-docker").path, trustedRoot: root)
        let signed = await signRunFile(runFile, setup: setup)
        #expect(signed.exitCode == 0, "\(signed.text)")
        // Each bundle's content is logged: provenance (dsse), image signature (hashedrekord), and the image's
        // cosign v3 statement (dsse).
        #expect(rekor.entryCount == 3)

        let client = RegistryClient(transport: s.transport)
        let session = client.session(
            repository: try ImageReference(parsingRepository: s.image),
            credential: Credential(username: "reader", password: "r3ad-only"), scopes: [Scope.pull("team-a/app")])
        let bundles = try await session.bundles(of: try Digest(parsingSHA256: s.digest))
        #expect(bundles.count == 2)
        for entry in bundles {
            let file = try s.dir.write("bundle-\(UUID()).json", data: entry.bundle)
            let result = try await Python.run(
                "sigstore_verify.py",
                [
                    trust.path, file.path,
                    "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller",
                    issuer.url, "sha256:\(hex)",
                ])
            #expect(
                result.status == 0 && result.stdout.contains(entry.predicateType),
                "\(entry.predicateType): \(result.stderr)")
        }
        // Our own keyless verifier agrees, and refuses another identity or another trust root.
        let trusted = try TrustedRoot(contentsOf: root)
        let sa = "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller"
        func verifier(_ identity: IdentityMatch, root: TrustedRoot) -> AttachmentVerifier {
            AttachmentVerifier(
                client: client,
                credentials: [
                    SourcedCredential(
                        Credential(username: "reader", password: "r3ad-only"),
                        source: .init(kind: .dockerConfig, origin: "t", key: ""))
                ],
                authority: .keyless(KeylessPolicy(identity: identity, issuer: .exact(issuer.url), trustedRoot: root)))
        }
        let image = try ImageReference(parsingDigest: "\(s.image)@\(s.digest)")
        let good = try await verifier(.exact(sa), root: trusted).verifyBundles(image, predicateType: nil)
        #expect(good.valid.count == 2, "\(good.checks.map(\.detail))")
        #expect(good.valid.allSatisfy { $0.detail.contains("signed by \(sa)") })
        let byPattern = try await verifier(.pattern("^https://kubernetes.io/namespaces/tekton-chains/"), root: trusted)
            .verifyBundles(image, predicateType: nil)
        #expect(byPattern.valid.count == 2)
        let stranger = try await verifier(.exact(sa + "-other"), root: trusted).verifyBundles(
            image, predicateType: nil)
        #expect(stranger.valid.isEmpty && stranger.checks.allSatisfy { $0.detail.contains("does not match") })
        let otherFulcio = try await FulcioSimulator(issuers: [issuer])
        defer { Task { await otherFulcio.stop() } }
        let foreign = try TrustedRoot(
            json: Data(SigstoreTrust.trustedRoot(fulcio: otherFulcio, rekor: rekor).utf8), source: "other")
        let untrusted = try await verifier(.exact(sa), root: foreign).verifyBundles(image, predicateType: nil)
        #expect(untrusted.valid.isEmpty && untrusted.checks.allSatisfy { $0.detail.contains("does not chain") })

        // 2. The tag layout (.sig/.att) of the same run, signed again: each layer carries cosign's bundle annotation
        // (SET plus the entry it signs), whose body is the entry Rekor holds.
        try s.dir.write("config.yaml", RunFixtures.ociConfig + keyless)
        let again = await signRunFile(runFile, setup: setup, force: true)
        #expect(again.exitCode == 0, "\(again.text)")
        let fetched = try #require(try await session.manifest("sha256-\(hex).sig"))
        let sig = try JSONDecoder().decode(ImageManifest.self, from: fetched.bytes)
        let annotations = try #require(sig.layers.first?.annotations)
        let bundle = try #require(annotations[CosignAnnotation.bundle])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(bundle.utf8)) as? [String: Any])
        let payload = try #require(json["Payload"] as? [String: Any])
        #expect(json["SignedEntryTimestamp"] as? String != nil && payload["logIndex"] as? Int != nil)
        #expect(annotations[CosignAnnotation.certificate]?.contains("BEGIN CERTIFICATE") == true)
        // The tag layout verifies keylessly too (SET only: cosign's annotation has no inclusion proof).
        let sigs = try await verifier(.exact(sa), root: trusted).verifySignatures(image)
        #expect(sigs.valid.count == 1, "\(sigs.checks.map(\.detail))")
        let atts = try await verifier(.exact(sa), root: trusted).verifyAttestations(
            image, predicateType: "https://slsa.dev/provenance/v0.2")
        #expect(atts.valid.count == 1, "\(atts.checks.map(\.detail))")
        // A key verifier finds no key signature there.
        var keyedVerifier = verifier(.exact(sa), root: trusted)
        keyedVerifier.authority = .key(s.key.publicKey)
        let keyed = try await keyedVerifier.verifySignatures(image)
        #expect(keyed.valid.isEmpty)
    }

    @Test(
        "Rekor down, then back: the retry reuses the signature and certificate — no second layer, referrer or entry"
    )
    func retryReusesWhatWasMade() async throws {
        let (s, fulcio, rekor, keyless, root) = try await stack()
        defer {
            Task {
                await s.stop()
                await fulcio.stop()
                await rekor.stop()
            }
        }
        for (name, text) in s.pushCredentials { try s.dir.write("objects/\(name)", text) }
        let hex = String(s.digest.dropFirst(7))
        let client = RegistryClient(transport: s.transport)
        let session = client.session(
            repository: try ImageReference(parsingRepository: s.image),
            credential: Credential(username: "reader", password: "r3ad-only"), scopes: [Scope.pull("team-a/app")])
        func layers(_ kind: String) async throws -> [Descriptor] {
            guard let fetched = try await session.manifest("sha256-\(hex).\(kind)") else { return [] }
            return try JSONDecoder().decode(ImageManifest.self, from: fetched.bytes).layers
        }

        for encoding in ["dsse", "sigstore-bundle"] {
            try s.dir.write(
                "config.yaml",
                RunFixtures.ociConfig.replacingOccurrences(of: "oci,tekton", with: "oci") + keyless
                    + "  storage.oci.encoding-format: \(encoding)\n")
            let runFile = try s.dir.write(
                "run-\(encoding).yaml", RunFixtures.taskRun(image: s.image, digest: s.digest))
            let setup = LocalSetup(
                configFile: s.dir.file("config.yaml"), objectDirectories: [s.dir.file("objects")],
                dockerConfig: s.dir.file("no-docker").path, runTimeout: .seconds(20), trustedRoot: root)
            let certificatesBefore = fulcio.stats.v2
            let entriesBefore = rekor.entryCount
            rekor.setDown(true)
            let first = await signRunFile(runFile, setup: setup)
            #expect(first.exitCode == 1 && first.outcome?.isRetryable == true, "\(first.text)")
            let retry = try s.dir.write("retry-\(encoding).yaml", try #require(first.document))
            let kept = try String(contentsOf: retry, encoding: .utf8)
            #expect(kept.contains("chains-in-swift.dev/attempt-taskrun-") && kept.contains("chains.tekton.dev/retries"))

            rekor.setDown(false)
            let second = await signRunFile(retry, setup: setup)
            #expect(second.exitCode == 0, "\(second.text)")
            #expect(second.outcome?.artifacts.allSatisfy(\.reused) == true)
            // The retry signed nothing: what it stored carries the first attempt's certificate. (Being a new process,
            // it asked Fulcio once for the identity it signs as now, to hold the records to it.)
            let firstChains = Set((first.outcome?.artifacts ?? []).compactMap { $0.certificateChain?.first })
            let retryChains = Set((second.outcome?.artifacts ?? []).compactMap { $0.certificateChain?.first })
            #expect(firstChains.count == 1 && retryChains == firstChains)
            #expect(fulcio.stats.v2 == certificatesBefore + 2)
            let done = try #require(second.document)
            #expect(!done.contains("chains-in-swift.dev/attempt-") && done.contains("chains.tekton.dev/transparency"))
            if encoding == "dsse" {
                #expect(rekor.entryCount == entriesBefore + 2)
                let sig = try await layers("sig")
                let att = try await layers("att")
                #expect(sig.count == 1 && att.count == 1)
                #expect(sig[0].annotations?[CosignAnnotation.bundle] != nil)
                #expect(att[0].annotations?[CosignAnnotation.bundle] != nil)
                #expect(second.facts.contains { $0.contains("added its transparency-log entry to the layer") })
            } else {
                // The image's cosign v3 statement is logged too; its bundle waited for the entry.
                #expect(rekor.entryCount == entriesBefore + 3)
                #expect(first.facts.contains { $0.contains("is not pushed until its transparency-log entry is made") })
                let bundles = try await session.bundles(of: try Digest(parsingSHA256: s.digest))
                #expect(bundles.count == 2)
            }
        }
        // What was stored verifies keylessly.
        let verifier = AttachmentVerifier(
            client: client,
            credentials: [
                SourcedCredential(
                    Credential(username: "reader", password: "r3ad-only"),
                    source: .init(kind: .dockerConfig, origin: "t", key: ""))
            ],
            authority: .keyless(
                KeylessPolicy(
                    identity: .pattern("tekton-chains-controller$"), issuer: .exact(issuer.url),
                    trustedRoot: try TrustedRoot(contentsOf: root))))
        let image = try ImageReference(parsingDigest: "\(s.image)@\(s.digest)")
        #expect(try await verifier.verifySignatures(image).valid.count == 1)
        #expect(try await verifier.verifyBundles(image, predicateType: nil).valid.count == 2)
    }
}
