#!/usr/bin/env bash
# bench/run.sh - the benchmark matrix: every server mode of `socketserver serve
# echo` and the reference (bench/epoll_echo.c) under `socketserver bench`, on
# loopback, server pinned to one CPU and generator to another. Writes
# bench/RESULTS.md (see bench/README.md for the method).
#
#   bench/run.sh [--quick] [--reps N] [--duration S] [--modes "sync thread ..."]
#                [--only "echo-16 connect-16 idle ..."] [--no-check]
#                [--build DIR] [--out FILE] [--no-build]
#
# Every run is bounded: each generator run has a --duration, each server is
# stopped with SIGTERM (then SIGKILL), and the EXIT trap kills what is left.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-bench
OUT=$ROOT/bench/RESULTS.md
QUICK=0
REPS=3
DUR=5
MODES=""
ONLY=""    # scenario names to run (and "idle"); empty: all
CHECK=1    # the generator check (reference with one and two generator threads)
DO_BUILD=1
FORK_MAX=10000 # largest connection count given to process-per-connection modes
POOL_MAX=1024  # --workers' limit: pool and prefork run one session per worker

while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1 ;;
    --reps) REPS=$2; shift ;;
    --duration) DUR=$2; shift ;;
    --modes) MODES=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --no-check) CHECK=0 ;;
    --build) BUILD=$2; shift ;;
    --out) OUT=$2; shift ;;
    --no-build) DO_BUILD=0 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 64 ;;
    esac
    shift
done

# The scenarios: name, pattern, connections. The quick variant keeps the
# shape with fewer and shorter runs.
if [ $QUICK = 1 ]; then
    [ "$REPS" = 3 ] && REPS=2
    [ "$DUR" = 5 ] && DUR=2
    SCENARIOS="echo-1:echo:1 echo-16:echo:16 echo-256:echo:256 connect-16:connect:16 udp-16:udp:16"
    IDLE_CONNS=2000
else
    SCENARIOS="echo-1:echo:1 echo-16:echo:16 echo-256:echo:256 echo-2000:echo:2000
               echo-10000:echo:10000 connect-16:connect:16 udp-16:udp:16"
    IDLE_CONNS=10000
fi
wanted() { [ -z "$ONLY" ] || case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
PREWARM=1 # seconds of traffic before the measured runs, on the same server

log() { printf '%s\n' "$*" >&2; }

# ------------------------------------------------------------------ build

if [ $DO_BUILD = 1 ]; then
    if [ ! -f "$BUILD/CMakeCache.txt" ]; then
        cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2 || exit 1
    fi
    cmake --build "$BUILD" --target socketserver_cli ss_epoll_echo ss_jsonq >&2 || exit 1
fi
BIN=$BUILD/socketserver
REF=$BUILD/ss_epoll_echo
JQ=$BUILD/ss_jsonq
for f in "$BIN" "$REF" "$JQ"; do
    [ -x "$f" ] || { log "run.sh: $f is missing (build first)"; exit 1; }
done

# ------------------------------------------------------- the machine's setup

# 10000 connections need 10000 descriptors on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)
NCPU=$(nproc)
if [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null; then
    SRV_PIN=(taskset -c 0)
    GEN_PIN=(taskset -c 1)
    PINNING="server on CPU 0, generator on CPU 1 (taskset)"
else
    SRV_PIN=()
    GEN_PIN=()
    PINNING="not pinned (fewer than 2 CPUs or no taskset)"
fi
TCK=$(getconf CLK_TCK)

TMP=$(mktemp -d /tmp/ss-bench.XXXXXX)
SRV_PID=""
GEN_PID=""
cleanup() {
    local left
    left=$(jobs -p) # this shell's own children: servers and generators
    [ -n "$left" ] && kill -KILL $left 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

COMMANDS=$TMP/commands.txt
NOTES=$TMP/notes.txt
: >"$COMMANDS"
: >"$NOTES"
note() { printf -- '- %s\n' "$*" >>"$NOTES"; log "note: $*"; }

# ---------------------------------------------------------------- servers

# start_server CMD...: starts a server pinned to the server CPU and waits up
# to 5 s for its "listening" line. Sets SRV_PID and SRV_ADDR.
start_server() {
    "${SRV_PIN[@]}" "$@" >"$TMP/srv.out" 2>"$TMP/srv.err" &
    SRV_PID=$!
    echo "${SRV_PIN[*]} $*" | sed "s|$BUILD/|build/|g" >>"$COMMANDS"
    for _ in $(seq 50); do
        SRV_ADDR=$(awk '/^listening /{print $2; exit}' "$TMP/srv.out")
        [ -n "$SRV_ADDR" ] && return 0
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    log "server did not start: $* ($(head -c 200 "$TMP/srv.err"))"
    stop_server
    return 1
}

stop_server() {
    [ -z "$SRV_PID" ] && return
    kill -TERM "$SRV_PID" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SRV_PID" 2>/dev/null
    wait "$SRV_PID" 2>/dev/null
    SRV_PID=""
}

# The server command for a mode ("ref" is the reference) and address, in
# SRV_CMD.
server_cmd() {
    local mode=$1 addr=$2 conns=$3
    if [ "$mode" = ref ]; then
        SRV_CMD=("$REF" "$addr")
        return
    fi
    # --udp-budget 0: every client of the benchmark is one source (127.0.0.1),
    # and the default budget (1 MiB/s of replies to a source) would cap the
    # udp rows; the reference has no budget either.
    SRV_CMD=("$BIN" serve echo "$addr" --mode "$mode" --max-connections 0 --drain-timeout 1 --quiet
        --udp-budget 0)
    case $mode in
    pool | prefork) SRV_CMD+=(--workers "$conns") ;; # one worker per connection
    event) SRV_CMD+=(--workers 1) ;;                  # one loop: the reference's shape
    esac
}

# ------------------------------------------------------- the server's costs

# The server's process tree: itself and its live descendants (fork and
# prefork children), from /proc/PID/task/*/children.
tree() {
    local todo=$1 all=""
    while [ -n "$todo" ]; do
        all="$all $todo"
        local next=""
        for p in $todo; do
            next="$next $(cat /proc/"$p"/task/*/children 2>/dev/null)"
        done
        todo=$(echo $next)
    done
    echo $all
}

# CPU ticks of the tree: utime + stime + cutime + cstime of each live process
# (fields 14-17 of /proc/PID/stat). A child that exited and was reaped is in
# its parent's cutime/cstime; a live one is counted by itself: together each
# process is counted once.
cpu_ticks() {
    local sum=0 line rest
    for p in $(tree "$1"); do
        line=$(cat /proc/"$p"/stat 2>/dev/null) || continue
        rest=${line##*) }
        set -- $rest
        sum=$((sum + ${12} + ${13} + ${14} + ${15}))
    done
    echo $sum
}

# Proportional set size of the tree in KiB (/proc/PID/smaps_rollup): shared
# pages are split between the processes that share them, so summing over a
# fork server's children counts each page once.
pss_kb() {
    local files=()
    for p in $(tree "$1"); do files+=("/proc/$p/smaps_rollup"); done
    awk '/^Pss:/ { s += $2 } END { print s + 0 }' "${files[@]}" 2>/dev/null
}

# Busy and total ticks of each CPU from /proc/stat: "busy0 total0 busy1
# total1 ...". Busy counts user, nice, system, irq and softirq: loopback's
# packet processing runs in softirq and is charged to no process, so only
# this shows whether a CPU was saturated.
cpu_stat() {
    awk '/^cpu[0-9]+ / { busy = $2 + $3 + $4 + $7 + $8; printf "%d %d ", busy, busy + $5 + $6 + $9 }' /proc/stat
}

# busy_pct BEFORE AFTER N: the busy percentage of CPU N between two readings.
busy_pct() {
    awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        t = y[2 * n + 2] - x[2 * n + 2]
        if (t <= 0) print "-"; else printf "%.0f", (y[2 * n + 1] - x[2 * n + 1]) * 100 / t }'
}

# Ticks of all tasks on all CPUs (user, nice and system of the "cpu" line).
task_ticks() { awk '/^cpu / { print $2 + $3 + $4; exit }' /proc/stat; }

# CPU seconds of this shell's reaped children (the generator runs), from the
# `times` builtin (in this shell, not a subshell: hence the file).
children_cpu() {
    times >"$TMP/times"
    awk 'NR == 2 { split($1, u, "m"); split($2, s, "m"); printf "%.3f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$TMP/times"
}

# ------------------------------------------------------------ the generator

# gen OUTFILE ARGS...: one generator run, pinned to the generator CPU.
gen() {
    local out=$1
    shift
    echo "${GEN_PIN[*]} $BIN bench $* --json --quiet" | sed "s|$BUILD/|build/|g" >>"$COMMANDS"
    "${GEN_PIN[@]}" "$BIN" bench "$@" --json --quiet >"$out" 2>"$TMP/gen.err"
}

field() { "$JQ" "$1" "$2" 2>/dev/null || echo ""; }

# median and spread of numbers on stdin: "median min max"
stats() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "- - -"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        print m, v[1], v[NR] }'
}

fmt() { awk -v v="$1" -v d="${2:-0}" 'BEGIN { if (v == "-" || v == "") print "-"; else printf "%.*f\n", d, v }'; }

# one_run REPSFILE LABEL WARMUP ARGS...: one measured generator run between
# two readings of the server's CPU time and of /proc/stat; appends "rps
# server-us/req p50 p99 generator-us/req server-cpu% cpu0-busy% cpu1-busy%
# errors" to REPSFILE.
one_run() {
    local file=$1 label=$2 warm=$3
    shift 3
    local t0 t1 w0 w1 s0 s1 a0 a1 c0 c1
    t0=$(cpu_ticks "$SRV_PID")
    s0=$(cpu_stat)
    a0=$(task_ticks)
    c0=$(children_cpu)
    w0=$(date +%s%N)
    gen "$TMP/run.json" "$@" --duration "$DUR" --warmup "$warm"
    local rc=$?
    sleep 0.3 # let a fork server reap its children (cutime, cstime)
    t1=$(cpu_ticks "$SRV_PID")
    s1=$(cpu_stat)
    a1=$(task_ticks)
    c1=$(children_cpu)
    w1=$(date +%s%N)
    if [ $rc -gt 1 ]; then
        note "$label: bench exited $rc: $(head -c 200 "$TMP/gen.err")"
        return 1
    fi
    local req rps p50 p99 err gus sus=- util
    # The server's CPU covers the whole run, warmup included: so do the requests.
    req=$(field "$TMP/run.json" end.requests_with_warmup)
    rps=$(field "$TMP/run.json" end.requests_per_second)
    p50=$(field "$TMP/run.json" end.latency_us.p50)
    p99=$(field "$TMP/run.json" end.latency_us.p99)
    err=$(field "$TMP/run.json" end.errors.total)
    gus=$(field "$TMP/run.json" end.cpu.us_per_request)
    if [ "${req:-0}" -gt 0 ]; then
        sus=$(awk -v t=$((t1 - t0)) -v k="$TCK" -v n="$req" 'BEGIN { printf "%.2f", t * 1e6 / k / n }')
    fi
    util=$(awk -v t=$((t1 - t0)) -v k="$TCK" -v w=$((w1 - w0)) 'BEGIN { printf "%.1f", t / k * 1e11 / w }')
    # Whatever else ran: all tasks' CPU time less the server's and the
    # generator's, as a share of all CPUs over the run.
    local others
    others=$(awk -v a=$((a1 - a0)) -v t=$((t1 - t0)) -v k="$TCK" -v c="$(awk -v x="$c0" -v y="$c1" 'BEGIN { print y - x }')" \
        -v w=$((w1 - w0)) -v n="$NCPU" 'BEGIN { v = ((a - t) / k - c) * 1e11 / w / n; printf "%.0f", v < 0 ? 0 : v }')
    echo "$rps $sus $p50 $p99 $gus $util $(busy_pct "$s0" "$s1" 0) $(busy_pct "$s0" "$s1" 1) ${err:-0} $others" >>"$file"
}

# summarize MODE NAME REPSFILE: the medians of the runs, as one row of
# $TMP/rows: "mode name rps-median rps-min rps-max server-us/req p50 p99
# errors generator-us/req server-cpu% cpu0-busy% cpu1-busy% others%".
summarize() {
    local mode=$1 name=$2 file=$3
    col() { cut -d' ' -f"$1" "$file" | grep -v -- '^-$' | stats | cut -d' ' -f1; }
    local rps errors
    rps=$(cut -d' ' -f1 "$file" | stats)
    errors=$(awk '{ s += $9 } END { print s + 0 }' "$file")
    echo "$mode $name $rps $(col 2) $(col 3) $(col 4) $errors $(col 5) $(col 6) $(col 7) $(col 8) $(col 10)" >>"$TMP/rows"
    log "$mode $name: req/s $rps, server us/req $(col 2), p50 $(col 3), p99 $(col 4), errors $errors"
}

# scenario NAME PATTERN CONNS: one row per server. The scenario's servers all
# run at once, idle but for the one being measured, and the measured runs
# take turns between them, so that whatever else loads the machine weighs on
# every row alike. Each server first gets PREWARM s of traffic.
scenario() {
    local name=$1 pattern=$2 conns=$3 scheme=tcp warm=1 mode
    [ "$pattern" = udp ] && scheme=udp
    # Connecting thousands of clients takes a while (a fork server forks for
    # each): the measured window starts after it.
    [ "$conns" -ge 2000 ] && warm=3
    local -A pid addr
    local live=()
    for mode in ref $MODES; do
        applies "$mode" "$pattern" "$conns" || continue
        server_cmd "$mode" "$scheme://127.0.0.1:0" "$conns"
        if ! start_server "${SRV_CMD[@]}"; then
            note "$mode $name: the server did not start"
            continue
        fi
        pid[$mode]=$SRV_PID
        addr[$mode]=$SRV_ADDR
        live+=("$mode")
        : >"$TMP/reps.$mode"
        gen "$TMP/warm.json" "$SRV_ADDR" --pattern "$pattern" --connections "$conns" --timeout 10 \
            --duration "$PREWARM"
    done
    sleep 0.3
    for _ in $(seq "$REPS"); do
        for mode in "${live[@]}"; do
            SRV_PID=${pid[$mode]}
            one_run "$TMP/reps.$mode" "$mode $name" "$warm" "${addr[$mode]}" --pattern "$pattern" \
                --connections "$conns" --timeout 10
        done
    done
    for mode in "${live[@]}"; do
        SRV_PID=${pid[$mode]}
        stop_server
        summarize "$mode" "$name" "$TMP/reps.$mode"
    done
}

# Is the generator the bottleneck? The reference at 16 connections, runs with
# one and with two generator threads (both on the generator's CPU) taking
# turns on the same server, so that whatever else the machine does weighs on
# both alike.
check_generator() {
    server_cmd ref tcp://127.0.0.1:0 16
    start_server "${SRV_CMD[@]}" || {
        note "generator check: the reference did not start"
        return 1
    }
    local args=("$SRV_ADDR" --pattern echo --connections 16 --timeout 10)
    gen "$TMP/warm.json" "${args[@]}" --duration "$PREWARM"
    : >"$TMP/reps1"
    : >"$TMP/reps2"
    for _ in $(seq $((REPS + 2))); do
        for t in 1 2; do
            one_run "$TMP/reps$t" "generator check" 1 "${args[@]}" --threads "$t"
        done
    done
    stop_server
    summarize ref echo-16-threads-1 "$TMP/reps1"
    summarize ref echo-16-threads-2 "$TMP/reps2"
}

# idle MODE N: the server's memory per idle connection: PSS of its process
# tree before and after N connections that each answered one request.
idle() {
    local mode=$1 n=$2
    server_cmd "$mode" tcp://127.0.0.1:0 "$n"
    start_server "${SRV_CMD[@]}" || {
        note "$mode idle: the server did not start"
        return 1
    }
    sleep 0.5
    local before after
    before=$(pss_kb "$SRV_PID")
    # A generous --timeout: a fork server forks 10000 times before the last
    # connection is answered, and a timeout would only add reconnects.
    echo "${GEN_PIN[*]} $BIN bench $SRV_ADDR --pattern idle --connections $n --timeout 120 --duration 300 --quiet" |
        sed "s|$BUILD/|build/|g" >>"$COMMANDS"
    "${GEN_PIN[@]}" "$BIN" bench "$SRV_ADDR" --pattern idle --connections "$n" --timeout 120 \
        --duration 300 --quiet >"$TMP/idle.out" 2>"$TMP/idle.err" &
    GEN_PID=$!
    local ok=0
    for _ in $(seq 2400); do
        grep -q "are open and idle" "$TMP/idle.err" && { ok=1; break; }
        kill -0 "$GEN_PID" 2>/dev/null || break
        sleep 0.1
    done
    sleep 1 # let the server settle (threads started, children forked)
    after=$(pss_kb "$SRV_PID")
    kill -INT "$GEN_PID" 2>/dev/null
    wait "$GEN_PID" 2>/dev/null
    GEN_PID=""
    stop_server
    if [ $ok = 0 ]; then
        note "$mode idle: not all $n connections came up: $(grep -h -m1 errors "$TMP/idle.out" "$TMP/idle.err" | tr -s ' ')"
        return 1
    fi
    local per
    per=$(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN { v = (a - b) * 1024 / n; if (v < 0.5) v = 0; printf "%.0f", v }')
    echo "$mode $n $before $after $per" >>"$TMP/idle_rows"
    log "$mode idle: PSS $before -> $after KiB, $per bytes per connection"
}

# ----------------------------------------------------------------- modes

# The modes this build has, from `serve --help` ("Modes (--mode): sync,
# thread; not in this build: ..."); every known mode when that line is
# missing, and a mode that fails to start is skipped with a note.
available_modes() {
    local line
    line=$("$BIN" serve --help 2>/dev/null | grep -m1 '^Modes (--mode):')
    if [ -z "$line" ]; then
        echo "sync thread fork pool prefork event"
        return
    fi
    line=${line#*:}
    line=${line%%;*}
    echo "$line" | tr ',' ' '
}
AVAILABLE=$(available_modes | xargs)
[ -z "$MODES" ] && MODES=$AVAILABLE
for m in sync thread fork pool prefork event; do
    case " $MODES " in *" $m "*) continue ;; esac
    case " $AVAILABLE " in
    *" $m "*) note "$m mode: left out by --modes, no rows" ;;
    *) note "$m mode: not in this build (\`socketserver serve --help\`), no rows" ;;
    esac
done

# Whether a row makes sense: a mode that serves one connection at a time
# (sync) starves all but one persistent connection.
applies() {
    local mode=$1 pattern=$2 conns=$3
    if [ "$mode" = sync ] && [ "$pattern" = idle ]; then return 1; fi
    if [ "$mode" = sync ] && [ "$pattern" = echo ] && [ "$conns" -gt 1 ]; then return 1; fi
    if [ "$mode" = fork ] || [ "$mode" = prefork ]; then [ "$conns" -le "$FORK_MAX" ] || return 1; fi
    if [ "$mode" = pool ] || [ "$mode" = prefork ]; then [ "$conns" -le "$POOL_MAX" ] || return 1; fi
    return 0
}

# ------------------------------------------------------------------- runs

: >"$TMP/rows"
: >"$TMP/idle_rows"
: >"$TMP/check"
START=$(date +%s)
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
log "modes: $MODES; scenarios: $SCENARIOS; $REPS x ${DUR}s each"

for sc in $SCENARIOS; do
    IFS=: read -r name pattern conns <<<"$sc"
    wanted "$name" && scenario "$name" "$pattern" "$conns"
done
note "sync mode serves one connection at a time, so its echo rows use 1 connection only and it has no idle row (more connections would starve all but one)"
case " $MODES " in *" pool "* | *" prefork "*)
    note "pool and prefork run one session per worker and take at most $POOL_MAX workers (--workers): they have no rows beyond $POOL_MAX connections (persistent clients beyond the workers wait in the backlog, by design)" ;;
esac

# A server that cannot hold IDLE_CONNS (a busy machine, a process limit) is
# measured again with a fifth of them.
for mode in ref $MODES; do
    wanted idle || break
    applies "$mode" idle "$IDLE_CONNS" || continue
    idle "$mode" "$IDLE_CONNS" && continue
    [ "$IDLE_CONNS" -gt 1000 ] && idle "$mode" $((IDLE_CONNS / 5)) &&
        note "$mode idle: measured with $((IDLE_CONNS / 5)) connections instead"
done

[ $CHECK = 1 ] && check_generator
ELAPSED=$(($(date +%s) - START))

# ----------------------------------------------------------------- report

row_of() { awk -v m="$1" -v n="$2" '$1 == m && $2 == n' "$TMP/rows"; }

# A note when other work on the machine took a noticeable share of the CPUs.
BUSY_ROWS=$(awk '$14 != "-" && $14 >= 10 { n++ } END { print n + 0 }' "$TMP/rows")
MAX_OTHERS=$(awk '$14 != "-" && $14 > m { m = $14 } END { print m + 0 }' "$TMP/rows")
[ "$BUSY_ROWS" -gt 0 ] && note "other work ran on this machine during $BUSY_ROWS rows (up to $MAX_OTHERS% of the two CPUs, \"other load\"): their absolute rates are low and noisy; rows of one scenario took turns, so compare them with each other"

results_table() {
    echo "| scenario | server | requests/s (median, min-max) | vs reference | server CPU us/request | CPU 0 busy % | other load % | p50 us | p99 us | errors |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for sc in $SCENARIOS; do
        IFS=: read -r name pattern conns <<<"$sc"
        local ref
        ref=$(row_of ref "$name" | awk '{print $3}')
        for mode in ref $MODES; do
            local r
            r=$(row_of "$mode" "$name")
            [ -z "$r" ] && continue
            set -- $r
            local ratio="-"
            [ -n "$ref" ] && [ "$3" != "-" ] && ratio=$(awk -v a="$3" -v b="$ref" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
            local label=$mode
            [ "$mode" = ref ] && label="reference (epoll_echo)"
            echo "| $name | $label | $(fmt "$3") ($(fmt "$4")-$(fmt "$5")) | $ratio | $6 | $(fmt "${12}") | $(fmt "${14}") | $(fmt "$7" 1) | $(fmt "$8" 1) | $9 |"
        done
    done
}

idle_table() {
    echo "| server | idle connections | PSS before (KiB) | PSS after (KiB) | per connection (bytes) |"
    echo "|---|---:|---:|---:|---:|"
    while read -r mode n before after per; do
        [ "$mode" = ref ] && mode="reference (epoll_echo)"
        echo "| $mode | $n | $before | $after | $per |"
    done <"$TMP/idle_rows"
}

check_table() {
    echo "| generator threads | requests/s (median, min-max) | server process CPU % | CPU 0 (server) busy % | CPU 1 (generator) busy % | other load % | server CPU us/request | generator CPU us/request | p50 us | p99 us |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for t in 1 2; do
        local r
        r=$(row_of ref "echo-16-threads-$t")
        [ -z "$r" ] && continue
        set -- $r
        echo "| $t | $(fmt "$3") ($(fmt "$4")-$(fmt "$5")) | $(fmt "${11}") | $(fmt "${12}") | $(fmt "${13}") | $(fmt "${14}") | $6 | $(fmt "${10}" 2) | $(fmt "$7" 1) | $(fmt "$8" 1) |"
    done
}

# Sentences from the check's numbers: what a second generator thread changed,
# how busy the server's CPU was, and the generator's CPU per request against
# the servers' (the modes' at 16 connections, from the table above).
verdict() {
    local r1 r2 modes
    r1=$(row_of ref echo-16-threads-1)
    r2=$(row_of ref echo-16-threads-2)
    [ -z "$r1" ] || [ -z "$r2" ] && return
    modes=$(awk '$2 == "echo-16" && $1 != "ref" && $6 != "-" { printf "%s %s ", $1, $6 }' "$TMP/rows")
    awk -v a="$r1" -v b="$r2" -v m="$modes" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        printf "With two generator threads the rate was %.2f times the rate with one; ", y[3] / x[3]
        printf "with one, the server'"'"'s CPU was %s%% busy and the generator'"'"'s %s%%. ", x[12], x[13]
        printf "One generator thread spent %.2f us of CPU per request (process time, like the server column), ", x[10]
        printf "the reference server %.2f us", x[6]
        n = split(m, z, " "); lo = 1e9
        for (i = 1; i < n; i += 2) { printf "%s %s %.2f us", i == 1 ? ", and at 16 connections" : ",", z[i], z[i + 1]; if (z[i + 1] + 0 < lo) lo = z[i + 1] + 0 }
        printf ". "
        if (n > 1 && x[10] < lo)
            printf "Every mode costs more per request than the generator, so in their rows the server'"'"'s CPU fills first: the generator does not limit them. "
        if (x[14] >= 10)
            printf "Other work took %s%% of the two CPUs during these runs, so the rates are lower and noisier than on a quiet machine. ", x[14]
        if (x[10] >= x[6] * 0.8)
            printf "Against the reference both sides cost about the same per request, so its rows are the limit of this machine with one CPU each, and the reference'"'"'s true ceiling may be somewhat higher."
        printf "\n" }'
}

# The performance targets of the modes (issue 4), each from two rows of this
# run: "target | measured | goal | met". A row that was not run is left out.
# field MODE SCENARIO COLUMN: one column of a row ($3 requests/s, $6 CPU us).
field_of() { row_of "$1" "$2" | awk -v c="$3" '{ print $c }'; }
idle_of() { awk -v m="$1" '$1 == m { print $5 }' "$TMP/idle_rows"; }

# target_row TEXT A B OP GOAL: the ratio A/B against GOAL (OP: ge or le).
target_row() {
    local text=$1 a=$2 b=$3 op=$4 goal=$5
    [ -z "$a" ] || [ -z "$b" ] || [ "$a" = - ] || [ "$b" = - ] && return
    awk -v t="$text" -v a="$a" -v b="$b" -v op="$op" -v g="$goal" 'BEGIN {
        if (b <= 0) exit
        r = a / b; ok = (op == "ge") ? r >= g : r <= g
        f = a >= 100 ? "%.0f" : "%.2f"
        printf "| %s | " f " / " f " = %.2f | %s %s | %s |\n", t, a, b, r, op == "ge" ? ">=" : "<=", g, ok ? "yes" : "**no**" }'
}

targets_table() {
    echo "| target | measured (this run) | goal | met |"
    echo "|---|---|---|---|"
    local n
    for n in 16 256 2000 10000; do
        target_row "event echo-$n: server CPU per request vs reference" \
            "$(field_of event "echo-$n" 6)" "$(field_of ref "echo-$n" 6)" le 1.10
        target_row "event echo-$n: requests/s vs reference" \
            "$(field_of event "echo-$n" 3)" "$(field_of ref "echo-$n" 3)" ge 0.95
    done
    target_row "event connect-16: connections/s vs reference" \
        "$(field_of event connect-16 3)" "$(field_of ref connect-16 3)" ge 0.95
    target_row "event udp-16: requests/s vs reference (recvfrom/sendto)" \
        "$(field_of event udp-16 3)" "$(field_of ref udp-16 3)" ge 0.95
    local per
    per=$(idle_of event)
    [ -n "$per" ] && awk -v p="$per" -v n="$IDLE_CONNS" 'BEGIN {
        printf "| event idle: PSS per idle connection (%d connections) | %d bytes | <= 6144 bytes | %s |\n", n, p, p <= 6144 ? "yes" : "**no**" }'
    target_row "pool connect-16: connections/s vs thread" \
        "$(field_of pool connect-16 3)" "$(field_of thread connect-16 3)" ge 5
    target_row "prefork connect-16: connections/s vs fork" \
        "$(field_of prefork connect-16 3)" "$(field_of fork connect-16 3)" ge 10
    echo
    echo "What bounds the last two on this machine: the reference itself, the practical limit, against"
    echo "the same modes (a mode cannot beat it by much), and the server CPU per connection, which"
    echo "does not depend on the generator:"
    echo
    echo "| comparison | measured (this run) |"
    echo "|---|---|"
    local a b
    for a in thread fork; do
        b=$(field_of "$a" connect-16 3)
        [ -n "$b" ] && [ -n "$(field_of ref connect-16 3)" ] && awk -v m="$a" -v r="$(field_of ref connect-16 3)" -v x="$b" \
            'BEGIN { printf "| reference vs %s, connections/s | %.0f / %.0f = %.2f |\n", m, r, x, r / x }'
    done
    for pair in "pool thread" "prefork fork" "ref thread" "ref fork"; do
        set -- $pair
        a=$(field_of "$1" connect-16 6)
        b=$(field_of "$2" connect-16 6)
        [ -z "$a" ] || [ -z "$b" ] || [ "$a" = - ] || [ "$b" = - ] && continue
        awk -v x="$1" -v y="$2" -v a="$a" -v b="$b" 'BEGIN {
            if (x == "ref") x = "reference"
            printf "| server CPU us per connection, %s vs %s | %.1f vs %.1f: %.2fx less |\n", x, y, a, b, b / a }'
    done
}

CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
CC_PATH=$(awk -F= '/^CMAKE_C_COMPILER:/ { print $2 }' "$BUILD/CMakeCache.txt" 2>/dev/null)
CC_VERSION=$("${CC_PATH:-cc}" --version 2>/dev/null | head -1)
BUILD_TYPE=$(awk -F= '/^CMAKE_BUILD_TYPE:/ { print $2 }' "$BUILD/CMakeCache.txt" 2>/dev/null)
VARIANT="full"
[ $QUICK = 1 ] && VARIANT="quick (--quick)"

{
    echo "# Benchmark results"
    echo
    echo "Written by \`bench/run.sh\` ($VARIANT) on $(date -u '+%Y-%m-%d %H:%M UTC') in ${ELAPSED} s."
    echo "Method, definitions and caveats: [README.md](README.md)."
    echo
    echo "## Machine"
    echo
    echo "| fact | value |"
    echo "|---|---|"
    echo "| CPUs (nproc) | $NCPU |"
    echo "| CPU model | ${CPU_MODEL:-unknown} |"
    echo "| kernel | $(uname -sr) |"
    echo "| C library | $(ldd --version 2>/dev/null | head -1) |"
    echo "| compiler | ${CC_VERSION:-unknown} |"
    echo "| build type | ${BUILD_TYPE:-unknown} |"
    echo "| pinning | $PINNING |"
    echo "| descriptor limit | $NOFILE |"
    echo "| load average at start and end | $LOADAVG; $(cut -d' ' -f1-3 /proc/loadavg) |"
    echo "| runs | per scenario, fresh servers, ${PREWARM} s of traffic each to warm them, then $REPS runs per server, taking turns, each of $DUR s measured after a warmup of 1 s (3 s from 2000 connections on) |"
    echo "| requests | 64 bytes, closed loop, one generator thread unless said |"
    echo
    echo "## Requests"
    echo
    results_table
    echo
    echo "## Memory per idle connection"
    echo
    echo "Server PSS (its process tree for fork modes) before and after $IDLE_CONNS connections (unless said)"
    echo "that each answered one request and then stay idle, divided by their number."
    echo "Kernel socket buffers are not in PSS."
    echo
    idle_table
    echo
    echo "## Targets of the pool, prefork and event modes"
    echo
    targets_table
    echo
    echo "## Is the generator the bottleneck?"
    echo
    echo "The reference at 16 connections, $((REPS + 2)) runs with one generator thread and $((REPS + 2)) with two"
    echo "(both on the generator's CPU), taking turns on the same server. If the generator"
    echo "limited the rate, a second thread would raise it and the server's CPU would have"
    echo "time to spare; a server CPU near 100% busy is the bottleneck."
    echo
    check_table
    echo
    verdict
    echo
    echo "## Notes"
    echo
    cat "$NOTES"
    echo
    echo "## Commands"
    echo
    echo "Per scenario, its servers were started and each given ${PREWARM} s of traffic; then the"
    echo "measured runs took turns between the servers, $REPS each; then the servers were stopped."
    echo "The distinct commands, in order (ADDRESS: the one the server printed):"
    echo
    echo '```'
    sed -E 's#(tcp|udp)://127\.0\.0\.1:[0-9]+#\1://127.0.0.1:PORT#g' "$COMMANDS" | awk '!seen[$0]++'
    echo '```'
} >"$OUT"
log "wrote $OUT"
