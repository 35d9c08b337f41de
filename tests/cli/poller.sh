#!/bin/bash
# poller.sh - serve --poller: a bad name is a usage error (64); epoll and,
# where it is built and the kernel allows it, io_uring serve every service
# over tcp and unix in event mode, say which at debug, and stop cleanly;
# a build without liburing refuses io_uring with exit 64 and one line.
. "$(dirname "$0")/lib.sh"

"$SS" serve echo tcp://127.0.0.1:0 --mode event --poller kqueue >/dev/null 2>"$T/bad.err"
expect_rc "--poller kqueue" $? 64
grep -q -- '--poller' "$T/bad.err" || fail "no line naming --poller: $(cat "$T/bad.err")"

try() { # POLLER: echo, upper and daytime on one server, tcp and unix
    local p=$1 a out
    start_server "$p" 2 echo tcp://127.0.0.1:0 "unix:$T/$p.sock" --mode event --poller "$p" -v
    grep -q "debug: event mode: $p" "$T/$p.err" || fail "$p: no debug line naming it: $(cat "$T/$p.err")"
    for a in "$(addr "$p" tcp)" "unix:$T/$p.sock"; do
        out=$(send "$a" "hello $p" </dev/null) || fail "$p: send to $a failed"
        expect_eq "$p echo on $a" "$out" "hello $p"
    done
    stop_server "$p"
}

try epoll
"$SS" serve echo tcp://127.0.0.1:0 --mode event --poller io_uring >"$T/probe.out" 2>"$T/probe.err" &
pid=$!
PIDS+=("$pid")
for ((i = 0; i < 500; i++)); do
    grep -q '^listening ' "$T/probe.out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
done
if grep -q '^listening ' "$T/probe.out"; then
    kill -TERM "$pid"
    wait_exit "$pid" 5
    try io_uring
    # SS_POLLER picks for auto; the option wins over it.
    SS_POLLER=io_uring start_server auto 1 echo tcp://127.0.0.1:0 --mode event -v
    grep -q "debug: event mode: io_uring (auto)" "$T/auto.err" || fail "SS_POLLER ignored: $(cat "$T/auto.err")"
    stop_server auto
    SS_POLLER=io_uring start_server named 1 echo tcp://127.0.0.1:0 --mode event --poller epoll -v
    grep -q "debug: event mode: epoll" "$T/named.err" || fail "--poller epoll lost to SS_POLLER"
    stop_server named
else
    wait_exit "$pid" 5
    if grep -q 'built without io_uring' "$T/probe.err"; then
        expect_rc "--poller io_uring without liburing" "$EXIT_RC" 64
        skip "io_uring (built without liburing: liburing-dev not installed)"
    fi
    expect_rc "--poller io_uring refused by the kernel" "$EXIT_RC" 71
    skip "io_uring (the kernel refuses it: $(cat "$T/probe.err"))"
fi
