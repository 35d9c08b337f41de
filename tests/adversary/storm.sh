#!/bin/bash
# storm.sh MODE - an accept storm against a server limited to 64 descriptors
# (ulimit -n 64): 200 clients at once, each holding its session once
# answered. The server runs out of descriptors; it must refuse the clients
# it cannot take (closed, never hung, never a wrong reply) without spinning
# (its CPU time over one second of the storm below 300 ms), serve again once
# they leave, and come back to its startup descriptors, threads and
# children. Then SIGTERM in the middle of a second storm with clients coming
# and going: exit 0, and every reply a client got is exact.
# Mode notes: sync serves one session at a time, so its clients do not hold
# theirs; pool gets 100 workers (a full pool holds clients in the backlog by
# design); prefork gets 24 workers for 16 connections (its descriptor limit
# is per worker, which runs one session: the limit that bites is
# --max-connections, enforced by the idle workers).
# shellcheck disable=SC2154 # PID_*, ADV_*: set by eval in lib.sh
. "$(dirname "$0")/lib.sh"

SS_REAL=$SS
cat >"$T/lowfd" <<EOS
#!/bin/bash
ulimit -n 64 || exit 70
exec "$SS_REAL" "\$@"
EOS
chmod +x "$T/lowfd"

case $MODE in
pool) extra=(--workers 100) ;;
prefork) extra=(--workers 24 --max-connections 16) ;;
*) extra=() ;;
esac
keep=()
concurrent && keep=(--keep)

SS=$T/lowfd
start_server storm 1 echo tcp://127.0.0.1:0 --mode "$MODE" --drain-timeout 2 "${extra[@]}"
SS=$SS_REAL
tcp=$(addr storm tcp)
[ "$(awk '/^Max open files/ { print $4 }' "/proc/$PID_storm/limits")" == 64 ] ||
    fail "the server does not run with 64 descriptors"
baseline storm "$tcp"

# ---- the storm: 200 clients held while the CPU time is measured
adv_bg storm storm "$tcp" -n 200 "${keep[@]}" -t 15000 -H 3000
wait_for "$T/storm.adv" 'holding' 30
ms=$(cpu_ms "$PID_storm" 1000)
echo "server CPU time over 1 s of the storm: $ms ms; $(head -1 "$T/storm.adv")"
[ "$ms" -lt 300 ] || fail "the server used $ms ms of CPU in 1 s at its descriptor limit (spinning?)"
kill -TERM "$ADV_storm"
adv_wait storm
served_within "$tcp" 5000
no_leaks storm

# ---- SIGTERM in the middle of a storm: clients coming and going, others
# holding their sessions
adv_bg churn churn "$tcp" -c 16 -D 5000 -s 200 -t 15000 -m 1
sleep 1
adv_bg storm2 storm "$tcp" -n 200 "${keep[@]}" -t 15000 -m 0 -H 6000
sleep 1
kill -TERM "$PID_storm"
wait_exit "$PID_storm" 15
expect_rc "server after SIGTERM in a storm" "$EXIT_RC" 0
kill -TERM "$ADV_storm2"
adv_wait churn
adv_wait storm2
echo "ok: accept storm in $MODE mode"
