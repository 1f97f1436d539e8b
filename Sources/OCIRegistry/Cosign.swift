import Foundation
import HTTPTransport
import OCI
import RegistryAuth

/// Cosign's tag-based attachments: `sha256-<hex>.sig` (signatures) and `sha256-<hex>.att` (attestations).
package enum CosignAttachment: String, Sendable {
    case signature = "sig"
    case attestation = "att"

    package func tag(for subject: Digest) -> String { "\(subject.tagForm).\(rawValue)" }
}

/// Layer annotations cosign reads.
package enum CosignAnnotation {
    package static let signature = "dev.cosignproject.cosign/signature"
    package static let certificate = "dev.sigstore.cosign/certificate"
    package static let chain = "dev.sigstore.cosign/chain"
    package static let bundle = "dev.sigstore.cosign/bundle"
    package static let predicateType = "predicateType"
}

/// One signature or attestation layer.
package struct CosignLayer: Sendable {
    package var payload: Data
    package var mediaType: String
    package var annotations: [String: String]

    package init(payload: Data, mediaType: String, annotations: [String: String]) {
        self.payload = payload
        self.mediaType = mediaType
        self.annotations = annotations
    }

    /// A simplesigning signature layer, as Chains writes it (certificate and chain always present, maybe empty).
    /// `bundle` is the transparency-log entry as cosign's `dev.sigstore.cosign/bundle` JSON, when one was made.
    package static func signature(
        payload: Data, signature: Data, certificate: String, chain: String, bundle: String? = nil
    ) -> CosignLayer {
        var annotations = [
            CosignAnnotation.signature: signature.base64EncodedString(), CosignAnnotation.certificate: certificate,
            CosignAnnotation.chain: chain,
        ]
        annotations[CosignAnnotation.bundle] = bundle
        return CosignLayer(payload: payload, mediaType: MediaType.cosignSimpleSigning, annotations: annotations)
    }

    /// A DSSE attestation layer: the signature lives in the envelope, so the signature annotation is empty.
    package static func attestation(
        envelope: Data, predicateType: String, certificate: String, chain: String, bundle: String? = nil
    ) -> CosignLayer {
        var annotations = [
            CosignAnnotation.signature: "", CosignAnnotation.certificate: certificate, CosignAnnotation.chain: chain,
            CosignAnnotation.predicateType: predicateType,
        ]
        annotations[CosignAnnotation.bundle] = bundle
        return CosignLayer(payload: envelope, mediaType: MediaType.dsseEnvelope, annotations: annotations)
    }

    package var digest: Digest { Digest.sha256(of: payload) }
}

package struct AttachResult: Sendable {
    package var repository: String
    package var tag: String
    package var manifestDigest: Digest
    package var layerDigest: Digest
    /// The same layer was already there (Chains' dedupe by layer digest): nothing was written.
    package var alreadyPresent: Bool
    package var layerCount: Int
    /// The same layer was there without a log entry, and got ours (no new layer).
    package var addedLogEntry = false
}

/// The config blob of a cosign signature image (go-containerregistry's empty image config plus one history entry
/// and one diff id per layer).
enum CosignConfig {
    static func make(layers: [Descriptor]) -> Data {
        let history = layers.map { _ in #"{"created":"0001-01-01T00:00:00Z"}"# }.joined(separator: ",")
        let diffIDs = layers.map { "\"\($0.digest)\"" }.joined(separator: ",")
        return Data(
            (#"{"architecture":"","created":"0001-01-01T00:00:00Z","history":["# + history
                + #"],"os":"","rootfs":{"type":"layers","diff_ids":["# + diffIDs + #"]},"config":{}}"#).utf8)
    }
}

extension RegistrySession {
    /// Appends a layer to the subject's `.sig` or `.att` image (creating it when missing), unless a layer with the
    /// same digest is already there; then reads the manifest back and checks the layer is in it.
    /// Duplicates: by default a layer with the same digest is already present (Chains' rule). `sameSigner`, when
    /// given, must also accept that layer's annotations (its signature verifies with our key), else the layer is
    /// appended again with our signature — a rotated key's signature is not lost. `equivalent`, when given, makes an
    /// existing layer of the same media type whose content it accepts count as present too (an attestation
    /// re-signed on a retry has a new signature but the same statement).
    package func attach(
        _ layer: CosignLayer, as kind: CosignAttachment, to subject: Digest,
        sameSigner: (@Sendable ([String: String]) -> Bool)? = nil, equivalent: (@Sendable (Data) -> Bool)? = nil
    ) async throws -> AttachResult {
        let tag = kind.tag(for: subject)
        let layerDigest = layer.digest
        let existing = try await manifest(tag, accept: [MediaType.ociManifest, MediaType.dockerManifest])
        var previous: ImageManifest?
        if let existing {
            do {
                previous = try JSONDecoder().decode(ImageManifest.self, from: existing.bytes)
            } catch {
                throw RegistryError(
                    registry: registry, repository: repository, operation: "read \(tag)", status: 200,
                    message: "the existing \(tag) is not an image manifest; not overwriting it")
            }
            if let index = previous!.layers.firstIndex(where: {
                $0.digest == layerDigest.description && (sameSigner?($0.annotations ?? [:]) ?? true)
            }) {
                if let updated = Self.addingLogEntry(to: previous!.layers[index], from: layer) {
                    // The same signature, now logged (a retry after a Rekor outage): the layer gets its entry.
                    var layers = previous!.layers
                    layers[index] = updated
                    let digest = try await putLayers(
                        layers, docker: previous!.mediaType == MediaType.dockerManifest, tag: tag, layer: layerDigest)
                    return AttachResult(
                        repository: repository, tag: tag, manifestDigest: digest, layerDigest: layerDigest,
                        alreadyPresent: false, layerCount: layers.count, addedLogEntry: true)
                }
                return AttachResult(
                    repository: repository, tag: tag, manifestDigest: existing.digest, layerDigest: layerDigest,
                    alreadyPresent: true, layerCount: previous!.layers.count)
            }
            if let equivalent {
                for old in previous!.layers where old.mediaType == layer.mediaType {
                    let blob = try await send("GET", url("blobs/\(old.digest)"))
                    if blob.status == 200, Digest.sha256(of: blob.body).description == old.digest, equivalent(blob.body)
                    {
                        return AttachResult(
                            repository: repository, tag: tag, manifestDigest: existing.digest, layerDigest: layerDigest,
                            alreadyPresent: true, layerCount: previous!.layers.count)
                    }
                }
            }
            if previous!.layers.count >= 1000 {
                throw RegistryError(
                    registry: registry, repository: repository, operation: "append to \(tag)", status: 0,
                    message: "\(tag) already has \(previous!.layers.count) layers; refusing to grow it further")
            }
        }
        // A new image: its blobs are new too, so upload without asking first.
        if previous == nil {
            try await uploadBlob(layer.payload, digest: layerDigest.description)
        } else {
            try await ensureBlob(layer.payload, digest: layerDigest.description)
        }
        let newLayer = Descriptor(
            mediaType: layer.mediaType, digest: layerDigest.description, size: layer.payload.count,
            annotations: layer.annotations)
        let layers = (previous?.layers ?? []) + [newLayer]
        // (The same blob may now appear twice, with different signatures: as cosign does on key rotation.)
        let digest = try await putLayers(
            layers, docker: previous?.mediaType == MediaType.dockerManifest, tag: tag, layer: layerDigest)
        return AttachResult(
            repository: repository, tag: tag, manifestDigest: digest, layerDigest: layerDigest, alreadyPresent: false,
            layerCount: layers.count)
    }

    /// Writes the signature image with `layers` (its config made to match) at `tag`, and reads it back.
    func putLayers(_ layers: [Descriptor], docker: Bool, tag: String, layer: Digest) async throws -> Digest {
        let configBytes = CosignConfig.make(layers: layers)
        let config = Descriptor.of(configBytes, mediaType: docker ? MediaType.dockerConfig : MediaType.ociConfig)
        try await uploadBlob(configBytes, digest: config.digest)
        let manifest = ImageManifest(
            config: config, layers: layers, mediaType: docker ? MediaType.dockerManifest : MediaType.ociManifest)
        let digest = try await putManifest(manifest.encoded(), mediaType: manifest.mediaType!, reference: tag)
        try await verifyReadBack(tag: tag, manifestDigest: digest, layer: layer)
        return digest
    }

    /// The existing layer with our log entry added, when it holds the very same signature and has no entry yet.
    static func addingLogEntry(to existing: Descriptor, from layer: CosignLayer) -> Descriptor? {
        guard let bundle = layer.annotations[CosignAnnotation.bundle],
            existing.annotations?[CosignAnnotation.bundle] == nil,
            existing.annotations?[CosignAnnotation.signature] == layer.annotations[CosignAnnotation.signature]
        else { return nil }
        var updated = existing
        updated.annotations = (existing.annotations ?? [:]).merging([CosignAnnotation.bundle: bundle]) { $1 }
        return updated
    }

    /// Read-after-write: the tag must now name a manifest holding the layer. Registries have been seen to accept a
    /// push and serve the old content.
    func verifyReadBack(tag: String, manifestDigest: Digest, layer: Digest) async throws {
        guard let back = try await manifest(tag, accept: [MediaType.ociManifest, MediaType.dockerManifest]),
            let decoded = try? JSONDecoder().decode(ImageManifest.self, from: back.bytes),
            decoded.layers.count >= 1, decoded.layers.contains(where: { $0.digest == layer.description })
        else {
            var error = RegistryError(
                registry: registry, repository: repository, operation: "read back \(tag)", status: 200,
                message:
                    "the registry accepted the push but \(tag) read back does not contain layer \(layer); not marking signed"
            )
            error.lostWrite = true
            throw error
        }
    }

    /// The layers of the subject's `.sig` or `.att` image (empty when there is none).
    package func attachments(
        _ kind: CosignAttachment, of subject: Digest
    ) async throws -> [(descriptor: Descriptor, payload: Data)] {
        guard
            let fetched = try await manifest(
                kind.tag(for: subject), accept: [MediaType.ociManifest, MediaType.dockerManifest]),
            let manifest = try? JSONDecoder().decode(ImageManifest.self, from: fetched.bytes)
        else { return [] }
        var out: [(Descriptor, Data)] = []
        for layer in manifest.layers {
            let response = try await send("GET", url("blobs/\(layer.digest)"))
            guard response.status == 200 else { throw fail(response, "GET blob \(layer.digest)") }
            guard Digest.sha256(of: response.body).description == layer.digest else {
                throw RegistryError(
                    registry: registry, repository: repository, operation: "GET blob \(layer.digest)", status: 200,
                    message: "content does not match its digest")
            }
            out.append((layer, response.body))
        }
        return out
    }
}

/// One credential tried for an operation, and what happened.
package struct CredentialAttempt: Sendable, CustomStringConvertible {
    package var source: CredentialSource
    package var credential: String
    package var outcome: String
    package var description: String { "\(credential) from \(source): \(outcome)" }
}

/// Every credential was refused (or none could be tried). Lists each attempt; names no secret.
package struct NoUsableCredential: Error, Sendable, CustomStringConvertible {
    package var target: String
    package var operation: String
    package var attempts: [CredentialAttempt]
    package var description: String {
        "\(target): \(operation) refused for every credential found (\(attempts.count) tried):\n"
            + attempts.enumerated().map { "    \($0.offset + 1). \($0.element)" }.joined(separator: "\n")
            + "\n  give the run's ServiceAccount a secret with push access to this registry (see docs/authentication.md)"
    }
}

extension RegistryClient {
    /// Runs `operation` with each candidate credential in turn until one is not refused. A 401/403, `DENIED`,
    /// `UNAUTHORIZED` or `insufficient_scope` answer — or a token request refused — moves on to the next; any other
    /// error stops. The same credential found in two places is tried once.
    package func withCredentials<T: Sendable>(
        _ candidates: [SourcedCredential], repository: ImageReference, scopes: [String], operation name: String,
        _ operation: (RegistrySession) async throws -> T
    ) async throws -> (value: T, used: SourcedCredential, attempts: [CredentialAttempt]) {
        var attempts: [CredentialAttempt] = []
        var tried: [Credential] = []
        for candidate in candidates {
            if tried.contains(candidate.credential) {
                attempts.append(
                    .init(
                        source: candidate.source, credential: candidate.credential.description,
                        outcome: "same credential as above; skipped"))
                continue
            }
            tried.append(candidate.credential)
            let session = self.session(repository: repository, credential: candidate.credential, scopes: scopes)
            do {
                let value = try await operation(session)
                attempts.append(
                    .init(source: candidate.source, credential: candidate.credential.description, outcome: "ok"))
                return (value, candidate, attempts)
            } catch let error as RegistryError where error.isAuthorizationFailure {
                attempts.append(
                    .init(
                        source: candidate.source, credential: candidate.credential.description,
                        outcome: error.description))
            } catch let error as TokenError where error.isAuthorizationFailure {
                attempts.append(
                    .init(
                        source: candidate.source, credential: candidate.credential.description,
                        outcome: error.description))
            }
        }
        throw NoUsableCredential(target: repository.name, operation: name, attempts: attempts)
    }
}
