/// The time the controller's queue and leader election run on: the monotonic clock and its sleep, or — in tests —
/// a clock they drive, so backoff and Lease expiry are tested without waiting.
package struct ControllerClock: Sendable {
    package var now: @Sendable () -> ContinuousClock.Instant
    package var sleep: @Sendable (Duration) async throws -> Void

    package init(
        now: @escaping @Sendable () -> ContinuousClock.Instant,
        sleep: @escaping @Sendable (Duration) async throws -> Void
    ) {
        self.now = now
        self.sleep = sleep
    }

    /// `ContinuousClock`: what the controller runs on.
    package static let continuous = ControllerClock(now: { .now }, sleep: { try await Task.sleep(for: $0) })
}
