import ChainsConfig
import Foundation
import HTTPTransport
import KubeModels
import OCI
import OCIRegistry
import RegistryAuth
import Signing

/// The `oci` backend: image signatures to `<repo>:sha256-<hex>.sig`, attestations to `.att` (one per image subject),
/// in the image's repository or `storage.oci.repository`; credentials found for the run and tried in turn.
package struct OCIStorage: StorageBackend {
    package let kind = StorageKind.oci
    let client: RegistryClient
    let search: CredentialSearch
    let cluster: any ClusterView
    let repositoryOverride: ImageReference?
    let encoding: OCIEncoding
    let destinations: RegistryDestinations

    package var storesBundles: Bool { encoding == .sigstoreBundle }

    /// cosign v3's image-signature statement, which its bundles carry for an image (see `storeBundle`).
    package func imageStatement(for image: Digest) -> Data? {
        storesBundles ? SigstoreBundleReferrer.signStatement(for: image) : nil
    }

    /// One per process: `client` holds the token cache; credentials are looked up per run through `cluster`.
    package init(
        client: RegistryClient, cluster: any ClusterView, dockerConfig: LocalDockerConfig?, config: ChainsConfig,
        destinations: RegistryDestinations = .init(), cloud: [any CloudKeychain] = []
    ) throws(ChainsError) {
        self.destinations = destinations
        self.client = client
        self.search = CredentialSearch(dockerConfig: dockerConfig, cloud: cloud)
        self.cluster = cluster
        encoding = config.ociEncoding
        if config.ociRepository.isEmpty {
            repositoryOverride = nil
        } else {
            do {
                repositoryOverride = try ImageReference(parsingRepository: config.ociRepository)
            } catch {
                throw ChainsError(.badInput, "\(error)", key: "storage.oci.repository")
            }
        }
    }

    package func store(_ item: SignedArtifact, for run: RunContext) async throws -> StorageReceipt {
        var receipt = StorageReceipt(backend: kind)
        do {
            if encoding == .sigstoreBundle {
                try await storeBundle(item, run: run, into: &receipt)
            } else {
                try await storeAttachments(item, run: run, into: &receipt)
            }
        } catch var error as StorageError {
            // What was learnt on the way (a missing ServiceAccount, say) explains the failure: keep it.
            error.diagnostics += receipt.diagnostics
            throw error
        }
        return receipt
    }

    /// `.sig` for an image signature, `.att` per image subject of an attestation.
    func storeAttachments(_ item: SignedArtifact, run: RunContext, into receipt: inout StorageReceipt) async throws {
        if item.format == .simpleSigning {
            let image = try Self.imageOfSimpleSigning(item.payload, key: item.fullKey)
            let layer = CosignLayer.signature(
                payload: item.payload, signature: item.signature,
                certificate: CertificatePEM.leaf(item.certificateChain),
                chain: CertificatePEM.rest(item.certificateChain),
                bundle: item.transparency?.entry.cosignBundleAnnotation
            )
            try await push(
                layer, as: .signature, image: image, run: run, into: &receipt, sameSigner: Self.sameSigner(item))
            return
        }
        let statement = try Self.statementHead(item)
        let subjects = statement.subject ?? []
        if subjects.isEmpty {
            receipt.diagnostics.append(
                .note("\(run.displayName): the attestation names no subject; nothing pushed to a registry"))
        }
        for subject in subjects {
            guard let image = subject.image else {
                receipt.diagnostics.append(
                    .note(
                        "\(run.displayName): subject \(subject.name ?? "<unnamed>") is not an OCI image (name@sha256); its attestation is kept in the other backends only"
                    ))
                continue
            }
            let layer = CosignLayer.attestation(
                envelope: item.signature, predicateType: statement.predicateType ?? "",
                certificate: CertificatePEM.leaf(item.certificateChain),
                chain: CertificatePEM.rest(item.certificateChain),
                bundle: item.transparency?.entry.cosignBundleAnnotation)
            try await push(
                layer, as: .attestation, image: image, run: run, into: &receipt, equivalent: Self.sameStatement(item))
        }
    }

    /// `storage.oci.encoding-format: sigstore-bundle`: sigstore bundle v0.3 referrers next to the image. An image
    /// signature is what cosign v3 writes — a DSSE envelope over an in-toto statement with predicate type
    /// `https://sigstore.dev/cosign/sign/v1` naming the image digest — not Chains' DSSE-wrapped simplesigning with a
    /// raw signature, which cosign and the sigstore clients reject (tektoncd/chains#1831). The service signed that
    /// statement (`bundleEnvelope`); storage only packs and pushes.
    func storeBundle(_ item: SignedArtifact, run: RunContext, into receipt: inout StorageReceipt) async throws {
        if repositoryOverride != nil {
            receipt.diagnostics.append(
                .note(
                    "storage.oci.repository is ignored with the sigstore-bundle encoding: referrers live beside the image"
                ))
        }
        if item.logPending {
            receipt.diagnostics.append(
                .note(
                    "\(item.fullKey): the sigstore bundle is not pushed until its transparency-log entry is made (the retry pushes it)"
                ))
            return
        }
        guard item.bundleEnvelope != nil else {
            throw StorageError(
                backend: .oci, item: item.fullKey, reason: "no envelope was signed for a sigstore bundle")
        }
        let bundle: Data
        do {
            bundle = try item.sigstoreBundle().serialized()
        } catch {
            throw StorageError(backend: .oci, item: item.fullKey, reason: error.description, underlying: error)
        }
        if item.format == .simpleSigning {
            let image = try Self.imageOfSimpleSigning(item.payload, key: item.fullKey)
            try await pushBundle(
                bundle, predicateType: SigstoreBundleReferrer.cosignSignPredicate, image: image, run: run,
                into: &receipt)
            return
        }
        let statement = try Self.statementHead(item)
        for subject in statement.subject ?? [] {
            guard let image = subject.image else {
                receipt.diagnostics.append(
                    .note(
                        "\(run.displayName): subject \(subject.name ?? "<unnamed>") is not an OCI image (name@sha256); no bundle pushed for it"
                    ))
                continue
            }
            try await pushBundle(
                bundle, predicateType: statement.predicateType ?? "", image: image, run: run, into: &receipt)
        }
    }

    func pushBundle(
        _ bundle: Data, predicateType: String, image: ImageReference, run: RunContext,
        into receipt: inout StorageReceipt
    ) async throws {
        let what = "sigstore bundle (\(predicateType)) for \(image.digest!)"
        try await withPushAccess(
            to: image.repositoryOnly, item: what, operation: "attach \(what)", run: run, into: &receipt
        ) { session, target in
            let result = try await session.attachBundle(bundle, predicateType: predicateType, to: image.digest!)
            return (
                "\(target.name)@\(result.manifestDigest) (referrer of \(image.digest!), index \(result.index))",
                result.alreadyPresent ? "already there; nothing written" : "pushed \(what); read back",
                result.alreadyPresent
            )
        }
    }

    /// Finds the run's credentials for `target`, runs `body` with each in turn (see `withCredentials`), records
    /// what happened; errors name the target and every attempt, and keep the registry's error underneath.
    func withPushAccess(
        to target: ImageReference, item: String, operation: String, run: RunContext,
        into receipt: inout StorageReceipt,
        _ body: (RegistrySession, ImageReference) async throws -> (target: String, outcome: String, present: Bool)
    ) async throws {
        if let why = destinations.refusal(for: target.registry) {
            // Checked before credentials are looked up or anything is sent: the registry gets no request.
            throw StorageError(
                backend: .oci, item: item,
                reason:
                    "\(why); nothing was sent (the image reference comes from the run's results: check the Task, or "
                    + "list the registries you push to in --allowed-registries / storage.oci.allowed-registries)",
                underlying: ChainsError(.storageRefused, why, registry: target.registry))
        }
        let resolution = await search.keychain(for: run.credentialScope, objects: run.clusterReads ?? cluster)
            .resolve(target)
        for w in resolution.warnings {
            receipt.diagnostics.append(
                Diagnostic(w.isMisconfiguration ? .warning : .note, "credentials: \(w)", topic: .credentials))
        }
        do {
            let (result, used, _) = try await client.withCredentials(
                resolution.candidates, repository: target, scopes: [Scope.push(target.repository)], operation: operation
            ) { session in try await body(session, target) }
            receipt.locations.append(
                .init(
                    target: result.target, credential: "\(used.credential) from \(used.source)", detail: result.outcome,
                    alreadyPresent: result.present))
        } catch let error as NoUsableCredential {
            // Refused, but a Secret or ServiceAccount could not be read for a reason that may pass (the API down):
            // retry later instead of spending the run's retries on missing credentials.
            if let transient = resolution.readErrors.first(where: {
                ChainsError.classify($0, stage: .cluster).isRetryable
            }) {
                throw StorageError(
                    backend: .oci, item: item,
                    reason: "\(error.description)\n  and the run's credentials could not all be read: \(transient)",
                    underlying: ChainsError(.cluster, "\(transient)", isRetryable: true))
            }
            throw StorageError(backend: .oci, item: item, reason: error.description, underlying: error)
        } catch let error as RegistryError {
            throw StorageError(backend: .oci, item: item, reason: error.description, underlying: error)
        } catch let error as TransportError {
            throw StorageError(
                backend: .oci, item: item, reason: "\(operation): \(error.description)", underlying: error)
        } catch let error as TokenError {
            throw StorageError(backend: .oci, item: item, reason: error.description, underlying: error)
        } catch {
            throw StorageError(backend: .oci, item: item, reason: "\(error)")
        }
    }

    struct StatementHead: Decodable {
        struct Subject: Decodable {
            var name: String?
            var digest: [String: String]?
            var image: ImageReference? {
                guard let hex = digest?["sha256"] else { return nil }
                return try? ImageReference(parsingDigest: "\(name ?? "")@sha256:\(hex)")
            }
        }
        var subject: [Subject]?
        var predicateType: String?
    }

    static func statementHead(_ item: SignedArtifact) throws -> StatementHead {
        guard let statement = try? JSONDecoder().decode(StatementHead.self, from: item.payload),
            let predicateType = statement.predicateType, !predicateType.isEmpty
        else {
            throw StorageError(backend: .oci, item: item.fullKey, reason: "the statement has no predicateType")
        }
        return statement
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
                backend: .oci, item: key, reason: "not a simplesigning payload naming an image: \(error)")
        }
    }

    /// An existing attestation layer is the same as ours when its envelope carries the same statement bytes and
    /// verifies with our key: a retry re-signs (ECDSA signatures differ each time) but must not add a layer.
    /// Chains appends one per retry.
    static func sameSigner(_ item: SignedArtifact) -> (@Sendable ([String: String]) -> Bool)? {
        let key = item.publicKey
        let payload = item.payload
        return { annotations in
            guard let b64 = annotations[CosignAnnotation.signature], let signature = Data(base64Encoded: b64) else {
                return false
            }
            return key.isValidSignature(signature, for: payload)
        }
    }

    static func sameStatement(_ item: SignedArtifact) -> (@Sendable (Data) -> Bool)? {
        let key = item.publicKey
        let statement = item.payload
        return { envelope in DSSE.verify(envelope: envelope, publicKey: key) == statement }
    }

    func push(
        _ layer: CosignLayer, as kind: CosignAttachment, image: ImageReference, run: RunContext,
        into receipt: inout StorageReceipt, sameSigner: (@Sendable ([String: String]) -> Bool)? = nil,
        equivalent: (@Sendable (Data) -> Bool)? = nil
    ) async throws {
        let target = repositoryOverride ?? image.repositoryOnly
        let digest = image.digest!
        let tag = kind.tag(for: digest)
        try await withPushAccess(
            to: target, item: "\(target.name):\(tag)", operation: "push \(tag)", run: run, into: &receipt
        ) { session, target in
            let result = try await session.attach(
                layer, as: kind, to: digest, sameSigner: sameSigner, equivalent: equivalent)
            return (
                "\(target.name):\(result.tag)",
                result.alreadyPresent
                    ? "already there (same layer digest); nothing written"
                    : result.addedLogEntry
                        ? "already there; added its transparency-log entry to the layer; read back"
                        : "pushed; read back with \(result.layerCount) layer(s)",
                result.alreadyPresent
            )
        }
    }
}
