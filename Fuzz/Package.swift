// swift-tools-version: 6.2
// The libFuzzer driver for the harnesses in ../Sources/FuzzTargets. Built only by scripts/fuzz.sh, in debug, with
// `-Xswiftc -sanitize=fuzzer,address` (one flag: SwiftPM's two --sanitize flags leave Swift code uninstrumented) in a
// build folder of its own (.build-fuzz); `swift test` in the main package
// replays Corpus/ and Crashes/ through the same harness functions without this build.
import PackageDescription

let package = Package(
    name: "ChainsFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "ChainsInSwift", path: "..")],
    targets: [
        .executableTarget(
            name: "chains-fuzz",
            dependencies: [.product(name: "FuzzTargets", package: "ChainsInSwift")],
            // libFuzzer brings main(); this target only exports LLVMFuzzerInitialize and LLVMFuzzerTestOneInput.
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    ]
)
