#!/usr/bin/env bash
# memcheck.sh - the library tests (ctest label "lib") under valgrind memcheck,
# in a build without sanitizers (valgrind and ASan cannot share a process):
#   scripts/memcheck.sh [CTEST-ARGS...]   e.g. -R matrix.thread, -j 1
# Exits non-zero when valgrind reports any error (invalid access, use of
# uninitialised memory, a definite or possible leak) in any test, or when a
# test fails. valgrind.supp holds the suppressions, each with its reason.
# Environment: MEMCHECK_BUILD (default build-memcheck), MEMCHECK_LABEL
# (default lib), MEMCHECK_JOBS (default: the number of cores).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${MEMCHECK_BUILD:-build-memcheck}
label=${MEMCHECK_LABEL:-lib}
jobs=${MEMCHECK_JOBS:-$(nproc 2>/dev/null || echo 2)}

valgrind=$(command -v valgrind) || {
    echo "memcheck.sh: valgrind is not installed (Debian: apt-get install valgrind)" >&2
    exit 2
}
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)

# -O1 keeps the stacks readable; no sanitizer; the event runtime finds
# <valgrind/valgrind.h> and registers its coroutine stacks with valgrind.
mkdir -p "$build"
if ! { cmake -S . -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSS_SANITIZE= \
    -DSS_BUILD_EXAMPLES=OFF && cmake --build "$build" -j "$jobs"; } >"$build/memcheck-build.log" 2>&1; then
    tail -n 30 "$build/memcheck-build.log" >&2
    echo "memcheck.sh: the build failed (log: $build/memcheck-build.log)" >&2
    exit 2
fi

# --error-exitcode makes a test fail on any error; --errors-for-leak-kinds
# counts definite and possible leaks as errors (still reachable memory is the
# normal state of a process that exits, not a leak). Descriptor tracking is
# off: the tests count descriptors themselves. --trace-children=no: nothing
# the tests run execs (fork mode's children fork without exec, and valgrind
# follows a fork whatever this says).
opts="--error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,possible"
opts+=" --show-leak-kinds=definite,possible --track-fds=no --trace-children=no"
opts+=" --num-callers=30 --child-silent-after-fork=no"

rm -f "$build"/Testing/Temporary/MemoryChecker.*.log
start=$(date +%s)
set +e
ctest --test-dir "$build" -T memcheck -L "$label" -j "$jobs" --output-on-failure \
    --overwrite "MemoryCheckCommand=$valgrind" \
    --overwrite "MemoryCheckCommandOptions=$opts" \
    --overwrite "MemoryCheckSuppressionFile=$root/valgrind.supp" "$@"
rc=$?
set -e
echo "memcheck.sh: $(($(date +%s) - start)) s; valgrind logs in $build/Testing/Temporary/MemoryChecker.*.log"
# ctest fails a test whose valgrind run found errors (--error-exitcode), but
# says "Defects" for what it parses from the logs too: fail on either.
defects=$( (grep -l -E "ERROR SUMMARY: [1-9]" "$build"/Testing/Temporary/MemoryChecker.*.log 2>/dev/null || true) |
    wc -l)
if [ "$rc" -ne 0 ] || [ "$defects" -ne 0 ]; then
    echo "memcheck.sh: FAILED (ctest status $rc, $defects log(s) with valgrind errors)" >&2
    exit 1
fi
echo "memcheck.sh: no valgrind errors"
