import ArgumentParser
import ChainsCore
import Foundation
import Logging
import Sigstore

struct TrustedRootCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trusted-root",
        abstract: "Fetch a sigstore trusted_root.json through TUF (checked end to end) and print it.",
        discussion:
            "For --trusted-root of sign and verify: chains trusted-root > trusted_root.json. The public-good mirror starts from the root embedded in chains; any other needs --root."
    )

    @Option(help: "The TUF mirror (signers.x509.tuf.mirror.url).")
    var mirror: String = PublicGoodTUFRoot.mirror

    @Option(
        help: "The root.json to start from (signers.x509.tuf.root.file); needed for a mirror other than sigstore's.")
    var root: String?

    @Option(help: "Where TUF metadata is cached (default ~/.cache/chains/tuf/<mirror host>).")
    var cache: String?

    @Option(help: "Write it here instead of stdout.")
    var output: String?

    func run() async throws {
        let logger = Logger(label: "chains", factory: { _ in SwiftLogNoOpLogHandler() })
        let fetched: (root: TrustedRoot, json: Data, source: String, extra: [Data])
        do throws(ChainsError) {
            fetched = try await LocalTrust.viaTUF(
                mirror: mirror, rootFile: root, cache: cache.map { URL(fileURLWithPath: $0) }, timeout: .seconds(30),
                logger: logger)
        } catch {
            say("error: \(error)")
            throw ExitCode(error.isRetryable ? 1 : 2)
        }
        if let output {
            do {
                try fetched.json.write(to: URL(fileURLWithPath: output))
            } catch {
                say("error: cannot write \(output): \(error.localizedDescription)")
                throw ExitCode(1)
            }
        } else {
            FileHandle.standardOutput.write(fetched.json)
        }
        say(
            "trusted root from \(fetched.source): \(fetched.root.certificateAuthorities.count) Fulcio CA(s), \(fetched.root.tlogs.count) transparency log(s), \(fetched.root.ctlogs.count) CT log(s)"
        )
    }
}
