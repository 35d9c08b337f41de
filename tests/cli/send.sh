#!/bin/bash
# send.sh - `socketserver send` never hangs and says why it failed: no reply
# (UDP retried), refused, unreachable and unresolvable peers each end within
# the time they were given, with their sysexits status.
. "$(dirname "$0")/lib.sh"

# timed STATUS MAX_MS WHAT ARGS...: `send ARGS` must exit STATUS within MAX_MS.
timed() {
    local want=$1 max=$2 what=$3 t0 dt rc
    shift 3
    t0=$(now_ms)
    send "$@" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    dt=$(($(now_ms) - t0))
    expect_rc "$what" "$rc" "$want"
    [ "$dt" -le "$max" ] || fail "$what: took $dt ms (at most $max)"
    [ "$(wc -l <"$T/err")" -eq 1 ] || fail "$what: stderr is not one line: $(cat "$T/err")"
    echo "$what: status $rc in $dt ms: $(cat "$T/err")"
}

start_server dis 3 discard udp://127.0.0.1:0 tcp://127.0.0.1:0 "unixgram:$T/dis.sock"
start_server up 2 upper tcp://127.0.0.1:0 udp://127.0.0.1:0 --max-line 8
start_server gone 2 echo tcp://127.0.0.1:0 udp://127.0.0.1:0
closed_tcp=$(addr gone tcp)
closed_udp=$(addr gone udp)
stop_server gone

# No reply at all: 0.2 s x (1 + 2 retries), then exit 69.
timed 69 10000 "udp, a server that never answers" -t 0.2 -r 2 "$(addr dis udp)" hello
grep -q 'after 3 attempt' "$T/err" || fail "the retries are not reported"
timed 69 10000 "unixgram, a server that never answers" -t 0.2 -r 2 "$(addr dis unixgram)" hi
timed 69 10000 "tcp, a server that never answers" -t 0.3 "$(addr dis tcp)" hello
# Nobody listening: an ICMP error or the timeout, never a hang.
timed 69 10000 "udp, a closed port" -t 0.2 -r 2 "$closed_udp" hello
timed 69 10000 "tcp, a closed port" -t 0.5 "$closed_tcp" hello
grep -q 'Connection refused' "$T/err" || fail "a refusal is not named"
timed 69 10000 "unix, no such socket" -t 0.5 "unix:$T/nobody" hello
timed 69 10000 "unixgram, no such socket" -t 0.5 "unixgram:$T/nobody" hello
# A name that does not resolve (the resolver is told to give up quickly).
RES_OPTIONS="timeout:1 attempts:1" timed 68 15000 "an unknown host" -t 0.5 \
    tcp://no-such-host.invalid:7 hello
# A server that closes instead of answering (a line over --max-line).
timed 69 10000 "tcp, closed without a reply" "$(addr up tcp)" 'far too long'
# A reply that is not a time.
timed 69 10000 "udp --time, not a time" --time "$(addr up udp)" hello
grep -q 'not an RFC 868 time' "$T/err" || fail "a wrong-size time is not named"

# stdin lines when no message is given (the seed's tcpc1 loop)
out=$(printf 'one\ntwo\r\nthree' | send "$(addr up tcp)") || fail "stdin lines over tcp"
expect_eq "stdin lines over tcp" "$out" $'ONE\nTWO\nTHREE'
out=$(printf 'one\ntwo\n' | send "$(addr up udp)") || fail "stdin lines over udp"
expect_eq "stdin lines over udp" "$out" $'ONE\nTWO'
out=$(send --raw "$(addr up udp)" ab cd) || fail "--raw"
expect_eq "--raw adds no newline" "$out" ABCD
echo "ok: send never hangs"
