import Foundation

/// The signing-secrets directory (what the controller mounts at `/etc/signing-secrets`): `x509.pem`, or
/// `cosign.key` + `cosign.password`, chosen in Chains' order (x509.pem first).
package enum SigningSecrets {
    package static let x509File = "x509.pem"
    package static let x509PublicFile = "x509.pub"
    package static let cosignKeyFile = "cosign.key"
    package static let cosignPasswordFile = "cosign.password"
    package static let cosignPublicFile = "cosign.pub"

    /// Whether `directory` holds a key file (x509.pem or cosign.key).
    package static func hasKey(in directory: URL) -> Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: directory.appendingPathComponent(x509File).path)
            || fm.fileExists(atPath: directory.appendingPathComponent(cosignKeyFile).path)
    }

    /// Loads the key signer from `directory`. Errors name the file and say what to do.
    package static func loadSigner(from directory: URL) throws(SigningError) -> KeySigner {
        let fm = FileManager.default
        let x509 = directory.appendingPathComponent(x509File)
        if fm.isReadableFile(atPath: x509.path) {
            let pem = try read(x509)
            let key = try PrivateKey(pem: pem, file: x509.path)
            return KeySigner(key: key, hash: .sha256Always, origin: x509.path)
        }
        let cosignKey = directory.appendingPathComponent(cosignKeyFile)
        if fm.isReadableFile(atPath: cosignKey.path) {
            let passwordFile = directory.appendingPathComponent(cosignPasswordFile)
            guard fm.isReadableFile(atPath: passwordFile.path) else {
                throw SigningError(
                    code: .missingPassword, file: passwordFile.path,
                    reason:
                        "cosign.key needs its password in cosign.password next to it (the file is missing or unreadable)"
                )
            }
            let password = try readData(passwordFile)
            let key = try CosignKey.decrypt(pem: try read(cosignKey), password: password, file: cosignKey.path)
            return KeySigner(key: key, hash: .perCurve, origin: cosignKey.path)
        }
        throw SigningError(
            code: .missingKey, file: directory.path,
            reason:
                "no valid private key found, looked for: [x509.pem, cosign.key]; create one with `chains keys generate --dir \(directory.path)`"
        )
    }

    static func read(_ url: URL) throws(SigningError) -> String {
        guard let s = String(data: try readData(url), encoding: .utf8) else {
            throw SigningError(code: .malformedPEM, file: url.path, reason: "not a text file")
        }
        return s
    }

    static func readData(_ url: URL) throws(SigningError) -> Data {
        do {
            return try Data(contentsOf: url)
        } catch {
            throw SigningError(code: .missingKey, file: url.path, reason: "cannot read the file")
        }
    }

    /// Writes an ECDSA P-256 (or other) `x509.pem`, readable by the owner only, and its public key as
    /// `x509.pub` (for `cosign verify --key`; nothing reads it back).
    package static func writeX509(_ key: PrivateKey, to directory: URL) throws -> URL {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(x509File)
        try writePrivate(Data(key.pkcs8PEM.utf8), to: url)
        try Data(key.publicKey.pem.utf8).write(to: directory.appendingPathComponent(x509PublicFile))
        return url
    }

    /// Writes `cosign.key`, `cosign.pub` and `cosign.password`, as `cosign generate-key-pair` would.
    package static func writeCosign(_ key: PrivateKey, password: Data, to directory: URL) throws -> [URL] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let keyURL = directory.appendingPathComponent(cosignKeyFile)
        let pubURL = directory.appendingPathComponent(cosignPublicFile)
        let passwordURL = directory.appendingPathComponent(cosignPasswordFile)
        try writePrivate(Data(try CosignKey.encrypt(key, password: password).utf8), to: keyURL)
        try writePrivate(password, to: passwordURL)
        try Data(key.publicKey.pem.utf8).write(to: pubURL)
        return [keyURL, pubURL, passwordURL]
    }

    static func writePrivate(_ data: Data, to url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: data, attributes: [.posixPermissions: 0o600])
        else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path]) }
    }
}
