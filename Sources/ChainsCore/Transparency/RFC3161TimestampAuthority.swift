import Foundation
import Sigstore

/// The core's timestamp seam served by an RFC 3161 authority (`TimestampClient`): every timestamp is verified
/// against the trusted root's timestamp authorities before it is kept, and an attempt record's is verified the same
/// way before it is reused.
package struct RFC3161TimestampAuthority: TimestampAuthority {
    let client: TimestampClient
    let authorities: [TrustedRoot.CertificateAuthority]

    package init(client: TimestampClient, authorities: [TrustedRoot.CertificateAuthority]) {
        self.client = client
        self.authorities = authorities
    }

    package var address: String { client.address.absoluteString }

    package func timestamp(signature: Data) async throws -> SignedTimestamp {
        SignedTimestamp(der: try await client.timestamp(signature: signature).der, authority: address)
    }

    package func verify(_ timestamp: SignedTimestamp, signature: Data) async throws {
        _ = try await RFC3161.verify(response: timestamp.der, signature: signature, authorities: authorities)
    }
}
