#!/usr/bin/env bash
# fuzz.sh - a short fuzzing run of every target (fuzz/README.md):
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# builds the libFuzzer targets with clang (ASan + UBSan, the library
# instrumented too) in build-fuzz/, then runs each target for SECONDS
# (default 60) on a copy of its corpus (fuzz/corpus/<target>/ is not
# changed), as many at once as there are cores (FUZZ_JOBS overrides).
# A crash, leak or timeout leaves its input in build-fuzz/crashes/<target>/
# and makes the script fail; a line per target sums up each run.
# Reproduce one with: build-fuzz/fuzz/ss_fuzz_<target> CRASH-FILE
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
all=(addr readline opts http svc_echo svc_discard svc_chargen svc_daytime svc_time svc_upper
    svc_timestamp)
targets=("$@")
[ $# -gt 0 ] || targets=("${all[@]}")
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
out=build-fuzz

command -v clang >/dev/null || {
    echo "fuzz: clang is not installed (scripts/deps.sh installs it)" >&2
    exit 1
}
# libFuzzer is in compiler-rt, a package of its own (Debian: libclang-rt-dev).
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }' >"$probe/p.c"
clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>/dev/null || {
    echo "fuzz: clang cannot link libFuzzer; install libclang-rt-dev (scripts/deps.sh does)" >&2
    exit 1
}
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
echo "== build: clang, libFuzzer + ASan + UBSan, in $out/"
CC=clang cmake -S . -B "$out" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSS_WERROR=ON \
    -DSS_BUILD_FUZZ=ON -DSS_BUILD_TESTS=OFF -DSS_BUILD_EXAMPLES=OFF \
    -DSS_SANITIZE=address,undefined,fuzzer-no-link >/dev/null
cmake --build "$out" -j "$jobs" --target "${targets[@]/#/ss_fuzz_}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# One target: fuzz a fresh copy of the committed corpus, keep the log.
run_one() {
    local t=$1 work=$out/fuzz-run/$1
    rm -rf "$work" "$out/crashes/$t"
    mkdir -p "$work" "$out/crashes/$t"
    cp -r "fuzz/corpus/$t" "$work/corpus"
    "$out/fuzz/ss_fuzz_$t" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$out/crashes/$t/" "$work/corpus" >"$work/log" 2>&1 || true
}

# The summary line of a target, from its log and its crash directory.
summary() {
    local t=$1 log=$out/fuzz-run/$1/log
    local execs cov ft corpus crashes
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    corpus=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
    crashes=$(find "$out/crashes/$t" -type f | wc -l)
    printf '%-14s %10s execs  cov %-5s ft %-6s corpus %-10s crashes %d' "$t" "${execs:-?}" \
        "${cov:-?}" "${ft:-?}" "${corpus:-?}" "$crashes"
    if [ "$crashes" -gt 0 ]; then
        printf '  -> %s (log: %s)\n' "$(find "$out/crashes/$t" -type f | head -1)" "$log"
        return 1
    fi
    printf '\n'
}

echo "== fuzzing ${#targets[@]} target(s) for ${secs}s each, $jobs at a time"
running=0
for t in "${targets[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
    run_one "$t" &
    running=$((running + 1))
done
wait

echo "== summary (logs in $out/fuzz-run/, crash inputs in $out/crashes/)"
status=0
for t in "${targets[@]}"; do summary "$t" || status=1; done
exit $status
