#!/usr/bin/env bash
# Mutation probe (by hand, not CI): scripts/mutation-probe.sh [MUTATION_ID...] — see scripts/mutation-probe.py.
# Mutates the working tree one change at a time and restores it; do not edit Sources/ while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/mutation-probe.py "$@"
