import ChainsCore
import ChainsTesting
import Foundation
import HTTPTransport
import RegistryAuth
import Signing
import Testing

@testable import CloudCredentials

@Suite("GCR / Artifact Registry: the GKE metadata server's token as oauth2accesstoken", .serialized)
struct GCRTests {
    @Test("the metadata simulator answers as Google documents: the header required, X-Forwarded-For refused")
    func simulator() async throws {
        let metadata = try await GCPMetadataSimulator()
        defer { Task { await metadata.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let url = URL(string: "http://\(metadata.host)/computeMetadata/v1/instance/service-accounts/default/token")!
        #expect(try await http.send(HTTPRequest(method: "GET", url: url)).status == 403)
        let proxied = try await http.send(
            HTTPRequest(method: "GET", url: url, headers: ["Metadata-Flavor": "Google", "X-Forwarded-For": "1.2.3.4"]))
        #expect(proxied.status == 403)
        let ok = try await http.send(HTTPRequest(method: "GET", url: url, headers: ["Metadata-Flavor": "Google"]))
        #expect(ok.status == 200 && ok.headers["Metadata-Flavor"] == "Google")
        #expect(String(decoding: ok.body, as: UTF8.self).contains("\"token_type\":\"Bearer\""))
    }

    @Test("GCR hosts only: gcr.io, *.gcr.io, LOCATION-docker.pkg.dev")
    func hosts() {
        let gcr = GCRKeychain(environment: [:], transport: NoTransport())
        for host in ["gcr.io", "eu.gcr.io", "us.gcr.io:443", "europe-docker.pkg.dev", "us-central1-docker.pkg.dev"] {
            #expect(gcr.handles(registry: host), "\(host)")
        }
        for host in [
            "gcr.io.evil.com", "evil.com", "a.b.gcr.io", "docker.pkg.dev", "-docker.pkg.dev", "europe-maven.pkg.dev",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com", "ghcr.io",
        ] {
            #expect(!gcr.handles(registry: host), "\(host)")
        }
    }

    @Test(
        "the token is a push credential for a real registry; kept until near expiry; outside GCP, a warning within 1s")
    func push() async throws {
        let metadata = try await GCPMetadataSimulator(lifetime: 3599)
        defer { Task { await metadata.stop() } }
        let name = "europe-docker.pkg.dev"
        let registry = try await RegistryServer(
            auth: .htpasswd(["oauth2accesstoken": metadata.token]), tls: true, certificateNames: ["DNS:\(name)"])
        defer { registry.stop() }
        let host = "\(name):\(registry.port)"
        let ca = try #require(registry.tls).certificate.path
        let http = try AsyncHTTPClientTransport(
            policy: .init(registries: [host: .init(.customCA(path: ca))]),
            rules: ConnectionRules(pinned: [host: "127.0.0.1"]))
        let digest = try await pushTestImage(
            transport: http, scheme: "https", registry: host, repository: "proj/repo/app", tag: "v1",
            authorization: "Basic " + Data("oauth2accesstoken:\(metadata.token)".utf8).base64EncodedString())
        try await http.shutdown()
        let dir = try TemporaryDirectory()
        _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.file("secrets"))
        let run = try dir.write("run.yaml", RunFixtures.taskRun(image: "\(host)/proj/repo/app", digest: digest))
        var setup = LocalSetup(
            configFile: try dir.write("config.yaml", RunFixtures.ociConfig), signingSecrets: dir.file("secrets"))
        setup.registries = RegistrySettings(caBundles: [host: ca], resolve: [host: "127.0.0.1"])
        setup.environment = ["GCE_METADATA_HOST": metadata.host]
        let signed = await signRunFile(run, setup: setup)
        #expect(signed.exitCode == 0, "\(signed.facts)")
        #expect(
            signed.text.contains(
                "user oauth2accesstoken from cloud keychain GCR, the GKE metadata server (\(metadata.host))"),
            "\(signed.text)")
        #expect(!signed.text.contains(metadata.token))
        #expect(metadata.requests == 1, "one token for the run's pushes: \(metadata.requests)")

        // Outside GCP: nothing answers at the metadata address; the run goes on without it, warned, within the limit.
        let silent = try SilentServer()
        defer { silent.stop() }
        let silentHTTP = try AsyncHTTPClientTransport()
        defer { Task { try? await silentHTTP.shutdown() } }
        let keychain = GCRKeychain(environment: ["GCE_METADATA_HOST": silent.address], transport: silentHTTP)
        let started = ContinuousClock.now
        await #expect {
            _ = try await keychain.credential(for: "gcr.io")
        } throws: { error in
            "\(error)".contains("GCR for gcr.io: the GKE metadata server (\(silent.address))")
                && "\(error)".contains("no answer within 1s")
        }
        let waited = ContinuousClock.now - started
        // Asked again at once: the remembered failure, no second wait.
        await #expect(throws: CredentialWarning.self) { _ = try await keychain.credential(for: "gcr.io") }
        #expect(waited < .seconds(10), "bounded by the 1 s limit (loose bound for a loaded machine): \(waited)")
    }

    @Test("an answer without Metadata-Flavor: Google is not a metadata server's: its token is not used")
    func notMetadata() async throws {
        let impostor = try await TestHTTPServer { _ in
            ServedResponse(
                status: 200, headers: [("Content-Type", "application/json")],
                body: Data(#"{"access_token":"ya29.impostor","expires_in":3599,"token_type":"Bearer"}"#.utf8))
        }
        defer { Task { await impostor.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let keychain = GCRKeychain(environment: ["GCE_METADATA_HOST": "127.0.0.1:\(impostor.port)"], transport: http)
        await #expect {
            _ = try await keychain.credential(for: "gcr.io")
        } throws: { error in
            "\(error)".contains("without Metadata-Flavor: Google; not a metadata server")
                && !"\(error)".contains("ya29.impostor")
        }
    }
}
