#!/usr/bin/env bash
# test.sh - the README's test command, and exactly what CI runs (.ci/run):
# installs test tools where it can, then builds and runs every test
#   1. gcc, AddressSanitizer + UndefinedBehaviorSanitizer, -Werror: all tests;
#   2. clang (gcc if clang is missing), ThreadSanitizer, -Werror: the tests
#      of the threaded modes and of the event runtime;
#   (both run the event mode's tests a second time on the io_uring poller);
#   3. clang-tidy and cppcheck over src/, app/ and examples/ (scripts/lint.sh).
# Long runs (soak, full benchmarks, fuzzing) have their own commands (README).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

# Every test reads an empty input from /dev/null (see tests/cli/lib.sh).
if [ ! -c /dev/null ]; then
  echo "test.sh: /dev/null is not a character device ($(stat -c %F /dev/null)); as root: rm -f /dev/null && mknod -m 666 /dev/null c 1 3" >&2
  exit 2
fi

bash scripts/deps.sh

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)

configure_build() { # dir, extra cmake args...
  local dir=$1
  shift
  cmake -S . -B "$dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSS_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

echo "== build 1/2: gcc, ASan + UBSan"
CC=gcc configure_build build-asan -DSS_SANITIZE=address,undefined
status=0
echo "== tests 1/2: everything"
ctest --test-dir build-asan -j "$jobs" --output-on-failure || status=1
# The event mode's tests once more on the io_uring poller (SS_POLLER makes it
# the default), where the build has liburing and the kernel allows it.
event_tests='(^event\.|\.event(\.|$)|_event_)'
run_uring() { # build dir, ctest args...
  local dir=$1 why
  shift
  if why=$("$dir/tests/event/test_event_poller" available); then
    SS_POLLER=io_uring ctest --test-dir "$dir" -j "$jobs" --output-on-failure "$@" || status=1
  else
    echo "$why"
  fi
}
echo "== tests 1/2, again: the event mode on io_uring"
run_uring build-asan -R "$event_tests"

tsan_cc=clang
command -v clang >/dev/null || tsan_cc=gcc
echo "== build 2/2: $tsan_cc, ThreadSanitizer"
CC=$tsan_cc configure_build build-tsan -DSS_SANITIZE=thread
echo "== tests 2/2: threaded modes and the event runtime under TSan"
ctest --test-dir build-tsan -j "$jobs" --output-on-failure -L "tsan|event" || status=1
echo "== tests 2/2, again: the event mode on io_uring under TSan"
run_uring build-tsan -L "tsan|event" -R "$event_tests"

echo "== lint: clang-tidy and cppcheck (scripts/lint.sh)"
if command -v clang-tidy >/dev/null && command -v cppcheck >/dev/null; then
  bash scripts/lint.sh || status=1
else
  echo "skipped: lint (clang-tidy or cppcheck not installed)"
fi
exit $status
