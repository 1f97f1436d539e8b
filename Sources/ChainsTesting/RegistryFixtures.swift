import Foundation
import HTTPTransport
import OCI

/// A registry with token auth and its token server, users `chains` (push everywhere), `reader` (pull only) and
/// anonymous pull on `public/`.
package final class TokenRegistry: Sendable {
    package let registry: RegistryServer
    package let tokens: TokenServer
    let directory: TemporaryDirectory

    package static let pushUser = ("chains", "s3cret-push")
    package static let pullUser = ("reader", "r3ad-only")

    /// With `proxyTokens`, the registry's challenges name a fault proxy in front of the token server as the realm.
    package let tokenProxy: FaultProxy?

    package init(tls: Bool = false, proxyTokens: Bool = false) async throws {
        directory = try TemporaryDirectory()
        let (key, cert) = try makeTokenSigningKey(in: directory)
        tokens = try await TokenServer(
            service: "test-registry", keyPEM: key, certificatePEM: cert,
            users: [
                Self.pushUser.0: .init(password: Self.pushUser.1, rights: ["": ["pull", "push"]]),
                Self.pullUser.0: .init(password: Self.pullUser.1, rights: ["": ["pull"]]),
            ], anonymous: ["public/": ["pull"]])
        let proxy = proxyTokens ? try await FaultProxy(upstream: "127.0.0.1:\(tokens.port)") : nil
        tokenProxy = proxy
        registry = try await RegistryServer(
            auth: .token(
                realm: proxy.map { "\($0.url)/token" } ?? tokens.realm, service: "test-registry",
                issuer: tokens.issuer, rootCertificatePEM: cert),
            tls: tls)
    }

    package var address: String { registry.address }

    package func stop() async {
        registry.stop()
        await tokens.stop()
        await tokenProxy?.stop()
    }
}

/// Writes a small real image (one layer, a config) into a registry over the API, with no auth or with a raw
/// Authorization header. Returns the manifest digest.
package func pushTestImage(
    transport: any HTTPTransport, scheme: String = "http", registry: String, repository: String, tag: String,
    authorization: String? = nil, content: String = "hello"
) async throws -> String {
    func send(
        _ method: String, _ url: URL, _ headers: HTTPHeaders = [:], _ body: Data? = nil
    ) async throws -> HTTPResponse {
        var h = headers
        if let authorization { h["Authorization"] = authorization }
        return try await transport.send(HTTPRequest(method: method, url: url, headers: h, body: body))
    }
    func upload(_ data: Data) async throws -> String {
        let digest = Digest.sha256(of: data).description
        let start = try await send("POST", URL(string: "\(scheme)://\(registry)/v2/\(repository)/blobs/uploads/")!)
        guard start.status == 202, let location = start.headers["Location"] else {
            throw MissingTool(description: "test image upload refused: HTTP \(start.status)")
        }
        var c = URLComponents(
            url: URL(string: location, relativeTo: start.url)!.absoluteURL, resolvingAgainstBaseURL: false)!
        c.queryItems = (c.queryItems ?? []) + [URLQueryItem(name: "digest", value: digest)]
        let put = try await send("PUT", c.url!, ["Content-Type": "application/octet-stream"], data)
        guard put.status == 201 else { throw MissingTool(description: "test image blob PUT: HTTP \(put.status)") }
        return digest
    }
    let layer = Data("layer: \(content)\n".utf8)
    let layerDigest = try await upload(layer)
    let config = Data(
        #"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["\#(layerDigest)"]},"config":{}}"#
            .utf8)
    let configDigest = try await upload(config)
    let manifest = Data(
        #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(configDigest)","size":\#(config.count)},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"\#(layerDigest)","size":\#(layer.count)}]}"#
            .utf8)
    let put = try await send(
        "PUT", URL(string: "\(scheme)://\(registry)/v2/\(repository)/manifests/\(tag)")!,
        ["Content-Type": "application/vnd.oci.image.manifest.v1+json"], manifest)
    guard put.status == 201 else { throw MissingTool(description: "test image manifest PUT: HTTP \(put.status)") }
    return Digest.sha256(of: manifest).description
}

/// The Authorization header for a token registry's push user, fetched directly from the token server.
package func directToken(
    _ registry: TokenRegistry, repository: String, user: (String, String) = TokenRegistry.pushUser
)
    async throws -> String
{
    let transport = try AsyncHTTPClientTransport()
    defer { Task { try? await transport.shutdown() } }
    let url = URL(string: "\(registry.tokens.realm)?service=test-registry&scope=repository:\(repository):pull,push")!
    let basic = "Basic " + Data("\(user.0):\(user.1)".utf8).base64EncodedString()
    let r = try await transport.send(HTTPRequest(method: "GET", url: url, headers: ["Authorization": basic]))
    let json = try JSONSerialization.jsonObject(with: r.body) as? [String: Any]
    return "Bearer " + (json?["token"] as? String ?? "")
}

/// The tags of `repository` in the registry (`GET /v2/<name>/tags/list`), read with the push user's token.
package func listTags(_ registry: TokenRegistry, repository: String) async throws -> [String] {
    let transport = try AsyncHTTPClientTransport()
    defer { Task { try? await transport.shutdown() } }
    let url = URL(string: "http://\(registry.address)/v2/\(repository)/tags/list")!
    let r = try await transport.send(
        HTTPRequest(
            method: "GET", url: url, headers: ["Authorization": try await directToken(registry, repository: repository)]
        ))
    let json = try JSONSerialization.jsonObject(with: r.body) as? [String: Any]
    return json?["tags"] as? [String] ?? []
}
