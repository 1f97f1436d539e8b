import Foundation
import KubeClient
import KubeModels
import Logging
import Synchronization

/// Lease-based leader election over buckets: the key space is split into `buckets`, each led by one replica through
/// a Lease `chains-in-swift.NN-of-MM` in the controller's namespace. Each replica also keeps a member Lease
/// (`chains-in-swift.member.<identity>`), so replicas see how many they are and take a fair share each: one that
/// leads more than its share lets the extra buckets go once their work in flight is done, and a new one picks them
/// up. A replica that dies loses its buckets when their Leases are not renewed for `lease-duration` (judged by the
/// local clock from when the Lease last changed, as client-go does); a leader that cannot renew for
/// `renew-deadline` stops taking work first.
package actor BucketElector {
    package let identity: String
    package let settings: LeaderElectionSettings
    let client: KubeAPIClient
    let namespace: String
    let logger: Logger
    static let prefix = "chains-in-swift"
    var observed: [String: ObservedLease] = [:]
    /// Buckets led, with when we sent the last write of their Lease that succeeded (sent, not answered: other
    /// replicas count its lease-duration from no earlier than that, so a slow answer never stretches our lead).
    var renewedAt: [Int: ContinuousClock.Instant] = [:]
    /// Led, but being let go: no new work; released once nothing of it is in flight.
    var draining: Set<Int> = []
    var inFlight: [Int: Int] = [:]
    var stopped = false
    var onAcquire: @Sendable (Int) async -> Void = { _ in }
    /// What Lease freshness is judged by, and what the rounds wait on.
    let clock: ControllerClock

    package init(
        client: KubeAPIClient, namespace: String, settings: LeaderElectionSettings, identity: String, logger: Logger,
        clock: ControllerClock = .continuous
    ) {
        self.clock = clock
        self.client = client
        self.namespace = namespace
        self.settings = settings
        self.identity = identity
        self.logger = logger
    }

    /// Called with each bucket this replica starts to lead (the controller queues that bucket's runs).
    package func setOnAcquire(_ body: @escaping @Sendable (Int) async -> Void) { onAcquire = body }

    /// The bucket of a run: FNV-1a of `NS/NAME` (a TaskRun and a PipelineRun of one name share it).
    package nonisolated func bucket(of key: RunKey) -> Int {
        let name = "\(key.namespace)/\(key.name)"
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return Int(hash % UInt64(settings.buckets))
    }

    nonisolated func leaseName(_ bucket: Int) -> String {
        String(format: "%@.%02d-of-%02d", Self.prefix, bucket, settings.buckets)
    }

    nonisolated var memberName: String {
        let safe = identity.lowercased().map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "-" }
        return "\(Self.prefix).member.\(String(safe.prefix(200)))"
    }

    func holds(_ bucket: Int) -> Bool {
        guard !stopped, let at = renewedAt[bucket] else { return false }
        return clock.now() - at < settings.renewDeadline
    }

    /// Whether new work on `key` may start here; if so it counts as in flight until `end(key)`.
    package func begin(_ key: RunKey) -> Bool {
        let b = bucket(of: key)
        guard holds(b), !draining.contains(b) else { return false }
        inFlight[b, default: 0] += 1
        return true
    }

    package func end(_ key: RunKey) { inFlight[bucket(of: key), default: 1] -= 1 }

    /// Whether work already started on `key` may still write (its bucket's Lease is still ours and fresh).
    package func stillHolds(_ key: RunKey) -> Bool { holds(bucket(of: key)) }

    /// Whether a newly seen run in `key`'s bucket is ours to queue.
    package func leads(_ key: RunKey) -> Bool {
        let b = bucket(of: key)
        return holds(b) && !draining.contains(b)
    }

    /// The buckets led now.
    package var led: [Int] { renewedAt.keys.filter { holds($0) }.sorted() }
    let ledSnapshot = Mutex<[Int]>([])
    /// The same, without waiting for the actor (for tests and metrics): as of the last round.
    package nonisolated var ledNow: [Int] { ledSnapshot.withLock { $0 } }

    /// Renews, lets go and takes Leases every `retry-period` until cancelled.
    package func run() async {
        while !Task.isCancelled {
            await round()
            try? await clock.sleep(settings.retryPeriod)
        }
    }
}
