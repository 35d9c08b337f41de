#!/bin/bash
# rdate.sh - rdate(8) (OpenRdate, RFC 868 client) accepts our time service
# over tcp and udp and prints the time we sent: now, within 2 s.
. "$(dirname "$0")/lib.sh"

need rdate rdate
start_server time 2 time tcp://127.0.0.1:0 udp://127.0.0.1:0
for proto in tcp udp; do
    flags=(-p -o "$(port time $proto)")
    [ "$proto" == udp ] && flags+=(-u)
    # -p: print the remote time, do not set the clock
    out=$(timeout 10 rdate "${flags[@]}" 127.0.0.1 2>&1) || fail "rdate over $proto: $out"
    t=$(date -d "${out#rdate: }" +%s 2>/dev/null) || fail "rdate over $proto printed [$out]"
    near_now "$t" || fail "rdate over $proto: [$out] is not now ($(date))"
    echo "rdate over $proto: $out"
done
stop_server time
echo "ok: rdate reads our RFC 868 time over tcp and udp"
