# lib.sh - what the CLI black-box tests share (sourced, never run). Each test
# gets a private directory, starts servers on port 0 and learns their
# addresses from the "listening" lines, and kills whatever it started on exit.
# Exit status: 0 pass, 1 fail, 77 skipped (ctest's SKIP_RETURN_CODE).
set -u

SS=${SS_BIN:?SS_BIN must name the socketserver program}

# The tests feed `send` an empty input with </dev/null. Once, on a shared
# machine, /dev/null had been deleted and a root process's >/dev/null made
# it a regular file full of log lines: `send` then sent them as messages,
# and services answered twice or closed "without a reply". Say so plainly.
if [ ! -c /dev/null ]; then
    echo "FAIL: /dev/null is not a character device ($(stat -c %F /dev/null 2>&1)); as root: rm -f /dev/null && mknod -m 666 /dev/null c 1 3" >&2
    exit 1
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/ss-cli.XXXXXX") || exit 1
PIDS=()

cleanup() {
    local p
    exec 2>/dev/null # no "Killed" job notices for what we kill
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

# Prints the logs of every server started, for the failure's context.
dump_logs() {
    local f
    for f in "$T"/*.err; do
        [ -s "$f" ] || continue
        echo "--- ${f##*/}" >&2
        tail -n 20 "$f" >&2
    done
}

fail() {
    echo "FAIL: $*" >&2
    dump_logs
    exit 1
}

skip() {
    echo "skipped: $*"
    exit 77
}

# need TOOL [PACKAGE]: skips the test when TOOL is not installed.
need() {
    command -v "$1" >/dev/null 2>&1 || skip "$1 not installed${2:+ (package $2)}"
}

# now_ms: wall time in milliseconds (bash 5's EPOCHREALTIME, no fork).
now_ms() {
    local t=${EPOCHREALTIME/[.,]/}
    echo $((t / 1000))
}

# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
    [ "$2" == "$3" ] || fail "$1: expected [$3], got [$2]"
}

# expect_rc WHAT ACTUAL EXPECTED
expect_rc() {
    [ "$2" -eq "$3" ] || fail "$1: exit status $2, expected $3"
}

# start_server NAME COUNT SERVE-ARGS...: runs `socketserver serve SERVE-ARGS`
# in the background with stdout in $T/NAME.out and stderr in $T/NAME.err,
# and waits (polling, up to 10 s) for COUNT "listening" lines. Sets
# SERVER_PID. A mode this build lacks skips the test.
start_server() {
    local name=$1 count=$2 i
    shift 2
    : >"$T/$name.out"
    "$SS" serve "$@" >"$T/$name.out" 2>"$T/$name.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    eval "PID_$name=$SERVER_PID"
    for ((i = 0; i < 1000; i++)); do
        [ "$(grep -c '^listening ' "$T/$name.out")" -ge "$count" ] && return 0
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            grep -q 'not available in this build' "$T/$name.err" && skip "$(cat "$T/$name.err")"
            fail "server $name exited early: $(cat "$T/$name.err")"
        fi
        sleep 0.01
    done
    fail "server $name did not print $count listening lines in 10 s"
}

# addr NAME SCHEME: the address server NAME listens on for tcp, udp, unix
# or unixgram.
addr() {
    local a
    a=$(grep -m1 "^listening $2:" "$T/$1.out" | cut -d' ' -f2)
    [ -n "$a" ] || fail "server $1 has no $2 listener"
    echo "$a"
}

# port NAME SCHEME: the port of server NAME's tcp or udp listener.
port() {
    local a
    a=$(addr "$1" "$2")
    echo "${a##*:}"
}

# send ARGS...: our client, bounded in time whatever happens.
send() {
    timeout 20 "$SS" send "$@"
}

# wait_exit PID SECONDS: waits for PID (a child of this shell) to exit and
# sets EXIT_RC; fails if it is still running after SECONDS.
wait_exit() {
    local pid=$1 i
    for ((i = 0; i < $2 * 100; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            EXIT_RC=$?
            return 0
        fi
        sleep 0.01
    done
    fail "process $pid still running after $2 s"
}

# stop_server NAME: SIGTERM, expects exit status 0 within 5 s.
stop_server() {
    local pid
    eval "pid=\$PID_$1"
    kill -TERM "$pid"
    wait_exit "$pid" 5
    expect_rc "server $1 after SIGTERM" "$EXIT_RC" 0
}

# retry SECONDS COMMAND...: runs COMMAND until it succeeds, up to SECONDS.
retry() {
    local i n=$(($1 * 20))
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    return 1
}

# chargen_lines N: the first N lines of RFC 864's pattern, CR LF ended.
chargen_lines() {
    local pat='' ch i
    for i in {32..126}; do
        printf -v ch "\\x$(printf %x "$i")"
        pat+=$ch
    done
    pat+=$pat
    for ((i = 0; i < $1; i++)); do printf '%s\r\n' "${pat:i % 95:72}"; done
}

# The ctime(3) form of daytime and timestamp, "Thu Nov 26 04:13:54 2026".
CTIME_RE='(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 1-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] [0-9]{4}'

# near_now SECONDS: whether SECONDS (Unix time) is within 2 s of now.
near_now() {
    local d=$(($1 - $(date +%s)))
    [ "$d" -ge -2 ] && [ "$d" -le 2 ]
}
