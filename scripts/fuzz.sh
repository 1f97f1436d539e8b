#!/usr/bin/env bash
# Fuzzes the parsers of untrusted bytes with libFuzzer (coverage-guided, AddressSanitizer).
#   scripts/fuzz.sh [HARNESS|all|--list] [SECONDS] [--merge]
# Builds Fuzz/ (the driver over Sources/FuzzTargets) with --sanitize fuzzer,address in .build-fuzz — never the main
# build folder, never in CI — then runs each harness for SECONDS (default 120) from its committed corpus
# (Fuzz/Corpus/<harness>) in a working corpus under .build-fuzz/corpus. A crash, hang (> 10 s) or out-of-memory
# (> 2 GiB) input is written to Fuzz/Crashes/<harness>/: fix it, keep the file (the replay test runs it from then on).
# --merge folds what the run found back into Fuzz/Corpus/<harness>, minimized (libFuzzer -merge=1).
# A line per harness goes to .build-fuzz/results.tsv: harness, seconds, executions, exec/s, coverage, features,
# corpus size, crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
which=${1:-all}
seconds=${2:-120}
merge=0
for a in "$@"; do [ "$a" = --merge ] && merge=1; done
names() { grep -ohE 'name: "[a-z0-9-]+"' Sources/FuzzTargets/*Harnesses.swift | cut -d'"' -f2; }
if [ "$which" = --list ]; then names; exit 0; fi
# One -sanitize=fuzzer,address for swiftc: `swift build --sanitize fuzzer --sanitize address` hands swiftc two
# -sanitize= flags and the last one wins, so the Swift code got AddressSanitizer and no coverage counters (measured:
# 96,090 counters, all in C modules) and libFuzzer ran blind. C targets get coverage and ASan through -Xcc.
# --sanitize fuzzer stays for the link (SwiftPM then lets libFuzzer's main stand); the -Xswiftc flag comes after it
# on swiftc's command line and wins.
flags=(--sanitize fuzzer -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address)
echo "== building the sanitized fuzz driver (.build-fuzz, debug)" >&2
(cd Fuzz && swift build -c debug --scratch-path "$root/.build-fuzz" "${flags[@]}" 2>&1 |
    grep -E "error|Compiling chains_fuzz|Build complete" >&2) || true
bin=$(cd Fuzz && swift build -c debug --scratch-path "$root/.build-fuzz" --show-bin-path)/chains-fuzz
[ -x "$bin" ] || { echo "fuzz.sh: the driver did not build; see: cd Fuzz && swift build -c debug --scratch-path ../.build-fuzz ${flags[*]}" >&2; exit 1; }
# The driver must be coverage-instrumented where the harnesses run (a build once came out with the parsers
# uninstrumented, and libFuzzer then finds nothing new): the seed corpus must show coverage.
probe=$(CHAINS_FUZZ_HARNESS=run-manifest SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 "$bin" -runs=0 \
    Fuzz/Corpus/run-manifest 2>&1 | grep -oE 'INITED cov: [0-9]+' | grep -oE '[0-9]+$' || echo 0)
if [ "${probe:-0}" -lt 500 ]; then
    echo "fuzz.sh: the driver reaches only ${probe:-0} instrumented edges on the run-manifest seeds; rebuild it clean: rm -rf .build-fuzz" >&2
    exit 1
fi
if [ "$which" = all ]; then list=$(names); else list=$which; fi
mkdir -p .build-fuzz/corpus .build-fuzz/logs
for h in $list; do
    [ -d "Fuzz/Corpus/$h" ] || { echo "fuzz.sh: no harness $h (scripts/fuzz.sh --list)" >&2; exit 2; }
    work=.build-fuzz/corpus/$h
    mkdir -p "$work" "Fuzz/Crashes/$h"
    log=.build-fuzz/logs/$h.log
    before=$(ls "Fuzz/Crashes/$h" | wc -l)
    echo "== $h: $seconds s" >&2
    set +e
    # SWIFT_BACKTRACE off: the Swift backtracer does not cope with ASan's stack and hangs after a finding.
    CHAINS_FUZZ_HARNESS=$h SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$bin" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
        -artifact_prefix="Fuzz/Crashes/$h/" -close_fd_mask=1 "$work" "Fuzz/Corpus/$h" >"$log" 2>&1
    status=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    crashes=$(( $(ls "Fuzz/Crashes/$h" | wc -l) - before ))
    size=$(ls "$work" | wc -l)
    if [ $status -ne 0 ]; then
        echo "!! $h stopped with status $status; the input is in Fuzz/Crashes/$h; log: $log" >&2
        grep -E "ERROR|Fatal error|SUMMARY" "$log" | head -5 >&2 || true
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$h" "$seconds" "${execs:-0}" "${rate:-0}" "${cov:-0}" "${ft:-0}" "$size" \
        "$crashes" | tee -a .build-fuzz/results.tsv
    if [ $merge -eq 1 ]; then
        mkdir -p ".build-fuzz/merged/$h" && rm -f ".build-fuzz/merged/$h"/*
        CHAINS_FUZZ_HARNESS=$h SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 "$bin" -merge=1 -max_len=16384 ".build-fuzz/merged/$h" \
            "Fuzz/Corpus/$h" "$work" >>"$log" 2>&1
        for f in ".build-fuzz/merged/$h"/*; do
            n=$(basename "$f"); [ -e "Fuzz/Corpus/$h/seed-$n" ] || [ -e "Fuzz/Corpus/$h/$n" ] || cp "$f" "Fuzz/Corpus/$h/$n"
        done
        # Inputs libFuzzer no longer needs are dropped, except the seeds.
        for f in "Fuzz/Corpus/$h"/*; do
            n=$(basename "$f"); case $n in seed-*) continue ;; esac
            [ -e ".build-fuzz/merged/$h/$n" ] || rm -f "$f"
        done
        echo "   corpus: $(ls "Fuzz/Corpus/$h" | wc -l) inputs" >&2
    fi
done
