import HTTPTransport

/// How `chains` reaches registries: `--registry-ca HOST=FILE` (a CA bundle for one registry) and
/// `--insecure-registry HOST` (TLS without verification, plain HTTP allowed) — per registry, opt-in.
public struct RegistrySettings: Sendable {
    public var caBundles: [String: String]
    public var insecure: Set<String>

    public init(caBundles: [String: String] = [:], insecure: Set<String> = []) {
        self.caBundles = caBundles
        self.insecure = insecure
    }

    /// `storage.oci.repository.insecure: true` makes every registry insecure, as in Chains.
    public func policy(insecureByDefault: Bool) -> ConnectionPolicy {
        var registries: [String: RegistryConnection] = [:]
        for (host, path) in caBundles { registries[host] = .init(.customCA(path: path)) }
        for host in insecure { registries[host] = .init(.insecureSkipVerify) }
        return ConnectionPolicy(
            registries: registries, default: .init(insecureByDefault ? .insecureSkipVerify : .verified))
    }
}
