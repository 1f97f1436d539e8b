// swift-tools-version: 6.2
import PackageDescription

/// Our own targets build in Swift 6 mode with every warning an error; dependencies keep their own settings.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "ChainsInSwift",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "chains", targets: ["chains"]),
        .library(name: "ChainsCore", targets: ["ChainsCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .target(
            name: "OCI",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .target(
            name: "KubeModels",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .target(name: "ChainsConfig", dependencies: ["KubeModels"], swiftSettings: strict),
        .target(
            name: "Provenance",
            dependencies: [
                "OCI", "KubeModels", "ChainsConfig",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Signing",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ChainsCore",
            dependencies: [
                "OCI", "KubeModels", "ChainsConfig", "Provenance", "Signing",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ChainsTesting",
            dependencies: ["ChainsCore", "KubeModels", "Signing", "Provenance"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "chains",
            dependencies: [
                "ChainsCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "chains-bench",
            dependencies: ["ChainsCore", "ChainsTesting", "OCI", "KubeModels", "Provenance", "Signing", "ChainsConfig"],
            swiftSettings: strict
        ),
        .testTarget(name: "OCITests", dependencies: ["OCI"], swiftSettings: strict),
        .testTarget(name: "KubeModelsTests", dependencies: ["KubeModels"], swiftSettings: strict),
        .testTarget(name: "ChainsConfigTests", dependencies: ["ChainsConfig"], swiftSettings: strict),
        .testTarget(
            name: "ProvenanceTests",
            dependencies: ["Provenance", "ChainsTesting"],
            exclude: ["Golden"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SigningTests",
            dependencies: ["Signing", "ChainsTesting", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChainsCoreTests",
            dependencies: [
                "ChainsCore", "ChainsTesting", "Signing", "KubeModels",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
    ]
)
