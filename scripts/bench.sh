#!/usr/bin/env bash
# Benchmarks (release build): payload generation + signing throughput on one core, and `chains sign` cold start.
#   scripts/bench.sh [seconds-per-line]   throughput and cold start
#   scripts/bench.sh push                 200 .sig/.att pushes to a local token-auth registry (needs docker-registry)
#   scripts/bench.sh keyless              100 runs signed keylessly against the Fulcio simulator: tokens, certificates
#   scripts/bench.sh rekor-v2 [N]         N (default 600) keyless runs through Fulcio, Rekor v2 (0, 200 ms, 2 s of write
#                                         latency) and an RFC 3161 authority, 64 (then 128) at a time
#   scripts/bench.sh gcs [N]              N (default 300) runs by one controller storing in oci, then in oci,gcs
#   scripts/bench.sh mongo [N]            N (default 300) runs by one controller storing in oci, then in oci,docdb
#                                         on mongo:// (the MongoDB simulator, SCRAM-SHA-256, one connection)
#   scripts/bench.sh controller [N]       N (default 1000) runs signed by chains controller processes: 1 replica, then
#                                         1 vs 3 replicas with 50 ms of registry latency (docs/performance.md)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product chains >/dev/null
swift build -c release --product chains-bench >/dev/null
bin=$(swift build -c release --show-bin-path)
if [ "${1:-}" = "controller" ]; then
    n="${2:-1000}"
    "$bin/chains-bench" --controller "$n" --replicas 1 --idle 30 --kube-api-qps 1000 --chains "$bin/chains"
    for r in 1 3; do
        "$bin/chains-bench" --controller "$n" --replicas "$r" --latency 50 --kube-api-qps 1000 --chains "$bin/chains"
    done
    exit 0
fi
if [ "${1:-}" = "gcs" ]; then
    # oci alone, then oci,gcs: the same N runs' kind, one replica, the same machine (needs .venv-test's emulator).
    n="${2:-300}"
    "$bin/chains-bench" --controller "$n" --replicas 1 --kube-api-qps 1000 --chains "$bin/chains"
    "$bin/chains-bench" --controller "$n" --replicas 1 --kube-api-qps 1000 --chains "$bin/chains" --also-gcs
    exit 0
fi
if [ "${1:-}" = "mongo" ]; then
    n="${2:-300}"
    "$bin/chains-bench" --controller "$n" --replicas 1 --kube-api-qps 1000 --chains "$bin/chains"
    "$bin/chains-bench" --controller "$n" --replicas 1 --kube-api-qps 1000 --chains "$bin/chains" --also-mongo
    exit 0
fi
if [ "${1:-}" = "rekor-v2" ]; then
    "$bin/chains-bench" --rekor-v2 "${2:-600}" --log-latency 0,200,2000 --concurrency 64
    "$bin/chains-bench" --rekor-v2 "${2:-600}" --log-latency 2000 --concurrency 128
    exit 0
fi
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
