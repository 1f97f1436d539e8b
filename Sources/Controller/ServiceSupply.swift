import ChainsCore
import Foundation
import Synchronization

/// The signing service the workers use now. A new chains-config or new signing secrets replace it while runs are
/// being signed: a run started with the previous service finishes with it, and the previous one is shut down (its
/// HTTP clients closed) when its last run is done.
package final class ServiceSupply: Sendable {
    struct Entry {
        let assembly: SigningAssembly
        var users: Int
    }
    struct State {
        var current: Int
        var entries: [Int: Entry]
    }
    let state: Mutex<State>

    package init(_ assembly: SigningAssembly) {
        state = Mutex(State(current: 0, entries: [0: Entry(assembly: assembly, users: 0)]))
    }

    /// The service in use now.
    package var current: SigningService {
        state.withLock { $0.entries[$0.current]!.assembly.service }
    }

    /// When the current service's signing config may choose other services (a `validFor` window opens or closes).
    package var nextServiceChange: Date? {
        state.withLock { $0.entries[$0.current]!.assembly.nextServiceChange }
    }

    /// How many times the service was replaced (0 at start).
    package var generation: Int { state.withLock { $0.current } }

    /// Runs `body` with the current service, which stays up until `body` returns even if it is replaced meanwhile.
    package func with<T: Sendable>(_ body: (SigningService) async -> T) async -> T {
        let (id, service) = state.withLock { s in
            s.entries[s.current]!.users += 1
            return (s.current, s.entries[s.current]!.assembly.service)
        }
        let result = await body(service)
        if let retired = release(id) { await retired.shutdown() }
        return result
    }

    func release(_ id: Int) -> SigningAssembly? {
        state.withLock { s in
            s.entries[id]!.users -= 1
            guard id != s.current, s.entries[id]!.users == 0 else { return nil }
            return s.entries.removeValue(forKey: id)?.assembly
        }
    }

    /// Makes `assembly` the current service; the previous one is shut down now if idle, else when its last run ends.
    package func replace(with assembly: SigningAssembly) async {
        let idle: SigningAssembly? = state.withLock { s in
            let previous = s.current
            s.current = previous + 1
            s.entries[s.current] = Entry(assembly: assembly, users: 0)
            guard s.entries[previous]!.users == 0 else { return nil }
            return s.entries.removeValue(forKey: previous)?.assembly
        }
        await idle?.shutdown()
    }

    /// Shuts every service down (the controller is stopping and its workers are done).
    package func shutdown() async {
        let all = state.withLock { s in
            let fronts = s.entries.values.map(\.assembly)
            s.entries = [:]
            return fronts
        }
        for front in all { await front.shutdown() }
    }
}
