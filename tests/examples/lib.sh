# lib.sh - sourced by the tests of the seed's programs (examples/). Starts a
# server and learns its address from its `listening` line, runs clients with
# a time limit, checks what they print, stops the server with SIGTERM and
# checks it exits 0. Everything it starts is killed on exit; its files live
# in a directory from mktemp -d. Usage of a test: bash TEST.sh EXAMPLES_DIR [ARG]
set -u
EX=${1:?usage: $0 EXAMPLES_DIR [ARG]}
TMP=$(mktemp -d)
declare -A PIDOF=()

cleanup() {
    local p
    for p in "${PIDOF[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# CTIME matches time.ctime(): "Thu Nov 26 04:13:54 2026".
CTIME='(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] [0-9]{4}'

# quote_re TEXT: TEXT as an extended regular expression matching itself.
quote_re() {
    printf '%s' "$1" | sed 's/[][\.*^$+?(){}|]/\\&/g'
}

# now_ms: wall-clock milliseconds, to bound how long something took.
now_ms() {
    local t=${EPOCHREALTIME/[.,]/}
    echo $((t / 1000))
}

# start_server NAME [ARGS...]: runs example NAME in the background, stdout
# in $TMP/NAME.out and stderr in $TMP/NAME.err, and waits (up to 10 s) for
# its first line, `listening ADDRESS`. Sets ADDR.
start_server() {
    local name=$1 line i
    shift
    : >"$TMP/$name.out" # now, so that no earlier server's line is read
    "$EX/$name" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PIDOF[$name]=$!
    for ((i = 0; i < 1000; i++)); do
        if IFS= read -r line <"$TMP/$name.out" && [[ $line == "listening "* ]]; then
            ADDR=${line#listening }
            return 0
        fi
        kill -0 "${PIDOF[$name]}" 2>/dev/null ||
            fail "$name $* exited before listening: $(cat "$TMP/$name.err")"
        sleep 0.01
    done
    fail "$name $*: no listening line within 10 s"
}

# stop_server NAME: sends SIGTERM, then expects the server to exit 0.
stop_server() {
    kill -TERM "${PIDOF[$1]}"
    expect_exit "$1"
}

# expect_exit NAME: the server must exit, with status 0, within 5 s.
expect_exit() {
    local name=$1 pid=${PIDOF[$1]} i rc=0
    for ((i = 0; i < 500; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.01
    done
    kill -0 "$pid" 2>/dev/null && fail "$name still running 5 s after SIGTERM"
    wait "$pid" || rc=$?
    unset "PIDOF[$name]"
    [ "$rc" -eq 0 ] || fail "$name exited with status $rc on SIGTERM: $(cat "$TMP/$name.err")"
}

# run NAME [ARGS...]: runs example NAME (at most 10 s) with the caller's
# stdin; stdout in $TMP/NAME.out, stderr in $TMP/NAME.err, status in RC.
run() {
    local name=$1
    shift
    RC=0
    timeout 10 "$EX/$name" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || RC=$?
}

# expect_rc NAME STATUS: the last run of NAME exited with STATUS.
expect_rc() {
    [ "$RC" -eq "$2" ] ||
        fail "$1 exited with status $RC, expected $2; stderr: $(cat "$TMP/$1.err")"
}

# expect_file NAME FILE: NAME printed exactly what FILE holds.
expect_file() {
    cmp -s "$2" "$TMP/$1.out" ||
        fail "$1 printed other than expected (diff expected printed):"$'\n'"$(diff "$2" "$TMP/$1.out" | cut -c 1-200 | head -n 20)"
}

# expect_out NAME TEXT: NAME printed exactly TEXT.
expect_out() {
    printf '%s' "$2" >"$TMP/expected"
    expect_file "$1" "$TMP/expected"
}

# expect_match NAME REGEX...: NAME printed one line per REGEX (extended
# regular expressions), each matching the whole line, each line ended.
expect_match() {
    local name=$1 re i=0
    shift
    local -a lines
    mapfile -t lines <"$TMP/$name.out"
    [ "${#lines[@]}" -eq "$#" ] && [ -z "$(tail -c 1 "$TMP/$name.out")" ] ||
        fail "$name printed ${#lines[@]} line(s), expected $#:"$'\n'"$(cat "$TMP/$name.out")"
    for re in "$@"; do
        [[ ${lines[i]} =~ ^$re$ ]] || fail "$name line $((i + 1)): '${lines[i]}' !~ /$re/"
        i=$((i + 1))
    done
}

# wait_lines NAME N: waits (up to 5 s) until $TMP/NAME.out has N lines.
wait_lines() {
    local i
    for ((i = 0; i < 500; i++)); do
        [ "$(wc -l <"$TMP/$1.out")" -ge "$2" ] && return 0
        sleep 0.01
    done
    fail "$1 printed $(wc -l <"$TMP/$1.out") line(s) in 5 s, expected $2"
}
