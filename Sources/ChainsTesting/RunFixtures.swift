import Foundation

/// Manifests for registry scenarios: a finished TaskRun that built `image@digest`, and the Secrets and
/// ServiceAccounts a cluster would hold.
package enum RunFixtures {
    package static func taskRun(
        image: String, digest: String, namespace: String = "team-a", serviceAccount: String = "builder",
        podTemplatePullSecrets: [String] = [], name: String = "build-1"
    ) -> String {
        var podTemplate = ""
        if !podTemplatePullSecrets.isEmpty {
            podTemplate =
                "  podTemplate:\n    imagePullSecrets:\n"
                + podTemplatePullSecrets.map { "      - name: \($0)\n" }.joined()
        }
        return """
            apiVersion: tekton.dev/v1
            kind: TaskRun
            metadata:
              name: \(name)
              namespace: \(namespace)
              uid: 11111111-2222-4333-8444-\(String(format: "%012d", abs(name.hashValue) % 1_000_000_000_000))
            spec:
              serviceAccountName: \(serviceAccount)
              taskRef: {name: kaniko, kind: Task}
            \(podTemplate)status:
              startTime: "2026-11-27T10:00:00Z"
              completionTime: "2026-11-27T10:02:00Z"
              conditions: [{type: Succeeded, status: "True"}]
              steps:
                - {name: build, container: step-build, imageID: "gcr.io/kaniko-project/executor@sha256:a079bde98fbccdc754fca6d0f7c2ecf5d84c8275499241f8a7bd86929cf49605"}
              results:
                - {name: IMAGE_URL, value: "\(image)"}
                - {name: IMAGE_DIGEST, value: "\(digest)"}

            """
    }

    /// A `kubernetes.io/dockerconfigjson` Secret for `registry` with user/password.
    package static func dockerConfigSecret(
        name: String, namespace: String = "team-a", registry: String, username: String, password: String,
        type: String = "kubernetes.io/dockerconfigjson", key: String = ".dockerconfigjson"
    ) -> String {
        let auth = Data("\(username):\(password)".utf8).base64EncodedString()
        let config = #"{"auths":{"\#(registry)":{"auth":"\#(auth)"}}}"#
        return """
            apiVersion: v1
            kind: Secret
            metadata: {name: \(name), namespace: \(namespace)}
            type: \(type)
            data:
              \(key): \(Data(config.utf8).base64EncodedString())

            """
    }

    package static func serviceAccount(
        name: String = "builder", namespace: String = "team-a", secrets: [String] = [], imagePullSecrets: [String] = []
    ) -> String {
        var y = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: \(name), namespace: \(namespace)}\n"
        if !secrets.isEmpty { y += "secrets:\n" + secrets.map { "  - name: \($0)\n" }.joined() }
        if !imagePullSecrets.isEmpty {
            y += "imagePullSecrets:\n" + imagePullSecrets.map { "  - name: \($0)\n" }.joined()
        }
        return y
    }

    /// chains-config pushing everything to OCI (and keeping tekton annotations).
    package static let ociConfig = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: chains-config, namespace: tekton-chains}
        data:
          artifacts.taskrun.format: slsa/v1
          artifacts.taskrun.storage: oci,tekton
          artifacts.oci.storage: oci,tekton

        """
}
