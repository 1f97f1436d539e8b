/// A reference that could not be parsed; says which one and why.
package struct ReferenceError: Error, Sendable, Hashable, CustomStringConvertible {
    package var reference: String
    package var reason: String
    package init(reference: String, reason: String) {
        self.reference = reference
        self.reason = reason
    }
    package var description: String { "invalid image reference \"\(reference)\": \(reason)" }
}

/// A container image reference, normalised the way go-containerregistry's `name` package does it (non-strict):
/// Docker Hub is `index.docker.io` with `library/` for one-segment names, a tag before a digest is dropped,
/// repositories are lowercase.
package struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    package static let dockerHub = "index.docker.io"

    /// Registry host, with port if any (`index.docker.io`, `gcr.io`, `127.0.0.1:5000`).
    package let registry: String
    /// Repository path within the registry, `library/` added for Docker Hub official images.
    package let repository: String
    package let tag: String?
    package let digest: Digest?

    /// `registry/repository`: what cosign and Chains call the image's name (`docker-reference`).
    package var name: String { "\(registry)/\(repository)" }

    /// `registry/repository@sha256:…` when there is a digest, else `registry/repository:tag`.
    package var description: String {
        if let digest { return "\(name)@\(digest)" }
        return "\(name):\(tag ?? "latest")"
    }

    package init(registry: String, repository: String, tag: String? = nil, digest: Digest? = nil) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Parses `[registry/]repository[:tag][@sha256:hex]`. Scans UTF-8 bytes, not Characters: every separator is
    /// ASCII, and what is left is checked byte by byte anyway (a run's images are parsed several times per run).
    package init(parsing text: String) throws(ReferenceError) {
        var base = Substring(text)
        var digest: Digest?
        let utf8 = text.utf8
        if let at = utf8.firstIndex(of: UInt8(ascii: "@")) {
            let rest = text[utf8.index(after: at)...]
            guard !rest.utf8.contains(UInt8(ascii: "@")) else {
                throw ReferenceError(reference: text, reason: "a reference may contain at most one '@'")
            }
            base = text[..<at]
            do {
                digest = try Digest(parsingSHA256: String(rest))
            } catch {
                throw ReferenceError(reference: text, reason: error.reason)
            }
        }
        let (repoPart, tag) = try ImageReference.splitTag(base, whole: text)
        let (registry, repository) = try ImageReference.splitRepository(repoPart, whole: text)
        self.init(registry: registry, repository: repository, tag: digest == nil ? tag : nil, digest: digest)
    }

    /// Parses a reference that must carry a digest (`name.NewDigest`): exactly one `@` and a sha256 digest.
    package init(parsingDigest text: String) throws(ReferenceError) {
        guard text.utf8.count(where: { $0 == UInt8(ascii: "@") }) == 1 else {
            throw ReferenceError(
                reference: text,
                reason: "a digest reference must contain exactly one '@' (registry/repository@sha256:hex)")
        }
        try self.init(parsing: text)
    }

    /// Parses a repository with no tag or digest (`storage.oci.repository`).
    package init(parsingRepository text: String) throws(ReferenceError) {
        let (registry, repository) = try ImageReference.splitRepository(Substring(text), whole: text)
        self.init(registry: registry, repository: repository)
    }

    /// The same repository with a different digest or tag.
    package func with(digest: Digest) -> ImageReference {
        ImageReference(registry: registry, repository: repository, tag: nil, digest: digest)
    }

    package func with(tag: String) -> ImageReference {
        ImageReference(registry: registry, repository: repository, tag: tag, digest: nil)
    }

    /// A repository in the same or another registry (for `storage.oci.repository`).
    package var repositoryOnly: ImageReference { ImageReference(registry: registry, repository: repository) }

    static func splitTag(_ base: Substring, whole: String) throws(ReferenceError) -> (Substring, String?) {
        guard let colon = base.utf8.lastIndex(of: UInt8(ascii: ":")) else { return (base, nil) }
        let last = base[base.utf8.index(after: colon)...]
        guard !last.utf8.contains(UInt8(ascii: "/")) else { return (base, nil) }
        let tag = String(last)
        guard isValidTag(tag) else {
            throw ReferenceError(
                reference: whole, reason: "tag \"\(tag)\" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
        }
        return (base[..<colon], tag)
    }

    static func splitRepository(_ name: Substring, whole: String) throws(ReferenceError) -> (String, String) {
        guard !name.isEmpty else { throw ReferenceError(reference: whole, reason: "a repository name must be given") }
        var registry = ""
        var repository = String(name)
        if let slash = name.utf8.firstIndex(of: UInt8(ascii: "/")),
            name.utf8[..<slash].contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") })
        {
            registry = String(name[..<slash])
            repository = String(name[name.utf8.index(after: slash)...])
        }
        let bytes = repository.utf8
        guard bytes.count >= 2, bytes.count <= 255 else {
            throw ReferenceError(reference: whole, reason: "a repository must be 2 to 255 characters long")
        }
        let slash = UInt8(ascii: "/")
        let emptyComponent =
            bytes.first == slash || bytes.last == slash
            || zip(bytes, bytes.dropFirst()).contains { $0 == slash && $1 == slash }
        guard !emptyComponent else {
            throw ReferenceError(reference: whole, reason: "repository \"\(repository)\" has an empty path component")
        }
        guard repository.utf8.allSatisfy(isRepositoryByte) else {
            throw ReferenceError(
                reference: whole,
                reason: "repository \"\(repository)\" may contain only lowercase letters, digits and _ - . /")
        }
        if registry.isEmpty || registry == "docker.io" { registry = dockerHub }
        guard isValidRegistry(registry) else {
            throw ReferenceError(reference: whole, reason: "registry \"\(registry)\" is not a valid host[:port]")
        }
        if registry == dockerHub && !repository.utf8.contains(slash) {
            repository = "library/" + repository
            // The name we print and push to must read back: `library/` must not take it past the limit (found by
            // the image-reference fuzz harness: a 250-character one-segment name printed as one that did not parse).
            guard repository.utf8.count <= 255 else {
                throw ReferenceError(
                    reference: whole, reason: "a repository must be 2 to 255 characters long (with library/)")
            }
        }
        return (registry, repository)
    }

    static func isRepositoryByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b == 0x5f || b == 0x2d || b == 0x2e || b == 0x2f
    }

    static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard !bytes.isEmpty, bytes.count <= 128 else { return false }
        func word(_ b: UInt8) -> Bool {
            (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39) || b == 0x5f
        }
        return word(bytes[0]) && bytes.dropFirst().allSatisfy { word($0) || $0 == 0x2e || $0 == 0x2d }
    }

    /// host or host:port, as `url.Parse("//"+name).Host == name` accepts it (no path, user info or spaces).
    static func isValidRegistry(_ registry: String) -> Bool {
        guard !registry.isEmpty else { return false }
        if let colon = registry.lastIndex(of: ":"), !registry.hasSuffix("]") {
            let port = registry[registry.index(after: colon)...]
            guard !port.isEmpty, port.allSatisfy(\.isASCII), port.allSatisfy(\.isNumber) else { return false }
        }
        return registry.utf8.allSatisfy { b in
            (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39) || b == 0x2e || b == 0x2d
                || b == 0x3a || b == 0x5f || b == 0x5b || b == 0x5d
        }
    }
}
