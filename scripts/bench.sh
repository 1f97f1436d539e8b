#!/usr/bin/env bash
# Benchmarks (release build): payload generation + signing throughput on one core, and `chains sign` cold start.
#   scripts/bench.sh [seconds-per-line]   throughput and cold start
#   scripts/bench.sh push                 200 .sig/.att pushes to a local token-auth registry (needs docker-registry)
#   scripts/bench.sh keyless              100 runs signed keylessly against the Fulcio simulator: tokens, certificates
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product chains >/dev/null
swift build -c release --product chains-bench >/dev/null
bin=$(swift build -c release --show-bin-path)
if [ "${1:-}" = "keyless" ]; then
    "$bin/chains-bench" --keyless 100
    exit 0
fi
if [ "${1:-}" != "push" ]; then
    taskset -c 0 "$bin/chains-bench" --seconds "${1:-2}" --chains "$bin/chains" --cold-runs 30
fi
if [ "${1:-}" = "push" ] || [ "${2:-}" = "push" ]; then
    "$bin/chains-bench" --push 200
fi
