#!/usr/bin/env bash
# install.sh BUILD_DIR SOURCE_DIR [SANITIZE] - `cmake --install` into a temporary
# prefix, then build a program against it twice: with find_package (the
# CMake package config) and with pkg-config. Checks the header, the shared
# library, the exported symbols (only ss_*), the man pages (every section 3
# page of the source tree, socketserver(1) and (7)) and the program.
set -eu
build=$1 src=$2
san=${3:-}
sflags=""
[ -n "$san" ] && sflags="-fsanitize=$san" # a sanitized library needs its runtime
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/p" >/dev/null
lib=$(find "$tmp/p" -name 'libsocketserver.so.*' | head -1)
[ -n "$lib" ] || { echo "FAIL: no shared library installed"; exit 1; }
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDB]$/ && $3 !~ /^ss_/ {print $3}')
[ -z "$bad" ] || { echo "FAIL: exported beyond the public API: $bad"; exit 1; }
for f in include/socketserver.h bin/socketserver share/man/man1/socketserver.1 \
  share/man/man7/socketserver.7 share/man/man3/ss_server_create.3; do
  [ -e "$tmp/p/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
for page in "$src"/man/man3/*.3; do
  cmp -s "$page" "$tmp/p/share/man/man3/${page##*/}" ||
    { echo "FAIL: man3/${page##*/} not installed as written"; exit 1; }
done
mkdir "$tmp/c"
cp "$src/tests/install/consumer.c" "$tmp/c/"
cp "$src/tests/install/CMakeLists.txt.in" "$tmp/c/CMakeLists.txt"
cmake -S "$tmp/c" -B "$tmp/c/b" -DCMAKE_PREFIX_PATH="$tmp/p" -DCMAKE_C_FLAGS="$sflags" >/dev/null
cmake --build "$tmp/c/b" >/dev/null
libdir=$(dirname "$lib")
out=$(LD_LIBRARY_PATH=$libdir "$tmp/c/b/consumer")
[ "$out" = "0.2.0 tcp://[::1]:2345" ] || { echo "FAIL: find_package consumer said: $out"; exit 1; }
if command -v pkg-config >/dev/null; then
  flags=$(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags --libs socketserver)
  # shellcheck disable=SC2086
  cc -std=c11 -Wall -Wextra -Wpedantic $sflags "$tmp/c/consumer.c" $flags -o "$tmp/c/pc"
  out=$(LD_LIBRARY_PATH=$libdir "$tmp/c/pc")
  [ "$out" = "0.2.0 tcp://[::1]:2345" ] || { echo "FAIL: pkg-config consumer said: $out"; exit 1; }
else
  echo "skipped: pkg-config not installed (the find_package check ran)"
fi
echo "install: ok"
