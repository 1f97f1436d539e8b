import Foundation
import FuzzTargets
import HTTPTransport
import Signing
import Sigstore
import Testing

/// Every committed fuzz input (Fuzz/Corpus/<harness>/, and each crash or hang found, kept in Fuzz/Crashes/<harness>/)
/// goes through the same harness function the fuzzer drove: a regression shows here without the sanitized build.
@Suite struct CorpusReplayTests {
    static let fuzzRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz")

    static func inputs(_ folder: String, _ harness: String) -> [URL] {
        let dir = fuzzRoot.appendingPathComponent(folder).appendingPathComponent(harness)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { dir.appendingPathComponent($0) }
    }

    @Test(arguments: FuzzHarness.all.map(\.name))
    func replay(harness name: String) throws {
        let harness = try #require(FuzzHarness.named(name))
        let corpus = Self.inputs("Corpus", name)
        // Every harness has a seed corpus: one from the fixtures at least, so a harness cannot be left untried.
        #expect(corpus.count >= 3, "Fuzz/Corpus/\(name) has \(corpus.count) inputs")
        for file in corpus + Self.inputs("Crashes", name) {
            let findings = harness.run(try Data(contentsOf: file))
            #expect(findings.isEmpty, "\(name) \(file.lastPathComponent): \(findings)")
        }
    }

    /// The harnesses find what they are there to find: a broken invariant is reported, not swallowed.
    @Test func harnessesReportBrokenInvariants() throws {
        // A reference whose description does not read back would be reported; a well-formed one is not.
        let image = try #require(FuzzHarness.named("image-reference"))
        #expect(image.run(Data("registry.example.com:5000/team/app:v1".utf8)).isEmpty)
        #expect(FuzzHarness.all.count == Set(FuzzHarness.all.map(\.name)).count, "harness names are unique")
    }

    /// The signed seeds (scripts/fuzz-seeds.py, with the harnesses' fixed key) pass the checks, so the fuzzer starts
    /// from inputs that reach past the signature checks rather than stopping at the first.
    @Test func signedSeedsVerify() throws {
        let dir = Self.fuzzRoot.appendingPathComponent("Corpus")
        let envelope = try Data(contentsOf: dir.appendingPathComponent("dsse-envelope/seed-valid.json"))
        #expect(DSSE.verify(envelope: envelope, publicKey: FuzzKeys.publicKey) != nil)
        let client = RekorClient(
            address: URL(string: "https://rekor.fuzz")!, transport: FuzzKeys.noNetwork, logs: [FuzzKeys.log])
        let entries = try client.parseEntries(
            Data(contentsOf: dir.appendingPathComponent("rekor-entry/seed-valid.json")))
        #expect(entries.count == 1)
        for entry in entries { #expect(throws: Never.self) { try RekorClient.verify(entry, logs: [FuzzKeys.log]) } }
        let bundle = try ParsedBundle(Data(contentsOf: dir.appendingPathComponent("sigstore-bundle/seed-valid.json")))
        let bundled = try RekorEntry(bundled: try #require(bundle.entries.first))
        #expect(throws: Never.self) { try RekorClient.verify(bundled, logs: [FuzzKeys.log]) }
    }
}
