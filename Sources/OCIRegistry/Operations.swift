import Foundation
import HTTPTransport
import OCI

/// A manifest as fetched: exact bytes, its media type and digest.
package struct FetchedManifest: Sendable {
    package var bytes: Data
    package var mediaType: String
    package var digest: Digest
}

extension RegistrySession {
    /// `HEAD /v2/<repo>/blobs/<digest>`: whether the registry has the blob.
    package func blobExists(_ digest: String) async throws -> Bool {
        let response = try await send("HEAD", url("blobs/\(digest)"))
        switch response.status {
        case 200: return true
        case 404: return false
        default: throw fail(response, "HEAD blob \(digest)")
        }
    }

    /// Uploads a blob: `POST` a session (or a cross-repository mount), then a monolithic `PUT` with the body;
    /// if the registry refuses the monolithic `PUT`, a fresh session with one `PATCH` and a closing `PUT`.
    package func uploadBlob(_ data: Data, digest: String, mountFrom: String? = nil) async throws {
        var query: [URLQueryItem] = []
        var extra: [String] = []
        if let mountFrom {
            query = [.init(name: "mount", value: digest), .init(name: "from", value: mountFrom)]
            // A mount needs pull on the source repository in the same token (after push on the target).
            extra = [Scope.pull(mountFrom)]
        }
        let start = try await send("POST", url("blobs/uploads/", query: query), extraScopes: extra)
        if start.status == 201 { return }  // mounted
        guard start.status == 202, let location = start.headers["Location"] else {
            throw fail(start, "start blob upload")
        }
        let session = try resolve(location, against: start.url)
        let put = try await send(
            "PUT", appending(session, digest: digest), headers: ["Content-Type": "application/octet-stream"], body: data
        )
        if put.status == 201 { return }
        guard [400, 405, 411, 416].contains(put.status), !fail(put, "").isAuthorizationFailure else {
            throw fail(put, "upload blob \(digest)")
        }
        // Chunked fallback.
        let again = try await send("POST", url("blobs/uploads/"))
        guard again.status == 202, let location2 = again.headers["Location"] else {
            throw fail(again, "start blob upload")
        }
        let patch = try await send(
            "PATCH", try resolve(location2, against: again.url),
            headers: ["Content-Type": "application/octet-stream", "Content-Range": "0-\(max(data.count - 1, 0))"],
            body: data)
        guard patch.status == 202 || patch.status == 204, let location3 = patch.headers["Location"] else {
            throw fail(patch, "upload blob chunk \(digest)")
        }
        let close = try await send("PUT", appending(try resolve(location3, against: patch.url), digest: digest))
        guard close.status == 201 else { throw fail(close, "finish blob upload \(digest)") }
    }

    /// Uploads unless present (one `HEAD` first).
    package func ensureBlob(_ data: Data, digest: String) async throws {
        if try await blobExists(digest) { return }
        try await uploadBlob(data, digest: digest)
    }

    /// Opens an upload session and cancels it: proves push access without writing anything.
    package func checkPush() async throws {
        let start = try await send("POST", url("blobs/uploads/"))
        guard start.status == 202, let location = start.headers["Location"] else {
            throw fail(start, "open upload session")
        }
        _ = try? await send("DELETE", try resolve(location, against: start.url))
    }

    /// The manifest at a tag or digest, or nil when there is none.
    package func manifest(
        _ reference: String, accept: [String] = MediaType.acceptedManifests
    ) async throws
        -> FetchedManifest?
    {
        let response = try await send(
            "GET", url("manifests/\(reference)"), headers: ["Accept": accept.joined(separator: ", ")])
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw fail(response, "GET manifest \(reference)") }
        let digest = Digest.sha256(of: response.body)
        if reference.hasPrefix("sha256:"), reference != digest.description {
            throw RegistryError(
                registry: registry, repository: repository, operation: "GET manifest \(reference)", status: 200,
                message: "the registry returned content with digest \(digest), not the one asked for")
        }
        let contentType = (response.headers["Content-Type"] ?? "").split(separator: ";").first.map(String.init) ?? ""
        let mediaType =
            contentType.isEmpty || contentType == "application/json"
            ? ((try? JSONSerialization.jsonObject(with: response.body) as? [String: Any])?["mediaType"] as? String ?? "")
            : contentType
        return FetchedManifest(bytes: response.body, mediaType: mediaType, digest: digest)
    }

    /// PUTs manifest bytes at a tag or digest with their media type; returns their digest.
    @discardableResult
    package func putManifest(_ bytes: Data, mediaType: String, reference: String) async throws -> Digest {
        let response = try await send(
            "PUT", url("manifests/\(reference)"), headers: ["Content-Type": mediaType], body: bytes)
        guard [200, 201, 202].contains(response.status) else { throw fail(response, "PUT manifest \(reference)") }
        return Digest.sha256(of: bytes)
    }

    /// The referrers of a digest through the API, or nil when the registry has no referrers API.
    package func referrers(_ digest: String) async throws -> ImageIndex? {
        let response = try await send("GET", url("referrers/\(digest)"), headers: ["Accept": MediaType.ociIndex])
        guard response.status == 200,
            (response.headers["Content-Type"] ?? "").hasPrefix(MediaType.ociIndex)
        else {
            if [404, 400, 406].contains(response.status) || response.status == 200 { return nil }
            throw fail(response, "GET referrers \(digest)")
        }
        return try JSONDecoder().decode(ImageIndex.self, from: response.body)
    }

    /// Tags of the repository.
    package func tags() async throws -> [String] {
        let response = try await send("GET", url("tags/list"))
        if response.status == 404 { return [] }
        guard response.status == 200 else { throw fail(response, "list tags") }
        struct Tags: Decodable { var tags: [String]? }
        return try JSONDecoder().decode(Tags.self, from: response.body).tags ?? []
    }

    func resolve(_ location: String, against base: URL) throws -> URL {
        guard let url = URL(string: location, relativeTo: base)?.absoluteURL else {
            throw RegistryError(
                registry: registry, repository: repository, operation: "blob upload", status: 0,
                message: "unusable Location \"\(location)\"")
        }
        return url
    }

    /// Adds `digest=` to an upload URL, keeping whatever query the registry put there.
    func appending(_ url: URL, digest: String) -> URL {
        var c = URLComponents(url: url, resolvingAgainstBaseURL: false)!
        var items = c.queryItems ?? []
        items.append(.init(name: "digest", value: digest))
        c.queryItems = items
        c.percentEncodedQuery = c.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return c.url!
    }
}
