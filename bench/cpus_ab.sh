#!/usr/bin/env bash
# bench/cpus_ab.sh - the event mode with its DEFAULT loop count under
# `taskset -c 0`, before and after CPU-aware defaults, against the epoll
# reference: per pair, the reference, OLD and NEW run in turn (interleaved,
# so the machine's drift falls on all three), and the ratios OLD/ref, NEW/ref
# and NEW/OLD are reported as median and min-max. Then, with --perf, one
# profiled run of each (perf record -e cpu-clock -g on the server) for the
# share of samples in the scheduler's finish_task_switch.
#
#   bench/cpus_ab.sh OLD_BINARY NEW_BINARY REF_BINARY [--connections N]
#                    [--pairs N] [--duration S] [--perf]
#
# Servers run under taskset -c 0 with no --workers (the default under test),
# the generator (NEW's `bench`) under taskset -c 1.
set -u -o pipefail
[ $# -ge 3 ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 64; }
OLD=$1 NEW=$2 REF=$3
shift 3
CONNS=16 PAIRS=7 DUR=3 PERF=0
while [ $# -gt 0 ]; do
    case $1 in
    --connections) CONNS=$2; shift ;;
    --pairs) PAIRS=$2; shift ;;
    --duration) DUR=$2; shift ;;
    --perf) PERF=1 ;;
    *) echo "cpus_ab.sh: unknown argument '$1'" >&2; exit 64 ;;
    esac
    shift
done
for f in "$OLD" "$NEW" "$REF"; do [ -x "$f" ] || { echo "cpus_ab.sh: $f is not an executable" >&2; exit 66; }; done
[ "$(nproc)" -ge 2 ] || { echo "cpus_ab.sh: needs two CPUs (server on 0, generator on 1)" >&2; exit 69; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null
TMP=$(mktemp -d /tmp/ss-cpus-ab.XXXXXX)
trap 'kill -KILL $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT

# start WHICH: one server (ref, old or new) on CPU 0; sets PID and ADDR.
start() {
    case $1 in
    ref) taskset -c 0 "$REF" tcp://127.0.0.1:0 >"$TMP/out" 2>"$TMP/err" & ;;
    old) taskset -c 0 "$OLD" serve echo tcp://127.0.0.1:0 --mode event --max-connections 0 \
        >"$TMP/out" 2>"$TMP/err" & ;;
    new) taskset -c 0 "$NEW" serve echo tcp://127.0.0.1:0 --mode event --max-connections 0 \
        >"$TMP/out" 2>"$TMP/err" & ;;
    esac
    PID=$! ADDR=""
    for _ in $(seq 50); do
        ADDR=$(awk '/^listening /{print $2; exit}' "$TMP/out")
        [ -n "$ADDR" ] && break
        sleep 0.1
    done
    [ -n "$ADDR" ] || { echo "cpus_ab.sh: $1 did not start: $(head -c 200 "$TMP/err")" >&2; exit 1; }
}

stop() {
    kill -TERM "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
}

threads() {
    ls /proc/"$PID"/task | wc -l
}

# run WHICH: one measured run; prints requests/s.
run() {
    start "$1"
    taskset -c 1 "$NEW" bench "$ADDR" -c "$CONNS" -d 1 >/dev/null 2>&1
    echo "$1 $(threads)" >>"$TMP/threads"
    taskset -c 1 "$NEW" bench "$ADDR" -c "$CONNS" -d "$DUR" --json >"$TMP/json" 2>/dev/null
    stop
    grep -o '"requests_per_second": *[0-9.]*' "$TMP/json" | tail -1 | grep -o '[0-9.]*$'
}

# stats: median and min-max of the numbers on stdin.
stats() {
    sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "median %.3f (min %.3f, max %.3f, n %d)\n", m, v[1], v[NR], NR }'
}

echo "OLD=$OLD"
echo "NEW=$NEW"
echo "REF=$REF"
echo "event mode, default loops, taskset -c 0; echo, $CONNS connections, 64 bytes, $PAIRS rounds of ${DUR} s"
printf '%5s %10s %10s %10s %8s %8s %8s\n' round ref old new old/ref new/ref new/old
: >"$TMP/r_old" && : >"$TMP/r_new" && : >"$TMP/r_no"
for i in $(seq "$PAIRS"); do
    r=$(run ref) o=$(run old) n=$(run new)
    [ -n "$r" ] && [ -n "$o" ] && [ -n "$n" ] || { echo "round $i: a run failed" >&2; continue; }
    ro=$(awk -v a="$o" -v b="$r" 'BEGIN { printf "%.3f", a / b }')
    rn=$(awk -v a="$n" -v b="$r" 'BEGIN { printf "%.3f", a / b }')
    no=$(awk -v a="$n" -v b="$o" 'BEGIN { printf "%.3f", a / b }')
    echo "$ro" >>"$TMP/r_old" && echo "$rn" >>"$TMP/r_new" && echo "$no" >>"$TMP/r_no"
    printf '%5d %10.0f %10.0f %10.0f %8s %8s %8s\n' "$i" "$r" "$o" "$n" "$ro" "$rn" "$no"
done
echo "old/ref: $(stats <"$TMP/r_old")"
echo "new/ref: $(stats <"$TMP/r_new")"
echo "new/old: $(stats <"$TMP/r_no")"
echo "threads per server (serving + loops): $(sort -u "$TMP/threads" | tr '\n' ' ')"

[ "$PERF" = 1 ] || exit 0
command -v perf >/dev/null || { echo "perf not installed: no profile"; exit 0; }
# profile WHICH: one run under perf record; the share of finish_task_switch
# in the server's samples (self, all threads), and the top symbols.
for which in ref old new; do
    start "$which"
    taskset -c 1 "$NEW" bench "$ADDR" -c "$CONNS" -d 1 >/dev/null 2>&1
    perf record -q -e cpu-clock -g -p "$PID" -o "$TMP/perf.data" -- sleep "$DUR" >/dev/null 2>&1 &
    prec=$!
    taskset -c 1 "$NEW" bench "$ADDR" -c "$CONNS" -d "$DUR" --json >"$TMP/json" 2>/dev/null
    wait "$prec"
    stop
    perf report -i "$TMP/perf.data" --stdio --no-children --sort symbol -g none 2>/dev/null |
        grep -v '^#' | grep '%' >"$TMP/report"
    fts=$(awk '/finish_task_switch/ { s += $1 } END { printf "%.1f", s }' "$TMP/report")
    rps=$(grep -o '"requests_per_second": *[0-9.]*' "$TMP/json" | tail -1 | grep -o '[0-9.]*$')
    echo "perf $which: finish_task_switch ${fts}% of samples, ${rps%.*} requests/s; top:"
    head -6 "$TMP/report" | awk '{ printf "    %s %s\n", $1, $3 }'
done
