import ChainsConfig
import ChainsTesting
import Controller
import Foundation
import KubeModels
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `config/` as `kubectl kustomize` renders it (Debian's kubernetes-client): parsed, checked against the schema-level
/// rules a cluster would apply, every name it references present, the flags it passes known to `chains controller`.
@Suite("config/ manifests")
struct ManifestTests {
    static func render(_ directory: String) async throws -> [JSONValue] {
        guard
            let kubectl = ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else {
            throw MissingTool(
                description: "kubectl is not installed; run scripts/test.sh (it installs kubernetes-client)")
        }
        let path = PackagePaths.root.appendingPathComponent(directory).path
        let result = try await runProcess(kubectl, ["kustomize", path])
        guard result.status == 0 else {
            throw MissingTool(description: "kubectl kustomize \(directory): \(result.stderr)")
        }
        return try ManifestReader.parse(Data(result.stdout.utf8), source: directory).documents
    }

    struct Rendered {
        var objects: [JSONValue]
        func all(_ kind: String) -> [JSONValue] { objects.filter { $0["kind"]?.stringValue == kind } }
        func one(_ kind: String, _ name: String) -> JSONValue? {
            all(kind).first { $0["metadata"]?["name"]?.stringValue == name }
        }
        var deployment: JSONValue? { one("Deployment", "tekton-chains-controller") }
        var pod: JSONValue? { deployment?["spec"]?["template"] }
        var container: JSONValue? { pod?["spec"]?["containers"]?.arrayValue?.first }
        func strings(_ value: JSONValue?) -> [String] { (value?.arrayValue ?? []).compactMap(\.stringValue) }
        func labels(_ value: JSONValue?) -> [String: String] {
            (value?.objectValue ?? [:]).compactMapValues(\.stringValue)
        }
        func env(_ name: String) -> String? {
            container?["env"]?.arrayValue?.first { $0["name"]?.stringValue == name }?["value"]?.stringValue
        }
        func volume(mountedAbove path: String) -> JSONValue? {
            let mounts = container?["volumeMounts"]?.arrayValue ?? []
            guard
                let mount = mounts.first(where: {
                    guard let at = $0["mountPath"]?.stringValue else { return false }
                    return path == at || path.hasPrefix(at.hasSuffix("/") ? at : at + "/")
                }), let name = mount["name"]?.stringValue
            else { return nil }
            return pod?["spec"]?["volumes"]?.arrayValue?.first { $0["name"]?.stringValue == name }
        }
    }

    @Test("base: names resolve, the Pod is restricted and writes only to its volumes, RBAC is least privilege")
    func base() async throws {
        let r = Rendered(objects: try await Self.render("config"))
        #expect(r.objects.allSatisfy { $0["apiVersion"] != nil && $0["metadata"]?["name"] != nil })
        let namespaced = r.objects.filter {
            !["Namespace", "ClusterRole", "ClusterRoleBinding"].contains($0["kind"]?.stringValue ?? "")
        }
        #expect(namespaced.allSatisfy { $0["metadata"]?["namespace"] == "tekton-chains" })
        #expect(
            r.one("Namespace", "tekton-chains")?["metadata"]?["labels"]?["pod-security.kubernetes.io/enforce"]
                == "restricted")
        let spec = try #require(r.pod?["spec"])
        let container = try #require(r.container)
        // Names it refers to exist.
        #expect(r.one("ServiceAccount", spec["serviceAccountName"]?.stringValue ?? "") != nil)
        let volumes = spec["volumes"]?.arrayValue ?? []
        let volumeNames = Set(volumes.compactMap { $0["name"]?.stringValue })
        for mount in container["volumeMounts"]?.arrayValue ?? [] {
            #expect(volumeNames.contains(mount["name"]?.stringValue ?? ""), "\(mount)")
        }
        for volume in volumes {
            if let secret = volume["secret"]?["secretName"]?.stringValue { #expect(r.one("Secret", secret) != nil) }
            #expect(volume["hostPath"] == nil, "the base uses no hostPath")
        }
        let selector = r.labels(r.deployment?["spec"]?["selector"]?["matchLabels"])
        let podLabels = r.labels(r.pod?["metadata"]?["labels"])
        #expect(!selector.isEmpty && selector.allSatisfy { podLabels[$0.key] == $0.value })
        let service = try #require(r.one("Service", "tekton-chains-metrics"))
        #expect(r.labels(service["spec"]?["selector"]).allSatisfy { podLabels[$0.key] == $0.value })
        let ports = (container["ports"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        #expect(ports.contains(service["spec"]?["ports"]?.arrayValue?.first?["targetPort"]?.stringValue ?? "?"))
        for probe in ["livenessProbe", "readinessProbe"] {
            #expect(ports.contains(container[probe]?["httpGet"]?["port"]?.stringValue ?? "?"))
        }
        #expect(container["livenessProbe"]?["httpGet"]?["path"] == "/healthz")
        #expect(container["readinessProbe"]?["httpGet"]?["path"] == "/readyz")
        // Restricted Pod Security: non-root, no escalation, no capabilities, RuntimeDefault seccomp, read-only root.
        #expect(spec["securityContext"]?["runAsNonRoot"] == .bool(true))
        #expect(spec["securityContext"]?["seccompProfile"]?["type"] == "RuntimeDefault")
        let security = container["securityContext"]
        #expect(
            security?["allowPrivilegeEscalation"] == .bool(false) && security?["readOnlyRootFilesystem"] == .bool(true))
        #expect(r.strings(security?["capabilities"]?["drop"]) == ["ALL"])
        #expect(
            container["resources"]?["requests"]?["memory"] != nil && container["resources"]?["limits"]?["memory"] != nil
        )
        // Where it writes under the read-only root: HOME (the TUF cache) and /tmp are volumes.
        for path in [try #require(r.env("HOME")) + "/.cache/chains/tuf", "/tmp/chains-config.json"] {
            #expect(r.volume(mountedAbove: path)?["emptyDir"] != nil, "\(path) is not on a writable volume")
        }
        let token = try #require(r.volume(mountedAbove: "/var/run/sigstore/cosign/oidc-token"))
        let projected = token["projected"]?["sources"]?.arrayValue?.first?["serviceAccountToken"]
        #expect(projected?["audience"] == "sigstore" && projected?["path"] == "oidc-token")
        let envNames = (container["env"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        #expect(Set(["SYSTEM_NAMESPACE", "POD_NAME", "CONFIG_LEADERELECTION_NAME"]).isSubset(of: envNames))
        // Its configuration parses as the controller reads it.
        let config = (r.one("ConfigMap", "chains-config")?["data"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        if case .failure(let errors) = ChainsConfig.parse(config) { Issue.record("chains-config: \(errors)") }
        let election = try #require(r.one("ConfigMap", "tekton-chains-config-leader-election")?["data"]?.objectValue)
        _ = try LeaderElectionSettings.parse(election.compactMapValues(\.stringValue))
        try await checkRBAC(r)
        try await checkFlags(r.strings(container["args"]))
    }

    func checkRBAC(_ r: Rendered) async throws {
        for binding in r.all("ClusterRoleBinding") + r.all("RoleBinding") {
            let kind = binding["roleRef"]?["kind"]?.stringValue ?? ""
            #expect(r.one(kind, binding["roleRef"]?["name"]?.stringValue ?? "") != nil, "\(binding)")
            for subject in binding["subjects"]?.arrayValue ?? [] {
                #expect(r.one("ServiceAccount", subject["name"]?.stringValue ?? "") != nil)
            }
        }
        // Cluster-wide it only reads what registry credentials need, patches runs and creates events.
        var granted: [String: Set<String>] = [:]
        for rule in r.all("ClusterRole").flatMap({ $0["rules"]?.arrayValue ?? [] }) {
            for resource in r.strings(rule["resources"]) {
                granted[resource, default: []].formUnion(r.strings(rule["verbs"]))
            }
        }
        #expect(granted["taskruns"] == ["get", "list", "watch", "patch"])
        #expect(granted["pipelineruns"] == ["get", "list", "watch", "patch"])
        for resource in ["secrets", "serviceaccounts", "pods"] { #expect(granted[resource] == ["get"], "\(resource)") }
        #expect(granted["events"] == ["create"])
        #expect(Set(granted.keys) == ["taskruns", "pipelineruns", "secrets", "serviceaccounts", "pods", "events"])
        #expect(!granted.values.contains { $0.contains("*") })
    }

    func checkFlags(_ args: [String]) async throws {
        #expect(args.first == "controller")
        let help = try await runProcess(try CLITests.binary(), ["controller", "--help"])
        for flag in args where flag.hasPrefix("--") {
            #expect(help.stdout.contains(flag), "\(flag) is not a chains controller flag")
        }
    }

    @Test("RBAC: every request the controller made while signing and stopping is one config/ allows")
    func rbacCoversRequests() async throws {
        let r = Rendered(objects: try await Self.render("config"))
        let fleet = try await ControllerFleet(binary: try CLITests.binary(), transparency: false)
        var accesses: Set<KubeAPIServer.Access> = []
        do {
            let runs = try await fleet.addRuns(3)
            try fleet.start("replica-0")
            for _ in 0..<300 where !runs.allSatisfy({ fleet.isSigned($0.name) }) {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(runs.allSatisfy { fleet.isSigned($0.name) })
            await fleet.stop("replica-0", signal: SIGTERM)  // hands the Leases back, deletes its member Lease
            accesses = fleet.api.stats.accesses
        } catch {
            await fleet.shutdown()
            throw error
        }
        await fleet.shutdown()
        func rules(_ kind: String) -> [(namespace: String?, rule: JSONValue)] {
            r.all(kind).flatMap { role in
                (role["rules"]?.arrayValue ?? []).map { (role["metadata"]?["namespace"]?.stringValue, $0) }
            }
        }
        func allows(_ rule: JSONValue, _ a: KubeAPIServer.Access) -> Bool {
            r.strings(rule["apiGroups"]).contains(a.group) && r.strings(rule["resources"]).contains(a.resource)
                && r.strings(rule["verbs"]).contains(a.verb)
        }
        let cluster = rules("ClusterRole").map(\.rule)
        let namespaced = rules("Role")
        for access in accesses.sorted(by: { $0.description < $1.description }) {
            let allowed =
                cluster.contains { allows($0, access) }
                || namespaced.contains { $0.namespace == access.namespace && allows($0.rule, access) }
            #expect(allowed, "the controller did \(access), which config/ does not grant")
        }
        // What it did at least: the runs patched, Leases written, Events made.
        let done = Set(accesses.map { "\($0.verb) \($0.resource)" })
        #expect(
            done.isSuperset(of: [
                "patch taskruns", "create events", "update leases", "delete leases", "watch configmaps",
            ]))
    }

    @Test("SPIFFE overlays: the socket SPIFFE_ENDPOINT_SOCKET names is on a hostPath or csi.spiffe.io volume")
    func spiffeOverlays() async throws {
        for (overlay, check) in [
            ("config/overlays/spiffe-hostpath", { (v: JSONValue) in v["hostPath"]?["path"] == "/run/spire/sockets" }),
            ("config/overlays/spiffe-csi", { (v: JSONValue) in v["csi"]?["driver"] == "csi.spiffe.io" }),
        ] {
            let r = Rendered(objects: try await Self.render(overlay))
            let socket = try #require(r.env("SPIFFE_ENDPOINT_SOCKET"), "\(overlay)")
            #expect(socket.hasPrefix("unix:///"))
            let volume = try #require(r.volume(mountedAbove: String(socket.dropFirst("unix://".count))), "\(overlay)")
            #expect(check(volume), "\(overlay): \(volume)")
            let config = (r.one("ConfigMap", "chains-config")?["data"]?.objectValue ?? [:]).compactMapValues(
                \.stringValue)
            guard case .success(let parsed) = ChainsConfig.parse(config) else {
                Issue.record("\(overlay): chains-config does not parse")
                continue
            }
            #expect(parsed.config.fulcioEnabled && config["signers.x509.fulcio.provider"] == "spiffe")
            // The base is kept: the projected token, the signing secrets, the security context.
            #expect(r.volume(mountedAbove: "/etc/signing-secrets/x509.pem") != nil)
            #expect(r.container?["securityContext"]?["readOnlyRootFilesystem"] == .bool(true))
            let level = r.one("Namespace", "tekton-chains")?["metadata"]?["labels"]?[
                "pod-security.kubernetes.io/enforce"]
            // hostPath needs a privileged namespace; the CSI driver works under restricted.
            #expect(level == (overlay.hasSuffix("hostpath") ? "privileged" : "restricted"))
        }
    }
}
