#!/bin/bash
# conn.sh MODE - clients that end badly or early: resets (SO_LINGER 0) in
# the middle of chargen's stream, and half-open connections (the client
# shuts down its sending side): echo and upper must still deliver every
# byte they were sent, the last line unended included, then close. After
# each, the server serves and is back to its startup descriptors, threads
# and children.
# shellcheck disable=SC2154 # PID_*, ADV_*: set by eval in lib.sh
. "$(dirname "$0")/lib.sh"

# ---- RST while chargen writes: 40 clients, 4 at a time, each reading
# 64 KiB of the pattern (checked) and resetting
start_server gen 1 chargen tcp://127.0.0.1:0 --mode "$MODE"
gen=$(addr gen tcp)
send --max-bytes 74 "$gen" </dev/null >/dev/null || fail "chargen does not serve" # warm-up
baseline gen ""
adv rst rst "$gen" -n 40 -c 4 -s 64k -t 10000
send --max-bytes 74 "$gen" </dev/null >"$T/gen" || fail "chargen does not serve after resets"
chargen_lines 1 | cmp -s - "$T/gen" || fail "chargen's first line after resets"
no_leaks gen
stop_clean gen

# ---- half-open: 4 clients each send 256 KiB (the last line without its
# newline), shut down writing, and read everything back until EOF
for svc in echo upper; do
    start_server "$svc" 2 "$svc" tcp://127.0.0.1:0 "unix:$T/$svc.sock" --mode "$MODE"
    baseline "$svc" "$(addr "$svc" tcp)"
    up=()
    [ "$svc" == upper ] && up=(--upper)
    for a in "$(addr "$svc" tcp)" "$(addr "$svc" unix)"; do
        adv half halfopen "$a" -n 4 -s 256k "${up[@]}" -t 20000
        served_within "$a" 2000
    done
    no_leaks "$svc"
    stop_clean "$svc"
done
echo "ok: resets and half-open connections in $MODE mode"
