import ChainsConfig
import Foundation
import HTTPTransport
import KubeModels
import Signing
import Sigstore
import SwiftASN1
import X509

/// `chains verify-run`: the `chains.tekton.dev/*` annotations of a signed run, checked — each stored signature
/// over its payload with the key or (keyless) the certificate stored beside it, the certificate judged at the time
/// the log recorded the run's provenance (`chains.tekton.dev/transparency`, fetched from that log), and the keys
/// naming this run's uid.
package enum RunVerifier {
    /// One stored signature, checked.
    package struct Check: Sendable {
        package enum Result: Sendable, Equatable { case verified, failed, skipped }
        package var key: String
        package var result: Result
        package var detail: String
        /// The RFC 3161 timestamps stored beside this signature that verified.
        package var timestamps = 0
    }

    package struct Report: Sendable {
        package var run: String
        package var checks: [Check]
        package var notes: [String]
        /// Every stored signature verified (skipped ones aside), and there was at least one.
        package var passed: Bool {
            !checks.isEmpty && !checks.contains { $0.result == .failed } && checks.contains { $0.result == .verified }
        }
    }

    /// `storage`: where the signatures are read (`tekton`: the run's annotations; `gcs`, `docdb`, `archivista`: read
    /// back from there with `config`'s settings and `environment`'s credentials). Each check names where it read.
    package static func verify(
        file: URL, authority: AttachmentVerifier.Authority, thresholds: VerificationThresholds? = nil,
        logRoot: TrustedRoot? = nil, transport: (any HTTPTransport)?, storage: [StorageKind] = [.tekton],
        config: ChainsConfig = ChainsConfig.defaults, environment: [String: String] = [:]
    ) async throws(ChainsError) -> Report {
        let runFile: RunFile
        do throws(ManifestError) {
            runFile = try RunFile.read(file)
        } catch {
            throw ChainsError(.badInput, error.description, file: error.source, underlying: error)
        }
        let meta = runFile.run.run
        let annotations = meta.metadata.annotations ?? [:]
        var report = Report(run: meta.displayName, checks: [], notes: [])
        if annotations[ChainsAnnotations.signed] != "true" {
            report.notes.append(
                "the run is not marked chains.tekton.dev/signed=true (it is \(annotations[ChainsAnnotations.signed] ?? "unmarked"))"
            )
        }
        let entry = await logEntry(annotations, transport: transport, notes: &report.notes)
        for kind in storage {
            var held = annotations
            if kind != .tekton {
                guard let transport else {
                    throw ChainsError(.badInput, "reading back from \(kind) needs an HTTP client", key: "--storage")
                }
                held = try await StoredReadBack.annotations(
                    from: kind, run: runFile.run, config: config, environment: environment, transport: transport,
                    notes: &report.notes)
            }
            let prefix = ChainsAnnotations.prefix + "signature-"
            let shortKeys = held.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
            if shortKeys.isEmpty, kind == .tekton {
                report.notes.append("the run carries no chains.tekton.dev/signature-* annotation")
            }
            for short in shortKeys.sorted() {
                if kind == .archivista, case .keyless = authority {
                    report.checks.append(
                        Check(
                            key: "\(kind): \(short)", result: .skipped,
                            detail: "Archivista keeps no certificate; check keyless signatures through another backend")
                    )
                    continue
                }
                var checked = await check(
                    short, annotations: held, uid: meta.uid, authority: authority, entry: entry, logRoot: logRoot)
                if checked.result == .verified,
                    let shortfall = shortfall(
                        thresholds, short: short, uid: meta.uid, entry: entry, stamped: checked.timestamps,
                        authority: authority, logRoot: logRoot)
                {
                    checked = Check(key: checked.key, result: shortfall.result, detail: shortfall.detail)
                }
                if storage != [.tekton] { checked.key = "\(kind): \(short)" }
                report.checks.append(checked)
            }
        }
        return report
    }

    /// What `--tlog-threshold` / `--timestamp-threshold` ask that a verified signature on the run does not have:
    /// `stamped` verified RFC 3161 timestamps (`chains-in-swift.dev/timestamps-<key>`), and one log entry
    /// (`chains.tekton.dev/transparency`, the run's own provenance's — `check` holds it to this signature). Keyless
    /// signatures need the entry or a timestamp anyway; with a key, `--tlog-threshold 1` asks for the entry, checked
    /// with `--trusted-root`. Others' entries are not on the run: skipped, as keyless does.
    static func shortfall(
        _ thresholds: VerificationThresholds?, short: String, uid: String, entry: RekorEntry?, stamped: Int,
        authority: AttachmentVerifier.Authority, logRoot: TrustedRoot?
    ) -> (result: Check.Result, detail: String)? {
        guard let thresholds else { return nil }
        if stamped < thresholds.signedTimestamps {
            return (
                .failed,
                "the run carries \(stamped) verified RFC 3161 timestamp(s) for this signature, and "
                    + "\(thresholds.signedTimestamps) required (--timestamp-threshold)"
            )
        }
        let neededEntries = thresholds.logEntries ?? 0
        guard neededEntries > 0 else { return nil }
        if neededEntries > 1 {
            return (.failed, "--tlog-threshold \(neededEntries) cannot be met: a run names one log entry")
        }
        let ownKey = short == "taskrun-\(uid)" || short == "pipelinerun-\(uid)"
        guard ownKey else {
            return (
                .skipped,
                "only the run's provenance has its log entry on the run; check this one with chains verify IMAGE"
            )
        }
        if entry == nil {
            return (.failed, "no transparency-log entry on the run, and --tlog-threshold asks for one")
        }
        if case .key = authority, logRoot == nil {
            return (.failed, "--tlog-threshold with --key: give --trusted-root, whose log keys check the run's entry")
        }
        return nil
    }

    /// The log entry `chains.tekton.dev/transparency` names, fetched (keyless needs it to judge the certificate).
    static func logEntry(
        _ annotations: [String: String], transport: (any HTTPTransport)?, notes: inout [String]
    ) async -> RekorEntry? {
        guard let text = annotations[ChainsAnnotations.transparency] else { return nil }
        guard let url = URLComponents(string: text),
            let index = url.queryItems?.first(where: { $0.name == "logIndex" })?.value.flatMap(Int64.init),
            let range = text.range(of: "/api/v1/log/entries"), let base = URL(string: String(text[..<range.lowerBound]))
        else {
            notes.append(
                text.contains("?logIndex=")
                    ? "chains.tekton.dev/transparency names a Rekor v2 entry, which a Rekor v2 log does not serve: "
                        + "the signatures are judged by the RFC 3161 timestamps beside them"
                    : "chains.tekton.dev/transparency is not a Rekor entry URL (…/api/v1/log/entries?logIndex=N)")
            return nil
        }
        guard let transport else { return nil }
        do {
            return try await RekorClient(address: base, transport: transport).entry(logIndex: index)
        } catch {
            notes.append("the log entry \(text) cannot be fetched: \(error)")
            return nil
        }
    }

    static func check(
        _ short: String, annotations: [String: String], uid: String, authority: AttachmentVerifier.Authority,
        entry: RekorEntry?, logRoot: TrustedRoot? = nil
    ) async -> Check {
        let keys = ChainsAnnotations.storageKeys(shortKey: short)
        func fail(_ why: String) -> Check { Check(key: keys.signature, result: .failed, detail: why) }
        let ownKey = short == "taskrun-\(uid)" || short == "pipelinerun-\(uid)"
        if (short.hasPrefix("taskrun-") || short.hasPrefix("pipelinerun-")) && !ownKey {
            return fail("names another run's uid: copied from another run, not this run's signature")
        }
        guard let signature = annotations[keys.signature].flatMap({ Data(base64Encoded: $0) }),
            let payload = annotations[keys.payload].flatMap({ Data(base64Encoded: $0) })
        else { return fail("the signature or payload annotation is missing or not base64") }
        let pem = annotations[keys.cert].flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
        let leaf = pem.flatMap { try? PEMDocument(pemString: $0) }.flatMap { try? Certificate(derEncoded: $0.derBytes) }
        let isEnvelope = (try? JSONDecoder().decode(DSSE.Envelope.self, from: signature)) != nil
        let signed = Signed(
            signature: signature, payload: payload, isEnvelope: isEnvelope,
            stamps: annotations[ChainsAnnotations.timestampsKey(shortKey: short)])
        let key: PublicKey
        var detail = ""
        var stamped = 0
        do throws(CertificateCheckError) {
            switch authority {
            case .key(let given):
                key = given
                var stamps: [VerifiedTimestamp] = []
                if let logRoot { stamps = try await signed.verifiedTimestamps(trustedRoot: logRoot) }
                detail = try keyEntryDetail(given, signed, entry: ownKey ? entry : nil, root: logRoot)
                stamped = stamps.count
                if logRoot == nil, signed.stampCount > 0 {
                    detail += "; \(signed.stampCount) RFC 3161 timestamp(s) not checked (give --trusted-root)"
                }
            case .keyless(let policy):
                guard let leaf else { return fail("no certificate stored: not a keyless signature") }
                let stamps = try await signed.verifiedTimestamps(trustedRoot: policy.trustedRoot)
                let ownEntry = ownKey ? entry : nil
                guard ownEntry != nil || !stamps.isEmpty else {
                    return Check(
                        key: keys.signature, result: .skipped,
                        detail: ownKey
                            ? "no transparency-log entry and no RFC 3161 timestamp on the run to judge the certificate by"
                            : "only the run's provenance has its log entry on the run, and this signature no "
                                + "timestamp; check it with chains verify IMAGE")
                }
                let signer = try await KeylessVerifier.verify(
                    leaf: leaf, chain: [], entry: ownEntry, policy: policy, timestamps: stamps)
                try BundleVerifier.checkTimestampsWithin(leaf, stamps)
                key = signer.publicKey
                detail = "; signed by \(signer.identity) (\(signer.issuer)), " + Self.when(ownEntry, stamps)
                stamped = stamps.count
                if let ownEntry { try Self.checkRecords(ownEntry, signed, verifierPEM: pem ?? "") }
            }
        } catch {
            return fail(error.description)
        }
        if isEnvelope {
            guard let opened = DSSE.verify(envelope: signature, publicKey: key) else {
                return fail("the DSSE envelope does not verify")
            }
            guard opened == payload else { return fail("the envelope's payload is not the stored payload") }
        } else if !key.isValidSignature(signature, for: payload) {
            return fail("the signature does not verify over the stored payload")
        }
        return Check(key: keys.signature, result: .verified, detail: "signature verified\(detail)", timestamps: stamped)
    }

    /// One stored signature, its payload, and the timestamps stored beside it.
    struct Signed {
        var signature: Data
        var payload: Data
        var isEnvelope: Bool
        /// `chains-in-swift.dev/timestamps-<key>`, as stored.
        var stamps: String?

        var stampCount: Int { stamps.map { $0.split(separator: ",").count } ?? 0 }

        /// The bytes a timestamp is over: the envelope's signature, or the raw signature.
        var timestampedBytes: Data? {
            SignedArtifact.bundleSignature(
                format: isEnvelope ? .inToto : .simpleSigning, signature: signature, bundleEnvelope: nil)
        }

        /// Every stored timestamp, verified against the trusted root's timestamp authorities (one that does not
        /// verify fails the check: it is not ignored).
        func verifiedTimestamps(trustedRoot: TrustedRoot) async throws(CertificateCheckError) -> [VerifiedTimestamp] {
            guard let stamps, !stamps.isEmpty else { return [] }
            let ders = stamps.split(separator: ",").map { Data(base64Encoded: String($0)) }
            guard let bytes = timestampedBytes, ders.allSatisfy({ $0 != nil }) else {
                throw CertificateCheckError("the run's RFC 3161 timestamps for this signature are not base64 DER")
            }
            return try await BundleVerifier.verifyTimestamps(
                ders.compactMap { $0 }, signature: bytes, trustedRoot: trustedRoot)
        }
    }

    /// With a key: the run's own log entry, when it names one, records this signature by this key (and, with a
    /// trusted root, is the root's log's).
    static func keyEntryDetail(
        _ key: PublicKey, _ signed: Signed, entry: RekorEntry?, root: TrustedRoot?
    ) throws(CertificateCheckError) -> String {
        guard let entry else { return "" }
        if let root { try RekorClient.verify(entry, logs: root.tlogs, requireInclusionProof: false) }
        do {
            try checkRecords(entry, signed, verifierPEM: key.pem)
        } catch {
            throw CertificateCheckError("the run's log entry does not record this signature and key: \(error)")
        }
        return "; logged at \(entry.integratedDate) as entry \(entry.logIndex)"
    }

    static func checkRecords(_ entry: RekorEntry, _ signed: Signed, verifierPEM: String) throws(CertificateCheckError) {
        let proposal: RekorProposal =
            signed.isEnvelope
            ? .dsse(envelope: signed.signature, verifierPEM: verifierPEM)
            : .hashedRekord(payload: signed.payload, signature: signed.signature, verifierPEM: verifierPEM)
        do {
            try RekorClient.check(entry, matches: proposal, log: entry.logURL)
        } catch {
            throw CertificateCheckError("\(error)")
        }
    }

    /// "logged at T as entry N", "timestamped at T (RFC 3161: …)", or both.
    static func when(_ entry: RekorEntry?, _ stamps: [VerifiedTimestamp]) -> String {
        let stamped = stamps.first.map {
            "timestamped at \($0.genTime) (RFC 3161: \(stamps.map(\.authority).joined(separator: ", ")))"
        }
        let logged = entry.map { "logged at \($0.integratedDate) as entry \($0.logIndex)" }
        return [logged, stamped].compactMap { $0 }.joined(separator: ", ")
    }
}

/// The local front door of `verify-run` and `verify-blob`: files in, typed reports out.
package enum LocalVerification {
    /// `verify-run`, with its own HTTP client (TLS verified) to fetch the run's log entry.
    package static func verifyRun(
        file: URL, authority: AttachmentVerifier.Authority, thresholds: VerificationThresholds? = nil,
        logRoot: TrustedRoot? = nil, storage: [StorageKind] = [.tekton], configFile: URL? = nil
    ) async throws(ChainsError) -> RunVerifier.Report {
        let config = try LoadedConfig.load(configFile).config
        let http: AsyncHTTPClientTransport
        do {
            http = try AsyncHTTPClientTransport(timeouts: HTTPTimeouts(request: .seconds(30)))
        } catch {
            throw ChainsError(.badInput, "\(error)")
        }
        do throws(ChainsError) {
            let report = try await RunVerifier.verify(
                file: file, authority: authority, thresholds: thresholds, logRoot: logRoot, transport: http,
                storage: storage, config: config, environment: ProcessInfo.processInfo.environment)
            try? await http.shutdown()
            return report
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    /// `verify-blob`: `artifact` is a file or `sha256:<hex>`.
    package static func verifyBlob(
        artifact: String, bundle: String, authority: BundleAuthority, trustedRoot: TrustedRoot,
        thresholds: VerificationThresholds = .init()
    ) async throws(ChainsError) -> VerifiedBundle {
        let input: BundleArtifact
        if artifact.hasPrefix("sha256:") {
            guard let digest = Data(hex: String(artifact.dropFirst(7))), digest.count == 32 else {
                throw ChainsError(.badInput, "\(artifact) is not sha256:<64 hex digits>")
            }
            input = .sha256(digest)
        } else {
            guard let data = FileManager.default.contents(atPath: artifact) else {
                throw ChainsError(.badInput, "cannot be read", file: artifact)
            }
            input = .bytes(data)
        }
        guard let data = FileManager.default.contents(atPath: bundle) else {
            throw ChainsError(.badInput, "cannot be read", file: bundle)
        }
        do {
            return try await BundleVerifier.verify(
                data, artifact: input, authority: authority, trustedRoot: trustedRoot, thresholds: thresholds)
        } catch {
            throw ChainsError(.badInput, "verification failed: \(error)", file: bundle, underlying: error)
        }
    }
}
