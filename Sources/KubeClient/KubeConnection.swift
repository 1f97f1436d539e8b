import Foundation
import HTTPTransport
import KubeModels

/// Where the API server is and how to authenticate: from inside a Pod (the ServiceAccount's token, CA and
/// namespace) or from a kubeconfig (current context: server, CA, bearer token or token file).
package struct KubeConnection: Sendable {
    package var server: URL
    /// A PEM CA bundle for the server's certificate; nil: the system trust store.
    package var caFile: String?
    /// `insecure-skip-tls-verify` in a kubeconfig.
    package var insecure: Bool
    package var token: BearerToken
    /// The namespace of the context (or of the Pod).
    package var namespace: String

    package init(server: URL, caFile: String? = nil, insecure: Bool = false, token: BearerToken, namespace: String) {
        self.server = server
        self.caFile = caFile
        self.insecure = insecure
        self.token = token
        self.namespace = namespace
    }

    /// The default ServiceAccount mount inside a Pod.
    package static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// In a Pod: `KUBERNETES_SERVICE_HOST`/`_PORT`, and the mounted token (re-read as it rotates), CA and namespace.
    package static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        directory: String = serviceAccountDirectory
    ) throws(KubeError) -> KubeConnection {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw KubeError(
                reason: "not running in a cluster: KUBERNETES_SERVICE_HOST/PORT are unset; give --kubeconfig FILE")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        guard let server = URL(string: "https://\(hostPart):\(port)") else {
            throw KubeError(reason: "KUBERNETES_SERVICE_HOST/PORT do not make a URL: \(host):\(port)")
        }
        let tokenFile = directory + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenFile) else {
            throw KubeError(reason: "the ServiceAccount token \(tokenFile) cannot be read")
        }
        let namespace =
            (try? String(contentsOfFile: directory + "/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "default"
        let ca = directory + "/ca.crt"
        return KubeConnection(
            server: server, caFile: FileManager.default.fileExists(atPath: ca) ? ca : nil,
            token: .file(tokenFile), namespace: namespace)
    }

    /// A kubeconfig's current context (or `context`): the cluster's `server`, `certificate-authority(-data)`,
    /// `insecure-skip-tls-verify`; the user's `token` or `tokenFile`. Client certificates and exec plugins are
    /// refused by name (not served yet).
    package static func kubeconfig(path: String, context wanted: String? = nil) throws(KubeError) -> KubeConnection {
        let config: JSONValue
        do {
            config = try ManifestReader.read(file: URL(fileURLWithPath: path)).documents.first ?? .null
        } catch {
            throw KubeError(reason: "\(path): \(error)")
        }
        func named(_ list: String, _ name: String) -> JSONValue? {
            config[list]?.arrayValue?.first { $0["name"]?.stringValue == name }
        }
        guard let contextName = wanted ?? config["current-context"]?.stringValue,
            let context = named("contexts", contextName)?["context"]
        else { throw KubeError(reason: "\(path): no context \(wanted ?? "(current-context unset)")") }
        guard let clusterName = context["cluster"]?.stringValue,
            let cluster = named("clusters", clusterName)?["cluster"],
            let server = cluster["server"]?.stringValue.flatMap(URL.init(string:))
        else { throw KubeError(reason: "\(path): context \(contextName) names no cluster with a server") }
        var caFile = cluster["certificate-authority"]?.stringValue
        if let data = cluster["certificate-authority-data"]?.stringValue.flatMap({ Data(base64Encoded: $0) }) {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("kube-ca-\(UUID().uuidString).pem")
            do { try data.write(to: file) } catch { throw KubeError(reason: "cannot write the cluster CA: \(error)") }
            caFile = file.path
        }
        let user = context["user"]?.stringValue.flatMap { named("users", $0)?["user"] } ?? .null
        let token: BearerToken
        if let text = user["token"]?.stringValue {
            token = .fixed(text)
        } else if let file = user["tokenFile"]?.stringValue {
            token = .file(file)
        } else if user["client-certificate"] != nil || user["client-certificate-data"] != nil || user["exec"] != nil {
            throw KubeError(
                reason:
                    "\(path): user of context \(contextName) authenticates with a client certificate or an exec plugin, which Chains in Swift does not serve yet; use a token"
            )
        } else {
            token = .none
        }
        return KubeConnection(
            server: server, caFile: caFile, insecure: cluster["insecure-skip-tls-verify"] == .bool(true), token: token,
            namespace: context["namespace"]?.stringValue ?? "default")
    }

    /// The transport policy for this server: its CA, or no verification when the kubeconfig says so.
    package var policy: ConnectionPolicy {
        let host = server.hostAndPort
        if server.scheme == "http" { return ConnectionPolicy(registries: [host: .init(.plainHTTP)]) }
        if insecure { return ConnectionPolicy(registries: [host: .init(.insecureSkipVerify)]) }
        if let caFile { return ConnectionPolicy(registries: [host: .init(.customCA(path: caFile))]) }
        return ConnectionPolicy()
    }
}

/// The bearer token for the API server: fixed, none, or a file re-read when it changes (projected ServiceAccount
/// tokens rotate about hourly).
package enum BearerToken: Sendable {
    case none
    case fixed(String)
    case file(String)

    func current() throws(KubeError) -> String? {
        switch self {
        case .none: return nil
        case .fixed(let t): return t
        case .file(let path):
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw KubeError(reason: "the token file \(path) cannot be read")
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}
