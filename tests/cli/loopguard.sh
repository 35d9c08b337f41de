#!/bin/bash
# loopguard.sh - the BSD inetd guard against UDP reflection loops: a datagram
# whose source port is a classic service port (7, 13, 19, 37) is not
# answered, or two servers could answer each other for ever. Sending from
# those ports needs root (or CAP_NET_BIND_SERVICE) and socat or nc.
. "$(dirname "$0")/lib.sh"

# bind_failed FILE: whether the client's stderr says it could not bind.
bind_failed() {
    grep -qiE 'bind|in use|permission|not permitted' "$1"
}

if command -v socat >/dev/null 2>&1; then
    # udp_from SRCPORT PORT: sends "x" from $SRC:SRCPORT (0: any port) to
    # 127.0.0.1:PORT and prints the reply, if one comes within 0.4 s.
    # Status 2: cannot bind.
    udp_from() {
        printf x | timeout 5 socat -T 0.4 - "UDP4:127.0.0.1:$2,bind=$SRC:$1" 2>"$T/err.$1.$2"
        bind_failed "$T/err.$1.$2" && return 2
        return 0
    }
elif command -v nc >/dev/null 2>&1; then
    udp_from() {
        local src=(-s "$SRC")
        [ "$1" -eq 0 ] || src+=(-p "$1")
        printf x | timeout 5 nc -u -w 1 "${src[@]}" 127.0.0.1 "$2" 2>"$T/err.$1.$2"
        bind_failed "$T/err.$1.$2" && return 2
        return 0
    }
else
    skip "socat not installed, nc not installed"
fi


SRC=127.0.0.1

# check SERVICE N PORTS...: no answer from the guarded ports, an answer from
# an ordinary one; sent from 127.0.0.N so that checks in parallel do not
# compete for the same source port.
check() {
    local svc=$1 p src out SRC=127.0.0.$2
    shift 2
    p=$(port "$svc" udp)
    out=$(udp_from 0 "$p") || fail "$svc: cannot send from an ordinary port"
    [ -n "$out" ] || fail "$svc: no answer from an ordinary port"
    for src in "$@"; do
        out=$(udp_from "$src" "$p")
        case $? in
        2) echo "note: $svc: could not send from port $src: $(cat "$T/err.$src.$p")" ;;
        *) [ -z "$out" ] || fail "$svc answered a datagram from port $src: [$out]" ;;
        esac
    done
}

for svc in echo chargen daytime time upper timestamp; do
    start_server "$svc" 1 "$svc" udp://127.0.0.1:0 --verbose
done
# Whether this process may send from port 7 at all.
udp_from 7 "$(port echo udp)" >/dev/null
[ $? -eq 2 ] && skip "cannot send from UDP port 7 (not root, or port 7 in use): $(cat "$T"/err.7.*)"
pids=()
check echo 11 7 13 19 37 &
pids+=($!)
check chargen 12 7 13 19 37 &
pids+=($!)
n=13
for svc in daytime time upper timestamp; do
    check "$svc" "$n" 7 19 &
    pids+=($!)
    n=$((n + 1))
done
for p in "${pids[@]}"; do wait "$p" || exit 1; done
grep -q 'loop guard' "$T/echo.err" || fail "echo did not log the guard"
echo "ok: no answer to the service ports of echo, chargen, daytime, time, upper, timestamp"
