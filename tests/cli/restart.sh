#!/bin/bash
# restart.sh MODE - restart without loss: serve (from a copy of the binary)
# on tcp, unix and udp, under load from two benches of fresh connections
# (tcp and unix), gets SIGHUP three times; before the third the binary at
# its path is replaced. Expected: no failed, refused or reset request in
# either bench, datagrams answered after each restart, a session opened
# before the first restart served to its end by the generation that took
# it (not in sync mode, which serves one session at a time), the unix
# socket file and --stats's /healthz (200) there throughout, the third generation running the new
# file, the PID that was started the one that serves the signals, and
# SIGTERM then draining everything with exit status 0 and the file gone.
# shellcheck disable=SC2154 # PID_*: set by start_server's (or activate's) eval
. "$(dirname "$0")/lib.sh"

MODE=${1:?usage: restart.sh MODE|failures}
mkdir -p "$T/bin"
cp "$SS" "$T/bin/socketserver"
ORIG=$SS
SS=$T/bin/socketserver
send() { timeout 20 "$ORIG" send "$@"; } # the client is not what is restarted

# failures: a binary at the path that does not start leaves the serving
# generation serving (logged); a serving generation that dies makes the
# master stop, with exit status 70.
if [ "$MODE" == failures ]; then
    start_server f 1 echo tcp://127.0.0.1:0 --mode thread
    TCP=$(addr f tcp)
    printf '#!/bin/sh\necho "broken upgrade" >&2\nexit 1\n' >"$T/bin/socketserver.new"
    chmod +x "$T/bin/socketserver.new"
    mv -f "$T/bin/socketserver.new" "$T/bin/socketserver"
    kill -HUP "$PID_f"
    retry 10 grep -q 'restart: generation 1 (pid [0-9]*) exited before serving; generation 0 goes on' \
        "$T/f.err" || fail "no failed restart logged"
    expect_eq "still served by generation 0" "$(send "$TCP" still </dev/null)" still
    cp "$ORIG" "$T/bin/socketserver.new"
    mv -f "$T/bin/socketserver.new" "$T/bin/socketserver"
    kill -HUP "$PID_f"
    retry 10 grep -q 'restart: generation 1 (pid [0-9]*) serving' "$T/f.err" ||
        fail "the fixed binary did not take over"
    g=$(grep -m1 'restart: generation 1 (pid [0-9]*) serving' "$T/f.err" | sed 's/.*pid \([0-9]*\).*/\1/')
    expect_eq "served by generation 1" "$(send "$TCP" again </dev/null)" again
    kill -9 "$g"
    wait_exit "$PID_f" 10
    expect_rc "the master once its generation died" "$EXIT_RC" 70
    grep -q "generation 1 (pid $g) died of signal 9 while serving: stopping" "$T/f.err" ||
        fail "the death is not logged: $(cat "$T/f.err")"
    echo "ok: a broken binary leaves the old generation serving; a dead generation stops the master (70)"
    exit 0
fi
# Pool and prefork workers enough for every client at once (7): with fewer,
# pool mode's intake favours the first listener and the unix bench may
# starve (a library matter of its own, not a restart's).
workers=8
[ "$MODE" == event ] && workers=2
start_server r 3 echo tcp://127.0.0.1:0 "unix:$T/s.sock" udp://127.0.0.1:0 --mode "$MODE" -w "$workers" \
    --stats tcp://127.0.0.1:0
P=$PID_r
TCP=$(addr r tcp) UDP=$(addr r udp)
retry 5 grep -q '^stats ' "$T/r.out" || fail "no stats line"
SP=$(grep -m1 '^stats ' "$T/r.out" | sed 's/.*://')

# healthz: the status line of GET /healthz on --stats's listener, which
# each generation serves in turn.
healthz() {
    local status=none
    exec 6<>"/dev/tcp/127.0.0.1/$SP" || return 1
    printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&6
    read -r -t 3 status <&6
    exec 6>&-
    echo "${status%$'\r'}"
}

# generation N: waits for the master's log line, prints the new PID.
generation() {
    local i line
    for ((i = 0; i < 1000; i++)); do
        line=$(grep -m1 "restart: generation $1 (pid [0-9]*) serving" "$T/r.err")
        [ -n "$line" ] && break
        grep -q "restart: generation $1 .* exited before serving" "$T/r.err" &&
            fail "generation $1 did not start"
        sleep 0.01
    done
    [ -n "$line" ] || fail "no generation $1 serving 10 s after SIGHUP"
    line=${line#*pid }
    echo "${line%%)*}"
}

# A session opened now, kept open across the restarts (bash's /dev/tcp).
held=0
if [ "$MODE" != sync ]; then
    exec 5<>"/dev/tcp/127.0.0.1/${TCP##*:}" || fail "cannot open the held session"
    held=1
    echo "before" >&5
    read -r -t 3 line <&5 || fail "held session: no echo before the restarts"
    expect_eq "held session, before" "$line" before
fi

"$ORIG" bench "$TCP" -p connect -c 3 -d 4 -T 5 --json >"$T/b_tcp.json" 2>"$T/b_tcp.err" &
B1=$!
"$ORIG" bench "unix:$T/s.sock" -p connect -c 3 -d 4 -T 5 --json >"$T/b_unix.json" 2>"$T/b_unix.err" &
B2=$!
PIDS+=("$B1" "$B2")

gens=()
for i in 1 2 3; do
    sleep 0.7
    if [ "$i" -eq 3 ]; then
        # The binary now at the path: a new file (a new inode), as a package
        # upgrade leaves it.
        cp "$ORIG" "$T/bin/socketserver.new"
        mv -f "$T/bin/socketserver.new" "$T/bin/socketserver"
    fi
    kill -HUP "$P"
    g=$(generation "$i")
    gens+=("$g")
    [ "$(awk '{ print $4 }' "/proc/$g/stat")" == "$P" ] || fail "generation $i's parent is not $P"
    expect_eq "udp after restart $i" "$(send "$UDP" "dgram $i" </dev/null)" "dgram $i"
    [ -S "$T/s.sock" ] || fail "the unix socket file is gone after restart $i"
    expect_eq "--stats /healthz after restart $i" "$(healthz)" "HTTP/1.1 200 OK"
    if [ "$held" -eq 1 ]; then
        echo "after $i" >&5
        read -r -t 3 line <&5 || fail "held session: no echo after restart $i"
        expect_eq "held session after restart $i" "$line" "after $i"
    fi
done
[ "$held" -eq 1 ] && exec 5>&-

wait "$B1"
rc1=$?
wait "$B2"
rc2=$?
# The totals at the end of bench's JSON: "requests": N, then "errors":
# { "total": N, ... } (one document, one key a line).
for b in tcp unix; do
    requests=$(grep -o '"requests": [0-9]*' "$T/b_$b.json" | tail -1)
    total=$(grep -A1 '"errors": {' "$T/b_$b.json" | grep -o '"total": [0-9]*' | tail -1)
    [ -n "$total" ] || fail "bench $b: no error totals in: $(tail -c 600 "$T/b_$b.json") $(cat "$T/b_$b.err")"
    [ "${total##* }" == 0 ] ||
        fail "bench $b: errors across the restarts: $(grep -A12 '"errors": {' "$T/b_$b.json" | xargs)"
    [ "${requests##* }" -gt 0 ] || fail "bench $b: no requests: $(tail -c 600 "$T/b_$b.json") $(cat "$T/b_$b.err")"
    echo "bench $b: ${requests##* } requests, 0 errors"
done
expect_rc "bench tcp" "$rc1" 0
expect_rc "bench unix" "$rc2" 0

# The third generation runs the file now at the path; the master, the
# file it was started from (deleted since).
expect_eq "generation 3's binary" "$(stat -L -c %i "/proc/${gens[2]}/exe")" "$(stat -c %i "$T/bin/socketserver")"
[[ $(readlink "/proc/$P/exe") == *"(deleted)" ]] || fail "the master's binary: $(readlink "/proc/$P/exe")"
# The first two generations have drained and exited (and been reaped).
for i in 0 1; do
    retry 5 eval "! kill -0 ${gens[$i]} 2>/dev/null" || fail "generation $((i + 1)) still runs"
done
expect_eq "tcp served by the last generation" "$(send "$TCP" last </dev/null)" last

kill -TERM "$P"
wait_exit "$P" 15
expect_rc "the master after SIGTERM" "$EXIT_RC" 0
kill -0 "${gens[2]}" 2>/dev/null && fail "generation 3 outlived the master"
[ -e "$T/s.sock" ] && fail "the unix socket file was left behind"
echo "ok: $MODE: 3 restarts under load, nothing lost, the new binary serving, SIGTERM drained"
