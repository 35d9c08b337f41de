# mixin (slides 76-77): tcps1's handler in the mode given as ARG (sync, thread
# or fork) answers exactly as tcps1 does. Then what the mode changes: while
# one client holds its session open, a second client is answered at once by
# thread and fork, but waits its turn with sync. And what it does not: on
# SIGTERM every mode stops accepting at once, lets the session in flight
# finish, then exits 0.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/session.sh"
mode=${2:?usage: mixin.sh EXAMPLES_DIR MODE}

# hold NAME LINE: starts a tcpc1 whose input is a fifo kept open on fd 3, says
# LINE and waits (up to 5 s) for its answer.
hold() {
    mkfifo "$TMP/$1.in"
    timeout 10 "$EX/tcpc1" "$ADDR" <"$TMP/$1.in" >"$TMP/$1.out" 2>"$TMP/$1.err" &
    PIDOF[$1]=$!
    exec 3>"$TMP/$1.in"
    say "$1" "$2"
}

# say NAME LINE: the holder sends LINE; its answer must come within 5 s.
say() {
    local want i
    want=$(cat "$TMP/$1.out"; echo "$2" | tr '[:lower:]' '[:upper:]')
    echo "$2" >&3
    for ((i = 0; i < 500; i++)); do
        [ "$(cat "$TMP/$1.out")" = "$want" ] && return 0
        sleep 0.01
    done
    fail "$1 got no answer to '$2': $(cat "$TMP/$1.out" "$TMP/$1.err")"
}

# release NAME: closes the holder's input; it sends "\r\n" and must exit 0.
release() {
    local rc=0
    exec 3>&-
    wait "${PIDOF[$1]}" || rc=$?
    unset "PIDOF[$1]"
    [ "$rc" -eq 0 ] || fail "$1 exited with status $rc: $(cat "$TMP/$1.err")"
}

start_server mixin tcp://127.0.0.1:0 "$mode"
port=${ADDR##*:}
check_sessions mixin

hold holder first
if [ "$mode" = sync ]; then
    # One client at a time: no answer while the holder lasts. Half a second
    # is plenty for an answer that would come.
    RC=0
    timeout 0.5 "$EX/tcpc1" "$ADDR" <<<second >"$TMP/tcpc1.out" 2>&1 || RC=$?
    expect_rc tcpc1 124
    expect_out tcpc1 ""
else
    run tcpc1 "$ADDR" <<<second
    expect_rc tcpc1 0
    expect_out tcpc1 $'SECOND\n'
fi
release holder
# With sync, the second session runs only now: wait for its line.
wait_lines mixin 10

# SIGTERM during a session. The listener goes at once (/proc/net/tcp, proc(5):
# no socket in state 0A, LISTEN, on the port), so a new client is refused,
# while the session in flight still gets its answers; when it ends, the
# server exits 0.
hold stayer before
kill -TERM "${PIDOF[mixin]}"
for ((i = 0; i < 500; i++)); do
    grep -q ":$(printf '%04X' "$port") 00000000:0000 0A" /proc/net/tcp || break
    sleep 0.01
done
run tcpc1 "$ADDR" <<<late
expect_rc tcpc1 1
grep -q "Connection refused" "$TMP/tcpc1.err" || fail "late client: $(cat "$TMP/tcpc1.err")"
say stayer after
release stayer
expect_exit mixin
expect_session_log mixin 'Connected: tcp://127\.0\.0\.1:[0-9]+' first \
    'Connected: tcp://127\.0\.0\.1:[0-9]+' second \
    'Connected: tcp://127\.0\.0\.1:[0-9]+' before after
