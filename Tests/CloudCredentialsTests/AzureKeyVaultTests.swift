import ChainsCore
import ChainsTesting
import Foundation
import HTTPTransport
import KubeModels
import Signing
import Testing

@testable import CloudCredentials

/// `azurekms://VAULT/KEY[/VERSION]` with AKS workload identity (or a client secret), against simulators of Entra ID
/// and Key Vault; the vault's name reaches the loopback simulator through `--resolve`, its CA through `SSL_CERT_FILE`.
@Suite("KMS signers: azurekms:// against Entra ID and Key Vault simulators", .serialized)
struct AzureKeyVaultTests {
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    let client = "11111111-2222-3333-4444-555555555555"
    let federated = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6dGVrdG9uLWNoYWluczpjaGFpbnMifQ.c2ln"
    let secret = "client-secret-\(UUID().uuidString)"
    static let vaultName = "chains.vault.azure.net"

    struct Stage {
        let entra: EntraIDSimulator
        let vault: AzureKeyVaultSimulator
        let ca: TestCA
        let dir: TemporaryDirectory
        var host: String { "\(AzureKeyVaultTests.vaultName):\(vault.port)" }
        var pins: [String: String] { [host: "127.0.0.1"] }
        func transport() throws -> AsyncHTTPClientTransport {
            try AsyncHTTPClientTransport(
                policy: .init(default: .init(.customCA(path: ca.certificate.path))),
                rules: ConnectionRules(pinned: pins))
        }
        func stop() async {
            await vault.stop()
            await entra.stop()
        }
    }

    func stage(resource: String = "https://vault.azure.net") async throws -> Stage {
        let entra = try await EntraIDSimulator(
            tenant: tenant, clientID: client, federatedToken: federated, clientSecret: secret)
        let dir = try TemporaryDirectory()
        let ca = try TestCA(directory: dir, names: ["DNS:\(Self.vaultName)"])
        let vault = try await AzureKeyVaultSimulator(name: Self.vaultName, tls: ca, trusts: entra, resource: resource)
        return Stage(entra: entra, vault: vault, ca: ca, dir: dir)
    }

    func environment(_ stage: Stage, federated: Bool = true) throws -> [String: String] {
        var env = [
            "AZURE_CLIENT_ID": client, "AZURE_TENANT_ID": tenant, "AZURE_AUTHORITY_HOST": stage.entra.authority,
            "SSL_CERT_FILE": stage.ca.certificate.path,
        ]
        if federated {
            env["AZURE_FEDERATED_TOKEN_FILE"] = try stage.dir.write("azure-identity-token", self.federated).path
        } else {
            env["AZURE_CLIENT_SECRET"] = secret
        }
        return env
    }

    @Test("kmsref forms: vault and key, an optional version; what is wrong is named")
    func references() throws {
        let plain = try AzureKeyVaultReference(parsing: "azurekms://Chains.vault.azure.net/signing-key")
        #expect(plain.vault == "chains.vault.azure.net" && plain.key == "signing-key" && plain.version == nil)
        let versioned = try AzureKeyVaultReference(
            parsing: "azurekms://chains.vault.azure.net:8443/signing-key/0f1e2d3c4b5a69788796a5b4c3d2e1f0")
        #expect(versioned.vaultHost == "chains.vault.azure.net" && versioned.version?.count == 32)
        #expect(try AzureKeyVaultReference(parsing: "azurekms://v.vault.azure.net/k/").version == nil)
        let cases = [
            "azurekms://": "names no vault and key", "azurekms://v.vault.azure.net": "names no vault and key",
            "azurekms://v.vault.azure.net/k/v/extra": "names no vault and key",
            "azurekms://v.vault.azure.net/key_1": "may hold only letters, digits and -",
            "azurekms://v.vault.azure.net/k/ABC": "is not a Key Vault version id",
            "azurekms://user@v.vault.azure.net/k": "is not a vault host",
        ]
        for (text, why) in cases {
            #expect(throws: CloudCredentialError.self, "\(text)") { try AzureKeyVaultReference(parsing: text) }
            do {
                _ = try AzureKeyVaultReference(parsing: text)
            } catch {
                #expect(error.reason.contains(why), "\(text): \(error.reason)")
            }
        }
    }

    @Test("the Key Vault simulator: api-version, the challenge, audiences, 404, digest length, disabled, RBAC")
    func simulator() async throws {
        let stage = try await stage()
        defer { Task { await stage.stop() } }
        let version = try stage.vault.addVersion("signing", .p256)
        let http = try stage.transport()
        defer { Task { try? await http.shutdown() } }
        func token(_ scope: String) async throws -> String {
            let body = EntraIDCredential.form([
                ("client_id", client), ("scope", scope), ("grant_type", "client_credentials"),
                ("client_secret", secret),
            ])
            let r = try await http.send(
                HTTPRequest(
                    method: "POST", url: URL(string: "\(stage.entra.authority)\(tenant)/oauth2/v2.0/token")!,
                    headers: ["Content-Type": "application/x-www-form-urlencoded"], body: Data(body.utf8)))
            let json = try #require(try JSONSerialization.jsonObject(with: r.body) as? [String: Any])
            return try #require(json["access_token"] as? String)
        }
        func send(_ method: String, _ path: String, token: String?, body: String? = nil) async throws -> HTTPResponse {
            var headers: HTTPHeaders = ["Content-Type": "application/json"]
            if let token { headers["Authorization"] = "Bearer \(token)" }
            return try await http.send(
                HTTPRequest(
                    method: method, url: URL(string: "https://\(stage.host)/\(path)")!, headers: headers,
                    body: body.map { Data($0.utf8) }))
        }
        let vaultToken = try await token("https://vault.azure.net/.default")
        #expect(try await send("GET", "keys/signing", token: vaultToken).status == 400, "no api-version")
        let challenge = try await send("GET", "keys/signing?api-version=7.4", token: nil)
        #expect(challenge.status == 401)
        #expect(
            challenge.headers.values("WWW-Authenticate") == [
                #"Bearer authorization="https://login.microsoftonline.com/\#(tenant)", resource="https://vault.azure.net""#
            ])
        let armToken = try await token("https://management.azure.com/.default")
        let audience = try await send("GET", "keys/signing?api-version=7.4", token: armToken)
        #expect(audience.status == 401 && String(decoding: audience.body, as: UTF8.self).contains("AKV10022"))
        let got = try await send("GET", "keys/signing?api-version=7.4", token: vaultToken)
        let json = try #require(try JSONSerialization.jsonObject(with: got.body) as? [String: Any])
        let jwk = try #require(json["key"] as? [String: Any])
        #expect(got.status == 200 && jwk["kid"] as? String == "https://\(Self.vaultName)/keys/signing/\(version)")
        #expect(try await send("GET", "keys/other?api-version=7.4", token: vaultToken).status == 404)
        let short = try await send(
            "POST", "keys/signing/\(version)/sign?api-version=7.4", token: vaultToken,
            body: #"{"alg":"ES256","value":"AAAA"}"#)
        #expect(short.status == 400)
        stage.vault.disable("signing")
        let digest = AzureKeyVaultSimulator.base64URL(Data(repeating: 7, count: 32))
        let disabled = try await send(
            "POST", "keys/signing/\(version)/sign?api-version=7.4", token: vaultToken,
            body: #"{"alg":"ES256","value":"\#(digest)"}"#)
        #expect(disabled.status == 403)
        stage.vault.forbid()
        let forbidden = try await send("GET", "keys/signing?api-version=7.4", token: vaultToken)
        #expect(forbidden.status == 403 && String(decoding: forbidden.body, as: UTF8.self).contains("ForbiddenByRbac"))
    }

    @Test(
        "a run and its image signed in Key Vault; both verify from the vault's public key; one Entra token",
        arguments: [AzureKeyVaultSimulator.Kind.p256, .rsa2048])
    func signs(kind: AzureKeyVaultSimulator.Kind) async throws {
        let stage = try await stage()
        defer { Task { await stage.stop() } }
        let version = try stage.vault.addVersion("signing", kind)
        let kmsref = "azurekms://\(stage.host)/signing"
        var setup = LocalSetup(
            configFile: try stage.dir.write(
                "config.yaml",
                "artifacts.taskrun.format: slsa/v1\nartifacts.taskrun.signer: kms\nartifacts.oci.signer: kms\n"
                    + "artifacts.oci.storage: tekton\nsigners.kms.kmsref: \(kmsref)\n"))
        setup.environment = try environment(stage)
        setup.registries = RegistrySettings(resolve: stage.pins)
        let signed = await signRunFile(PackagePaths.example("taskrun-kaniko.yaml"), setup: setup)
        #expect(signed.exitCode == 0, "\(signed.facts)")
        #expect(signed.text.contains("Azure Key Vault key \(kmsref)"), "\(signed.text)")
        #expect(stage.vault.signed == Array(repeating: "/keys/signing/\(version)/sign", count: 2))
        #expect(stage.entra.issued.count == 1, "one token for the key and both signatures")
        let pem = try #require(stage.vault.publicKeyPEM("signing"))
        let failures = try await independentFailures(signed, publicKeyPEM: pem, in: stage.dir)
        #expect(failures.isEmpty, "\(failures)")
        for secret in [federated] + stage.entra.issued {
            #expect(!signed.text.contains(secret) && !(signed.document ?? "").contains(secret))
        }
    }

    @Test("the version read when connecting signs, after the key is rotated too; a versioned kmsref keeps its own")
    func rotation() async throws {
        let stage = try await stage()
        defer { Task { await stage.stop() } }
        let first = try stage.vault.addVersion("signing", .p256)
        let http = try stage.transport()
        defer { Task { try? await http.shutdown() } }
        let credential = try #require(
            EntraIDCredential(environment: try environment(stage, federated: false), transport: http))
        let signer = try await AzureKeyVaultSigner.connect(
            try AzureKeyVaultReference(parsing: "azurekms://\(stage.host)/signing"), credential: credential,
            transport: http)
        let second = try stage.vault.addVersion("signing", .p256)
        let message = Data("rotated meanwhile".utf8)
        let signature = try await signer.sign(message)
        #expect(signer.version == first && stage.vault.signed == ["/keys/signing/\(first)/sign"])
        let firstKey = try PublicKey(pem: try #require(stage.vault.publicKeyPEM("signing", version: first)), file: "v1")
        #expect(firstKey.isValidSignature(signature, for: message))
        #expect(credential.identity.contains("(AZURE_CLIENT_SECRET)") && credential.requests == 1)

        let pinned = try await AzureKeyVaultSigner.connect(
            try AzureKeyVaultReference(parsing: "azurekms://\(stage.host)/signing/\(first)"), credential: credential,
            transport: http)
        let latest = try await AzureKeyVaultSigner.connect(
            try AzureKeyVaultReference(parsing: "azurekms://\(stage.host)/signing"), credential: credential,
            transport: http)
        #expect(pinned.version == first && latest.version == second && credential.requests == 1)
    }

    @Test("refusals name the kmsref, the identity and what the peer said; a foreign resource gets no token")
    func refusals() async throws {
        let foreign = try await stage(resource: "https://vault.example.org")
        defer { Task { await foreign.stop() } }
        try foreign.vault.addVersion("signing", .p256)
        let http = try foreign.transport()
        defer { Task { try? await http.shutdown() } }
        let who = "signers.kms.kmsref azurekms://\(foreign.host)/signing (Entra ID app \(client) in tenant \(tenant)"
        let refused = try await connect(foreign, "signing", via: http)
        #expect(
            refused.contains(who)
                && refused.contains(
                    "\(Self.vaultName) asks for a token for https://vault.example.org, which it is not part of: "
                        + "no token was sent"),
            "\(refused)")
        #expect(foreign.entra.issued.isEmpty && foreign.vault.authorizedRequests == 0)

        let stage = try await stage()
        defer { Task { await stage.stop() } }
        try stage.vault.addVersion("signing", .p256)
        let direct = try stage.transport()
        defer { Task { try? await direct.shutdown() } }
        let missing = try await connect(stage, "other", via: direct)
        #expect(missing.contains("Key Vault GET keys/other: HTTP 404: KeyNotFound: A key with (name/id) other"))
        stage.vault.disable("signing")
        let disabled = try await connect(stage, "signing", via: direct)
        #expect(
            disabled.contains("the key https://\(Self.vaultName)/keys/signing/") && disabled.contains("is disabled"))
        stage.vault.forbid()
        let forbidden = try await connect(stage, "signing", via: direct)
        #expect(
            forbidden.contains("(workload identity)")
                && forbidden.contains("HTTP 403: Forbidden/ForbiddenByRbac: Caller is not authorized"), "\(forbidden)")
    }

    /// Connects a signer to `key` in `stage`'s vault with the workload identity; what it says when it cannot.
    func connect(_ stage: Stage, _ key: String, via http: any HTTPTransport) async throws -> String {
        let credential = try #require(EntraIDCredential(environment: try environment(stage), transport: http))
        do {
            _ = try await AzureKeyVaultSigner.connect(
                try AzureKeyVaultReference(parsing: "azurekms://\(stage.host)/\(key)"), credential: credential,
                transport: http)
            return "connected"
        } catch {
            return error.description
        }
    }

    @Test(
        "through chains sign: a wrong client secret, no Entra variables, an untrusted vault CA, plain-http Entra — each named"
    )
    func setupErrors() async throws {
        let stage = try await stage()
        defer { Task { await stage.stop() } }
        try stage.vault.addVersion("signing", .p256)
        let kmsref = "azurekms://\(stage.host)/signing"
        func sign(_ environment: [String: String]) async throws -> SignedRun {
            var setup = LocalSetup(
                configFile: try stage.dir.write(
                    "config.yaml",
                    "artifacts.taskrun.format: slsa/v1\nartifacts.taskrun.signer: kms\nartifacts.oci.signer: kms\n"
                        + "artifacts.oci.storage: tekton\nsigners.kms.kmsref: \(kmsref)\n"))
            setup.environment = environment
            setup.registries = RegistrySettings(resolve: stage.pins)
            return await signRunFile(PackagePaths.example("taskrun-kaniko.yaml"), setup: setup)
        }
        var wrongSecret = try environment(stage, federated: false)
        wrongSecret["AZURE_CLIENT_SECRET"] = "not-the-secret"
        let refused = try await sign(wrongSecret)
        #expect(refused.exitCode != 0 && refused.text.contains("AADSTS7000215"), "\(refused.text)")
        #expect(!refused.text.contains("not-the-secret") && !refused.text.contains(secret))

        let none = try await sign(["SSL_CERT_FILE": stage.ca.certificate.path])
        #expect(
            none.exitCode == 2 && none.text.contains("signers.kms.kmsref")
                && none.text.contains("needs an Entra ID app") && none.text.contains("AZURE_FEDERATED_TOKEN_FILE"),
            "\(none.text)")

        var untrusted = try environment(stage)
        untrusted.removeValue(forKey: "SSL_CERT_FILE")
        let tls = try await sign(untrusted)
        #expect(tls.exitCode != 0 && tls.text.contains("Key Vault \(stage.host) cannot be reached"), "\(tls.text)")
        #expect(stage.vault.authorizedRequests == 0 && stage.entra.issued.isEmpty)

        var plain = try environment(stage)
        plain["AZURE_AUTHORITY_HOST"] = "http://login.chains.test/"
        let clear = try await sign(plain)
        #expect(
            clear.exitCode != 0
                && clear.text.contains(
                    "AZURE_AUTHORITY_HOST http://login.chains.test/ is not an https URL (plain http only to this machine)"
                ),
            "\(clear.text)")

        var badBundle = try environment(stage)
        badBundle["SSL_CERT_FILE"] = try stage.dir.write("not-a-bundle.pem", "hello").path
        let bundle = try await sign(badBundle)
        #expect(bundle.exitCode == 2 && bundle.text.contains("SSL_CERT_FILE"), "\(bundle.text)")
    }
}
