import Foundation

/// How to reach a registry: verified TLS (the default), TLS with an extra CA bundle, TLS without verification,
/// or plain HTTP. Insecure choices are per registry and opt-in only.
package struct RegistryConnection: Sendable, Hashable {
    package enum Security: Sendable, Hashable {
        case verified
        case customCA(path: String)
        case insecureSkipVerify
        case plainHTTP
    }
    package var security: Security

    package init(_ security: Security) { self.security = security }

    package var scheme: String { security == .plainHTTP ? "http" : "https" }
}

/// Per-registry connection settings (`host[:port]` → setting), with a default for all others.
package struct ConnectionPolicy: Sendable {
    package var registries: [String: RegistryConnection]
    package var defaultConnection: RegistryConnection

    package init(
        registries: [String: RegistryConnection] = [:], default defaultConnection: RegistryConnection = .init(.verified)
    ) {
        self.registries = registries
        self.defaultConnection = defaultConnection
    }

    package func connection(for registry: String) -> RegistryConnection {
        registries[registry] ?? defaultConnection
    }
}

extension URL {
    /// Whether this address names this machine: `localhost`, 127.0.0.0/8 or `::1` (bracketed or not).
    package var isLoopback: Bool {
        guard var host = host?.lowercased() else { return false }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host == "localhost" || host == "::1" || (host.hasPrefix("127.") && host.split(separator: ".").count == 4)
    }

    /// Whether a credential may be sent here: https, or plain http to this machine only (a local peer or test
    /// double), as the cloud SDKs and sigstore's clients allow.
    package var carriesCredentialsSafely: Bool {
        let scheme = scheme?.lowercased()
        return scheme == "https" || (scheme == "http" && isLoopback)
    }
}
