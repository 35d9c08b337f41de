#!/bin/bash
# admit.sh MODE - admission by source from the command line: chargen over
# UDP under --udp-budget answers a flood from one source with one second's
# budget, drops the rest (logged at debug once, with a count), and answers
# again a second later; --max-per-source on upper closes a second session
# from the same address until the first ends; --deny refuses its network.
. "$(dirname "$0")/lib.sh"

MODE=$1
need python3 python3

# flood PORT COUNT: sends COUNT 1-byte datagrams to PORT from one socket,
# prints the reply bytes that came back (until none came for a second) and
# the milliseconds from the first datagram to the last reply.
flood() {
    timeout 20 python3 - "$1" "$2" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t0 = last = time.monotonic()
for _ in range(int(sys.argv[2])):
    s.sendto(b"x", ("127.0.0.1", int(sys.argv[1])))
    time.sleep(0.001)
s.settimeout(1.0)
total = 0
try:
    while True:
        total += len(s.recv(4096))
        last = time.monotonic()
except socket.timeout:
    pass
print(total, int((last - t0) * 1000))
EOF
}

# ---- --udp-budget: chargen reflects no more than the budget
start_server udp 1 chargen udp://127.0.0.1:0 --mode "$MODE" --udp-budget 2k -v \
    --access-log "$T/udp.access" 
p=$(port udp udp)
read -r got span < <(flood "$p" 40)
# 2048 bytes a second, a bucket of one second: 2 KiB at once, what refilled
# over the span (2 bytes a millisecond), and one reply (512 bytes at most)
# for rounding.
max=$((2048 + span * 2 + 512))
[ "$got" -ge 1024 ] && [ "$got" -le "$max" ] ||
    fail "chargen over budget: $got bytes back for 40 datagrams in $span ms (at most $max)"
retry 5 grep -q 'udp_budget' "$T/udp.err" || fail "no udp_budget refusal logged: $(cat "$T/udp.err")"
lines=$(grep -c 'refused .*udp_budget' "$T/udp.err")
[ "$lines" -le 2 ] || fail "$lines refusal lines in one second (rate-limited: at most 1 a second)"
sleep 1.1
read -r again span < <(flood "$p" 40)
[ "$again" -ge 1024 ] || fail "a second later: only $again bytes"
grep -q 'more refused for udp_budget' "$T/udp.err" || fail "no count of unlogged refusals: $(cat "$T/udp.err")"
stop_server udp
# The access log names the reason of each datagram whose reply was dropped.
grep -q '"result":"refused","reason":"udp_budget"' "$T/udp.access" ||
    fail "no udp_budget line in the access log: $(head -3 "$T/udp.access")"

# ---- --max-per-source: a second session from one address is closed
if [ "$MODE" != sync ]; then # sync serves one session at a time anyway
    start_server tcp 1 upper tcp://127.0.0.1:0 --mode "$MODE" --max-per-source 1 --rate 100
    p=$(port tcp tcp)
    exec 3<>"/dev/tcp/127.0.0.1/$p"
    printf 'one\n' >&3
    IFS= read -r -t 3 line <&3 || fail "first session: no reply"
    expect_eq "first session" "$line" ONE
    exec 4<>"/dev/tcp/127.0.0.1/$p"
    printf 'two\n' >&4 2>/dev/null
    if IFS= read -r -t 3 line <&4; then fail "second session from one source answered: $line"; fi
    exec 4<&-
    exec 3<&-
    # The first ended: its count goes (fork: once its child is reaped).
    retry 5 bash -c "[ \"\$(timeout 5 '$SS' send tcp://127.0.0.1:$p three 2>/dev/null)\" = THREE ]" ||
        fail "after the first session ended, a new one is still refused"
    stop_server tcp
fi

# ---- --deny: the whole network is refused, others are served
start_server deny 1 upper tcp://127.0.0.1:0 --mode "$MODE" --deny 127.0.0.0/24 \
    --access-log "$T/deny.access" 
p=$(port deny tcp)
out=$(send -t 2 "tcp://127.0.0.1:$p" hi 2>&1) && fail "a denied client was served: $out"
expect_eq "an allowed client (127.0.1.1)" \
    "$(timeout 5 python3 -c "
import socket
s = socket.create_connection(('127.0.0.1', $p), source_address=('127.0.1.1', 0), timeout=3)
s.sendall(b'hi\n'); print(s.recv(16).decode().strip())")" HI
stop_server deny
grep -q '"peer":"tcp://127.0.0.1:[0-9]*".*"result":"refused","reason":"deny"' "$T/deny.access" ||
    fail "no deny line in the access log: $(cat "$T/deny.access")"
exit 0
