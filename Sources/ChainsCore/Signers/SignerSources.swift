import ChainsConfig
import CloudCredentials
import Foundation
import HTTPTransport
import KubeModels
import OCI
import RegistryAuth
import Signing
import Sigstore
import X509

/// Signers from a signing-secrets directory: `x509` is the key found there (x509.pem, else cosign.key); `kms` is
/// not served. The key is loaded on first use, so a run that is skipped needs no key.
package actor KeySignerSource: SignerSource {
    /// Where the key is read from.
    package enum Origin: Sendable {
        /// `--signing-secrets DIR` / `/etc/signing-secrets`: the key must be there.
        case directory(URL)
        /// The per-user default: an ECDSA P-256 `x509.pem` is created there on first use.
        case createOnFirstUse(URL)
    }
    let origin: Origin
    var loaded: KeySigner?
    /// Set when a key was created on first use.
    package private(set) var createdKey: URL?

    package init(_ origin: Origin) { self.origin = origin }

    package nonisolated func supports(_ kind: SignerKind) -> Bool { kind == .x509 }

    package func signer(named kind: SignerKind, for run: RunContext) async throws -> any Signer {
        guard kind == .x509 else { throw ChainsError.signerNotServed(kind) }
        if let loaded { return loaded }
        let signer: KeySigner
        switch origin {
        case .directory(let dir):
            signer = try SigningSecrets.loadSigner(from: dir)
        case .createOnFirstUse(let dir):
            if !SigningSecrets.hasKey(in: dir) {
                createdKey = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir)
            }
            signer = try SigningSecrets.loadSigner(from: dir)
        }
        loaded = signer
        return signer
    }
}

/// `signers.x509.fulcio.enabled: "true"`: `x509` is a short-lived Fulcio certificate for an ephemeral key, shared
/// by every run while comfortable validity remains.
package struct KeylessSignerSource: SignerSource {
    package let certificates: KeylessCertificates
    package init(certificates: KeylessCertificates) { self.certificates = certificates }
    package var isKeyless: Bool { true }
    package func supports(_ kind: SignerKind) -> Bool { kind == .x509 }

    package func signer(named kind: SignerKind, for run: RunContext) async throws -> any Signer {
        guard kind == .x509 else { throw ChainsError.signerNotServed(kind) }
        return try await certificates.signer()
    }

    package func checkEarlierCertificate(_ chain: [Certificate], current: any Signer) async throws {
        guard let ours = current.certificateChain else {
            throw ChainsError(.signing, "the configured signer has no certificate")
        }
        try await certificates.checkEarlier(chain, current: ours)
    }
}

/// `signer: kms`: the key `signers.kms.kmsref` names (AWS KMS, Vault transit), connected on first use (its public
/// key read once and kept).
package actor KMSSignerSource {
    let connect: @Sendable () async throws(CloudCredentialError) -> any Signer
    var connected: (any Signer)?

    package init(connect: @escaping @Sendable () async throws(CloudCredentialError) -> any Signer) {
        self.connect = connect
    }

    package func signer() async throws(ChainsError) -> any Signer {
        if let connected { return connected }
        do throws(CloudCredentialError) {
            let made = try await connect()
            connected = made
            return made
        } catch {
            throw ChainsError(
                .signing, error.description, key: "signers.kms.kmsref", underlying: error,
                isRetryable: error.isRetryable)
        }
    }
}

/// `x509` from one source (the signing secrets' key, or keyless), `kms` from the KMS key.
package struct ComposedSignerSource: SignerSource {
    package let x509: any SignerSource
    package let kms: KMSSignerSource

    package func supports(_ kind: SignerKind) -> Bool { kind == .kms || x509.supports(kind) }
    package var isKeyless: Bool { x509.isKeyless }

    package func signer(named kind: SignerKind, for run: RunContext) async throws -> any Signer {
        if kind == .kms { return try await kms.signer() }
        return try await x509.signer(named: kind, for: run)
    }

    package func checkEarlierCertificate(_ chain: [Certificate], current: any Signer) async throws {
        try await x509.checkEarlierCertificate(chain, current: current)
    }
}
