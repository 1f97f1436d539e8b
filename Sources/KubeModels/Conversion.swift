/// tekton.dev/v1beta1 → tekton.dev/v1 for the fields whose shape or name differs, on the JSON tree.
///
/// Only what Chains reads is converted; a v1 object (or one without `apiVersion`) is returned unchanged.
package enum TektonConversion {
    package static func toV1(_ object: JSONValue) -> JSONValue {
        guard object["apiVersion"]?.stringValue == "tekton.dev/v1beta1", case .object(var root) = object else {
            return object
        }
        root["apiVersion"] = "tekton.dev/v1"
        switch root["kind"]?.stringValue {
        case "TaskRun":
            if case .object(var status)? = root["status"] {
                rename(&status, "taskResults", to: "results")
                root["status"] = .object(status)
            }
            if case .object(var spec)? = root["spec"] {
                spec.removeValue(forKey: "resources")
                root["spec"] = .object(spec)
            }
        case "PipelineRun":
            if case .object(var spec)? = root["spec"] {
                var template = spec["taskRunTemplate"]?.objectValue ?? [:]
                if let sa = spec.removeValue(forKey: "serviceAccountName") { template["serviceAccountName"] = sa }
                if let pod = spec.removeValue(forKey: "podTemplate") { template["podTemplate"] = pod }
                if !template.isEmpty { spec["taskRunTemplate"] = .object(template) }
                if let timeout = spec.removeValue(forKey: "timeout") {
                    var timeouts = spec["timeouts"]?.objectValue ?? [:]
                    timeouts["pipeline"] = timeout
                    spec["timeouts"] = .object(timeouts)
                }
                spec.removeValue(forKey: "resources")
                root["spec"] = .object(spec)
            }
            if case .object(var status)? = root["status"] {
                rename(&status, "pipelineResults", to: "results")
                // Before childReferences, v1beta1 embedded a map of child TaskRuns keyed by name.
                if status["childReferences"] == nil, case .object(let taskRuns)? = status["taskRuns"] {
                    let refs: [JSONValue] = taskRuns.keys.sorted().map { name in
                        var ref: [String: JSONValue] = [
                            "apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": .string(name),
                        ]
                        if let task = taskRuns[name]?["pipelineTaskName"] { ref["pipelineTaskName"] = task }
                        return .object(ref)
                    }
                    status["childReferences"] = .array(refs)
                }
                status.removeValue(forKey: "taskRuns")
                root["status"] = .object(status)
            }
        default:
            break
        }
        return .object(root)
    }

    private static func rename(_ object: inout [String: JSONValue], _ from: String, to: String) {
        if let value = object.removeValue(forKey: from), object[to] == nil { object[to] = value }
    }
}
