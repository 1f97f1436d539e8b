import Foundation
import HTTPTransport
import RegistryAuth

/// The cloud keychains whose environment is present, in the documented order (ECR, then GCR / Artifact Registry,
/// then ACR); each is asked only for its own registry hosts.
public enum CloudKeychains {
    /// The keychains `environment` configures; none outside a cloud.
    public static func make(environment: [String: String], transport: any HTTPTransport) -> [any CloudKeychain] {
        var out: [any CloudKeychain] = []
        if let chain = AWSCredentialChain(environment: environment, transport: transport) {
            out.append(ECRKeychain(chain: chain, transport: transport))
        }
        return out
    }

    /// Whether any keychain would be made (so a caller makes a transport only then).
    public static func configured(_ environment: [String: String]) -> Bool {
        AWSCredentialChain(environment: environment, transport: NoTransport()) != nil
    }

    /// What each keychain would use, for `auth explain` and the setup notes: "ECR: IAM role … (web identity, IRSA)".
    public static func describe(_ keychains: [any CloudKeychain]) -> [String] {
        keychains.map { keychain in
            if let ecr = keychain as? ECRKeychain { return "ECR: \(ecr.chain.identity)" }
            return keychain.name
        }
    }
}

/// Stands in where no request is made.
struct NoTransport: HTTPTransport {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        throw TransportError(kind: .other, host: request.url.hostAndPort, reason: "no transport")
    }
}
