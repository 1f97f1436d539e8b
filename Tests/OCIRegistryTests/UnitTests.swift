import ChainsCore
import ChainsTesting
import Foundation
import HTTPTransport
import OCI
import RegistryAuth
import Signing
import Sigstore
import Synchronization
import Testing

@testable import OCIRegistry

@Suite("WWW-Authenticate, retries, manifests")
struct ProtocolUnitTests {
    @Test("one HTTP status rule: registry, token service, Fulcio and Rekor answers are retryable exactly when it says")
    func oneStatusRule() {
        let expected = Set([408, 429] + (500...599).filter { $0 != 501 && $0 != 505 })
        for status in 400...599 {
            let rule = HTTPStatusRule.isRetryable(status)
            #expect(rule == expected.contains(status), "HTTP \(status)")
            let registry = RegistryError(
                registry: "r", repository: "x", operation: "push", status: status, message: "")
            // A refusal stays a refusal: 401/403 are never retried, whatever the rule.
            #expect(registry.isRetryable == rule, "registry, HTTP \(status)")
            #expect(TokenError(registry: "r", realm: "t", status: status, reason: "").isRetryable == rule)
            #expect(RekorError(address: "rekor", status: status, reason: "").isRetryable == rule)
            #expect(FulcioError(address: "fulcio", status: status, reason: "").isRetryable == rule)
        }
    }

    @Test("a refused or unresolvable connection: not retried within the request, retryable for the run, everywhere")
    func connectionRetryability() {
        let refused = TransportError(kind: .connection, host: "registry.example.com", reason: "connection refused")
        #expect(!refused.isTransient && refused.isRetryable)
        #expect(ChainsError.classify(refused, stage: .storage).isRetryable)
        #expect(ChainsError.classify(refused, stage: .transparency).isRetryable)
        let tls = TransportError(kind: .tls, host: "registry.example.com", reason: "certificate verify failed")
        #expect(!tls.isRetryable && !ChainsError.classify(tls, stage: .storage).isRetryable)
        let reset = TransportError(kind: .connectionReset, host: "registry.example.com", reason: "reset")
        #expect(reset.isTransient && reset.isRetryable)
    }

    @Test("challenges: case-insensitive names, quoted values with escapes, several per line and per header")
    func challenges() {
        let parsed = Challenge.parse([
            #"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push repository:c:pull",error="insufficient_scope""#,
            #"BASIC Realm="quoted \"realm\"", Bearer realm=https://other/token"#,
        ])
        #expect(parsed.count == 3)
        #expect(parsed[0].scheme == "bearer")
        #expect(parsed[0].realm == "https://auth.example.com/token")
        #expect(parsed[0].service == "registry.example.com")
        #expect(parsed[0].scopes == ["repository:a/b:pull,push", "repository:c:pull"])
        #expect(parsed[0].error == "insufficient_scope")
        #expect(parsed[1].scheme == "basic")
        #expect(parsed[1].realm == #"quoted "realm""#)
        #expect(parsed[2].scheme == "bearer")
        #expect(parsed[2].realm == "https://other/token")
    }

    @Test("credentials in clear only to this machine: https anywhere, plain http to loopback names only")
    func credentialDestinations() {
        let safe = [
            "https://vault.example.com:8200", "http://127.0.0.1:8200/v1", "http://127.1.2.3", "http://localhost:9",
            "http://[::1]:8200", "HTTP://LOCALHOST",
        ]
        for text in safe { #expect(URL(string: text)!.carriesCredentialsSafely, "\(text)") }
        let unsafe = [
            "http://vault.example.com", "http://127.0.0.1.nip.io", "http://localhost.example.com",
            "http://169.254.170.23/v1/credentials", "http://[::2]", "ftp://127.0.0.1", "http://10.0.0.1",
        ]
        for text in unsafe { #expect(!URL(string: text)!.carriesCredentialsSafely, "\(text)") }
    }

    @Test("backoff: exponential with full jitter, capped; Retry-After in seconds or as a date wins, capped")
    func backoff() {
        let t = RetryingTransport(CountingTransport(NoTransport()), initialDelay: 0.2, maxDelay: 10, random: { 1 })
        #expect(t.delay(attempt: 1, retryAfter: nil) == 0.2)
        #expect(t.delay(attempt: 3, retryAfter: nil) == 0.8)
        #expect(t.delay(attempt: 10, retryAfter: nil) == 10)
        #expect(t.delay(attempt: 1, retryAfter: "3") == 3)
        #expect(t.delay(attempt: 1, retryAfter: "3600") == 10)
        let half = RetryingTransport(NoTransport(), initialDelay: 0.2, random: { 0.5 })
        #expect(half.delay(attempt: 2, retryAfter: nil) == 0.2)
    }

    @Test(
        "timestamps parsed without ICU: the same instants as Foundation's formatter on good text; nil (no crash) on the fuzzer's 40-digit fraction and other bad text"
    )
    func timestampParsing() throws {
        let iso = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for text in [
            "2025-07-04T00:00:00Z", "2022-04-13T20:06:15.000Z", "2024-02-29T23:59:59Z", "1970-01-01T00:00:00Z",
            "2021-01-12T11:53:27+02:00", "2030-12-31T06:07:08-05:30", "2022-04-13T20:06:15.123Z",
        ] {
            // (Foundation keeps milliseconds, rounded its own way: the same instant to a microsecond.)
            let expected = try #require(iso.date(from: text) ?? fractional.date(from: text), "\(text)")
            let parsed = try #require(Timestamps.rfc3339(text), "\(text)")
            #expect(abs(parsed.timeIntervalSince(expected)) < 0.000_001, "\(text)")
        }
        let nine = try #require(Timestamps.rfc3339("2022-04-13T20:06:15.123456789Z"))
        #expect(abs(nine.timeIntervalSince1970 - 1_649_880_375.123456789) < 0.000_001)
        for bad in [
            "2022-04-13T20:06:15.003333333333333333333333333333333333333333333", "2022-04-13T20:06:15.0000000001Z",
            "2023-02-29T00:00:00Z", "2022-13-01T00:00:00Z", "2022-04-13T24:00:00Z", "2022-04-13T20:06:60Z",
            "2022-04-13 20:06:15", "2022-04-13T20:06:15", "2022-04-13T20:06:15Zjunk", "", "２０２２-04-13T20:06:15Z",
        ] {
            #expect(Timestamps.rfc3339(bad) == nil, "\(bad)")
        }
        #expect(Timestamps.httpDate("Sun, 06 Nov 1994 08:49:37 GMT")?.timeIntervalSince1970 == 784_111_777)
        #expect(Timestamps.httpDate("Sun, 06 Nov 1994 08:49:37 PST") == nil)
        #expect(Timestamps.httpDate("Sun, 06 Nov 19944444444444444444444 08:49:37 GMT") == nil)
        let t = RetryingTransport(NoTransport(), initialDelay: 0.2, maxDelay: 10, random: { 1 })
        let soon = Date().addingTimeInterval(5)
        let header = Timestamps.httpDateString(soon)
        #expect((3...5.01).contains(t.delay(attempt: 1, retryAfter: header)), "\(header)")
    }

    @Test("retries 429 and 5xx, not 4xx; gives the last answer after the attempts")
    func retryPolicy() async throws {
        let script = ScriptedTransport([503, 429, 200])
        let r = try await RetryingTransport(script, sleep: { _ in }).send(
            HTTPRequest(method: "GET", url: URL(string: "https://r/v2/")!))
        #expect(r.status == 200)
        #expect(script.calls == 3)
        let notFound = ScriptedTransport([404, 200])
        #expect(
            try await RetryingTransport(notFound, sleep: { _ in }).send(
                HTTPRequest(method: "GET", url: URL(string: "https://r/")!)
            ).status == 404)
        let always = ScriptedTransport(Array(repeating: 502, count: 9))
        #expect(
            try await RetryingTransport(always, maxAttempts: 4, sleep: { _ in }).send(
                HTTPRequest(method: "GET", url: URL(string: "https://r/")!)
            ).status == 502)
        #expect(always.calls == 4)
    }

    @Test("manifests serialise with go-containerregistry's field order and exact digests")
    func manifestBytes() throws {
        let layer = Descriptor(
            mediaType: MediaType.cosignSimpleSigning, digest: "sha256:aa", size: 3, annotations: ["b": "2", "a": "<1>"])
        let m = ImageManifest(
            config: Descriptor(mediaType: MediaType.ociConfig, digest: "sha256:cc", size: 2), layers: [layer])
        let text = String(decoding: m.encoded(), as: UTF8.self)
        #expect(
            text
                == #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:cc","size":2},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"sha256:aa","size":3,"annotations":{"a":"\u003c1\u003e","b":"2"}}]}"#
        )
        #expect(try JSONDecoder().decode(ImageManifest.self, from: m.encoded()) == m)
        let config = String(decoding: CosignConfig.make(layers: [layer]), as: UTF8.self)
        #expect(
            config
                == #"{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"config":{}}"#
        )
    }
}

struct NoTransport: HTTPTransport {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse { HTTPResponse(status: 200, url: request.url) }
}

final class ScriptedTransport: HTTPTransport, @unchecked Sendable {
    var statuses: [Int]
    var calls = 0
    init(_ statuses: [Int]) { self.statuses = statuses }
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        calls += 1
        return HTTPResponse(status: statuses.removeFirst(), url: request.url)
    }
}

@Suite("auth explain and verify against a real registry", .serialized)
struct ExplainAndVerifyTests {
    @Test("auth explain lists each credential in order with its source, and which may push")
    func explain() async throws {
        let reg = try await TokenRegistry()
        defer { Task { await reg.stop() } }
        var store = ObjectStore()
        for yaml in [
            RunFixtures.serviceAccount(secrets: ["pull-only", "push-creds"]),
            RunFixtures.dockerConfigSecret(
                name: "pull-only", registry: reg.address, username: "reader", password: "r3ad-only"),
            RunFixtures.dockerConfigSecret(
                name: "push-creds", registry: reg.address, username: "chains", password: "s3cret-push"),
        ] {
            for doc in try ManifestReaderShim.parse(yaml) { store.add(doc, source: "test") }
        }
        let transport = try AsyncHTTPClientTransport()
        defer { Task { try? await transport.shutdown() } }
        let run = try ManifestReaderShim.run(
            RunFixtures.taskRun(
                image: "\(reg.address)/team-a/app", digest: "sha256:" + String(repeating: "a", count: 64)))
        let explanation = await AuthExplainer(
            search: CredentialSearch(dockerConfig: nil), objects: store,
            client: RegistryClient(transport: transport)
        ).explain(
            image: try ImageReference(parsing: "\(reg.address)/team-a/app"), context: RunContext(run: run),
            checkPush: true)
        let text = explanation.text
        #expect(explanation.lines.map(\.credential) == ["user reader", "user chains", "anonymous"])
        #expect(explanation.lines[0].push?.hasPrefix("refused:") == true)
        #expect(explanation.lines[1].push == "granted (upload session opened and cancelled)")
        #expect(explanation.lines[2].push?.hasPrefix("refused:") == true)
        #expect(explanation.firstGranted == 2)
        #expect(text.contains("secret team-a/push-creds (ServiceAccount secrets of team-a/builder)"))
        #expect(!text.contains("s3cret-push") && !text.contains("r3ad-only"))
    }

    @Test("verify: a wrong key finds no valid signature; a tampered payload is rejected")
    func verifyNegative() async throws {
        let reg = try await RegistryServer()
        defer { reg.stop() }
        let transport = try AsyncHTTPClientTransport()
        defer { Task { try? await transport.shutdown() } }
        let digest = try await pushTestImage(
            transport: transport, registry: reg.address, repository: "team/app", tag: "v1")
        let image = try ImageReference(parsingDigest: "\(reg.address)/team/app@\(digest)")
        let key = try PrivateKey.generate(.ecdsaP256)
        let payload = Formats_simpleSigning(image)
        let client = RegistryClient(transport: transport)
        let session = client.session(repository: image.repositoryOnly, credential: .anonymous, scopes: [])
        _ = try await session.attach(
            .signature(
                payload: payload, signature: try key.sign(payload, hash: .sha256Always), certificate: "", chain: ""),
            as: .signature, to: image.digest!)
        let anonymous = [SourcedCredential(.anonymous, source: .init(kind: .anonymous, origin: "", key: ""))]
        let good = try await AttachmentVerifier(client: client, credentials: anonymous, key: key.publicKey)
            .verifySignatures(
                image.with(tag: "v1"))
        #expect(good.valid.count == 1)
        let other = try PrivateKey.generate(.ecdsaP256).publicKey
        let bad = try await AttachmentVerifier(client: client, credentials: anonymous, key: other).verifySignatures(
            image)
        #expect(bad.valid.isEmpty)
        #expect(bad.checks.first?.detail.contains("does not verify") == true)
        // A signature over another image's payload, attached to this one.
        let otherImage = image.with(digest: Digest.sha256(of: Data("x".utf8)))
        let foreign = Formats_simpleSigning(otherImage)
        _ = try await session.attach(
            .signature(
                payload: foreign, signature: try key.sign(foreign, hash: .sha256Always), certificate: "", chain: ""),
            as: .signature, to: image.digest!)
        let mixed = try await AttachmentVerifier(client: client, credentials: anonymous, key: key.publicKey)
            .verifySignatures(image)
        #expect(mixed.checks.count == 2)
        #expect(mixed.valid.count == 1)
        #expect(mixed.checks.contains { $0.detail.contains("payload is for \(otherImage.digest!)") })
    }
}

@Suite("redirects")
struct RedirectTests {
    func request(_ url: String) -> HTTPRequest {
        HTTPRequest(
            method: "PUT", url: URL(string: url)!, headers: ["Authorization": "Bearer t0ken", "Cookie": "c=1"],
            body: Data("body".utf8))
    }

    func answer(_ status: Int, _ location: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Location": location], url: URL(string: "https://x")!)
    }

    @Test("https to plain http is refused, naming the registry")
    func downgrade() {
        #expect {
            _ = try AsyncHTTPClientTransport.redirect(
                request("https://reg.example.com/v2/x"), answeredBy: answer(307, "http://reg.example.com/v2/x"))
        } throws: { error in
            (error as? TransportError)?.kind == .insecureRedirect && "\(error)".contains("reg.example.com")
        }
    }

    @Test("another host gets no Authorization or Cookie; the same origin keeps them; 303 becomes a bodiless GET")
    func credentialsStayHome() throws {
        let elsewhere = try #require(
            try AsyncHTTPClientTransport.redirect(
                request("https://reg.example.com/v2/x"), answeredBy: answer(307, "https://cdn.example.net/blob")))
        #expect(elsewhere.headers["Authorization"] == nil && elsewhere.headers["Cookie"] == nil)
        #expect(elsewhere.method == "PUT" && elsewhere.body == Data("body".utf8))
        let samePort = try #require(
            try AsyncHTTPClientTransport.redirect(
                request("https://reg.example.com/v2/x"), answeredBy: answer(308, "https://reg.example.com:443/v2/y")))
        #expect(samePort.headers["Authorization"] == "Bearer t0ken")
        let otherPort = try #require(
            try AsyncHTTPClientTransport.redirect(
                request("https://reg.example.com/v2/x"), answeredBy: answer(307, "https://reg.example.com:8443/v2/y")))
        #expect(otherPort.headers["Authorization"] == nil)
        let seeOther = try #require(
            try AsyncHTTPClientTransport.redirect(request("http://127.0.0.1:5000/a"), answeredBy: answer(303, "/b")))
        #expect(seeOther.method == "GET" && seeOther.body == nil && seeOther.url.path == "/b")
        #expect(try AsyncHTTPClientTransport.redirect(request("https://r/a"), answeredBy: answer(200, "/b")) == nil)
    }
}

/// The mutation probe's token-min-lifetime: the token spec says to assume 60 s when `expires_in` is absent, and a
/// token server answering a few seconds must not make every request fetch a new token.
@Suite("token answers")
struct TokenAnswerTests {
    @Test("token or access_token; expires_in at least 60 s; an empty token is no token")
    func answers() {
        func answer(_ json: String) -> (token: String, refreshToken: String?, lifetime: Double)? {
            RegistrySession.tokenAnswer(Data(json.utf8))
        }
        #expect(answer(#"{"token":"a","expires_in":5}"#)?.lifetime == 60)
        #expect(answer(#"{"token":"a"}"#)?.lifetime == 60)
        #expect(answer(#"{"access_token":"b","expires_in":300,"refresh_token":"r"}"#)?.lifetime == 300)
        #expect(answer(#"{"access_token":"b","refresh_token":"r"}"#)?.refreshToken == "r")
        #expect(answer(#"{"token":"a","expires_in":1e400}"#)?.lifetime.isFinite != false)
        #expect(answer(#"{"token":""}"#) == nil)
        #expect(answer("<html>") == nil)
    }
}

/// The mutation probe's realm-plain-http: the token protocol sends the user's password to the realm, so an https
/// registry whose challenge names a plain-http realm gets no credentials — unless that registry is marked insecure.
@Suite("plain-http token realms", .serialized)
struct PlainRealmTests {
    let layer = ScenarioTests().layer
    let subject = ScenarioTests().subject

    @Test("an https registry naming an http realm: refused before anything is sent; allowed when marked insecure")
    func plainRealm() async throws {
        let reg = try await TokenRegistry(tls: true)
        defer { Task { await reg.stop() } }
        let host = "localhost:\(reg.registry.port)"
        let repo = try ImageReference(parsingRepository: "\(host)/team/app")
        let credential = Credential(username: TokenRegistry.pushUser.0, password: TokenRegistry.pushUser.1)
        let verified = ConnectionPolicy(registries: [host: .init(.customCA(path: reg.registry.tls!.certificate.path))])
        let transport = try AsyncHTTPClientTransport(policy: verified)
        defer { Task { try? await transport.shutdown() } }
        await #expect {
            _ = try await RegistryClient(transport: transport, policy: verified)
                .session(repository: repo, credential: credential, scopes: [Scope.push("team/app")])
                .attach(layer(21), as: .signature, to: try subject(21))
        } throws: { "\($0)".contains("plain http") && "\($0)".contains(host) }
        #expect(reg.tokens.stats.gets == 0 && reg.tokens.stats.posts == 0, "the password reached the realm")
        let insecure = ConnectionPolicy(registries: [host: .init(.insecureSkipVerify)])
        let lax = try AsyncHTTPClientTransport(policy: insecure)
        defer { Task { try? await lax.shutdown() } }
        _ = try await RegistryClient(transport: lax, policy: insecure)
            .session(repository: repo, credential: credential, scopes: [Scope.push("team/app")])
            .attach(layer(21), as: .signature, to: try subject(21))
        #expect(reg.tokens.stats.gets >= 1)
    }
}

/// The mutation probe's budget: a retry that would start after the run's deadline is not made — the last answer
/// stands, at once, rather than a wait that ends in "the budget ran out".
@Suite("retries within the run's budget")
struct RetryBudgetTests {
    struct Always503: HTTPTransport {
        func send(_ request: HTTPRequest) async throws -> HTTPResponse {
            HTTPResponse(status: 503, headers: ["Retry-After": "5"], body: Data(), url: request.url)
        }
    }

    @Test("Retry-After 5 s with 1 s of budget left: no wait, the 503 is the answer; with 60 s left, it waits")
    func budget() async throws {
        let waits = Mutex<[Double]>([])
        let retrying = RetryingTransport(
            Always503(), maxAttempts: 3, sleep: { seconds in waits.withLock { $0.append(seconds) } })
        let request = HTTPRequest(method: "GET", url: URL(string: "http://registry.test/v2/")!)
        let tight = try await RequestBudget.withBudget(.seconds(1), label: "test") { try await retrying.send(request) }
        #expect(tight.status == 503)
        #expect(waits.withLock { $0 }.isEmpty, "waited past the deadline: \(waits.withLock { $0 })")
        let roomy = try await RequestBudget.withBudget(.seconds(60), label: "test") { try await retrying.send(request) }
        #expect(roomy.status == 503 && waits.withLock { $0 } == [5, 5])
    }
}
