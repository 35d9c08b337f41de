#!/bin/bash
# accesslog.sh MODE - serve --access-log in MODE, as an operator meets it:
# one valid JSON line per session under concurrent clients, none torn or
# lost; logrotate's rename then SIGUSR2 under load losing no line; a refused
# client logged with its reason; "-" writing to standard error; a path that
# cannot be opened exiting 73. Lines are parsed by python3's json module,
# else by jq (Debian's jq, in scripts/deps.sh); neither: skipped.
. "$(dirname "$0")/lib.sh"

MODE=$1
CLIENTS=4
SESSIONS=100

if command -v python3 >/dev/null 2>&1 && python3 -c 'import json' 2>/dev/null; then
    PARSER=python3
elif command -v jq >/dev/null 2>&1; then
    PARSER=jq
else
    skip "python3 or jq not installed (package jq)"
fi

# lines RESULT FILE...: checks that every line of the files is one JSON
# object with every field, this mode and service echo; prints how many have
# result RESULT.
lines() {
    local want=$1
    shift
    if [ "$PARSER" = python3 ]; then
        python3 - "$MODE" "$want" "$@" <<'PY' || fail "access log: a line is not valid (above)"
import json, re, sys
mode, want, n = sys.argv[1], sys.argv[2], 0
keys = ("time", "peer", "local", "service", "mode", "duration_ms", "bytes_in", "bytes_out", "result")
for path in sys.argv[3:]:
    with open(path, "rb") as f:
        for i, raw in enumerate(f, 1):
            try:
                o = json.loads(raw)
                assert raw.endswith(b"\n") and raw.count(b"\n") == 1
                assert all(k in o for k in keys), "fields"
                assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"]), "time"
                assert o["mode"] == mode and o["service"] == "echo", "mode, service"
                assert all(isinstance(o[k], int) and o[k] >= 0 for k in keys[5:8]), "numbers"
                if o["result"] == "refused":
                    assert o["reason"], "reason"
            except Exception as e:
                sys.exit("%s:%d: %r: %s" % (path, i, raw, e))
            n += o["result"] == want
print(n)
PY
    else
        local f
        for f in "$@"; do
            jq --arg m "$MODE" 'select((.mode != $m) or (.service != "echo")
                or (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$") | not)
                or ([.peer, .local, .duration_ms, .bytes_in, .bytes_out, .result] | any(. == null)))
                | halt_error(1)' "$f" >/dev/null || fail "access log $f: a line is not valid"
        done
        cat "$@" | jq -r .result | grep -cx "$want"
    fi
}

# session PORT: one line echoed on a connection of its own (bash's /dev/tcp:
# no process per session).
session() {
    local line=""
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'access log line\n' >&3
    IFS= read -r -t 5 line <&3
    exec 3>&-
    [ "$line" = "access log line" ]
}

clients() {
    local c i
    for ((c = 0; c < CLIENTS; c++)); do
        (for ((i = 0; i < SESSIONS; i++)); do session "$1" || exit 1; done) &
        CLIENT_PIDS+=($!)
    done
}

# ---- 1. concurrent sessions, rotated in the middle
LOG=$T/access.log
start_server log 1 echo tcp://127.0.0.1:0 --mode "$MODE" --access-log "$LOG" -q
p=$(port log tcp)
CLIENT_PIDS=()
clients "$p"
for ((i = 0; i < 200; i++)); do [ -s "$LOG" ] && break; sleep 0.01; done
mv "$LOG" "$LOG.1"
kill -USR2 "$PID_log"
for c in "${CLIENT_PIDS[@]}"; do wait "$c" || fail "a client's session failed"; done
sleep 1.2 # every process has looked at the rotation (at least once a second)
for ((i = 0; i < 5; i++)); do session "$p" || fail "a session after the rotation failed"; done
stop_server log
total=$((CLIENTS * SESSIONS + 5))
before=$(lines ok "$LOG.1")
after=$(lines ok "$LOG")
echo "rotation: $before lines in the renamed file, $after in the new one"
[ "$before" -gt 0 ] || fail "no line in the renamed file"
[ "$after" -ge 5 ] || fail "the new file has $after lines: not reopened on SIGUSR2"
expect_eq "lines in both files" "$((before + after))" "$total"
expect_eq "every line" "$(cat "$LOG.1" "$LOG" | wc -l)" "$total"

# ---- 2. a refused client has a line with its reason (sync: it would wait)
if [ "$MODE" != sync ]; then
    start_server ref 1 echo tcp://127.0.0.1:0 --mode "$MODE" --access-log "$T/ref.log" \
        --max-connections 1 -q
    p=$(port ref tcp)
    exec 4<>"/dev/tcp/127.0.0.1/$p"
    printf 'hold\n' >&4
    IFS= read -r -t 5 line <&4 || fail "the first client got no reply"
    session "$p" && fail "a second client was served beyond --max-connections 1"
    exec 4>&-
    stop_server ref
    expect_eq "refused lines" "$(lines refused "$T/ref.log")" 1
    grep -q '"result":"refused","reason":"max_connections"' "$T/ref.log" ||
        fail "no max_connections reason: $(cat "$T/ref.log")"
fi

# ---- 3. "-": standard error, among the log's lines
start_server err 1 echo tcp://127.0.0.1:0 --mode "$MODE" --access-log - -q
p=$(port err tcp)
for ((i = 0; i < 3; i++)); do session "$p" || fail "a session failed"; done
stop_server err
grep '^{' "$T/err.err" >"$T/err.json"
expect_eq "lines on standard error" "$(lines ok "$T/err.json")" 3

# ---- 4. a path that cannot be opened: 73, naming it
"$SS" serve echo tcp://127.0.0.1:0 --mode "$MODE" --access-log "$T/no/such/dir.log" \
    >"$T/bad.out" 2>"$T/bad.err"
expect_rc "a log in a missing directory" $? 73
grep -q "access log $T/no/such/dir.log" "$T/bad.err" || fail "no path in: $(cat "$T/bad.err")"
echo "ok"
