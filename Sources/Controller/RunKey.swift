import KubeClient
import KubeModels

/// A run the controller works on: the work queue's key, what a bucket is chosen by, and the log's metadata. Made
/// once from the watched object; nothing splits a string to get its parts back.
package struct RunKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    package enum Kind: String, Sendable, Hashable {
        case taskRun = "taskruns"
        case pipelineRun = "pipelineruns"

        /// `TaskRun`, `PipelineRun`.
        package var kindName: String { self == .taskRun ? "TaskRun" : "PipelineRun" }
    }

    package var kind: Kind
    package var namespace: String
    package var name: String

    package init(_ kind: Kind, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    /// The key of a watched run; nil when the object has no namespace or name.
    init?(_ resource: KubeResource, _ object: JSONValue) {
        guard let namespace = object["metadata"]?["namespace"]?.stringValue,
            let name = object["metadata"]?["name"]?.stringValue
        else { return nil }
        self.init(resource == .pipelineRuns ? .pipelineRun : .taskRun, namespace: namespace, name: name)
    }

    package var resource: KubeResource { kind == .pipelineRun ? .pipelineRuns : .taskRuns }

    /// `taskruns/NS/NAME`, as the API path names it (and the run's source in messages).
    package var description: String { "\(kind.rawValue)/\(namespace)/\(name)" }

    package static func < (lhs: RunKey, rhs: RunKey) -> Bool { lhs.description < rhs.description }
}
