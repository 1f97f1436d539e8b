import ChainsTesting
import Foundation
import Testing

@testable import Sigstore

/// Signing configs v0.2: sigstore's own files read, services selected by version, validity, operator and selector,
/// bad files refused naming the field — and the selection held against sigstore-python's.
@Suite("Signing configs")
struct SigningConfigTests {
    static let base = PackagePaths.root.appendingPathComponent("Tests/SigstoreTests/SigningConfigs")
    static func load(_ name: String) throws -> SigningConfig {
        let url = base.appendingPathComponent(name)
        return try SigningConfig(json: try Data(contentsOf: url), source: url.lastPathComponent)
    }
    static func time(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }
    static let now = time("2026-12-07T12:00:00Z")

    @Test("staging: the newest valid Rekor v2 log when v2 is spoken, Rekor v1 when it is not, and why")
    func staging() throws {
        let config = try Self.load("staging.signing_config.v0.2.json")
        #expect(config.services[.transparencyLog]?.count == 4 && config.selectors[.transparencyLog] == .any)
        let both = try config.select(.transparencyLog, versions: [1, 2], at: Self.now)
        #expect(both.chosen.map(\.url) == ["https://log2025-alpha3.rekor.sigstage.dev"])
        let reasons = Dictionary(uniqueKeysWithValues: both.skipped.map { ($0.url, $0.reason) })
        #expect(reasons["https://log2025-alpha2.rekor.sigstage.dev"] == "expired 2025-09-22T11:00:00Z")
        #expect(reasons["https://log2025-alpha1.rekor.sigstage.dev"] == "expired 2025-08-20T07:24:08Z")
        #expect(reasons["https://rekor.sigstage.dev"] == "API v2 is preferred")
        let v1 = try config.select(.transparencyLog, versions: [1], at: Self.now)
        #expect(v1.chosen.map(\.url) == ["https://rekor.sigstage.dev"])
        #expect(v1.skipped.first?.reason == "API v2, not spoken here (v1)", "\(v1.summary)")
        // Before alpha3 started, alpha2 was the one.
        let earlier = try config.select(.transparencyLog, versions: [1, 2], at: Self.time("2025-09-01T00:00:00Z"))
        #expect(earlier.chosen.map(\.url) == ["https://log2025-alpha2.rekor.sigstage.dev"])
        #expect(earlier.skipped.contains { $0.url.contains("alpha3") && $0.reason.hasPrefix("not valid until") })
        let fulcio = try config.select(.certificateAuthority, versions: [1], at: Self.now)
        #expect(fulcio.chosen.map(\.url) == ["https://fulcio.sigstage.dev"])
        #expect(fulcio.summary == "Fulcio CA (ANY): https://fulcio.sigstage.dev (API v1, sigstore.dev)")
    }

    @Test("several operators: ALL takes the newest of each, EXACT n the n newest, too few is an error naming the field")
    func operators() throws {
        func service(
            _ url: String, _ version: UInt32, _ start: String, _ op: String, end: String? = nil
        )
            -> SigningConfig.Service
        {
            .init(
                url: url, majorAPIVersion: version, start: Self.time(start), end: end.map(Self.time), operatorName: op)
        }
        let logs = [
            service("https://a-old.example", 1, "2024-01-01T00:00:00Z", "a.example"),
            service("https://a-new.example", 1, "2025-01-01T00:00:00Z", "a.example"),
            service("https://b.example", 1, "2024-06-01T00:00:00Z", "b.example"),
            service("https://c.example", 1, "2024-03-01T00:00:00Z", "c.example", end: "2025-03-01T00:00:00Z"),
        ]
        var config = SigningConfig(source: "test", services: [.transparencyLog: logs])
        let all = try config.select(.transparencyLog, versions: [1], at: Self.now)
        #expect(all.selector == .all && all.chosen.map(\.url) == ["https://a-new.example", "https://b.example"])
        #expect(all.skipped.map(\.url).sorted() == ["https://a-old.example", "https://c.example"])
        config.selectors[.transparencyLog] = .exact(1)
        #expect(
            try config.select(.transparencyLog, versions: [1], at: Self.now).chosen.map(\.url) == [
                "https://a-new.example"
            ])
        config.selectors[.transparencyLog] = .exact(3)
        #expect {
            _ = try config.select(.transparencyLog, versions: [1], at: Self.now)
        } throws: { error in
            "\(error)" == "signing config test: rekorTlogConfig: EXACT 3 asks for 3 transparency logs of distinct "
                + "operators; 2 usable"
        }
        #expect {
            _ = try config.select(.timestampAuthority, versions: [1], at: Self.now)
        } throws: { error in
            "\(error)".contains("tsaUrls: no timestamp authority is usable: it lists none")
        }
    }

    @Test(
        "bad files are refused naming the field",
        arguments: [
            (#"{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.1+json"}"#, "mediaType: \""),
            (#"{"mediaType":"M","caUrls":[{"majorApiVersion":1}]}"#, "caUrls[0].url: \"\" is not an absolute URL"),
            (
                #"{"mediaType":"M","tsaUrls":[{"url":"https://t","validFor":{"start":"yesterday"}}]}"#,
                "tsaUrls[0].majorApiVersion"
            ),
            (
                #"{"mediaType":"M","tsaUrls":[{"url":"https://t","majorApiVersion":1,"validFor":{"start":"yesterday"}}]}"#,
                "tsaUrls[0].validFor.start: \"yesterday\" is not an RFC 3339 time"
            ),
            (#"{"mediaType":"M","rekorTlogConfig":{"selector":"SOME"}}"#, "rekorTlogConfig.selector: \"SOME\" is not"),
            (#"{"mediaType":"M","tsaConfig":{"selector":"EXACT"}}"#, "tsaConfig.count: EXACT needs a count"),
            ("[]", "not a signing config"),
        ])
    func refused(json: String, fragment: String) {
        let text = json.replacingOccurrences(of: "\"M\"", with: "\"\(SigningConfig.mediaType)\"")
        #expect {
            _ = try SigningConfig(json: Data(text.utf8), source: "sc.json")
        } throws: { error in
            "\(error)".hasPrefix("signing config sc.json: ") && "\(error)".contains(fragment)
        }
    }

    @Test("proto field names and enum numbers are read as protojson reads them")
    func protoNames() throws {
        let json = """
            {"media_type": "\(SigningConfig.mediaType)",
             "rekor_tlog_urls": [{"url": "https://log.example", "major_api_version": "2", "operator": "o",
                                  "valid_for": {"start": "2025-01-01T00:00:00.5Z"}}],
             "rekor_tlog_config": {"selector": 3, "count": 1}}
            """
        let config = try SigningConfig(json: Data(json.utf8), source: "snake")
        #expect(config.selectors[.transparencyLog] == .exact(1))
        let chosen = try config.select(.transparencyLog, versions: [2], at: Self.now).chosen
        #expect(chosen.map(\.url) == ["https://log.example"] && chosen.first?.majorAPIVersion == 2)
    }

    @Test("sigstore-python 4.5.1 selects the same services from sigstore's files and from several operators")
    func sameAsSigstorePython() async throws {
        let dir = try TemporaryDirectory()
        let operators = """
            {"mediaType": "\(SigningConfig.mediaType)",
             "caUrls": [{"url": "https://fulcio.example", "majorApiVersion": 1, "operator": "a",
                         "validFor": {"start": "2024-01-01T00:00:00Z"}}],
             "rekorTlogUrls": [
               {"url": "https://a-old.example", "majorApiVersion": 1, "operator": "a",
                "validFor": {"start": "2024-01-01T00:00:00Z", "end": "2025-01-01T00:00:00Z"}},
               {"url": "https://a-v2.example", "majorApiVersion": 2, "operator": "a",
                "validFor": {"start": "2025-01-01T00:00:00Z"}},
               {"url": "https://b.example", "majorApiVersion": 2, "operator": "b",
                "validFor": {"start": "2024-06-01T00:00:00Z"}}],
             "rekorTlogConfig": {"selector": "ALL"},
             "tsaUrls": [{"url": "https://tsa.example/api/v1/timestamp", "majorApiVersion": 1, "operator": "a",
                          "validFor": {"start": "2024-01-01T00:00:00Z"}}],
             "tsaConfig": {"selector": "ANY"}}
            """
        let files = [
            Self.base.appendingPathComponent("staging.signing_config.v0.2.json"),
            Self.base.appendingPathComponent("public-good.signing_config.v0.2.json"),
            try dir.write("operators.json", operators),
        ]
        for file in files {
            for tlogVersion in [nil, 1, 2] as [UInt32?] {
                let result = try await Python.run(
                    "signing_config_select.py", [file.path] + (tlogVersion.map { ["--tlog-version", "\($0)"] } ?? []))
                let theirs = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
                let config = try SigningConfig(json: try Data(contentsOf: file), source: file.lastPathComponent)
                if let refusal = theirs?["error"] as? String {
                    // sigstore-python refuses a config with no usable log; so do we, for the logs.
                    #expect(refusal.contains("No valid Rekor transparency log"), "\(refusal)")
                    #expect(throws: SigningConfigError.self) {
                        try config.select(.transparencyLog, versions: tlogVersion.map { [$0] } ?? [1, 2], at: Date())
                    }
                    continue
                }
                for kind in SigningConfig.Kind.allCases {
                    let versions: Set<UInt32> = kind == .transparencyLog ? tlogVersion.map { [$0] } ?? [1, 2] : [1]
                    let ours = (try? config.select(kind, versions: versions, at: Date()))?.chosen.map(\.url) ?? []
                    let expected = theirs?[kind.rawValue] as? [String]
                    let context =
                        "\(file.lastPathComponent) \(kind) v\(tlogVersion.map(String.init) ?? "1,2"): ours \(ours), "
                        + "sigstore-python \(result.stdout) \(result.stderr)"
                    #expect(expected.map(Set.init) == Set(ours), "\(context)")
                }
            }
        }
    }
}
