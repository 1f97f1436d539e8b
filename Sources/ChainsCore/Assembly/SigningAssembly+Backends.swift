import ChainsConfig
import CloudCredentials
import Foundation
import HTTPTransport
import Logging
import MongoWire

extension SigningAssembly {
    /// The storage kinds an enabled artifact type stores in.
    static func storageInUse(_ config: ChainsConfig) -> Set<StorageKind> {
        Set(config.artifacts.filter(\.setting.isEnabled).flatMap(\.setting.storage))
    }

    /// The backends besides `tekton` and `oci` that chains-config uses (`gcs`, `docdb`, `grafeas`, `archivista`), each with its
    /// HTTP client (TLS verified; the request deadline of `chains-in-swift.timeout.request`). Every problem is an error
    /// naming the key; none is skipped.
    static func makeOtherBackends(
        _ env: AssemblyEnvironment, config: ChainsConfig, logger: Logger
    ) async throws(AssemblyError) -> (backends: [any StorageBackend], transports: [AsyncHTTPClientTransport]) {
        let inUse = storageInUse(config)
        var backends: [any StorageBackend] = []
        var transports: [AsyncHTTPClientTransport] = []
        var errors: [ChainsError] = []
        let timeouts = HTTPTimeouts(request: env.requestTimeout ?? .seconds(config.requestTimeout))
        for kind in inUse.sorted() where ![StorageKind.tekton, .oci, .kafka].contains(kind) {
            do {
                let http = try AsyncHTTPClientTransport(timeouts: timeouts, logger: logger)
                transports.append(http)
                if let backend = try makeBackend(kind, env.processEnvironment, config: config, transport: http) {
                    backends.append(backend)
                }
            } catch {
                errors.append(ChainsError.classify(error, stage: .storage))
            }
        }
        guard errors.isEmpty else {
            for t in transports { try? await t.shutdown() }
            throw AssemblyError(errors: errors, diagnostics: [])
        }
        return (backends, transports)
    }

    /// One of the backends `makeOtherBackends` builds (and `verify-run` reads back from), from chains-config's keys and
    /// the environment's credentials; nil for those built elsewhere (`tekton`, `oci`) or not at all (`kafka`).
    package static func makeBackend(
        _ kind: StorageKind, _ environment: [String: String], config: ChainsConfig, transport: any HTTPTransport
    ) throws(ChainsError) -> (any StorageBackend)? {
        switch kind {
        case .gcs: return try makeGCS(environment, config: config, transport: transport)
        case .docdb: return try makeDocDB(environment, config: config, transport: transport)
        case .grafeas: return try makeGrafeas(environment, config: config, transport: transport)
        case .archivista: return ArchivistaStorage(base: try archivistaURL(config), transport: transport)
        case .tekton, .oci, .kafka: return nil
        }
    }

    package static func makeGCS(
        _ environment: [String: String], config: ChainsConfig, transport: any HTTPTransport
    ) throws(ChainsError) -> GCSStorage {
        guard !config.gcsBucket.isEmpty else {
            throw ChainsError(
                .badInput, "is empty, and an artifact type stores in \"gcs\"; name the bucket",
                key: "storage.gcs.bucket")
        }
        let endpoint = try GCSStorage.endpoint(environment: environment)
        let retrying = RetryingTransport(transport)
        var tokens: (any GoogleTokenSource)?
        if !endpoint.emulator {
            do {
                tokens = try GoogleCredentials.applicationDefault(
                    environment: environment, transport: retrying,
                    metadata: GCRKeychain(environment: environment, transport: retrying))
            } catch {
                throw ChainsError(.badInput, error.description, key: "storage.gcs.bucket")
            }
        }
        return GCSStorage(bucket: config.gcsBucket, endpoint: endpoint, tokens: tokens, transport: retrying)
    }

    package static func makeDocDB(
        _ environment: [String: String], config: ChainsConfig, transport: any HTTPTransport
    ) throws(ChainsError) -> any StorageBackend {
        let key = "storage.docdb.url"
        guard !config.docdbURL.isEmpty else {
            throw ChainsError(
                .badInput,
                "is empty, and an artifact type stores in \"docdb\"; give dynamodb://TABLE?partition_key=Name or mongo://DB/COLLECTION?id_field=name",
                key: key)
        }
        switch try DocDBURL.parse(config.docdbURL) {
        case .mongo(let database, let collection, let idField, let revisionField):
            let server = MongoServerURL(config: config, environment: environment)
            // Checked now, so that a missing or malformed URL stops `chains sign` before signing (and is read again at
            // every store, so a rotated Secret takes effect).
            let text = try server.resolve()
            do {
                _ = try MongoConnectionString.parse(text)
            } catch {
                throw ChainsError(.badInput, "the MongoDB URL \(error.description)", key: server.sourceKey)
            }
            return MongoStorage(
                database: database, collection: collection, idField: idField, revisionField: revisionField,
                server: server, timeout: .seconds(config.requestTimeout))
        case .dynamodb(let table, let region, let endpoint):
            let retrying = RetryingTransport(transport)
            guard let chain = AWSCredentialChain(environment: environment, transport: retrying) else {
                throw ChainsError(
                    .badInput,
                    "dynamodb:// needs AWS credentials, and the environment has none: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use IRSA (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE) or EKS Pod Identity",
                    key: key)
            }
            guard let region = region ?? chain.configuredRegion else {
                throw ChainsError(.badInput, "dynamodb:// has no region: add &region=R, or set AWS_REGION", key: key)
            }
            let standard = "https://dynamodb.\(region).amazonaws.com\(region.hasPrefix("cn-") ? ".cn" : "")"
            guard let url = endpoint ?? chain.endpoint(service: "DynamoDB", standard: standard) else {
                throw ChainsError(.badInput, "AWS_ENDPOINT_URL_DYNAMODB is not a URL", key: key)
            }
            return DynamoDBStorage(table: table, region: region, endpoint: url, chain: chain, transport: retrying)
        }
    }

    /// `storage.archivista.url`, and no simplesigning artifact type routed there (Archivista keeps DSSE envelopes;
    /// Tekton Chains fails such a store at every run).
    package static func archivistaURL(_ config: ChainsConfig) throws(ChainsError) -> URL {
        for artifact in config.artifacts
        where artifact.setting.isEnabled && artifact.setting.storage.contains(.archivista)
            && !artifact.setting.format.isInToto
        {
            throw ChainsError(
                .badInput,
                "stores \(artifact.type) payloads (\(artifact.setting.format)) in archivista, which keeps only DSSE envelopes (in-toto formats); remove archivista there",
                key: "\(artifact.type.configPrefix).storage")
        }
        let text = config.archivistaURL
        guard !text.isEmpty else {
            throw ChainsError(
                .badInput, "is empty, and an artifact type stores in \"archivista\"; give Archivista's base URL",
                key: "storage.archivista.url")
        }
        guard let url = URL(string: text), url.scheme == "https" || url.scheme == "http", url.host != nil else {
            throw ChainsError(.badInput, "\(text) is not an http(s) URL", key: "storage.archivista.url")
        }
        return url
    }

    /// `storage.grafeas.projectid` (required), `storage.grafeas.endpoint` (https, or plain http to loopback only: a
    /// token is sent), the token from Application Default Credentials.
    package static func makeGrafeas(
        _ environment: [String: String], config: ChainsConfig, transport: any HTTPTransport
    ) throws(ChainsError) -> GrafeasStorage {
        guard !config.grafeasProjectID.isEmpty else {
            throw ChainsError(
                .badInput, "is empty, and an artifact type stores in \"grafeas\"; name the project",
                key: "storage.grafeas.projectid")
        }
        let text = config.grafeasEndpoint
        guard let url = URL(string: text), let host = url.host,
            url.scheme == "https" || (url.scheme == "http" && ["127.0.0.1", "localhost", "::1"].contains(host))
        else {
            throw ChainsError(
                .badInput, "\(text) is not an https URL (plain http only to loopback: a token is sent)",
                key: "storage.grafeas.endpoint")
        }
        let base = text.hasSuffix("/") ? String(text.dropLast()) : text
        let retrying = RetryingTransport(transport)
        let tokens: any GoogleTokenSource
        do {
            tokens = try GoogleCredentials.applicationDefault(
                environment: environment, transport: retrying,
                metadata: GCRKeychain(environment: environment, transport: retrying))
        } catch {
            throw ChainsError(.badInput, error.description, key: "storage.grafeas.projectid")
        }
        return GrafeasStorage(
            base: URL(string: base)!, project: config.grafeasProjectID, noteID: config.grafeasNoteID,
            noteHint: config.grafeasNoteHint, keyID: config.kmsRef, tokens: tokens, transport: transport)
    }
}
