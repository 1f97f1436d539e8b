import Foundation
import HTTPTransport
import OCI

/// Sigstore bundle v0.3 attached as an OCI 1.1 referrer (cosign's new bundle format).
package enum SigstoreBundleReferrer {
    package static let contentAnnotation = "dev.sigstore.bundle.content"
    package static let predicateTypeAnnotation = "dev.sigstore.bundle.predicateType"
    /// The predicate type cosign v3 signs for an image signature.
    package static let cosignSignPredicate = "https://sigstore.dev/cosign/sign/v1"
    package static let emptyConfig = Descriptor.of(MediaType.emptyBlob, mediaType: MediaType.ociEmpty)

    /// The bundle JSON for a DSSE envelope and a key (or certificate) — protojson field names, no tlog entries.
    package static func bundle(envelope: Data, publicKeyDER: Data, certificateDER: Data?) throws -> Data {
        guard let env = try JSONSerialization.jsonObject(with: envelope) as? [String: Any],
            let payload = env["payload"] as? String, let payloadType = env["payloadType"] as? String,
            let signatures = env["signatures"] as? [[String: Any]], signatures.count == 1,
            let sig = signatures[0]["sig"] as? String
        else {
            throw RegistryError(
                registry: "", repository: "", operation: "make bundle", status: 0,
                message: "not a DSSE envelope with one signature")
        }
        var material: [String: Any] = ["tlogEntries": [Any]()]
        if let certificateDER {
            material["certificate"] = ["rawBytes": certificateDER.base64EncodedString()]
        } else {
            material["publicKey"] = ["hint": Digest.sha256(of: publicKeyDER).hexToBase64]
        }
        var signature: [String: Any] = ["sig": sig]
        if let keyid = signatures[0]["keyid"] as? String, !keyid.isEmpty { signature["keyid"] = keyid }
        let bundle: [String: Any] = [
            "mediaType": MediaType.sigstoreBundle,
            "verificationMaterial": material,
            "dsseEnvelope": ["payload": payload, "payloadType": payloadType, "signatures": [signature]],
        ]
        return try JSONSerialization.data(withJSONObject: bundle, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// The cosign v3 image-signature statement: `{_type, subject:[{digest:{sha256}}], predicateType, predicate:{}}`.
    package static func signStatement(for image: Digest) -> Data {
        Data(
            #"{"_type":"https://in-toto.io/Statement/v1","predicate":{},"predicateType":"\#(cosignSignPredicate)","subject":[{"digest":{"sha256":"\#(image.hex)"}}]}"#
                .utf8)
    }
}

extension Digest {
    /// Standard base64 of the digest's bytes (sigstore's key hints, trusted-root key ids).
    var hexToBase64: String {
        var bytes: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            bytes.append(UInt8(hex[i..<j], radix: 16) ?? 0)
            i = j
        }
        return Data(bytes).base64EncodedString()
    }
}

package struct ReferrerResult: Sendable {
    package var manifestDigest: Digest
    package var bundleDigest: Digest
    package var alreadyPresent: Bool
    /// `api` when the registry keeps referrers itself, else the fallback tag it went to.
    package var index: String
}

extension RegistrySession {
    /// The subject's descriptor (media type and size), from a manifest GET.
    package func descriptor(of digest: Digest) async throws -> Descriptor {
        guard let m = try await manifest(digest.description) else {
            throw RegistryError(
                registry: registry, repository: repository, operation: "read \(digest)", status: 404,
                message: "the image to attach to does not exist in this repository")
        }
        return Descriptor(mediaType: m.mediaType, digest: digest.description, size: m.bytes.count)
    }

    /// Referrers of `subject`: through the referrers API, or the `sha256-<hex>` fallback index.
    package func listReferrers(_ subject: Digest) async throws -> (index: ImageIndex, viaAPI: Bool) {
        if let index = try await referrers(subject.description) { return (index, true) }
        guard let fetched = try await manifest(subject.tagForm, accept: [MediaType.ociIndex]) else {
            return (ImageIndex(manifests: []), false)
        }
        guard let index = try? JSONDecoder().decode(ImageIndex.self, from: fetched.bytes) else {
            throw RegistryError(
                registry: registry, repository: repository, operation: "read \(subject.tagForm)", status: 200,
                message: "the referrers fallback tag holds something that is not an OCI index; not touching it")
        }
        return (index, false)
    }

    /// Attaches a sigstore bundle to `subject` as a referrer; maintains the fallback index when the registry has no
    /// referrers API; skips a bundle already attached; reads the referrers back.
    package func attachBundle(_ bundle: Data, predicateType: String, to subject: Digest) async throws -> ReferrerResult
    {
        let bundleDigest = Digest.sha256(of: bundle)
        let (existing, viaAPI) = try await listReferrers(subject)
        for d in existing.manifests where d.artifactType == MediaType.sigstoreBundle {
            if let m = try await manifest(d.digest, accept: [MediaType.ociManifest]),
                let decoded = try? JSONDecoder().decode(ImageManifest.self, from: m.bytes),
                decoded.layers.contains(where: { $0.digest == bundleDigest.description })
            {
                return ReferrerResult(
                    manifestDigest: m.digest, bundleDigest: bundleDigest, alreadyPresent: true,
                    index: viaAPI ? "api" : subject.tagForm)
            }
        }
        let subjectDescriptor = try await descriptor(of: subject)
        try await uploadBlob(MediaType.emptyBlob, digest: SigstoreBundleReferrer.emptyConfig.digest)
        try await uploadBlob(bundle, digest: bundleDigest.description)
        let annotations = [
            SigstoreBundleReferrer.contentAnnotation: "dsse-envelope",
            SigstoreBundleReferrer.predicateTypeAnnotation: predicateType,
        ]
        let manifest = ImageManifest(
            config: SigstoreBundleReferrer.emptyConfig,
            layers: [Descriptor.of(bundle, mediaType: MediaType.sigstoreBundle)],
            artifactType: MediaType.sigstoreBundle, subject: subjectDescriptor, annotations: annotations)
        let bytes = manifest.encoded()
        let digest = try await putManifest(
            bytes, mediaType: MediaType.ociManifest, reference: Digest.sha256(of: bytes).description)
        var descriptor = Descriptor.of(bytes, mediaType: MediaType.ociManifest, annotations: annotations)
        descriptor.artifactType = MediaType.sigstoreBundle
        if !viaAPI {
            // No referrers API (distribution 2.8): keep the fallback index at sha256-<hex> ourselves.
            var index = existing
            if !index.manifests.contains(where: { $0.digest == descriptor.digest }) {
                index.manifests.append(descriptor)
            }
            index.manifests.sort { $0.digest < $1.digest }
            try await putManifest(index.encoded(), mediaType: MediaType.ociIndex, reference: subject.tagForm)
        }
        let (after, _) = try await listReferrers(subject)
        guard after.manifests.contains(where: { $0.digest == digest.description }) else {
            throw RegistryError(
                registry: registry, repository: repository, operation: "read back referrers of \(subject)", status: 200,
                message: "the bundle \(digest) was pushed but is not listed among the image's referrers")
        }
        return ReferrerResult(
            manifestDigest: digest, bundleDigest: bundleDigest, alreadyPresent: false,
            index: viaAPI ? "api" : subject.tagForm)
    }

    /// Every sigstore bundle attached to `subject`, with the predicate type its manifest announces.
    package func bundles(of subject: Digest) async throws -> [(predicateType: String, bundle: Data, manifest: Digest)] {
        var out: [(String, Data, Digest)] = []
        for d in try await listReferrers(subject).index.manifests where d.artifactType == MediaType.sigstoreBundle {
            guard let m = try await manifest(d.digest, accept: [MediaType.ociManifest]),
                let decoded = try? JSONDecoder().decode(ImageManifest.self, from: m.bytes),
                decoded.subject?.digest == subject.description,
                let layer = decoded.layers.first(where: {
                    $0.mediaType.hasPrefix("application/vnd.dev.sigstore.bundle")
                })
            else { continue }
            let blob = try await send("GET", url("blobs/\(layer.digest)"))
            guard blob.status == 200, Digest.sha256(of: blob.body).description == layer.digest else { continue }
            out.append(
                (decoded.annotations?[SigstoreBundleReferrer.predicateTypeAnnotation] ?? "", blob.body, m.digest))
        }
        return out
    }
}
