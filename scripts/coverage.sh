#!/usr/bin/env bash
# coverage.sh - line and branch coverage of the library (src/) by the whole
# test suite: gcc with gcov instrumentation (-DSS_COVERAGE=ON: --coverage -O0,
# no sanitizers) in build-cov, every ctest test, then gcovr. Prints the
# figures for src/ (the README's) and, for information, for app/; writes an
# HTML report to build-cov/coverage/index.html and ends with a one-line summary.
# Exits non-zero if a test failed (the report is written all the same).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
dir=build-cov
out=$dir/coverage

bash scripts/deps.sh
command -v gcovr >/dev/null || { echo "coverage: gcovr not installed" >&2; exit 1; }

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
CC=gcc cmake -S . -B "$dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=Debug -DSS_COVERAGE=ON -DSS_SANITIZE= \
    >/dev/null
cmake --build "$dir" -j "$jobs"

# Counters of an earlier run would add up with this one's.
find "$dir" -name '*.gcda' -delete
rm -rf "$out"
mkdir -p "$out"

# A test that drops root (tests/cli/usage.sh runs the program as nobody)
# must be able to update the program's counter files, or gcov's complaints
# end up in the stderr the test checks: the files are created here (a run of
# --version, which the tests run anyway) and opened to everyone.
"$dir/socketserver" --version >/dev/null
find "$dir" -name '*.gcda' -exec chmod a+w {} +
echo "== tests (gcov-instrumented)"
tests_rc=0
ctest --test-dir "$dir" -j "$jobs" --output-on-failure >"$out/ctest.log" 2>&1 || tests_rc=$?
tail -n 3 "$out/ctest.log"
[ "$tests_rc" = 0 ] || { echo "coverage: some tests failed (see $out/ctest.log):" >&2; \
    grep -E '^\s+[0-9]+ - ' "$out/ctest.log" >&2 || true; }

# gcov runs once over every counter file; the reports are cut from its JSON.
echo "== gcovr"
gcovr -r . --object-directory "$dir" -j "$jobs" --gcov-ignore-parse-errors \
    --filter 'src/' --filter 'app/' --json "$out/all.json"

report() { # title, filter, extra gcovr args...
    local title=$1 filter=$2
    shift 2
    echo "-- $title"
    gcovr -r . -a "$out/all.json" --filter "$filter" --print-summary "$@" |
        grep -E '^(lines|branches):'
}
report "src/ (the library)" 'src/' --txt "$out/src.txt" \
    --html-details "$out/index.html" --html-title "socketserver: src/ coverage"
report "app/ (the program; information only)" 'app/' --txt "$out/app.txt"

# The one line: lines and branches of src/, from the text summary above.
summary=$(gcovr -r . -a "$out/all.json" --filter 'src/' --print-summary -o /dev/null |
    awk '/^lines:/ {l=$2} /^branches:/ {b=$2} END {printf "lines %s, branches %s", l, b}')
echo "coverage src/: $summary (report: $out/index.html)"
exit "$tests_rc"
