#!/usr/bin/env bash
# lint.sh - static analysis of the library, the program and the examples:
# clang-tidy (checks in .clang-tidy, compile commands from a clang configure
# of build-lint; nothing is built) and cppcheck (suppressions, each with its
# reason, in cppcheck.supp). Prints every finding as file:line:col and exits
# non-zero if there is any, or if a tool is missing.
#   scripts/lint.sh            everything
#   scripts/lint.sh FILE...    only these .c files (both tools)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc 2>/dev/null || echo 2)
dir=build-lint
out=$dir/lint

bash scripts/deps.sh
for tool in clang clang-tidy cppcheck; do
    command -v "$tool" >/dev/null || { echo "lint: $tool not installed" >&2; exit 2; }
done

if [ $# -gt 0 ]; then
    files=("$@")
else
    files=(src/*.c src/event/*.c app/*.c app/*/*.c examples/*.c)
fi

# The compile database, as clang sees the flags (gcc-only warnings would be
# unknown options to clang-tidy). A cache made with another compiler is
# dropped: CMake cannot switch compilers in place.
if [ -f "$dir/CMakeCache.txt" ] && ! grep -q '^CMAKE_C_COMPILER:[A-Z]*=.*clang' "$dir/CMakeCache.txt"; then
    rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
fi
CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
    -DSS_SANITIZE= -DSS_COVERAGE=OFF >/dev/null || { echo "lint: cmake failed" >&2; exit 2; }
mkdir -p "$out"
rm -f "$out/clang-tidy.err"

# ---- clang-tidy: one process per file, $jobs at a time. Findings in the
# project's headers are reported once per including file: deduplicated.
echo "== clang-tidy ($(clang-tidy --version | grep -o 'version [0-9.]*'), ${#files[@]} files)"
printf '%s\n' "${files[@]}" |
    xargs -P "$jobs" -I{} sh -c 'clang-tidy -p "$1" --quiet --header-filter="$2" "$3" 2>>"$4"' _ \
        "$dir" "^$root/(src|app|include|examples)/" {} "$out/clang-tidy.err" >"$out/clang-tidy.log"
grep -E '^[^ ].*:[0-9]+:[0-9]+: (warning|error):' "$out/clang-tidy.log" |
    sed "s|^$root/||" | sort -u >"$out/clang-tidy.txt"
tidy_n=$(wc -l <"$out/clang-tidy.txt")
cat "$out/clang-tidy.txt"
echo "clang-tidy: $tidy_n finding(s) (details: $out/clang-tidy.log)"

# ---- cppcheck: the configuration the build uses (_GNU_SOURCE, the event
# runtime in). Only the standard library model: the posix and gnu models
# flag correct code here (NULL addrlen to accept4, fd -1 with MAP_ANONYMOUS).
echo "== cppcheck ($(cppcheck --version))"
cppcheck --enable=warning,style,performance,portability --std=c11 --inline-suppr \
    --suppressions-list=cppcheck.supp --error-exitcode=1 --quiet -j "$jobs" \
    -I include -I src -I app -I app/services -D_GNU_SOURCE -DSS_HAVE_EVENT=1 \
    --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
    "${files[@]}" >"$out/cppcheck.log" 2>&1
cpp_rc=$?
grep -E '^[^ ].*:[0-9]+:[0-9]+: ' "$out/cppcheck.log" | sed "s|^$root/||" | sort -u \
    >"$out/cppcheck.txt"
cpp_n=$(wc -l <"$out/cppcheck.txt")
cat "$out/cppcheck.txt"
[ "$cpp_rc" != 0 ] && [ "$cpp_n" = 0 ] && { cat "$out/cppcheck.log"; cpp_n=1; }
echo "cppcheck: $cpp_n finding(s)"

total=$((tidy_n + cpp_n))
echo "lint: $total finding(s)"
[ "$total" = 0 ]
