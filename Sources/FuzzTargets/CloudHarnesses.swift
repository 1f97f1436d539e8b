import CloudCredentials
import Foundation
import HTTPTransport

extension FuzzHarness {
    static let cloud: [FuzzHarness] = [
        FuzzHarness(
            name: "cloud-response",
            summary:
                "cloud credential and KMS answers (STS XML, ECR and container credentials JSON, the GKE metadata "
                + "token, KMS GetPublicKey, Key Vault keys and challenges) and the names they come with (kmsref, registry hosts, "
                + "--resolve)"
        ) { data in
            var findings = Findings()
            let text = data.text
            func hidden(_ credentials: AWSCredentials) {
                let shown = "\(credentials)"
                for secret in [credentials.secretAccessKey, credentials.sessionToken ?? ""] where secret.count >= 8 {
                    findings.check(!shown.contains(secret), "AWS credentials' description shows a secret")
                }
            }
            if let c = try? AWSCredentialChain.parseAssumeRole(text, who: "fuzz") { hidden(c) }
            if let c = try? AWSCredentialChain.parseContainerCredentials(data, who: "fuzz") { hidden(c) }
            if let (c, _) = try? ECRKeychain.parseAuthorizationToken(data, identity: "fuzz") {
                findings.check(!c.username.contains(":"), "an ECR token split at the wrong colon")
            }
            if let (c, until) = try? GCRKeychain.parseToken(data, identity: "fuzz") {
                findings.check(
                    c.username == "oauth2accesstoken" && !c.password.isEmpty, "a GCR token without a password")
                findings.check(until.timeIntervalSinceNow < 86_401, "a GCR token kept past a day")
            }
            if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let (_, algorithm) = try? AWSKMSSigner.parsePublicKey(object, who: "fuzz")
            {
                findings.check(
                    algorithm.hasPrefix("ECDSA_SHA_") || algorithm.hasPrefix("RSASSA_"), "algorithm \(algorithm)")
            }
            if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let (_, version, algorithm) = try? AzureKeyVaultSigner.parseKey(object, who: "fuzz")
            {
                findings.check(!version.isEmpty && !version.contains("/"), "a Key Vault version \(version)")
                findings.check(["ES256", "ES384", "ES512", "RS256"].contains(algorithm), "algorithm \(algorithm)")
            }
            _ = AWSXML.error(text, status: 400)
            let line = String(text.prefix(512))
            if let reference = try? AWSKMSReference(parsing: line) {
                findings.check(
                    !reference.keyID.isEmpty && line.hasPrefix("awskms://"), "a kmsref accepted without a key")
            }
            if let reference = try? AzureKeyVaultReference(parsing: line) {
                findings.check(
                    !reference.key.isEmpty && !reference.vaultHost.isEmpty && !reference.vault.contains("/"),
                    "an azurekms ref accepted without a vault or key")
            }
            // A Key Vault challenge: the scope is only ever for a parent domain of the vault.
            let vault = "chains.vault.azure.net"
            if let scope = try? AzureKeyVaultSigner.tokenScope([line], vaultHost: vault, who: "fuzz") {
                let host = URL(string: scope)?.host?.lowercased() ?? ""
                findings.check(!host.isEmpty && vault.hasSuffix("." + host), "a token scope \(scope) for \(vault)")
            }
            if let ecr = ECRRegistry(host: line) {
                let api = URL(string: ecr.apiEndpoint)?.host ?? ""
                findings.check(
                    api.hasSuffix(".amazonaws.com") || api.hasSuffix(".amazonaws.com.cn"),
                    "an ECR host whose API endpoint is \(api)")
            }
            if let (key, address) = ConnectionRules.parsePin(line) {
                findings.check(key.contains(":") && !address.isEmpty, "a --resolve pin without a port or address")
            }
            return findings.list
        }
    ]
}
