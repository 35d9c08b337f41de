#!/usr/bin/env bash
# deps.sh - installs what the tests use beyond the compiler and cmake (and
# what scripts/lint.sh and scripts/coverage.sh use: clang-tidy, cppcheck,
# gcovr), on a Debian machine where we are root. Anything it cannot install
# makes the tests that need it print "skipped: <tool> not installed" instead.
set -u
# libclang-rt-dev: libFuzzer, for scripts/fuzz.sh (clang only recommends it).
# libssl-dev: OpenSSL 3, which the build finds for TLS (tls://), and the
# openssl program, which makes the TLS tests' certificates and talks to us.
# liburing-dev: io_uring, which the build finds for the event mode's second
# poller (serve --poller io_uring).
# haproxy: the load balancer in front of serve --proxy-protocol (cli_proxy_haproxy_*).
# prometheus: promtool checks serve --stats's /metrics (cli_stats_*; 22 MB download);
# chromium: the status page in a headless browser (cli_stats_page_*; 122 MB download).
# systemd: systemd-analyze, which checks dist/systemd/ (dist.units), and
# systemd-socket-activate, which starts serve as systemd would (cli_systemd_*).
# debhelper, lintian, pkg-config: the Debian package is built, checked and
# compiled against (dist.deb; dpkg-dev comes with build-essential).
# python3-yaml: docs/deploy.md's Kubernetes pod is parsed (cli_deploy_k8s).
# jq: parses the access log where python3 is missing (cli_accesslog_*).
# python3: the clients of the adversary tests and of cli_admit_* (bound source addresses).
want=(rdate socat netcat-openbsd openbsd-inetd groff-base clang libclang-rt-dev valgrind gcovr
  clang-tidy cppcheck libssl-dev openssl haproxy liburing-dev prometheus chromium systemd
  debhelper lintian pkg-config python3-yaml jq python3)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "deps: not root or no apt-get; not installing: ${missing[*]}" >&2
  exit 0
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101: packages (openbsd-inetd) must not start system daemons here.
policy=/usr/sbin/policy-rc.d
created=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created=1
fi
apt-get update -qq >/dev/null 2>&1 || echo "deps: apt-get update failed" >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
  echo "deps: could not install some of: ${missing[*]}" >&2
[ "$created" = 1 ] && rm -f "$policy"
exit 0
