import ChainsConfig
import CloudCredentials
import Crypto
import Foundation
import HTTPTransport
import Signing

/// The `gcs` backend: four objects per stored payload in bucket `storage.gcs.bucket`, named as Tekton Chains names
/// them — `<taskrun|pipelinerun>-<namespace>-<name>/<shortKey>.signature`, `.payload`, `.cert`, `.chain` (the last two
/// written even when empty), in that order, each overwriting what a retry wrote before. Uploaded through the JSON API
/// (`POST /upload/storage/v1/b/<bucket>/o?uploadType=media`); each answer must name the object and carry its size and
/// MD5 (or CRC32C) — the service's own read-back of what it stored — or the store fails and the run is not marked.
/// Chains ignores upload errors; this backend does not.
package struct GCSStorage: StorageBackend {
    package let kind = StorageKind.gcs

    /// Where the JSON API is, and whether a token is sent.
    package struct Endpoint: Sendable, Equatable {
        /// `scheme://host[:port]`, the API's paths resolved under it.
        package var base: URL
        /// `STORAGE_EMULATOR_HOST` is set: no credentials, as Google's Go client does.
        package var emulator: Bool
        /// What to say about it: `https://storage.googleapis.com` or `the emulator at …`.
        package var label: String
    }

    let bucket: String
    let endpoint: Endpoint
    let tokens: (any GoogleTokenSource)?
    let transport: any HTTPTransport

    package init(bucket: String, endpoint: Endpoint, tokens: (any GoogleTokenSource)?, transport: any HTTPTransport) {
        self.bucket = bucket
        self.endpoint = endpoint
        self.tokens = tokens
        self.transport = transport
    }

    /// The endpoint the environment names: `STORAGE_EMULATOR_HOST` (`host:port`, or a URL) as Google's Go client reads
    /// it; else `CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE` (gcloud's override, authenticated: https, or plain http to
    /// loopback only); else `https://storage.googleapis.com`.
    package static func endpoint(environment: [String: String]) throws(ChainsError) -> Endpoint {
        if let emulator = environment["STORAGE_EMULATOR_HOST"], !emulator.isEmpty {
            let text = emulator.contains("://") ? emulator : "http://\(emulator)"
            guard let url = URL(string: text), let base = root(of: url) else {
                throw ChainsError(
                    .badInput, "STORAGE_EMULATOR_HOST=\(emulator) is not host:port or a URL", key: "storage.gcs.bucket")
            }
            return Endpoint(base: base, emulator: true, label: "the emulator at \(base.absoluteString)")
        }
        if let override = environment["CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE"], !override.isEmpty {
            guard let url = URL(string: override), let base = root(of: url), let host = url.host,
                url.scheme == "https" || (url.scheme == "http" && ["127.0.0.1", "localhost", "::1"].contains(host))
            else {
                throw ChainsError(
                    .badInput,
                    "CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE=\(override) is not an https URL (plain http only to loopback: a token is sent)",
                    key: "storage.gcs.bucket")
            }
            return Endpoint(base: base, emulator: false, label: base.absoluteString)
        }
        return Endpoint(
            base: URL(string: "https://storage.googleapis.com")!, emulator: false,
            label: "https://storage.googleapis.com")
    }

    static func root(of url: URL) -> URL? {
        guard let scheme = url.scheme, let host = url.host, !host.isEmpty else { return nil }
        let shown = host.contains(":") ? "[\(host)]" : host
        return URL(string: "\(scheme)://\(shown)\(url.port.map { ":\($0)" } ?? "")")
    }

    var peer: String { "GCS bucket \(bucket) (\(endpoint.label))" }

    /// `taskrun-<namespace>-<name>` or `pipelinerun-<namespace>-<name>`.
    static func folder(for run: RunContext) -> String { "\(run.kind.lowercased())-\(run.namespace)-\(run.name)" }

    package func store(_ item: SignedArtifact, for run: RunContext) async throws -> StorageReceipt {
        let prefix = "\(Self.folder(for: run))/\(item.shortKey)"
        let objects: [(String, Data)] = [
            ("\(prefix).signature", item.signature), ("\(prefix).payload", item.payload),
            ("\(prefix).cert", Data(CertificatePEM.leaf(item.certificateChain).utf8)),
            ("\(prefix).chain", Data(CertificatePEM.rest(item.certificateChain).utf8)),
        ]
        let token: String?
        do {
            token = try await bearerToken()
        } catch {
            throw StorageError(
                backend: kind, item: "gs://\(bucket)/\(prefix).*", reason: error.description, underlying: error)
        }
        var receipt = StorageReceipt(backend: kind)
        for (name, body) in objects {
            do {
                try await upload(name, body, token: token)
            } catch {
                throw StorageError(
                    backend: kind, item: "gs://\(bucket)/\(name)", reason: error.description, underlying: error)
            }
        }
        receipt.locations = [
            .init(
                target: "gs://\(bucket)/\(prefix).{signature,payload,cert,chain}",
                credential: endpoint.emulator ? "no credentials (emulator)" : tokens?.identity ?? "",
                detail: "uploaded through \(endpoint.label); each object's size and hash confirmed",
                alreadyPresent: false)
        ]
        return receipt
    }

    func bearerToken() async throws(BackendError) -> String? {
        try await BackendHTTP.bearerToken(endpoint.emulator ? nil : tokens, backend: kind, peer: peer)
    }

    /// One object, uploaded whole; the answer must show that exactly these bytes are stored under that name.
    func upload(_ name: String, _ body: Data, token: String?) async throws(BackendError) {
        let encodedBucket = Self.encode(bucket)
        let encodedName = Self.encode(name)
        guard
            let url = URL(
                string:
                    "\(endpoint.base.absoluteString)/upload/storage/v1/b/\(encodedBucket)/o?uploadType=media&name=\(encodedName)"
            )
        else {
            throw BackendError(.failed, backend: kind, peer: peer, reason: "no upload URL for \(name)")
        }
        var headers: HTTPHeaders = ["Content-Type": "application/octet-stream"]
        if let token { headers["Authorization"] = "Bearer \(token)" }
        let response: HTTPResponse
        do {
            response = try await BackendHTTP.send(
                HTTPRequest(method: "POST", url: url, headers: headers, body: body), via: transport, backend: kind,
                peer: peer, what: "upload", message: BackendHTTP.googleMessage)
        } catch {
            var error = error
            if error.reason.contains("HTTP 404") { error.reason += " (does the bucket exist?)" }
            throw error
        }
        if let problem = Self.problem(with: response.body, name: name, bucket: bucket, stored: body) {
            throw BackendError(.failed, backend: kind, peer: peer, reason: "upload: \(problem)")
        }
    }

    /// What the upload's answer (the object resource) says against what was sent; nil when it shows the bytes stored.
    package static func problem(with answer: Data, name: String, bucket: String, stored body: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: answer) as? [String: Any] else {
            return "the answer is not an object resource; nothing shows the object was stored"
        }
        guard object["name"] as? String == name, object["bucket"] as? String == bucket else {
            return "the answer names \(object["bucket"] ?? "?")/\(object["name"] ?? "?"), not the object sent"
        }
        let size = (object["size"] as? String).flatMap(Int.init) ?? (object["size"] as? Int)
        guard size == body.count else {
            return "the service stored \(size.map(String.init) ?? "an unknown number of") bytes, not \(body.count)"
        }
        if let md5 = object["md5Hash"] as? String {
            return md5 == Data(Insecure.MD5.hash(data: body)).base64EncodedString()
                ? nil : "the stored object's MD5 is not that of the bytes sent"
        }
        if let crc = object["crc32c"] as? String {
            return crc == CRC32C.base64(body) ? nil : "the stored object's CRC32C is not that of the bytes sent"
        }
        return "the answer has neither md5Hash nor crc32c; nothing shows what was stored"
    }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) as GCS gives it: four big-endian bytes, base64. Written here:
/// no listed package computes it.
enum CRC32C {
    static let table: [UInt32] = (0..<256).map { index in
        var c = UInt32(index)
        for _ in 0..<8 { c = c & 1 == 1 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    static func checksum(_ data: Data) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in data { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func base64(_ data: Data) -> String {
        let c = checksum(data)
        return Data([UInt8(c >> 24), UInt8((c >> 16) & 0xFF), UInt8((c >> 8) & 0xFF), UInt8(c & 0xFF)])
            .base64EncodedString()
    }
}

extension GCSStorage {
    /// The names of the objects under `prefix` (the JSON API's list, every page).
    package func objects(under prefix: String) async throws(BackendError) -> [String] {
        let token = try await bearerToken()
        var names: [String] = []
        var page: String?
        repeat {
            var query = "prefix=\(Self.encode(prefix))"
            if let page { query += "&pageToken=\(Self.encode(page))" }
            let answer = try await get("/storage/v1/b/\(Self.encode(bucket))/o?\(query)", token: token, what: "list")
            let json = (try? JSONSerialization.jsonObject(with: answer) as? [String: Any]) ?? [:]
            names += ((json["items"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
            page = json["nextPageToken"] as? String
        } while page != nil
        return names
    }

    /// One object's bytes.
    package func download(_ name: String) async throws(BackendError) -> Data {
        let token = try await bearerToken()
        return try await get(
            "/storage/v1/b/\(Self.encode(bucket))/o/\(Self.encode(name))?alt=media", token: token,
            what: "download of \(name)")
    }

    func get(_ path: String, token: String?, what: String) async throws(BackendError) -> Data {
        guard let url = URL(string: endpoint.base.absoluteString + path) else {
            throw BackendError(.failed, backend: kind, peer: peer, reason: "no URL for \(what)")
        }
        var headers: HTTPHeaders = [:]
        if let token { headers["Authorization"] = "Bearer \(token)" }
        return try await BackendHTTP.send(
            HTTPRequest(method: "GET", url: url, headers: headers), via: transport, backend: kind, peer: peer,
            what: what, message: BackendHTTP.googleMessage
        ).body
    }

    /// Percent-encoding for a path segment or query value (`/` encoded too).
    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
