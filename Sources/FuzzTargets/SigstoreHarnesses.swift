import Crypto
import Foundation
import HTTPTransport
import Signing
import Sigstore

/// A transport that never sends: the harnesses call a client's parsers only.
package struct NoNetwork: HTTPTransport {
    package func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        throw TransportError(kind: .connection, host: "fuzz", reason: "the fuzz harnesses have no network")
    }
}

extension FuzzKeys {
    /// A log whose key is the fixed P-256 key, as the harnesses' trusted log.
    package static let noNetwork = NoNetwork()

    package static let log: TrustedRoot.LogInstance = {
        let der = p256.publicKey.derRepresentation
        return TrustedRoot.LogInstance(
            baseURL: "https://rekor.fuzz", publicKey: der, keyID: Data(SHA256.hash(data: der)))
    }()
}

extension FuzzHarness {
    static let sigstore: [FuzzHarness] = [
        FuzzHarness(
            name: "sigstore-bundle",
            summary: "a sigstore bundle (v0.1-v0.3): shape, certificates, log entries checked against a fixed log"
        ) { data in
            _ = try? JSONDecoder().decode(SigstoreBundle.self, from: data)
            guard let bundle = try? ParsedBundle(data) else { return [] }
            for raw in bundle.entries.prefix(4) {
                guard let entry = try? RekorEntry(bundled: raw) else { continue }
                _ = try? RekorClient.verify(entry, logs: [FuzzKeys.log], requireInclusionProof: bundle.version >= 2)
            }
            return []
        },
        FuzzHarness(
            name: "rfc3161-response",
            summary: "an RFC 3161 TimeStampResp as a bundle carries it: status, CMS SignedData, TSTInfo, signer info"
        ) { data in
            _ = try? RFC3161.parse(response: data)
            return []
        },
        FuzzHarness(name: "jwt", summary: "an OIDC identity token (a projected ServiceAccount token, a JWT-SVID)") {
            data in
            _ = try? IdentityToken(jwt: data.text, source: "fuzz")
            return []
        },
        FuzzHarness(
            name: "fulcio-response",
            summary: "Fulcio's v2 signingCert answer: the PEM chain and each certificate's embedded SCT list"
        ) { data in
            let client = FulcioClient(address: URL(string: "https://fulcio.fuzz")!, transport: NoNetwork())
            if let chain = try? client.parseV2(data) {
                for certificate in chain.prefix(4) { _ = try? SignedCertificateTimestamp.embedded(in: certificate) }
            }
            _ = try? SignedCertificateTimestamp.parseList(data)
            return []
        },
        FuzzHarness(
            name: "rekor-entry",
            summary: "Rekor's log entry answer (uuid → entry): SET, inclusion proof and checkpoint against a fixed log"
        ) { data in
            let client = RekorClient(
                address: URL(string: "https://rekor.fuzz")!, transport: NoNetwork(), logs: [FuzzKeys.log])
            for entry in ((try? client.parseEntries(data)) ?? []).prefix(4) {
                _ = try? RekorClient.verify(entry, logs: [FuzzKeys.log])
            }
            _ = try? Checkpoint(parsing: data.text)
            return []
        },
        FuzzHarness(
            name: "tuf-metadata",
            summary: "TUF metadata (root, timestamp, snapshot, targets): shape, canonical form, threshold signatures"
        ) { data in
            var findings = Findings()
            guard let json = TUFJSON.parse(data) else { return [] }
            if let canonical = json.canonical, let back = TUFJSON.parse(canonical) {
                // The canonical form escapes only `"` and `\\` (so a newline in a PEM key makes it strict-JSON
                // invalid); when it does read back, it is the same value with the same canonical form.
                findings.check(back == json && back.canonical == canonical, "the canonical form does not read back")
            }
            for role in ["root", "timestamp", "snapshot", "targets"] {
                guard let metadata = try? TUFMetadata(data, role: role, source: "fuzz") else { continue }
                let keys = metadata.keys
                for name in ["root", "timestamp", "snapshot", "targets"] {
                    if let r = metadata.role(name) { _ = metadata.isSigned(by: r, keys: keys) }
                }
                _ = metadata.meta("snapshot.json")
            }
            return findings.list
        },
        FuzzHarness(name: "trusted-root", summary: "a sigstore trusted_root.json") { data in
            _ = try? TrustedRoot(json: data, source: "fuzz")
            return []
        },
        FuzzHarness(
            name: "rekor-v2-entry",
            summary: "a bundle's Rekor v2 entries: body (rebuilt canonical JSON), C2SP checkpoint, inclusion proof"
        ) { data in
            var findings = Findings()
            guard let bundle = try? ParsedBundle(data) else {
                _ = try? Checkpoint(parsing: data.text)
                if let body = try? RekorV2Body(parsing: data) {
                    // What was parsed rebuilds to canonical JSON that parses back to the same body.
                    findings.check(
                        (try? RekorV2Body(parsing: body.canonical)) == body, "a Rekor v2 body does not round-trip")
                }
                return findings.list
            }
            for raw in bundle.entries.prefix(4) where RekorV2Entry.isV2(raw) {
                _ = try? RekorV2Entry.verify(raw, logs: FuzzKeys.rekorV2Logs)
            }
            return findings.list
        },
        FuzzHarness(
            name: "signing-config",
            summary: "a sigstore signing config v0.2 and the selection of each kind of service at a fixed time"
        ) { data in
            guard let config = try? SigningConfig(json: data, source: "fuzz") else { return [] }
            let when = Date(timeIntervalSince1970: 1_765_000_000)
            for kind in [SigningConfig.Kind.certificateAuthority, .transparencyLog, .timestampAuthority, .oidcProvider]
            {
                _ = try? config.select(kind, versions: [1, 2], at: when)
            }
            _ = config.nextChange(after: when, kinds: [.transparencyLog, .timestampAuthority])
            return []
        },
    ]
}

extension FuzzKeys {
    /// sigstore staging's Rekor v2 log (Ed25519, from the conformance suite's `rekor2-happy-path` trusted root) and its
    /// Rekor v1 log (ECDSA): the keys the conformance seeds' checkpoints are signed with.
    package static let rekorV2Logs: [TrustedRoot.LogInstance] = [
        (
            "https://log2025-alpha1.rekor.sigstage.dev", "MCowBQYDK2VwAyEAPn+AREHoBaZ7wgS1zBqpxmLSGnyhxXj4lFxSdWVB8o8=",
            "8w1amZ2S5mJIQkQmPxdMuOrL/oJkvFg9MnQXmeOCXck="
        ),
        (
            "https://rekor.sigstage.dev",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEDODRU688UYGuy54mNUlaEBiQdTE9nYLr0lg6RXowI/QV/RE1azBn4Eg5"
                + "/2uTOMbhB1/gfcHzijzFi9Tk+g1Prg==",
            "0y8wo8MtY5wrdiIFohx7sHeI5oKDpK5vQhGHI6G+pJY="
        ),
    ].map { url, key, id in
        TrustedRoot.LogInstance(
            baseURL: url, publicKey: Data(base64Encoded: key)!, keyID: Data(base64Encoded: id)!,
            validFor: .init(start: Date(timeIntervalSince1970: 1_600_000_000), end: nil))
    }
}
