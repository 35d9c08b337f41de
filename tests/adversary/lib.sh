# shellcheck shell=bash
# lib.sh - what the adversary tests share (sourced, never run): the CLI
# tests' helpers (servers on port 0, cleanup of everything started, fail and
# skip), plus the adversary program, the accounting of a server's
# descriptors, threads, children, memory and CPU time read from /proc, and
# the mode-specific options the attacks need.
. "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"

ADV=${SS_ADVERSARY:?SS_ADVERSARY must name the adversary program}
MODE=${1:-}
TICK=$(getconf CLK_TCK)

# adv NAME COMMAND ARGS...: runs the adversary in the foreground, its output
# in $T/NAME.adv (and on stdout for the log). Fails the test if it reports
# misbehaviour (exit 1) or cannot run (exit 2).
adv() {
    local name=$1 rc
    shift
    timeout 120 "$ADV" "$@" >"$T/$name.adv" 2>&1
    rc=$?
    cat "$T/$name.adv"
    [ "$rc" -eq 0 ] || fail "adversary $* (exit $rc): $(cat "$T/$name.adv")"
}

# adv_bg NAME COMMAND ARGS...: the same in the background; ADV_PID is set.
# adv_wait NAME checks its result. Not under timeout(1): the cleanup's
# SIGKILL must reach the adversary itself (which bounds its own run with
# its --timeout, --hold and --duration).
adv_bg() {
    local name=$1
    shift
    "$ADV" "$@" >"$T/$name.adv" 2>&1 &
    ADV_PID=$!
    PIDS+=("$ADV_PID")
    eval "ADV_$name=$ADV_PID"
}

adv_wait() {
    local pid i=0 k
    eval "pid=\$ADV_$1"
    while kill -0 "$pid" 2>/dev/null && ((i++ < 600)); do sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then
        for k in "$pid" $(pgrep -P "$pid"); do
            echo "--- adversary process $k: $(tr '\0' ' ' <"/proc/$k/cmdline")" >&2
            grep -E '^(State|SigPnd|ShdPnd|SigCgt)' "/proc/$k/status" >&2
            cat "/proc/$k/stack" >&2 2>/dev/null
        done
        fail "adversary $1 still running 30 s after it should have ended: $(cat "$T/$1.adv")"
    fi
    wait "$pid"
    local rc=$?
    cat "$T/$1.adv"
    [ "$rc" -eq 0 ] || fail "adversary $1 (exit $rc): $(cat "$T/$1.adv")"
}

# wait_for FILE PATTERN SECONDS: polls until FILE has a line matching PATTERN.
wait_for() {
    local i
    for ((i = 0; i < $3 * 20; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "no line matching [$2] in ${1##*/} after $3 s: $(cat "$1" 2>/dev/null)"
}

# ---------------------------------------------------------------- accounting

# count_dir DIR: entries of a /proc directory (0 if the process is gone).
count_dir() {
    local a
    a=("$1"/*)
    [ -e "${a[0]}" ] && echo "${#a[@]}" || echo 0
}

# snapshot PID: "fds=N threads=N children=N child-fds=N child-threads=N": the
# server's descriptors, threads and children (zombies included: one not
# reaped is a leak), and the descriptors and threads of those children
# (prefork's workers, fork's sessions).
snapshot() {
    local pid=$1 kids k cf=0 ct=0
    kids=$(pgrep -P "$pid" | sort -n)
    for k in $kids; do
        cf=$((cf + $(count_dir "/proc/$k/fd")))
        ct=$((ct + $(count_dir "/proc/$k/task")))
    done
    echo "fds=$(count_dir "/proc/$pid/fd") threads=$(count_dir "/proc/$pid/task")" \
        "children=$(echo "$kids" | grep -c .) child-fds=$cf child-threads=$ct"
}

# settle PID: the snapshot once three in a row, 100 ms apart, agree (prefork
# starts its workers, and a pool its threads, after the listening line).
settle() {
    local pid=$1 a b c i
    a=$(snapshot "$pid")
    for ((i = 0; i < 100; i++)); do
        sleep 0.1
        b=$(snapshot "$pid")
        sleep 0.1
        c=$(snapshot "$pid")
        [ "$a" == "$b" ] && [ "$b" == "$c" ] && break
        a=$c
    done
    echo "$c"
}

# baseline NAME ADDRESS: one exchange with server NAME (a pool starts its
# threads, an event loop its coroutine stacks, with the first request: they
# are part of the startup state), then records its settled snapshot.
baseline() {
    local pid
    eval "pid=\$PID_$1"
    [ -n "$2" ] && send -t 5 "$2" warm-up >/dev/null
    eval "BASE_$1=\"$(settle "$pid")\""
    eval "echo \"baseline $1 ($MODE): \$BASE_$1\""
}

# no_leaks NAME: waits up to 10 s for server NAME's snapshot to come back to
# its baseline (sessions end asynchronously: fork children exit, threads are
# joined); fails with both, and the descriptors, if it does not.
no_leaks() {
    local pid base now i
    eval "pid=\$PID_$1; base=\$BASE_$1"
    for ((i = 0; i < 100; i++)); do
        now=$(snapshot "$pid")
        [ "$now" == "$base" ] && {
            echo "no leaks $1: $now"
            return 0
        }
        sleep 0.1
    done
    ls -l "/proc/$pid/fd" >&2
    fail "server $1 did not come back to its startup state: baseline [$base], now [$now]"
}

# mem_kb PID: the server's VmRSS (/proc/PID/status), plus, for the modes
# whose sessions run in other processes (fork, prefork), the proportional
# set size (Pss, smaps_rollup) of each child: memory that pages shared
# copy-on-write with the parent would otherwise count once per process.
mem_kb() {
    local pid=$1 kb k p
    kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
    for k in $(pgrep -P "$pid"); do
        p=$(awk '/^Pss:/ { print $2 }' "/proc/$k/smaps_rollup" 2>/dev/null)
        kb=$((kb + ${p:-0}))
    done
    echo "$kb"
}

# cpu_ticks PID: user + system time of the server, of its children reaped
# so far and of those alive (/proc/PID/stat fields 14-17; the command name,
# field 2, may hold spaces: cut after its closing parenthesis).
cpu_ticks() {
    local pid=$1 t=0 k f
    for k in "$pid" $(pgrep -P "$pid"); do
        f=$(cat "/proc/$k/stat" 2>/dev/null) || continue
        f=${f##*) }
        read -r -a f <<<"$f"
        t=$((t + f[11] + f[12]))
        [ "$k" == "$pid" ] && t=$((t + f[13] + f[14]))
    done
    echo "$t"
}

# cpu_ms PID MS: the CPU time the server used over the next MS milliseconds.
cpu_ms() {
    local a b
    a=$(cpu_ticks "$1")
    sleep "$(printf '%d.%03d' $(($2 / 1000)) $(($2 % 1000)))"
    b=$(cpu_ticks "$1")
    echo $(((b - a) * 1000 / TICK))
}

# ---------------------------------------------------------------- serving

# served_within ADDRESS MS [MESSAGE]: a well-behaved echo (or upper) client
# gets its answer within MS milliseconds.
served_within() {
    local t0 out dt msg=${3:-still served}
    t0=$(now_ms)
    out=$("$SS" send -t "$(($2 / 1000 + 1))" -r 2 "$1" "$msg" 2>&1) ||
        fail "a well-behaved client of $1 was not served: $out"
    dt=$(($(now_ms) - t0))
    [[ ${out,,} == "${msg,,}" ]] || fail "a well-behaved client of $1 got [$out]"
    [ "$dt" -le "$2" ] || fail "a well-behaved client of $1 waited $dt ms (bound $2 ms)"
    echo "served $1 in $dt ms"
}

# concurrent: whether MODE serves sessions side by side (sync runs one at a
# time in its serving thread: whoever holds it makes every other client wait,
# by design, so the checks that others are served meanwhile do not apply).
concurrent() {
    [ "$MODE" != sync ]
}

# WORKERS: pool and prefork run at most --workers sessions at once (those
# beyond wait in the backlog, by design); attacks that hold sessions give
# them more workers than attackers, so that a well-behaved client still finds
# one. The other modes ignore --workers (event: loops, one per core).
workers_for() {
    case $MODE in
    pool | prefork) echo "--workers $1" ;;
    esac
}

# stop_clean NAME: SIGTERM, exit 0 within 15 s, and no child left behind.
stop_clean() {
    local pid kids k
    eval "pid=\$PID_$1"
    kids=$(pgrep -P "$pid")
    kill -TERM "$pid"
    wait_exit "$pid" 15
    expect_rc "server $1 after SIGTERM" "$EXIT_RC" 0
    for k in $kids; do
        [ -d "/proc/$k" ] && [ "$(awk '{ print $3 }' "/proc/$k/stat")" != Z ] &&
            fail "child $k of server $1 outlived it"
    done
    return 0
}
