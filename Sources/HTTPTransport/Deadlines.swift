import Foundation

/// Time limits for HTTP: how long to wait for a connection, for one request, and — set by the caller around a
/// unit of work such as signing one run — how long all requests together may take.
package struct HTTPTimeouts: Sendable, Equatable {
    package var connect: Duration
    /// The longest one request may take, answer included; also the longest a silent connection is waited on.
    package var request: Duration

    package init(connect: Duration = .seconds(5), request: Duration = .seconds(60)) {
        self.connect = connect
        self.request = request
    }
}

/// The deadline every request in the current task must meet: the run's time budget. Transports cut a request's
/// own limit to what is left and refuse to start one after it; `RetryingTransport` does not sleep past it.
package enum RequestBudget {
    @TaskLocal package static var deadline: ContinuousClock.Instant?
    /// What the budget was, for messages ("the run's time budget of 3m ran out").
    @TaskLocal package static var label: String = ""

    /// Time left before the deadline; nil when there is none.
    package static var remaining: Duration? {
        deadline.map { $0 - ContinuousClock.now }
    }

    /// Runs `body` with a deadline `budget` from now (or the current one, if that is sooner).
    package static func withBudget<T: Sendable>(
        _ budget: Duration, label: String, _ body: () async throws -> T
    ) async rethrows -> T {
        var end = ContinuousClock.now + budget
        if let current = deadline, current < end { end = current }
        return try await $deadline.withValue(end) { try await $label.withValue(label) { try await body() } }
    }

    /// The error for a request that cannot start or finish within the budget.
    static func exhausted(host: String, method: String, path: String) -> TransportError {
        TransportError(
            kind: .timeout, host: host,
            reason: "\(method) \(path): \(label.isEmpty ? "the time budget" : label) ran out")
    }
}
