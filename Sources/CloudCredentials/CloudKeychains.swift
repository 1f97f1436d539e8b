import Foundation
import HTTPTransport
import RegistryAuth

/// The cloud keychains whose environment is present, in the documented order (ECR, then GCR / Artifact Registry,
/// then ACR); each is asked only for its own registry hosts.
package enum CloudKeychains {
    /// The keychains `environment` configures; none outside a cloud.
    /// `registryTransport`: the registries' own client, for ACR's exchange (a request to the registry itself).
    package static func make(
        environment: [String: String], transport: any HTTPTransport, registryTransport: (any HTTPTransport)? = nil
    ) -> [any CloudKeychain] {
        var out: [any CloudKeychain] = []
        if let chain = AWSCredentialChain(environment: environment, transport: transport) {
            out.append(ECRKeychain(chain: chain, transport: transport))
        }
        // Nothing tells a Pod it runs on GKE: the metadata server is asked (1 s at most) when a GCR image is pushed.
        out.append(GCRKeychain(environment: environment, transport: transport))
        if let registryTransport,
            let acr = ACRKeychain(environment: environment, cloud: transport, registry: registryTransport)
        {
            out.append(acr)
        }
        return out
    }

    /// The keychains named by the environment (ECR's credentials, `GCE_METADATA_HOST`), for the setup notes; GCR's
    /// default metadata server is asked without being named.
    package static func configured(_ environment: [String: String]) -> [String] {
        var out: [String] = []
        if let chain = AWSCredentialChain(environment: environment, transport: NoTransport()) {
            out.append("ECR: \(chain.identity)")
        }
        if let acr = ACRKeychain(environment: environment, cloud: NoTransport(), registry: NoTransport()) {
            out.append("ACR: \(acr.identity)")
        }
        if let host = environment["GCE_METADATA_HOST"], !host.isEmpty {
            out.append("GCR: \(GCRKeychain(environment: environment, transport: NoTransport()).identity)")
        }
        return out
    }

}

/// Stands in where no request is made.
struct NoTransport: HTTPTransport {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        throw TransportError(kind: .other, host: request.url.hostAndPort, reason: "no transport")
    }
}
