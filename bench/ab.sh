#!/usr/bin/env bash
# bench/ab.sh - two builds of `socketserver serve echo` against each other,
# interleaved (A, B, A, B, ...), so that the machine's drift (30-60 % within a
# minute here) falls on both alike: each pair's ratio B/A of requests/s and
# of the server's CPU time per request, then the medians and the min-max of
# the ratios. For "is the change within noise of before". A or B may be a
# script that adds options to `serve` (and passes `bench` through).
#
#   bench/ab.sh A_BINARY B_BINARY [--mode M] [--pattern echo|connect|udp]
#               [--connections N] [--pairs N] [--duration S] [--size B]
#
# The server runs on CPU 0 and the generator (B's `bench`) on CPU 1; every
# run is bounded by --duration and each server is stopped with SIGTERM.
set -u -o pipefail
[ $# -ge 2 ] || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 64; }
A=$1 B=$2
shift 2
MODE=event PATTERN=echo CONNS=16 PAIRS=7 DUR=3 SIZE=64
while [ $# -gt 0 ]; do
    case $1 in
    --mode) MODE=$2; shift ;;
    --pattern) PATTERN=$2; shift ;;
    --connections) CONNS=$2; shift ;;
    --pairs) PAIRS=$2; shift ;;
    --duration) DUR=$2; shift ;;
    --size) SIZE=$2; shift ;;
    *) echo "ab.sh: unknown argument '$1'" >&2; exit 64 ;;
    esac
    shift
done
for f in "$A" "$B"; do [ -x "$f" ] || { echo "ab.sh: $f is not an executable" >&2; exit 66; }; done
ulimit -n "$(ulimit -Hn)" 2>/dev/null
PIN_S=() PIN_G=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then PIN_S=(taskset -c 0) PIN_G=(taskset -c 1); fi
TMP=$(mktemp -d /tmp/ss-ab.XXXXXX)
trap 'kill -KILL $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
proto=tcp
[ "$PATTERN" = udp ] && proto=udp

# run BINARY: one server of BINARY, one measured run; prints requests/s.
# A build with --udp-budget gets 0: the benchmark's clients are one source,
# which the default budget (1 MiB/s of replies) would cap.
run() {
    rm -f "$TMP/out" # the last server's address would be read before the new one starts
    local extra=()
    "$1" serve --help 2>/dev/null | grep -q -- --udp-budget && extra=(--udp-budget 0)
    "${PIN_S[@]}" "$1" serve echo "$proto://127.0.0.1:0" --mode "$MODE" --workers 1 \
        --max-connections 0 --quiet "${extra[@]}" >"$TMP/out" 2>"$TMP/err" &
    local pid=$! addr=""
    for _ in $(seq 50); do
        addr=$(awk '/^listening /{print $2; exit}' "$TMP/out")
        [ -n "$addr" ] && break
        sleep 0.1
    done
    [ -n "$addr" ] || { echo "ab.sh: $1 did not start: $(head -c 200 "$TMP/err")" >&2; kill "$pid"; exit 1; }
    "${PIN_G[@]}" "$B" bench "$addr" --pattern "$PATTERN" -c "$CONNS" -d 1 -s "$SIZE" >/dev/null 2>&1
    local t0 t1
    t0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null)
    "${PIN_G[@]}" "$B" bench "$addr" --pattern "$PATTERN" -c "$CONNS" -d "$DUR" -s "$SIZE" --json \
        >"$TMP/json" 2>/dev/null
    t1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null)
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    local rps n
    rps=$(grep -o '"requests_per_second": *[0-9.]*' "$TMP/json" | tail -1 | grep -o '[0-9.]*$')
    n=$(grep -o '"requests": *[0-9]*' "$TMP/json" | tail -1 | grep -o '[0-9]*$')
    # requests/s, and the server's CPU (utime + stime, /proc/PID/stat) per
    # request of the measured run, in microseconds: a loaded machine slows
    # the rate but changes the CPU a request costs much less.
    awk -v r="${rps:-0}" -v t="$((${t1:-0} - ${t0:-0}))" -v n="${n:-0}" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%s %.2f\n", r, (n > 0 ? t / hz * 1e6 / n : 0) }'
}

echo "A=$A"
echo "B=$B"
echo "mode $MODE, $PATTERN, $CONNS connections, $SIZE bytes, $PAIRS pairs of ${DUR} s"
ratios=() cpus=()
for i in $(seq "$PAIRS"); do
    read -r a ac <<<"$(run "$A")"
    read -r b bc <<<"$(run "$B")"
    r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", (a > 0 ? b / a : 0) }')
    c=$(awk -v a="$ac" -v b="$bc" 'BEGIN { printf "%.3f", (a > 0 ? b / a : 0) }')
    ratios+=("$r")
    cpus+=("$c")
    printf 'pair %d: A %s req/s %s us CPU/req, B %s req/s %s us CPU/req, B/A %s, CPU B/A %s\n' \
        "$i" "$a" "$ac" "$b" "$bc" "$r" "$c"
done
median() { # NAME VALUE...
    local name=$1
    shift
    printf '%s\n' "$@" | sort -n | awk -v n="$name" '{ v[NR] = $1 } END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%s median %.3f (min %.3f, max %.3f, %d pairs)\n", n, m, v[1], v[NR], NR }'
}
median "B/A" "${ratios[@]}"
median "CPU per request B/A" "${cpus[@]}"
