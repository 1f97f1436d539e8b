#!/usr/bin/env bash
# Crash safety at full size: two `chains controller` replicas sign RUNS runs (default 1000) against the real
# docker-registry and the Rekor simulator while SIGKILLs (default 60, seeded, at random moments up to GAP_MS apart)
# hit them, each restarted as the same Pod or a new one. At the end every run must be signed exactly once: one .sig
# and one .att layer per image, two Rekor entries per run, no attempt record left. The test suite runs the same test
# at 40 runs; this prints the figures for docs/reliability.md.
#   scripts/crash-test.sh [RUNS] [KILLS] [SEED] [GAP_MS]
set -euo pipefail
cd "$(dirname "$0")/.."
export CHAINS_KILL_RUNS=${1:-1000} CHAINS_KILL_KILLS=${2:-60} CHAINS_KILL_SEED=${3:-8} CHAINS_KILL_GAP_MS=${4:-4000}
export CHAINS_TEST_PYTHON=${CHAINS_TEST_PYTHON:-$PWD/.venv-test/bin/python}
swift build --build-tests 2>&1 | grep -E "error|Compiling|Build complete" | tail -3
start=$(date +%s)
swift test --skip-build --filter "killReplicas" 2>&1 | grep -E "kill test:|✘|✔ Test killReplicas|Expectation failed" | head -40
echo "wall time: $(( $(date +%s) - start )) s (runs $CHAINS_KILL_RUNS, kills $CHAINS_KILL_KILLS, seed $CHAINS_KILL_SEED, gap ≤ $CHAINS_KILL_GAP_MS ms)"
