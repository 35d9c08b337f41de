#!/usr/bin/env bash
# deb.sh SOURCE_DIR - the Debian package (debian/): builds libsocketserver0,
# libsocketserver-dev and socketserver with `dpkg-buildpackage -us -uc -b`
# from a copy of the source tree (DEB_BUILD_OPTIONS="nocheck parallel=2":
# the project is built once more, no tests), runs lintian (no error
# allowed; warnings are printed), unpacks the packages into a scratch root
# (dpkg -x), checks what each ships, builds the example tcpc1 (examples/)
# against the -dev package twice, with pkg-config (shared library) and with
# CMake's find_package (static library), and runs both against the
# package's `socketserver serve upper` on loopback. Root only (the test
# command installs debhelper and lintian as root; the build itself needs no
# root: Rules-Requires-Root: no).
set -u
src=$1
skip() {
  echo "skipped: $*"
  exit 77
}
fail() {
  echo "FAIL: $*"
  exit 1
}
[ "$(id -u)" = 0 ] || skip "not root"
command -v dpkg-buildpackage >/dev/null 2>&1 || skip "dpkg-buildpackage not installed (package dpkg-dev)"
command -v dh >/dev/null 2>&1 || skip "dh not installed (package debhelper)"
command -v lintian >/dev/null 2>&1 || skip "lintian not installed (package lintian)"
command -v pkg-config >/dev/null 2>&1 || skip "pkg-config not installed (package pkg-config)"
# Build-Depends beyond the compiler and cmake: TLS and io_uring are part of
# the package.
for dep in libssl-dev liburing-dev; do
  dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q "install ok installed" ||
    skip "$dep not installed (a Build-Depends)"
done

t0=$(date +%s)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ss-deb.XXXXXX") || exit 1
srv=""
cleanup() {
  [ -n "$srv" ] && kill -9 "$srv" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# The copy: the source tree without version control or build directories
# (this test may run from a build directory inside it).
version=$(sed -n '1s/^socketserver (\([^)]*\)).*/\1/p' "$src/debian/changelog")
[ -n "$version" ] || fail "no version in debian/changelog"
tree=$tmp/socketserver-$version
mkdir -p "$tree"
tar -C "$src" --exclude=./.git --exclude='./build*' --exclude='./obj-*' --exclude=./debian/tmp \
  -cf - . | tar -C "$tree" -xf - || fail "copying the source tree"
find "$tree" -name CMakeCache.txt -printf '%h\n' | xargs -r rm -rf # any other build directory

(cd "$tree" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) \
  >"$tmp/build.log" 2>&1 || {
  tail -40 "$tmp/build.log"
  fail "dpkg-buildpackage"
}
t1=$(date +%s)
echo "dpkg-buildpackage: $((t1 - t0)) s"

arch=$(dpkg-architecture -qDEB_HOST_ARCH)
multi=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for p in libsocketserver0 libsocketserver-dev socketserver; do
  [ -f "$tmp/${p}_${version}_${arch}.deb" ] || fail "no package $p"
done

# lintian: errors fail, warnings are shown (a root run says so: not a finding).
lintian --fail-on error --display-info "$tmp/socketserver_${version}_${arch}.changes" \
  >"$tmp/lintian.out" 2>&1
rc=$?
grep -v 'running with root privileges' "$tmp/lintian.out"
[ $rc -eq 0 ] || fail "lintian reports errors"

root=$tmp/root
for p in libsocketserver0 libsocketserver-dev socketserver; do
  dpkg -x "$tmp/${p}_${version}_${arch}.deb" "$root" || fail "dpkg -x $p"
done
# What each package ships.
owns() { # PACKAGE PATH...
  local p=$1 f
  shift
  dpkg -c "$tmp/${p}_${version}_${arch}.deb" >"$tmp/$p.list" || fail "dpkg -c $p"
  for f in "$@"; do
    grep -q " \./${f}\( \|$\)" "$tmp/$p.list" || fail "$p does not ship /$f"
  done
}
owns libsocketserver0 "usr/lib/$multi/libsocketserver.so.0" "usr/lib/$multi/libsocketserver.so.$version"
owns libsocketserver-dev usr/include/socketserver.h "usr/lib/$multi/libsocketserver.so" \
  "usr/lib/$multi/libsocketserver.a" "usr/lib/$multi/pkgconfig/socketserver.pc" \
  "usr/lib/$multi/cmake/socketserver/socketserverConfig.cmake" \
  usr/share/man/man3/ss_server_create.3.gz usr/share/man/man7/socketserver.7.gz
owns socketserver usr/bin/socketserver usr/share/man/man1/socketserver.1.gz \
  'lib/systemd/system/socketserver@.socket' 'lib/systemd/system/socketserver@.service'
# The library has what the build can have: TLS and the io_uring poller.
objdump -p "$root/usr/lib/$multi/libsocketserver.so.$version" | grep -q 'NEEDED *libssl\.so' ||
  fail "the packaged library is built without TLS"
objdump -p "$root/usr/lib/$multi/libsocketserver.so.$version" | grep -q 'NEEDED *liburing\.so' ||
  fail "the packaged library is built without io_uring"
soname=$(objdump -p "$root/usr/lib/$multi/libsocketserver.so.$version" | awk '/SONAME/ {print $2}')
[ "$soname" = libsocketserver.so.0 ] || fail "SONAME is [$soname]"
# The template units are neither enabled nor started by the maintainer scripts.
dpkg-deb -e "$tmp/socketserver_${version}_${arch}.deb" "$tmp/ctl"
if grep -qs 'deb-systemd-helper enable\|deb-systemd-invoke start' "$tmp/ctl/postinst"; then
  fail "postinst enables or starts a unit: $(cat "$tmp/ctl/postinst")"
fi
# Every man page of the source tree is in a package.
for page in "$src"/man/man3/*.3; do
  [ -e "$root/usr/share/man/man3/${page##*/}.gz" ] || fail "man3/${page##*/} not packaged"
done

# The example, built against the package: pkg-config (shared library).
lib=$root/usr/lib/$multi
mkdir "$tmp/c"
cp "$src/examples/tcpc1.c" "$src/examples/example.c" "$src/examples/example.h" "$tmp/c/"
flags=$(PKG_CONFIG_PATH=$lib/pkgconfig pkg-config --cflags --libs socketserver) || fail "pkg-config"
case $flags in *"-I$root/"*) ;; *) fail "pkg-config --cflags does not point into the package: $flags" ;; esac
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Wpedantic -o "$tmp/c/tcpc1_pc" "$tmp/c/tcpc1.c" "$tmp/c/example.c" $flags ||
  fail "cc with pkg-config flags: $flags"
# ... and CMake's find_package (the static library: its OpenSSL dependency
# is found through the package's config file).
cat >"$tmp/c/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.20)
project(tcpc1 C)
find_package(socketserver 0.2 REQUIRED)
add_executable(tcpc1 tcpc1.c example.c)
target_link_libraries(tcpc1 socketserver::socketserver_static)
EOF
cmake -S "$tmp/c" -B "$tmp/c/b" -DCMAKE_PREFIX_PATH="$root/usr" >"$tmp/cmake.log" 2>&1 &&
  cmake --build "$tmp/c/b" >>"$tmp/cmake.log" 2>&1 || {
  cat "$tmp/cmake.log"
  fail "find_package build"
}
grep -q "$root" "$tmp/c/b/CMakeCache.txt" || fail "find_package did not find the package's files"

# The package's program serves; both clients talk to it.
LD_LIBRARY_PATH=$lib "$root/usr/bin/socketserver" serve upper tcp://127.0.0.1:0 \
  >"$tmp/serve.out" 2>"$tmp/serve.err" &
srv=$!
for ((i = 0; i < 500; i++)); do
  grep -q '^listening ' "$tmp/serve.out" && break
  kill -0 "$srv" 2>/dev/null || fail "serve exited: $(cat "$tmp/serve.err")"
  sleep 0.02
done
addr=$(awk '/^listening tcp:/ {print $2}' "$tmp/serve.out")
[ -n "$addr" ] || fail "serve did not listen: $(cat "$tmp/serve.err")"
for prog in tcpc1_pc b/tcpc1; do
  out=$(printf 'hello deb\n\n' | LD_LIBRARY_PATH=$lib timeout 10 "$tmp/c/$prog" "$addr") ||
    fail "$prog against $addr: $out"
  case $out in *"HELLO DEB"*) ;; *) fail "$prog: expected HELLO DEB, got [$out]" ;; esac
done
# The pkg-config build uses the package's shared library.
LD_LIBRARY_PATH=$lib ldd "$tmp/c/tcpc1_pc" | grep -q "$lib/libsocketserver.so.0" ||
  fail "tcpc1_pc does not load the package's library: $(LD_LIBRARY_PATH=$lib ldd "$tmp/c/tcpc1_pc")"
kill -TERM "$srv"
wait "$srv"
rc=$?
srv=""
[ $rc -eq 0 ] || fail "serve exit status $rc after SIGTERM"

# The packaged units, as installed.
if command -v systemd-analyze >/dev/null 2>&1; then
  mkdir "$tmp/u"
  cp "$root"/lib/systemd/system/socketserver@.* "$tmp/u/"
  sed -i "s|/usr/bin/socketserver|$root/usr/bin/socketserver|" "$tmp/u/socketserver@.service"
  out=$(systemd-analyze verify --man=no "$tmp/u/socketserver@7007.socket" "$tmp/u/socketserver@7007.service" 2>&1) ||
    fail "systemd-analyze verify: $out"
  [ -z "$out" ] || fail "systemd-analyze verify: $out"
fi
echo "deb: ok in $(($(date +%s) - t0)) s (package build $((t1 - t0)) s)"
