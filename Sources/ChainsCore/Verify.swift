import Foundation
import OCI
import OCIRegistry
import RegistryAuth
import Signing

/// `chains verify` / `chains verify-attestation`: read what is attached to an image and check it with a key.
public struct AttachmentVerifier: Sendable {
    public var client: RegistryClient
    public var credentials: [SourcedCredential]
    public var key: PublicKey

    public init(client: RegistryClient, credentials: [SourcedCredential], key: PublicKey) {
        self.client = client
        self.credentials = credentials
        self.key = key
    }

    /// One layer checked: what was found and whether it holds.
    public struct Check: Sendable {
        public var layer: String
        public var valid: Bool
        public var detail: String
        public var payload: Data
    }

    /// What was found at one location (a `.sig`/`.att` tag, or the referrers) and how each layer checked.
    public struct Report: Sendable {
        public var image: ImageReference
        public var location: String
        public var checks: [Check]
        public var valid: [Check] { checks.filter(\.valid) }
    }

    /// `cosign verify --type` aliases.
    public static func predicateType(forType type: String) -> String {
        switch type {
        case "slsaprovenance", "slsaprovenance02": return "https://slsa.dev/provenance/v0.2"
        case "slsaprovenance1": return "https://slsa.dev/provenance/v1"
        case "spdxjson": return "https://spdx.dev/Document"
        case "cyclonedx": return "https://cyclonedx.org/bom"
        case "link": return "https://in-toto.io/Link/v1"
        case "vuln": return "https://cosign.sigstore.dev/attestation/vuln/v1"
        case "custom": return "https://cosign.sigstore.dev/attestation/v1"
        default: return type
        }
    }

    /// Resolves a tag to a digest (by reading the manifest) when the reference has none.
    public func resolve(_ image: ImageReference) async throws -> ImageReference {
        if image.digest != nil { return image }
        let (fetched, _, _) = try await client.withCredentials(
            credentials, repository: image.repositoryOnly, scopes: [Scope.pull(image.repository)],
            operation: "read \(image)"
        ) { session in try await session.manifest(image.tag ?? "latest") }
        guard let fetched else {
            throw RegistryError(
                registry: image.registry, repository: image.repository, operation: "read \(image)", status: 404,
                message: "no such image")
        }
        return image.with(digest: fetched.digest)
    }

    /// Checks every `.sig` layer: signature over the payload with the key, and the payload naming this digest.
    public func verifySignatures(_ image: ImageReference, repository: ImageReference? = nil) async throws -> Report {
        let resolved = try await resolve(image)
        let target = repository ?? resolved.repositoryOnly
        let layers = try await read(.signature, of: resolved, in: target)
        var checks: [Check] = []
        for (descriptor, payload) in layers {
            var problems: [String] = []
            let signature = descriptor.annotations?[CosignAnnotation.signature].flatMap { Data(base64Encoded: $0) }
            if signature == nil { problems.append("no \(CosignAnnotation.signature) annotation") }
            if let signature, !key.isValidSignature(signature, for: payload) {
                problems.append("signature does not verify with the key")
            }
            if let json = try? JSONSerialization.jsonObject(with: payload) as? [String: Any],
                let critical = json["critical"] as? [String: Any]
            {
                let digest = (critical["image"] as? [String: Any])?["docker-manifest-digest"] as? String
                if digest != resolved.digest?.description {
                    problems.append("payload is for \(digest ?? "no digest"), not \(resolved.digest!)")
                }
                if (critical["type"] as? String) != "cosign container image signature" {
                    problems.append("payload type is not a cosign image signature")
                }
                let identity = (critical["identity"] as? [String: Any])?["docker-reference"] as? String
                if let identity, identity != resolved.name {
                    // Not fatal (cosign does not enforce it either), but worth saying.
                    problems.append("note: docker-reference is \(identity)")
                }
            } else {
                problems.append("payload is not simplesigning JSON")
            }
            let fatal = problems.filter { !$0.hasPrefix("note:") }
            checks.append(
                Check(
                    layer: descriptor.digest, valid: fatal.isEmpty,
                    detail: problems.isEmpty
                        ? "signature verified; payload names \(resolved.digest!)" : problems.joined(separator: "; "),
                    payload: payload))
        }
        return Report(
            image: resolved, location: "\(target.name):\(CosignAttachment.signature.tag(for: resolved.digest!))",
            checks: checks)
    }

    /// Checks every `.att` layer: the DSSE envelope verifies with the key, the statement has the predicate type
    /// asked for (if any) and names this image's digest as a subject.
    public func verifyAttestations(
        _ image: ImageReference, predicateType: String?, repository: ImageReference? = nil
    )
        async throws -> Report
    {
        let resolved = try await resolve(image)
        let target = repository ?? resolved.repositoryOnly
        let layers = try await read(.attestation, of: resolved, in: target)
        var checks: [Check] = []
        for (descriptor, envelope) in layers {
            let (statementBytes, problems) = checkEnvelope(
                envelope, predicateType: predicateType, digest: resolved.digest!)
            checks.append(
                Check(
                    layer: descriptor.digest, valid: problems.isEmpty,
                    detail: problems.isEmpty
                        ? "envelope verified; statement names \(resolved.digest!)" : problems.joined(separator: "; "),
                    payload: statementBytes))
        }
        return Report(
            image: resolved, location: "\(target.name):\(CosignAttachment.attestation.tag(for: resolved.digest!))",
            checks: checks)
    }

    /// A DSSE envelope: verifies with the key; its statement has `predicateType` (when given) and names `digest`.
    /// Returns the verified statement bytes (empty when it does not verify) and the problems found.
    func checkEnvelope(
        _ envelope: Data, predicateType: String?, digest: Digest
    ) -> (statement: Data, problems: [String]) {
        guard let payload = DSSE.verify(envelope: envelope, publicKey: key) else {
            return (Data(), ["the DSSE envelope does not verify with the key"])
        }
        var problems: [String] = []
        let statement = try? JSONSerialization.jsonObject(with: payload) as? [String: Any]
        let type = statement?["predicateType"] as? String
        if let predicateType, type != predicateType {
            problems.append("predicate type is \(type ?? "missing"), not \(predicateType)")
        }
        let subjects = (statement?["subject"] as? [[String: Any]]) ?? []
        if !subjects.contains(where: { ($0["digest"] as? [String: String])?["sha256"] == digest.hex }) {
            problems.append("no subject has digest \(digest)")
        }
        return (payload, problems)
    }

    /// Checks every sigstore bundle referrer of the image: the DSSE envelope verifies with the key, the statement
    /// names the image digest, and its predicate type is `predicateType` (cosign's `…/cosign/sign/v1` for
    /// signatures) when given.
    public func verifyBundles(_ image: ImageReference, predicateType: String?) async throws -> Report {
        let resolved = try await resolve(image)
        let digest = resolved.digest!
        let found = try await client.withCredentials(
            credentials, repository: resolved.repositoryOnly, scopes: [Scope.pull(resolved.repository)],
            operation: "read referrers of \(digest)"
        ) { session in try await session.bundles(of: digest) }.value
        var checks: [Check] = []
        for entry in found {
            var problems: [String] = []
            var statementBytes = Data()
            let bundle = try? JSONSerialization.jsonObject(with: entry.bundle) as? [String: Any]
            let envelope = bundle?["dsseEnvelope"] as? [String: Any]
            if bundle?["mediaType"] as? String != MediaType.sigstoreBundle {
                problems.append("not a v0.3 sigstore bundle")
            }
            if let envelope, let data = try? JSONSerialization.data(withJSONObject: envelope) {
                let (payload, found) = checkEnvelope(data, predicateType: predicateType, digest: digest)
                statementBytes = payload
                problems += found
            } else {
                problems.append("the bundle has no DSSE envelope")
            }
            checks.append(
                Check(
                    layer: entry.manifest.description, valid: problems.isEmpty,
                    detail: problems.isEmpty
                        ? "bundle verified; statement names \(digest)" : problems.joined(separator: "; "),
                    payload: statementBytes))
        }
        return Report(image: resolved, location: "\(resolved.name) referrers of \(digest)", checks: checks)
    }

    func read(
        _ kind: CosignAttachment, of image: ImageReference, in target: ImageReference
    ) async throws
        -> [(descriptor: Descriptor, payload: Data)]
    {
        try await client.withCredentials(
            credentials, repository: target, scopes: [Scope.pull(target.repository)],
            operation: "read \(kind.tag(for: image.digest!))"
        ) { session in try await session.attachments(kind, of: image.digest!) }.value
    }
}
