import Crypto
import Foundation
import HTTPTransport

/// A TUF client (TUF specification 1.0, §5 "Detailed client workflow") for the one target sigstore clients need,
/// `trusted_root.json`: starting from a root you pin (or sigstore's public-good root, embedded), it walks root
/// rotations (each new root signed by a threshold of the old root's keys and of its own), then timestamp →
/// snapshot → targets, checking signatures against the trusted root's role keys, versions (never backwards from
/// what is cached), expiry, lengths and hashes, and finally the target's length and hashes. Trusted metadata and
/// the target are cached on disk. Top-level targets only: delegated roles are not followed.
package struct TUFClient: Sendable {
    package var mirror: URL
    let transport: any HTTPTransport
    /// Where trusted metadata and targets are kept between runs (one directory per mirror).
    package var cache: URL
    let initialRoot: Data
    let now: @Sendable () -> Date

    static let maxRootRotations = 32
    static let limits: [String: Int] = [
        "root": 512_000, "timestamp": 16_384, "snapshot": 2_000_000, "targets": 5_000_000,
    ]

    /// `initialRoot` is a `root.json` you trust; a newer cached root is used when there is one.
    package init(
        mirror: URL, transport: any HTTPTransport, cache: URL, initialRoot: Data,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.mirror = mirror
        self.transport = transport
        self.cache = cache
        self.initialRoot = initialRoot
        self.now = now
    }

    /// The default cache for `mirror`: `$XDG_CACHE_HOME/chains/tuf/<host>`, else `~/.cache/chains/tuf/<host>`.
    package static func defaultCache(
        for mirror: URL, environment: [String: String] = ProcessInfo.processInfo.environment
    )
        -> URL
    {
        let base =
            environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".cache")
        let name = (mirror.host ?? "mirror") + (mirror.port.map { "-\($0)" } ?? "")
        return base.appendingPathComponent("chains/tuf/\(name)")
    }

    var source: String { mirror.absoluteString }

    func fail(_ role: String, _ reason: String, retryable: Bool = false) -> TUFError {
        TUFError(source: source, role: role, reason: reason, isRetryable: retryable)
    }

    /// The sigstore trusted root the repository publishes, updated and checked.
    package func trustedRoot() async throws -> TrustedRoot {
        let data = try await target("trusted_root.json")
        do {
            return try TrustedRoot(json: data, source: "\(source) target trusted_root.json")
        } catch {
            throw fail("targets", "trusted_root.json does not parse: \(error.reason)")
        }
    }

    /// Runs the update workflow and returns the target's bytes.
    package func target(_ name: String) async throws -> Data {
        try await targets([name])[0]
    }

    /// Runs the update workflow once and returns each named target's bytes, in order.
    package func targets(_ names: [String]) async throws -> [Data] {
        let root = try await updatedRoot()
        let timestamp = try await updateTimestamp(root: root)
        let snapshot = try await updateSnapshot(root: root, timestamp: timestamp)
        let targets = try await updateTargets(root: root, snapshot: snapshot)
        var found: [Data] = []
        for name in names { found.append(try await target(name, root: root, targets: targets)) }
        return found
    }

    /// One target the verified targets metadata lists: from the cache when its hashes match, else fetched.
    func target(_ name: String, root: TUFMetadata, targets: TUFMetadata) async throws -> Data {
        guard let info = targets.signed["targets"]?[name], let length = info["length"]?.integer else {
            throw fail("targets", "the repository lists no target \(name)")
        }
        var hashes: [String: String] = [:]
        for (k, v) in info["hashes"]?.object ?? [:] { hashes[k] = v.string }
        guard let sha256 = hashes["sha256"] else { throw fail("targets", "\(name) has no sha256 hash") }
        let cached = cache.appendingPathComponent("targets/\(name)")
        if let data = try? Data(contentsOf: cached), TUFHashes.matches(data, length: length, hashes: hashes) {
            return data
        }
        let consistent = root.signed["consistent_snapshot"]?.bool ?? false
        let path = consistent ? "targets/\(sha256).\(name)" : "targets/\(name)"
        let data = try await fetch(path, role: "target \(name)", limit: Int(length))
        guard TUFHashes.matches(data, length: length, hashes: hashes) else {
            throw fail("target \(name)", "its length or hash does not match the targets metadata; refused")
        }
        try store(data, as: "targets/\(name)")
        return data
    }

    /// §5.3: the pinned root (always the starting point: a root on disk could have been written by anyone who can
    /// write there), then each `N+1.root.json` the mirror has, each signed by a threshold of the previous
    /// root's root keys and of its own, with version exactly N+1. The final root must not be expired.
    func updatedRoot() async throws -> TUFMetadata {
        let pinned = try TUFMetadata(initialRoot, role: "root", source: "the pinned root.json")
        guard pinned.isSigned(by: try rootRole(pinned), keys: pinned.keys) else {
            throw fail("root", "the pinned root.json is not signed by a threshold of its own root keys")
        }
        var trusted = pinned
        for _ in 0..<Self.maxRootRotations {
            let next = trusted.version + 1
            guard let data = try await fetchOptional("\(next).root.json", role: "root", limit: Self.limits["root"]!)
            else { break }
            let candidate = try TUFMetadata(data, role: "root", source: "\(source)/\(next).root.json")
            guard candidate.isSigned(by: try rootRole(trusted), keys: trusted.keys) else {
                throw fail(
                    "root", "version \(next) is not signed by a threshold of version \(trusted.version)'s root keys")
            }
            guard candidate.isSigned(by: try rootRole(candidate), keys: candidate.keys) else {
                throw fail("root", "version \(next) is not signed by a threshold of its own root keys")
            }
            guard candidate.version == next else {
                throw fail("root", "\(next).root.json holds version \(candidate.version)")
            }
            trusted = candidate
        }
        guard trusted.expires > now() else {
            throw fail("root", "the newest root (version \(trusted.version)) expired at \(trusted.expires)")
        }
        return trusted
    }

    func rootRole(_ root: TUFMetadata) throws(TUFError) -> TUFRole {
        guard let role = root.role("root") else { throw fail("root", "version \(root.version) has no root role") }
        return role
    }

    /// §5.4: signed by the root's timestamp keys, not older than the cached one, not expired.
    func updateTimestamp(root: TUFMetadata) async throws -> TUFMetadata {
        let data = try await fetch("timestamp.json", role: "timestamp", limit: Self.limits["timestamp"]!)
        let timestamp = try TUFMetadata(data, role: "timestamp", source: "\(source)/timestamp.json")
        try checkSigned(timestamp, role: "timestamp", root: root)
        if let cached = cachedMetadata("timestamp"), cached.version > timestamp.version {
            throw fail(
                "timestamp", "version \(timestamp.version) is older than the cached \(cached.version) (rollback)")
        }
        try checkFresh(timestamp)
        guard timestamp.meta("snapshot.json") != nil else { throw fail("timestamp", "it names no snapshot") }
        try store(data, as: "timestamp.json")
        return timestamp
    }

    /// §5.5: the version the timestamp names, with its length and hashes; signed, not rolled back, not expired.
    func updateSnapshot(root: TUFMetadata, timestamp: TUFMetadata) async throws -> TUFMetadata {
        let snapshot = try await referenced("snapshot", by: timestamp, as: "timestamp", root: root)
        if let cached = cachedMetadata("snapshot"), cached.version > snapshot.version {
            throw fail("snapshot", "version \(snapshot.version) is older than the cached \(cached.version) (rollback)")
        }
        try store(snapshot.bytes, as: "snapshot.json")
        return snapshot
    }

    /// §5.6: the version the snapshot names; signed by the root's targets keys; not older than the cached one (a
    /// new snapshot may not name an older targets, §5.5.5); not expired.
    func updateTargets(root: TUFMetadata, snapshot: TUFMetadata) async throws -> TUFMetadata {
        let targets = try await referenced("targets", by: snapshot, as: "snapshot", root: root)
        if let cached = cachedMetadata("targets"), cached.version > targets.version {
            throw fail("targets", "version \(targets.version) is older than the cached \(cached.version) (rollback)")
        }
        try store(targets.bytes, as: "targets.json")
        return targets
    }

    /// The `role` metadata that `parent` names: fetched by version when snapshots are consistent, its length and
    /// hashes as `parent` lists them, signed by the root's `role` keys, the version named, not expired.
    func referenced(
        _ role: String, by parent: TUFMetadata, as parentRole: String, root: TUFMetadata
    ) async throws -> TUFMetadata {
        guard let expected = parent.meta("\(role).json") else { throw fail(parentRole, "it names no \(role)") }
        let consistent = root.signed["consistent_snapshot"]?.bool ?? false
        let name = consistent ? "\(expected.version).\(role).json" : "\(role).json"
        let data = try await fetch(name, role: role, limit: Int(expected.length ?? Int64(Self.limits[role]!)))
        guard TUFHashes.matches(data, length: expected.length, hashes: expected.hashes) else {
            throw fail(role, "its length or hash does not match the \(parentRole)")
        }
        let metadata = try TUFMetadata(data, role: role, source: "\(source)/\(name)")
        try checkSigned(metadata, role: role, root: root)
        guard metadata.version == expected.version else {
            throw fail(role, "version \(metadata.version), the \(parentRole) names \(expected.version)")
        }
        try checkFresh(metadata)
        return metadata
    }

    func checkSigned(_ metadata: TUFMetadata, role name: String, root: TUFMetadata) throws(TUFError) {
        guard let role = root.role(name) else { throw fail(name, "the root defines no \(name) role") }
        guard metadata.isSigned(by: role, keys: root.keys) else {
            throw fail(name, "version \(metadata.version) is not signed by a threshold of the root's \(name) keys")
        }
    }

    func checkFresh(_ metadata: TUFMetadata) throws(TUFError) {
        guard metadata.expires > now() else {
            throw fail(metadata.type, "version \(metadata.version) expired at \(metadata.expires)")
        }
    }

    func cachedMetadata(_ role: String) -> TUFMetadata? {
        guard let data = try? Data(contentsOf: cache.appendingPathComponent("\(role).json")) else { return nil }
        return try? TUFMetadata(data, role: role, source: "cache")
    }

    func store(_ data: Data, as name: String) throws {
        let file = cache.appendingPathComponent(name)
        do {
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: file, options: .atomic)
        } catch {
            throw fail("cache", "cannot write \(file.path): \(error.localizedDescription)")
        }
    }

    func fetchOptional(_ path: String, role: String, limit: Int) async throws -> Data? {
        let response = try await transport.send(
            HTTPRequest(method: "GET", url: mirror.appendingPathComponent(path), headers: ["Accept": "*/*"]))
        if response.status == 404 || response.status == 403 { return nil }
        guard response.status == 200 else {
            throw fail(
                role, "GET \(path): HTTP \(response.status)", retryable: HTTPStatusRule.isRetryable(response.status))
        }
        guard response.body.count <= limit else {
            throw fail(role, "\(path) is \(response.body.count) bytes, more than the \(limit) allowed")
        }
        return response.body
    }

    func fetch(_ path: String, role: String, limit: Int) async throws -> Data {
        guard let data = try await fetchOptional(path, role: role, limit: limit) else {
            throw fail(role, "GET \(path): not found")
        }
        return data
    }
}

extension TUFError: RetryClassifiable {}
