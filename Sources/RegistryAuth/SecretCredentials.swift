import Foundation
import KubeModels
import OCI

/// Docker credentials held in a Kubernetes Secret.
package enum SecretCredentials {
    /// `kubernetes.io/dockerconfigjson` (`.dockerconfigjson`), `kubernetes.io/dockercfg` (`.dockercfg`), an Opaque
    /// secret holding `.dockerconfigjson` or `config.json` (what `kubectl create secret generic --from-file` makes),
    /// and Tekton's `kubernetes.io/basic-auth` secrets annotated `tekton.dev/docker-N: <registry>`.
    package static func keyring(
        _ secret: Secret, ref: String, kind: CredentialSource.Kind, serviceAccount: String?
    )
        -> (keyring: Keyring, warnings: [CredentialWarning])
    {
        var keyring = Keyring()
        var warnings: [CredentialWarning] = []
        let type = secret.type ?? "Opaque"
        let candidates: [String]
        switch type {
        case "kubernetes.io/dockerconfigjson": candidates = [".dockerconfigjson"]
        case "kubernetes.io/dockercfg": candidates = [".dockercfg"]
        case "kubernetes.io/basic-auth":
            let registries = (secret.metadata.annotations ?? [:]).filter { $0.key.hasPrefix("tekton.dev/docker-") }
                .sorted { $0.key < $1.key }.map(\.value)
            let user = secret.value(forKey: "username").map { String(decoding: $0, as: UTF8.self) } ?? ""
            let password = secret.value(forKey: "password").map { String(decoding: $0, as: UTF8.self) } ?? ""
            for registry in registries {
                keyring.add(
                    key: registry,
                    SourcedCredential(
                        Credential(username: user, password: password),
                        source: .init(
                            kind: kind, origin: ref, key: "basic-auth for \(registry)", serviceAccount: serviceAccount))
                )
            }
            return (keyring, warnings)
        default: candidates = [".dockerconfigjson", "config.json", ".dockercfg"]
        }
        guard let key = candidates.first(where: { secret.value(forKey: $0).map { !$0.isEmpty } ?? false }),
            let data = secret.value(forKey: key)
        else {
            if candidates.count == 1 {
                warnings.append(
                    CredentialWarning(source: "Secret \(ref)", message: "type \(type) but no \(candidates[0]) data"))
            }
            return (keyring, warnings)
        }
        do {
            var (config, problems) = try DockerConfig.parse(data)
            for p in problems { warnings.append(CredentialWarning(source: "Secret \(ref) \(key)", message: p)) }
            warnings += storeWarnings(config, source: "Secret \(ref) \(key)")
            config.auths = config.auths.filter { !$0.value.isAnonymous }
            let skipped = keyring.add(config) { entryKey in
                CredentialSource(kind: kind, origin: ref, key: entryKey, serviceAccount: serviceAccount)
            }
            for s in skipped {
                warnings.append(
                    CredentialWarning(
                        source: "Secret \(ref) \(key)", message: "entry \"\(s)\" is not a registry name; ignored"))
            }
        } catch {
            warnings.append(CredentialWarning(source: "Secret \(ref) \(key)", message: error.description))
        }
        return (keyring, warnings)
    }
}

extension SecretCredentials {
    /// The trap the setup docs warn of: a Secret made from a docker config whose credentials are kept in a credential
    /// store (`credsStore`, `credHelpers`) holds entries without credentials. Each is named, with what to do.
    static func storeWarnings(_ config: DockerConfig, source: String) -> [CredentialWarning] {
        var out: [CredentialWarning] = []
        let fix =
            "make the Secret from a docker config that holds the credential itself (remove \"credsStore\" and "
            + "\"credHelpers\" from config.json, run docker login again, then recreate the Secret from that file), or "
            + "create it with kubectl create secret docker-registry NAME --docker-server=REGISTRY "
            + "--docker-username=USER --docker-password=PASSWORD"
        var stores: [String] = []
        if let store = config.credsStore { stores.append("\"credsStore\": \"\(store)\"") }
        for (host, helper) in config.credHelpers.sorted(by: { $0.key < $1.key }) {
            stores.append("\"credHelpers\": \"\(host)\" → \"\(helper)\"")
        }
        if !stores.isEmpty {
            out.append(
                CredentialWarning(
                    source: source,
                    message:
                        "names a credential store (\(stores.joined(separator: ", "))), which exists only on the machine "
                        + "the config was made on: the controller cannot ask it; \(fix)",
                    isMisconfiguration: true))
        }
        for (entry, credential) in config.auths.sorted(by: { $0.key < $1.key }) where credential.isAnonymous {
            out.append(
                CredentialWarning(
                    source: source,
                    message:
                        "entry \"\(entry)\" holds no credential (no \"auth\", \"username\"/\"password\" or "
                        + "\"identitytoken\")\(stores.isEmpty ? "" : "; its credential is in the credential store")"
                        + " — it is not used; \(fix)",
                    isMisconfiguration: true))
        }
        return out
    }
}

extension CredentialWarning: Error {}
