import Foundation
import Synchronization

/// Work on independent items spread over the machine's cores, results in the items' order.
///
/// Used where one command reads a large input in pieces (the documents of a big manifest, the child TaskRuns of a
/// PipelineRun): the pieces share nothing, so the order of the answers is the only thing to keep.
package enum Concurrently {
    /// `transform` of every item, in order; the first error in item order is the one thrown, as a loop would.
    package static func map<Item: Sendable, Value: Sendable, Failure: Error>(
        _ items: [Item], minimumPerWorker: Int = 1, _ transform: @Sendable (Item) throws(Failure) -> Value
    ) throws(Failure) -> [Value] {
        let workers = min(ProcessInfo.processInfo.activeProcessorCount, items.count / max(minimumPerWorker, 1))
        guard workers > 1 else { return try items.map(transform) }
        let slots = Mutex<[Result<Value, Failure>?]>(Array(repeating: nil, count: items.count))
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < items.count else { return }
                let result: Result<Value, Failure>
                do throws(Failure) {
                    result = .success(try transform(items[index]))
                } catch {
                    result = .failure(error)
                }
                slots.withLock { $0[index] = result }
            }
        }
        let results = slots.withLock { $0 }
        var values: [Value] = []
        values.reserveCapacity(items.count)
        for case let result? in results { values.append(try result.get()) }
        return values
    }
}
