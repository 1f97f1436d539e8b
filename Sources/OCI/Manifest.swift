import Foundation

/// Media types used for images, indexes, cosign signatures and sigstore bundles.
package enum MediaType {
    package static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    package static let ociIndex = "application/vnd.oci.image.index.v1+json"
    package static let ociConfig = "application/vnd.oci.image.config.v1+json"
    package static let ociEmpty = "application/vnd.oci.empty.v1+json"
    package static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    package static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    package static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    package static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    package static let cosignSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
    package static let dsseEnvelope = "application/vnd.dsse.envelope.v1+json"
    package static let sigstoreBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"

    /// Every manifest type we ask for when reading (`Accept`).
    package static let acceptedManifests = [ociManifest, ociIndex, dockerManifest, dockerManifestList]

    /// The empty JSON blob `{}` and its descriptor.
    package static let emptyBlob = Data("{}".utf8)
}

/// An OCI content descriptor.
package struct Descriptor: Sendable, Hashable, Codable {
    package var mediaType: String
    package var artifactType: String?
    package var digest: String
    package var size: Int
    package var annotations: [String: String]?
    package var data: String?
    package var platform: Platform?

    package struct Platform: Sendable, Hashable, Codable {
        package var architecture: String?
        package var os: String?
        package var variant: String?
    }

    package init(
        mediaType: String, digest: String, size: Int, artifactType: String? = nil, annotations: [String: String]? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.artifactType = artifactType
        self.annotations = annotations
    }

    /// The descriptor of `bytes` with `mediaType`.
    package static func of(_ bytes: Data, mediaType: String, annotations: [String: String]? = nil) -> Descriptor {
        Descriptor(
            mediaType: mediaType, digest: Digest.sha256(of: bytes).description, size: bytes.count,
            annotations: annotations)
    }

    func write(_ w: inout OrderedJSONWriter) {
        w.beginObject()
        w.field("mediaType", mediaType)
        if let artifactType { w.field("artifactType", artifactType) }
        w.field("digest", digest)
        w.field("size", size)
        if let annotations, !annotations.isEmpty { w.field("annotations", annotations) }
        if let data { w.field("data", data) }
        if let platform {
            w.key("platform")
            w.beginObject()
            if let a = platform.architecture { w.field("architecture", a) }
            if let o = platform.os { w.field("os", o) }
            if let v = platform.variant { w.field("variant", v) }
            w.endObject()
        }
        w.endObject()
    }
}

/// An OCI image manifest (also what a cosign `.sig`/`.att` image and a sigstore bundle referrer are).
package struct ImageManifest: Sendable, Hashable, Codable {
    package var schemaVersion: Int = 2
    package var mediaType: String? = MediaType.ociManifest
    package var artifactType: String?
    package var config: Descriptor
    package var layers: [Descriptor]
    package var subject: Descriptor?
    package var annotations: [String: String]?

    package init(
        config: Descriptor, layers: [Descriptor], artifactType: String? = nil, subject: Descriptor? = nil,
        annotations: [String: String]? = nil, mediaType: String = MediaType.ociManifest
    ) {
        self.config = config
        self.layers = layers
        self.artifactType = artifactType
        self.subject = subject
        self.annotations = annotations
        self.mediaType = mediaType
    }

    /// The bytes to push, fields in the order go-containerregistry writes them.
    package func encoded() -> Data {
        var w = OrderedJSONWriter()
        w.beginObject()
        w.field("schemaVersion", schemaVersion)
        if let mediaType { w.field("mediaType", mediaType) }
        if let artifactType { w.field("artifactType", artifactType) }
        w.key("config")
        config.write(&w)
        w.key("layers")
        w.beginArray()
        for layer in layers { layer.write(&w) }
        w.endArray()
        if let subject {
            w.key("subject")
            subject.write(&w)
        }
        if let annotations, !annotations.isEmpty { w.field("annotations", annotations) }
        w.endObject()
        return w.data
    }
}

/// An OCI image index (a multi-platform image, or the referrers fallback index).
package struct ImageIndex: Sendable, Hashable, Codable {
    package var schemaVersion: Int = 2
    package var mediaType: String? = MediaType.ociIndex
    package var manifests: [Descriptor]
    package var annotations: [String: String]?

    package init(manifests: [Descriptor]) { self.manifests = manifests }

    package func encoded() -> Data {
        var w = OrderedJSONWriter()
        w.beginObject()
        w.field("schemaVersion", schemaVersion)
        if let mediaType { w.field("mediaType", mediaType) }
        w.key("manifests")
        w.beginArray()
        for m in manifests { m.write(&w) }
        w.endArray()
        if let annotations, !annotations.isEmpty { w.field("annotations", annotations) }
        w.endObject()
        return w.data
    }
}

/// A small JSON writer that keeps field order (manifests are content-addressed: their bytes matter).
struct OrderedJSONWriter {
    private(set) var bytes: [UInt8] = []
    private var first: [Bool] = []
    private var afterKey = false

    var data: Data { Data(bytes) }

    private mutating func beginValue() {
        if afterKey {
            afterKey = false
            return
        }
        if let isFirst = first.last {
            if !isFirst { bytes.append(UInt8(ascii: ",")) }
            first[first.count - 1] = false
        }
    }

    mutating func beginObject() {
        beginValue()
        bytes.append(UInt8(ascii: "{"))
        first.append(true)
    }

    mutating func endObject() {
        first.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func beginArray() {
        beginValue()
        bytes.append(UInt8(ascii: "["))
        first.append(true)
    }

    mutating func endArray() {
        first.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func key(_ k: String) {
        beginValue()
        string(k)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    mutating func field(_ k: String, _ v: String) {
        key(k)
        beginValue()
        string(v)
    }

    mutating func field(_ k: String, _ v: Int) {
        key(k)
        beginValue()
        bytes.append(contentsOf: String(v).utf8)
    }

    mutating func field(_ k: String, _ v: [String: String]) {
        key(k)
        beginObject()
        for name in v.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) { field(name, v[name]!) }
        endObject()
    }

    private mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5c, 0x22])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5c, 0x5c])
            case UInt8(ascii: "\n"): bytes.append(contentsOf: [0x5c, UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): bytes.append(contentsOf: [0x5c, UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): bytes.append(contentsOf: [0x5c, UInt8(ascii: "t")])
            case UInt8(ascii: "<"): bytes.append(contentsOf: Array("\\u003c".utf8))
            case UInt8(ascii: ">"): bytes.append(contentsOf: Array("\\u003e".utf8))
            case UInt8(ascii: "&"): bytes.append(contentsOf: Array("\\u0026".utf8))
            case 0..<0x20: bytes.append(contentsOf: Array(String(format: "\\u%04x", b).utf8))
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
