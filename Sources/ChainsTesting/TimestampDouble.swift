import ChainsCore
import Crypto
import Foundation
import HTTPTransport
import Synchronization

/// A timestamp authority double for the pipeline's timestamp seam — not RFC 3161: its "timestamp" is JSON naming
/// the SHA-256 of the signature it covers and a time, signed by the double's own P-256 key, so that `verify` can tell
/// its own timestamps over a signature from anything else. Counts the timestamps it makes; can be told to fail.
package final class TimestampDouble: TimestampAuthority, Sendable {
    package let address: String
    let key = P256.Signing.PrivateKey()
    let state = Mutex<(made: Int, failing: Bool)>((0, false))

    /// As a real authority's 503 classifies (`HTTPStatusRule`): worth the run's next attempt.
    package struct Unavailable: RetryClassifiable, CustomStringConvertible {
        package var isRetryable: Bool { HTTPStatusRule.isRetryable(503) }
        package var description: String { "the timestamp authority answered HTTP 503" }
    }

    package init(address: String = "https://tsa.test.example") { self.address = address }

    package var made: Int { state.withLock { $0.made } }
    package func fail(_ failing: Bool) { state.withLock { $0.failing = failing } }

    package func timestamp(signature: Data) async throws -> SignedTimestamp {
        let failing = state.withLock { s in
            if !s.failing { s.made += 1 }
            return s.failing
        }
        if failing { throw Unavailable() }
        let body = Data(
            #"{"imprint":"\#(Data(SHA256.hash(data: signature)).base64EncodedString())","time":\#(Int(Date().timeIntervalSince1970))}"#
                .utf8)
        let signed = try key.signature(for: body).derRepresentation
        let token = try JSONSerialization.data(
            withJSONObject: ["body": body.base64EncodedString(), "sig": signed.base64EncodedString()],
            options: [.sortedKeys])
        return SignedTimestamp(der: token, authority: address)
    }

    package func verify(_ timestamp: SignedTimestamp, signature: Data) async throws {
        struct Refused: Error, CustomStringConvertible { var description: String }
        guard let token = try? JSONSerialization.jsonObject(with: timestamp.der) as? [String: String],
            let body = token["body"].flatMap({ Data(base64Encoded: $0) }),
            let sig = token["sig"].flatMap({ Data(base64Encoded: $0) }),
            let parsed = try? P256.Signing.ECDSASignature(derRepresentation: sig)
        else { throw Refused(description: "not a timestamp of this authority's form") }
        guard key.publicKey.isValidSignature(parsed, for: body) else {
            throw Refused(description: "not signed by this authority")
        }
        let imprint = Data(SHA256.hash(data: signature)).base64EncodedString()
        guard String(decoding: body, as: UTF8.self).contains(#""imprint":"\#(imprint)""#) else {
            throw Refused(description: "over another signature")
        }
    }
}
