import Foundation
import KubeModels

/// Tekton Chains' `chains-config`, parsed. Keys, defaults and allowed values are Chains' own
/// (`pkg/config/config.go` at e44b60fe), so an existing ConfigMap means the same thing here.
package struct ChainsConfig: Sendable, Equatable {
    package struct Artifact: Sendable, Equatable {
        package var format: PayloadFormat
        /// Storage backends, sorted (Chains stores in sorted order). Empty: storage disabled with `""`.
        package var storage: [StorageKind]
        package var signer: SignerKind

        package init(format: PayloadFormat, storage: [StorageKind], signer: SignerKind) {
            self.format = format
            self.storage = storage
            self.signer = signer
        }

        /// Chains' `Artifact.Enabled()`: a signer other than `none` and storage not disabled with `""`.
        package var isEnabled: Bool { signer != .none && !storage.isEmpty }
    }

    package struct Transparency: Sendable, Equatable {
        package enum Mode: String, Sendable { case off, on, manual }
        package var mode: Mode
        package var url: String
        package var isEnabled: Bool { mode != .off }
    }

    package var taskRun: Artifact
    package var pipelineRun: Artifact
    package var oci: Artifact
    package var deepInspection: Bool

    package var gcsBucket: String
    package var ociRepository: String
    package var ociRepositoryInsecure: Bool
    /// Ours: `storage.oci.allowed-registries`, `host[:port]` patterns signatures may be pushed to (empty: any).
    package var ociAllowedRegistries: [String]
    package var ociEncoding: OCIEncoding
    package var docdbURL: String
    package var grafeasProjectID: String
    package var grafeasNoteID: String
    package var grafeasNoteHint: String
    /// `storage.grafeas.endpoint` (ours): where the Grafeas / Container Analysis REST API is.
    package var grafeasEndpoint = "https://containeranalysis.googleapis.com"
    /// `storage.docdb.mongo-server-url`, `-dir` and `-path`: where a `mongo://` URL's server comes from (Chains'
    /// precedence: path, then dir, then the value, then the `MONGO_SERVER_URL` environment variable).
    package var mongoServerURL = ""
    package var mongoServerURLDir = ""
    package var mongoServerURLPath = ""
    package var archivistaURL: String

    package var kmsRef: String
    /// `signers.kms.auth.*` (Vault's): `address`, `token`, `token-path`, `oidc.path`, `oidc.role`, `oidc.token-path`.
    package var kmsAuth: [String: String]
    package var fulcioEnabled: Bool
    package var fulcioAddress: String
    package var fulcioIssuer: String
    package var fulcioProvider: String
    package var identityTokenFile: String
    package var tufMirrorURL: String
    /// Ours: a sigstore `trusted_root.json` (`signers.x509.trusted-root.file`).
    package var trustedRootFile: String
    /// Ours: the TUF `root.json` to pin for `signers.x509.tuf.mirror.url` (`signers.x509.tuf.root.file`).
    package var tufRootFile: String
    /// Ours: a sigstore signing config v0.2 naming Fulcio, Rekor and timestamp authorities
    /// (`signers.x509.signing-config.file`).
    package var signingConfigFile: String = ""
    /// Ours: the TUF target of `signers.x509.tuf.mirror.url` to read the signing config from
    /// (`signers.x509.signing-config.tuf-target`, e.g. `signing_config.v0.2.json`); empty: none.
    package var signingConfigTUFTarget: String = ""

    package var builderID: String
    package var buildType: String
    package var transparency: Transparency
    package var managedBy: [String]
    /// Ours: the longest one HTTP request may take (`chains-in-swift.timeout.request`), in seconds.
    package var requestTimeout: Double
    /// Ours: the budget for signing and storing one run (`chains-in-swift.timeout.run`), in seconds.
    package var runTimeout: Double

    /// Each artifact type with its settings, in Chains' order (`artifacts.taskrun`, `.pipelinerun`, `.oci`).
    package var artifacts: [(type: ArtifactType, setting: Artifact)] {
        [(.taskRun, taskRun), (.pipelineRun, pipelineRun), (.oci, oci)]
    }

    /// Every key with its effective value, defaults included — what `chains config check` prints.
    package var effective: [(key: String, value: String, isDefault: Bool)]

    package static func == (lhs: ChainsConfig, rhs: ChainsConfig) -> Bool {
        lhs.effective.map { "\($0.key)=\($0.value)" } == rhs.effective.map { "\($0.key)=\($0.value)" }
    }

    /// All defaults: what an empty `chains-config` means.
    package static let defaults: ChainsConfig = {
        switch parse([:]) {
        case .success(let parsed): return parsed.config
        case .failure(let errors): preconditionFailure("defaults do not parse: \(errors)")
        }
    }()
}

/// One invalid key. The message names the key, the value and what is allowed.
package struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    package var key: String
    package var value: String
    package var reason: String
    package var allowed: [String]

    package var description: String {
        var text = "\(key): invalid value \"\(value)\": \(reason)"
        if !allowed.isEmpty { text += "; allowed: " + allowed.map { "\"\($0)\"" }.joined(separator: ", ") }
        return text
    }
}

/// Every invalid key of one ConfigMap (Chains stops at the first; we report them all).
package struct ConfigErrors: Error, Sendable, Equatable, CustomStringConvertible {
    package var source: String
    package var errors: [ConfigError]
    package var description: String {
        "\(source): invalid chains-config:\n" + errors.map { "  - \($0)" }.joined(separator: "\n")
    }
}

package struct ParsedConfig: Sendable {
    package var config: ChainsConfig
    /// Keys that Chains does not know (kept out of the config, reported so typos are visible).
    package var unknownKeys: [String]
}

extension ChainsConfig {
    enum Kind {
        case free
        case oneOf([String])
        case setOf([String])
        case bool
        case transparency
        case duration
    }

    struct Key {
        var name: String
        var defaultValue: String
        var kind: Kind
    }

    static let formats = PayloadFormat.inTotoFormats.map(\.rawValue)
    static let taskRunStorage = StorageKind.allCases.map(\.rawValue)
    static let pipelineRunStorage = StorageKind.forPipelineRuns.map(\.rawValue)
    static let signers = SignerKind.allCases.map(\.rawValue)
    static let boolValues = ["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"]
    static let buildTypes = ["https://tekton.dev/chains/v2/slsa", "https://tekton.dev/chains/v2/slsa-tekton"]

    /// The key table, in the order `config check` prints it.
    static let keys: [Key] = [
        Key(name: "artifacts.taskrun.format", defaultValue: "in-toto", kind: .oneOf(formats)),
        Key(name: "artifacts.taskrun.storage", defaultValue: "tekton", kind: .setOf(taskRunStorage)),
        Key(name: "artifacts.taskrun.signer", defaultValue: "x509", kind: .oneOf(signers)),
        Key(name: "artifacts.pipelinerun.format", defaultValue: "in-toto", kind: .oneOf(formats)),
        Key(name: "artifacts.pipelinerun.storage", defaultValue: "tekton", kind: .setOf(pipelineRunStorage)),
        Key(name: "artifacts.pipelinerun.signer", defaultValue: "x509", kind: .oneOf(signers)),
        Key(name: "artifacts.pipelinerun.enable-deep-inspection", defaultValue: "false", kind: .bool),
        Key(
            name: "artifacts.oci.format", defaultValue: "simplesigning",
            kind: .oneOf([PayloadFormat.simpleSigning.rawValue])),
        Key(name: "artifacts.oci.storage", defaultValue: "oci", kind: .setOf(taskRunStorage)),
        Key(name: "artifacts.oci.signer", defaultValue: "x509", kind: .oneOf(signers)),
        Key(name: "storage.gcs.bucket", defaultValue: "", kind: .free),
        Key(name: "storage.oci.repository", defaultValue: "", kind: .free),
        Key(name: "storage.oci.repository.insecure", defaultValue: "false", kind: .bool),
        Key(name: "storage.oci.allowed-registries", defaultValue: "", kind: .free),
        Key(
            name: "storage.oci.encoding-format", defaultValue: "dsse",
            kind: .oneOf(OCIEncoding.allCases.map(\.rawValue))),
        Key(name: "storage.docdb.url", defaultValue: "", kind: .free),
        Key(name: "storage.docdb.mongo-server-url", defaultValue: "", kind: .free),
        Key(name: "storage.docdb.mongo-server-url-dir", defaultValue: "", kind: .free),
        Key(name: "storage.docdb.mongo-server-url-path", defaultValue: "", kind: .free),
        Key(name: "storage.grafeas.projectid", defaultValue: "", kind: .free),
        Key(name: "storage.grafeas.noteid", defaultValue: "", kind: .free),
        Key(
            name: "storage.grafeas.notehint", defaultValue: "This attestation note was generated by Tekton Chains",
            kind: .free),
        Key(name: "storage.grafeas.endpoint", defaultValue: "https://containeranalysis.googleapis.com", kind: .free),
        Key(name: "storage.archivista.url", defaultValue: "", kind: .free),
        Key(name: "storage.pubsub.provider", defaultValue: "", kind: .oneOf(["", "inmemory", "kafka"])),
        Key(name: "storage.pubsub.topic", defaultValue: "", kind: .free),
        Key(name: "storage.pubsub.kafka.bootstrap.servers", defaultValue: "", kind: .free),
        Key(name: "signers.kms.kmsref", defaultValue: "", kind: .free),
        Key(name: "signers.kms.auth.address", defaultValue: "", kind: .free),
        Key(name: "signers.kms.auth.token", defaultValue: "", kind: .free),
        Key(name: "signers.kms.auth.token-path", defaultValue: "", kind: .free),
        Key(name: "signers.kms.auth.oidc.path", defaultValue: "", kind: .free),
        Key(name: "signers.kms.auth.oidc.role", defaultValue: "", kind: .free),
        Key(name: "signers.kms.auth.oidc.token-path", defaultValue: "", kind: .free),
        Key(name: "signers.kms.auth.spire.sock", defaultValue: "", kind: .free),
        Key(name: "signers.kms.auth.spire.audience", defaultValue: "", kind: .free),
        Key(name: "signers.x509.fulcio.enabled", defaultValue: "false", kind: .bool),
        Key(name: "signers.x509.fulcio.address", defaultValue: "https://fulcio.sigstore.dev", kind: .free),
        Key(name: "signers.x509.fulcio.issuer", defaultValue: "https://oauth2.sigstore.dev/auth", kind: .free),
        Key(name: "signers.x509.fulcio.provider", defaultValue: "", kind: .free),
        Key(name: "signers.x509.identity.token.file", defaultValue: "", kind: .free),
        Key(name: "signers.x509.tuf.mirror.url", defaultValue: "https://tuf-repo-cdn.sigstore.dev", kind: .free),
        Key(name: "builder.id", defaultValue: "https://tekton.dev/chains/v2", kind: .free),
        Key(
            name: "builddefinition.buildtype", defaultValue: "https://tekton.dev/chains/v2/slsa",
            kind: .oneOf(buildTypes)),
        Key(name: "transparency.enabled", defaultValue: "false", kind: .transparency),
        Key(name: "transparency.url", defaultValue: "https://rekor.sigstore.dev", kind: .free),
        Key(name: "filter.managed-by", defaultValue: "", kind: .free),
        // Ours (Tekton Chains ignores keys it does not know, so a shared ConfigMap may carry them).
        Key(name: "signers.x509.trusted-root.file", defaultValue: "", kind: .free),
        Key(name: "signers.x509.tuf.root.file", defaultValue: "", kind: .free),
        Key(name: "signers.x509.signing-config.file", defaultValue: "", kind: .free),
        Key(name: "signers.x509.signing-config.tuf-target", defaultValue: "", kind: .free),
        Key(name: "chains-in-swift.timeout.request", defaultValue: "60s", kind: .duration),
        Key(name: "chains-in-swift.timeout.run", defaultValue: "3m", kind: .duration),
    ]

    /// Parses `chains-config` data. Pure: no I/O, the same input always gives the same result.
    ///
    /// Differences from Chains, on purpose: an invalid boolean and an unknown `transparency.enabled` value are
    /// errors (Chains silently keeps the default / turns transparency off), and every error is reported, not
    /// only the first.
    package static func parse(_ data: [String: String]) -> Result<ParsedConfig, ConfigErrors> {
        var errors: [ConfigError] = []
        var values: [String: String] = [:]
        var effective: [(key: String, value: String, isDefault: Bool)] = []
        for key in keys {
            guard let raw = data[key.name] else {
                values[key.name] = key.defaultValue
                effective.append((key.name, key.defaultValue, true))
                continue
            }
            switch check(raw, for: key) {
            case .success(let value): values[key.name] = value
            case .failure(let error): errors.append(error)
            }
            effective.append((key.name, values[key.name] ?? raw, false))
        }
        if !errors.isEmpty { return .failure(ConfigErrors(source: "chains-config", errors: errors)) }

        // Every value was checked against the enums' strings above.
        func artifact(_ prefix: String) -> Artifact {
            let storage = Set(
                values["\(prefix).storage"]!.split(separator: ",").compactMap { StorageKind(rawValue: String($0)) })
            return Artifact(
                format: PayloadFormat(rawValue: values["\(prefix).format"]!)!, storage: storage.sorted(),
                signer: SignerKind(rawValue: values["\(prefix).signer"]!)!)
        }
        let known = Set(keys.map(\.name))
        var config = ChainsConfig(
            taskRun: artifact("artifacts.taskrun"),
            pipelineRun: artifact("artifacts.pipelinerun"),
            oci: artifact("artifacts.oci"),
            deepInspection: values["artifacts.pipelinerun.enable-deep-inspection"] == "true",
            gcsBucket: values["storage.gcs.bucket"]!,
            ociRepository: values["storage.oci.repository"]!,
            ociRepositoryInsecure: values["storage.oci.repository.insecure"] == "true",
            ociAllowedRegistries: list(values["storage.oci.allowed-registries"]!),
            ociEncoding: OCIEncoding(rawValue: values["storage.oci.encoding-format"]!)!,
            docdbURL: values["storage.docdb.url"]!,
            grafeasProjectID: values["storage.grafeas.projectid"]!,
            grafeasNoteID: values["storage.grafeas.noteid"]!,
            grafeasNoteHint: values["storage.grafeas.notehint"]!,
            archivistaURL: values["storage.archivista.url"]!,
            kmsRef: values["signers.kms.kmsref"]!,
            kmsAuth: Dictionary(
                uniqueKeysWithValues: values.filter { $0.key.hasPrefix("signers.kms.auth.") }
                    .map { (String($0.key.dropFirst("signers.kms.auth.".count)), $0.value) }),
            fulcioEnabled: values["signers.x509.fulcio.enabled"] == "true",
            fulcioAddress: values["signers.x509.fulcio.address"]!,
            fulcioIssuer: values["signers.x509.fulcio.issuer"]!,
            fulcioProvider: values["signers.x509.fulcio.provider"]!,
            identityTokenFile: values["signers.x509.identity.token.file"]!,
            tufMirrorURL: values["signers.x509.tuf.mirror.url"]!,
            trustedRootFile: values["signers.x509.trusted-root.file"]!,
            tufRootFile: values["signers.x509.tuf.root.file"]!,
            builderID: values["builder.id"]!,
            buildType: values["builddefinition.buildtype"]!,
            transparency: Transparency(
                mode: values["transparency.enabled"] == "manual"
                    ? .manual : (values["transparency.enabled"] == "true" ? .on : .off),
                url: values["transparency.url"]!),
            managedBy: list(values["filter.managed-by"]!),
            requestTimeout: parseDuration(values["chains-in-swift.timeout.request"]!) ?? 60,
            runTimeout: parseDuration(values["chains-in-swift.timeout.run"]!) ?? 180,
            effective: effective)
        config.signingConfigFile = values["signers.x509.signing-config.file"]!
        config.signingConfigTUFTarget = values["signers.x509.signing-config.tuf-target"]!
        config.grafeasEndpoint = values["storage.grafeas.endpoint"]!
        config.mongoServerURL = values["storage.docdb.mongo-server-url"]!
        config.mongoServerURLDir = values["storage.docdb.mongo-server-url-dir"]!
        config.mongoServerURLPath = values["storage.docdb.mongo-server-url-path"]!
        return .success(ParsedConfig(config: config, unknownKeys: data.keys.filter { !known.contains($0) }.sorted()))
    }

    /// The effective value of one key, or why `raw` is not allowed.
    static func check(_ raw: String, for key: Key) -> Result<String, ConfigError> {
        func refuse(_ reason: String, _ allowed: [String]) -> Result<String, ConfigError> {
            .failure(ConfigError(key: key.name, value: raw, reason: reason, allowed: allowed))
        }
        switch key.kind {
        case .free:
            return .success(raw)
        case .oneOf(let allowed):
            return allowed.contains(raw) ? .success(raw) : refuse("not one of the allowed values", allowed)
        case .setOf(let allowed):
            let elements = raw.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            if elements == [""] { return .success("") }
            if let bad = elements.first(where: { !allowed.contains($0) }) {
                return refuse(
                    bad.isEmpty
                        ? "an empty element (a stray comma?); use \"\" alone to disable storage"
                        : "unknown storage backend \"\(bad)\"", allowed)
            }
            return .success(elements.joined(separator: ","))
        case .bool:
            if raw.isEmpty { return .success(key.defaultValue) }
            guard let b = parseBool(raw) else { return refuse("not a boolean", ["true", "false"]) }
            return .success(b ? "true" : "false")
        case .transparency:
            switch raw {
            case "true", "manual", "false", "": return .success(raw.isEmpty ? "false" : raw)
            default: return refuse("Tekton Chains would silently treat this as \"false\"", ["true", "manual", "false"])
            }
        case .duration:
            guard let seconds = parseDuration(raw), seconds > 0 else {
                return refuse("not a positive duration", ["90s", "3m", "1m30s", "500ms"])
            }
            return .success(raw)
        }
    }

    /// A Go-style duration (`1h2m3s`, `500ms`, `1.5s`) in seconds; nil when it is not one.
    package static func parseDuration(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.0.count)
            total += value * unit.1
        }
        return total
    }

    /// A comma-separated list, each item trimmed, empty ones dropped (`filter.managed-by`, allowed registries).
    package static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Go's `strconv.ParseBool`.
    static func parseBool(_ s: String) -> Bool? {
        switch s {
        case "1", "t", "T", "TRUE", "true", "True": return true
        case "0", "f", "F", "FALSE", "false", "False": return false
        default: return nil
        }
    }
}

// MARK: - Reading the ConfigMap from a file

extension ChainsConfig {
    /// Reads a `chains-config` ConfigMap manifest, or a flat `key: value` file, into its data map.
    package static func loadData(from url: URL) throws(ManifestError) -> [String: String] {
        let (documents, _) = try ManifestReader.read(file: url)
        guard documents.count == 1, case .object(let root) = documents[0] else {
            throw ManifestError(
                code: .shape, source: url.path,
                reason: documents.isEmpty
                    ? "the file is empty; expected the chains-config ConfigMap"
                    : "expected one document (the chains-config ConfigMap), found \(documents.count)")
        }
        let members: [String: JSONValue]
        let prefix: String
        if root["kind"] != nil || root["apiVersion"] != nil {
            guard root["kind"]?.stringValue == "ConfigMap" else {
                throw ManifestError(
                    code: .unsupportedKind, source: url.path, field: "kind",
                    reason: "expected ConfigMap, found \(root["kind"]?.serialized() ?? "nothing")")
            }
            guard let data = root["data"] else { return [:] }
            guard case .object(let d) = data else {
                throw ManifestError(
                    code: .shape, source: url.path, field: "data", reason: "expected an object of strings")
            }
            members = d
            prefix = "data."
        } else {
            members = root
            prefix = ""
        }
        return try strings(members, source: url.path, prefix: prefix)
    }

    /// A ConfigMap's `data` as chains-config's strings (a YAML `true` or number written unquoted is taken as its
    /// text, as Kubernetes would have refused it); anything else is an error naming `source` and the key.
    package static func strings(
        _ members: [String: JSONValue], source: String, prefix: String = "data."
    ) throws(ManifestError) -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in members {
            switch value {
            case .string(let s): out[key] = s
            case .bool(let b): out[key] = b ? "true" : "false"
            case .number(let n): out[key] = JSONValue.format(number: n)
            case .null: out[key] = ""
            default:
                throw ManifestError(
                    code: .shape, source: source, field: prefix + key,
                    reason: "expected a string, found \(value.serialized())")
            }
        }
        return out
    }
}
