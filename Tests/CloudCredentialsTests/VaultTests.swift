import ChainsCore
import ChainsTesting
import Foundation
import HTTPTransport
import KubeModels
import SPIFFE
import Signing
import Sigstore
import Testing

@testable import CloudCredentials

/// `hashivault://KEY`: Vault transit, simulated from Vault's HTTP API reference; signatures checked with
/// securesystemslib and `cryptography` from the transit key's public half.
@Suite("KMS signers: hashivault:// against a Vault transit simulator", .serialized)
struct VaultTests {

    @Test("the simulator answers as Vault documents: no token 403, an unknown key 404, a bad login refused")
    func simulator() async throws {
        let vault = try await VaultSimulator(jwt: "sa-token")
        defer { Task { await vault.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        func get(_ path: String, token: String?) async throws -> Int {
            var headers: HTTPHeaders = [:]
            if let token { headers["X-Vault-Token"] = token }
            return try await http.send(
                HTTPRequest(method: "GET", url: URL(string: vault.address + path)!, headers: headers)
            ).status
        }
        #expect(try await get("/v1/transit/keys/chains", token: nil) == 403)
        #expect(try await get("/v1/transit/keys/chains", token: "hvs.wrong") == 403)
        #expect(try await get("/v1/transit/keys/other", token: vault.rootToken) == 404)
        #expect(try await get("/v1/transit/keys/chains", token: vault.rootToken) == 200)
        let login = try await http.send(
            HTTPRequest(
                method: "POST", url: URL(string: vault.address + "/v1/auth/kubernetes/login")!,
                body: Data(#"{"role":"chains","jwt":"other"}"#.utf8)))
        #expect(login.status == 403)
    }

    func config(_ dir: TemporaryDirectory, _ extra: String) throws -> URL {
        try dir.write(
            "config.yaml",
            "artifacts.taskrun.format: slsa/v1\nartifacts.taskrun.signer: kms\nartifacts.oci.signer: kms\n"
                + "artifacts.oci.storage: tekton\nsigners.kms.kmsref: hashivault://chains\n" + extra)
    }

    @Test(
        "signed with the transit key — a token file, or a Kubernetes-auth login with the ServiceAccount token; both verify",
        arguments: ["token-file", "kubernetes-login"])
    func signs(auth: String) async throws {
        let dir = try TemporaryDirectory()
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6dGVrdG9uLWNoYWlucyJ9.c2ln"
        let vault = try await VaultSimulator(mount: "kubernetes", role: "chains", jwt: jwt)
        defer { Task { await vault.stop() } }
        let extra =
            auth == "token-file"
            ? "signers.kms.auth.address: \(vault.address)\nsigners.kms.auth.token-path: \(try dir.write("token", vault.rootToken + "\n").path)\n"
            : "signers.kms.auth.address: \(vault.address)\nsigners.kms.auth.oidc.path: kubernetes\n"
                + "signers.kms.auth.oidc.role: chains\nsigners.kms.auth.oidc.token-path: \(try dir.write("sa-token", jwt).path)\n"
        let setup = LocalSetup(configFile: try config(dir, extra))
        let signed = await signRunFile(PackagePaths.example("taskrun-kaniko.yaml"), setup: setup)
        #expect(signed.exitCode == 0, "\(signed.facts)")
        #expect(signed.text.contains("Vault transit key hashivault://chains"), "\(signed.text)")
        #expect(vault.signs == 2, "one signature per artifact: \(vault.signs)")
        let failures = try await independentFailures(
            signed, publicKeyPEM: vault.key.publicKey.pemRepresentation, in: dir)
        #expect(failures.isEmpty, "\(failures)")
        #expect(!signed.text.contains(vault.rootToken) && !signed.text.contains(jwt))
    }

    @Test("refusals are named: no address, plain http to another host, no way to log in, a token Vault refuses")
    func refusals() async throws {
        let dir = try TemporaryDirectory()
        let vault = try await VaultSimulator()
        defer { Task { await vault.stop() } }
        func text(_ extra: String) async throws -> String {
            var setup = LocalSetup(configFile: try config(dir, extra))
            setup.environment = [:]
            let signed = await signRunFile(PackagePaths.example("taskrun-kaniko.yaml"), setup: setup)
            #expect(signed.exitCode != 0 && signed.outcome?.annotations.mark["chains.tekton.dev/signed"] != "true")
            return signed.text
        }
        let noAddress = try await text("")
        #expect(noAddress.contains("signers.kms.auth.address: is empty and VAULT_ADDR is not set"), "\(noAddress)")
        let clear = try await text("signers.kms.auth.address: http://vault.example.com:8200\n")
        #expect(clear.contains("is plain http; the Vault token would cross the network in clear"), "\(clear)")
        let noLogin = try await text("signers.kms.auth.address: \(vault.address)\n")
        #expect(noLogin.contains("no Vault token: set signers.kms.auth.token-path"), "\(noLogin)")
        let refused = try await text("signers.kms.auth.address: \(vault.address)\nsigners.kms.auth.token: hvs.nope\n")
        #expect(
            refused.contains("GET /v1/transit/keys/chains: HTTP 403: permission denied")
                && !refused.contains("hvs.nope"),
            "\(refused)")
    }

    @Test(
        "SPIRE: a JWT-SVID for signers.kms.auth.spire.audience logs in at the jwt mount, as Chains' TestVaultKMSSpire")
    func spire() async throws {
        let dir = try TemporaryDirectory()
        let issuer = TestOIDCIssuer(url: "https://spire.example.org", kind: .spiffe)
        let svid = issuer.token(
            subject: "spiffe://example.org/ns/tekton-chains/sa/tekton-chains-controller", audience: "vault")
        let agent = try await SPIFFEAgent(token: svid)
        defer { agent.stop() }
        let vault = try await VaultSimulator(mount: "jwt", role: "chains", jwt: svid)
        defer { Task { await vault.stop() } }
        func sign(_ extra: String) async throws -> SignedRun {
            var setup = LocalSetup(
                configFile: try config(
                    dir,
                    "signers.kms.auth.address: \(vault.address)\nsigners.kms.auth.oidc.role: chains\n" + extra))
            setup.spiffeTokenProvider = { (endpoint: String?, explicit: Bool) throws(IdentityTokenError) in
                try SPIFFETokenProvider(endpoint: endpoint, explicit: explicit)
            }
            setup.environment = [:]
            return await signRunFile(PackagePaths.example("taskrun-kaniko.yaml"), setup: setup)
        }
        let signed = try await sign(
            "signers.kms.auth.spire.sock: unix://\(agent.socket)\nsigners.kms.auth.spire.audience: vault\n")
        #expect(signed.exitCode == 0, "\(signed.facts)")
        #expect(vault.signs == 2 && agent.log.contains("FetchJWTSVID audience=['vault'] header=true"), "\(agent.log)")
        let failures = try await independentFailures(
            signed, publicKeyPEM: vault.key.publicKey.pemRepresentation, in: dir)
        #expect(failures.isEmpty, "\(failures)")
        #expect(!signed.text.contains(svid))

        let noAudience = try await sign("signers.kms.auth.spire.sock: unix://\(agent.socket)\n")
        #expect(
            noAudience.exitCode == 2 && noAudience.text.contains("signers.kms.auth.spire.audience: is empty"),
            "\(noAudience.text)")
        let missing = try await sign(
            "signers.kms.auth.spire.sock: unix://\(dir.file("no-agent.sock").path)\n"
                + "signers.kms.auth.spire.audience: vault\n")
        #expect(
            missing.exitCode != 0 && missing.text.contains("\(dir.file("no-agent.sock").path) does not exist")
                && missing.text.contains("signers.kms.auth.spire.sock") && missing.text.contains("csi.spiffe.io")
                && missing.outcome?.isRetryable == true, "\(missing.text)")
    }
}
