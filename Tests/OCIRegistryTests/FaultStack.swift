import ChainsCore
import ChainsTesting
import Foundation
import HTTPTransport
import OCI

/// A registry (token auth), Fulcio and Rekor, each behind a fault proxy, with an image pushed and `chains sign`'s
/// keyless configuration pointing at the proxies; `elsewhere` records anything sent to "another host".
final class FaultStack: Sendable {
    let registry: TokenRegistry
    let registryProxy: FaultProxy
    let fulcio: FulcioSimulator
    let fulcioProxy: FaultProxy
    let rekor: RekorSimulator
    let rekorProxy: FaultProxy
    let elsewhere: FaultProxy
    let transport: AsyncHTTPClientTransport
    let dir: TemporaryDirectory
    let digest: String
    let identityToken: String
    /// Every log line the signing wrote, across attempts (the fault suite scans it for secrets).
    let log = CapturedLog()
    static let repository = "team-a/app"
    static let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)

    init() async throws {
        registry = try await TokenRegistry(proxyTokens: true)
        registryProxy = try await FaultProxy(upstream: registry.address)
        fulcio = try await FulcioSimulator(issuers: [Self.issuer])
        fulcioProxy = try await FaultProxy(upstream: String(fulcio.url.dropFirst("http://".count)))
        rekor = try await RekorSimulator()
        rekorProxy = try await FaultProxy(upstream: String(rekor.url.dropFirst("http://".count)))
        elsewhere = try await FaultProxy(upstream: "127.0.0.1:9")
        transport = try AsyncHTTPClientTransport(policy: .init(default: .init(.plainHTTP)))
        digest = try await pushTestImage(
            transport: transport, registry: registry.address, repository: Self.repository, tag: "v1",
            authorization: try await directToken(registry, repository: Self.repository))
        dir = try TemporaryDirectory()
        identityToken = Self.issuer.token(
            subject: "system:serviceaccount:tekton-chains:tekton-chains-controller")
        let token = try dir.write("token", identityToken)
        try dir.write("root.json", SigstoreTrust.trustedRoot(fulcio: fulcio, rekor: rekor))
        try dir.write(
            "config.yaml",
            """
            kind: ConfigMap
            data:
              artifacts.taskrun.format: slsa/v1
              artifacts.taskrun.storage: oci
              artifacts.oci.storage: oci
              signers.x509.fulcio.enabled: "true"
              signers.x509.fulcio.address: \(fulcioProxy.url)
              signers.x509.identity.token.file: \(token.path)
              transparency.enabled: "true"
              transparency.url: \(rekorProxy.url)

            """)
        try dir.write("objects/sa.yaml", RunFixtures.serviceAccount(secrets: ["push-creds"]))
        try dir.write(
            "objects/secret.yaml",
            RunFixtures.dockerConfigSecret(
                name: "push-creds", registry: registryProxy.address, username: TokenRegistry.pushUser.0,
                password: TokenRegistry.pushUser.1))
    }

    func proxy(_ peer: FaultMatrixTests.Peer) -> FaultProxy {
        switch peer {
        case .registry: return registryProxy
        case .tokens: return registry.tokenProxy!
        case .fulcio: return fulcioProxy
        case .rekor: return rekorProxy
        }
    }

    /// How a failure names the peer: its address.
    func names(_ peer: FaultMatrixTests.Peer) -> [String] { [proxy(peer).address] }

    /// `chains sign` on a TaskRun that built the pushed image (named through the registry's proxy).
    /// `document`: the run as an earlier attempt left it (a retry); else a new one.
    func sign(
        document: String? = nil, runTimeout: Duration = .seconds(60), force: Bool = false
    ) async throws
        -> SignedRun
    {
        let run = try dir.write(
            "run-\(UUID().uuidString).yaml",
            document ?? RunFixtures.taskRun(image: "\(registryProxy.address)/\(Self.repository)", digest: digest))
        return await signRunFile(
            run,
            setup: LocalSetup(
                configFile: dir.file("config.yaml"), objectDirectories: [dir.file("objects")],
                dockerConfig: dir.file("no-docker").path, runTimeout: runTimeout, trustedRoot: dir.file("root.json")),
            force: force, log: log)
    }

    /// Layers of the image's `.sig` and `.att` manifests, read from the registry directly (0 when absent).
    func layers() async throws -> (sig: Int, att: Int) {
        let authorization = try await directToken(registry, repository: Self.repository)
        func count(_ suffix: String) async throws -> Int {
            let tag = digest.replacingOccurrences(of: ":", with: "-") + "." + suffix
            let response = try await transport.send(
                HTTPRequest(
                    method: "GET",
                    url: URL(string: "http://\(registry.address)/v2/\(Self.repository)/manifests/\(tag)")!,
                    headers: ["Authorization": authorization, "Accept": MediaType.ociManifest]))
            guard response.status == 200 else { return 0 }
            return try JSONDecoder().decode(ImageManifest.self, from: response.body).layers.count
        }
        return (try await count("sig"), try await count("att"))
    }

    func stop() async {
        for proxy in [registryProxy, fulcioProxy, rekorProxy, elsewhere] { await proxy.stop() }
        await fulcio.stop()
        await rekor.stop()
        await registry.stop()
        try? await transport.shutdown()
    }
}
