import Foundation
import OCI
import OCIRegistry

extension FuzzHarness {
    static let registry: [FuzzHarness] = [
        FuzzHarness(name: "www-authenticate", summary: "WWW-Authenticate header values, one per line") { data in
            var findings = Findings()
            let values = data.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let challenges = Challenge.parse(values)
            for challenge in challenges {
                findings.check(!challenge.scheme.isEmpty, "a challenge with an empty scheme")
                findings.check(challenge.scheme == challenge.scheme.lowercased(), "a scheme not lower-cased")
                _ = challenge.scopes
            }
            findings.check(Challenge.parse(values) == challenges, "parsing is not deterministic")
            return findings.list
        },
        FuzzHarness(name: "token-response", summary: "a token server's JSON answer") { data in
            var findings = Findings()
            if let answer = RegistrySession.tokenAnswer(data) {
                findings.check(!answer.token.isEmpty, "an empty token accepted")
                findings.check(answer.lifetime >= 60 && answer.lifetime.isFinite, "lifetime \(answer.lifetime)")
            }
            return findings.list
        },
        FuzzHarness(
            name: "image-reference", summary: "an image reference as a type-hinted result carries it"
        ) { data in
            var findings = Findings()
            let text = data.text
            if let reference = try? ImageReference(parsing: text) {
                // What we print must read back as the same reference (it names the .sig/.att we push); a missing tag
                // prints as `latest`, so the printed form is what must be stable.
                let again = try? ImageReference(parsing: reference.description)
                findings.check(
                    again?.description == reference.description && again?.name == reference.name
                        && again?.digest == reference.digest,
                    "\(text.debugDescription) → \(reference) does not read back")
                if let digest = reference.digest, digest.algorithm == "sha256" {
                    findings.check(
                        (try? Digest(parsingSHA256: digest.description)) == digest, "\(digest) does not parse again")
                }
            }
            _ = try? ImageReference(parsingRepository: text)
            _ = try? ImageReference(parsingDigest: text)
            return findings.list
        },
        FuzzHarness(name: "oci-manifest", summary: "an OCI/Docker image manifest or index, as a registry serves it") {
            data in
            var findings = Findings()
            if let manifest = try? JSONDecoder().decode(ImageManifest.self, from: data) {
                let again = try? JSONDecoder().decode(ImageManifest.self, from: manifest.encoded())
                findings.check(again == manifest, "a manifest does not survive encoded()")
            }
            if let index = try? JSONDecoder().decode(ImageIndex.self, from: data) {
                let again = try? JSONDecoder().decode(ImageIndex.self, from: index.encoded())
                findings.check(again == index, "an index does not survive encoded()")
            }
            return findings.list
        },
    ]
}
