import ChainsCore
import ChainsTesting
import Foundation
import Synchronization
import Testing

@testable import Controller

extension ControllerTests {
    @Test(
        "a signing config (Fulcio, Rekor v2, TSA) in the controller; the TSA down while 20 runs finish: nothing lost, no second certificate, signature or entry"
    )
    func timestampOutage() async throws {
        let api = try await KubeAPIServer()
        let dir = try TemporaryDirectory()
        let down = Mutex(true)
        let stamped = Mutex(0)
        let stack = try await SigstoreStack(
            directory: dir, log: .v2,
            tsaAnswer: { _ in
                if down.withLock({ $0 }) { return ServedResponse(status: 503, body: Data("down".utf8)) }
                stamped.withLock { $0 += 1 }
                return nil
            })
        defer {
            Task {
                await api.stop()
                await stack.stop()
            }
        }
        let (fulcio, rekor) = (stack.fulcio, try #require(stack.rekorV2))
        let root = try dir.write("trusted_root.json", stack.trustedRootJSON)
        let signingConfig = try dir.write("signing_config.json", stack.signingConfigJSON)
        let token = try dir.write("token", stack.token())
        let uids = (0..<20).map { String(format: "44444444-0000-4000-8000-%012d", $0) }
        for (n, uid) in uids.enumerated() { api.put(try kaniko(name: "run-\(n)", uid: uid), as: .taskRuns) }
        let running = try await startController(
            api,
            config: """
                signers.x509.fulcio.enabled: "true"
                signers.x509.identity.token.file: \(token.path)
                transparency.enabled: "true"
                artifacts.oci.storage: tekton
                artifacts.taskrun.format: slsa/v2alpha4

                """,
            runTimeout: .seconds(120), namespace: nil, threads: 10,
            queue: WorkQueue(baseDelay: .milliseconds(200), maxDelay: .seconds(1)),
            election: { options in
                options.signingConfig = signingConfig
                options.trustedRoot = root
            })
        defer { running.stop() }
        func records(_ n: Int) -> [String: String] {
            annotations(api, "run-\(n)").filter { $0.key.hasPrefix("chains-in-swift.dev/attempt-") }
        }
        // While the authority is down, every run's two signatures are kept on it, nothing is logged or marked.
        try await waitUntil(
            "every run's signatures kept while the TSA is down",
            state: {
                "\((0..<20).map { records($0).count }) "
                    + "\(api.objects(.events).compactMap { $0["message"]?.stringValue }.suffix(2))"
            }
        ) {
            (0..<20).allSatisfy { records($0).count == 2 }
        }
        let kept = (0..<20).map(records)
        #expect(rekor.entryCount == 0 && stamped.withLock { $0 } == 0)
        #expect((0..<20).allSatisfy { annotations(api, "run-\($0)")["chains.tekton.dev/signed"] == nil })
        down.withLock { $0 = false }
        try await waitUntil("all 20 runs signed once the TSA is back") {
            (0..<20).allSatisfy { annotations(api, "run-\($0)")["chains.tekton.dev/signed"] == "true" }
        }
        // One certificate for the whole outage; one entry and one timestamp per artifact; each run stored the
        // signatures kept during the outage, not new ones.
        #expect(fulcio.stats.v1 + fulcio.stats.v2 == 1, "\(fulcio.stats)")
        // (A write the transport re-sent — a kept-alive connection the server had closed — is a duplicate the log
        // answers with 409; the client reads that entry back: still one entry per artifact.)
        #expect(rekor.entryCount == 40, "\(rekor.stats)")
        // At least one timestamp per artifact (a request re-sent on a reset connection may be answered twice; a
        // timestamp is not a signature, and each artifact's bundle carries one).
        #expect(stamped.withLock { $0 } >= 40)
        for (n, uid) in uids.enumerated() {
            let final = annotations(api, "run-\(n)")
            let record = try #require(kept[n]["chains-in-swift.dev/attempt-taskrun-\(uid)"])
            let signature = try JSONDecoder().decode(AttemptRecord.self, from: Data(record.utf8)).signature
            #expect(final["chains.tekton.dev/signature-taskrun-\(uid)"] == signature, "run-\(n)")
            #expect(final["chains.tekton.dev/transparency"]?.hasPrefix("\(rekor.url)?logIndex=") == true)
            #expect(!final.keys.contains { $0.hasPrefix("chains-in-swift.dev/attempt-") })
        }
    }
}
