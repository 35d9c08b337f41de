#!/bin/bash
# udp.sh MODE - datagram abuse: a flood of 20000 datagrams as fast as the
# client can send them (udp and unixgram); the server survives, every reply
# it sent is exact, and it answers afterwards. Then the amplification
# check: 1-byte datagrams to every service, whose replies must stay within
# what the service's RFC allows for one request (echo, upper: the request's
# size; chargen: 512 bytes, RFC 864; daytime: one ctime line, 26 bytes;
# time: 4 bytes, RFC 868; timestamp: the request plus its 27-byte stamp;
# discard: nothing). Descriptors, threads and children return to their
# startup counts.
# shellcheck disable=SC2154 # PID_*, ADV_*: set by eval in lib.sh
. "$(dirname "$0")/lib.sh"

# ---- the flood
start_server echo 2 echo udp://127.0.0.1:0 "unixgram:$T/echo.sock" --mode "$MODE"
baseline echo "$(addr echo udp)"
for a in "$(addr echo udp)" "$(addr echo unixgram)"; do
    adv flood udpflood "$a" -n 20000 -s 64
    kill -0 "$PID_echo" 2>/dev/null || fail "the server died in a datagram flood"
done
no_leaks echo
stop_clean echo

# ---- no amplification: service, then the largest reply allowed to 1 byte
for case in echo:1 upper:1 chargen:512 daytime:26 time:4 timestamp:28 discard:none; do
    svc=${case%%:*}
    max=${case#*:}
    start_server "u$svc" 1 "$svc" udp://127.0.0.1:0 --mode "$MODE"
    if [ "$max" == none ]; then
        adv probe udpprobe "$(addr "u$svc" udp)" -n 5 -s 1 --none
    else
        adv probe udpprobe "$(addr "u$svc" udp)" -n 20 -s 1 -M "$max"
    fi
    stop_clean "u$svc"
done
echo "ok: datagram abuse in $MODE mode"
