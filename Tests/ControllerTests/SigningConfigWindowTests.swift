import ChainsCore
import ChainsTesting
import Foundation
import Testing

@testable import Controller

extension ControllerTests {
    @Test(
        "a signing config's log leaves its validFor window while the controller runs: the next runs go to the log whose window opened, without a restart"
    )
    func signingConfigWindows() async throws {
        try await withTwoLogs { api, first, second, dir in
            let format = ISO8601DateFormatter()
            let switchAt = Date().addingTimeInterval(15).rounded
            // The first log's window ends at switchAt (inclusive), the second's opens a second later.
            let until = #""start": "2020-01-01T00:00:00Z", "end": "\#(format.string(from: switchAt))""#
            let from = #""start": "\#(format.string(from: switchAt.addingTimeInterval(1)))""#
            let signingConfig = try dir.write(
                "signing_config.json",
                SigstoreTrust.signingConfig(
                    ca: [],
                    tlogs: [
                        SigstoreTrust.service(first.url, operator: "a", window: until),
                        SigstoreTrust.service(second.url, operator: "b", window: from),
                    ], tsas: []))
            let running = try await startController(
                api, config: "transparency.enabled: \"true\"\nartifacts.oci.storage: tekton\n", namespace: nil,
                threads: 2,
                reloadInterval: .milliseconds(300), election: { $0.signingConfig = signingConfig })
            defer { running.stop() }
            api.put(try kaniko(name: "before", uid: "55555555-0000-4000-8000-000000000001"), as: .taskRuns)
            try await waitUntil("the first run signed") {
                annotations(api, "before")["chains.tekton.dev/signed"] == "true"
            }
            #expect(Date() < switchAt, "the first run was signed too late for this test to mean anything")
            #expect(first.stats.created == 2 && second.stats.created == 0)
            #expect(annotations(api, "before")["chains.tekton.dev/transparency"]?.hasPrefix(first.url) == true)

            // After the switch, with no change to chains-config or the file: the second log.
            while Date() < switchAt.addingTimeInterval(2) { try await Task.sleep(for: .milliseconds(200)) }
            api.put(try kaniko(name: "after", uid: "55555555-0000-4000-8000-000000000002"), as: .taskRuns)
            try await waitUntil("the second run signed") {
                annotations(api, "after")["chains.tekton.dev/signed"] == "true"
            }
            #expect(first.stats.created == 2 && second.stats.created == 2, "\(first.stats) \(second.stats)")
            #expect(annotations(api, "after")["chains.tekton.dev/transparency"]?.hasPrefix(second.url) == true)
        }
    }
}

extension ControllerTests {
    @Test(
        "two logs (rekorTlogConfig ALL), one down while a run is signed: the retry reuses the signatures, and neither log gets a second entry"
    )
    func twoLogsOneDown() async throws {
        try await withTwoLogs { api, first, second, dir in
            let signingConfig = try dir.write(
                "signing_config.json",
                SigstoreTrust.signingConfig(
                    ca: [],
                    tlogs: [
                        SigstoreTrust.service(first.url, operator: "a"),
                        SigstoreTrust.service(second.url, operator: "b"),
                    ],
                    tsas: [], tlogSelector: "ALL"))
            second.setDown(true)
            let running = try await startController(
                api, config: "transparency.enabled: \"true\"\nartifacts.oci.storage: tekton\n", namespace: nil,
                threads: 2,
                queue: WorkQueue(baseDelay: .milliseconds(200), maxDelay: .seconds(1)),
                election: { $0.signingConfig = signingConfig })
            defer { running.stop() }
            api.put(try kaniko(name: "run", uid: "66666666-0000-4000-8000-000000000001"), as: .taskRuns)
            try await waitUntil("the signatures kept on the run while a log is down") {
                annotations(api, "run").keys.filter { $0.hasPrefix("chains-in-swift.dev/attempt-") }.count == 2
            }
            let kept = annotations(api, "run")
            #expect(kept["chains.tekton.dev/signed"] == nil)
            second.setDown(false)
            try await waitUntil("the run signed once the log is back") {
                annotations(api, "run")["chains.tekton.dev/signed"] == "true"
            }
            // Each log holds each signature once (a write the first log took before the outage failed the call is
            // answered on the retry with the entry it has: 409).
            #expect(first.entryCount == 2 && second.entryCount == 2, "\(first.stats) \(second.stats)")
            #expect(first.stats.created == 2 && second.stats.created == 2, "\(first.stats) \(second.stats)")
            // The provenance stored is the signature kept during the outage.
            let uid = "66666666-0000-4000-8000-000000000001"
            let record = try #require(kept["chains-in-swift.dev/attempt-taskrun-\(uid)"])
            let signature = try JSONDecoder().decode(AttemptRecord.self, from: Data(record.utf8)).signature
            #expect(annotations(api, "run")["chains.tekton.dev/signature-taskrun-\(uid)"] == signature)
        }
    }
}

extension ControllerTests {
    /// An API server, two Rekor logs and a directory for `body`; the servers are stopped after it.
    func withTwoLogs(
        _ body: (KubeAPIServer, RekorSimulator, RekorSimulator, TemporaryDirectory) async throws -> Void
    ) async throws {
        let api = try await KubeAPIServer()
        let (first, second) = (try await RekorSimulator(), try await RekorSimulator())
        defer {
            Task {
                await api.stop()
                await first.stop()
                await second.stop()
            }
        }
        try await body(api, first, second, try TemporaryDirectory())
    }
}

extension Date {
    /// Whole seconds: what a signing config's RFC 3339 times hold.
    fileprivate var rounded: Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.up)) }
}
