import ChainsConfig
import ChainsTesting
import Foundation
import KubeModels
import Testing

@testable import Provenance

/// Golden provenance for the realistic runs in Examples/. Regenerate with `CHAINS_UPDATE_GOLDEN=1 swift test
/// --filter GoldenTests` after a deliberate change, and read the diff.
@Suite("Golden provenance for realistic runs")
struct GoldenTests {
    static let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Golden")

    struct Case: CustomTestStringConvertible, Sendable {
        var run: String
        var children: [String] = []
        var format: PayloadFormat
        var deep = false
        var buildType = "https://tekton.dev/chains/v2/slsa"
        var golden: String {
            let base = (run as NSString).deletingPathExtension
            let kind = format.rawValue.replacingOccurrences(of: "/", with: "-")
            return "\(base).\(kind)\(deep ? ".deep" : "")\(buildType.hasSuffix("tekton") ? ".tekton" : "").json"
        }
        var testDescription: String { golden }
    }

    static let prChildren = ["cluster/app-ci-4mz8w-fetch-source.yaml", "cluster/app-ci-4mz8w-build.yaml"]
    static let cases: [Case] =
        ["taskrun-kaniko.yaml", "taskrun-buildah-v1beta1.yaml", "taskrun-stepactions.yaml"].flatMap { run in
            [PayloadFormat.slsaV1, .slsaV2alpha3, .slsaV2alpha4].map { Case(run: run, format: $0) }
        }
        + [PayloadFormat.slsaV1, .slsaV2alpha3, .slsaV2alpha4].flatMap { format in
            [false, true].map {
                Case(run: "pipelinerun-git-build.yaml", children: prChildren, format: format, deep: $0)
            }
        } + [
            Case(
                run: "pipelinerun-git-build.yaml", children: prChildren, format: .slsaV2alpha3,
                buildType: "https://tekton.dev/chains/v2/slsa-tekton")
        ]

    static func statement(_ c: Case) throws -> Statement {
        let (docs, _) = try ManifestReader.read(file: PackagePaths.example(c.run))
        let options = FormatOptions(
            builderID: "https://tekton.dev/chains/v2", buildType: c.buildType, deepInspection: c.deep)
        var diagnostics = Diagnostics()
        switch try AnyRun(json: docs[0], source: c.run) {
        case .taskRun(let tr):
            return try Formats.statement(taskRun: tr, format: c.format, options: options, diagnostics: &diagnostics)
        case .pipelineRun(let pr):
            let children = try c.children.map { path in
                try TaskRun(json: try ManifestReader.read(file: PackagePaths.example(path)).documents[0], source: path)
            }
            return try Formats.statement(
                pipelineRun: PipelineRunWithChildren(pr, children: children), format: c.format, options: options,
                diagnostics: &diagnostics)
        }
    }

    @Test("statements match the golden files, and their bytes are the golden value's canonical form", arguments: cases)
    func golden(_ c: Case) throws {
        let statement = try Self.statement(c)
        let file = Self.goldenDirectory.appendingPathComponent(c.golden)
        if ProcessInfo.processInfo.environment["CHAINS_UPDATE_GOLDEN"] == "1" {
            try Data(statement.json.prettySerialized().utf8).write(to: file)
        }
        let expected = try JSONValue(parsing: try Data(contentsOf: file))
        #expect(statement.json == expected, "differs from \(c.golden); see the diff after CHAINS_UPDATE_GOLDEN=1")
        #expect(statement.bytes == expected.serializedData())
    }

    @Test("the same input gives byte-identical statements", arguments: cases)
    func byteStable(_ c: Case) throws {
        let a = try Self.statement(c).bytes
        let b = try Self.statement(c).bytes
        #expect(a == b)
    }

    @Test("in-toto is an alias of slsa/v1")
    func alias() throws {
        var c = Case(run: "taskrun-kaniko.yaml", format: .inToto)
        let a = try Self.statement(c).bytes
        c.format = .slsaV1
        #expect(a == (try Self.statement(c).bytes))
    }
}
