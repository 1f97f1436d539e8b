import ChainsTesting
import Foundation
import Testing

@testable import HTTPTransport

/// Where connections go: names resolved once, every address checked, the connection made to the checked address.
@Suite("connection rules: addresses checked, --resolve pins", .serialized)
struct ConnectionRulesTests {
    @Test("--resolve values: HOST:PORT=ADDRESS, IPv6 in brackets, a numeric address only")
    func parsing() {
        #expect(
            ConnectionRules.parsePin("Registry.Chains.Test:5000=127.0.0.1")! == (
                "registry.chains.test:5000", "127.0.0.1"
            ))
        #expect(ConnectionRules.parsePin("[::1]:443=[::1]")! == ("::1:443", "::1"))
        #expect(
            ConnectionRules.parsePin("r.example:443=0:0:0:0:0:ffff:7f00:1")! == ("r.example:443", "::ffff:127.0.0.1"))
        for bad in [
            "r.example=127.0.0.1", "r.example:0=127.0.0.1", "r.example:70000=127.0.0.1", "r.example:80=r2.example",
            "r.example:80", ":80=127.0.0.1", "r.example:80=", "r.example:http=127.0.0.1", "r.example:80=2852039166",
        ] {
            #expect(ConnectionRules.parsePin(bad) == nil, "\(bad)")
        }
    }

    @Test("a name that resolves to a refused address gets no request; the error names the name and the address")
    func resolvedAddressRefused() async throws {
        let registry = try await RegistryServer()
        defer { registry.stop() }
        let proxy = try await RegistryProxy(upstream: registry.address)
        defer { Task { await proxy.stop() } }
        let port = proxy.address.split(separator: ":").last!
        // The system resolver (getaddrinfo) answers for localhost: 127.0.0.1 and ::1.
        let rules = ConnectionRules { _, address in
            address == "127.0.0.1" || address == "::1" ? "a loopback address (refused for this test)" : nil
        }
        let transport = try AsyncHTTPClientTransport(policy: .init(default: .init(.plainHTTP)), rules: rules)
        defer { Task { try? await transport.shutdown() } }
        await #expect {
            _ = try await transport.send(HTTPRequest(method: "GET", url: URL(string: "http://localhost:\(port)/v2/")!))
        } throws: { error in
            guard let e = error as? TransportError else { return false }
            return e.kind == .refused && e.host == "localhost:\(port)"
                && e.reason.contains("localhost resolves to ") && e.reason.contains("nothing was sent")
        }
        // A literal address is checked as it is.
        await #expect {
            _ = try await transport.send(HTTPRequest(method: "GET", url: URL(string: "http://\(proxy.address)/v2/")!))
        } throws: { ($0 as? TransportError)?.kind == .refused }
        #expect(proxy.seen.isEmpty, "the refused destination got \(proxy.seen.count) requests")
        // A name with no address is named as such, before any connection.
        let open = try AsyncHTTPClientTransport(rules: ConnectionRules { _, _ in nil })
        defer { Task { try? await open.shutdown() } }
        await #expect {
            _ = try await open.send(HTTPRequest(method: "GET", url: URL(string: "https://nowhere.chains.test/v2/")!))
        } throws: { error in "\(error)".contains("cannot resolve nowhere.chains.test") }
        // Allowed, the same name reaches the registry.
        let allowed = try AsyncHTTPClientTransport(
            policy: .init(default: .init(.plainHTTP)), rules: ConnectionRules { _, _ in nil })
        defer { Task { try? await allowed.shutdown() } }
        let answer = try await allowed.send(
            HTTPRequest(method: "GET", url: URL(string: "http://localhost:\(port)/v2/")!))
        #expect(answer.status == 200 && proxy.seen.count == 1)
    }

    @Test("a pinned name connects to its address with TLS verified as the name; a name the certificate lacks fails")
    func pinnedTLS() async throws {
        // No IP entry: NIOSSL accepts an IP subjectAltName that matches the connected address whatever name was
        // asked for, so the certificate names registry.chains.test alone to show what the name is checked against.
        let registry = try await RegistryServer(tls: true, certificateNames: ["DNS:registry.chains.test"])
        defer { registry.stop() }
        let ca = try #require(registry.tls).certificate.path
        let named = "registry.chains.test:\(registry.port)"
        let other = "other.chains.test:\(registry.port)"
        let transport = try AsyncHTTPClientTransport(
            policy: .init(registries: [named: .init(.customCA(path: ca)), other: .init(.customCA(path: ca))]),
            rules: ConnectionRules(pinned: [named: "127.0.0.1", other: "127.0.0.1"]))
        defer { Task { try? await transport.shutdown() } }
        let answer = try await transport.send(HTTPRequest(method: "GET", url: URL(string: "https://\(named)/v2/")!))
        #expect(answer.status == 200)
        // The certificate names registry.chains.test, not other.chains.test: the pin changes where the connection
        // goes, never what the certificate must name.
        await #expect {
            _ = try await transport.send(HTTPRequest(method: "GET", url: URL(string: "https://\(other)/v2/")!))
        } throws: { error in
            guard let e = error as? TransportError else { return false }
            return e.kind == .tls
        }
        // A pin is checked like a resolved address.
        let refusing = try AsyncHTTPClientTransport(
            policy: .init(registries: [named: .init(.customCA(path: ca))]),
            rules: ConnectionRules(pinned: [named: "169.254.169.254"]) { _, address in
                address.hasPrefix("169.254.") ? "a metadata address" : nil
            })
        defer { Task { try? await refusing.shutdown() } }
        await #expect {
            _ = try await refusing.send(HTTPRequest(method: "GET", url: URL(string: "https://\(named)/v2/")!))
        } throws: { error in
            "\(error)".contains("registry.chains.test resolves to 169.254.169.254: a metadata address")
        }
    }

    @Test("pinned clients are bounded: past 32 names the oldest is let go; a name keeps its client")
    func boundedClients() async throws {
        let registry = try await RegistryServer()
        defer { registry.stop() }
        let port = registry.port
        let names = (0..<34).map { "r\($0).chains.test:\(port)" }
        let transport = try AsyncHTTPClientTransport(
            policy: .init(default: .init(.plainHTTP)),
            rules: ConnectionRules(pinned: Dictionary(uniqueKeysWithValues: names.map { ($0, "127.0.0.1") })))
        defer { Task { try? await transport.shutdown() } }
        for name in names + [names[33], names[33]] {
            let answer = try await transport.send(HTTPRequest(method: "GET", url: URL(string: "http://\(name)/v2/")!))
            #expect(answer.status == 200, "\(name)")
        }
        let state = transport.pinnedClients.withLock { ($0.clients.count, $0.order.first) }
        #expect(state.0 == 32, "\(state.0) clients kept")
        #expect(state.1 == "r2.chains.test\u{0}127.0.0.1", "the two oldest were let go: \(String(describing: state.1))")
    }
}
