import ChainsConfig
import Foundation
import HTTPTransport
import Logging
import Sigstore

/// A sigstore signing config (`--signing-config`, `signers.x509.signing-config.file`): the services it chooses
/// become the Fulcio address, the Rekor URL and the timestamp authority the rest of the assembly uses.
extension SigningAssembly {
    /// What a signing config decided: chains-config with its Fulcio and Rekor, the timestamp authority's URL, and a
    /// note per choice for the summary.
    struct ServicePlan {
        var config: ChainsConfig
        /// The timestamp authorities chosen (several when `tsaConfig` selects `ALL` or `EXACT n`): each timestamps
        /// every signature.
        var timestampAuthorities: [URL] = []
        /// The chosen log's major API version: 1 (Rekor), 2 (Rekor v2, rekor-tiles).
        var transparencyVersion: UInt32 = 1
        /// The other logs chosen (`rekorTlogConfig` `ALL` or `EXACT n` of several), each written to as well.
        var moreLogs: [(url: String, version: UInt32)] = []
        var notes: [Diagnostic] = []
        /// The trusted root the same TUF update gave, when the signing config is a TUF target.
        var tufRoot: (root: TrustedRoot, source: String)?
        /// When a `validFor` window of a service in use opens or closes (the controller chooses again then).
        var nextChange: Date?
    }

    /// A signing config's bytes and where they came from: a file (`--signing-config`,
    /// `signers.x509.signing-config.file`) or a TUF target (`signers.x509.signing-config.tuf-target`).
    struct SigningConfigInput {
        var data: Data
        /// The file's path, or `TUF <mirror> target <name>`: what errors name.
        var source: String
        /// The file's or target's name, for the summary.
        var name: String
        /// The chains-config key that named it; nil for the flag.
        var key: String?
        var tufRoot: (root: TrustedRoot, source: String)?
    }

    /// API versions this build speaks, per kind: Rekor v1 and v2 (the highest listed wins, as the spec says).
    static let spokenVersions: [SigningConfig.Kind: Set<UInt32>] = [
        .certificateAuthority: [1], .transparencyLog: [1, 2], .timestampAuthority: [1], .oidcProvider: [1],
    ]

    /// Applies the signing config, if one is given: Fulcio when keyless is on, Rekor when `transparency.enabled`,
    /// and the timestamp authority it lists. A chains-config key that names a service the config also chooses
    /// must agree with it — two answers are an error naming both, never a silent pick; so is a selection this build
    /// cannot serve (several logs or authorities, an API version it does not speak).
    static func applySigningConfig(
        _ env: AssemblyEnvironment, config original: ChainsConfig
    ) async throws(ChainsError) -> ServicePlan {
        let input = try await signingConfigInput(
            flag: env.signingConfig, config: original, tufCache: env.tufCache,
            timeout: env.requestTimeout ?? .seconds(30), logger: env.logger)
        return try applySigningConfig(input, config: original, now: env.now())
    }

    /// What `chains config check` prints for a signing config: the services chosen now, or why none can be.
    package static func describeSigningConfig(
        flag: URL?, config: ChainsConfig, logger: Logger
    ) async throws(ChainsError) -> [Diagnostic] {
        let input = try await signingConfigInput(
            flag: flag, config: config, tufCache: nil, timeout: .seconds(30), logger: logger)
        return try applySigningConfig(input, config: config, now: Date()).notes
    }

    /// The signing config to apply: the flag's file, else `signers.x509.signing-config.file`, else the TUF target
    /// `signers.x509.signing-config.tuf-target` of `signers.x509.tuf.mirror.url` (one update with the trusted root,
    /// which is then used too unless a trusted-root file is given); none when nothing names one. The two keys
    /// together are an error naming both.
    static func signingConfigInput(
        flag: URL?, config: ChainsConfig, tufCache: URL?, timeout: Duration, logger: Logger
    ) async throws(ChainsError) -> SigningConfigInput? {
        let (fileKey, targetKey) = ("signers.x509.signing-config.file", "signers.x509.signing-config.tuf-target")
        let target = config.signingConfigTUFTarget
        if flag == nil, !config.signingConfigFile.isEmpty, !target.isEmpty {
            throw ChainsError(
                .badInput,
                "\(fileKey) (\(config.signingConfigFile)) and \(targetKey) (\(target)) both name a signing config; "
                    + "keep one",
                key: targetKey)
        }
        let configured = config.signingConfigFile.isEmpty ? nil : URL(fileURLWithPath: config.signingConfigFile)
        if let file = flag ?? configured {
            let key = flag == nil ? fileKey : nil
            guard let data = FileManager.default.contents(atPath: file.path) else {
                throw ChainsError(.badInput, "the signing config cannot be read", file: file.path, key: key)
            }
            return SigningConfigInput(data: data, source: file.path, name: file.lastPathComponent, key: key)
        }
        guard !target.isEmpty else { return nil }
        guard !target.contains("/"), !target.hasPrefix(".") else {
            throw ChainsError(.badInput, "\"\(target)\" is not a TUF target name", key: targetKey)
        }
        let fetched = try await LocalTrust.viaTUF(
            mirror: config.tufMirrorURL, rootFile: config.tufRootFile.isEmpty ? nil : config.tufRootFile,
            cache: tufCache, timeout: timeout, logger: logger, extra: [target])
        return SigningConfigInput(
            data: fetched.extra[0], source: "TUF \(config.tufMirrorURL) target \(target)", name: target,
            key: targetKey, tufRoot: (fetched.root, fetched.source))
    }

    static func applySigningConfig(
        _ input: SigningConfigInput?, config original: ChainsConfig, now: Date
    ) throws(ChainsError) -> ServicePlan {
        guard let input else { return ServicePlan(config: original) }
        let (fileKey, source) = (input.key, input.source)
        let signingConfig: SigningConfig
        do {
            signingConfig = try SigningConfig(json: input.data, source: source)
        } catch {
            throw ChainsError(.badInput, error.description, file: source, key: fileKey, underlying: error)
        }
        var plan = ServicePlan(config: original, tufRoot: input.tufRoot)
        func choose(_ kind: SigningConfig.Kind, several: Bool = false) throws(ChainsError) -> [SigningConfig.Service] {
            let selection: SigningConfig.Selection
            do {
                selection = try signingConfig.select(kind, versions: spokenVersions[kind] ?? [1], at: now)
            } catch {
                throw ChainsError(.unsupported, error.description, file: source, key: fileKey, underlying: error)
            }
            guard selection.chosen.count == 1 || several else {
                throw ChainsError(
                    .unsupported,
                    "the signing config's \(selection.selector) chooses \(selection.chosen.count) \(kind.noun)s; this "
                        + "build uses one (\(selection.chosen.map(\.url).joined(separator: ", ")))",
                    file: source, key: fileKey)
            }
            plan.notes.append(.note("signing config \(input.name): \(selection.summary)"))
            return selection.chosen
        }
        let trimmed = { (a: String) in a.hasSuffix("/") ? String(a.dropLast()) : a }
        func agree(_ chosen: String, with configKey: String, current: String) throws(ChainsError) {
            let explicit = original.effective.first { $0.key == configKey }.map { !$0.isDefault } ?? false
            guard !explicit || trimmed(current) == trimmed(chosen) else {
                throw ChainsError(
                    .badInput,
                    "\(configKey) is \(current) but the signing config \(source) chooses \(chosen); remove one "
                        + "of them or make them agree",
                    key: configKey)
            }
        }
        if original.fulcioEnabled {
            let fulcio = try choose(.certificateAuthority)[0]
            try agree(fulcio.url, with: "signers.x509.fulcio.address", current: original.fulcioAddress)
            plan.config.fulcioAddress = fulcio.url
        }
        if original.transparency.isEnabled {
            // Several logs: the one transparency.url names (if it names one of them) is the first, whose entry the
            // run's annotation names.
            var logs = try choose(.transparencyLog, several: true)
            if let named = logs.firstIndex(where: { trimmed($0.url) == trimmed(original.transparency.url) }) {
                logs.swapAt(0, named)
            }
            try agree(logs[0].url, with: "transparency.url", current: original.transparency.url)
            plan.config.transparency.url = logs[0].url
            plan.transparencyVersion = logs[0].majorAPIVersion
            plan.moreLogs = logs.dropFirst().map { ($0.url, $0.majorAPIVersion) }
        }
        if !(signingConfig.services[.timestampAuthority] ?? []).isEmpty {
            for tsa in try choose(.timestampAuthority, several: true) {
                guard let url = URL(string: tsa.url), url.scheme == "https" || url.scheme == "http" else {
                    throw ChainsError(.badInput, "timestamp authority \(tsa.url) is not an http(s) URL", file: source)
                }
                plan.timestampAuthorities.append(url)
            }
        }
        try checkRekorV2(&plan, source: source, fileKey: fileKey)
        var kinds: Set<SigningConfig.Kind> = [.timestampAuthority]
        if original.fulcioEnabled { kinds.insert(.certificateAuthority) }
        if original.transparency.isEnabled { kinds.insert(.transparencyLog) }
        plan.nextChange = signingConfig.nextChange(after: now, kinds: kinds)
        return plan
    }

    /// A chosen Rekor v2 log (only ever chosen with `transparency.enabled`): its entries carry no time, so without a
    /// timestamp no verifier accepts the bundle (sigstore-go, sigstore-python and ours refuse
    /// `rekor2-no-timestamp_fail`) and signing would make unverifiable bundles — an error; and its writes take
    /// seconds, which the summary says bounds the controller's throughput.
    static func checkRekorV2(_ plan: inout ServicePlan, source: String, fileKey: String?) throws(ChainsError) {
        guard plan.transparencyVersion == 2 || plan.moreLogs.contains(where: { $0.version == 2 }) else { return }
        guard !plan.timestampAuthorities.isEmpty else {
            throw ChainsError(
                .badInput,
                "the signing config chooses Rekor v2 log \(plan.config.transparency.url), whose entries carry no time, "
                    + "and lists no timestamp authority (tsaUrls): a bundle with a Rekor v2 entry verifies only with "
                    + "an RFC 3161 timestamp; add one, or choose a Rekor v1 log",
                file: source, key: fileKey)
        }
        plan.notes.append(
            .note(
                "Rekor v2 answers a write only once a checkpoint covers it (seconds): a worker waits that long per "
                    + "run, so the controller's throughput is about --threads-per-controller runs per write time; "
                    + "raise it (64 workers cost 64 tasks, not threads) — docs/performance.md"))
    }

    /// The timestamp authorities a signing config chose, with one HTTP client for them; their timestamps must verify
    /// against the trusted root's `timestampAuthorities`, so a root that lists none is an error.
    static func makeTimestamps(
        _ env: AssemblyEnvironment, urls: [URL], config: ChainsConfig, trustedRoot: TrustedRoot?,
        trustedRootSource: String?, logger: Logger
    ) throws -> (any TimestampAuthority, AsyncHTTPClientTransport)? {
        guard !urls.isEmpty else { return nil }
        guard let trustedRoot, !trustedRoot.timestampAuthorities.isEmpty else {
            throw ChainsError(
                .badInput,
                "the signing config names timestamp authority \(urls.map(\.absoluteString).joined(separator: ", ")), "
                    + "and " + (trustedRootSource.map { "the trusted root (\($0))" } ?? "no trusted root")
                    + " lists a timestamp authority to verify its timestamps against: give a trusted root that does "
                    + "(--trusted-root, signers.x509.trusted-root.file, or TUF)",
                key: "signers.x509.signing-config.file")
        }
        let http = try AsyncHTTPClientTransport(
            timeouts: HTTPTimeouts(request: env.requestTimeout ?? .seconds(config.requestTimeout)), logger: logger)
        return (timestampAuthority(urls, transport: RetryingTransport(http), trustedRoot: trustedRoot), http)
    }

    /// The authorities at `urls` over `transport`, their timestamps verified against the trusted root's: one, or a
    /// set that asks each (for the assembly and `chains sign-bundle` alike).
    static func timestampAuthority(
        _ urls: [URL], transport: any HTTPTransport, trustedRoot: TrustedRoot
    ) -> any TimestampAuthority {
        let authorities = urls.map { url in
            RFC3161TimestampAuthority(
                client: TimestampClient(
                    address: url, transport: transport, authorities: trustedRoot.timestampAuthorities),
                authorities: trustedRoot.timestampAuthorities)
        }
        return authorities.count == 1 ? authorities[0] : TimestampAuthorities(authorities)
    }
}
