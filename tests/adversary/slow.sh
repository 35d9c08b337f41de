#!/bin/bash
# slow.sh MODE - slow clients: slowloris (lines sent a byte at a time) while
# well-behaved clients are served promptly, and a 4 MiB line against
# --max-line that must cost the server neither its memory nor its service.
# At the end the server's descriptors, threads and children are back to
# their startup counts, and SIGTERM exits 0.
# shellcheck disable=SC2154 # PID_*, ADV_*: set by eval in lib.sh
. "$(dirname "$0")/lib.sh"

# shellcheck disable=SC2046 # workers_for's words are separate options
start_server slow 2 upper tcp://127.0.0.1:0 "unix:$T/slow.sock" --mode "$MODE" \
    --max-line 1k $(workers_for 16)
tcp=$(addr slow tcp)
unix=$(addr slow unix)
baseline slow "$tcp"

# ---- slowloris: 8 clients, 48-byte lines at one byte per 40 ms (2 s each)
adv_bg loris slowloris "$tcp" -n 8 -s 48 -d 40 -u -t 10000
sleep 0.3
if concurrent; then
    for _ in 1 2 3 4; do
        served_within "$tcp" 1500
        served_within "$unix" 1500
        sleep 0.2
    done
else
    echo "sync: one session at a time; the promptness check is skipped (by design)"
fi
adv_wait loris
served_within "$tcp" 1500

# ---- one 4 MiB line, over --max-line (1 KiB): the session ends, nothing is
# answered, the server's memory does not follow the line
m0=$(mem_kb "$PID_slow")
for a in "$tcp" "$unix"; do
    adv big bigline "$a" -s 4M -M 0 -t 10000
    served_within "$a" 1500
done
m1=$(mem_kb "$PID_slow")
echo "memory: $m0 kB before the big lines, $m1 kB after"
[ $((m1 - m0)) -lt 51200 ] || fail "memory grew by $((m1 - m0)) kB with 4 MiB lines (bound 50 MiB)"
grep -q 'Line too long' "$T/slow.err" || fail "the long line was not logged"

no_leaks slow
stop_clean slow
[ -e "$T/slow.sock" ] && fail "the unix socket file is left after SIGTERM"
echo "ok: slow clients in $MODE mode"
