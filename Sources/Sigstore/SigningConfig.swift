import Foundation
import HTTPTransport

/// A sigstore signing config (protobuf-specs `SigningConfig` v0.2 as JSON,
/// `application/vnd.dev.sigstore.signingconfig.v0.2+json`): which Fulcio, OIDC issuer, transparency logs and timestamp
/// authorities a client signs with, each with an API version, a validity window and an operator, and how many logs and
/// authorities to use. Read from a file or a TUF target; `select` picks the services.
package struct SigningConfig: Sendable {
    package static let mediaType = "application/vnd.dev.sigstore.signingconfig.v0.2+json"

    /// One service a signing config lists.
    package struct Service: Sendable, Equatable {
        package var url: String
        package var majorAPIVersion: UInt32
        package var start: Date?
        package var end: Date?
        package var operatorName: String

        package init(url: String, majorAPIVersion: UInt32, start: Date? = nil, end: Date? = nil, operatorName: String) {
            self.url = url
            self.majorAPIVersion = majorAPIVersion
            self.start = start
            self.end = end
            self.operatorName = operatorName
        }
    }

    /// How many of a kind's services to use (`ServiceConfiguration`).
    package enum Selector: Sendable, Equatable, CustomStringConvertible {
        /// Every selected service (one per operator); also what an absent or undefined selector means.
        case all
        /// One service.
        case any
        /// Exactly this many services of distinct operators.
        case exact(UInt32)

        package var description: String {
            switch self {
            case .all: return "ALL"
            case .any: return "ANY"
            case .exact(let n): return "EXACT \(n)"
            }
        }
    }

    /// The kinds of service, named by their field.
    package enum Kind: String, Sendable, CaseIterable {
        case certificateAuthority = "caUrls"
        case oidcProvider = "oidcUrls"
        case transparencyLog = "rekorTlogUrls"
        case timestampAuthority = "tsaUrls"

        /// How the kind is named in messages.
        package var noun: String {
            switch self {
            case .certificateAuthority: return "Fulcio CA"
            case .oidcProvider: return "OIDC issuer"
            case .transparencyLog: return "transparency log"
            case .timestampAuthority: return "timestamp authority"
            }
        }
    }

    /// Where the config came from (a file path, or the TUF target's name), for messages.
    package var source: String
    package var services: [Kind: [Service]]
    /// `rekorTlogConfig` and `tsaConfig`; Fulcio and the OIDC issuer are always one service.
    package var selectors: [Kind: Selector]

    /// The first time after `now` when a service of `kinds` starts or stops being valid (its `validFor` start, or
    /// just after its inclusive end): when the selection may change and a long-running signer should choose again.
    package func nextChange(after now: Date, kinds: Set<Kind>) -> Date? {
        let edges = services.filter { kinds.contains($0.key) }.values.flatMap { $0 }.flatMap { service in
            [service.start, service.end.map { $0.addingTimeInterval(1) }].compactMap { $0 }
        }
        return edges.filter { $0 > now }.min()
    }

    package init(source: String, services: [Kind: [Service]], selectors: [Kind: Selector] = [:]) {
        self.source = source
        self.services = services
        self.selectors = selectors
    }

    /// Parses the JSON a signing config file or TUF target holds. protobuf JSON names (`caUrls`) and proto field
    /// names (`ca_urls`) are both read, as protojson does; selectors as names (`ANY`) or numbers (2).
    package init(json data: Data, source: String) throws(SigningConfigError) {
        func bad(_ field: String, _ reason: String) -> SigningConfigError {
            SigningConfigError(source: source, field: field, reason: reason)
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let file: File
        do {
            file = try decoder.decode(File.self, from: data)
        } catch {
            throw bad("", "not a signing config: \(error)")
        }
        guard file.mediaType == Self.mediaType else {
            throw bad("mediaType", "\"\(file.mediaType ?? "")\" is not \(Self.mediaType)")
        }
        var services: [Kind: [Service]] = [:]
        for kind in Kind.allCases {
            var list: [Service] = []
            for (index, entry) in (file.list(kind) ?? []).enumerated() {
                let field = "\(kind.rawValue)[\(index)]"
                guard let url = entry.url, URL(string: url)?.host != nil else {
                    throw bad("\(field).url", "\"\(entry.url ?? "")\" is not an absolute URL")
                }
                guard let version = entry.majorApiVersion?.value else {
                    throw bad("\(field).majorApiVersion", "missing or not a number")
                }
                let start = try Self.time(entry.validFor?.start, "\(field).validFor.start", source: source)
                let end = try Self.time(entry.validFor?.end, "\(field).validFor.end", source: source)
                list.append(
                    Service(
                        url: url, majorAPIVersion: version, start: start, end: end, operatorName: entry.operator ?? ""))
            }
            services[kind] = list
        }
        var selectors: [Kind: Selector] = [:]
        for (kind, field, config) in [
            (Kind.transparencyLog, "rekorTlogConfig", file.rekorTlogConfig),
            (Kind.timestampAuthority, "tsaConfig", file.tsaConfig),
        ] {
            selectors[kind] = try Self.selector(config, field: field, source: source)
        }
        self.init(source: source, services: services, selectors: selectors)
    }

    /// What `select` chose for one kind, and why, for `chains config check` and the `chains sign` summary.
    package struct Selection: Sendable {
        package var kind: Kind
        package var chosen: [Service]
        /// Services left out, each with the reason (`expired 2025-09-22T11:00:00Z`, `API v2, not spoken here`,
        /// `a newer one of operator sigstore.dev is chosen`).
        package var skipped: [(url: String, reason: String)]
        package var selector: Selector

        /// One line: `transparency log (ANY): https://rekor.example (API v1, sigstore.dev); skipped …`.
        package var summary: String {
            let chosenText = chosen.map { "\($0.url) (API v\($0.majorAPIVersion), \($0.operatorName))" }
                .joined(separator: ", ")
            let skippedText = skipped.map { "\($0.url): \($0.reason)" }.joined(separator: "; ")
            return "\(kind.noun) (\(selector)): \(chosenText)" + (skipped.isEmpty ? "" : "; skipped \(skippedText)")
        }
    }

    /// The services of `kind` to use at `date`, given the API versions this build speaks: those valid at `date` in
    /// a spoken version; of them, the highest version that has any; one per operator, the newest (latest start);
    /// then the selector — `ALL` every one, `ANY` the newest, `EXACT n` the n newest (an error when fewer). Fulcio
    /// and the OIDC issuer take one. sigstore-go picks `ANY` and `EXACT` at random; this is deterministic, so a
    /// controller's choice can be explained and repeated.
    package func select(
        _ kind: Kind, versions: Set<UInt32>, at date: Date
    ) throws(SigningConfigError) -> Selection {
        let selector: Selector =
            kind == .certificateAuthority || kind == .oidcProvider ? .any : (selectors[kind] ?? .all)
        var skipped: [(url: String, reason: String)] = []
        var candidates: [Service] = []
        for service in services[kind] ?? [] {
            if let start = service.start, date < start {
                skipped.append((service.url, "not valid until \(Self.format(start))"))
            } else if let end = service.end, date > end {
                skipped.append((service.url, "expired \(Self.format(end))"))
            } else if !versions.contains(service.majorAPIVersion) {
                let spoken = versions.sorted().map { "v\($0)" }.joined(separator: ", ")
                skipped.append((service.url, "API v\(service.majorAPIVersion), not spoken here (\(spoken))"))
            } else {
                candidates.append(service)
            }
        }
        guard let top = candidates.map(\.majorAPIVersion).max() else {
            let why =
                skipped.isEmpty ? "it lists none" : skipped.map { "\($0.url): \($0.reason)" }.joined(separator: "; ")
            throw SigningConfigError(
                source: source, field: kind.rawValue, reason: "no \(kind.noun) is usable: \(why)")
        }
        // Newest first; among equal starts, the order of the file.
        let ordered = candidates.enumerated().sorted { a, b in
            let (x, y) = (a.element.start ?? .distantPast, b.element.start ?? .distantPast)
            return x != y ? x > y : a.offset < b.offset
        }.map(\.element)
        var chosen: [Service] = []
        var operators = Set<String>()
        for service in ordered {
            if service.majorAPIVersion != top {
                skipped.append((service.url, "API v\(top) is preferred"))
            } else if !operators.insert(service.operatorName).inserted {
                skipped.append((service.url, "a newer one of operator \(service.operatorName) is chosen"))
            } else {
                chosen.append(service)
            }
        }
        switch selector {
        case .all: break
        case .any:
            for extra in chosen.dropFirst() { skipped.append((extra.url, "ANY takes one, the newest")) }
            chosen = Array(chosen.prefix(1))
        case .exact(let count):
            guard chosen.count >= Int(count) else {
                throw SigningConfigError(
                    source: source, field: kind == .transparencyLog ? "rekorTlogConfig" : "tsaConfig",
                    reason:
                        "EXACT \(count) asks for \(count) \(kind.noun)s of distinct operators; \(chosen.count) usable")
            }
            for extra in chosen.dropFirst(Int(count)) { skipped.append((extra.url, "EXACT \(count) takes the newest")) }
            chosen = Array(chosen.prefix(Int(count)))
        }
        return Selection(kind: kind, chosen: chosen, skipped: skipped, selector: selector)
    }

    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    static func time(_ text: String?, _ field: String, source: String) throws(SigningConfigError) -> Date? {
        guard let text else { return nil }
        guard let date = TrustedRoot.protobufTime(text) else {
            throw SigningConfigError(source: source, field: field, reason: "\"\(text)\" is not an RFC 3339 time")
        }
        return date
    }

    static func selector(
        _ config: File.Configuration?, field: String, source: String
    ) throws(SigningConfigError) -> Selector {
        guard let config, let selector = config.selector else { return .all }
        switch selector.name {
        case "SERVICE_SELECTOR_UNDEFINED", "ALL": return .all
        case "ANY": return .any
        case "EXACT":
            guard let count = config.count?.value, count > 0 else {
                throw SigningConfigError(
                    source: source, field: "\(field).count", reason: "EXACT needs a count greater than 0")
            }
            return .exact(count)
        default:
            throw SigningConfigError(
                source: source, field: "\(field).selector",
                reason: "\"\(selector.name)\" is not ALL, ANY or EXACT")
        }
    }

    /// The file's shape, as protobuf JSON writes it.
    struct File: Decodable {
        struct Entry: Decodable {
            var url: String?
            var majorApiVersion: Number?
            var validFor: Window?
            var `operator`: String?
        }
        struct Window: Decodable {
            var start: String?
            var end: String?
        }
        struct Configuration: Decodable {
            var selector: SelectorName?
            var count: Number?
        }
        /// A protobuf enum in JSON: its name, or its number.
        struct SelectorName: Decodable {
            var name: String
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let number = try? container.decode(Int.self) {
                    let names = [0: "SERVICE_SELECTOR_UNDEFINED", 1: "ALL", 2: "ANY", 3: "EXACT"]
                    name = names[number] ?? "\(number)"
                } else {
                    name = try container.decode(String.self)
                }
            }
        }
        /// A protobuf uint32 in JSON: a number, or a string of digits.
        struct Number: Decodable {
            var value: UInt32?
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let number = try? container.decode(UInt32.self) {
                    value = number
                } else {
                    value = UInt32(try container.decode(String.self))
                }
            }
        }
        var mediaType: String?
        var caUrls: [Entry]?
        var oidcUrls: [Entry]?
        var rekorTlogUrls: [Entry]?
        var tsaUrls: [Entry]?
        var rekorTlogConfig: Configuration?
        var tsaConfig: Configuration?

        func list(_ kind: Kind) -> [Entry]? {
            switch kind {
            case .certificateAuthority: return caUrls
            case .oidcProvider: return oidcUrls
            case .transparencyLog: return rekorTlogUrls
            case .timestampAuthority: return tsaUrls
            }
        }
    }
}

/// A signing config that cannot be read or asks for what cannot be served: the file, the field and why. Never
/// retryable: the file must change.
package struct SigningConfigError: Error, Sendable, CustomStringConvertible, RetryClassifiable {
    package var source: String
    package var field: String
    package var reason: String
    package var isRetryable: Bool { false }
    package var description: String {
        "signing config \(source)" + (field.isEmpty ? "" : ": \(field)") + ": \(reason)"
    }
}
