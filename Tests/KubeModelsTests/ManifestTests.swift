import Foundation
import Testing
import Yams

@testable import KubeModels

@Suite("Reading manifests and Tekton runs")
struct ManifestTests {
    func yaml(_ text: String) throws -> [JSONValue] {
        try ManifestReader.parse(Data(text.utf8), source: "run.yaml").documents
    }

    @Test("YAML scalars follow YAML 1.2: quoted stays a string, yes/on stay strings, numbers and booleans typed")
    func scalars() throws {
        let doc = try yaml(
            """
            a: "true"
            b: yes
            c: 1.10
            d: true
            e: ~
            f: '007'
            g: 2026-11-27T10:00:00Z
            h: "1.10"
            """)[0]
        #expect(doc["a"] == .string("true"))
        #expect(doc["b"] == .string("yes"))
        #expect(doc["c"] == .number(1.1))
        #expect(doc["d"] == .bool(true))
        #expect(doc["e"] == .null)
        #expect(doc["f"] == .string("007"))
        #expect(doc["g"] == .string("2026-11-27T10:00:00Z"))
        #expect(doc["h"] == .string("1.10"))
    }

    @Test("multi-document YAML and kind: List are expanded")
    func multiDocument() throws {
        let docs = try yaml(
            """
            kind: Secret
            metadata: {name: a}
            ---
            kind: List
            items:
              - {kind: ServiceAccount, metadata: {name: b}}
              - {kind: ServiceAccount, metadata: {name: c}}
            """)
        #expect(docs.count == 3)
        #expect(docs.compactMap { $0["metadata"]?["name"]?.stringValue } == ["a", "b", "c"])
    }

    @Test("written YAML reads back to the same value, with strings that look like other types quoted")
    func yamlRoundTrip() throws {
        let value: JSONValue = [
            "annotations": ["signed": "true", "empty": "", "retries": "3", "yes": "yes", "multi": "a\nb\n"],
            "n": .number(2), "b": .bool(false), "list": ["x", .null],
        ]
        let text = value.yamlSerialized()
        #expect(try yaml(text)[0] == value)
        #expect(text.contains("signed: \"true\""))
    }

    @Test("strings a YAML 1.1 reader takes for another type are quoted when written (kubectl, PyYAML read them back)")
    func yaml11LookalikesQuoted() throws {
        let lookalikes = [
            "on", "Off", "YES", "n", "0x1f", "0o17", "017", "0b101", "1_000", "1:20", "190:20:30.15", "2001-12-14",
            "2001-12-14t21:59:43.10-05:00", ".inf", "-.Inf", ".NaN", "<<", "=", "~", "Null", "+1", "-.5e3",
            "6.8523015e+5",
        ]
        let value = JSONValue.object(Dictionary(uniqueKeysWithValues: lookalikes.map { ($0 + "-key", .string($0)) }))
        let text = value.yamlSerialized()
        #expect(try yaml(text)[0] == value)
        for s in lookalikes {
            #expect(text.contains("\(s)-key: \"\(s)\"") || text.contains("\(s)-key: '\(s)'"), "\(s) not quoted")
        }
    }

    @Test("the shortcut past the YAML 1.1 resolver's expressions skips only strings none of them matches")
    func yaml11Shortcut() {
        let alphabet = Array("-+.0123456789:_eExXbBoOaAfFnNyYsStTlLuU~<=iI ")
        var generator = SystemRandomNumberGenerator()
        var samples = ["", "sha256:abc", "registry.example.com/app", "true", "false", "yes", "no", "off", "null"]
        for length in 1...2 { samples += strings(of: length, from: alphabet) }
        for _ in 0..<20_000 {
            let length = Int.random(in: 1...12, using: &generator)
            samples.append(String((0..<length).map { _ in alphabet.randomElement(using: &generator)! }))
        }
        for s in samples where !JSONValue.yaml11Words.contains(s) && !JSONValue.startsLikeYAML11NonString(s) {
            #expect(Yams.Resolver.default.resolveTag(of: Yams.Node(s)) == .str, "\(s) skipped but not a string")
        }
    }

    private func strings(of length: Int, from alphabet: [Character]) -> [String] {
        guard length > 0 else { return [""] }
        return strings(of: length - 1, from: alphabet).flatMap { prefix in alphabet.map { prefix + String($0) } }
    }

    @Test(
        "a malformed TaskRun names the file and the path of the bad field",
        arguments: [
            ("status: {results: {name: x}}", "status.results"),
            ("status: {steps: [{name: s, imageID: [1]}]}", "status.steps[0].imageID"),
            ("metadata: {labels: {a: [1, 2]}}", "metadata.labels.a"),
            ("spec: {params: [{value: x}]}", "spec.params[0].name"),
        ])
    func malformed(body: String, path: String) throws {
        let doc = try yaml("apiVersion: tekton.dev/v1\nkind: TaskRun\n" + body)[0]
        #expect {
            _ = try AnyRun(json: doc, source: "run.yaml")
        } throws: { error in
            guard let e = error as? ManifestError else { return false }
            return e.field == path && e.description.hasPrefix("run.yaml: field \(path): ")
        }
    }

    @Test("syntax errors and wrong kinds are reported with the file")
    func wrongInput() throws {
        #expect(throws: ManifestError.self) { _ = try yaml("a: [unclosed") }
        #expect {
            _ = try AnyRun(json: try yaml("apiVersion: v1\nkind: Pod\n")[0], source: "pod.yaml")
        } throws: { error in "\(error)".contains("pod.yaml") && "\(error)".contains("apiVersion") }
        #expect {
            _ = try AnyRun(json: try yaml("apiVersion: tekton.dev/v1\nkind: Pipeline\n")[0], source: "p.yaml")
        } throws: { error in "\(error)".contains("\"Pipeline\" cannot be signed") }
    }

    @Test("param and result values may be a string, an array or an object; other JSON is kept as text")
    func paramValues() throws {
        let doc = try yaml(
            """
            kind: TaskRun
            status:
              conditions: [{type: Succeeded, status: "True"}]
              results:
                - {name: s, value: abc}
                - {name: a, value: [x, y]}
                - {name: o, value: {uri: u, digest: "sha256:1"}}
                - {name: n, value: 42}
            """)[0]
        let run = try TaskRun(json: doc, source: "t")
        #expect(
            run.results.map(\.value) == [
                .string("abc"), .array(["x", "y"]), .object(["uri": "u", "digest": "sha256:1"]), .string("42"),
            ])
        #expect(run.isDone)
    }

    @Test(
        "done means a Succeeded condition that is not Unknown",
        arguments: [
            ("True", true), ("False", true), ("Unknown", false),
        ])
    func done(status: String, done: Bool) throws {
        let doc = try yaml("kind: TaskRun\nstatus: {conditions: [{type: Succeeded, status: \"\(status)\"}]}")[0]
        #expect(try TaskRun(json: doc, source: "t").isDone == done)
        #expect(try !TaskRun(json: try yaml("kind: TaskRun\n")[0], source: "t").isDone)
    }

    @Test("v1beta1 runs are converted: taskResults, pipelineResults, serviceAccountName, timeout, taskRuns map")
    func v1beta1() throws {
        let tr = try TaskRun(
            json: try yaml(
                "apiVersion: tekton.dev/v1beta1\nkind: TaskRun\nstatus: {taskResults: [{name: IMAGE_URL, value: x}]}")[
                    0],
            source: "t")
        #expect(tr.results.map(\.name) == ["IMAGE_URL"])
        #expect(tr.raw["apiVersion"] == "tekton.dev/v1")
        let pr = try PipelineRun(
            json: try yaml(
                """
                apiVersion: tekton.dev/v1beta1
                kind: PipelineRun
                spec: {serviceAccountName: sa, timeout: 1h}
                status:
                  pipelineResults: [{name: r, value: v}]
                  taskRuns: {pr-build: {pipelineTaskName: build}, pr-clone: {pipelineTaskName: clone}}
                """)[0], source: "p")
        #expect(pr.serviceAccountName == "sa")
        #expect(pr.results.map(\.name) == ["r"])
        #expect(pr.status.childReferences?.map(\.name) == ["pr-build", "pr-clone"])
        #expect(pr.raw["spec"]?["timeouts"]?["pipeline"] == "1h")
    }

    @Test("feature flags are matched case-insensitively to Tekton's JSON tags; empty ones dropped")
    func featureFlags() {
        let flags = FeatureFlags.normalise([
            "EnableAPIFields": "beta", "ResultExtractionMethod": "termination-message", "EnableStepActions": false,
            "unknownFlag": "x",
        ])
        #expect(flags == ["enableAPIFields": "beta", "resultExtractionMethod": "termination-message"])
    }

    @Test("JSON serialisation sorts keys, escapes like Go when asked, prints integers without a fraction")
    func serialisation() {
        let v: JSONValue = ["b": .number(1), "a": "<&>", "c": .number(1.5)]
        #expect(v.serialized() == #"{"a":"<&>","b":1,"c":1.5}"#)
        #expect(v.serialized(escaping: .goEncodingJSON) == #"{"a":"\u003c\u0026\u003e","b":1,"c":1.5}"#)
        #expect(JSONValue.string("\u{1}\n\u{1f}").serialized() == #""\u0001\n\u001f""#)
        #expect(JSONValue.string("é\u{2028}€").serialized(escaping: .goEncodingJSON) == "\"é\\u2028€\"")
        #expect(JSONValue.string("é\u{2028}€").serialized() == "\"é\u{2028}€\"")
    }
}

/// Numbers past Int64 in a manifest or a watch event (found by the watch-event fuzz harness: 1e20 trapped).
@Suite("large numbers")
struct LargeNumberTests {
    @Test("integers past Int64 print as Go prints a float64 integer, without trapping")
    func format() {
        #expect(JSONValue.format(number: 1e20) == "100000000000000000000")
        #expect(JSONValue.format(number: -9.5e18) == "-9500000000000000000")
        #expect(JSONValue.format(number: 42) == "42")
        #expect(JSONValue.format(number: 1e21) == "1e+21")
    }
}
