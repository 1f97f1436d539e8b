import Crypto
import Foundation
import HTTPTransport

/// AWS credentials: an access key, its secret and, for temporary credentials, the session token and expiry.
/// `description` never shows the secret or the token.
package struct AWSCredentials: Sendable, Hashable, CustomStringConvertible {
    package var accessKeyID: String
    package var secretAccessKey: String
    package var sessionToken: String?
    package var expiration: Date?
    /// Where they came from, for messages: "environment", "web identity arn:aws:iam::…:role/x", "EKS Pod Identity".
    package var origin: String

    package init(
        accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil,
        origin: String
    ) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.origin = origin
    }

    package var description: String { "AWS credentials \(accessKeyID.prefix(4))… from \(origin)" }
}

/// Signature Version 4 (AWS's request signing, "Signing AWS API requests"), written once for every AWS call we make
/// (STS, ECR, KMS). Checked against vectors made with botocore's `SigV4Auth`.
package enum SigV4 {
    /// Headers botocore never signs (a proxy may change them).
    static let unsigned: Set<String> = ["user-agent", "expect", "x-amzn-trace-id", "content-length"]

    /// Adds `X-Amz-Date`, `X-Amz-Security-Token` (temporary credentials) and `Authorization` to `request`, signing
    /// every header it carries (but those above) and `Host`.
    package static func sign(
        _ request: inout HTTPRequest, service: String, region: String, credentials: AWSCredentials,
        date: Date = Date()
    ) {
        let stamp = timestamp(date)
        let day = String(stamp.prefix(8))
        request.headers["X-Amz-Date"] = stamp
        if let token = credentials.sessionToken, !token.isEmpty { request.headers["X-Amz-Security-Token"] = token }
        request.headers["Authorization"] = nil
        let (canonical, signedHeaders) = canonicalRequest(request)
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let toSign = "AWS4-HMAC-SHA256\n\(stamp)\n\(scope)\n\(hex(SHA256.hash(data: Data(canonical.utf8))))"
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        let signature = hex(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: key))
        request.headers["Authorization"] =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), "
            + "Signature=\(signature)"
    }

    /// The canonical request and its signed-header list.
    static func canonicalRequest(_ request: HTTPRequest) -> (String, String) {
        var headers: [String: [String]] = [:]
        for (name, value) in request.headers {
            let lower = name.lowercased()
            guard !unsigned.contains(lower), lower != "host" else { continue }
            headers[lower, default: []].append(trimmed(value))
        }
        headers["host"] = [hostHeader(request.url)]
        let names = headers.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(headers[$0]!.joined(separator: ","))\n" }.joined()
        let signed = names.joined(separator: ";")
        let components = URLComponents(url: request.url, resolvingAgainstBaseURL: false)
        let path = components?.percentEncodedPath ?? "/"
        var pairs: [(String, String)] = []
        for item in components?.percentEncodedQueryItems ?? [] {
            pairs.append((encode(decode(item.name)), encode(decode(item.value ?? ""))))
        }
        pairs.sort { a, b in a.0 == b.0 ? a.1 < b.1 : a.0 < b.0 }
        let query = pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let payload = hex(SHA256.hash(data: request.body ?? Data()))
        // Every service but S3 encodes the path a second time: the URL's own percent-encoding is encoded again.
        var segments: [String] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: false) {
            segments.append(encode(String(segment)))
        }
        let uri = path.isEmpty ? "/" : segments.joined(separator: "/")
        let canonical = [request.method, uri, query, canonicalHeaders, signed, payload].joined(separator: "\n")
        return (canonical, signed)
    }

    /// `host[:port]`, the port only when it is not the scheme's default (as HTTP clients send `Host`).
    static func hostHeader(_ url: URL) -> String {
        let host = url.host ?? ""
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        guard let port = url.port else { return bracketed }
        let scheme = url.scheme?.lowercased() ?? "https"
        if (scheme == "https" && port == 443) || (scheme == "http" && port == 80) { return bracketed }
        return "\(bracketed):\(port)"
    }

    /// Leading and trailing spaces removed, runs of spaces made one.
    static func trimmed(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters.
    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    static func decode(_ text: String) -> String { text.removingPercentEncoding ?? text }

    static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
