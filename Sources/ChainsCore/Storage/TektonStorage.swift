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

/// The `tekton` backend: four base64 annotations on the run per stored item (and ours with its RFC 3161 timestamps). The service collects them into the
/// outcome's annotation patch; the front door writes them (into the output file, or to the API server).
package struct TektonStorage: StorageBackend {
    package let kind = StorageKind.tekton
    package init() {}

    package func store(_ item: SignedArtifact, for run: RunContext) async throws -> StorageReceipt {
        let keys = ChainsAnnotations.storageKeys(shortKey: item.shortKey)
        var receipt = StorageReceipt(backend: kind)
        receipt.annotations = [
            keys.payload: item.payload.base64EncodedString(),
            keys.signature: item.signature.base64EncodedString(),
            keys.cert: Data(CertificatePEM.leaf(item.certificateChain).utf8).base64EncodedString(),
            keys.chain: Data(CertificatePEM.rest(item.certificateChain).utf8).base64EncodedString(),
        ]
        // The timestamps, when they are over the signature stored here (an image's sigstore-bundle envelope has its
        // own signature, which only its bundle carries).
        if !item.timestamps.isEmpty, item.bundleEnvelope == nil {
            receipt.annotations[ChainsAnnotations.timestampsKey(shortKey: item.shortKey)] =
                item.timestamps.map { $0.der.base64EncodedString() }.joined(separator: ",")
        }
        receipt.locations = [.init(target: keys.signature, credential: "", detail: "annotation", alreadyPresent: false)]
        return receipt
    }
}
