import Foundation
import Signing
import Synchronization

/// `chains sign --bundle-out DIR`: one sigstore bundle v0.3 per signed artifact, as `DIR/<short key>.sigstore.json`
/// (`taskrun-<uid>`, `pipelinerun-<uid>`, or an image digest's first 12 hex digits). When two runs of one call sign
/// the same image, the second is `<hex12>-<run uid>.sigstore.json`: nothing is overwritten.
package final class BundleFiles: Sendable {
    package let directory: URL
    let used = Mutex<Set<String>>([])

    package init(directory: URL) { self.directory = directory }

    /// Writes the bundles of `outcome`; returns the files written, or the first error naming the file.
    package func write(_ outcome: RunOutcome) throws(ChainsError) -> [URL] {
        var written: [URL] = []
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw ChainsError(
                .badInput, "cannot create the --bundle-out directory: \(error.localizedDescription)",
                file: directory.path)
        }
        for artifact in outcome.artifacts {
            let short = artifact.shortKey
            let name = used.withLock { names in
                var name = "\(short).sigstore.json"
                if names.contains(name) { name = "\(short)-\(outcome.uid).sigstore.json" }
                names.insert(name)
                return name
            }
            let file = directory.appendingPathComponent(name)
            do {
                let bundle = try artifact.signed.sigstoreBundle()
                try bundle.serialized().write(to: file)
            } catch {
                throw ChainsError(.storage, "cannot write the sigstore bundle: \(error)", file: file.path)
            }
            written.append(file)
        }
        return written
    }
}
