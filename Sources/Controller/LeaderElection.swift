import ChainsCore
import Foundation
import KubeClient
import KubeModels
import Logging

/// How replicas share the work: Tekton Chains' (knative's) `tekton-chains-config-leader-election` keys, with flags
/// of ours to override them.
package struct LeaderElectionSettings: Sendable, Equatable {
    /// How long a Lease holds after its last renewal: a replica that dies loses its buckets within this.
    package var leaseDuration: Duration = .seconds(60)
    /// A leader that could not renew for this long stops working on its buckets (before anyone may take them).
    package var renewDeadline: Duration = .seconds(40)
    /// How often Leases are renewed and free ones tried.
    package var retryPeriod: Duration = .seconds(10)
    /// The key space is split into this many buckets, each led by one replica (1…10, as knative allows).
    package var buckets = 1

    package init() {}

    /// The ConfigMap's `data` (`lease-duration`, `renew-deadline`, `retry-period`, `buckets`, or their camelCase
    /// forms); an invalid value names its key.
    package static func parse(_ data: [String: String]) throws(LeaderElectionError) -> LeaderElectionSettings {
        var settings = LeaderElectionSettings()
        func value(_ key: String, _ camel: String) -> (String, String)? {
            if let v = data[key] { return (key, v) }
            return data[camel].map { (camel, $0) }
        }
        func duration(_ key: String, _ camel: String) throws(LeaderElectionError) -> Duration? {
            guard let (name, text) = value(key, camel) else { return nil }
            guard let d = LocalSetup.duration(text) else {
                throw LeaderElectionError(key: name, reason: "\"\(text)\" is not a duration such as 60s or 1m")
            }
            return d
        }
        if let d = try duration("lease-duration", "leaseDuration") { settings.leaseDuration = d }
        if let d = try duration("renew-deadline", "renewDeadline") { settings.renewDeadline = d }
        if let d = try duration("retry-period", "retryPeriod") { settings.retryPeriod = d }
        if let (name, text) = value("buckets", "buckets") {
            guard let n = Int(text), (1...10).contains(n) else {
                throw LeaderElectionError(key: name, reason: "\"\(text)\" is not a whole number from 1 to 10")
            }
            settings.buckets = n
        }
        try settings.validate()
        return settings
    }

    package func validate() throws(LeaderElectionError) {
        guard renewDeadline < leaseDuration else {
            throw LeaderElectionError(key: "renew-deadline", reason: "must be shorter than lease-duration")
        }
        guard retryPeriod < renewDeadline else {
            throw LeaderElectionError(key: "retry-period", reason: "must be shorter than renew-deadline")
        }
    }

    /// This replica's holder identity: `POD_NAME` (the downward API), else the host name and a random suffix, so
    /// two replicas on one host never share one.
    package static func identity(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let pod = environment["POD_NAME"], !pod.isEmpty { return pod }
        let host = ProcessInfo.processInfo.hostName.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        return String(host.prefix(40)) + "-" + String(UInt32.random(in: .min ... .max), radix: 16)
    }
}

package struct LeaderElectionError: Error, Sendable, CustomStringConvertible {
    package var key: String
    package var reason: String
    package var description: String { "tekton-chains-config-leader-election key \"\(key)\": \(reason)" }
}

/// A Lease as read: who holds it, since when it last changed here (the local clock, as client-go judges expiry, so
/// clock skew between replicas does not matter).
struct ObservedLease: Sendable {
    var holder: String
    var renewTime: String
    var durationSeconds: Int
    var transitions: Int
    var resourceVersion: String
    var seenAt: ContinuousClock.Instant

    init(_ object: JSONValue, seenAt: ContinuousClock.Instant) {
        let spec = object["spec"]
        holder = spec?["holderIdentity"]?.stringValue ?? ""
        renewTime = spec?["renewTime"]?.stringValue ?? ""
        durationSeconds = Self.int(spec?["leaseDurationSeconds"])
        transitions = Self.int(spec?["leaseTransitions"])
        resourceVersion = object["metadata"]?["resourceVersion"]?.stringValue ?? ""
        self.seenAt = seenAt
    }

    static func int(_ value: JSONValue?) -> Int {
        if case .number(let n)? = value, let i = Int(exactly: n.rounded(.towardZero)) { return i }
        return 0
    }

    func sameRecord(_ other: ObservedLease) -> Bool { holder == other.holder && renewTime == other.renewTime }

    func expired(at now: ContinuousClock.Instant) -> Bool {
        holder.isEmpty || now - seenAt > .seconds(max(durationSeconds, 1))
    }
}
