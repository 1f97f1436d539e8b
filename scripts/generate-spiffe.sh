#!/usr/bin/env bash
# Regenerates Sources/SPIFFE/Generated/ from Sources/SPIFFE/Proto/workload.proto with protoc and the two Swift
# plugins (swift-protobuf's protoc-gen-swift, grpc-swift-protobuf's protoc-gen-grpc-swift-2), built from the
# package's own resolved checkouts into .build-gen/. Not part of the build or the tests: the generated code is
# committed (SwiftPM's build plugins would compile protoc from source, ~10 minutes per clean build).
#   scripts/generate-spiffe.sh        # needs protoc (Debian: apt-get install protobuf-compiler)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "protoc is missing: apt-get install protobuf-compiler" >&2; exit 1; }
swift package resolve >/dev/null
gen=.build-gen
for plugin in "swift-protobuf protoc-gen-swift" "grpc-swift-protobuf protoc-gen-grpc-swift-2"; do
    set -- $plugin
    swift build -c release --package-path ".build/checkouts/$1" --scratch-path "$gen/$1" --product "$2" >/dev/null
done
out=Sources/SPIFFE/Generated
mkdir -p "$out"
protoc --proto_path=Sources/SPIFFE/Proto \
    --plugin=protoc-gen-swift="$gen/swift-protobuf/release/protoc-gen-swift" \
    --plugin=protoc-gen-grpc-swift="$gen/grpc-swift-protobuf/release/protoc-gen-grpc-swift-2" \
    --swift_out="$out" --swift_opt=Visibility=Package \
    --grpc-swift_out="$out" --grpc-swift_opt=Visibility=Package,Server=true,Client=true \
    workload.proto
for f in "$out"/*.swift; do
    { echo "// swift-format-ignore-file"; cat "$f"; } > "$f.tmp" && mv "$f.tmp" "$f"
done
echo "generated: $(ls "$out")"
