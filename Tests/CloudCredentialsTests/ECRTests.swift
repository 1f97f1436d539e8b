import ChainsCore
import ChainsTesting
import Foundation
import HTTPTransport
import OCI
import RegistryAuth
import Signing
import Synchronization
import Testing

@testable import CloudCredentials

/// ECR for real, end to end: IRSA's web identity → STS (moto) → `ecr:GetAuthorizationToken`, SigV4-checked by moto
/// → `AWS:<password>` → a push to the real `docker-registry`, which knows that password through htpasswd and serves
/// TLS for the ECR name, reached on loopback through `--resolve`.
@Suite("ECR: IRSA → STS → ECR token → push, against moto and a real registry", .serialized)
struct ECRTests {
    static let account = "123456789012"

    struct Stage {
        let moto: MotoServer
        let registry: RegistryServer
        let host: String
        let image: String
        let digest: String
        let dir: TemporaryDirectory
        var setup: LocalSetup

        func stop() {
            moto.stop()
            registry.stop()
        }
    }

    /// moto with `unauthenticated` free actions, a TLS registry for the ECR name accepting `AWS:<moto's token>`, an
    /// image in it, a run that built it, and a setup that reaches the registry by its ECR name.
    func stage(unauthenticated: Int, user: Bool = false) async throws -> (Stage, [String: String]) {
        let moto = try await MotoServer(unauthenticatedActions: unauthenticated)
        let iam = try await moto.setUp(user ? ["--user"] : [])
        let name = "\(Self.account).dkr.ecr.us-east-1.amazonaws.com"
        let registry = try await RegistryServer(
            auth: .htpasswd(["AWS": "\(Self.account)-auth-token"]), tls: true, certificateNames: ["DNS:\(name)"])
        let host = "\(name):\(registry.port)"
        let ca = try #require(registry.tls).certificate.path
        let http = try AsyncHTTPClientTransport(
            policy: .init(registries: [host: .init(.customCA(path: ca))]),
            rules: ConnectionRules(pinned: [host: "127.0.0.1"]))
        let basic = "Basic " + Data("AWS:\(Self.account)-auth-token".utf8).base64EncodedString()
        let digest = try await pushTestImage(
            transport: http, scheme: "https", registry: host, repository: "team/app", tag: "v1", authorization: basic)
        try await http.shutdown()
        let dir = try TemporaryDirectory()
        _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.file("secrets"))
        let run = try dir.write("run.yaml", RunFixtures.taskRun(image: "\(host)/team/app", digest: digest))
        _ = run
        var setup = LocalSetup(
            configFile: try dir.write("config.yaml", RunFixtures.ociConfig), signingSecrets: dir.file("secrets"),
            objectDirectories: [], dockerConfig: nil)
        setup.registries = RegistrySettings(caBundles: [host: ca], resolve: [host: "127.0.0.1"])
        setup.environment = ["AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto.endpoint]
        let stage = Stage(
            moto: moto, registry: registry, host: host, image: "\(host)/team/app", digest: digest, dir: dir,
            setup: setup)
        return (stage, iam)
    }

    @Test("IRSA: the web identity token becomes a role session, the role an ECR token, the token a push")
    func irsa() async throws {
        // Two set-up actions, then STS's unsigned AssumeRoleWithWebIdentity; every later call is signature-checked.
        var (stage, iam) = try await stage(unauthenticated: 3)
        defer { stage.stop() }
        let token = try stage.dir.write(
            "token", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2ln\n")
        stage.setup.environment["AWS_ROLE_ARN"] = iam["role"]
        stage.setup.environment["AWS_WEB_IDENTITY_TOKEN_FILE"] = token.path
        let signed = await signRunFile(stage.dir.file("run.yaml"), setup: stage.setup)
        #expect(signed.exitCode == 0, "\(signed.facts)\n\(stage.moto.log)")
        let text = signed.text
        #expect(text.contains(".sig"), "\(text)")
        #expect(
            text.contains(
                "user AWS from cloud keychain ECR, IAM role \(iam["role"]!) (web identity, IRSA), for \(stage.host)"),
            "\(text)")
        #expect(signed.setupDiagnostics.contains { $0.message.contains("cloud keychain ECR: IAM role") })
        // moto saw our STS call and a signed ECR call it accepted; the ECR password appears nowhere.
        #expect(stage.moto.log.contains("\"POST / HTTP/1.1\" 200"), "\(stage.moto.log)")
        #expect(!text.contains("\(Self.account)-auth-token") && !(signed.document ?? "").contains("auth-token"))
        // `chains verify` reads it back the way `sign` pushed it: the no-run keychain holds the cloud keychains.
        // (A new process: its unsigned AssumeRoleWithWebIdentity is let through; its ECR call is checked.)
        try await stage.moto.allowUnauthenticated(1)
        let image = try ImageReference(parsingDigest: "\(stage.image)@\(stage.digest)")
        let key = try LocalRegistryAccess.readKey(stage.dir.file("secrets/x509.pem").path)
        let verified = try await LocalRegistryAccess.withVerifier(
            stage.setup.registries, dockerConfig: nil, image: image, authority: .key(key),
            environment: stage.setup.environment
        ) { verifier, notes in
            #expect(notes.contains { $0.message.contains("cloud keychain ECR: IAM role") }, "\(notes)")
            #expect(verifier.credentials.first?.source.kind == .cloudKeychain)
            return try await verifier.verifySignatures(image)
        }
        #expect(verified.valid.count == 1, "\(verified.checks)")
        // Without the workload identity, nothing can read the private repository.
        var bare = stage.setup.environment
        bare["AWS_ROLE_ARN"] = nil
        bare["AWS_WEB_IDENTITY_TOKEN_FILE"] = nil
        let denied = try? await LocalRegistryAccess.withVerifier(
            stage.setup.registries, dockerConfig: nil, image: image, authority: .key(key), environment: bare
        ) { verifier, _ in try await verifier.verifySignatures(image) }
        #expect(denied?.valid.isEmpty ?? true, "read without any credential")
    }

    @Test("a refused identity is named: an unknown access key, a role STS will not give; the run is not signed")
    func refused() async throws {
        var (stage, _) = try await stage(unauthenticated: 2)
        defer { stage.stop() }
        // moto enforces signatures now: an access key it never issued is refused by ECR.
        stage.setup.environment["AWS_ACCESS_KEY_ID"] = "AKIAUNKNOWNUNKNOWN00"
        stage.setup.environment["AWS_SECRET_ACCESS_KEY"] = "not-a-real-secret"
        let signed = await signRunFile(stage.dir.file("run.yaml"), setup: stage.setup)
        #expect(signed.exitCode != 0)
        let text = signed.text
        #expect(
            text.contains(
                "ECR for \(stage.host): AWS access key AKIA… from the environment: GetAuthorizationToken for account \(Self.account) in us-east-1 refused: HTTP 403"
            ),
            "\(text)")
        #expect(!text.contains("not-a-real-secret"))
        #expect(signed.outcome?.annotations.mark["chains.tekton.dev/signed"] != "true")
    }

    @Test("ECR unreachable: the push fails as retryable (an outage spends no retry), the warning names ECR")
    func outage() async throws {
        var (stage, made) = try await stage(unauthenticated: 5, user: true)
        defer { stage.stop() }
        stage.setup.environment["AWS_ACCESS_KEY_ID"] = made["access_key"]
        stage.setup.environment["AWS_SECRET_ACCESS_KEY"] = made["secret_key"]
        stage.moto.stop()
        let signed = await signRunFile(stage.dir.file("run.yaml"), setup: stage.setup)
        let failures = signed.outcome?.failures ?? []
        #expect(signed.exitCode != 0 && !failures.isEmpty, "\(signed.text)")
        #expect(failures.allSatisfy { $0.isRetryable }, "\(signed.text)")
        #expect(
            signed.text.contains("ECR for \(stage.host)") && signed.text.contains("cannot be reached"), "\(signed.text)"
        )
        #expect(signed.outcome?.annotations.mark["chains.tekton.dev/signed"] != "true")
    }

    @Test("EKS Pod Identity: the agent's credentials (its token sent as Authorization) sign the ECR call")
    func podIdentity() async throws {
        // Five set-up actions (a role; a user with a policy and an access key); the ECR call is checked.
        var (stage, made) = try await stage(unauthenticated: 5, user: true)
        defer { stage.stop() }
        let iam = made
        let agentToken = "pod-identity-token-\(UUID().uuidString)"
        let seen = Lines()
        let agent = try await TestHTTPServer { request in
            seen.append("\(request.method) \(request.uri) \(request.header("Authorization") ?? "-")")
            guard request.header("Authorization") == agentToken else {
                return ServedResponse(status: 401, headers: [], body: Data("{\"message\":\"unauthorized\"}".utf8))
            }
            let body: [String: Any] = [
                "AccessKeyId": iam["access_key"]!, "SecretAccessKey": iam["secret_key"]!, "Token": "",
                "AccountId": Self.account,
                "Expiration": ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600)),
            ]
            return ServedResponse(
                status: 200, headers: [("Content-Type", "application/json")],
                body: try! JSONSerialization.data(withJSONObject: body))
        }
        defer { Task { await agent.stop() } }
        let tokenFile = try stage.dir.write("eks-pod-identity-token", agentToken)
        stage.setup.environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://127.0.0.1:\(agent.port)/v1/credentials"
        stage.setup.environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = tokenFile.path
        let signed = await signRunFile(stage.dir.file("run.yaml"), setup: stage.setup)
        #expect(signed.exitCode == 0, "\(signed.facts)\n\(stage.moto.log)")
        #expect(
            signed.text.contains("cloud keychain ECR, EKS Pod Identity (http://127.0.0.1:\(agent.port)/v1/credentials)")
        )
        #expect(seen.all == ["GET /v1/credentials \(agentToken)"], "asked once, with its token: \(seen.all)")
        #expect(!signed.text.contains(iam["secret_key"]!) && !signed.text.contains(agentToken))
    }
}

/// Lines a test server saw.
final class Lines: Sendable {
    let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}
