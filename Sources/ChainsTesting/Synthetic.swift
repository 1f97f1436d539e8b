import Foundation
import KubeModels

/// Synthetic runs for benchmarks and load tests.
package enum Synthetic {
    /// A finished TaskRun with `results` results (an image pair among them) and `steps` steps, as YAML.
    package static func taskRunYAML(index: Int = 0, results: Int = 20, steps: Int = 5) -> String {
        func hex(_ seed: Int) -> String {
            var out = ""
            var x = UInt64(truncatingIfNeeded: seed &* 2_654_435_761 &+ 97)
            while out.count < 64 {
                x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                out += String(format: "%016llx", x)
            }
            return String(out.prefix(64))
        }
        var y = """
            apiVersion: tekton.dev/v1
            kind: TaskRun
            metadata:
              name: bench-\(index)
              namespace: bench
              uid: 00000000-0000-4000-8000-\(String(format: "%012d", index))
              labels: {tekton.dev/task: build}
            spec:
              serviceAccountName: builder
              params:
                - {name: IMAGE, value: registry.example.com/bench/app\(index)}
                - {name: CHAINS-GIT_URL, value: https://github.com/example/bench}
                - {name: CHAINS-GIT_COMMIT, value: \(hex(index).prefix(40))}
              taskRef: {name: build, kind: Task}
            status:
              startTime: "2026-11-27T10:00:00Z"
              completionTime: "2026-11-27T10:05:00Z"
              conditions: [{type: Succeeded, status: "True", reason: Succeeded}]
              steps:

            """
        for s in 0..<steps {
            y +=
                "    - {name: step\(s), container: step-step\(s), imageID: \"gcr.io/bench/tool\(s)@sha256:\(hex(s + 1000))\"}\n"
        }
        y += "  results:\n"
        y += "    - {name: IMAGE_URL, value: registry.example.com/bench/app\(index)}\n"
        y += "    - {name: IMAGE_DIGEST, value: \"sha256:\(hex(index + 7))\"}\n"
        for r in 2..<max(results, 2) {
            y += "    - {name: result\(r), value: \"value \(r) of run \(index)\"}\n"
        }
        y += "  taskSpec:\n    params: [{name: IMAGE, type: string}]\n    steps:\n"
        for s in 0..<steps {
            y += "      - {name: step\(s), image: \"gcr.io/bench/tool\(s):v1\", script: \"echo step \(s)\"}\n"
        }
        return y
    }

    /// A finished PipelineRun with `children` pipeline tasks, one child TaskRun each (labelled
    /// `tekton.dev/pipelineTask`, named in `status.childReferences`), every child building an image: the PipelineRun
    /// as YAML, and its children as one multi-document YAML for `--objects`.
    package static func pipelineRunYAML(children: Int) -> (pipelineRun: String, children: String) {
        var pr = """
            apiVersion: tekton.dev/v1
            kind: PipelineRun
            metadata:
              name: bench-pipeline
              namespace: bench
              uid: 00000000-0000-4000-8000-ffffffffffff
            spec:
              pipelineRef: {name: build-all}
            status:
              startTime: "2026-11-27T10:00:00Z"
              completionTime: "2026-11-27T11:00:00Z"
              conditions: [{type: Succeeded, status: "True", reason: Succeeded}]
              pipelineSpec:
                tasks:

            """
        for i in 0..<children { pr += "      - {name: task-\(i), taskRef: {name: build}}\n" }
        pr += "  childReferences:\n"
        for i in 0..<children {
            pr += "    - {apiVersion: tekton.dev/v1, kind: TaskRun, name: bench-\(i), pipelineTaskName: task-\(i)}\n"
        }
        var docs: [String] = []
        docs.reserveCapacity(children)
        for i in 0..<children {
            let child = taskRunYAML(index: i, results: 4, steps: 2)
            docs.append(
                child.replacingOccurrences(
                    of: "labels: {tekton.dev/task: build}",
                    with: "labels: {tekton.dev/task: build, tekton.dev/pipelineTask: task-\(i)}"))
        }
        return (pr, docs.joined(separator: "---\n"))
    }
}
