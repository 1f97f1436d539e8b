import Foundation
import OCI
import OCIRegistry
import RegistryAuth
import Signing
import Sigstore
import SwiftASN1
import X509

/// `chains verify` / `chains verify-attestation`: read what is attached to an image and check it with a key, or
/// keylessly: a Fulcio certificate for the expected identity, logged in a trusted transparency log.
package struct AttachmentVerifier: Sendable {
    /// Who must have signed: the holder of a key, or a keyless identity under a trusted root.
    package enum Authority: Sendable {
        case key(PublicKey)
        case keyless(KeylessPolicy)
    }
    package var client: RegistryClient
    package var credentials: [SourcedCredential]
    package var authority: Authority
    /// `--tlog-threshold` / `--timestamp-threshold`; nil: the defaults (bundles: one verified log entry; cosign
    /// layers: keyless needs its entry, a key none).
    package var thresholds: VerificationThresholds?
    /// With a key and `--tlog-threshold`: the trusted root whose log keys check a cosign layer's entry.
    package var logRoot: TrustedRoot?

    package init(client: RegistryClient, credentials: [SourcedCredential], key: PublicKey) {
        self.init(client: client, credentials: credentials, authority: .key(key))
    }

    package init(client: RegistryClient, credentials: [SourcedCredential], authority: Authority) {
        self.client = client
        self.credentials = credentials
        self.authority = authority
    }

    /// The key a signature must verify with: the given one, or a keyless certificate's after it passed the policy
    /// (chain, SCT, identity, issuer, log entry). Returns the key, what was learnt, and the problems found.
    func signingKey(
        certificate: Certificate?, chain: [Certificate], entry: () throws(CertificateCheckError) -> RekorEntry?,
        requireInclusionProof: Bool
    ) async -> (key: PublicKey?, note: String, problems: [String]) {
        switch authority {
        case .key(let key):
            return (key, "", [])
        case .keyless(let policy):
            guard let certificate else { return (nil, "", ["no certificate: not a keyless signature"]) }
            do {
                let signer = try await KeylessVerifier.verify(
                    leaf: certificate, chain: chain, entry: try entry(), policy: policy,
                    requireInclusionProof: requireInclusionProof)
                return (
                    signer.publicKey,
                    "; signed by \(signer.identity) (\(signer.issuer)), logged at \(signer.integratedTime) as entry \(signer.logIndex)",
                    []
                )
            } catch {
                return (nil, "", [error.description])
            }
        }
    }

    /// The leaf and chain a cosign layer carries in its annotations.
    static func certificates(_ annotations: [String: String]?) -> (Certificate?, [Certificate]) {
        func parse(_ pem: String?) -> [Certificate] {
            guard let pem, !pem.isEmpty, let documents = try? PEMDocument.parseMultiple(pemString: pem) else {
                return []
            }
            return documents.compactMap { try? Certificate(derEncoded: $0.derBytes) }
        }
        return (
            parse(annotations?[CosignAnnotation.certificate]).first, parse(annotations?[CosignAnnotation.chain])
        )
    }

    /// The log entry a cosign layer carries (`dev.sigstore.cosign/bundle`), when it has one.
    static func layerEntry(_ annotations: [String: String]?) throws(CertificateCheckError) -> RekorEntry? {
        guard let json = annotations?[CosignAnnotation.bundle], !json.isEmpty else { return nil }
        return try RekorEntry(cosignBundle: json)
    }

    /// The thresholds asked for, on a cosign layer, which carries one Rekor v1 entry at most
    /// (`dev.sigstore.cosign/bundle`) and no timestamp this build reads. Keyless needs its entry anyway (the
    /// certificate is judged at its time); with a key, `--tlog-threshold 1` makes the entry required, checked with
    /// the trusted root's log keys, and recording this signature by this key (`proposal` of the key's PEM).
    func layerThresholdProblems(
        _ annotations: [String: String]?, proposal: (String) -> RekorProposal
    ) -> [String] {
        guard let thresholds else { return [] }
        var problems: [String] = []
        if thresholds.signedTimestamps > 0 {
            problems.append(
                "--timestamp-threshold \(thresholds.signedTimestamps) cannot be met: a cosign layer carries no RFC 3161 "
                    + "timestamp this build reads (sigstore bundle referrers do: storage.oci.format sigstore-bundle)")
        }
        let neededEntries = thresholds.logEntries ?? 0
        if neededEntries > 1 {
            problems.append(
                "--tlog-threshold \(neededEntries) cannot be met: a cosign layer carries one log entry at most")
        }
        guard neededEntries >= 1, case .key(let key) = authority else { return problems }
        do throws(CertificateCheckError) {
            guard let entry = try Self.layerEntry(annotations) else {
                return problems + [
                    "no log entry on the layer (\(CosignAnnotation.bundle)), and --tlog-threshold asks for one"
                ]
            }
            guard let logRoot else {
                return problems + [
                    "--tlog-threshold with --key: give --trusted-root, whose log keys check the layer's entry"
                ]
            }
            try RekorClient.verify(entry, logs: logRoot.tlogs, requireInclusionProof: false)
            do {
                try RekorClient.check(entry, matches: proposal(key.pem), log: entry.logURL)
            } catch {
                problems.append("the log entry does not record this signature and key")
            }
        } catch {
            problems.append("the layer's log entry: \(error.description)")
        }
        return problems
    }

    /// Keyless: the log entry must record this very content, signed by this certificate.
    static func entryMatches(
        _ entry: RekorEntry?, _ proposal: (String) -> RekorProposal, leaf: Certificate?
    ) -> [String] {
        guard let entry, let leaf, let pem = try? leaf.serializeAsPEM().pemString else { return [] }
        do {
            try RekorClient.check(entry, matches: proposal(pem), log: entry.logURL)
            return []
        } catch {
            return ["the log entry does not record this signature and certificate"]
        }
    }

    /// One layer checked: what was found and whether it holds.
    package struct Check: Sendable {
        package var layer: String
        package var valid: Bool
        package var detail: String
        package var payload: Data
    }

    /// What was found at one location (a `.sig`/`.att` tag, or the referrers) and how each layer checked.
    package struct Report: Sendable {
        package var image: ImageReference
        package var location: String
        package var checks: [Check]
        package var valid: [Check] { checks.filter(\.valid) }
    }

    /// `cosign verify --type` aliases.
    package static func predicateType(forType type: String) -> String {
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
    package func resolve(_ image: ImageReference) async throws -> ImageReference {
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
    package func verifySignatures(_ image: ImageReference, repository: ImageReference? = nil) async throws -> Report {
        let resolved = try await resolve(image)
        let target = repository ?? resolved.repositoryOnly
        let layers = try await read(.signature, of: resolved, in: target)
        var checks: [Check] = []
        for (descriptor, payload) in layers {
            var problems: [String] = []
            let signature = descriptor.annotations?[CosignAnnotation.signature].flatMap { Data(base64Encoded: $0) }
            if signature == nil { problems.append("no \(CosignAnnotation.signature) annotation") }
            let (leaf, chain) = Self.certificates(descriptor.annotations)
            let (key, note, keyProblems) = await signingKey(
                certificate: leaf, chain: chain,
                entry: { () throws(CertificateCheckError) in
                    try Self.layerEntry(descriptor.annotations)
                }, requireInclusionProof: false)
            problems += keyProblems
            if let signature, let key, !key.isValidSignature(signature, for: payload) {
                problems.append("signature does not verify with the \(leaf == nil ? "key" : "certificate's key")")
            }
            if case .keyless = authority, let signature {
                problems += Self.entryMatches(
                    try? Self.layerEntry(descriptor.annotations),
                    { .hashedRekord(payload: payload, signature: signature, verifierPEM: $0) }, leaf: leaf)
            }
            problems += layerThresholdProblems(descriptor.annotations) {
                .hashedRekord(payload: payload, signature: signature ?? Data(), verifierPEM: $0)
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
                        ? "signature verified; payload names \(resolved.digest!)\(note)"
                        : problems.joined(separator: "; "),
                    payload: payload))
        }
        return Report(
            image: resolved, location: "\(target.name):\(CosignAttachment.signature.tag(for: resolved.digest!))",
            checks: checks)
    }

    /// Checks every `.att` layer: the DSSE envelope verifies with the key, the statement has the predicate type
    /// asked for (if any) and names this image's digest as a subject.
    package func verifyAttestations(
        _ image: ImageReference, predicateType: String?, repository: ImageReference? = nil
    )
        async throws -> Report
    {
        let resolved = try await resolve(image)
        let target = repository ?? resolved.repositoryOnly
        let layers = try await read(.attestation, of: resolved, in: target)
        var checks: [Check] = []
        for (descriptor, envelope) in layers {
            let (leaf, chain) = Self.certificates(descriptor.annotations)
            let (key, note, keyProblems) = await signingKey(
                certificate: leaf, chain: chain,
                entry: { () throws(CertificateCheckError) in
                    try Self.layerEntry(descriptor.annotations)
                }, requireInclusionProof: false)
            var (statementBytes, problems) =
                key.map { checkEnvelope(envelope, key: $0, predicateType: predicateType, digest: resolved.digest!) }
                ?? (Data(), [])
            problems = keyProblems + problems
            if case .keyless = authority {
                problems += Self.entryMatches(
                    try? Self.layerEntry(descriptor.annotations), { .dsse(envelope: envelope, verifierPEM: $0) },
                    leaf: leaf)
            }
            problems += layerThresholdProblems(descriptor.annotations) { .dsse(envelope: envelope, verifierPEM: $0) }
            if !problems.isEmpty { statementBytes = Data() }
            checks.append(
                Check(
                    layer: descriptor.digest, valid: problems.isEmpty,
                    detail: problems.isEmpty
                        ? "envelope verified; statement names \(resolved.digest!)\(note)"
                        : problems.joined(separator: "; "),
                    payload: statementBytes))
        }
        return Report(
            image: resolved, location: "\(target.name):\(CosignAttachment.attestation.tag(for: resolved.digest!))",
            checks: checks)
    }

    /// A DSSE envelope: verifies with the key; its statement has `predicateType` (when given) and names `digest`.
    /// Returns the verified statement bytes (empty when it does not verify) and the problems found.
    func checkEnvelope(
        _ envelope: Data, key: PublicKey, predicateType: String?, digest: Digest
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
    package func verifyBundles(_ image: ImageReference, predicateType: String?) async throws -> Report {
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
            var note = ""
            let bundle = try? JSONSerialization.jsonObject(with: entry.bundle) as? [String: Any]
            if bundle?["mediaType"] as? String != MediaType.sigstoreBundle {
                problems.append("not a v0.3 sigstore bundle")
            }
            switch authority {
            case .keyless(let policy):
                // The same verification as `verify-blob` (Rekor v1 and v2 entries, RFC 3161 timestamps), over the
                // image digest the statement must name.
                do {
                    let verified = try await BundleVerifier.verify(
                        entry.bundle, artifact: .sha256(Data(hex: digest.hex) ?? Data()),
                        authority: .keyless(identity: policy.identity, issuer: policy.issuer),
                        trustedRoot: policy.trustedRoot, thresholds: thresholds ?? .init())
                    note = "; signed by \(verified.signer), \(verified.when)"
                    if let statement = verified.statement {
                        statementBytes = statement
                        problems += Self.predicateProblems(statement, predicateType: predicateType)
                    } else {
                        problems.append("the bundle has no DSSE envelope")
                    }
                } catch {
                    problems.append(error.description)
                }
            case .key(let key):
                let (payload, found) = await checkKeyBundle(
                    entry.bundle, key: key, predicateType: predicateType, digest: digest)
                statementBytes = payload
                problems += found
            }
            if !problems.isEmpty { statementBytes = Data() }
            checks.append(
                Check(
                    layer: entry.manifest.description, valid: problems.isEmpty,
                    detail: problems.isEmpty
                        ? "bundle verified; statement names \(digest)\(note)" : problems.joined(separator: "; "),
                    payload: statementBytes))
        }
        return Report(image: resolved, location: "\(resolved.name) referrers of \(digest)", checks: checks)
    }

    /// A key-signed bundle: its DSSE envelope verifies with the key and its statement names the digest with the
    /// predicate type asked for; with a trusted root (`logRoot`), the whole bundle verification and its thresholds.
    /// Without one, a timestamp it carries cannot be checked, so it is a problem, not ignored.
    func checkKeyBundle(
        _ data: Data, key: PublicKey, predicateType: String?, digest: Digest
    ) async -> (statement: Data, problems: [String]) {
        if let logRoot {
            // With a trusted root (`--trusted-root` beside `--key`): the whole bundle verification — log entries,
            // timestamps and the thresholds — with the key as the signer.
            do {
                let verified = try await BundleVerifier.verify(
                    data, artifact: .sha256(Data(hex: digest.hex) ?? Data()), authority: .key(key),
                    trustedRoot: logRoot, thresholds: thresholds ?? .init())
                guard let statement = verified.statement else { return (Data(), ["the bundle has no DSSE envelope"]) }
                return (statement, Self.predicateProblems(statement, predicateType: predicateType))
            } catch {
                return (Data(), [error.description])
            }
        }
        if let thresholds, (thresholds.logEntries ?? 1) > 0 || thresholds.signedTimestamps > 0 {
            return (
                Data(), ["--tlog-threshold / --timestamp-threshold with --key: give --trusted-root to check them with"]
            )
        }
        let parsed: ParsedBundle
        do throws(CertificateCheckError) {
            parsed = try ParsedBundle(data)
        } catch {
            return (Data(), [error.description])
        }
        var problems: [String] = []
        do throws(CertificateCheckError) {
            // With no trusted root this refuses any timestamp, naming why.
            _ = try await BundleVerifier.verifyTimestamps(
                parsed.signedTimestamps, signature: parsed.signatureBytes, trustedRoot: nil)
        } catch {
            problems.append(error.description)
        }
        guard let envelope = parsed.dsseEnvelope else {
            return (Data(), problems + ["the bundle has no DSSE envelope"])
        }
        let (payload, found) = checkEnvelope(envelope, key: key, predicateType: predicateType, digest: digest)
        return (payload, problems + found)
    }

    /// The statement's predicate type is the one asked for, when one is.
    static func predicateProblems(_ statement: Data, predicateType: String?) -> [String] {
        guard let predicateType else { return [] }
        let type = (try? JSONSerialization.jsonObject(with: statement) as? [String: Any])?["predicateType"] as? String
        return type == predicateType ? [] : ["predicate type is \(type ?? "missing"), not \(predicateType)"]
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
