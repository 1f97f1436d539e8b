import ChainsConfig
import Foundation
import HTTPTransport
import RegistryAuth

#if canImport(Glibc)
    import Glibc
#endif

/// How `chains` reaches registries: `--registry-ca HOST=FILE` (a CA bundle for one registry) and
/// `--insecure-registry HOST` (TLS without verification, plain HTTP allowed) — per registry, opt-in.
public struct RegistrySettings: Sendable {
    /// CA bundle file by registry (`host[:port]` → PEM path), added to the system's roots for that registry only.
    public var caBundles: [String: String]
    /// Registries reached over plain HTTP or without TLS verification, opted out by name.
    public var insecure: Set<String>
    /// Where pushes may go (`--allowed-registries`; in a cluster, loopback and the API service refused too).
    package var destinations: RegistryDestinations
    /// `--resolve HOST:PORT=ADDRESS` (lowercased `host:port` → numeric address): connect there for that name, TLS
    /// still verified as the name — for mirrors, split DNS and air-gapped setups, as curl's option.
    public var resolve: [String: String]

    /// Registry access for a program: CA bundles by registry, registries reached over plain HTTP or without TLS
    /// verification (opted out by name), and pinned addresses; pushes may go anywhere.
    public init(caBundles: [String: String] = [:], insecure: Set<String> = [], resolve: [String: String] = [:]) {
        self.init(caBundles: caBundles, insecure: insecure, destinations: .init(), resolve: resolve)
    }

    package init(
        caBundles: [String: String], insecure: Set<String>, destinations: RegistryDestinations,
        resolve: [String: String]
    ) {
        self.caBundles = caBundles
        self.insecure = insecure
        self.destinations = destinations
        self.resolve = resolve
    }

    /// Where registry connections may go: `--resolve`'s addresses, and every address a name resolves to checked
    /// against `destinations` (`RegistryDestinations.addressRefusal`) before anything is sent.
    package var connectionRules: ConnectionRules {
        let destinations = self.destinations
        return ConnectionRules(pinned: resolve) { registry, address in
            destinations.addressRefusal(registry: registry, address: address)
        }
    }

    /// Reads `--resolve` values; an error names the one that is not `HOST:PORT=ADDRESS`.
    package static func pins(_ values: [String]) throws(ChainsError) -> [String: String] {
        var out: [String: String] = [:]
        for value in values {
            guard let (key, address) = ConnectionRules.parsePin(value) else {
                throw ChainsError(
                    .badInput,
                    "--resolve takes HOST:PORT=ADDRESS with a numeric address (as curl's), got \"\(value)\"")
            }
            out[key] = address
        }
        return out
    }

    /// `storage.oci.repository.insecure: true` makes every registry insecure, as in Chains.
    package func policy(insecureByDefault: Bool) -> ConnectionPolicy {
        var registries: [String: RegistryConnection] = [:]
        for (host, path) in caBundles { registries[host] = .init(.customCA(path: path)) }
        for host in insecure { registries[host] = .init(.insecureSkipVerify) }
        return ConnectionPolicy(
            registries: registries, default: .init(insecureByDefault ? .insecureSkipVerify : .verified))
    }
}

/// Where signatures may be pushed. A TaskRun's results are written by whoever wrote the Task, so the image
/// reference is untrusted: by default no request goes to link-local or cloud metadata addresses (`169.254.0.0/16`,
/// `fe80::/10`, `fd00:ec2::254`, `metadata.google.internal`), to the Kubernetes API service, or — in a cluster — to
/// loopback. `allowed` (`--allowed-registries`, `storage.oci.allowed-registries`): only these `host[:port]`
/// patterns, `*.` wildcards matched label by label and the port exactly, as credential keys are. Names and literal
/// addresses are checked before credentials are looked up; then every address a name resolves to is checked by the
/// transport (`addressRefusal`), which connects to the address it checked.
package struct RegistryDestinations: Sendable {
    package var allowed: [String]
    package var refuseLoopback: Bool
    /// The API service by every name it has in a cluster (`KUBERNETES_SERVICE_HOST` too).
    package var apiServerHosts: Set<String>

    package init(allowed: [String] = [], refuseLoopback: Bool = false, apiServerHosts: Set<String> = []) {
        self.allowed = allowed
        self.refuseLoopback = refuseLoopback
        self.apiServerHosts = apiServerHosts
    }

    /// `--allowed-registries`' value: comma-separated patterns, as chains-config's list keys are read.
    package static func patterns(_ text: String?) -> [String] { ChainsConfig.list(text ?? "") }

    /// In a cluster: loopback refused, the API service's names and address refused.
    package static func inCluster(
        allowed: [String], environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> RegistryDestinations {
        var hosts: Set<String> = [
            "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
        ]
        if let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty { hosts.insert(host.lowercased()) }
        return RegistryDestinations(allowed: allowed, refuseLoopback: true, apiServerHosts: hosts)
    }

    /// Why `registry` (`host[:port]`) gets no request, or nil when it may.
    package func refusal(for registry: String) -> String? {
        let host = Self.host(of: registry).lowercased()
        if Self.isMetadata(host) {
            return "\(registry) is a link-local or cloud metadata address; signatures are never pushed there"
        }
        if apiServerHosts.contains(host) {
            return "\(registry) is the Kubernetes API service, not a registry"
        }
        let listed = allowed.contains { Keyring.matches(key: $0, image: registry) }
        // Loopback in a cluster is refused by default; listing it (a registry sidecar in the Pod) lets it in.
        if refuseLoopback, Self.isLoopback(host), !listed {
            return "\(registry) is a loopback address, refused in a cluster (it would reach the controller's own Pod; "
                + "list it in --allowed-registries if a registry runs beside the controller)"
        }
        if !allowed.isEmpty, !listed {
            return "\(registry) is not in the allowed registries (\(allowed.joined(separator: ", ")))"
        }
        return nil
    }

    /// Why `registry` may not be reached at the numeric `address` it resolved to (or was pinned to), or nil. The
    /// name passed `refusal(for:)` already; this catches a name that leads to a refused address.
    package func addressRefusal(registry: String, address: String) -> String? {
        let address = address.lowercased()
        if Self.isMetadata(address) {
            return "a link-local or cloud metadata address; signatures are never pushed there"
        }
        if apiServerHosts.contains(address) { return "the Kubernetes API service's address, not a registry" }
        if refuseLoopback, Self.isLoopback(address),
            !allowed.contains(where: { Keyring.matches(key: $0, image: registry) })
        {
            return "a loopback address, refused in a cluster (list \(registry) in --allowed-registries if a registry "
                + "runs beside the controller)"
        }
        return nil
    }

    static func host(of registry: String) -> String {
        if registry.hasPrefix("["), let close = registry.firstIndex(of: "]") {
            return String(registry[registry.index(after: registry.startIndex)..<close])
        }
        if registry.filter({ $0 == ":" }).count > 1 { return registry }  // a bare IPv6 address
        return String(registry.split(separator: ":", maxSplits: 1).first ?? "")
    }

    static func isMetadata(_ host: String) -> Bool {
        if ["metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"].contains(host) {
            return true
        }
        if let v4 = IPv4Address(host) { return v4.octets[0] == 169 && v4.octets[1] == 254 }
        if let v6 = IPv6Address(host) {
            return (v6.words[0] & 0xffc0) == 0xfe80 || v6.words == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254]
                || v6.mappedV4.map { $0.octets[0] == 169 && $0.octets[1] == 254 } == true
        }
        return false
    }

    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host.hasSuffix(".localhost") { return true }
        // 0.0.0.0 and :: reach this host too.
        if let v4 = IPv4Address(host) { return v4.octets[0] == 127 || v4.octets == [0, 0, 0, 0] }
        if let v6 = IPv6Address(host) {
            return v6.words == [0, 0, 0, 0, 0, 0, 0, 1] || v6.words == [0, 0, 0, 0, 0, 0, 0, 0]
                || v6.mappedV4.map { $0.octets[0] == 127 } == true
        }
        return false
    }
}

/// An IPv4 literal in every form the resolver accepts (`inet_aton`: `169.254.169.254`, `2852039166`, `0xa9fea9fe`,
/// `0251.0376.0251.0376`, `169.254.43518`), so a spelling cannot slip past the checks.
struct IPv4Address {
    var octets: [UInt8]
    init?(_ text: String) {
        guard !text.isEmpty, text.allSatisfy({ $0.isHexDigit || $0 == "." || $0 == "x" || $0 == "X" }) else {
            return nil
        }
        var address = in_addr()
        guard inet_aton(text, &address) != 0 else { return nil }
        let value = UInt32(bigEndian: address.s_addr)
        octets = [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
    }
}

/// An IPv6 literal (with `::`, an embedded IPv4 tail, no zone).
struct IPv6Address {
    var words: [UInt16]
    init?(_ text: String) {
        guard text.contains(":"), !text.contains("%") else { return nil }
        var body = text
        // An IPv4 tail (`::ffff:169.254.1.1`) is written as its two hex groups.
        if let lastColon = text.lastIndex(of: ":"), text[lastColon...].contains(".") {
            guard let v4 = IPv4Address(String(text[text.index(after: lastColon)...])) else { return nil }
            let hi = String(UInt16(v4.octets[0]) << 8 | UInt16(v4.octets[1]), radix: 16)
            let lo = String(UInt16(v4.octets[2]) << 8 | UInt16(v4.octets[3]), radix: 16)
            body = String(text[...lastColon]) + hi + ":" + lo
        }
        let halves = body.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            for group in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard !group.isEmpty, group.count <= 4, let w = UInt16(group, radix: 16) else { return nil }
                out.append(w)
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        var all: [UInt16]
        if halves.count == 2 {
            guard let rest = groups(halves[1]) else { return nil }
            let missing = 8 - head.count - rest.count
            guard missing >= 1 else { return nil }
            all = head + Array(repeating: 0, count: missing) + rest
        } else {
            all = head
        }
        guard all.count == 8 else { return nil }
        self.words = all
    }

    /// `::ffff:a.b.c.d`.
    var mappedV4: IPv4Address? {
        guard words[0..<5].allSatisfy({ $0 == 0 }), words[5] == 0xffff else { return nil }
        return IPv4Address("\(words[6] >> 8).\(words[6] & 0xff).\(words[7] >> 8).\(words[7] & 0xff)")
    }
}
