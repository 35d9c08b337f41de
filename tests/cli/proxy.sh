#!/bin/bash
# proxy.sh CASE [MODE] - the PROXY protocol in the program (serve
# --proxy-protocol/--proxy-from, send --proxy, bench --proxy; HAProxy's
# proxy-protocol.txt):
#   usage      bad values exit 64 with one line, and nothing listens (serve,
#              send, bench)
#   svc MODE   send --proxy v1 and v2 to serve --proxy-protocol any over IPv4
#              and IPv6; a client without a header, with garbage or from an
#              untrusted source is closed with a log line and the next one
#              is served; the log names the header's address; bench --proxy
#              v1 and v2, persistent and connect patterns
#   silent     a client that sends nothing is closed at the 5 s deadline
#   haproxy MODE  HAProxy 2.6 (send-proxy-v2 with LOCAL health checks, and
#              send-proxy) in front of serve: the client's address reaches
#              the log, the checks pass (skipped without haproxy or socat)
. "$(dirname "$0")/lib.sh"

CASE=${1:?usage: proxy.sh CASE [MODE]}
MODE=${2:-thread}

# serve_fails WHAT PATTERN ARGS...: serve exits 64 at once with one line
# matching PATTERN.
serve_fails() {
    local what=$1 pat=$2
    shift 2
    timeout 10 "$SS" serve echo tcp://127.0.0.1:0 "$@" >"$T/f.out" 2>"$T/f.err"
    expect_rc "$what" $? 64
    [ "$(wc -l <"$T/f.err")" -eq 1 ] || fail "$what: not one line: $(cat "$T/f.err")"
    grep -q -- "$pat" "$T/f.err" || fail "$what: [$(cat "$T/f.err")] lacks [$pat]"
    grep -q '^listening' "$T/f.out" && fail "$what: something listened"
    return 0
}

case_usage() {
    serve_fails "version" 'not v1, v2 or any' --proxy-protocol v3
    serve_fails "empty version" 'not v1, v2 or any' --proxy-protocol ''
    serve_fails "prefix" '"10.0.0.0/33" is not an address' --proxy-protocol v1 --proxy-from 10.0.0.0/33
    serve_fails "host name" '"localhost" is not an address' --proxy-protocol v2 --proxy-from ::1,localhost
    serve_fails "empty entry" 'empty' --proxy-protocol any --proxy-from 10.0.0.0/8,
    serve_fails "from alone" 'needs --proxy-protocol' --proxy-from 10.0.0.0/8
    timeout 10 "$SS" send tcp://127.0.0.1:9 --proxy v3 </dev/null 2>"$T/s.err"
    expect_rc "send --proxy v3" $? 64
    grep -q 'not v1 or v2' "$T/s.err" || fail "send --proxy v3: $(cat "$T/s.err")"
    timeout 10 "$SS" send udp://127.0.0.1:9 --proxy v1 </dev/null 2>"$T/s.err"
    expect_rc "send --proxy on udp" $? 64
    grep -q 'needs a tcp://' "$T/s.err" || fail "send --proxy udp: $(cat "$T/s.err")"
    timeout 10 "$SS" bench unix:/nonexistent --proxy v2 >"$T/b.out" 2>"$T/b.err"
    expect_rc "bench --proxy on unix" $? 64
    grep -q 'needs a tcp://' "$T/b.err" || fail "bench --proxy unix: $(cat "$T/b.err")"
    timeout 10 "$SS" bench tcp://127.0.0.1:9 --proxy any >"$T/b.out" 2>"$T/b.err"
    expect_rc "bench --proxy any" $? 64
}

# raw PORT BYTES: sends BYTES (printf format) on a new connection to
# 127.0.0.1:PORT and prints the first line that comes back (without its
# newline), or nothing when the server closes first; waits at most 9 s.
raw() {
    # shellcheck disable=SC2016 # expanded by the inner shell
    timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1 && printf -- "$2" >&3 &&
        IFS= read -r -t 9 line <&3; printf %s "$line"' _ "$1" "$2" 2>/dev/null
}

case_svc() {
    start_server s 2 upper tcp://127.0.0.1:0 'tcp://[::1]:0' --mode "$MODE" \
        --proxy-protocol any --max-line 32
    local a4 a6 p out
    a4=$(grep -m1 '^listening tcp://127' "$T/s.out" | cut -d' ' -f2)
    a6=$(grep -m1 '^listening tcp://\[' "$T/s.out" | cut -d' ' -f2)
    p=${a4##*:}
    for v in v1 v2; do
        out=$(send "$a4" --proxy $v hello "two words")
        expect_eq "upper with a $v header" "$out" $'HELLO\nTWO WORDS'
        out=$(send "$a6" --proxy $v six)
        expect_eq "upper over IPv6 with a $v header" "$out" SIX
    done
    send "$a4" plain >/dev/null 2>&1
    expect_rc "no header" $? 69
    out=$(raw "$p" 'GET / HTTP/1.0\r\n\r\n')
    expect_eq "garbage gets nothing" "$out" ""
    out=$(raw "$p" 'PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\nafter\n')
    expect_eq "a raw v1 header" "$out" AFTER
    # A handler's failure (a line over --max-line) is logged with the
    # header's address.
    raw "$p" 'PROXY TCP4 198.51.100.9 192.0.2.2 4242 7\r\nthis line is longer than thirty-two bytes\n' >/dev/null
    retry 5 grep -q 'request from tcp://198.51.100.9:4242 failed' "$T/s.err" ||
        fail "no log line with the header's address"
    grep -q 'proxy header tcp://127.0.0.1:[0-9]*: no PROXY header' "$T/s.err" ||
        fail "no log line for the missing header"
    out=$(send "$a4" --proxy v2 still)
    expect_eq "served after the refusals" "$out" STILL
    stop_server s
    # bench --proxy: every request of every connection answered.
    start_server e 1 echo tcp://127.0.0.1:0 --mode "$MODE" --proxy-protocol any
    for v in v1 v2; do
        timeout 30 "$SS" bench "$(addr e tcp)" --proxy $v -c 4 -d 0.5 -q >"$T/b.out" 2>&1 ||
            fail "bench --proxy $v: $(cat "$T/b.out")"
        timeout 30 "$SS" bench "$(addr e tcp)" --proxy $v --pattern connect -c 2 -d 0.3 -q \
            >"$T/b.out" 2>&1 || fail "bench --proxy $v --pattern connect: $(cat "$T/b.out")"
    done
    timeout 30 "$SS" bench "$(addr e tcp)" -c 1 -d 0.3 -q >"$T/b.out" 2>&1
    expect_rc "bench without --proxy" $? 69
    stop_server e
    start_server u 1 echo tcp://127.0.0.1:0 --mode "$MODE" --proxy-protocol v1 \
        --proxy-from 10.0.0.0/8,2001:db8::/32
    send "$(addr u tcp)" --proxy v1 hello >/dev/null 2>&1
    expect_rc "untrusted source" $? 69
    retry 5 grep -q 'source not in proxy_from' "$T/u.err" || fail "no log line for the source"
    stop_server u
}

case_silent() {
    local out
    start_server s 1 echo tcp://127.0.0.1:0 --mode event --proxy-protocol v2
    local t0 t1
    t0=$(now_ms)
    out=$(raw "$(port s tcp)" '')
    t1=$(now_ms)
    expect_eq "nothing back" "$out" ""
    if [ $((t1 - t0)) -lt 4500 ] || [ $((t1 - t0)) -ge 9000 ]; then
        fail "closed after $((t1 - t0)) ms, not at 5 s"
    fi
    grep -q 'proxy header .*timed out' "$T/s.err" || fail "no log line: $(cat "$T/s.err")"
    stop_server s
}

# haproxy_up CFG: starts haproxy in the foreground on CFG (a template whose
# @F1@ and @F2@ become two free-looking ports: tried until it binds). Sets
# HA_PORT to the first.
haproxy_up() {
    local i
    for ((i = 0; i < 20; i++)); do
        HA_PORT=$((20000 + RANDOM % 40000))
        sed "s/@F1@/$HA_PORT/; s/@F2@/$((HA_PORT + 1))/" "$1" >"$T/haproxy.cfg"
        haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.out" 2>"$T/haproxy.err" &
        HA_PID=$!
        PIDS+=("$HA_PID")
        sleep 0.3
        kill -0 "$HA_PID" 2>/dev/null && return 0
    done
    fail "haproxy did not start: $(cat "$T/haproxy.err")"
}

# via PORT SOURCE LINE: LINE through haproxy on PORT from the loopback
# address SOURCE; prints the reply line.
via() {
    printf '%s\n' "$3" | timeout 5 socat -t 2 - "TCP:127.0.0.1:$1,bind=$2" 2>/dev/null
}

# HAProxy 2.6 in TCP mode in front of serve: send-proxy-v2 with health
# checks (check-send-proxy: a v2 LOCAL header) and a CRC32C TLV on each v2
# header (proxy-v2-options crc32c: checked against HAProxy's own), and
# send-proxy (v1). The
# client's own address (127.0.0.5, 127.0.0.6: haproxy connects from
# 127.0.0.1) reaches the server's log; the checks keep the servers up.
case_haproxy() {
    need haproxy haproxy
    need socat socat
    start_server s2 1 upper tcp://127.0.0.1:0 --mode "$MODE" --proxy-protocol v2 --max-line 32
    start_server s1 1 upper tcp://127.0.0.1:0 --mode "$MODE" --proxy-protocol v1 --max-line 32
    cat >"$T/haproxy.tmpl" <<CFG
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend v2
    bind 127.0.0.1:@F1@
    default_backend v2
frontend v1
    bind 127.0.0.1:@F2@
    default_backend v1
backend v2
    server s2 $(addr s2 tcp | cut -c7-) send-proxy-v2 proxy-v2-options crc32c check check-send-proxy inter 100ms rise 2 fall 1
backend v1
    server s1 $(addr s1 tcp | cut -c7-) send-proxy check check-send-proxy inter 100ms rise 2 fall 1
CFG
    haproxy_up "$T/haproxy.tmpl"
    local out
    # shellcheck disable=SC2016 # expanded by the inner shell
    retry 5 bash -c '[ "$(printf "hi\n" | timeout 5 socat -t 2 - TCP:127.0.0.1:$1,bind=127.0.0.5 2>/dev/null)" = HI ]' _ "$HA_PORT" ||
        fail "nothing served through haproxy (v2): $(cat "$T/haproxy.err")"
    out=$(via $((HA_PORT + 1)) 127.0.0.5 hello)
    expect_eq "through haproxy (v1)" "$out" HELLO
    sleep 0.5 # several health checks, which must all pass
    for p in "$HA_PORT" $((HA_PORT + 1)); do
        via "$p" 127.0.0.6 "this line is longer than thirty-two bytes" >/dev/null
    done
    retry 5 grep -q 'request from tcp://127.0.0.6:[0-9]* failed' "$T/s2.err" ||
        fail "v2: the client's address is not in the log"
    retry 5 grep -q 'request from tcp://127.0.0.6:[0-9]* failed' "$T/s1.err" ||
        fail "v1: the client's address is not in the log"
    grep -q 'proxy header' "$T/s1.err" "$T/s2.err" && fail "a header was refused: $(grep 'proxy header' "$T"/s*.err)"
    grep -q 'is DOWN' "$T/haproxy.err" && fail "haproxy marked a server down: $(cat "$T/haproxy.err")"
    out=$(via "$HA_PORT" 127.0.0.7 still)
    expect_eq "still served through haproxy" "$out" STILL
    kill "$HA_PID"
    stop_server s1
    stop_server s2
}

case "$CASE" in
usage) case_usage ;;
svc) case_svc ;;
silent) case_silent ;;
haproxy) case_haproxy ;;
*) fail "unknown case $CASE" ;;
esac
echo "ok: proxy $CASE $MODE"
