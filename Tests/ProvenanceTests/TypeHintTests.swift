import Foundation
import KubeModels
import OCI
import Testing

@testable import Provenance

let d1 = "sha256:" + String(repeating: "a", count: 64)
let d2 = "sha256:" + String(repeating: "b", count: 64)
let d3 = "sha256:" + String(repeating: "c", count: 64)

func r(_ name: String, _ value: String) -> RunResult { RunResult(name: name, value: .string(value)) }
func o(_ name: String, _ value: [String: String]) -> RunResult { RunResult(name: name, value: .object(value)) }

@Suite("Type hints")
struct TypeHintTests {
    @Test(
        "images come from pairs, IMAGES (comma or newline) and build-artifact outputs, de-duplicated, in result order")
    func ociImages() {
        var diagnostics = Diagnostics()
        let images = TypeHints.ociImages(
            [
                r("second-IMAGE_URL", "gcr.io/b/two"), r("first-IMAGE_DIGEST", d1),
                r("first-IMAGE_URL", "gcr.io/a/one "),
                r("second-IMAGE_DIGEST", d2),
                r("IMAGES", " gcr.io/a/one@\(d1),\nbusybox@\(d3)\n\n ,gcr.io/c/three:v1@\(d3)"),
                o("app-ARTIFACT_OUTPUTS", ["uri": "gcr.io/d/four", "digest": d1, "isBuildArtifact": "true"]),
                o("not-marked-ARTIFACT_OUTPUTS", ["uri": "gcr.io/e/five", "digest": d1]),
            ], diagnostics: &diagnostics)
        #expect(
            images.map(\.description) == [
                "gcr.io/b/two@\(d2)", "gcr.io/a/one@\(d1)", "index.docker.io/library/busybox@\(d3)",
                "gcr.io/c/three@\(d3)", "gcr.io/d/four@\(d1)",
            ])
        #expect(diagnostics.warnings.isEmpty)
    }

    @Test("invalid image hints are skipped with a warning naming the result")
    func invalidImages() {
        var diagnostics = Diagnostics()
        let images = TypeHints.ociImages(
            [
                r("IMAGE_URL", "gcr.io/Upper/case"), r("IMAGE_DIGEST", d1),
                r("IMAGES", "gcr.io/x/y:latest,gcr.io/ok/img@\(d2)"),
            ],
            diagnostics: &diagnostics)
        #expect(images.map(\.description) == ["gcr.io/ok/img@\(d2)"])
        #expect(diagnostics.warnings.map(\.result) == ["IMAGE_URL", "IMAGES"])
        #expect(diagnostics.warnings[0].description.contains("lowercase"))
        #expect(diagnostics.warnings[1].description.contains("gcr.io/x/y:latest"))
    }

    @Test("a pair with one half missing or empty is dropped")
    func halfPairs() {
        var diagnostics = Diagnostics()
        #expect(
            TypeHints.ociImages([r("IMAGE_URL", "gcr.io/a/b"), r("IMAGE_DIGEST", "  ")], diagnostics: &diagnostics)
                .isEmpty)
    }

    @Test(
        "structured results need an object with uri and a valid digest",
        arguments: [
            (["uri": "u", "digest": "sha1:" + String(repeating: "1", count: 40)], true),
            (["uri": "u", "digest": "SHA256:" + String(repeating: "a", count: 64)], true),
            (["uri": "u", "digest": "sha512:" + String(repeating: "a", count: 128)], true),
            (["uri": "u"], false), (["digest": d1], false), (["uri": "u", "digest": ""], false),
            (["uri": "u", "digest": "md5:abc"], false), (["uri": "u", "digest": "sha256:abc"], false),
            (["uri": "u", "digest": "sha256"], false),
        ])
    func structured(value: [String: String], valid: Bool) {
        var diagnostics = Diagnostics()
        let found = TypeHints.structured(
            [o("X_ARTIFACT_INPUTS", value)], suffix: TypeHints.artifactInputs, diagnostics: &diagnostics)
        #expect(found.count == (valid ? 1 : 0))
        #expect(diagnostics.warnings.count == (valid ? 0 : 1))
    }

    @Test("Chains' ParseDigest: algorithm lower-cased and trimmed; hex checked per algorithm")
    func parseDigest() throws {
        let (alg, hex) = try TypeHints.parseDigest(" SHA256 : \(String(repeating: "a", count: 64))").get()
        #expect(alg == "sha256")
        #expect(hex == String(repeating: "a", count: 64))
        #expect((try? TypeHints.parseDigest("sha256:" + String(repeating: "A", count: 64)).get()) == nil)
    }

    @Test("subjects merge digests for the same name with a common digest, else append")
    func appendArtifacts() {
        var list = ArtifactList([Artifact(name: "a", digest: ["sha256": "1"])])
        list.add([
            Artifact(name: "a", digest: ["sha256": "1", "sha512": "2"]),
            Artifact(name: "a", digest: ["sha256": "3"]),
            // Joins the first through the digest it gained above; another name with the same digest does not.
            Artifact(name: "a", digest: ["sha512": "2", "sha384": "4"]),
            Artifact(name: "b", digest: ["sha256": "1"]),
        ])
        #expect(
            list.items == [
                Artifact(name: "a", digest: ["sha256": "1", "sha512": "2", "sha384": "4"]),
                Artifact(name: "a", digest: ["sha256": "3"]),
                Artifact(name: "b", digest: ["sha256": "1"]),
            ])
        // Against the definition (a scan per item), on seeded random lists with replaced values and shared names.
        func naive(_ items: [Artifact]) -> [Artifact] {
            var out: [Artifact] = []
            for item in items {
                if let i = out.firstIndex(where: { a in
                    a.name == item.name && a.digest.contains { item.digest[$0.key] == $0.value }
                }) {
                    out[i].digest.merge(item.digest) { _, new in new }
                } else {
                    out.append(item)
                }
            }
            return out
        }
        var seed: UInt64 = 42
        func next(_ n: UInt64) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % n)
        }
        for _ in 0..<200 {
            let items = (0..<next(30)).map { _ in
                Artifact(
                    name: "n\(next(3))",
                    digest: Dictionary(
                        (0..<(1 + next(2))).map { _ in ("a\(next(3))", "v\(next(4))") }, uniquingKeysWith: { $1 }))
            }
            #expect(ArtifactList(items).items == naive(items), "\(items)")
        }
        // A list already merged is kept as it is.
        let kept = [Artifact(name: "a", digest: ["sha256": "1"]), Artifact(name: "a", digest: ["sha256": "1"])]
        #expect(ArtifactList(keeping: kept).items == kept)
    }

    @Test("simplesigning payload is byte-exact")
    func simpleSigning() throws {
        let image = try ImageReference(parsingDigest: "busybox:1.36@\(d1)")
        #expect(
            String(decoding: Formats.simpleSigning(image), as: UTF8.self)
                == #"{"critical":{"identity":{"docker-reference":"index.docker.io/library/busybox"},"image":{"docker-manifest-digest":"\#(d1)"},"type":"cosign container image signature"},"optional":null}"#
        )
    }

    @Test("a step image without a digest is left out with a warning instead of failing the attestation")
    func badImageID() throws {
        let json = try JSONValue(
            parsing: Data(
                #"{"kind":"TaskRun","status":{"steps":[{"name":"a","imageID":"busybox:latest"},{"name":"b","imageID":"gcr.io/x/y@\#(d1)"}]}}"#
                    .utf8))
        var diagnostics = Diagnostics()
        let statement = try Formats.statement(
            taskRun: try TaskRun(json: json, source: "t"), format: .slsaV1, options: FormatOptions(),
            diagnostics: &diagnostics)
        #expect(
            statement.json["predicate"]?["materials"] == [
                ["uri": "oci://gcr.io/x/y", "digest": ["sha256": .string(String(d1.dropFirst(7)))]]
            ])
        #expect(diagnostics.warnings.map(\.result) == ["step a"])
        #expect(throws: PayloadError.self) { try Materials.fromImageID("busybox:latest") }
    }

    @Test("an unsupported buildType is a payload error naming the run")
    func unsupportedBuildType() throws {
        let json = try JSONValue(parsing: Data(#"{"kind":"TaskRun","metadata":{"name":"t1","namespace":"ns"}}"#.utf8))
        var diagnostics = Diagnostics()
        #expect {
            _ = try Formats.statement(
                taskRun: try TaskRun(json: json, source: "t"), format: .slsaV2alpha3,
                options: FormatOptions(buildType: "https://example.com/bt"), diagnostics: &diagnostics)
        } throws: {
            "\($0)".contains("TaskRun ns/t1") && "\($0)".contains("unsupported buildType https://example.com/bt")
        }
    }
}

@Suite("Timestamps, durations and runSpec")
struct RenderingTests {
    @Test(
        "timestamps are re-rendered in UTC",
        arguments: [
            ("2021-03-29T09:50:00Z", "2021-03-29T09:50:00Z", "2021-03-29T09:50:00Z"),
            ("2021-03-29T21:50:00+12:00", "2021-03-29T09:50:00Z", "2021-03-29T09:50:00Z"),
            ("2026-11-27T09:15:02.123456Z", "2026-11-27T09:15:02.123456Z", "2026-11-27T09:15:02.123456Z"),
            ("2026-11-27T09:17:40.5Z", "2026-11-27T09:17:40.5Z", "2026-11-27T09:17:40.500Z"),
            ("2000-02-29T00:00:00.000000001-01:30", "2000-02-29T01:30:00.000000001Z", "2000-02-29T01:30:00.000000001Z"),
        ])
    func timestamps(input: String, go: String, proto: String) throws {
        let t = try #require(Timestamp(rfc3339: input))
        #expect(t.goRFC3339Nano == go)
        #expect(t.protoJSON == proto)
    }

    @Test(
        "malformed timestamps are not parsed",
        arguments: ["", "2021-13-01T00:00:00Z", "2021-03-29 09:50:00Z", "2021-03-29T09:50:00"])
    func badTimestamps(input: String) {
        #expect(Timestamp(rfc3339: input) == nil)
    }

    @Test(
        "durations render as Go's Duration.String()",
        arguments: [
            ("1h", "1h0m0s"), ("90m", "1h30m0s"), ("1h0m0s", "1h0m0s"), ("30s", "30s"), ("1.5h", "1h30m0s"),
            ("500ms", "500ms"), ("0", "0s"), ("2m3.5s", "2m3.5s"), ("bogus", "bogus"),
        ])
    func durations(input: String, output: String) {
        #expect(GoDuration.normalise(input) == output)
    }

    @Test(
        "runSpec is Go's re-serialisation: unknown and empty fields dropped, serviceAccountName and computeResources added"
    )
    func runSpec() throws {
        let spec = try JSONValue(
            parsing: Data(
                #"{"params":[],"bogus":1,"timeout":"1h","taskRef":{"name":"t","bundle":"x"},"taskSpec":{"steps":[{"name":"s","image":"i","args":[]}]}}"#
                    .utf8))
        #expect(
            RunSpec.taskRun(spec) == [
                "serviceAccountName": "", "timeout": "1h0m0s", "taskRef": ["name": "t"],
                "taskSpec": ["steps": [["name": "s", "image": "i", "computeResources": [:]]]],
            ])
        let pr = try JSONValue(parsing: Data(#"{"pipelineRef":{"name":"p"},"timeouts":{"pipeline":"2h"}}"#.utf8))
        #expect(
            RunSpec.pipelineRun(pr) == [
                "pipelineRef": ["name": "p"], "timeouts": ["pipeline": "2h0m0s"], "taskRunTemplate": [:],
            ])
    }

    @Test("buildConfig 'after' collects runAfter and result references; finally tasks follow the last task")
    func taskOrder() throws {
        let task = try JSONDecoder().decode(
            PipelineTask.self,
            from: Data(
                #"{"name":"deploy","params":[{"name":"img","value":"$(tasks.build.results.IMAGE_URL)@$(tasks.scan.results.digest)"}],"runAfter":["test"],"when":[{"input":"$(tasks.gate.results.ok)","operator":"in","values":["true"]}]}"#
                    .utf8))
        #expect(SLSAv02.resultReferences(task) == ["build", "scan", "gate"])
    }
}
