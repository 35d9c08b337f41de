#!/usr/bin/env bash
# bench/ab_tls.sh - TLS in event mode against the OpenSSL + epoll reference
# (ss_tls_epoll_echo), interleaved as bench/ab.sh does, so the machine's drift
# falls on both alike. Each pair runs, one after the other:
#   (a) handshakes/s: `bench --pattern connect` (a full handshake each) on
#       serve --mode event tls://, then on the reference;
#   (b) TLS echo requests/s at --connections: event mode, then the reference;
#   (c) plain TCP echo at --connections on the same event-mode build,
#       compared with (b)'s event figure of the same pair.
# It prints each pair's ratios, then their medians with min-max, of the
# rates and of the server's CPU time per request (utime + stime from
# /proc/PID/stat over the requests answered, warmup included), which a busy
# machine disturbs less than the rates: a server that waits for the CPU
# answers less but spends the same per request.
#
#   bench/ab_tls.sh SOCKETSERVER TLS_REF [--pairs N] [--duration S]
#                   [--connections N] [--size B]
#
# The server runs on CPU 0 and the generator on CPU 1; certificates are made
# by tests/tls/mkcerts.sh (P-256) into a temporary directory. The generator
# runs with --insecure: it still checks the handshake's signature, but not
# the chain, so that it is not the bottleneck of (a) before the server is.
set -u -o pipefail
[ $# -ge 2 ] || { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 64; }
SS=$1 REF=$2
shift 2
CONNS=16 PAIRS=7 DUR=3 SIZE=64
while [ $# -gt 0 ]; do
    case $1 in
    --connections) CONNS=$2; shift ;;
    --pairs) PAIRS=$2; shift ;;
    --duration) DUR=$2; shift ;;
    --size) SIZE=$2; shift ;;
    *) echo "ab_tls.sh: unknown argument '$1'" >&2; exit 64 ;;
    esac
    shift
done
for f in "$SS" "$REF"; do [ -x "$f" ] || { echo "ab_tls.sh: $f is not an executable" >&2; exit 66; }; done
ulimit -n "$(ulimit -Hn)" 2>/dev/null
PIN_S=() PIN_G=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then PIN_S=(taskset -c 0) PIN_G=(taskset -c 1); fi
TMP=$(mktemp -d /tmp/ss-abtls.XXXXXX)
trap 'kill -KILL $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
mkdir "$TMP/certs"
sh "$(dirname "$0")/../tests/tls/mkcerts.sh" "$TMP/certs" >/dev/null || { echo "ab_tls.sh: no certificates (openssl CLI?)" >&2; exit 69; }
CERT=$TMP/certs/server.pem KEY=$TMP/certs/server.key

# measure WHICH PATTERN: one server (event tls, ref tls or event tcp), one
# warmed-up run of bench; prints "REQUESTS/S CPU_US_PER_REQUEST".
measure() {
    local which=$1 pattern=$2 scheme=tls tls=(--insecure)
    rm -f "$TMP/out" "$TMP/json" # never the last server's address or figures
    case $which in
    event) "${PIN_S[@]}" "$SS" serve echo tls://127.0.0.1:0 --mode event --workers 1 \
        --max-connections 0 --quiet --tls-cert "$CERT" --tls-key "$KEY" >"$TMP/out" 2>"$TMP/err" & ;;
    ref) "${PIN_S[@]}" "$REF" tls://127.0.0.1:0 "$CERT" "$KEY" >"$TMP/out" 2>"$TMP/err" & ;;
    plain) scheme=tcp tls=()
        "${PIN_S[@]}" "$SS" serve echo tcp://127.0.0.1:0 --mode event --workers 1 \
        --max-connections 0 --quiet >"$TMP/out" 2>"$TMP/err" & ;;
    esac
    local pid=$! addr=""
    for _ in $(seq 50); do
        addr=$(awk '/^listening /{print $2; exit}' "$TMP/out" 2>/dev/null)
        [ -n "$addr" ] && break
        sleep 0.1
    done
    [ -n "$addr" ] || { echo "ab_tls.sh: $which did not start: $(head -c 200 "$TMP/err")" >&2; kill "$pid"; exit 1; }
    case $addr in "$scheme"://*) ;; *) addr="$scheme://${addr#*://}" ;; esac
    "${PIN_G[@]}" "$SS" bench "$addr" "${tls[@]}" --pattern "$pattern" -c "$CONNS" -s "$SIZE" \
        -w 1 -d "$DUR" -T 10 --json >"$TMP/json" 2>"$TMP/berr"
    local ticks all
    ticks=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null)
    all=$(grep -o '"requests_with_warmup": *[0-9]*' "$TMP/json" | grep -o '[0-9]*$')
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if grep -q '"total": [1-9]' "$TMP/json"; then
        echo "ab_tls.sh: $which $pattern had errors: $(grep '"first"' "$TMP/json")" >&2
    fi
    grep -q '"requests_per_second"' "$TMP/json" ||
        echo "ab_tls.sh: $which $pattern failed: $(head -c 300 "$TMP/berr")" >&2
    local rps
    rps=$(grep -o '"requests_per_second": *[0-9.]*' "$TMP/json" | tail -1 | grep -o '[0-9.]*$')
    awk -v r="${rps:-0}" -v t="${ticks:-0}" -v n="${all:-0}" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%s %.2f\n", r, (n > 0 ? t / hz * 1e6 / n : 0) }'
}

# A pair with a failed run has no ratio ("-"), and the summary skips it.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.3f", a / b; else printf "-" }'; }
summary() { # NAME RATIO...
    local name=$1
    shift
    printf '%s\n' "$@" | grep -v '^-$' | sort -n | awk -v n="$name" '{ v[NR] = $1 } END {
        if (NR == 0) { printf "%-28s no pair\n", n; exit }
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%-28s median %.3f (min %.3f, max %.3f, %d pairs)\n", n, m, v[1], v[NR], NR }'
}

echo "SOCKETSERVER=$SS"
echo "TLS_REF=$REF"
echo "$(nproc) CPUs, $(uname -r), $(openssl version 2>/dev/null)"
echo "$CONNS connections, $SIZE bytes, $PAIRS pairs of ${DUR} s (after 1 s warmup)"
ra=() rb=() rc=() ca=() cb=() cc=()
for i in $(seq "$PAIRS"); do
    m=$(measure event connect) && hs_e=${m% *} hc_e=${m#* }
    m=$(measure ref connect) && hs_r=${m% *} hc_r=${m#* }
    m=$(measure event echo) && ec_e=${m% *} ecc_e=${m#* }
    m=$(measure ref echo) && ec_r=${m% *} ecc_r=${m#* }
    m=$(measure plain echo) && pl_e=${m% *} plc_e=${m#* }
    ra+=("$(ratio "$hs_e" "$hs_r")") rb+=("$(ratio "$ec_e" "$ec_r")") rc+=("$(ratio "$ec_e" "$pl_e")")
    ca+=("$(ratio "$hc_e" "$hc_r")") cb+=("$(ratio "$ecc_e" "$ecc_r")") cc+=("$(ratio "$ecc_e" "$plc_e")")
    printf 'pair %d: handshakes/s event %s ref %s (%s); tls echo event %s ref %s (%s); plain echo %s (tls/plain %s)\n' \
        "$i" "$hs_e" "$hs_r" "${ra[-1]}" "$ec_e" "$ec_r" "${rb[-1]}" "$pl_e" "${rc[-1]}"
    printf '        server CPU us/request: handshake event %s ref %s; tls echo event %s ref %s; plain echo %s\n' \
        "$hc_e" "$hc_r" "$ecc_e" "$ecc_r" "$plc_e"
done
echo "rates (higher is better for the first):"
summary "(a) handshakes event/ref" "${ra[@]}"
summary "(b) tls echo event/ref" "${rb[@]}"
summary "(c) event tls/plain echo" "${rc[@]}"
echo "server CPU per request (lower is better for the first):"
summary "(a) handshake event/ref" "${ca[@]}"
summary "(b) tls echo event/ref" "${cb[@]}"
summary "(c) event tls/plain echo" "${cc[@]}"
