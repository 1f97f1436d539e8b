/// An HTTP authentication challenge from `WWW-Authenticate`.
package struct Challenge: Sendable, Hashable {
    /// Lower-cased: `bearer`, `basic`.
    package var scheme: String
    /// Parameter names lower-cased (`realm`, `service`, `scope`, `error`).
    package var parameters: [String: String]

    package init(scheme: String, parameters: [String: String]) {
        self.scheme = scheme
        self.parameters = parameters
    }

    package var realm: String? { parameters["realm"] }
    package var service: String? { parameters["service"] }
    /// Space-separated resource scopes, split.
    package var scopes: [String] { (parameters["scope"] ?? "").split(separator: " ").map(String.init) }
    package var error: String? { parameters["error"] }

    /// Parses every challenge in the header values: case-insensitive scheme and names, quoted strings with `\`
    /// escapes, several challenges per line or over several lines.
    package static func parse(_ headerValues: [String]) -> [Challenge] {
        var out: [Challenge] = []
        for value in headerValues {
            var s = Substring(value)
            var current: Challenge?
            while true {
                s = s.drop(while: { $0 == " " || $0 == "\t" || $0 == "," })
                guard !s.isEmpty else { break }
                let token = s.prefix(while: { !" \t=,".contains($0) })
                s = s.dropFirst(token.count)
                let afterSpaces = s.drop(while: { $0 == " " || $0 == "\t" })
                if afterSpaces.first == "=", current != nil {
                    // name=value
                    s = afterSpaces.dropFirst().drop(while: { $0 == " " || $0 == "\t" })
                    var parsed = ""
                    if s.first == "\"" {
                        s = s.dropFirst()
                        while let c = s.first, c != "\"" {
                            if c == "\\" {
                                s = s.dropFirst()
                                if let escaped = s.first { parsed.append(escaped) }
                            } else {
                                parsed.append(c)
                            }
                            s = s.dropFirst()
                        }
                        s = s.dropFirst()
                    } else {
                        let raw = s.prefix(while: { !" \t,".contains($0) })
                        parsed = String(raw)
                        s = s.dropFirst(raw.count)
                    }
                    current?.parameters[token.lowercased()] = parsed
                } else if !token.isEmpty {
                    if let c = current { out.append(c) }
                    current = Challenge(scheme: token.lowercased(), parameters: [:])
                } else {
                    s = s.dropFirst()
                }
            }
            if let c = current { out.append(c) }
        }
        return out
    }
}
