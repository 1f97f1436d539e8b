import ChainsConfig
import Foundation
import Signing

/// One signed payload on its way to storage (Chains' `StorePayload` arguments).
public struct SignedItem: Sendable {
    /// Which artifact type produced it: `tekton` (TaskRun), `tekton-pipeline-run`, `oci`.
    public var artifactType: String
    /// `taskrun-<uid>`, `pipelinerun-<uid>`, or the first 12 hex digits of an image digest.
    public var shortKey: String
    /// `tekton.dev-v1-TaskRun-<uid>` or `<repo>@sha256:<hex>`.
    public var fullKey: String
    public var format: String
    public var payload: Data
    /// The DSSE envelope JSON for in-toto formats; the raw signature for simplesigning.
    public var signature: Data
    public var certificatePEM: String
    public var chainPEM: String
    /// The signer that made `signature`, for backends that must sign a companion payload (the sigstore-bundle
    /// encoding signs cosign's image-signature statement).
    public var signer: (any Signer)?
}

/// Where annotations go: the run written back to a file (`chains sign`), or the API server (controller).
public protocol AnnotationSink: Sendable {
    func add(_ annotations: [String: String]) async throws
}

/// A storage backend (`tekton`, `oci`, …).
public protocol StorageBackend: Sendable {
    var name: String { get }
    func store(_ item: SignedItem) async throws
}

/// A backend that could not store; names the backend and the item.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    public var backend: String
    public var item: String
    public var reason: String
    public var description: String { "storage \(backend) for \(item): \(reason)" }
}

/// The `tekton` backend: four base64 annotations on the run per stored item.
public struct TektonStorage: StorageBackend {
    public let name = "tekton"
    let sink: any AnnotationSink

    public init(sink: any AnnotationSink) { self.sink = sink }

    public func store(_ item: SignedItem) async throws {
        let keys = ChainsAnnotations.storageKeys(shortKey: item.shortKey)
        try await sink.add([
            keys.payload: item.payload.base64EncodedString(),
            keys.signature: item.signature.base64EncodedString(),
            keys.cert: Data(item.certificatePEM.utf8).base64EncodedString(),
            keys.chain: Data(item.chainPEM.utf8).base64EncodedString(),
        ])
    }
}

/// Collects annotations in memory (for `chains sign`, which writes them into the output run).
public actor CollectingSink: AnnotationSink {
    public private(set) var annotations: [String: String] = [:]
    public init() {}
    public func add(_ new: [String: String]) async throws {
        for (k, v) in new {
            guard k.hasPrefix(ChainsAnnotations.prefix) else {
                throw StorageError(
                    backend: "tekton", item: k, reason: "annotation keys must start with chains.tekton.dev/")
            }
            annotations[k] = v
        }
    }
}
