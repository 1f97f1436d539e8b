import Foundation
import KubeClient
import KubeModels
import Logging

extension BucketElector {
    /// One pass: read every Lease (one list), keep our member Lease, renew what we lead, let go of more than our
    /// share, take free or expired buckets up to it.
    func round() async {
        guard !stopped else { return }
        let now = clock.now()
        do throws(KubeError) {
            observe(try await client.list(.leases, namespace: namespace).items, now: now)
        } catch {
            logger.warning("leader election: cannot list Leases in \(namespace): \(error)")
            return
        }
        await write(memberName, holder: identity, transitions: 0, acquired: false)
        let members = max(
            1,
            observed.filter { $0.key.hasPrefix("\(Self.prefix).member.") && !$0.value.expired(at: now) }.count)
        let share = (settings.buckets + members - 1) / members
        for b in renewedAt.keys.sorted() { await renew(b) }
        let leading = renewedAt.keys.filter { !draining.contains($0) }.sorted()
        if leading.count > share {
            for b in leading.suffix(leading.count - share) {
                draining.insert(b)
                logger.info("leader election: letting bucket \(leaseName(b)) go (\(members) replicas share the work)")
            }
        }
        for b in draining.sorted() where inFlight[b, default: 0] <= 0 { await release(b) }
        var count = renewedAt.count - draining.count
        for b in 0..<settings.buckets where count < share && renewedAt[b] == nil {
            let name = leaseName(b)
            // Free, expired, or held under our own name by this Pod's previous container (restarted): ours to take.
            guard observed[name].map({ $0.expired(at: now) || $0.holder == identity }) ?? true else { continue }
            let transitions = (observed[name]?.transitions ?? -1) + 1
            let sent = clock.now()
            if await write(name, holder: identity, transitions: transitions, acquired: true) {
                renewedAt[b] = sent
                count += 1
                logger.info("leader election: \(identity) leads bucket \(name)")
                await onAcquire(b)
            }
        }
        await collectMembers(now: now)
        let led = self.led
        ledSnapshot.withLock { $0 = led }
    }

    func observe(_ items: [JSONValue], now: ContinuousClock.Instant) {
        var next: [String: ObservedLease] = [:]
        for item in items {
            guard let name = item["metadata"]?["name"]?.stringValue, name.hasPrefix(Self.prefix + ".") else { continue }
            var lease = ObservedLease(item, seenAt: now)
            if let before = observed[name], before.sameRecord(lease) { lease.seenAt = before.seenAt }
            next[name] = lease
        }
        observed = next
    }

    func renew(_ bucket: Int) async {
        let name = leaseName(bucket)
        guard let lease = observed[name], lease.holder == identity else {
            renewedAt[bucket] = nil
            draining.remove(bucket)
            logger.warning("leader election: bucket \(name) is no longer ours")
            return
        }
        let previous = renewedAt[bucket]
        let sent = clock.now()
        if await write(name, holder: identity, transitions: lease.transitions, acquired: false) {
            renewedAt[bucket] = sent
            // The Lease looked stale at some moment since the last renewal — before this write or while it was on
            // the wire (the API was slow or down, or this process was starved of CPU): runs turned away or left
            // unwritten meanwhile are queued again, as on taking the bucket.
            if let previous, clock.now() - previous >= settings.renewDeadline {
                logger.info("leader election: \(identity) leads bucket \(name) again")
                await onAcquire(bucket)
            }
        }
    }

    func release(_ bucket: Int) async {
        let name = leaseName(bucket)
        renewedAt[bucket] = nil
        draining.remove(bucket)
        await write(name, holder: "", transitions: observed[name]?.transitions ?? 0, acquired: false, duration: 1)
    }

    /// Creates or replaces the Lease (conditional on the version read, so two replicas never both win); false when
    /// another replica changed it first or the API failed.
    @discardableResult
    func write(_ name: String, holder: String, transitions: Int, acquired: Bool, duration: Int? = nil) async -> Bool {
        let now = Self.microTime(Date())
        var spec: [String: JSONValue] = [
            "holderIdentity": .string(holder), "renewTime": .string(now),
            "leaseTransitions": .number(Double(transitions)),
            "leaseDurationSeconds": .number(Double(duration ?? Int(settings.leaseDuration.components.seconds))),
        ]
        if acquired { spec["acquireTime"] = .string(now) }
        var metadata: [String: JSONValue] = ["name": .string(name), "namespace": .string(namespace)]
        if let version = observed[name]?.resourceVersion { metadata["resourceVersion"] = .string(version) }
        let object: JSONValue = .object([
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": .object(metadata),
            "spec": .object(spec),
        ])
        do throws(KubeError) {
            let written =
                observed[name] == nil
                ? try await client.create(.leases, namespace: namespace, object)
                : try await client.replace(.leases, namespace: namespace, name: name, object)
            observed[name] = ObservedLease(written, seenAt: clock.now())
            return true
        } catch {
            if !error.isConflict && error.statusReason != "AlreadyExists" {
                logger.warning("leader election: cannot write Lease \(namespace)/\(name): \(error)")
            }
            return false
        }
    }

    /// Member Leases of replicas gone for twice the lease duration are deleted (best effort).
    func collectMembers(now: ContinuousClock.Instant) async {
        for (name, lease) in observed
        where name.hasPrefix("\(Self.prefix).member.") && name != memberName
            && now - lease.seenAt > settings.leaseDuration * 2
        {
            try? await client.delete(.leases, namespace: namespace, name: name)
            observed[name] = nil
        }
    }

    /// Stops leading: every bucket's Lease is handed back at once (holder empty, so another replica need not wait
    /// for it to expire) and the member Lease deleted. Call once the work in flight is done.
    package func stop() async {
        for b in renewedAt.keys.sorted() { await release(b) }
        stopped = true
        ledSnapshot.withLock { $0 = [] }
        try? await client.delete(.leases, namespace: namespace, name: memberName)
    }

    /// Kubernetes MicroTime: RFC 3339 with exactly six fractional digits, UTC.
    static func microTime(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let micros = Int((date.timeIntervalSince1970 - seconds) * 1_000_000)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let base = formatter.string(from: Date(timeIntervalSince1970: seconds))
        return base.replacingOccurrences(of: "Z", with: String(format: ".%06dZ", micros))
    }
}
