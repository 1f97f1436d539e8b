import Foundation
import KubeModels
import OCI
import RegistryAuth

extension FuzzHarness {
    static let credentials: [FuzzHarness] = [
        FuzzHarness(
            name: "docker-config",
            summary:
                "docker config.json / .dockercfg bytes, and the same bytes as a Secret's data in each shape Chains reads"
        ) { data in
            var findings = Findings()
            if let (config, _) = try? DockerConfig.parse(data) {
                for (key, credential) in config.auths.prefix(32) {
                    // What was read must be describable without the secret in it.
                    let shown = "\(credential)"
                    for secret in credential.secrets where secret.count >= 8 && !credential.username.contains(secret) {
                        findings.check(!shown.contains(secret), "the description of \(key)'s credential shows a secret")
                    }
                }
            }
            let encoded = data.base64EncodedString()
            for (type, field) in [
                ("kubernetes.io/dockerconfigjson", ".dockerconfigjson"), ("kubernetes.io/dockercfg", ".dockercfg"),
                ("Opaque", "config.json"),
            ] {
                var meta = ObjectMeta()
                meta.name = "fuzz"
                meta.namespace = "fuzz"
                let secret = Secret(metadata: meta, type: type, data: [field: encoded])
                let (keyring, _) = SecretCredentials.keyring(
                    secret, ref: "fuzz/fuzz", kind: .serviceAccountSecret, serviceAccount: "default")
                for image in ["registry.example.com/app", "docker.io/library/busybox", "localhost:5000/a/b"] {
                    _ = keyring.lookup(image)
                }
            }
            return findings.list
        }
    ]
}
