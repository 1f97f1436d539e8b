import ChainsTesting
import Foundation
import HTTPTransport
import KubeModels
import Signing
import Testing

@testable import ChainsCore

/// Where signatures may be pushed: an image reference is written by whoever wrote the Task, so it is untrusted.
@Suite("registry destinations", .serialized)
struct DestinationTests {
    @Test("link-local, metadata and the API service are refused; loopback only in a cluster; the allow-list as keys")
    func rules() {
        let open = RegistryDestinations()
        for refused in [
            "169.254.169.254", "169.254.169.254:80", "[fd00:ec2::254]", "[fd00:ec2:0:0:0:0:0:254]:80", "[fe80::1]:5000",
            "[::ffff:169.254.1.1]", "metadata.google.internal", "METADATA.google.internal:80",
            // Other spellings the resolver accepts for 169.254.169.254.
            "2852039166", "0xa9fea9fe:80", "0251.0376.0251.0376", "169.254.43518",
        ] {
            #expect(open.refusal(for: refused) != nil, "\(refused)")
        }
        for fine in [
            "registry.example.com", "127.0.0.1:5000", "localhost:5000", "[::1]:5000", "169.255.0.1", "10.96.0.1",
        ] {
            #expect(open.refusal(for: fine) == nil, "\(fine)")
        }
        let cluster = RegistryDestinations.inCluster(allowed: [], environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1"])
        for refused in [
            "127.0.0.1:5000", "127.9.9.9", "localhost:5000", "reg.localhost", "[::1]:5000", "10.96.0.1:443",
            "kubernetes.default.svc", "kubernetes.default.svc.cluster.local:443",
        ] {
            #expect(cluster.refusal(for: refused) != nil, "\(refused)")
        }
        #expect(cluster.refusal(for: "registry.example.com") == nil)
        // Listed explicitly, a loopback registry (a sidecar) is let in; the API service and metadata never are.
        let sidecar = RegistryDestinations.inCluster(
            allowed: ["127.0.0.1:5000", "10.96.0.1:443", "169.254.169.254"],
            environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1"])
        #expect(sidecar.refusal(for: "127.0.0.1:5000") == nil)
        #expect(sidecar.refusal(for: "10.96.0.1:443") != nil && sidecar.refusal(for: "169.254.169.254") != nil)
        let listed = RegistryDestinations(allowed: ["*.example.com", "ghcr.io", "127.0.0.1:5000"])
        for fine in ["reg.example.com", "ghcr.io", "127.0.0.1:5000"] {
            #expect(listed.refusal(for: fine) == nil, "\(fine)")
        }
        for refused in [
            "reg.example.com.evil.io", "example.com", "a.b.example.com", "reg.example.com:5000", "127.0.0.1:5001",
            "docker.io",
        ] {
            #expect(listed.refusal(for: refused)?.contains("not in the allowed registries") == true, "\(refused)")
        }
        #expect(listed.refusal(for: "169.254.169.254") != nil, "an allow-list does not let metadata addresses in")
        // A list of one entry is a list: everything else is refused (the first and the last entry are the same one).
        for only in ["ghcr.io", "*.example.com"] {
            let one = RegistryDestinations(allowed: [only])
            #expect(one.refusal(for: only == "ghcr.io" ? "ghcr.io" : "reg.example.com") == nil, "\(only)")
            for refused in ["docker.io", "ghcr.io.evil.io", "example.com", "ghcr.io:5000"] {
                #expect(
                    one.refusal(for: refused)?.contains("not in the allowed registries (\(only))") == true, "\(refused)"
                )
            }
        }
        // In a cluster, a list of one that names another registry does not let loopback in.
        let oneInCluster = RegistryDestinations.inCluster(allowed: ["ghcr.io"], environment: [:])
        #expect(oneInCluster.refusal(for: "127.0.0.1:5000")?.contains("loopback") == true)
        #expect(oneInCluster.addressRefusal(registry: "docker.io", address: "127.0.0.1")?.contains("loopback") == true)
        #expect(oneInCluster.addressRefusal(registry: "ghcr.io", address: "127.0.0.1") == nil, "listed: a sidecar")
    }

    @Test("a registry not allowed gets no request; the run is not marked signed; the error names it and what to do")
    func refusedGetsNoRequest() async throws {
        let registry = try await RegistryServer()
        defer { registry.stop() }
        let proxy = try await RegistryProxy(upstream: registry.address)
        defer { Task { await proxy.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let digest = try await pushTestImage(transport: http, registry: registry.address, repository: "app", tag: "v1")
        let dir = try TemporaryDirectory()
        _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.file("secrets"))
        let run = try dir.write("run.yaml", RunFixtures.taskRun(image: "\(proxy.address)/app", digest: digest))
        func sign(_ config: String, flag: [String] = []) async throws -> SignedRun {
            let file = try dir.write(
                "config.yaml", RunFixtures.ociConfig + "  storage.oci.repository.insecure: \"true\"\n" + config)
            var setup = LocalSetup(configFile: file, signingSecrets: dir.file("secrets"), objectDirectories: [])
            setup.registries.destinations.allowed = flag
            return await signRunFile(run, setup: setup)
        }
        let seenBefore = proxy.seen.count
        let refused = try await sign("  storage.oci.allowed-registries: \"registry.example.com, *.corp.example\"\n")
        let failures = refused.outcome?.failures ?? []
        #expect(!failures.isEmpty && failures.allSatisfy { $0.stage == .storage && !$0.isRetryable })
        let text = failures.map(\.description).joined(separator: "\n")
        #expect(
            text.contains("\(proxy.address) is not in the allowed registries (registry.example.com, *.corp.example)"),
            "\(text)")
        #expect(text.contains("storage.oci.allowed-registries"))
        #expect(proxy.seen.count == seenBefore, "the refused registry got \(proxy.seen.count - seenBefore) requests")
        #expect(refused.outcome?.annotations.mark["chains.tekton.dev/signed"] != "true")
        // The flag wins over chains-config; listed, the same run is pushed.
        let allowed = try await sign("  storage.oci.allowed-registries: registry.example.com\n", flag: [proxy.address])
        #expect(allowed.exitCode == 0, "\(allowed.facts)")
        #expect(proxy.seen.contains { $0.method == "PUT" && $0.path.contains(".sig") })
    }

    @Test("a name leading to a refused address gets no request (--resolve, in a cluster); listed, it is pushed there")
    func refusedAddressGetsNoRequest() async throws {
        let registry = try await RegistryServer()
        defer { registry.stop() }
        let proxy = try await RegistryProxy(upstream: registry.address)
        defer { Task { await proxy.stop() } }
        let http = try AsyncHTTPClientTransport()
        defer { Task { try? await http.shutdown() } }
        let digest = try await pushTestImage(transport: http, registry: registry.address, repository: "app", tag: "v1")
        let port = proxy.address.split(separator: ":").last!
        let dir = try TemporaryDirectory()
        _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.file("secrets"))
        let config = try dir.write(
            "config.yaml", RunFixtures.ociConfig + "  storage.oci.repository.insecure: \"true\"\n")
        func sign(_ name: String, to address: String, destinations: RegistryDestinations) async throws -> SignedRun {
            let run = try dir.write(
                "run-\(name).yaml", RunFixtures.taskRun(image: "\(name):\(port)/app", digest: digest))
            var setup = LocalSetup(configFile: config, signingSecrets: dir.file("secrets"), objectDirectories: [])
            setup.registries.destinations = destinations
            setup.registries.resolve = ["\(name):\(port)": address]
            return await signRunFile(run, setup: setup)
        }
        let cluster = RegistryDestinations.inCluster(allowed: [], environment: [:])
        for (name, address, why, destinations) in [
            ("registry.chains.test", "127.0.0.1", "a loopback address, refused in a cluster", cluster),
            (
                "metadata.chains.test", "169.254.169.254", "a link-local or cloud metadata address",
                RegistryDestinations()
            ),
        ] {
            let refused = try await sign(name, to: address, destinations: destinations)
            let failures = refused.outcome?.failures ?? []
            let text = failures.map(\.description).joined(separator: "\n")
            #expect(!failures.isEmpty && failures.allSatisfy { $0.stage == .storage && !$0.isRetryable }, "\(text)")
            #expect(text.contains("\(name) resolves to \(address): \(why)"), "\(text)")
            #expect(text.contains("nothing was sent"), "\(text)")
            #expect(refused.outcome?.annotations.mark["chains.tekton.dev/signed"] != "true")
        }
        #expect(proxy.seen.isEmpty, "a refused address got \(proxy.seen.count) requests")
        // Listed (a registry beside the controller), the pinned name is pushed to at its address.
        let listed = try await sign(
            "registry.chains.test", to: "127.0.0.1",
            destinations: .inCluster(allowed: ["registry.chains.test:\(port)"], environment: [:]))
        #expect(listed.exitCode == 0, "\(listed.facts)")
        #expect(proxy.seen.contains { $0.method == "PUT" && $0.path.contains(".sig") })
    }
}
