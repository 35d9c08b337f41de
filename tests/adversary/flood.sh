#!/bin/bash
# flood.sh MODE - a connection flood far beyond --max-connections: 1000
# clients at once against a limit of 20, each holding its session once
# answered. Every client gets its exact reply or is closed promptly (none
# waits more than 3 s, none gets a wrong or partial reply), no more than 20
# are served at once, and capacity returns when they leave. Sync mode runs
# one session at a time and has nothing to refuse: there 300 clients at
# once, each leaving after its reply, must all be served in turn.
# shellcheck disable=SC2154 # PID_*, ADV_*: set by eval in lib.sh
. "$(dirname "$0")/lib.sh"

LIMIT=20
# Pool: more workers than the limit, so the pool refuses beyond it rather
# than holding clients in the backlog; prefork: idle workers to refuse with.
# shellcheck disable=SC2046
start_server flood 2 echo tcp://127.0.0.1:0 "unix:$T/flood.sock" --mode "$MODE" \
    --max-connections "$LIMIT" $(workers_for 32)
tcp=$(addr flood tcp)
unix=$(addr flood unix)
baseline flood "$tcp"

if concurrent; then
    for a in "$tcp" "$unix"; do
        adv flood flood "$a" -n 1000 --keep -t 3000 -m 1
        served=$(grep -o '[0-9]* exact' "$T/flood.adv" | cut -d' ' -f1)
        [ "$served" -le "$LIMIT" ] || fail "$served clients served at once (--max-connections $LIMIT)"
        served_within "$a" 3000 # capacity returns once the flood is gone
    done
else
    adv flood flood "$tcp" -n 300 -t 20000 -m 300
    served_within "$tcp" 3000
fi

no_leaks flood
stop_clean flood
echo "ok: connection flood in $MODE mode"
