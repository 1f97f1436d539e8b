import Foundation
import FuzzTargets

/// The harness this process runs: `CHAINS_FUZZ_HARNESS` (scripts/fuzz.sh sets it), chosen once at start.
nonisolated(unsafe) var selected: FuzzHarness?

@_cdecl("LLVMFuzzerInitialize")
public func initialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    let name = ProcessInfo.processInfo.environment["CHAINS_FUZZ_HARNESS"] ?? ""
    guard let harness = FuzzHarness.named(name) else {
        let names = FuzzHarness.all.map(\.name).joined(separator: ", ")
        FileHandle.standardError.write(Data("chains-fuzz: set CHAINS_FUZZ_HARNESS to one of: \(names)\n".utf8))
        exit(2)
    }
    selected = harness
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
    let findings = selected!.run(data)
    if let first = findings.first {
        // A broken invariant is a finding like a crash: libFuzzer saves the input on abort.
        fatalError("\(selected!.name): \(first)")
    }
    return 0
}
