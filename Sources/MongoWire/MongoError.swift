/// Why a MongoDB call failed, in the classes a caller acts on: refused (credentials or permissions; retrying will not
/// help), unavailable (no primary, the network, a server shutting down: retry later), timeout, failed (anything
/// else: the request or the answer is wrong). `code` and `codeName` are the server's when it answered.
package struct MongoError: Error, Sendable, CustomStringConvertible {
    package enum Kind: Sendable, Equatable { case refused, unavailable, timeout, failed }

    package let kind: Kind
    package let reason: String
    package var code: Int?
    package var codeName: String?

    package init(_ kind: Kind, _ reason: String, code: Int? = nil, codeName: String? = nil) {
        self.kind = kind
        self.reason = reason
        self.code = code
        self.codeName = codeName
    }

    package var description: String {
        guard let code else { return reason }
        return "\(reason) (code \(code)\(codeName.map { " \($0)" } ?? ""))"
    }

    /// Server error codes that mean "not now" (a primary stepping down or shutting down, the network between
    /// servers) as the retryable-writes specification lists them, and those that refuse the user.
    static let unavailableCodes: Set<Int> = [
        6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 63, 150, 134,
    ]
    static let refusedCodes: Set<Int> = [13, 18, 11]

    /// The error a command reply with `ok: 0` carries.
    package static func fromReply(_ reply: BSONDocument, command: String) -> MongoError {
        let code = reply["code"]?.int
        let kind: Kind =
            code.map { refusedCodes.contains($0) ? .refused : (unavailableCodes.contains($0) ? .unavailable : .failed) }
            ?? .failed
        let message = reply["errmsg"]?.string ?? "no message"
        return MongoError(
            kind, "the server refuses \(command): \(message)", code: code, codeName: reply["codeName"]?.string)
    }
}
