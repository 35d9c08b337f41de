#!/usr/bin/env bash
# stats.sh PART [MODE] - serve --stats: /metrics counts exactly the traffic
# sent, in every mode (checked by promtool when installed); /healthz says 200
# then 503 through a drain; bad HTTP gets its status and costs the service
# nothing; SIGUSR1 logs the counters; the status page in headless Chromium
# loads without a console error and shows what /metrics says.
#   metrics MODE   known traffic, then every family and count of /metrics
#   unix MODE      the stats listener on a unix socket (curl or socat)
#   drain MODE     /healthz 200, then 503 while a session drains; closed after
#   bad            hostile HTTP: long lines, a huge head, a slow client, ...
#   usage          bad --stats values; SIGUSR1 without --stats
#   page MODE      the status page in headless Chromium, a screenshot saved
#                  under the build folder (stats/status-MODE.png)
# shellcheck disable=SC2154 # PID_*: set by start_server's eval
. "$(dirname "$0")/lib.sh"

part=${1:?usage: stats.sh PART [MODE]}
mode=${2:-event}

# stats_port NAME: the port of server NAME's --stats listener (waits for
# its line, printed after the listening lines).
stats_addr() {
    local a
    retry 5 grep -q '^stats ' "$T/$1.out" || fail "server $1 printed no stats line"
    a=$(grep -m1 '^stats ' "$T/$1.out" | cut -d' ' -f2)
    echo "$a"
}
stats_port() {
    local a
    a=$(stats_addr "$1")
    echo "${a##*:}"
}

# http PORT TEXT: sends TEXT (printf %b escapes) on a new connection to
# 127.0.0.1:PORT and prints everything the server answers until it closes.
http() {
    local fd
    exec {fd}<>"/dev/tcp/127.0.0.1/$1" || return 1
    { printf '%b' "$2" >&"$fd"; } 2>/dev/null
    timeout 10 cat <&"$fd"
    exec {fd}<&-
}
get() {
    http "$1" "GET $2 HTTP/1.1\r\nHost: test\r\n\r\n"
}
status_of() {
    head -n 1 | tr -d '\r' | cut -d' ' -f2
}
body_of() {
    sed '1,/^\r$/d'
}

# metric FILE NAME [LABELS]: the value of the sample NAME{service,mode[,LABELS]}.
metric() {
    local want="$2{service=\"echo\",mode=\"$mode\"${3:+,$3}}"
    awk -v w="$want" '$1 == w { print $2 }' "$1"
}

# expect_metric FILE NAME LABELS VALUE
expect_metric() {
    local v
    v=$(metric "$1" "$2" "$3")
    [ "$v" == "$4" ] || { cat "$1" >&2; fail "$2{$3}: expected $4, got [$v]"; }
}

# promtool check metrics FILE, when promtool is installed (Debian
# prometheus); said when it is not.
promcheck() {
    if ! command -v promtool >/dev/null 2>&1; then
        echo "note: promtool not installed (package prometheus): the format check is skipped"
        return 0
    fi
    promtool check metrics <"$1" || fail "promtool check metrics: $(promtool check metrics <"$1" 2>&1)"
}

# scrape PORT FILE: GET /metrics into FILE, the answer's status checked.
scrape() {
    get "$1" /metrics >"$2.raw" || fail "GET /metrics failed"
    expect_eq "GET /metrics status" "$(status_of <"$2.raw")" 200
    grep -q '^Content-Type: text/plain; version=0.0.4' "$2.raw" || fail "/metrics content type"
    body_of <"$2.raw" >"$2"
}

# wait_requests PORT FILE N: scrapes until N requests ran and none is active.
wait_requests() {
    local i
    for ((i = 0; i < 100; i++)); do
        scrape "$1" "$2"
        [ "$(metric "$2" socketserver_requests_total)" == "$3" ] &&
            [ "$(metric "$2" socketserver_connections_active)" == 0 ] && return 0
        sleep 0.05
    done
    cat "$2" >&2
    fail "requests_total never reached $3"
}

# Known traffic: 5 echo sessions of "hello\n" on tcp, 3 datagrams of
# "hello" on udp, one silent client ended by --idle-timeout.
traffic() {
    local tcp=$1 udp=$2 fd i
    for i in 1 2 3 4 5; do
        expect_eq "echo $i" "$(send "$tcp" hello)" hello
    done
    for i in 1 2 3; do
        expect_eq "echo datagram $i" "$(send "$udp" hello)" hello
    done
    exec {fd}<>"/dev/tcp/127.0.0.1/${tcp##*:}" || fail "connect"
    timeout 5 cat <&"$fd" >/dev/null # the server closes it after 0.3 s
    exec {fd}<&-
}

families='socketserver_connections_accepted_total counter
socketserver_connections_active gauge
socketserver_refused_total counter
socketserver_requests_total counter
socketserver_bytes_received_total counter
socketserver_bytes_sent_total counter
socketserver_handler_errors_total counter
socketserver_timeouts_total counter
socketserver_sessions_ended_total counter
socketserver_session_duration_seconds histogram'

check_metrics() {
    local f=$1 name type r
    while read -r name type; do
        grep -q "^# HELP $name " "$f" || fail "no HELP for $name"
        grep -q "^# TYPE $name $type\$" "$f" || fail "no TYPE $type for $name"
    done <<<"$families"
    # Every sample carries service and mode.
    if grep -v '^#' "$f" | grep -v "{service=\"echo\",mode=\"$mode\"" | grep -q .; then
        fail "a sample without the service and mode labels: $(grep -v '^#' "$f" | grep -v "mode=\"$mode\"" | head -1)"
    fi
    expect_metric "$f" socketserver_connections_accepted_total "" 6
    expect_metric "$f" socketserver_connections_active "" 0
    expect_metric "$f" socketserver_requests_total "" 9
    expect_metric "$f" socketserver_bytes_received_total "" $((5 * 6 + 3 * 5))
    expect_metric "$f" socketserver_bytes_sent_total "" $((5 * 6 + 3 * 5))
    expect_metric "$f" socketserver_handler_errors_total "" 1
    expect_metric "$f" socketserver_timeouts_total "" 1
    for r in max_connections per_source rate deny emfile proxy tls verify peer_cred udp_budget; do
        expect_metric "$f" socketserver_refused_total "reason=\"$r\"" 0
    done
    # How each ended: 8 answered, the silent one by the idle timeout.
    expect_metric "$f" socketserver_sessions_ended_total 'result="ok"' 8
    expect_metric "$f" socketserver_sessions_ended_total 'result="idle_timeout"' 1
    for r in closed line_timeout min_rate request_timeout error cancelled line_too_long proxy tls oversize; do
        expect_metric "$f" socketserver_sessions_ended_total "result=\"$r\"" 0
    done
    expect_metric "$f" socketserver_session_duration_seconds_count "" 9
    expect_metric "$f" socketserver_session_duration_seconds_bucket 'le="+Inf"' 9
    # The silent client lasted 0.3 s: above the 0.25 s bucket.
    expect_metric "$f" socketserver_session_duration_seconds_bucket 'le="0.25"' 8
    local sum
    sum=$(metric "$f" socketserver_session_duration_seconds_sum)
    awk -v s="$sum" 'BEGIN { exit !(s >= 0.3 && s < 30) }' || fail "duration sum $sum"
    promcheck "$f"
}

case $part in
metrics)
    start_server s 2 echo tcp://127.0.0.1:0 udp://127.0.0.1:0 --mode "$mode" --workers 2 \
        --idle-timeout 0.3 --stats tcp://127.0.0.1:0
    sp=$(stats_port s)
    traffic "$(addr s tcp)" "$(addr s udp)"
    wait_requests "$sp" "$T/m" 9
    check_metrics "$T/m"
    out=$(get "$sp" /healthz)
    expect_eq "/healthz status" "$(status_of <<<"$out")" 200
    expect_eq "/healthz body" "$(body_of <<<"$out")" ok
    # SIGUSR1: one line with the same counts.
    kill -USR1 "$PID_s"
    retry 5 grep -q 'stats: accepted 6, active 0, requests 9, bytes in 45 out 45, handler errors 1, timeouts 1, refused 0' "$T/s.err" ||
        fail "SIGUSR1 logged no stats line: $(tail -3 "$T/s.err")"
    kill -0 "$PID_s" || fail "SIGUSR1 ended the server"
    stop_server s
    ;;
unix)
    sock=$T/stats.sock
    start_server s 2 echo tcp://127.0.0.1:0 udp://127.0.0.1:0 --mode "$mode" --workers 2 \
        --idle-timeout 0.3 --stats "unix:$sock"
    expect_eq "stats line" "$(stats_addr s)" "unix:$sock"
    traffic "$(addr s tcp)" "$(addr s udp)"
    if command -v curl >/dev/null 2>&1; then
        fetch() { curl -s --max-time 5 --unix-socket "$sock" "http://stats$1"; }
    else
        need socat
        fetch() { printf 'GET %s HTTP/1.1\r\nHost: s\r\n\r\n' "$1" | timeout 5 socat - "UNIX-CONNECT:$sock" | body_of; }
    fi
    for ((i = 0; i < 100; i++)); do
        fetch /metrics >"$T/m"
        [ "$(metric "$T/m" socketserver_requests_total)" == 9 ] && break
        sleep 0.05
    done
    check_metrics "$T/m"
    expect_eq "/healthz over unix" "$(fetch /healthz)" ok
    stop_server s
    [ -e "$sock" ] && fail "the stats socket file was left behind"
    ;;
drain)
    start_server s 1 echo tcp://127.0.0.1:0 --mode "$mode" --workers 2 --drain-timeout 5 \
        --stats tcp://127.0.0.1:0
    sp=$(stats_port s)
    p=$(port s tcp)
    expect_eq "/healthz while serving" "$(get "$sp" /healthz | status_of)" 200
    exec {c}<>"/dev/tcp/127.0.0.1/$p" || fail "connect"
    printf 'hold\n' >&"$c"
    read -r -t 5 line <&"$c" || fail "no echo on the held session"
    expect_eq "held session" "$line" hold
    kill -TERM "$PID_s"
    healthz_is() { [ "$(get "$sp" /healthz | status_of)" == "$1" ]; }
    retry 3 healthz_is 503 || fail "/healthz while draining: $(get "$sp" /healthz | head -1)"
    scrape "$sp" "$T/m"
    expect_metric "$T/m" socketserver_draining "" 1
    expect_metric "$T/m" socketserver_connections_active "" 1
    # The held session still works, then ends: the server exits 0.
    printf 'more\n' >&"$c"
    read -r -t 5 line <&"$c" || fail "the draining session stopped answering"
    expect_eq "draining session" "$line" more
    exec {c}<&-
    wait_exit "$PID_s" 10
    expect_rc "server after the drain" "$EXIT_RC" 0
    get "$sp" /healthz >/dev/null 2>&1 && fail "the stats listener outlived the server"
    ;;
bad)
    start_server s 1 echo tcp://127.0.0.1:0 --mode "$mode" --stats tcp://127.0.0.1:0
    sp=$(stats_port s)
    a=$(addr s tcp)
    long=$(head -c 5000 /dev/zero | tr '\0' a)
    # Status codes, each followed by a working echo.
    check() { # WHAT STATUS REQUEST
        local got
        got=$(http "$sp" "$3" | status_of)
        expect_eq "$1" "$got" "$2"
        expect_eq "echo after $1" "$(send "$a" fine)" fine
    }
    check "unknown path" 404 "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
    check "POST" 405 "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
    check "garbage" 400 "hello there\r\n\r\n"
    check "HEAD" 200 "HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n"
    check "bare LF" 200 "GET /healthz HTTP/1.0\n\n"
    check "5 KB header line" 431 "GET /metrics HTTP/1.1\r\nX-Long: $long\r\n\r\n"
    check "5 KB request line" 414 "GET /$long HTTP/1.1\r\n\r\n"
    big=$(for i in $(seq 1 2000); do printf 'X-Header-%04d: %s\\r\\n' "$i" "0123456789012345678901234567890123456789"; done)
    check "100 KB head" 431 "GET /metrics HTTP/1.1\r\n${big}\r\n"
    # A slow client gets 408 after the 3 s read timeout; meanwhile 20 more
    # idle ones (beyond the 16 it holds) cost the service nothing.
    start=$(now_ms)
    exec {slow}<>"/dev/tcp/127.0.0.1/$sp"
    printf 'GET /metrics HTTP/1.1\r\nHost: t\r\n' >&"$slow"
    idle=()
    for i in $(seq 1 20); do
        exec {fd}<>"/dev/tcp/127.0.0.1/$sp"
        idle+=("$fd")
    done
    for i in 1 2 3; do expect_eq "echo while the stats port is full" "$(send "$a" busy)" busy; done
    got=$(timeout 10 cat <&"$slow" | status_of)
    expect_eq "slow client" "$got" 408
    took=$(($(now_ms) - start))
    if [ "$took" -lt 2500 ] || [ "$took" -ge 8000 ]; then
        fail "408 came after $took ms, not about 3 s"
    fi
    for fd in "${idle[@]}"; do exec {fd}<&-; done
    # After all that, a scrape works and counts only the echoes.
    wait_requests "$sp" "$T/m" 11
    promcheck "$T/m"
    stop_server s
    ;;
page)
    need chromium
    shots=$(dirname "$SS")/stats
    mkdir -p "$shots"
    start_server s 2 echo tcp://127.0.0.1:0 udp://127.0.0.1:0 --mode "$mode" --workers 2 \
        --idle-timeout 0.3 --stats tcp://127.0.0.1:0
    sp=$(stats_port s)
    traffic "$(addr s tcp)" "$(addr s udp)"
    wait_requests "$sp" "$T/m" 9
    chrome() { # ARGS...: headless, bounded, console messages on stderr
        timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
            --user-data-dir="$T/chrome" --enable-logging=stderr --v=0 \
            --virtual-time-budget=2500 "$@" "http://127.0.0.1:$sp/"
    }
    chrome --dump-dom >"$T/dom.html" 2>"$T/chrome.err" || fail "chromium failed: $(tail -5 "$T/chrome.err")"
    if grep -q ':CONSOLE' "$T/chrome.err"; then
        fail "console messages: $(grep ':CONSOLE' "$T/chrome.err")"
    fi
    grep -q 'id="updated">[0-9]' "$T/dom.html" ||
        fail "the page's script never updated it: $(grep -o 'id="updated">[^<]*' "$T/dom.html")"
    grep -q '<polyline id="rate" class="req" points="[0-9]' "$T/dom.html" || fail "no chart drawn"
    # Every counter cell matches /metrics.
    scrape "$sp" "$T/m"
    cells=$(grep -o 'id="socketserver_[a-z_-]*" data-m="[a-z_]*"[^>]*>[0-9]*<' "$T/dom.html")
    # 7 counters, 10 refusal reasons, 12 results (ss_stats_result_name).
    [ "$(wc -l <<<"$cells")" -eq 29 ] || fail "expected 29 counter cells, found: $cells"
    cell_re='^id="([^"]*)".*>([0-9]*)<$'
    while read -r cell; do
        [[ $cell =~ $cell_re ]] || fail "cell $cell"
        id=${BASH_REMATCH[1]}
        v=${BASH_REMATCH[2]}
        name=${id%%-*}
        if [ "$name" != "$id" ]; then
            label=reason
            [ "$name" = socketserver_sessions_ended_total ] && label=result
            want=$(metric "$T/m" "$name" "$label=\"${id#*-}\"")
        else
            want=$(metric "$T/m" "$name")
        fi
        expect_eq "page cell $id" "$v" "$want"
    done <<<"$cells"
    grep -q "id=\"mode\">$mode<" "$T/dom.html" || fail "the page does not name the mode"
    grep -q 'id="service">echo<' "$T/dom.html" || fail "the page does not name the service"
    grep -q "$(addr s tcp)" "$T/dom.html" || fail "the page does not list the listeners"
    chrome --screenshot="$shots/status-$mode.png" --window-size=900,1000 >/dev/null 2>"$T/shot.err" ||
        fail "screenshot failed: $(tail -5 "$T/shot.err")"
    [ -s "$shots/status-$mode.png" ] || fail "no screenshot"
    echo "screenshot: $shots/status-$mode.png"
    stop_server s
    ;;
usage)
    # Bad --stats values: one line naming the problem and its exit status,
    # before anything listens.
    "$SS" serve echo tcp://127.0.0.1:0 --stats udp://127.0.0.1:0 >"$T/out" 2>"$T/err"
    expect_rc "--stats udp://" $? 64
    grep -q -- '--stats.*tcp://HOST:PORT or unix:PATH' "$T/err" || fail "udp: $(cat "$T/err")"
    "$SS" serve echo tcp://127.0.0.1:0 --stats unix:/nonexistent/dir/s >"$T/out" 2>"$T/err"
    expect_rc "--stats in a missing directory" $? 71
    grep -q -- '--stats: bind unix:/nonexistent/dir/s' "$T/err" || fail "bind: $(cat "$T/err")"
    [ -s "$T/out" ] && fail "something listened: $(cat "$T/out")"
    # A port in use.
    start_server s 1 echo tcp://127.0.0.1:0 --stats tcp://127.0.0.1:0
    sp=$(stats_port s)
    "$SS" serve echo tcp://127.0.0.1:0 --stats "tcp://127.0.0.1:$sp" >"$T/out" 2>"$T/err"
    expect_rc "--stats on a port in use" $? 71
    # SIGUSR1 without --stats logs the counters too.
    start_server n 1 echo tcp://127.0.0.1:0
    expect_eq "echo" "$(send "$(addr n tcp)" hi)" hi
    kill -USR1 "$PID_n"
    retry 5 grep -q 'stats: accepted 1, active 0, requests 1, bytes in 3 out 3' "$T/n.err" ||
        fail "SIGUSR1 without --stats: $(tail -2 "$T/n.err")"
    stop_server n
    stop_server s
    ;;
*)
    fail "unknown part $part"
    ;;
esac
echo "ok: stats $part $mode"
