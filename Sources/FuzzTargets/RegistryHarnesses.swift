import Foundation
import HTTPTransport
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
            // What we write back (an updated .sig manifest, a referrers index with ours added) reads back as what
            // we wrote: encoding is stable. (Not `decode(encode(x)) == x`: empty annotations are left out, so a
            // served `"annotations": {}` comes back as none — found by the fuzzer, harmless, kept as a corpus input.)
            if let manifest = try? JSONDecoder().decode(ImageManifest.self, from: data) {
                let written = manifest.encoded()
                let again = try? JSONDecoder().decode(ImageManifest.self, from: written)
                findings.check(again?.encoded() == written, "a manifest's encoding does not read back")
                findings.check(again?.layers.map(\.digest) == manifest.layers.map(\.digest), "layers changed")
            }
            if let index = try? JSONDecoder().decode(ImageIndex.self, from: data) {
                let written = index.encoded()
                let again = try? JSONDecoder().decode(ImageIndex.self, from: written)
                findings.check(again?.encoded() == written, "an index's encoding does not read back")
                findings.check(again?.manifests.map(\.digest) == index.manifests.map(\.digest), "manifests changed")
            }
            return findings.list
        },
    ]
}
