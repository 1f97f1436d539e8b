import Foundation
import HTTPTransport
import KubeModels
import OCI
import OCIRegistry
import RegistryAuth

/// `chains auth explain`: every credential that matches an image for a run, in the order it would be tried, where
/// each came from, and (with `checkPush`) whether the registry grants push — an upload session opened and cancelled.
/// The candidates come from the same `CredentialSearch` composition a push uses, so what is listed is what `sign`
/// and the controller would try.
package struct AuthExplainer: Sendable {
    package var search: CredentialSearch
    /// Where the run's ServiceAccount, Secrets and Pod are read.
    package var objects: any ClusterObjects
    package var client: RegistryClient?

    package init(search: CredentialSearch, objects: any ClusterObjects, client: RegistryClient?) {
        self.search = search
        self.objects = objects
        self.client = client
    }

    /// One candidate credential, where it came from, and (when checked) whether it may push.
    package struct Line: Sendable {
        package var index: Int
        package var credential: String
        package var source: String
        /// Why it comes where it does: its source's place in the order, and its key's among the source's keys.
        package var why: String = ""
        package var push: String?
    }

    /// Every candidate in the order pushes try them.
    package struct Explanation: Sendable {
        package var target: ImageReference
        package var lines: [Line]
        package var warnings: [String]
        /// The first candidate granted push, when checked.
        package var firstGranted: Int?

        package var text: String {
            var out = "credentials for \(target.name), in the order they are tried:\n"
            for l in lines {
                out += "  \(l.index). \(l.credential) — \(l.source)"
                if !l.why.isEmpty { out += "\n       why here: \(l.why)" }
                if let push = l.push { out += "\n       push: \(push)" }
                out += "\n"
            }
            for w in warnings { out += "  warning: \(w)\n" }
            if let firstGranted { out += "→ pushes would use #\(firstGranted)\n" }
            out += "(\(CredentialSearch.order))\n"
            return out
        }
    }

    /// Resolves the run's credentials for `image` and, with `checkPush`, asks the registry about each.
    package func explain(image: ImageReference, context: RunContext, checkPush: Bool) async -> Explanation {
        let target = image.repositoryOnly
        let resolution = await search.keychain(for: context.credentialScope, objects: objects).resolve(target)
        var lines: [Line] = []
        var firstGranted: Int?
        var seen: [Credential] = []
        let reasons = CredentialSearch.placement(resolution.candidates)
        for (i, candidate) in resolution.candidates.enumerated() {
            var line = Line(
                index: i + 1, credential: candidate.credential.description, source: candidate.source.description,
                why: reasons[i])
            if checkPush, let client {
                if seen.contains(candidate.credential) {
                    line.push = "same credential as above; not checked again"
                } else {
                    seen.append(candidate.credential)
                    let session = client.session(
                        repository: target, credential: candidate.credential, scopes: [Scope.push(target.repository)])
                    do {
                        try await session.checkPush()
                        line.push = "granted (upload session opened and cancelled)"
                        if firstGranted == nil { firstGranted = i + 1 }
                    } catch {
                        line.push = "refused: \(error)"
                    }
                }
            }
            lines.append(line)
        }
        return Explanation(
            target: target, lines: lines, warnings: resolution.warnings.map(\.description), firstGranted: firstGranted)
    }
}
