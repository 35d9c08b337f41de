#!/bin/bash
# signals.sh MODE - SIGTERM and SIGINT in MODE: the listeners close at once
# (new clients refused, unix socket file removed), a session in flight
# finishes, then exit 0; --drain-timeout cuts a session that does not end;
# a second signal exits at once, sessions (fork: children) included.
. "$(dirname "$0")/lib.sh"

MODE=$1

# refused ADDRESS: whether a new client of ADDRESS gets no session.
refused() {
    ! "$SS" send -t 0.5 -r 0 "$1" probe >/dev/null 2>&1
}

# session FD PORT: opens a session to upper on FD and checks one exchange.
session() {
    local line
    eval "exec $1<>/dev/tcp/127.0.0.1/$2" || fail "cannot connect to port $2"
    printf 'hello\n' >&"$1"
    IFS= read -r -t 5 line <&"$1" || fail "no reply on a new session"
    expect_eq "reply" "$line" HELLO
}

# ---- 1. drain: the session in flight finishes after SIGTERM
start_server drain 2 upper tcp://127.0.0.1:0 "unix:$T/drain.sock" --mode "$MODE" --drain-timeout 5
p=$(port drain tcp)
session 3 "$p"
kill -TERM "$PID_drain"
retry 2 refused "tcp://127.0.0.1:$p" || fail "a new client is still served after SIGTERM"
retry 2 test ! -e "$T/drain.sock" || fail "the unix socket file is still there after SIGTERM"
printf 'during the drain\n' >&3
IFS= read -r -t 5 line <&3 || fail "the session in flight got no reply after SIGTERM"
expect_eq "reply during the drain" "$line" "DURING THE DRAIN"
kill -0 "$PID_drain" 2>/dev/null || fail "the server exited before its session ended"
printf '\n' >&3 # upper's empty line ends the session
wait_exit "$PID_drain" 3
expect_rc "exit after the drain" "$EXIT_RC" 0
exec 3>&-

# ---- 2. --drain-timeout: a session that does not end is cut
start_server cut 1 upper tcp://127.0.0.1:0 --mode "$MODE" --drain-timeout 0.5
session 4 "$(port cut tcp)"
t0=$(now_ms)
kill -TERM "$PID_cut"
wait_exit "$PID_cut" 5
dt=$(($(now_ms) - t0))
expect_rc "exit after the drain timeout" "$EXIT_RC" 0
[ "$dt" -ge 400 ] || fail "exited after $dt ms, before the 0.5 s drain timeout"
IFS= read -r -t 3 line <&4 && fail "the cut session still reads [$line]"
exec 4>&-

# ---- 3. a second signal exits at once, taking the sessions with it
start_server twice 2 upper tcp://127.0.0.1:0 "unix:$T/twice.sock" --mode "$MODE" --drain-timeout 30
p=$(port twice tcp)
session 5 "$p"
kill -TERM "$PID_twice"
retry 2 refused "tcp://127.0.0.1:$p" || fail "the first SIGTERM was not handled"
t0=$(now_ms)
kill -TERM "$PID_twice"
wait_exit "$PID_twice" 2
expect_rc "exit on the second SIGTERM" "$EXIT_RC" 143
t1=$(now_ms)
IFS= read -r -t 3 line <&5
rc=$?
[ "$rc" -gt 128 ] && fail "the session outlived the server (read timed out)"
[ "$rc" -eq 0 ] && fail "the session outlived the server (read [$line])"
[ $(($(now_ms) - t1)) -lt 2000 ] || fail "the session ended slowly after the server"
[ -e "$T/twice.sock" ] && fail "socket file left after two signals"
exec 5>&-
echo "second signal: exit in $((t1 - t0)) ms"

# ---- 4. a session that never waits (chargen to a fast reader) is drained
# too: it must notice the cancel by itself
start_server gen 1 chargen tcp://127.0.0.1:0 --mode "$MODE" --drain-timeout 0.3
timeout 20 cat </dev/tcp/127.0.0.1/"$(port gen tcp)" >/dev/null &
reader=$!
PIDS+=("$reader")
sleep 0.3
kill -TERM "$PID_gen"
wait_exit "$PID_gen" 4
expect_rc "chargen to a fast reader, after SIGTERM" "$EXIT_RC" 0
wait "$reader" 2>/dev/null

# ---- 5. SIGINT is a first signal too (a background job ignores it by
# default: the server installs its own handler)
start_server int 2 echo tcp://127.0.0.1:0 "unixgram:$T/int.sock" --mode "$MODE"
kill -INT "$PID_int"
wait_exit "$PID_int" 3
expect_rc "exit on SIGINT" "$EXIT_RC" 0
[ -e "$T/int.sock" ] && fail "unixgram socket file left after SIGINT"
echo "ok: signals in $MODE mode"
