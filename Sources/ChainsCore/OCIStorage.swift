import ChainsConfig
import Foundation
import HTTPTransport
import KubeModels
import OCI
import OCIRegistry
import RegistryAuth
import Signing

/// The run a stored item belongs to: where its push credentials are looked up.
public struct RunContext: Sendable {
    public var namespace: String
    public var serviceAccount: String
    public var podTemplatePullSecrets: [String]
    public var displayName: String

    public init(run: any TektonRun) {
        namespace = run.namespace
        serviceAccount = run.serviceAccountName
        podTemplatePullSecrets = (run.podTemplate?.imagePullSecrets ?? []).compactMap(\.name)
        displayName = run.displayName
    }
}

/// What the OCI backend did for one item, for the summary.
public struct OCIStoreRecord: Sendable {
    public var target: String
    public var credential: String
    public var outcome: String
}

/// The `oci` backend: image signatures to `<repo>:sha256-<hex>.sig`, attestations to `.att` (one per image subject),
/// in the image's repository or `storage.oci.repository`; credentials found for the run and tried in turn.
public final class OCIStorage: StorageBackend, @unchecked Sendable {
    public let name = "oci"
    let client: RegistryClient
    let resolver: RunCredentialResolver
    let context: RunContext
    let repositoryOverride: ImageReference?
    let encoding: String
    let lock = NSLock()
    private var _records: [OCIStoreRecord] = []
    private var _notes: [String] = []

    public var records: [OCIStoreRecord] { lock.withLock { _records } }
    public var notes: [String] { lock.withLock { _notes } }

    public init(
        client: RegistryClient, resolver: RunCredentialResolver, context: RunContext, config: ChainsConfig
    ) throws {
        self.client = client
        self.resolver = resolver
        self.context = context
        encoding = config.ociEncodingFormat
        if config.ociRepository.isEmpty {
            repositoryOverride = nil
        } else {
            do {
                repositoryOverride = try ImageReference(parsingRepository: config.ociRepository)
            } catch {
                throw StorageError(backend: "oci", item: "storage.oci.repository", reason: "\(error)")
            }
        }
    }

    func record(_ r: OCIStoreRecord) { lock.withLock { _records.append(r) } }
    func note(_ n: String) { lock.withLock { _notes.append(n) } }

    public func store(_ item: SignedItem) async throws {
        if encoding == "sigstore-bundle" {
            try await storeBundle(item)
            return
        }
        if item.format == "simplesigning" {
            let image = try Self.imageOfSimpleSigning(item.payload, key: item.fullKey)
            let layer = CosignLayer.signature(
                payload: item.payload, signature: item.signature, certificate: item.certificatePEM, chain: item.chainPEM
            )
            try await push(layer, as: .signature, image: image, sameSigner: Self.sameSigner(item))
            return
        }
        let statement = try JSONDecoder().decode(StatementHead.self, from: item.payload)
        guard let predicateType = statement.predicateType, !predicateType.isEmpty else {
            throw StorageError(backend: "oci", item: item.fullKey, reason: "the statement has no predicateType")
        }
        let subjects = statement.subject ?? []
        if subjects.isEmpty {
            note("\(context.displayName): the attestation names no subject; nothing pushed to a registry")
        }
        for subject in subjects {
            guard let hex = subject.digest?["sha256"],
                let image = try? ImageReference(parsingDigest: "\(subject.name ?? "")@sha256:\(hex)")
            else {
                note(
                    "\(context.displayName): subject \(subject.name ?? "<unnamed>") is not an OCI image (name@sha256); its attestation is kept in the other backends only"
                )
                continue
            }
            let layer = CosignLayer.attestation(
                envelope: item.signature, predicateType: predicateType, certificate: item.certificatePEM,
                chain: item.chainPEM)
            try await push(layer, as: .attestation, image: image, equivalent: Self.sameStatement(item))
        }
    }

    /// `storage.oci.encoding-format: sigstore-bundle`: sigstore bundle v0.3 referrers next to the image. An image
    /// signature is what cosign v3 writes — a DSSE envelope over an in-toto statement with predicate type
    /// `https://sigstore.dev/cosign/sign/v1` naming the image digest — not Chains' DSSE-wrapped simplesigning with a
    /// raw signature, which cosign and the sigstore clients reject (tektoncd/chains#1831).
    func storeBundle(_ item: SignedItem) async throws {
        if repositoryOverride != nil {
            note("storage.oci.repository is ignored with the sigstore-bundle encoding: referrers live beside the image")
        }
        guard let signer = item.signer else {
            throw StorageError(backend: "oci", item: item.fullKey, reason: "no signer for the sigstore-bundle encoding")
        }
        let certificateDER = PEMBlocks.firstDER(item.certificatePEM)
        if item.format == "simplesigning" {
            let image = try Self.imageOfSimpleSigning(item.payload, key: item.fullKey)
            let envelope = try DSSE.sign(
                payload: SigstoreBundleReferrer.signStatement(for: image.digest!), signer: signer)
            let bundle = try SigstoreBundleReferrer.bundle(
                envelope: envelope, publicKeyDER: signer.publicKey.derRepresentation, certificateDER: certificateDER)
            try await pushBundle(bundle, predicateType: SigstoreBundleReferrer.cosignSignPredicate, image: image)
            return
        }
        let statement = try JSONDecoder().decode(StatementHead.self, from: item.payload)
        guard let predicateType = statement.predicateType, !predicateType.isEmpty else {
            throw StorageError(backend: "oci", item: item.fullKey, reason: "the statement has no predicateType")
        }
        let bundle = try SigstoreBundleReferrer.bundle(
            envelope: item.signature, publicKeyDER: signer.publicKey.derRepresentation, certificateDER: certificateDER)
        for subject in statement.subject ?? [] {
            guard let hex = subject.digest?["sha256"],
                let image = try? ImageReference(parsingDigest: "\(subject.name ?? "")@sha256:\(hex)")
            else {
                note(
                    "\(context.displayName): subject \(subject.name ?? "<unnamed>") is not an OCI image (name@sha256); no bundle pushed for it"
                )
                continue
            }
            try await pushBundle(bundle, predicateType: predicateType, image: image)
        }
    }

    func pushBundle(_ bundle: Data, predicateType: String, image: ImageReference) async throws {
        let what = "sigstore bundle (\(predicateType)) for \(image.digest!)"
        try await withPushAccess(to: image.repositoryOnly, item: what, operation: "attach \(what)") { session, target in
            let result = try await session.attachBundle(bundle, predicateType: predicateType, to: image.digest!)
            return (
                "\(target.name)@\(result.manifestDigest) (referrer of \(image.digest!), index \(result.index))",
                result.alreadyPresent ? "already there; nothing written" : "pushed \(what); read back"
            )
        }
    }

    /// Finds the run's credentials for `target`, runs `body` with each in turn (see `withCredentials`), records
    /// what happened; errors name the target and every attempt.
    func withPushAccess(
        to target: ImageReference, item: String, operation: String,
        _ body: (RegistrySession, ImageReference) async throws -> (target: String, outcome: String)
    ) async throws {
        let resolution = await resolver.resolve(
            image: target, namespace: context.namespace, serviceAccount: context.serviceAccount,
            podTemplatePullSecrets: context.podTemplatePullSecrets)
        for w in resolution.warnings { note("credentials: \(w)") }
        do {
            let (result, used, _) = try await client.withCredentials(
                resolution.candidates, repository: target, scopes: [Scope.push(target.repository)], operation: operation
            ) { session in try await body(session, target) }
            record(
                OCIStoreRecord(
                    target: result.target, credential: "\(used.credential) from \(used.source)", outcome: result.outcome
                ))
        } catch let error as NoUsableCredential {
            throw StorageError(backend: "oci", item: item, reason: error.description)
        } catch {
            throw StorageError(backend: "oci", item: item, reason: "\(error)")
        }
    }

    struct StatementHead: Decodable {
        struct Subject: Decodable {
            var name: String?
            var digest: [String: String]?
        }
        var subject: [Subject]?
        var predicateType: String?
    }

    static func imageOfSimpleSigning(_ payload: Data, key: String) throws -> ImageReference {
        struct Simple: Decodable {
            struct Critical: Decodable {
                struct Identity: Decodable {
                    var dockerReference: String
                    enum CodingKeys: String, CodingKey { case dockerReference = "docker-reference" }
                }
                struct Image: Decodable {
                    var digest: String
                    enum CodingKeys: String, CodingKey { case digest = "docker-manifest-digest" }
                }
                var identity: Identity
                var image: Image
            }
            var critical: Critical
        }
        do {
            let s = try JSONDecoder().decode(Simple.self, from: payload)
            return try ImageReference(
                parsingDigest: "\(s.critical.identity.dockerReference)@\(s.critical.image.digest)")
        } catch {
            throw StorageError(
                backend: "oci", item: key, reason: "not a simplesigning payload naming an image: \(error)")
        }
    }

    /// An existing attestation layer is the same as ours when its envelope carries the same statement bytes and
    /// verifies with our key: a retry re-signs (ECDSA signatures differ each time) but must not add a layer.
    /// Chains appends one per retry.
    static func sameSigner(_ item: SignedItem) -> (@Sendable ([String: String]) -> Bool)? {
        guard let key = item.signer?.publicKey else { return nil }
        let payload = item.payload
        return { annotations in
            guard let b64 = annotations[CosignAnnotation.signature], let signature = Data(base64Encoded: b64) else {
                return false
            }
            return key.isValidSignature(signature, for: payload)
        }
    }

    static func sameStatement(_ item: SignedItem) -> (@Sendable (Data) -> Bool)? {
        guard let key = item.signer?.publicKey else { return nil }
        let statement = item.payload
        return { envelope in DSSE.verify(envelope: envelope, publicKey: key) == statement }
    }

    func push(
        _ layer: CosignLayer, as kind: CosignAttachment, image: ImageReference,
        sameSigner: (@Sendable ([String: String]) -> Bool)? = nil, equivalent: (@Sendable (Data) -> Bool)? = nil
    ) async throws {
        let target = repositoryOverride ?? image.repositoryOnly
        let digest = image.digest!
        let tag = kind.tag(for: digest)
        try await withPushAccess(to: target, item: "\(target.name):\(tag)", operation: "push \(tag)") {
            session, target in
            let result = try await session.attach(
                layer, as: kind, to: digest, sameSigner: sameSigner, equivalent: equivalent)
            return (
                "\(target.name):\(result.tag)",
                result.alreadyPresent
                    ? "already there (same layer digest); nothing written"
                    : "pushed; read back with \(result.layerCount) layer(s)"
            )
        }
    }
}

extension ObjectStore: ClusterObjects {
    public func secret(namespace: String, name: String) async throws -> Secret? {
        guard let entry = get(kind: "Secret", namespace: namespace, name: name) else { return nil }
        return try entry.json.decode(Secret.self, source: entry.source)
    }

    public func serviceAccount(namespace: String, name: String) async throws -> ServiceAccount? {
        guard let entry = get(kind: "ServiceAccount", namespace: namespace, name: name) else { return nil }
        return try entry.json.decode(ServiceAccount.self, source: entry.source)
    }
}

enum PEMBlocks {
    /// The DER of the first PEM block, or nil for "" (key signing has no certificate).
    static func firstDER(_ pem: String) -> Data? {
        guard !pem.isEmpty else { return nil }
        return PEM.blocks(in: pem).first?.der
    }
}
