import ChainsConfig
import ChainsCore
import ChainsTesting
import Foundation
import KubeModels
import OCI
import Provenance
import Signing

// Benchmarks for docs/performance.md. Numbers, not assertions: run `scripts/bench.sh` (release build).
//   chains-bench [--seconds S] [--chains PATH_TO_CHAINS_BINARY] [--cold-runs N]

let arguments = CommandLine.arguments
func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}
let seconds = Double(option("--seconds") ?? "2") ?? 2

func pad(_ s: String) -> String { s.count >= 52 ? s : s + String(repeating: " ", count: 52 - s.count) }

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs `body` repeatedly for about `seconds`, returns operations per second.
func measure(_ label: String, _ body: () throws -> Void) rethrows {
    for _ in 0..<50 { try body() }  // warm-up
    var count = 0
    let start = now()
    var elapsed = 0.0
    repeat {
        for _ in 0..<100 { try body() }
        count += 100
        elapsed = now() - start
    } while elapsed < seconds
    let perSecond = Double(count) / elapsed
    print(pad(label) + String(format: "%10.0f /s  %8.1f µs/op", perSecond, 1e6 / perSecond))
}

let yaml = Synthetic.taskRunYAML(results: 20, steps: 5)
let parsed = try ManifestReader.parse(Data(yaml.utf8), source: "bench").documents[0]
guard case .taskRun(let taskRun) = try AnyRun(json: parsed, source: "bench") else { fatalError("not a TaskRun") }
let signer = KeySigner(key: try PrivateKey.generate(.ecdsaP256), hash: .sha256Always, origin: "bench")
let options = FormatOptions()

print("chains-bench: one core, typical TaskRun (20 results, 5 steps), ECDSA P-256; \(seconds) s per line")
for format in [PayloadFormat.slsaV1, .slsaV2alpha3, .slsaV2alpha4] {
    try measure("payload only, \(format.rawValue)") {
        var d = Diagnostics()
        _ = try Formats.statement(taskRun: taskRun, format: format, options: options, diagnostics: &d).bytes
    }
    try measure("payload + DSSE sign, \(format.rawValue)") {
        var d = Diagnostics()
        let bytes = try Formats.statement(taskRun: taskRun, format: format, options: options, diagnostics: &d).bytes
        _ = try DSSE.sign(payload: bytes, signer: signer)
    }
}
try measure("parse YAML + payload + DSSE sign, slsa/v2alpha4") {
    let doc = try ManifestReader.parse(Data(yaml.utf8), source: "bench").documents[0]
    guard case .taskRun(let tr) = try AnyRun(json: doc, source: "bench") else { return }
    var d = Diagnostics()
    let bytes = try Formats.statement(taskRun: tr, format: .slsaV2alpha4, options: options, diagnostics: &d).bytes
    _ = try DSSE.sign(payload: bytes, signer: signer)
}
try measure("simplesigning payload + ECDSA P-256 sign") {
    _ = try signer.sign(Formats.simpleSigning(try ImageReferenceFixture.image))
}

enum ImageReferenceFixture {
    static var image: ImageReference {
        get throws {
            try ImageReference(
                parsingDigest: "registry.example.com/bench/app@sha256:" + String(repeating: "ab", count: 32))
        }
    }
}

// Cold start of the whole command, as a user runs it.
if let chains = option("--chains") {
    let runs = Int(option("--cold-runs") ?? "20") ?? 20
    let dir = try TemporaryDirectory()
    let run = try dir.write("run.yaml", yaml)
    _ = try SigningSecrets.writeX509(try PrivateKey.generate(.ecdsaP256), to: dir.file("secrets"))
    var times: [Double] = []
    for _ in 0..<runs {
        let start = now()
        let result = try runProcess(
            chains,
            ["sign", run.path, "--signing-secrets", dir.file("secrets").path, "--output", dir.file("out.yaml").path])
        times.append(now() - start)
        guard result.status == 0 else { fatalError("chains sign failed: \(result.stderr)") }
    }
    times.sort()
    print(
        pad("chains sign, one run, cold process")
            + String(
                format: "median %6.1f ms   min %6.1f ms   max %6.1f ms  (%d runs)", times[runs / 2] * 1000,
                times[0] * 1000,
                times[runs - 1] * 1000, runs))
}
