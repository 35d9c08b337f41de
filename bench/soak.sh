#!/usr/bin/env bash
# soak.sh - a long run of mixed traffic against `socketserver serve echo` in
# each mode, watching for anything that grows: the server's RSS (plus its
# children's Pss), descriptors, threads and children, sampled once a second
# into a CSV per mode. A benchmark, not a CI test.
#
#   bench/soak.sh [MODE ...]        (default: every mode this build has)
#
# The traffic, all at once for SOAK_SECONDS per mode (default 600):
#   - `socketserver bench` echo: 8 persistent connections, open loop 2000/s
#     (sync mode: a new connection per request, as a persistent one would
#     hold its only serving thread);
#   - `socketserver bench` connect: connect, one line, close, 200/s;
#   - `socketserver bench` udp: 4 sockets, 1000 datagrams/s;
#   - the server runs with --max-connections 256 (and no idle timeout:
#     bench's open loop leaves some of its connections idle for long, and
#     their closing would count as errors);
#   - the adversary program in a loop: slowloris clients, clients that
#     never read and then vanish (reset), half-open clients, short floods,
#     resets in mid-stream, unix-socket churn.
# Verdict per metric: the maximum over the last window against the maximum
# over the first window (window: 60 s, or a quarter of the run if that is
# shorter); "grows" when the last exceeds the first by more than the slack
# (SOAK_RSS_SLACK_KB, default 4096, or 10 %; SOAK_COUNT_SLACK, default 8, or
# 10 %). Then, the traffic stopped, the server must come back to the state
# it had after start-up ("rest" line).
#
# Environment: SOAK_SECONDS, SOAK_BUILD (a build directory with socketserver
# and tests/adversary/ss_adversary; default: build-soak, configured and built
# here without sanitizers), SOAK_OUT (CSVs and logs; default
# $SOAK_BUILD/soak), SOAK_RSS_SLACK_KB, SOAK_COUNT_SLACK.
# Exit status: 0 when nothing grows in any mode, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

SECONDS_PER_MODE=${SOAK_SECONDS:-600}
BUILD=${SOAK_BUILD:-build-soak}
RSS_SLACK=${SOAK_RSS_SLACK_KB:-4096}
COUNT_SLACK=${SOAK_COUNT_SLACK:-8}

if [ -z "${SOAK_BUILD:-}" ]; then
    gen=()
    command -v ninja >/dev/null && gen=(-G Ninja)
    mkdir -p "$BUILD"
    if ! { cmake -S . -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSS_SANITIZE= \
        -DSS_BUILD_EXAMPLES=OFF &&
        cmake --build "$BUILD" -j "$(nproc)" --target socketserver_cli ss_adversary; } \
        >"$BUILD/soak-build.log" 2>&1; then
        tail -n 30 "$BUILD/soak-build.log" >&2
        echo "soak.sh: the build failed (log: $BUILD/soak-build.log)" >&2
        exit 2
    fi
fi
SS=$BUILD/socketserver
ADV=$BUILD/tests/adversary/ss_adversary
OUT=${SOAK_OUT:-$BUILD/soak}
[ -x "$SS" ] && [ -x "$ADV" ] || {
    echo "soak.sh: $SS or $ADV missing" >&2
    exit 2
}
mkdir -p "$OUT"
T=$(mktemp -d "${TMPDIR:-/tmp}/ss-soak.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ $# -gt 0 ]; then
    modes=("$@")
else
    read -r -a modes <<<"$("$SS" serve --help | sed -n 's/^Modes (--mode)://p' | cut -d';' -f1 |
        tr -d ',')"
fi

# ---------------------------------------------------------------- sampling

# nentries DIR: sets N to the number of entries of DIR (0 once the process
# is gone). No subshell: a sample reads a few hundred directories, and forks
# are what makes a sample slow on a loaded machine.
nentries() {
    local a=("$1"/*)
    if [ -e "${a[0]}" ]; then N=${#a[@]}; else N=0; fi
}

# sample PID: rss_kb,child_pss_kb,fds,threads,children,child_fds,child_threads
# (one awk for every child's Pss: prefork has dozens of children)
sample() {
    local pid=$1 rss=0 pss=0 kids=() cf=0 ct=0 k key val fds
    while read -r key val _; do
        [ "$key" == VmRSS: ] && rss=$val
    done <"/proc/$pid/status"
    read -r -a kids <<<"$(pgrep -P "$pid" | tr '\n' ' ')"
    if [ "${#kids[@]}" -gt 0 ]; then
        pss=$(cd /proc && awk '/^Pss:/ { s += $2 } END { print s + 0 }' \
            "${kids[@]/%//smaps_rollup}" 2>/dev/null)
        for k in "${kids[@]}"; do
            nentries "/proc/$k/fd"
            cf=$((cf + N))
            nentries "/proc/$k/task"
            ct=$((ct + N))
        done
    fi
    nentries "/proc/$pid/fd"
    fds=$N
    nentries "/proc/$pid/task"
    echo "$rss,${pss:-0},$fds,$N,${#kids[@]},$cf,$ct"
}

# settle PID: a sample once three in a row, 200 ms apart, agree on every
# count (RSS aside), or the last one after 10 s.
settle() {
    local a b i
    a=$(sample "$1")
    for ((i = 0; i < 50; i++)); do
        sleep 0.2
        b=$(sample "$1")
        [ "${a#*,*,}" == "${b#*,*,}" ] && break
        a=$b
    done
    echo "$b"
}

# ---------------------------------------------------------------- traffic

# The adversary loop: one misbehaving pattern after another until END.
adversaries() {
    local tcp=$1 unix=$2 end=$3 i=0
    while [ "$(date +%s)" -lt "$end" ]; do
        case $((i++ % 6)) in
        0) "$ADV" slowloris "$tcp" -n 4 -s 40 -d 25 -t 10000 ;;
        1) "$ADV" noread "$tcp" -n 8 -s 256k -H 1000 -t 5000 ;; # then vanish: reset
        2) "$ADV" halfopen "$unix" -n 4 -s 64k -t 10000 ;;
        3) "$ADV" flood "$tcp" -n 100 -t 5000 -m 0 ;;
        4) "$ADV" churn "$unix" -c 4 -D 2000 -t 5000 -m 0 ;;
        5) "$ADV" storm "$tcp" -n 32 --keep -H 1000 -t 5000 -m 0 ;; # held, then gone
        esac >>"$T/adversary.log" 2>&1
        sleep 0.2
    done
}

# ---------------------------------------------------------------- a mode

# verdict NAME COLUMN SLACK FILE WINDOW: compares the last window's maximum
# of COLUMN with the first window's.
verdict() {
    local name=$1 col=$2 abs=$3 csv=$4 w=$5
    awk -F, -v c="$col" -v w="$w" -v abs="$abs" -v name="$name" '
        NR == 1 { next }
        { v[NR - 1] = $c; n = NR - 1 }
        END {
            f = 0; l = 0
            for (i = 1; i <= w && i <= n; i++) if (v[i] > f) f = v[i]
            for (i = n - w + 1; i <= n; i++) if (i >= 1 && v[i] > l) l = v[i]
            slack = abs; if (f * 0.10 > slack) slack = f * 0.10
            printf "%s %d %d %s\n", name, f, l, (l > f + slack ? "grows" : "flat")
        }' "$csv"
}

# load_summary MODE: "echo 1200000 req 0 err, connect ..." from the bench runs.
load_summary() {
    local p
    for p in echo connect udp; do
        awk -v p="$p" '$1 == "requests" { r = $2 } $1 == "errors" { e = $2 }
            END { printf "%s %d req %d err", p, r, e }' "$OUT/soak-$1.$p.txt"
        [ "$p" != udp ] && printf ', '
    done
}

# Pool and prefork run one session per worker: the persistent connections
# and held sessions of the mix need more workers than the default.
workers_for() {
    case $1 in
    pool | prefork) echo "--workers 96" ;;
    esac
}

# Sync serves one session at a time: a persistent connection would hold the
# serving thread for the whole run, so there the echo load connects anew for
# each request, like the connect load.
echo_pattern() {
    [ "$1" == sync ] && echo connect || echo echo
}

run_mode() {
    local mode=$1 csv=$OUT/soak-$1.csv log=$OUT/soak-$1.log
    local pid tcp udp unix end t base rest w
    : >"$T/$mode.out"
    # shellcheck disable=SC2046 # workers_for's words are separate options
    "$SS" serve echo tcp://127.0.0.1:0 udp://127.0.0.1:0 "unix:$T/$mode.sock" --mode "$mode" \
        --max-connections 256 --drain-timeout 2 --quiet $(workers_for "$mode") \
        >"$T/$mode.out" 2>"$log" &
    pid=$!
    PIDS+=("$pid")
    for ((t = 0; t < 500 && $(grep -c '^listening' "$T/$mode.out") < 3; t++)); do sleep 0.02; done
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "$mode: skipped ($(head -1 "$log"))"
        return 0
    fi
    tcp=$(grep -m1 '^listening tcp:' "$T/$mode.out" | cut -d' ' -f2)
    udp=$(grep -m1 '^listening udp:' "$T/$mode.out" | cut -d' ' -f2)
    unix=$(grep -m1 '^listening unix:' "$T/$mode.out" | cut -d' ' -f2)
    "$SS" send -t 5 "$tcp" warm-up >/dev/null && "$SS" send -t 5 "$udp" warm-up >/dev/null
    base=$(settle "$pid")

    # The run's clock, in microseconds (EPOCHREALTIME): the samples cover
    # SECONDS_PER_MODE from here, however long the loads take to start.
    local t0 now_us next_us end_us
    t0=${EPOCHREALTIME/[.,]/}
    end_us=$((t0 + SECONDS_PER_MODE * 1000000))
    end=$((t0 / 1000000 + SECONDS_PER_MODE))
    local load=()
    "$SS" bench "$tcp" -p "$(echo_pattern "$mode")" -c 8 -r 2000 -d "$SECONDS_PER_MODE" -q >"$OUT/soak-$mode.echo.txt" 2>&1 &
    load+=($!)
    "$SS" bench "$tcp" -p connect -c 4 -r 200 -d "$SECONDS_PER_MODE" -q >"$OUT/soak-$mode.connect.txt" 2>&1 &
    load+=($!)
    "$SS" bench "$udp" -p udp -c 4 -r 1000 -d "$SECONDS_PER_MODE" -q >"$OUT/soak-$mode.udp.txt" 2>&1 &
    load+=($!)
    adversaries "$tcp" "$unix" "$end" &
    load+=($!)
    PIDS+=("${load[@]}")

    echo "t,rss_kb,child_pss_kb,fds,threads,children,child_fds,child_threads" >"$csv"
    # One sample per second of wall time: a slow sample shortens the next
    # pause, not the rate.
    next_us=$t0
    now_us=$t0
    while [ "$now_us" -lt "$end_us" ] && kill -0 "$pid" 2>/dev/null; do
        echo "$(((now_us - t0) / 1000000)),$(sample "$pid")" >>"$csv"
        next_us=$((next_us + 1000000))
        now_us=${EPOCHREALTIME/[.,]/}
        if [ "$now_us" -lt "$next_us" ]; then
            sleep "$(printf '0.%06d' $((next_us - now_us)))"
        else
            next_us=$now_us # behind: go on from now
        fi
        now_us=${EPOCHREALTIME/[.,]/}
    done
    wait "${load[@]}" 2>/dev/null
    rest=$(settle "$pid")
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?

    w=60
    [ $((SECONDS_PER_MODE / 4)) -lt $w ] && w=$((SECONDS_PER_MODE / 4))
    [ "$w" -lt 1 ] && w=1
    {
        verdict rss_kb 2 "$RSS_SLACK" "$csv" "$w"
        verdict child_pss_kb 3 "$RSS_SLACK" "$csv" "$w"
        verdict fds 4 "$COUNT_SLACK" "$csv" "$w"
        verdict threads 5 "$COUNT_SLACK" "$csv" "$w"
        verdict children 6 "$COUNT_SLACK" "$csv" "$w"
        verdict child_fds 7 "$COUNT_SLACK" "$csv" "$w"
        verdict child_threads 8 "$COUNT_SLACK" "$csv" "$w"
    } >"$T/$mode.verdict"
    local grows=0 fields
    IFS=, read -r -a b <<<"$base"
    IFS=, read -r -a r <<<"$rest"
    # At rest the counts (not the memory) must be back to the start's.
    [ "${base#*,*,}" == "${rest#*,*,}" ] || grows=1
    grep -q grows "$T/$mode.verdict" && grows=1
    [ "$rc" -eq 0 ] || grows=1
    fields=$(awk '{ printf " %s %s->%s %s;", $1, $2, $3, $4 }' "$T/$mode.verdict")
    printf '%s: %s (window %d s;%s at rest fds %s->%s threads %s->%s children %s->%s; exit %d; %s)\n' \
        "$mode" "$([ $grows -eq 0 ] && echo "nothing grows" || echo GROWS)" "$w" "$fields" \
        "${b[2]}" "${r[2]}" "${b[3]}" "${r[3]}" "${b[4]}" "${r[4]}" "$rc" \
        "$(load_summary "$mode")"
    return $grows
}

echo "soak: ${#modes[@]} mode(s) x $SECONDS_PER_MODE s, $(nproc) cores, $(uname -r); CSVs in $OUT"
status=0
for m in "${modes[@]}"; do
    run_mode "$m" || status=1
done
exit $status
