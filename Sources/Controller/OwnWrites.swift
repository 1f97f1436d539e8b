import KubeModels
import Synchronization

/// The attempt records this replica is writing to runs. The watch sees each write come back as a MODIFIED event
/// while the reconcile that made it is still working on the run: that is not news, and queueing the run again would
/// cost a second reconcile (a GET) once the first is done. A write is noted before it is sent — the event can
/// arrive before the answer — and recognised by its content: every record it wrote, value for value (each holds a
/// fresh signature, so no one else's write matches). Forgotten when its event arrives, when the write fails, or with
/// the run.
package final class OwnWrites: Sendable {
    let expected = Mutex<[RunKey: [String: String]]>([:])

    package init() {}

    func note(_ key: RunKey, annotations: [String: String]) {
        expected.withLock { $0[key, default: [:]].merge(annotations) { _, new in new } }
    }

    /// Whether `object` (a watch event's) shows our pending write to `key`, and if so forgets it.
    func isOurs(_ key: RunKey, _ object: JSONValue) -> Bool {
        let annotations = object["metadata"]?["annotations"]?.objectValue ?? [:]
        return expected.withLock { all in
            guard let mine = all[key], mine.allSatisfy({ annotations[$0.key]?.stringValue == $0.value }) else {
                return false
            }
            all[key] = nil
            return true
        }
    }

    func forget(_ key: RunKey) { expected.withLock { $0[key] = nil } }
}
