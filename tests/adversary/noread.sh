#!/bin/bash
# noread.sh MODE - clients that send and never read their replies: the
# server's writes must wait (backpressure), not buffer without bound. 50
# clients send 1 MiB each to echo, then 4 clients 32 MiB each (more than
# the kernel's socket buffers hold); the server's memory (VmRSS; fork and
# prefork: plus each child's Pss) must grow by less than 50 MiB, and a
# well-behaved client is served meanwhile. Then the clients vanish, and the
# server's descriptors, threads and children come back to their startup
# counts.
# shellcheck disable=SC2154 # PID_*, ADV_*: set by eval in lib.sh
. "$(dirname "$0")/lib.sh"

# shellcheck disable=SC2046
start_server echo 1 echo tcp://127.0.0.1:0 --mode "$MODE" $(workers_for 64)
tcp=$(addr echo tcp)
baseline echo "$tcp"
m0=$(mem_kb "$PID_echo")

for shape in "50 1M" "4 32M"; do
    set -- $shape
    adv_bg noread noread "$tcp" -n "$1" -s "$2" -H 60000 -t 20000
    wait_for "$T/noread.adv" stalled 30
    m1=$(mem_kb "$PID_echo")
    echo "memory: $m0 kB at rest, $m1 kB with $1 clients x $2 unread; $(cat "$T/noread.adv")"
    [ $((m1 - m0)) -lt 51200 ] ||
        fail "memory grew by $((m1 - m0)) kB with $1 clients x $2 never read (bound 50 MiB)"
    if concurrent; then
        served_within "$tcp" 2000
    else
        echo "sync: the serving thread waits on a client that does not read (by design)"
    fi
    kill -TERM "$ADV_noread"
    adv_wait noread
    served_within "$tcp" 5000 # sync: once the stuck sessions failed
done

no_leaks echo
stop_clean echo
echo "ok: clients that never read, in $MODE mode"
