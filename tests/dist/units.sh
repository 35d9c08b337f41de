#!/usr/bin/env bash
# units.sh BIN SOURCE_DIR - the systemd units of dist/systemd/ pass
# `systemd-analyze verify` (unit syntax, every directive known, the socket
# and service paired, ExecStart executable: the build's program stands in for
# /usr/bin/socketserver) without a word of warning, for an instance of each
# template, and `systemd-analyze security --offline` rates the service's
# sandbox at an exposure of 2.5 or less. Offline: no running systemd needed.
set -u
bin=$1 src=$2
command -v systemd-analyze >/dev/null 2>&1 || { echo "skipped: systemd-analyze not installed (package systemd)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$src"/dist/systemd/socketserver@.socket "$src"/dist/systemd/socketserver@.service "$tmp/" || exit 1
sed -i "s|/usr/bin/socketserver|$bin|" "$tmp/socketserver@.service"
grep -q "ExecStart=$bin serve" "$tmp/socketserver@.service" || { echo "FAIL: no ExecStart=/usr/bin/socketserver serve"; exit 1; }
systemd-analyze verify --man=no "$tmp/socketserver@7007.socket" "$tmp/socketserver@7007.service" \
  >"$tmp/verify.out" 2>&1
rc=$?
if [ $rc -ne 0 ] || [ -s "$tmp/verify.out" ]; then
  # In a container without /run/systemd some versions cannot load units at
  # all: say so rather than fail on what the machine lacks.
  if grep -q "Failed to initialize manager\|Failed to create.*manager" "$tmp/verify.out"; then
    echo "skipped: systemd-analyze verify cannot run here: $(head -1 "$tmp/verify.out")"
    exit 77
  fi
  echo "FAIL: systemd-analyze verify (exit $rc):"
  cat "$tmp/verify.out"
  exit 1
fi
# What the contract asks of the service (docs/deploy.md).
for want in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' DynamicUser=yes ProtectSystem=strict \
  ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
  CapabilityBoundingSet= SystemCallFilter=@system-service MemoryDenyWriteExecute=yes; do
  grep -qxF "$want" "$tmp/socketserver@.service" || { echo "FAIL: socketserver@.service lacks $want"; exit 1; }
done
grep -qx 'ListenStream=%i' "$tmp/socketserver@.socket" || { echo "FAIL: socketserver@.socket: no ListenStream=%i"; exit 1; }
if systemd-analyze security --help 2>&1 | grep -q -- --threshold || systemd-analyze --help | grep -q -- --threshold; then
  out=$(systemd-analyze security --offline=yes --threshold=25 "$tmp/socketserver@7007.service" 2>&1)
  rc=$?
  echo "$out" | tail -1
  [ $rc -eq 0 ] || { echo "FAIL: the sandbox's exposure is above 2.5"; exit 1; }
fi
echo "units: ok"
