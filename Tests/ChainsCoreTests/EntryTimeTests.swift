import ChainsTesting
import Crypto
import Foundation
import HTTPTransport
import Sigstore
import Testing

@testable import ChainsCore

/// The mutation probe's tlog-time-in-cert: a keyless signature counts only if the log integrated it while the
/// short-lived certificate was valid — otherwise a stolen key could be used after its certificate expired.
@Suite("a log entry's time against the certificate's validity")
struct EntryTimeTests {
    @Test("integrated inside the certificate's validity: accepted; an hour before or after: refused, naming the log")
    func entryTime() async throws {
        let issuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes)
        let fulcio = try await FulcioSimulator(issuers: [issuer])
        let http = try AsyncHTTPClientTransport()
        defer {
            Task {
                await fulcio.stop()
                try? await http.shutdown()
            }
        }
        let token = try IdentityToken(
            jwt: issuer.token(subject: "system:serviceaccount:tekton-chains:tekton-chains-controller"), source: "t")
        let chain = try await FulcioClient(address: URL(string: fulcio.url)!, transport: http)
            .certificate(for: P256.Signing.PrivateKey(), token: token)
        func entry(at date: Date) -> RekorEntry {
            RekorEntry(
                id: "x", logIndex: 7, integratedTime: Int64(date.timeIntervalSince1970), logID: Data([1]),
                body: Data(), kind: "hashedrekord", signedEntryTimestamp: Data(), inclusionProof: nil, logURL: "")
        }
        let now = Date()
        #expect(throws: Never.self) {
            try RekorTransparencyLog.checkTime(entry(at: now), certificate: chain[0], log: "rekor.test")
        }
        for outside in [now.addingTimeInterval(-3600), now.addingTimeInterval(3600)] {
            let error = #expect(throws: RekorError.self) {
                try RekorTransparencyLog.checkTime(entry(at: outside), certificate: chain[0], log: "rekor.test")
            }
            #expect(error?.description.contains("rekor.test") == true)
            #expect(error?.description.contains("outside the certificate's validity") == true)
        }
    }
}
