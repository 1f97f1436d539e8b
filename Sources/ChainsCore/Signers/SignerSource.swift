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

/// Hands out the signer an artifact type asks for (`x509`, `kms`). Asynchronous: a keyless source fetches (and
/// caches) a certificate here.
package protocol SignerSource: Sendable {
    /// Whether `name` can be served at all; checked before anything is signed.
    func supports(_ kind: SignerKind) -> Bool
    func signer(named kind: SignerKind, for run: RunContext) async throws -> any Signer
    /// Whether `x509` is served keylessly (Fulcio), as `signers.x509.fulcio.enabled` asks.
    var isKeyless: Bool { get }
    /// Whether `chain`, a certificate an earlier attempt signed with (read back from the run, where anyone who may
    /// write its annotations could have put it), is one this source signs with now, `current` being its signer.
    /// Throws why not. A source that is not keyless accepts none.
    func checkEarlierCertificate(_ chain: [Certificate], current: any Signer) async throws
}

extension SignerSource {
    package var isKeyless: Bool { false }
    package func checkEarlierCertificate(_ chain: [Certificate], current: any Signer) async throws {
        throw ChainsError(.signing, "this configuration does not sign keylessly")
    }
}

extension ChainsError {
    /// A signer name no signer source here serves (`kms`).
    static func signerNotServed(_ kind: SignerKind) -> ChainsError {
        ChainsError(.unsupported, "signer \"\(kind)\" is not served by this signer source")
    }
}
