#!/usr/bin/env bash
# Benchmarks (release build): payload generation + signing throughput on one core, and `chains sign` cold start.
#   scripts/bench.sh [seconds-per-line]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product chains >/dev/null
swift build -c release --product chains-bench >/dev/null
bin=$(swift build -c release --show-bin-path)
taskset -c 0 "$bin/chains-bench" --seconds "${1:-2}" --chains "$bin/chains" --cold-runs 30
