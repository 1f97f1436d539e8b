import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Sigstore
import SwiftProtobuf

#if canImport(Glibc)
    import Glibc
#endif

/// Where the SPIFFE Workload API listens: `SPIFFE_ENDPOINT_SOCKET` as the SPIFFE spec writes it (`unix:///path`,
/// `tcp://ip:port`), as Chains' docs write it (a bare path — cosign dials `unix://` + the value), or `unix:path`.
/// Default: the SPIRE agent's `/tmp/spire-agent/public/api.sock`.
package enum WorkloadEndpoint: Sendable, Equatable, CustomStringConvertible {
    case unix(path: String)
    case tcp(host: String, port: Int)

    package static let defaultPath = "/tmp/spire-agent/public/api.sock"

    package init(parsing raw: String?) throws(IdentityTokenError) {
        let text = (raw ?? "").trimmingCharacters(in: .whitespaces)
        let source = "spiffe SPIFFE_ENDPOINT_SOCKET"
        if text.isEmpty {
            self = .unix(path: Self.defaultPath)
        } else if text.hasPrefix("unix://") {
            let path = String(text.dropFirst("unix://".count))
            guard path.hasPrefix("/") else {
                throw IdentityTokenError(.malformed, source: source, reason: "\(text): unix:// needs an absolute path")
            }
            self = .unix(path: path)
        } else if text.hasPrefix("unix:") {
            self = .unix(path: String(text.dropFirst("unix:".count)))
        } else if text.hasPrefix("tcp://") {
            let rest = text.dropFirst("tcp://".count)
            guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
                !rest[..<colon].isEmpty
            else {
                throw IdentityTokenError(.malformed, source: source, reason: "\(text): tcp:// needs an IP and a port")
            }
            self = .tcp(
                host: String(rest[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: port)
        } else if text.hasPrefix("/") {
            self = .unix(path: text)
        } else {
            throw IdentityTokenError(
                .malformed, source: source,
                reason: "\(text) is neither unix:///path, tcp://ip:port nor an absolute socket path")
        }
    }

    package var description: String {
        switch self {
        case .unix(let path): return "unix://\(path)"
        case .tcp(let host, let port): return "tcp://\(host):\(port)"
        }
    }
}

/// A JWT-SVID from the SPIFFE Workload API (`/SpiffeWorkloadAPI/FetchJWTSVID`, metadata `workload.spiffe.io:
/// true`), as the `spiffe` identity provider: the SVID's `sub` is the SPIFFE ID that Fulcio certifies.
package struct SPIFFETokenProvider: IdentityTokenProvider {
    package let name = "spiffe"
    package let endpoint: WorkloadEndpoint
    package var timeout: Duration
    /// Where the endpoint was named, for messages: `SPIFFE_ENDPOINT_SOCKET`, `the SPIRE agent's default socket`, or
    /// the key that configured it.
    package var origin: String
    /// Asked for (`signers.x509.fulcio.provider: spiffe`, `SPIFFE_ENDPOINT_SOCKET` set, a key naming the socket): a
    /// socket that is missing, not a socket, or refuses the connection is then an error naming it and the fix. Not
    /// asked for (the default order, no variable): such a socket means "not running under SPIRE" (nil).
    package var required: Bool

    package init(
        endpoint: WorkloadEndpoint, timeout: Duration = .seconds(10), origin: String = "the Workload API socket",
        required: Bool = true
    ) {
        self.endpoint = endpoint
        self.timeout = timeout
        self.origin = origin
        self.required = required
    }

    /// From `SPIFFE_ENDPOINT_SOCKET` (or the default socket); required when the variable is set or `explicit`.
    package init(
        environment: [String: String] = ProcessInfo.processInfo.environment, explicit: Bool = false
    ) throws(IdentityTokenError) {
        let variable = environment["SPIFFE_ENDPOINT_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        self.init(
            endpoint: try WorkloadEndpoint(parsing: variable),
            origin: variable == nil ? "the SPIRE agent's default socket" : "SPIFFE_ENDPOINT_SOCKET",
            required: explicit || variable != nil)
    }

    /// For `endpoint` (`unix:///path`, `tcp://ip:port`, a bare path: `signers.kms.auth.spire.sock`, always required),
    /// or — nil — from the process's `SPIFFE_ENDPOINT_SOCKET`, required when `explicit`
    /// (`signers.x509.fulcio.provider: spiffe`) or when the variable is set.
    package init(
        endpoint: String?, explicit: Bool = true,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(IdentityTokenError) {
        guard let endpoint else {
            try self.init(environment: environment, explicit: explicit)
            return
        }
        self.init(endpoint: try WorkloadEndpoint(parsing: endpoint), origin: "the configured socket")
    }

    var source: String { "spiffe \(endpoint)" }

    /// What to do when the socket is not there: said with every socket error.
    package static let mountFix =
        "mount the SPIRE agent's socket directory into this Pod (a hostPath volume, or the csi.spiffe.io CSI driver, "
        + "as docs/keyless.md shows) and point SPIFFE_ENDPOINT_SOCKET at the socket in it"

    /// Why a Unix socket path cannot be the agent's: it does not exist or is not a socket; nil when it is one.
    static func socketProblem(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return errno == ENOENT || errno == ENOTDIR ? "does not exist" : "cannot be read (errno \(errno))"
        }
        return (info.st_mode & S_IFMT) == S_IFSOCK ? nil : "is not a socket"
    }

    /// nil when not asked for and there is no socket (not running under SPIRE); an error naming the socket, where it
    /// was named, and what to do — retryable, since the agent's volume may still be coming — when asked for.
    package func token(audience: String) async throws -> IdentityToken? {
        if case .unix(let path) = endpoint, let problem = Self.socketProblem(path) {
            guard required else { return nil }
            throw IdentityTokenError(
                .unavailable, source: source, reason: "\(origin) \(path) \(problem); \(Self.mountFix)",
                isRetryable: true)
        }
        let svid: String
        do {
            svid = try await fetch(audience: audience)
        } catch let error as RPCError {
            // SPIRE: Unavailable and PermissionDenied (no identity yet) are worth retrying; the rest are not.
            let retryable = [.unavailable, .permissionDenied, .deadlineExceeded].contains(error.code)
            var reason = Self.explain(error)
            if error.code == .unavailable, case .unix(let path) = endpoint {
                reason +=
                    "; \(origin) \(path) refuses connections: is the SPIRE agent running on this node? If it is, "
                    + Self.mountFix
            }
            throw IdentityTokenError(.unavailable, source: source, reason: reason, isRetryable: retryable)
        } catch let error as IdentityTokenError {
            throw error
        } catch {
            throw IdentityTokenError(
                .unavailable, source: source,
                reason: "\(origin) cannot be reached: \(error); \(Self.mountFix)", isRetryable: true)
        }
        return try IdentityToken(jwt: svid, source: source)
    }

    /// Why there is no token here when none was asked for: the socket tried and what is wrong with it.
    package func absence() -> String? {
        guard case .unix(let path) = endpoint, let problem = Self.socketProblem(path) else { return nil }
        return "spiffe: \(origin) \(path) \(problem)"
    }

    func fetch(audience: String) async throws -> String {
        let target: any ResolvableTarget
        switch endpoint {
        // `localhost` as the authority, as grpc-go and go-spiffe send it (the default would be the socket path).
        case .unix(let path):
            target = ResolvableTargets.UnixDomainSocket.unixDomainSocket(path: path, authority: "localhost")
        case .tcp(let host, let port): target = ResolvableTargets.IPv4.ipv4(address: host, port: port)
        }
        let transport = try HTTP2ClientTransport.Posix(target: target, transportSecurity: .plaintext)
        var options = CallOptions.defaults
        options.timeout = timeout
        let request = JWTSVIDRequest.with { $0.audience = [audience] }
        let response = try await withGRPCClient(transport: transport) { client in
            try await SpiffeWorkloadAPI.Client(wrapping: client).fetchJWTSVID(
                request, metadata: ["workload.spiffe.io": "true"], options: options)
        }
        return try Self.firstSVID(response, source: source)
    }

    /// The SVID we use: the first of the answer's (one per requested identity; SPIRE sends the workload's first).
    static func firstSVID(_ response: JWTSVIDResponse, source: String) throws(IdentityTokenError) -> String {
        guard let first = response.svids.first, !first.svid.isEmpty else {
            throw IdentityTokenError(.unavailable, source: source, reason: "the agent answered with no JWT-SVID")
        }
        return first.svid
    }

    /// The same, from the answer's protobuf bytes (what the fuzz harness feeds).
    package static func firstSVID(serializedResponse data: Data) throws -> String {
        try firstSVID(JWTSVIDResponse(serializedBytes: data), source: "spiffe")
    }

    /// What the agent's answer means for the user.
    static func explain(_ error: RPCError) -> String {
        switch error.code {
        case .permissionDenied:
            return
                "the agent refused (PermissionDenied: \(error.message)): this workload has no registration entry yet; register it with the SPIRE server"
        case .invalidArgument:
            return "the agent refused the request (InvalidArgument: \(error.message))"
        case .deadlineExceeded:
            return "the agent did not answer in time (DeadlineExceeded)"
        case .unavailable:
            return "the agent is unavailable (Unavailable: \(error.message))"
        default:
            return "the agent answered \(error.code): \(error.message)"
        }
    }
}
