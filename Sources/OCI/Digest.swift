import Crypto
import Foundation

/// A content digest `algorithm:hex`. OCI references use `sha256` (other algorithms are rejected there, as
/// go-containerregistry does); provenance digests may also be `sha384`, `sha512` or git's `sha1`.
package struct Digest: Sendable, Hashable, CustomStringConvertible, Comparable {
    package let algorithm: String
    package let hex: String

    package var description: String { "\(algorithm):\(hex)" }

    /// The `sha256-<hex>` form used in cosign tags.
    package var tagForm: String { "\(algorithm)-\(hex)" }

    package init(algorithm: String, hex: String) {
        self.algorithm = algorithm
        self.hex = hex
    }

    /// Parses a `sha256:<64 lowercase hex>` digest, the only kind an OCI reference may carry.
    package init(parsingSHA256 text: String) throws(ReferenceError) {
        guard text.hasPrefix("sha256:") else {
            throw ReferenceError(
                reference: text, reason: "unsupported digest algorithm; expected sha256:<64 hex digits>")
        }
        let hex = String(text.dropFirst("sha256:".count))
        guard Digest.isLowerHex(hex, count: 64) else {
            throw ReferenceError(reference: text, reason: "a sha256 digest must be 64 lowercase hex digits")
        }
        self.init(algorithm: "sha256", hex: hex)
    }

    package static func sha256(of data: some DataProtocol) -> Digest {
        let hash = SHA256.hash(data: data)
        return Digest(algorithm: "sha256", hex: hash.map { String(format: "%02x", $0) }.joined())
    }

    package static func isLowerHex(_ s: String, count: Int) -> Bool {
        s.utf8.count == count
            && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    package static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }
}
