import KubeModels
import OCI

/// A result by name and value — TaskRun, PipelineRun and step results alike.
package typealias Result = RunResult

/// Something skipped while reading type hints, said so the user can fix their Task.
package struct ExtractionWarning: Sendable, Hashable, CustomStringConvertible {
    package var result: String
    package var reason: String
    package var description: String { "result \(result): \(reason)" }
}

/// Collects warnings while extracting; formats never fail for a bad type hint, they skip it and say so.
package struct Diagnostics: Sendable {
    package private(set) var warnings: [ExtractionWarning] = []
    package init() {}
    mutating func warn(_ result: String, _ reason: String) {
        let w = ExtractionWarning(result: result, reason: reason)
        if !warnings.contains(w) { warnings.append(w) }
    }
}

/// A `uri` + `digest` pair found through type hints.
package struct StructuredSignable: Sendable, Hashable {
    package var uri: String
    package var digest: String
}

/// A name (uri) with a digest set: subjects and materials.
package struct Artifact: Sendable, Hashable {
    package var name: String
    package var digest: [String: String]
    package init(name: String, digest: [String: String]) {
        self.name = name
        self.digest = digest
    }
}

/// Type-hint extraction as Tekton Chains does it (`pkg/artifacts`), with a deterministic order: pairs come out in
/// the order their first result appears (Chains leaves this to Go map iteration).
package enum TypeHints {
    package static let imageURL = "IMAGE_URL"
    package static let imageDigest = "IMAGE_DIGEST"
    package static let images = "IMAGES"
    package static let artifactURI = "ARTIFACT_URI"
    package static let artifactDigest = "ARTIFACT_DIGEST"
    package static let artifactInputs = "ARTIFACT_INPUTS"
    package static let artifactOutputs = "ARTIFACT_OUTPUTS"
    package static let gitURL = "CHAINS-GIT_URL"
    package static let gitCommit = "CHAINS-GIT_COMMIT"

    /// `*<uriSuffix>` / `*<digestSuffix>` string results grouped by their common prefix.
    static func pairs(
        _ results: [Result], uriSuffix: String, digestSuffix: String
    ) -> [(marker: String, StructuredSignable)] {
        var order: [String] = []
        var partial: [String: StructuredSignable] = [:]
        for result in results {
            for (suffix, isURI) in [(uriSuffix, true), (digestSuffix, false)] where result.name.hasSuffix(suffix) {
                let value = (result.value.stringValue ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                if value.isEmpty { continue }
                let marker = String(result.name.dropLast(suffix.count))
                if partial[marker] == nil {
                    order.append(marker)
                    partial[marker] = StructuredSignable(uri: "", digest: "")
                }
                if isURI { partial[marker]!.uri = value } else { partial[marker]!.digest = value }
            }
        }
        return order.compactMap { marker in
            let s = partial[marker]!
            return s.uri.isEmpty || s.digest.isEmpty ? nil : (marker, s)
        }
    }

    /// Images to sign and to name as subjects (Chains' `ExtractOCIImagesFromResults`), deduplicated by
    /// `repo@sha256:hex`: `*IMAGE_URL`/`*IMAGE_DIGEST` pairs, then `IMAGES`, then build-artifact `*ARTIFACT_OUTPUTS`.
    package static func ociImages(_ results: [Result], diagnostics: inout Diagnostics) -> [ImageReference] {
        var seen = Set<String>()
        var out: [ImageReference] = []
        func add(_ text: String, from result: String, warnIfInvalid: Bool = true) {
            do {
                let ref = try ImageReference(parsingDigest: text)
                if seen.insert(ref.description).inserted { out.append(ref) }
            } catch {
                if warnIfInvalid { diagnostics.warn(result, "skipped: \(error)") }
            }
        }
        for (marker, s) in pairs(results, uriSuffix: imageURL, digestSuffix: imageDigest) {
            add("\(s.uri)@\(s.digest)", from: marker + imageURL)
        }
        for result in results where result.name == images {
            let value = result.value.stringValue ?? ""
            for item in value.split(whereSeparator: { $0 == "," || $0 == "\n" }) {
                let trimmed = item.trimmingCharacters(in: .whitespacesAndNewlines)
                if !trimmed.isEmpty { add(trimmed, from: images) }
            }
        }
        // A build artifact need not be an image (`pkg:…` URIs): only those that parse as one are signed.
        for (name, s) in buildArtifacts(results, diagnostics: &diagnostics) {
            add("\(s.uri)@\(s.digest)", from: name, warnIfInvalid: false)
        }
        return out
    }

    /// `*ARTIFACT_URI` / `*ARTIFACT_DIGEST` pairs whose digest is valid.
    package static func artifactTargets(_ results: [Result], diagnostics: inout Diagnostics) -> [StructuredSignable] {
        pairs(results, uriSuffix: artifactURI, digestSuffix: artifactDigest).compactMap { marker, s in
            if case .failure(let reason) = parseDigest(s.digest) {
                diagnostics.warn(marker + artifactDigest, "skipped: \(reason)")
                return nil
            }
            return s
        }
    }

    /// Valid `*ARTIFACT_INPUTS` or `*ARTIFACT_OUTPUTS` object results.
    package static func structured(
        _ results: [Result], suffix: String, diagnostics: inout Diagnostics
    )
        -> [StructuredSignable]
    {
        results.compactMap { result in
            guard result.name.hasSuffix(suffix) else { return nil }
            switch validateStructured(result) {
            case .success(let s): return s
            case .failure(let reason):
                diagnostics.warn(result.name, "skipped: \(reason)")
                return nil
            }
        }
    }

    /// `*ARTIFACT_OUTPUTS` results marked `isBuildArtifact: "true"` and valid.
    package static func buildArtifacts(
        _ results: [Result], diagnostics: inout Diagnostics
    ) -> [(String, StructuredSignable)] {
        results.compactMap { result in
            switch isBuildArtifact(result) {
            case .success(let s?): return (result.name, s)
            case .success(nil): return nil
            case .failure(let reason):
                diagnostics.warn(result.name, "skipped: \(reason)")
                return nil
            }
        }
    }

    /// Chains' `IsBuildArtifact`: `.success(nil)` when the result is not a marked output at all.
    static func isBuildArtifact(_ result: Result) -> Swift.Result<StructuredSignable?, HintError> {
        guard result.name.hasSuffix(artifactOutputs) else { return .success(nil) }
        guard let object = result.value.objectValue else {
            return .failure(HintError("\(result.name) should be an object with uri and digest"))
        }
        guard object["isBuildArtifact"] == "true" else { return .success(nil) }
        return validateStructured(result).map { Optional($0) }
    }

    package struct HintError: Error, Sendable, CustomStringConvertible {
        package var description: String
        init(_ d: String) { description = d }
    }

    static func validateStructured(_ result: Result) -> Swift.Result<StructuredSignable, HintError> {
        guard let object = result.value.objectValue else {
            return .failure(HintError("\(result.name) should be an object with uri and digest"))
        }
        let uri = object["uri"] ?? ""
        let digest = object["digest"] ?? ""
        if uri.isEmpty { return .failure(HintError("\(result.name) should have a uri field")) }
        if digest.isEmpty { return .failure(HintError("\(result.name) should have a digest field")) }
        if case .failure(let e) = parseDigest(digest) { return .failure(e) }
        return .success(StructuredSignable(uri: uri, digest: digest))
    }

    /// Chains' `ParseDigest`: `alg:hex`, algorithm lower-cased; sha256/384/512 checked for length and lowercase
    /// hex, sha1 for 40 hex digits; anything else unsupported.
    package static func parseDigest(_ digest: String) -> Swift.Result<(String, String), HintError> {
        let parts = digest.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            return .failure(HintError("digest \"\(digest)\" is not in the form <algorithm>:<hex>"))
        }
        let algorithm = parts[0].trimmingCharacters(in: .whitespaces).lowercased()
        let hex = parts[1].trimmingCharacters(in: .whitespaces)
        let lengths = ["sha256": 64, "sha384": 96, "sha512": 128, "sha1": 40]
        guard let length = lengths[algorithm] else {
            return .failure(
                HintError("unsupported digest algorithm in \"\(digest)\" (use sha256, sha384, sha512 or sha1)"))
        }
        guard Digest.isLowerHex(hex, count: length) else {
            return .failure(HintError("\(algorithm) digest \"\(hex)\" must be \(length) lowercase hex digits"))
        }
        return .success((algorithm, hex))
    }
}

extension String {
    func trimmingCharacters(in set: CharacterSetLite) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return String(s)
    }
}

extension Substring {
    func trimmingCharacters(in set: CharacterSetLite) -> String { String(self).trimmingCharacters(in: set) }
}

/// Go's `strings.TrimSpace` set, without pulling in Foundation's CharacterSet.
enum CharacterSetLite {
    case whitespaces, whitespacesAndNewlines
    func contains(_ c: Character) -> Bool {
        switch self {
        case .whitespaces: return c == " " || c == "\t"
        case .whitespacesAndNewlines: return c.isWhitespace
        }
    }
}
