import Foundation
import Synchronization

/// Retries on the answers `HTTPStatusRule` calls retryable and on broken connections, with exponential backoff and full jitter,
/// honouring `Retry-After` (capped). The clock is injected so tests do not sleep.
package struct RetryingTransport: HTTPTransport {
    package var base: any HTTPTransport
    package var maxAttempts: Int
    package var initialDelay: Double
    package var maxDelay: Double
    package var sleep: @Sendable (Double) async throws -> Void
    package var random: @Sendable () -> Double

    package init(
        _ base: any HTTPTransport, maxAttempts: Int = 5, initialDelay: Double = 0.2, maxDelay: Double = 10,
        sleep: @escaping @Sendable (Double) async throws -> Void = { try await Task.sleep(for: .seconds($0)) },
        random: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }
    ) {
        self.base = base
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.sleep = sleep
        self.random = random
    }

    package func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var attempt = 1
        while true {
            do {
                let response = try await base.send(request)
                guard HTTPStatusRule.isRetryable(response.status), attempt < maxAttempts else { return response }
                let wait = delay(attempt: attempt, retryAfter: response.headers["Retry-After"])
                // A retry that would start after the run's deadline is not made: the last answer stands.
                guard Self.fitsBudget(wait) else { return response }
                try await sleep(wait)
            } catch let error as TransportError where error.isTransient && attempt < maxAttempts {
                let wait = delay(attempt: attempt, retryAfter: nil)
                guard Self.fitsBudget(wait) else { throw error }
                try await sleep(wait)
            }
            attempt += 1
        }
    }

    static func fitsBudget(_ wait: Double) -> Bool {
        guard let remaining = RequestBudget.remaining else { return true }
        return remaining > .milliseconds(Int64(wait * 1000) + 1)
    }

    /// Full jitter: uniform in [0, min(max, initial·2^(n-1))]; `Retry-After` (seconds or HTTP date) wins, capped.
    package func delay(attempt: Int, retryAfter: String?) -> Double {
        if let retryAfter {
            if let seconds = Double(retryAfter.trimmingCharacters(in: .whitespaces)) {
                return min(max(seconds, 0), maxDelay)
            }
            if let date = Timestamps.httpDate(retryAfter) { return min(max(date.timeIntervalSinceNow, 0), maxDelay) }
        }
        let ceiling = min(maxDelay, initialDelay * pow(2, Double(attempt - 1)))
        return ceiling * random()
    }
}

/// Counts requests (by method) and records the hosts that received an `Authorization` header — for benchmarks
/// and for proving credentials stay with their host.
package final class CountingTransport: HTTPTransport {
    package let base: any HTTPTransport
    private let state = Mutex<(total: Int, byMethod: [String: Int])>((0, [:]))

    package init(_ base: any HTTPTransport) { self.base = base }

    package var total: Int { state.withLock { $0.total } }
    package var byMethod: [String: Int] { state.withLock { $0.byMethod } }
    package func reset() { state.withLock { $0 = (0, [:]) } }

    package func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        state.withLock {
            $0.total += 1
            $0.byMethod[request.method, default: 0] += 1
        }
        return try await base.send(request)
    }
}
