import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Debian's `docker-registry` (distribution 2.8) started for one test on 127.0.0.1 with a config the test writes:
/// no auth, htpasswd Basic (bcrypt), token auth (with `TokenServer`), optionally TLS with a test CA.
package final class RegistryServer: @unchecked Sendable {
    package enum Auth: Sendable {
        case none
        /// user → password (bcrypt htpasswd entries are made with `htpasswd -B`).
        case htpasswd([String: String])
        case token(realm: String, service: String, issuer: String, rootCertificatePEM: String)
    }

    package let port: Int
    package let tls: TestCA?
    let process: Process
    let directory: TemporaryDirectory

    /// `host:port` as clients name it.
    package var address: String { "127.0.0.1:\(port)" }

    /// `certificateNames`: the server certificate's subjectAltName entries (default: IP 127.0.0.1 and localhost).
    package init(auth: Auth = .none, tls: Bool = false, certificateNames: [String]? = nil) async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/docker-registry") else {
            throw MissingTool(
                description: "docker-registry is not installed; run scripts/test.sh (it installs the Debian package)")
        }
        directory = try TemporaryDirectory()
        port = try freePort()
        var config = """
            version: 0.1
            log:
              level: error
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: \(directory.url.path)/data
              delete:
                enabled: true
              maintenance:
                uploadpurging:
                  enabled: false
            http:
              addr: 127.0.0.1:\(port)
              secret: test-only-http-secret

            """
        var ca: TestCA?
        if tls {
            let made = try TestCA(directory: directory, names: certificateNames ?? TestCA.defaultNames)
            ca = made
            config += "  tls:\n    certificate: \(made.serverCertificate.path)\n    key: \(made.serverKey.path)\n"
        }
        self.tls = ca
        switch auth {
        case .none: break
        case .htpasswd(let users):
            var lines = ""
            for (user, password) in users.sorted(by: { $0.key < $1.key }) {
                let r = try runProcessBlocking("/usr/bin/htpasswd", ["-Bbn", user, password])
                guard r.status == 0 else { throw MissingTool(description: "htpasswd failed: \(r.stderr)") }
                lines += r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
            }
            try directory.write("htpasswd", lines)
            config += "auth:\n  htpasswd:\n    realm: test-registry\n    path: \(directory.file("htpasswd").path)\n"
        case .token(let realm, let service, let issuer, let rootPEM):
            try directory.write("rootcerts.pem", rootPEM)
            config += """
                auth:
                  token:
                    realm: \(realm)
                    service: \(service)
                    issuer: \(issuer)
                    rootcertbundle: \(directory.file("rootcerts.pem").path)

                """
        }
        try directory.write("config.yml", config)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
        process.arguments = ["serve", directory.file("config.yml").path]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = try FileHandle(forWritingTo: directory.write("registry.log", ""))
        try ChildProcesses.run(process)
        // Ready when it listens (bounded: `waitUntilListening`).
        if try await waitUntilListening(port: port, poll: .milliseconds(20)) { return }
        stop()
        throw MissingTool(
            description:
                "docker-registry did not start on port \(port): \(try String(contentsOf: directory.file("registry.log"), encoding: .utf8))"
        )
    }

    package var log: String { (try? String(contentsOf: directory.file("registry.log"), encoding: .utf8)) ?? "" }

    /// SIGKILL, as for the other test peers: nothing of a test registry needs a graceful end, and SIGTERM may be
    /// blocked in what a test process hands down (a registry that kept running was found after a green suite).
    package func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        ChildProcesses.ended(process)
    }

    deinit { stop() }
}

/// A test CA and a server certificate (for 127.0.0.1 and localhost unless other names are given), made with openssl.
package struct TestCA: Sendable {
    package let certificate: URL
    package let serverCertificate: URL
    package let serverKey: URL

    package static let defaultNames = ["IP:127.0.0.1", "DNS:localhost"]

    package init(directory: TemporaryDirectory, names: [String]) throws {
        let d = directory.url.path
        try makeOpenSSLCA(in: d, subject: "/CN=Chains Test CA")
        try openssl([
            "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout",
            "\(d)/server.key",
            "-out", "\(d)/server.csr", "-subj", "/CN=127.0.0.1",
        ])
        try directory.write(
            "server.ext",
            "subjectAltName=\(names.joined(separator: ","))\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        )
        try openssl([
            "x509", "-req", "-in", "\(d)/server.csr", "-CA", "\(d)/ca.crt", "-CAkey", "\(d)/ca.key", "-CAcreateserial",
            "-out", "\(d)/server.crt", "-days", "2", "-extfile", "\(d)/server.ext",
        ])
        certificate = URL(fileURLWithPath: "\(d)/ca.crt")
        serverCertificate = URL(fileURLWithPath: "\(d)/server.crt")
        serverKey = URL(fileURLWithPath: "\(d)/server.key")
    }
}

/// Runs `/usr/bin/openssl` with `args`; a failure names the subcommand and says what openssl printed.
package func openssl(_ args: [String]) throws {
    let r = try runProcessBlocking("/usr/bin/openssl", args)
    guard r.status == 0 else { throw MissingTool(description: "openssl \(args.first ?? ""): \(r.stderr)") }
}

/// A self-signed P-256 test CA, `ca.key` and `ca.crt` in `directory`, valid two days.
package func makeOpenSSLCA(in directory: String, subject: String) throws {
    try openssl([
        "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout",
        "\(directory)/ca.key", "-out", "\(directory)/ca.crt", "-days", "2", "-subj", subject,
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ])
}

/// An ES256 key and self-signed certificate for a token server, made with openssl.
package func makeTokenSigningKey(in directory: TemporaryDirectory) throws -> (keyPEM: String, certificatePEM: String) {
    let d = directory.url.path
    try openssl([
        "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout",
        "\(d)/token.key", "-out", "\(d)/token.crt", "-days", "2", "-subj", "/CN=chains-test-token", "-addext",
        "basicConstraints=critical,CA:TRUE",
    ])
    return (
        try String(contentsOf: directory.file("token.key"), encoding: .utf8),
        try String(contentsOf: directory.file("token.crt"), encoding: .utf8)
    )
}

/// A TCP port free on 127.0.0.1 right now.
package func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
        }
    }
    guard bound else { throw MissingTool(description: "no free port") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// A TCP socket connected to 127.0.0.1:`port`, or nil when nothing listens there. The caller closes it.
func connectLoopback(port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
    if connected { return fd }
    close(fd)
    return nil
}

func isListening(port: Int) -> Bool {
    guard let fd = connectLoopback(port: port) else { return false }
    close(fd)
    return true
}

/// Waits until a started peer listens on `port`, polling every `poll`; false after the bound. Generous: at the
/// start of a full test run every suite starts its peers at once on this machine's cores — a registry once took
/// past 10 s to listen, and past 30 s with the 2 cores also loaded by 6 busy processes.
func waitUntilListening(port: Int, poll: Duration) async throws -> Bool {
    let deadline = Date().addingTimeInterval(90)
    while Date() < deadline {
        if isListening(port: port) { return true }
        try await Task.sleep(for: poll)
    }
    return false
}
