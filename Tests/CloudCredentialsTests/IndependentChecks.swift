import ChainsTesting
import Foundation
import KubeModels
import Testing

/// A run signed into `tekton` storage, checked from its annotations with the independent verifiers and `publicKeyPEM`
/// alone: the TaskRun's DSSE envelope with securesystemslib, the image's simplesigning signature with
/// `cryptography`. What failed, empty when both verify.
func independentFailures(
    _ signed: SignedRun, publicKeyPEM: String, in dir: TemporaryDirectory,
    taskRunUID: String = "4b1c7d2e-6f3a-4c8b-9e21-5a7d3c9b0f11", imageKey: String = "c6cad725fced"
) async throws -> [String] {
    let doc = try ManifestReader.parse(Data(try #require(signed.document).utf8), source: "out").documents[0]
    let a = try #require(doc["metadata"]?["annotations"]?.objectValue).compactMapValues(\.stringValue)
    func file(_ name: String, _ annotation: String) throws -> URL {
        let value = a["chains.tekton.dev/\(annotation)"].flatMap { Data(base64Encoded: $0) }
        return try dir.write(name, data: try #require(value, "chains.tekton.dev/\(annotation)"))
    }
    let pub = try dir.write("independent.pub", publicKeyPEM)
    var failures: [String] = []
    let dsse = try await Python.run(
        "verify_dsse.py", [pub.path, try file("env.json", "signature-taskrun-\(taskRunUID)").path])
    if dsse.status != 0 { failures.append("DSSE: \(dsse.stderr)") }
    let simple = try await Python.run(
        "verify_signature.py",
        [
            pub.path, try file("simple.json", "payload-\(imageKey)").path,
            try file("simple.sig", "signature-\(imageKey)").path,
        ])
    if simple.status != 0 { failures.append("simplesigning: \(simple.stderr)") }
    return failures
}
