import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Credentials keyed by registry pattern, matched the way the kubelet matches pull secrets
/// (`pkg/credentialprovider/keyring.go`): wildcard labels, equal ports, path prefixes, most specific first.
package struct Keyring: Sendable {
    package struct Entry: Sendable, Hashable {
        /// Normalised key: `host[:port][/path]`.
        package var key: String
        package var credential: SourcedCredential
    }

    package private(set) var entries: [Entry] = []

    package init() {}

    /// Adds the entries of one docker config, normalising keys as the kubelet does. Returns keys it had to skip.
    @discardableResult
    package mutating func add(_ config: DockerConfig, source: (String) -> CredentialSource) -> [String] {
        var skipped: [String] = []
        for (rawKey, credential) in config.auths {
            guard let key = Keyring.normaliseKey(rawKey) else {
                skipped.append(rawKey)
                continue
            }
            entries.append(Entry(key: key, credential: SourcedCredential(credential, source: source(rawKey))))
        }
        return skipped
    }

    /// Another keyring's entries after these: one keyring for all the Secrets of a source, as the kubelet merges
    /// pull secrets, so the most specific key wins across Secrets and equal keys keep the Secrets' order.
    package mutating func merge(_ other: Keyring) { entries += other.entries }

    package mutating func add(key rawKey: String, _ credential: SourcedCredential) {
        guard let key = Keyring.normaliseKey(rawKey) else { return }
        entries.append(Entry(key: key, credential: credential))
    }

    /// `https://index.docker.io/v1/` → `index.docker.io`; `quay.io/coreos` → `quay.io/coreos`; Docker Hub's
    /// aliases (`docker.io`, `registry-1.docker.io`) → `index.docker.io`.
    package static func normaliseKey(_ raw: String) -> String? {
        var text = raw.trimmingCharacters(in: .whitespaces)
        if !text.hasPrefix("http://") && !text.hasPrefix("https://") { text = "https://" + text }
        guard let components = URLComponents(string: text), var host = components.host, !host.isEmpty else {
            return nil
        }
        if let port = components.port { host += ":\(port)" }
        if host == "docker.io" || host == "registry-1.docker.io" { host = "index.docker.io" }
        var path = components.path
        for prefix in ["/v1/", "/v2/"] where path.hasPrefix(prefix) { path = "/" + path.dropFirst(prefix.count) }
        if path.isEmpty || path == "/" { return host }
        return host + (path.hasSuffix("/") ? String(path.dropLast()) : path)
    }

    /// Every credential whose key matches `image` (`host[:port]/repository`), most specific key first; within a
    /// key, in the order added. With no match and a Docker Hub image, the `index.docker.io` entries.
    package func lookup(_ image: String) -> [SourcedCredential] {
        let keys = Set(entries.map(\.key)).sorted(by: >)
        var out: [SourcedCredential] = []
        for key in keys where Keyring.matches(key: key, image: image) {
            out += entries.filter { $0.key == key }.map(\.credential)
        }
        if out.isEmpty && Keyring.isDockerHub(image) {
            out = entries.filter { $0.key == "index.docker.io" }.map(\.credential)
        }
        return out
    }

    static func split(_ s: String) -> (host: String, port: String, path: String) {
        let slash = s.firstIndex(of: "/") ?? s.endIndex
        let hostPort = s[..<slash]
        let path = String(s[slash...])
        if let colon = hostPort.lastIndex(of: ":") {
            return (String(hostPort[..<colon]), String(hostPort[hostPort.index(after: colon)...]), path)
        }
        return (String(hostPort), "", path)
    }

    package static func matches(key: String, image: String) -> Bool {
        let k = split(key)
        let i = split(image)
        guard k.port == i.port else { return false }
        let keyLabels = k.host.split(separator: ".", omittingEmptySubsequences: false)
        let imageLabels = i.host.split(separator: ".", omittingEmptySubsequences: false)
        guard keyLabels.count == imageLabels.count else { return false }
        for (pattern, label) in zip(keyLabels, imageLabels) where fnmatch(String(pattern), String(label), 0) != 0 {
            return false
        }
        return i.path.hasPrefix(k.path)
    }

    static func isDockerHub(_ image: String) -> Bool {
        guard let first = image.split(separator: "/").first, image.contains("/") else { return true }
        return !first.contains(".") && !first.contains(":") || first == "docker.io" || first == "index.docker.io"
    }
}
