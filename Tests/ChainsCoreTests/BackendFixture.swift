import ChainsTesting
import Foundation
import KubeModels
import Signing

@testable import ChainsCore

/// One signed provenance artifact of a TaskRun, as a storage backend is handed it, for the backend tests.
struct BackendFixture {
    let item: SignedArtifact
    let context: RunContext

    init(payload: Data) throws {
        let key = try PrivateKey.generate(.ecdsaP256)
        let envelope = try DSSE.sign(payload: payload, signer: KeySigner(key: key, hash: .sha256Always, origin: "t"))
        item = SignedArtifact(
            artifactType: .taskRun, shortKey: "taskrun-u1", fullKey: "x", format: .slsaV1, payload: payload,
            signature: envelope, publicKey: key.publicKey, certificateChain: nil)
        let run = try AnyRun(
            json: try ManifestReader.parse(
                Data(
                    RunFixtures.taskRun(image: "r.test/app", digest: "sha256:" + String(repeating: "a", count: 64)).utf8
                ),
                source: "run.yaml"
            ).documents[0], source: "run")
        context = RunContext(run: run.run)
    }

    /// The backend error a store failed with (nil when it did not fail, or failed otherwise).
    static func failure(_ body: () async throws -> Void) async -> BackendError? {
        do {
            try await body()
            return nil
        } catch let error as StorageError {
            return error.underlying as? BackendError
        } catch {
            return nil
        }
    }
}
