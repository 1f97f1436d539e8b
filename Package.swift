// swift-tools-version: 6.2
import PackageDescription

/// Our own targets build in Swift 6 mode with every warning an error; dependencies keep their own settings.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "ChainsInSwift",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "chains", targets: ["chains"]),
        // The embedding API (docs/development.md, "The ChainsCore product"): ChainsCore, and the kinds it names.
        .library(name: "ChainsCore", targets: ["ChainsCore", "ChainsConfig"]),
        // For the fuzz package in Fuzz/ (scripts/fuzz.sh); nothing else links it.
        .library(name: "FuzzTargets", targets: ["FuzzTargets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
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
            name: "HTTPTransport",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(name: "RegistryAuth", dependencies: ["OCI", "KubeModels"], swiftSettings: strict),
        .target(name: "KubeClient", dependencies: ["KubeModels", "HTTPTransport"], swiftSettings: strict),
        .target(
            name: "CloudCredentials",
            dependencies: [
                "RegistryAuth", "HTTPTransport", "Signing", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "OCIRegistry",
            dependencies: ["OCI", "RegistryAuth", "HTTPTransport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "Provenance",
            dependencies: [
                "OCI", "KubeModels", "ChainsConfig",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // A small MongoDB client (BSON, OP_MSG, SCRAM-SHA-256, TLS): no Swift MongoDB driver is among our packages.
        .target(
            name: "MongoWire",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Signing",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Sigstore",
            dependencies: [
                "Signing", "HTTPTransport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "SPIFFE",
            dependencies: [
                "Sigstore",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["Proto"],
            swiftSettings: strict
        ),
        .target(
            name: "ChainsCore",
            dependencies: [
                "OCI", "KubeModels", "ChainsConfig", "Provenance", "Signing", "Sigstore", "RegistryAuth", "OCIRegistry",
                "HTTPTransport", "CloudCredentials", "MongoWire", .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Controller",
            dependencies: [
                "ChainsCore", "ChainsConfig", "Sigstore", "KubeClient", "KubeModels", "HTTPTransport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The parsers of untrusted bytes as fuzz harnesses: driven by libFuzzer from Fuzz/ (scripts/fuzz.sh) and by
        // the corpus replay in FuzzTargetsTests, so that `swift test` replays every committed input.
        .target(
            name: "FuzzTargets",
            dependencies: [
                "OCI", "KubeModels", "ChainsConfig", "Provenance", "RegistryAuth", "OCIRegistry", "HTTPTransport",
                "Signing", "Sigstore", "KubeClient", "SPIFFE", "CloudCredentials", "MongoWire",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ChainsTesting",
            dependencies: [
                "ChainsCore", "KubeModels", "Signing", "OCI", "HTTPTransport", "Sigstore", "MongoWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "chains",
            dependencies: [
                "ChainsCore", "ChainsConfig", "OCI", "OCIRegistry", "Signing", "Sigstore", "SPIFFE", "Controller",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "chains-bench",
            dependencies: [
                "ChainsCore", "ChainsTesting", "OCI", "KubeModels", "Provenance", "Signing", "ChainsConfig",
                "HTTPTransport", "OCIRegistry", "RegistryAuth", "Sigstore",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "FuzzTargetsTests",
            dependencies: [
                "FuzzTargets", "OCI", "Signing", "RegistryAuth", "Sigstore", "HTTPTransport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "OCITests", dependencies: ["OCI"], swiftSettings: strict),
        .testTarget(name: "MongoWireTests", dependencies: ["MongoWire", "ChainsTesting"], swiftSettings: strict),
        .testTarget(
            name: "KubeModelsTests", dependencies: ["KubeModels", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict),
        .testTarget(name: "ChainsConfigTests", dependencies: ["ChainsConfig"], swiftSettings: strict),
        .testTarget(
            name: "RegistryAuthTests", dependencies: ["RegistryAuth", "ChainsTesting", "KubeModels", "OCI"],
            swiftSettings: strict),
        .testTarget(
            name: "CloudCredentialsTests",
            dependencies: [
                "CloudCredentials", "RegistryAuth", "HTTPTransport", "ChainsTesting", "ChainsCore", "Signing", "OCI",
                "KubeModels", "SPIFFE", "Sigstore",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "OCIRegistryTests",
            dependencies: [
                "OCIRegistry", "RegistryAuth", "HTTPTransport", "ChainsTesting", "ChainsCore", "Signing", "KubeModels",
                "Provenance", "OCI", "Sigstore", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ProvenanceTests",
            dependencies: ["Provenance", "ChainsConfig", "ChainsTesting", "KubeModels", "OCI"],
            exclude: ["Golden"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SigningTests",
            dependencies: ["Signing", "ChainsTesting", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "ChainsTesting", "KubeModels", "HTTPTransport", "Controller", "ChainsConfig", "Signing", "Sigstore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "ControllerTests",
            dependencies: [
                "Controller", "ChainsCore", "ChainsConfig", "ChainsTesting", "KubeClient", "KubeModels", "Signing", "MongoWire",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KubeClientTests", dependencies: ["KubeClient", "ChainsTesting", "KubeModels"], swiftSettings: strict),
        .testTarget(
            name: "KubeAPITests", dependencies: ["ChainsTesting", "KubeModels", "HTTPTransport"], swiftSettings: strict),
        .testTarget(
            name: "SPIFFETests",
            dependencies: [
                "SPIFFE", "Sigstore", "ChainsTesting", "ChainsCore", "HTTPTransport",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SigstoreTests",
            dependencies: [
                "Sigstore", "ChainsTesting", "Signing", "HTTPTransport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            exclude: ["Conformance", "SigningConfigs"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChainsCoreTests",
            dependencies: [
                "ChainsCore", "ChainsTesting", "Signing", "KubeModels", "ChainsConfig", "OCIRegistry", "Sigstore",
                "HTTPTransport", "OCI", "CloudCredentials", "MongoWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: strict
        ),
    ]
)
