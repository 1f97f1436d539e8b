// swift-tools-version:6.0
// A program that uses only the ChainsCore product's public API, as a package depending on this one would.
// `swift run sign-run RUN.yaml [CHAINS_CONFIG]` from this directory; docs/development.md, "The ChainsCore product".
import PackageDescription

let package = Package(
    name: "Embedding",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "ChainsInSwift", path: "../..")],
    targets: [
        .executableTarget(
            name: "sign-run", dependencies: [.product(name: "ChainsCore", package: "ChainsInSwift")],
            swiftSettings: [.swiftLanguageMode(.v6)])
    ]
)
