import ChainsCore
import ChainsTesting
import Foundation
import HTTPTransport
import RegistryAuth
import Signing
import Testing

@testable import CloudCredentials

/// ACR with AKS workload identity: the projected token → Entra ID (simulated from Microsoft's reference) → an Entra
/// access token → the registry's `/oauth2/exchange` (simulated, in front of a real `docker-registry`) → a refresh token
/// → a push as the null user.
@Suite("ACR: workload identity → Entra ID → /oauth2/exchange → push", .serialized)
struct ACRTests {
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    let client = "11111111-2222-3333-4444-555555555555"
    let federated = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6dGVrdG9uLWNoYWluczpjaGFpbnMifQ.c2ln"

    @Test("the Entra simulator answers as Microsoft documents: unknown app, unmatched assertion, then a token")
    func entraSimulator() async throws {
        let entra = try await EntraIDSimulator(tenant: tenant, clientID: client, federatedToken: federated)
        defer { Task { await entra.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        func ask(client: String, assertion: String) async throws -> (Int, String) {
            let body = EntraIDCredential.form([
                ("client_id", client), ("scope", "https://management.azure.com/.default"),
                ("grant_type", "client_credentials"),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion),
            ])
            let r = try await http.send(
                HTTPRequest(
                    method: "POST", url: URL(string: "\(entra.authority)\(tenant)/oauth2/v2.0/token")!,
                    headers: ["Content-Type": "application/x-www-form-urlencoded"], body: Data(body.utf8)))
            return (r.status, String(decoding: r.body, as: UTF8.self))
        }
        let unknownApp = try await ask(client: "00000000-0000-0000-0000-00000000dead", assertion: federated)
        #expect(unknownApp.0 == 400 && unknownApp.1.contains("AADSTS700016"))
        let unmatched = try await ask(client: client, assertion: "eyJ.other.token")
        #expect(unmatched.0 == 401 && unmatched.1.contains("AADSTS70021"))
        let ok = try await ask(client: client, assertion: federated)
        #expect(ok.0 == 200 && ok.1.contains("\"token_type\":\"Bearer\"") && entra.issued.count == 1)
    }

    struct Stage {
        let entra: EntraIDSimulator
        let registry: RegistryServer
        let acr: ACRSimulator
        let host: String
        let dir: TemporaryDirectory
        var setup: LocalSetup
        func stop() async {
            await acr.stop()
            await entra.stop()
            registry.stop()
        }
    }

    func stage(refreshToken: String) async throws -> Stage {
        let entra = try await EntraIDSimulator(tenant: tenant, clientID: client, federatedToken: federated)
        let registry = try await RegistryServer(auth: .htpasswd([ACRKeychain.nullUser: refreshToken]))
        let dir = try TemporaryDirectory()
        let ca = try TestCA(directory: dir, names: ["DNS:chains.azurecr.io"])
        let acr = try await ACRSimulator(
            name: "chains.azurecr.io", upstream: registry.address, tls: ca, refreshToken: refreshToken, trusts: entra)
        let host = "chains.azurecr.io:\(acr.port)"
        let http = try AsyncHTTPClientTransport()
        let digest = try await pushTestImage(
            transport: http, registry: registry.address, repository: "team/app", tag: "v1",
            authorization: "Basic " + Data("\(ACRKeychain.nullUser):\(refreshToken)".utf8).base64EncodedString())
        try await http.shutdown()
        _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.file("secrets"))
        _ = try dir.write("run.yaml", RunFixtures.taskRun(image: "\(host)/team/app", digest: digest))
        var setup = LocalSetup(
            configFile: try dir.write("config.yaml", RunFixtures.ociConfig), signingSecrets: dir.file("secrets"))
        setup.registries = RegistrySettings(caBundles: [host: ca.certificate.path], resolve: [host: "127.0.0.1"])
        setup.environment = [
            "AZURE_CLIENT_ID": client, "AZURE_TENANT_ID": tenant,
            "AZURE_FEDERATED_TOKEN_FILE": try dir.write("azure-identity-token", federated).path,
            "AZURE_AUTHORITY_HOST": entra.authority,
        ]
        return Stage(entra: entra, registry: registry, acr: acr, host: host, dir: dir, setup: setup)
    }

    @Test("the federated token becomes an Entra token, the Entra token an ACR refresh token, the refresh token a push")
    func push() async throws {
        let refresh = "acr-refresh-\(UUID().uuidString)"
        let stage = try await stage(refreshToken: refresh)
        let signed = await signRunFile(stage.dir.file("run.yaml"), setup: stage.setup)
        await stage.stop()
        #expect(signed.exitCode == 0, "\(signed.facts)")
        #expect(
            signed.text.contains(
                "user \(ACRKeychain.nullUser) from cloud keychain ACR, Entra ID app \(client) in tenant \(tenant) (workload identity), for \(stage.host)"
            ),
            "\(signed.text)")
        #expect(stage.acr.exchangeCount == 1 && stage.entra.issued.count == 1)
        for secret in [refresh, federated] + stage.entra.issued {
            #expect(!signed.text.contains(secret) && !(signed.document ?? "").contains(secret))
        }
    }

    @Test("an app Entra does not know is named, with what Entra said; the run is not signed")
    func refused() async throws {
        var stage = try await stage(refreshToken: "acr-refresh-\(UUID().uuidString)")
        stage.setup.environment["AZURE_CLIENT_ID"] = "99999999-0000-0000-0000-000000000000"
        let signed = await signRunFile(stage.dir.file("run.yaml"), setup: stage.setup)
        await stage.stop()
        #expect(signed.exitCode != 0)
        #expect(
            signed.text.contains(
                "ACR for \(stage.host): Entra ID app 99999999-0000-0000-0000-000000000000 in tenant \(tenant) (workload identity): Entra ID (127.0.0.1) refused: HTTP 400: unauthorized_client: AADSTS700016"
            ),
            "\(signed.text)")
        #expect(stage.acr.exchangeCount == 0)
    }

    @Test("ACR hosts only; the keychain exists only with the webhook's three variables")
    func hostsAndEnvironment() {
        let none = NoTransport()
        let env = [
            "AZURE_CLIENT_ID": client, "AZURE_TENANT_ID": tenant, "AZURE_FEDERATED_TOKEN_FILE": "/var/run/token",
        ]
        let acr = ACRKeychain(environment: env, cloud: none, registry: none)
        for host in ["chains.azurecr.io", "x.azurecr.cn", "x.azurecr.us:443"] {
            #expect(acr?.handles(registry: host) == true)
        }
        for host in ["azurecr.io", "a.b.azurecr.io", "x.azurecr.io.evil.com", "gcr.io"] {
            #expect(acr?.handles(registry: host) == false, "\(host)")
        }
        #expect(ACRKeychain(environment: ["AZURE_CLIENT_ID": client], cloud: none, registry: none) == nil)
        #expect(
            CloudKeychains.make(environment: env, transport: none, registryTransport: none).map(\.name) == [
                "GCR", "ACR",
            ])
    }
}
