import NIOCore

extension EventLoopPromise where Value == [UInt8] {
    /// The promise's bytes, or `timedOut` when they do not come within `timeout`. Either way the promise is failed
    /// once the wait ends (a completed promise ignores it), so nothing is left waiting on it; `onTimeout` runs first
    /// on a timeout (closing the connection the answer would have come on). Another failure becomes `failed(error)`.
    func bytes(
        within timeout: Duration, timedOut: MongoError, failed: @escaping @Sendable (any Error) -> MongoError,
        onTimeout: @Sendable () -> Void = {}
    ) async throws(MongoError) -> [UInt8] {
        let result: Result<[UInt8], MongoError> = await withTaskGroup(of: Result<[UInt8], MongoError>?.self) { group in
            group.addTask {
                do { return .success(try await self.futureResult.get()) } catch { return .failure(failed(error)) }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : .failure(timedOut)
            }
            var first: Result<[UInt8], MongoError>?
            while let next = await group.next() {
                guard let next else { continue }
                first = next
                break
            }
            group.cancelAll()
            if case .failure(let error) = first, error.kind == .timeout { onTimeout() }
            self.fail(ChannelError.ioOnClosedChannel)
            return first ?? .failure(timedOut)
        }
        return try result.get()
    }
}
