import Foundation
import OCI

/// The local docker configuration: `--docker-config DIR`, else `$DOCKER_CONFIG`, else `~/.docker`.
package struct LocalDockerConfig: Sendable {
    package var path: String
    package var config: DockerConfig
    package var helperSearchPath: [String]?
    /// How long each credential helper may take (`CredentialHelper.timeout`).
    package var helperTimeout: Duration

    package init(
        path: String, config: DockerConfig, helperSearchPath: [String]? = nil,
        helperTimeout: Duration = CredentialHelper.defaultTimeout
    ) {
        self.path = path
        self.config = config
        self.helperSearchPath = helperSearchPath
        self.helperTimeout = helperTimeout
    }

    /// Loads `config.json` from the directory; nil (with no warning) when there is none.
    package static func load(
        directory: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    )
        throws(CredentialWarning) -> LocalDockerConfig?
    {
        let dir =
            directory ?? environment["DOCKER_CONFIG"]
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.docker")
        let path = dir + "/config.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            if directory != nil {
                throw CredentialWarning(source: path, message: "no config.json in the --docker-config directory")
            }
            return nil
        }
        do {
            let (config, problems) = try DockerConfig.parse(data)
            if let first = problems.first { throw CredentialWarning(source: path, message: first) }
            return LocalDockerConfig(path: path, config: config)
        } catch let error as DockerConfig.FormatError {
            throw CredentialWarning(source: path, message: error.description)
        } catch let warning as CredentialWarning {
            throw warning
        } catch {
            throw CredentialWarning(source: path, message: "\(error)")
        }
    }

    /// Docker's lookup: keys `registry/repository` then `registry` (Docker Hub: `https://index.docker.io/v1/`);
    /// `credHelpers[key]`, else `credsStore`, else `auths` (exact key, then by host name).
    package func lookup(
        _ image: ImageReference
    ) async -> (credentials: [SourcedCredential], warnings: [CredentialWarning]) {
        let registryKey = image.registry == ImageReference.dockerHub ? "https://index.docker.io/v1/" : image.registry
        var out: [SourcedCredential] = []
        var warnings: [CredentialWarning] = []
        var asked = Set<String>()
        for key in [image.name, registryKey] {
            if let helper = config.credHelpers[key] ?? config.credHelpers[DockerConfig.hostname(key)]
                ?? config.credsStore
            {
                let h = CredentialHelper(name: helper, searchPath: helperSearchPath, timeout: helperTimeout)
                let serverURL = key == image.name ? image.registry : key
                // Helpers are keyed by registry: the repository key and the registry key often ask the same thing.
                guard asked.insert("\(helper)\u{0}\(serverURL)").inserted else { continue }
                do {
                    if let c = try await h.get(serverURL) {
                        out.append(
                            SourcedCredential(c, source: .init(kind: .credentialHelper, origin: h.program, key: key)))
                        break
                    }
                } catch {
                    warnings.append(error)
                }
                continue
            }
            if let c = config.auths[key] {
                out.append(SourcedCredential(c, source: .init(kind: .dockerConfig, origin: path, key: key)))
                break
            }
            if let match = config.auths.keys.sorted().first(where: {
                DockerConfig.hostname($0) == DockerConfig.hostname(key) && !key.contains("/") || $0 == key
            }) {
                out.append(
                    SourcedCredential(
                        config.auths[match]!, source: .init(kind: .dockerConfig, origin: path, key: match)))
                break
            }
        }
        return (out, warnings)
    }
}
