import ChainsTesting
import Foundation
import KubeModels
import OCI
import Testing

@testable import RegistryAuth

func cred(_ user: String) -> SourcedCredential {
    SourcedCredential(
        Credential(username: user, password: "pw-\(user)"), source: .init(kind: .dockerConfig, origin: "t", key: user))
}

@Suite("Keyring matching as the kubelet does it")
struct KeyringTests {
    @Test(
        "keys are normalised",
        arguments: [
            ("https://index.docker.io/v1/", "index.docker.io"), ("docker.io", "index.docker.io"),
            ("registry-1.docker.io", "index.docker.io"), ("quay.io/coreos", "quay.io/coreos"),
            ("http://reg:5000/v2/", "reg:5000"), ("https://gcr.io/proj/", "gcr.io/proj"), ("*.gcr.io", "*.gcr.io"),
        ])
    func normalise(raw: String, key: String) {
        #expect(Keyring.normaliseKey(raw) == key)
    }

    @Test(
        "matching: wildcards by equal label count, exact ports, path prefixes",
        arguments: [
            ("*.gcr.io", "us.gcr.io/p/app", true), ("*.gcr.io", "gcr.io/p/app", false),
            ("*.gcr.io", "a.b.gcr.io/p/app", false),
            ("reg:5000", "reg:5000/app", true), ("reg:5000", "reg/app", false), ("reg", "reg:5000/app", false),
            ("quay.io/team", "quay.io/team/app", true), ("quay.io/team", "quay.io/other/app", false),
            ("quay.io/te", "quay.io/team/app", true),  // plain string prefix, as the kubelet does
            ("*.example.com:5000", "reg.example.com:5000/x", true),
            // A key must not match a longer host that merely starts with it: another owner's domain.
            ("registry.example.com", "registry.example.com.evil.io/team/app", false),
            ("*.example.com", "reg.example.com.evil.io/team/app", false),
            ("registry.example.com", "evil.registry.example.com/team/app", false),
        ])
    func matching(key: String, image: String, matches: Bool) {
        var k = Keyring()
        k.add(key: key, cred("u"))
        #expect(!k.lookup(image).isEmpty == matches)
    }

    @Test("the most specific key comes first; all matches are returned")
    func order() {
        var k = Keyring()
        k.add(key: "quay.io", cred("registry-wide"))
        k.add(key: "quay.io/team/app", cred("repo"))
        k.add(key: "quay.io/team", cred("team"))
        #expect(k.lookup("quay.io/team/app").map(\.credential.username) == ["repo", "team", "registry-wide"])
    }

    @Test("Docker Hub images fall back to the index.docker.io entry")
    func dockerHub() {
        var k = Keyring()
        k.add(key: "https://index.docker.io/v1/", cred("hub"))
        #expect(k.lookup("index.docker.io/library/busybox").map(\.credential.username) == ["hub"])
        #expect(k.lookup("busybox").map(\.credential.username) == ["hub"])
        #expect(k.lookup("ghcr.io/x/y").isEmpty)
    }
}

@Suite("docker config.json and credential helpers")
struct DockerConfigTests {
    @Test("auth, username/password, identitytoken, registrytoken and legacy .dockercfg entries are read")
    func parse() throws {
        let json = #"""
            {"auths":{
              "a.example.com":{"auth":"dXNlcjpwYTpzcw=="},
              "b.example.com":{"username":"u2","password":"p2"},
              "c.example.com":{"identitytoken":"refresh-123"},
              "d.example.com":{"registrytoken":"bearer-xyz"},
              "e.example.com":{"auth":"dXNlcjpwYXNz"},
              "bad.example.com":{"auth":"!!!"}
            },"credHelpers":{"gcr.io":"gcloud"},"credsStore":"pass"}
            """#
        let (config, problems) = try DockerConfig.parse(Data(json.utf8))
        #expect(config.auths["a.example.com"] == Credential(username: "user", password: "pa:ss"))
        #expect(config.auths["b.example.com"] == Credential(username: "u2", password: "p2"))
        #expect(config.auths["c.example.com"]?.identityToken == "refresh-123")
        #expect(config.auths["d.example.com"]?.registryToken == "bearer-xyz")
        #expect(config.auths["e.example.com"] == Credential(username: "user", password: "pass"))
        #expect(config.credHelpers == ["gcr.io": "gcloud"])
        #expect(config.credsStore == "pass")
        #expect(problems == ["entry \"bad.example.com\": \"auth\" is not base64 of user:password"])
        let legacy = try DockerConfig.parse(
            Data(#"{"https://index.docker.io/v1/":{"auth":"dTpw","email":"x@y"}}"#.utf8)
        ).config
        #expect(legacy.auths["https://index.docker.io/v1/"] == Credential(username: "u", password: "p"))
        #expect(throws: DockerConfig.FormatError.self) { try DockerConfig.parse(Data("[]".utf8)) }
    }

    @Test("credentials never show in descriptions")
    func redacted() {
        let c = Credential(username: "u", password: "hunter2", identityToken: "", registryToken: "")
        #expect(c.description == "user u")
        #expect(Credential(identityToken: "tok").description == "identity token")
        #expect(!"\(c)".contains("hunter2"))
    }

    @Test("a credential helper is run with the helper protocol; <token> usernames become identity tokens")
    func helper() async throws {
        let dir = try TemporaryDirectory()
        let script = dir.file("docker-credential-fake")
        try dir.write(
            "docker-credential-fake",
            """
            #!/bin/sh
            read server
            echo "$server" >> "$(dirname "$0")/calls.log"
            case "$server" in
              reg.example.com) echo '{"ServerURL":"reg.example.com","Username":"helper-user","Secret":"helper-secret"}' ;;
              tok.example.com) echo '{"ServerURL":"tok.example.com","Username":"<token>","Secret":"refresh-tok"}' ;;
              *) echo "credentials not found in native keychain"; exit 1 ;;
            esac
            """)
        chmod(script.path, 0o755)
        let helper = CredentialHelper(name: "fake", searchPath: [dir.url.path])
        #expect(
            try await helper.get("reg.example.com") == Credential(username: "helper-user", password: "helper-secret"))
        #expect(try await helper.get("tok.example.com") == Credential(identityToken: "refresh-tok"))
        #expect(try await helper.get("other.example.com") == nil)
        await #expect(throws: CredentialWarning.self) {
            try await CredentialHelper(name: "missing", searchPath: [dir.url.path]).get("x")
        }

        let local = LocalDockerConfig(
            path: "config.json",
            config: DockerConfig(
                auths: ["reg.example.com": Credential(username: "file-user", password: "x")], credsStore: "fake"),
            helperSearchPath: [dir.url.path])
        let found = await local.lookup(try ImageReference(parsingRepository: "reg.example.com/team/app")).credentials
        #expect(found.map(\.credential.username) == ["helper-user"])
        // Asked once for the registry, not once per lookup key.
        try? FileManager.default.removeItem(at: dir.file("calls.log"))
        let none = LocalDockerConfig(
            path: "config.json", config: DockerConfig(credsStore: "fake"), helperSearchPath: [dir.url.path])
        let other = try ImageReference(parsingRepository: "other.example.com/team/app")
        #expect(await none.lookup(other).credentials.isEmpty)
        #expect(try String(contentsOf: dir.file("calls.log"), encoding: .utf8) == "other.example.com\n")
        #expect(found.first?.source.kind == .credentialHelper)
    }

    @Test("docker's lookup: exact key, then by host name; Docker Hub under https://index.docker.io/v1/")
    func localLookup() async throws {
        let local = LocalDockerConfig(
            path: "/home/u/.docker/config.json",
            config: DockerConfig(auths: [
                "https://reg.example.com/v1/": Credential(username: "by-host", password: "x"),
                "https://index.docker.io/v1/": Credential(username: "hub", password: "x"),
            ]))
        func users(_ repository: String) async throws -> [String] {
            await local.lookup(try ImageReference(parsingRepository: repository)).credentials.map(\.credential.username)
        }
        #expect(try await users("reg.example.com/a/b") == ["by-host"])
        #expect(try await users("busybox") == ["hub"])
        #expect(try await users("ghcr.io/a/b").isEmpty)
    }

    @Test("a credential helper that exits without reading its input: a warning naming it, and this process lives on")
    func helperExitsAtOnce() async throws {
        let dir = try TemporaryDirectory()
        try dir.write("docker-credential-broken", "#!/bin/sh\nexec 0<&-\necho 'no keychain here'\nexit 1\n")
        chmod(dir.file("docker-credential-broken").path, 0o755)
        let helper = CredentialHelper(name: "broken", searchPath: [dir.url.path])
        // The write of the server URL races the helper's exit; a broken pipe used to end the whole process
        // (SIGPIPE) — seen within 300 calls on a loaded machine. Many calls, so the race is run often.
        for _ in 0..<100 {
            do {
                _ = try await helper.get("reg.example.com")
                Issue.record("a failing helper gave a credential")
            } catch {
                #expect("\(error)".contains("docker-credential-broken: get reg.example.com failed: no keychain here"))
            }
        }
    }

    @Test("a credential helper that never answers is stopped at its time limit, named, and the lookup goes on")
    func hangingHelper() async throws {
        let dir = try TemporaryDirectory()
        try dir.write(
            "docker-credential-stuck",
            """
            #!/bin/sh
            echo $$ > "$(dirname "$0")/pid"
            exec sleep 60
            """)
        chmod(dir.file("docker-credential-stuck").path, 0o755)
        let local = LocalDockerConfig(
            path: "config.json", config: DockerConfig(credHelpers: ["stuck.example.com": "stuck"]),
            helperSearchPath: [dir.url.path], helperTimeout: .milliseconds(500))
        let (found, warnings) = await local.lookup(try ImageReference(parsingRepository: "stuck.example.com/team/app"))
        #expect(found.isEmpty)
        #expect(warnings.count == 1)
        let message = warnings.first.map { "\($0)" } ?? ""
        #expect(message.contains("docker-credential-stuck"), "\(message)")
        #expect(
            message.contains("get stuck.example.com did not answer within 0.5 seconds and was stopped"), "\(message)")
        // The helper itself is gone (SIGTERM, or SIGKILL a second later), not left running.
        let pid = try #require(
            Int32(String(contentsOf: dir.file("pid"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        var gone = false
        for _ in 0..<100 where !gone {
            gone = kill(pid, 0) != 0
            if !gone { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(gone, "the helper (pid \(pid)) is still running")
    }
}

/// Objects held in memory, for resolver tests.
struct Objects: ClusterObjects {
    var secrets: [String: Secret] = [:]
    var accounts: [String: ServiceAccount] = [:]
    var pods: [String: Pod] = [:]
    func secret(namespace: String, name: String) async throws -> Secret? { secrets["\(namespace)/\(name)"] }
    func serviceAccount(namespace: String, name: String) async throws -> ServiceAccount? {
        accounts["\(namespace)/\(name)"]
    }
    func pod(namespace: String, name: String) async throws -> Pod? { pods["\(namespace)/\(name)"] }
}

func dockerSecret(
    _ name: String, ns: String = "ci", type: String = "kubernetes.io/dockerconfigjson",
    key: String = ".dockerconfigjson", registry: String, user: String
) -> Secret {
    let auth = Data("\(user):pw".utf8).base64EncodedString()
    let body =
        key == ".dockercfg"
        ? #"{"\#(registry)":{"auth":"\#(auth)"}}"# : #"{"auths":{"\#(registry)":{"auth":"\#(auth)"}}}"#
    return Secret(
        metadata: ObjectMeta(name: name, namespace: ns), type: type, data: [key: Data(body.utf8).base64EncodedString()])
}

@Suite("Where a run's push credentials come from")
struct ResolverTests {
    let image = try! ImageReference(parsingRepository: "reg.example.com/team/app")

    @Test("order: SA secrets, pod template imagePullSecrets, SA imagePullSecrets, docker config, anonymous")
    func order() async throws {
        var objects = Objects()
        objects.accounts["ci/builder"] = ServiceAccount(
            metadata: ObjectMeta(name: "builder", namespace: "ci"), secrets: [ObjectReference(name: "sa-secret")],
            imagePullSecrets: [LocalObjectReference(name: "sa-pull")])
        objects.secrets["ci/sa-secret"] = dockerSecret(
            "sa-secret", registry: "reg.example.com", user: "from-sa-secrets")
        objects.secrets["ci/pod-pull"] = dockerSecret(
            "pod-pull", type: "kubernetes.io/dockercfg", key: ".dockercfg", registry: "reg.example.com",
            user: "from-pod-template")
        objects.secrets["ci/sa-pull"] = dockerSecret(
            "sa-pull", type: "Opaque", key: "config.json", registry: "https://reg.example.com/v1/", user: "from-sa-pull"
        )
        let local = LocalDockerConfig(
            path: "cfg",
            config: DockerConfig(auths: ["reg.example.com": Credential(username: "from-docker-config", password: "x")]))
        let r = await CredentialSearch(dockerConfig: local).keychain(
            for: RunCredentialScope(namespace: "ci", serviceAccount: "builder", podTemplatePullSecrets: ["pod-pull"]),
            objects: objects
        ).resolve(image)
        #expect(
            r.candidates.map(\.credential.username) == [
                "from-sa-secrets", "from-pod-template", "from-sa-pull", "from-docker-config", "",
            ])
        #expect(
            r.candidates.map(\.source.kind) == [
                .serviceAccountSecret, .podTemplatePullSecret, .serviceAccountPullSecret, .dockerConfig, .anonymous,
            ])
        #expect(
            r.candidates[0].source.description
                == "secret ci/sa-secret (ServiceAccount secrets of ci/builder), entry \"reg.example.com\"")
        #expect(r.warnings.isEmpty)
    }

    @Test(
        "missing ServiceAccount and Secrets are warnings; secrets of the wrong type are reported; the default SA is used"
    )
    func missing() async throws {
        var objects = Objects()
        objects.accounts["ci/default"] = ServiceAccount(
            metadata: ObjectMeta(name: "default", namespace: "ci"),
            secrets: [ObjectReference(name: "gone"), ObjectReference(name: "empty")])
        objects.secrets["ci/empty"] = Secret(
            metadata: ObjectMeta(name: "empty", namespace: "ci"), type: "kubernetes.io/dockerconfigjson", data: [:])
        let r = await CredentialSearch(dockerConfig: nil).keychain(
            for: RunCredentialScope(namespace: "ci", serviceAccount: "", podTemplatePullSecrets: ["also-gone"]),
            objects: objects
        ).resolve(image)
        #expect(r.candidates.map(\.source.kind) == [.anonymous])
        let text = r.warnings.map(\.description)
        #expect(text.contains("Secret ci/gone: not found (listed in ServiceAccount secrets)"))
        #expect(text.contains("Secret ci/empty: type kubernetes.io/dockerconfigjson but no .dockerconfigjson data"))
        #expect(text.contains("Secret ci/also-gone: not found (listed in pod template imagePullSecrets)"))
        let none = await CredentialSearch(dockerConfig: nil).keychain(
            for: RunCredentialScope(namespace: "", serviceAccount: "", podTemplatePullSecrets: []),
            objects: Objects()
        ).resolve(image)
        #expect(
            none.warnings.map(\.description) == ["ServiceAccount default/default: not found; its secrets are not used"])
    }

    @Test("Tekton basic-auth secrets annotated tekton.dev/docker-N are used for their registry")
    func tektonBasicAuth() async throws {
        var objects = Objects()
        objects.accounts["ci/default"] = ServiceAccount(
            metadata: ObjectMeta(name: "default", namespace: "ci"), secrets: [ObjectReference(name: "basic")])
        var secret = Secret(
            metadata: ObjectMeta(name: "basic", namespace: "ci"), type: "kubernetes.io/basic-auth",
            data: [
                "username": Data("tekton-user".utf8).base64EncodedString(),
                "password": Data("pw".utf8).base64EncodedString(),
            ])
        secret.metadata.annotations = ["tekton.dev/docker-0": "https://reg.example.com"]
        objects.secrets["ci/basic"] = secret
        let r = await CredentialSearch(dockerConfig: nil).keychain(
            for: RunCredentialScope(namespace: "ci", serviceAccount: "", podTemplatePullSecrets: []),
            objects: objects
        ).resolve(image)
        #expect(r.candidates.first?.credential == Credential(username: "tekton-user", password: "pw"))
    }

    @Test(
        "kubelet's order across Secrets: one keyring per source, the most specific key first whichever Secret holds it")
    func orderAcrossSecrets() async throws {
        var objects = Objects()
        objects.accounts["ci/builder"] = ServiceAccount(
            metadata: ObjectMeta(name: "builder", namespace: "ci"),
            secrets: [ObjectReference(name: "wide"), ObjectReference(name: "exact"), ObjectReference(name: "again")],
            imagePullSecrets: [LocalObjectReference(name: "pull-exact")])
        objects.secrets["ci/wide"] = dockerSecret("wide", registry: "*.example.com", user: "wildcard")
        objects.secrets["ci/exact"] = dockerSecret("exact", registry: "reg.example.com", user: "exact-1")
        objects.secrets["ci/again"] = dockerSecret("again", registry: "reg.example.com", user: "exact-2")
        objects.secrets["ci/pull-exact"] = dockerSecret("pull-exact", registry: "reg.example.com/team", user: "pull")
        let r = await CredentialSearch(dockerConfig: nil).keychain(
            for: RunCredentialScope(namespace: "ci", serviceAccount: "builder", podTemplatePullSecrets: []),
            objects: objects
        ).resolve(image)
        // The wildcard is in the first Secret, yet the exact key of the later ones comes before it; equal keys keep
        // the Secrets' order; a later source stays later even with a more specific key.
        #expect(r.candidates.map(\.credential.username) == ["exact-1", "exact-2", "wildcard", "pull", ""])
        let reasons = CredentialSearch.placement(r.candidates)
        #expect(reasons[1].contains("same key as the one above, from a later Secret"), "\(reasons)")
        #expect(reasons[2].contains("key \"*.example.com\" is less specific than \"reg.example.com\""), "\(reasons)")
        #expect(reasons[3].hasPrefix("source 4 (ServiceAccount imagePullSecrets)"), "\(reasons)")
    }

    @Test("a Secret made from a config with a credential store: named, with what to do; its empty entries unused")
    func credentialStoreSecret() async throws {
        var objects = Objects()
        objects.accounts["ci/builder"] = ServiceAccount(
            metadata: ObjectMeta(name: "builder", namespace: "ci"),
            secrets: [ObjectReference(name: "docker-registry"), ObjectReference(name: "helpers")])
        let store = #"{"auths":{"reg.example.com":{}},"credsStore":"desktop"}"#
        objects.secrets["ci/docker-registry"] = Secret(
            metadata: ObjectMeta(name: "docker-registry", namespace: "ci"), type: "kubernetes.io/dockerconfigjson",
            data: [".dockerconfigjson": Data(store.utf8).base64EncodedString()])
        let helpers = #"{"credHelpers":{"123456789012.dkr.ecr.eu-west-1.amazonaws.com":"ecr-login"}}"#
        objects.secrets["ci/helpers"] = Secret(
            metadata: ObjectMeta(name: "helpers", namespace: "ci"), type: "Opaque",
            data: ["config.json": Data(helpers.utf8).base64EncodedString()])
        let r = await CredentialSearch(dockerConfig: nil).keychain(
            for: RunCredentialScope(namespace: "ci", serviceAccount: "builder", podTemplatePullSecrets: []),
            objects: objects
        ).resolve(image)
        #expect(r.candidates.map(\.source.kind) == [.anonymous], "the empty entry is not offered as a credential")
        let store1 = try #require(r.warnings.first { $0.message.contains("\"credsStore\": \"desktop\"") })
        #expect(store1.isMisconfiguration && store1.source == "Secret ci/docker-registry .dockerconfigjson")
        #expect(store1.message.contains("kubectl create secret docker-registry"), "\(store1)")
        let entry = try #require(
            r.warnings.first { $0.message.contains("entry \"reg.example.com\" holds no credential") })
        #expect(entry.isMisconfiguration && entry.message.contains("its credential is in the credential store"))
        let helper = try #require(r.warnings.first { $0.source == "Secret ci/helpers config.json" })
        #expect(
            helper.message.contains(
                "\"credHelpers\": \"123456789012.dkr.ecr.eu-west-1.amazonaws.com\" → \"ecr-login\""),
            "\(helper)")
        // A config that holds its credentials draws no such warning.
        objects.secrets["ci/docker-registry"] = dockerSecret("docker-registry", registry: "reg.example.com", user: "u")
        let fine = await CredentialSearch(dockerConfig: nil).keychain(
            for: RunCredentialScope(namespace: "ci", serviceAccount: "builder", podTemplatePullSecrets: []),
            objects: objects
        ).resolve(image)
        #expect(fine.warnings.filter { $0.source.hasPrefix("Secret ci/docker-registry") }.isEmpty)
        #expect(fine.candidates.first?.credential.username == "u")
    }
}
