import ChainsTesting
import Crypto
import Foundation
import HTTPTransport
import Sigstore
import Testing

@testable import SPIFFE

@Suite("SPIFFE Workload API: the endpoint forms, and a JWT-SVID from a grpcio agent", .serialized)
struct WorkloadAPITests {
    let spire = TestOIDCIssuer(url: "https://spire.example.org", kind: .spiffe)
    let spiffeID = "spiffe://example.org/ns/tekton-chains/sa/tekton-chains-controller"

    @Test(
        "SPIFFE_ENDPOINT_SOCKET: the spec's URIs, Chains' bare path, unix:path; others refused",
        arguments: [
            ("unix:///run/spire/sockets/agent.sock", WorkloadEndpoint.unix(path: "/run/spire/sockets/agent.sock")),
            ("/run/spire/sockets/agent.sock", .unix(path: "/run/spire/sockets/agent.sock")),
            ("unix:agent.sock", .unix(path: "agent.sock")),
            ("tcp://127.0.0.1:8081", .tcp(host: "127.0.0.1", port: 8081)),
            ("", .unix(path: "/tmp/spire-agent/public/api.sock")),
        ])
    func endpoints(raw: String, expected: WorkloadEndpoint) throws {
        #expect(try WorkloadEndpoint(parsing: raw) == expected)
    }

    @Test(
        "malformed endpoints are errors naming the value", arguments: ["unix://relative", "http://x:1", "tcp://host"])
    func badEndpoints(raw: String) {
        #expect { try WorkloadEndpoint(parsing: raw) } throws: { "\($0)".contains(raw) }
    }

    @Test("FetchJWTSVID: audience sigstore, the workload.spiffe.io header, the SVID read as an identity token")
    func fetch() async throws {
        let agent = try await SPIFFEAgent(token: spire.token(subject: spiffeID))
        defer { agent.stop() }
        let provider = try SPIFFETokenProvider(environment: ["SPIFFE_ENDPOINT_SOCKET": "unix://\(agent.socket)"])
        let token = try #require(try await provider.token(audience: "sigstore"))
        #expect(token.subject == spiffeID && token.source == "spiffe unix://\(agent.socket)")
        #expect(agent.log.contains("FetchJWTSVID audience=['sigstore'] header=true"))
        // The bare path Chains' docs use works the same.
        let bare = try SPIFFETokenProvider(environment: ["SPIFFE_ENDPOINT_SOCKET": agent.socket])
        #expect(try await bare.token(audience: "sigstore")?.subject == spiffeID)
    }

    @Test("an unregistered workload: PermissionDenied explained; no socket: not available (nil)")
    func refusals() async throws {
        let agent = try await SPIFFEAgent(token: spire.token(subject: spiffeID), deny: true)
        defer { agent.stop() }
        await #expect {
            _ = try await SPIFFETokenProvider(endpoint: .unix(path: agent.socket)).token(audience: "sigstore")
        } throws: { error in
            "\(error)".contains("PermissionDenied") && "\(error)".contains("registration entry")
                && "\(error)".contains(agent.socket) && (error as? IdentityTokenError)?.isRetryable == true
        }
        #expect(
            try await SPIFFETokenProvider(endpoint: .unix(path: "/nonexistent/agent.sock")).token(audience: "sigstore")
                == nil)
    }

    @Test("an agent that never answers fails at the deadline, naming the endpoint")
    func silentAgent() async throws {
        let silent = try SilentServer()
        defer { silent.stop() }
        let provider = SPIFFETokenProvider(endpoint: .tcp(host: "127.0.0.1", port: silent.port), timeout: .seconds(1))
        let started = ContinuousClock.now
        await #expect {
            _ = try await provider.token(audience: "sigstore")
        } throws: { "\($0)".contains("tcp://127.0.0.1:\(silent.port)") }
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    @Test(
        "a broken agent — dropped, wedged, garbage, cut mid-answer: an error naming the socket, by the deadline; then it recovers",
        arguments: [
            SocketFaultProxy.Fault.dropOnAccept, .hang, .garbage, .truncateAnswer(bytes: 40),
            .truncateAnswer(bytes: 200),
        ])
    func brokenAgent(fault: SocketFaultProxy.Fault) async throws {
        let agent = try await SPIFFEAgent(token: spire.token(subject: spiffeID))
        defer { agent.stop() }
        let proxy = try SocketFaultProxy(upstream: agent.socket)
        defer { proxy.stop() }
        let provider = SPIFFETokenProvider(endpoint: .unix(path: proxy.socket), timeout: .seconds(2))
        // The healthy calls get a waiting bound of 30 s: under a full test run the grpcio agent once took past 2 s
        // to answer (CI); the faulted call keeps the 2 s deadline it is judged by.
        let patient = SPIFFETokenProvider(endpoint: .unix(path: proxy.socket), timeout: .seconds(30))
        // Through the proxy untouched, the SVID arrives: the faults below are the proxy's, not its plumbing's.
        #expect(try await patient.token(audience: "sigstore")?.subject == spiffeID)
        proxy.set(fault)
        let before = proxy.connections
        await #expect {
            _ = try await provider.token(audience: "sigstore")
        } throws: { error in
            guard let e = error as? IdentityTokenError else { return false }
            // Each is what a restarting or wedged agent looks like: worth another attempt, never a hang.
            return "\(e)".contains("unix://\(proxy.socket)") && e.isRetryable
                && (fault != .hang || "\(e)".contains("did not answer in time"))
        }
        #expect(proxy.connections > before, "the fault was never reached")
        proxy.set(.none)
        #expect(try await patient.token(audience: "sigstore")?.subject == spiffeID, "no recovery after \(fault)")
    }

    @Test("keyless with SPIFFE: the JWT-SVID gets a Fulcio certificate whose URI SAN is the SPIFFE ID")
    func keylessWithSPIFFE() async throws {
        let agent = try await SPIFFEAgent(token: spire.token(subject: spiffeID))
        defer { agent.stop() }
        let fulcio = try await FulcioSimulator(issuers: [spire])
        defer { Task { await fulcio.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let providers = try IdentityTokenProviders.make(
            provider: "spiffe", tokenFile: "", transport: http, environment: [:],
            spiffe: { (_: String?) throws(IdentityTokenError) in
                SPIFFETokenProvider(endpoint: .unix(path: agent.socket))
            })
        let certificates = KeylessCertificates(
            fulcio: FulcioClient(address: URL(string: fulcio.url)!, transport: http), providers: providers)
        let signer = try await certificates.signer()
        #expect(signer.identity == spiffeID)
        let signature = try signer.sign(Data("payload".utf8))
        #expect(signer.publicKey.isValidSignature(signature, for: Data("payload".utf8)))
    }
}
