#!/usr/bin/env bash
# deploy.sh CASE - the tested snippets of docs/deploy.md:
#   haproxy   the "Behind HAProxy" configuration, taken from docs/deploy.md as
#             written (its ```haproxy block), moved to free loopback ports and
#             a 200 ms check interval, in front of two serve --proxy-protocol
#             v2 instances (one upper, one echo: a reply tells which one
#             answered). Both serve; SIGTERM to the one holding a session
#             lets that session finish while every new client is served by
#             the other (none fails: HAProxy retries and redispatches); the
#             drained one is marked DOWN; kill -9 of the other marks it DOWN.
# Skipped without haproxy or socat.
source "$(dirname "$0")/lib.sh"

SRC=${SS_SOURCE_DIR:?SS_SOURCE_DIR must name the source tree}

# via PORT SOURCE LINE: LINE through haproxy on PORT from the loopback
# address SOURCE; prints the reply line.
via() {
    printf '%s\n' "$3" | timeout 5 socat -t 2 - "TCP:127.0.0.1:$1,bind=$2" 2>/dev/null
}

# ha_config OUT FRONT A B: docs/deploy.md's haproxy configuration with the
# frontend on 127.0.0.1:FRONT and the servers on ports A and B.
ha_config() {
    awk '/^```haproxy$/ {on = 1; next} on && /^```$/ {exit} on {print}' "$SRC/docs/deploy.md" >"$T/doc.cfg"
    grep -q 'send-proxy-v2' "$T/doc.cfg" || fail "no haproxy block with send-proxy-v2 in docs/deploy.md"
    grep -q 'check-send-proxy' "$T/doc.cfg" || fail "the haproxy block lacks check-send-proxy"
    sed -e "s/^\( *bind \):7000$/\1127.0.0.1:$2/" \
        -e "s/127\.0\.0\.1:7001$/127.0.0.1:$3/" -e "s/127\.0\.0\.1:7002$/127.0.0.1:$4/" \
        -e "s/ inter 2s / inter 200ms /" "$T/doc.cfg" >"$1"
    grep -q "bind 127.0.0.1:$2" "$1" && grep -q "127.0.0.1:$3" "$1" && grep -q "127.0.0.1:$4" "$1" &&
        grep -q "inter 200ms" "$1" || fail "docs/deploy.md's haproxy block changed shape: $(cat "$T/doc.cfg")"
}

# haproxy_up A B: haproxy on the documented configuration, on a free-looking
# port (tried until it binds). Sets HA_PORT.
haproxy_up() {
    local i
    for ((i = 0; i < 20; i++)); do
        HA_PORT=$((20000 + RANDOM % 40000))
        ha_config "$T/haproxy.cfg" "$HA_PORT" "$1" "$2"
        haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.out" 2>"$T/haproxy.err" &
        HA_PID=$!
        PIDS+=("$HA_PID")
        sleep 0.3
        kill -0 "$HA_PID" 2>/dev/null && return 0
    done
    fail "haproxy did not start: $(cat "$T/haproxy.err")"
}

# down NAME: haproxy has marked server NAME down.
down() {
    grep -Eq "Server socketserver/$1 is DOWN" "$T/haproxy.err"
}

case_haproxy() {
    need haproxy haproxy
    need socat socat
    start_server a 1 upper tcp://127.0.0.1:0 --proxy-protocol v2 --mode event --drain-timeout 20
    start_server b 1 echo tcp://127.0.0.1:0 --proxy-protocol v2 --mode event --drain-timeout 20
    haproxy_up "$(port a tcp)" "$(port b tcp)"
    # shellcheck disable=SC2016 # expanded by the inner shell
    retry 5 bash -c '[ -n "$(printf "hi\n" | timeout 5 socat -t 2 - TCP:127.0.0.1:$1,bind=127.0.0.5 2>/dev/null)" ]' _ "$HA_PORT" ||
        fail "nothing served through haproxy: $(cat "$T/haproxy.err")"
    sleep 0.5 # several checks, which must all pass
    local i out na=0 nb=0
    for ((i = 0; i < 10; i++)); do
        out=$(via "$HA_PORT" 127.0.0.5 hello)
        case $out in
        HELLO) na=$((na + 1)) ;;
        hello) nb=$((nb + 1)) ;;
        *) fail "request $i through haproxy: [$out]" ;;
        esac
    done
    echo "through haproxy: $na to a (upper), $nb to b (echo)"
    [ "$na" -gt 0 ] && [ "$nb" -gt 0 ] || fail "one server got every client ($na, $nb)"
    down a && fail "a health check failed: $(cat "$T/haproxy.err")"
    down b && fail "a health check failed: $(cat "$T/haproxy.err")"

    # A session held through haproxy; the server that holds it drains.
    local fd held other want
    exec {fd}<>"/dev/tcp/127.0.0.1/$HA_PORT" || fail "connect to haproxy"
    printf 'first\n' >&"$fd"
    IFS= read -r -t 5 out <&"$fd" || fail "no reply on the held session"
    out=${out%$'\r'}
    case $out in
    FIRST) held=a other=b want=hello ;;
    first) held=b other=a want=HELLO ;;
    *) fail "held session: [$out]" ;;
    esac
    eval "kill -TERM \$PID_$held"
    local fails=0
    for ((i = 0; i < 20; i++)); do
        out=$(via "$HA_PORT" 127.0.0.6 hello)
        [ "$out" = "$want" ] || fails=$((fails + 1))
    done
    expect_eq "requests failed or served by the draining $held" "$fails" 0
    # The held session is still served, then ends; the drained server exits 0.
    printf 'second\n' >&"$fd"
    IFS= read -r -t 5 out <&"$fd" || fail "the held session lost its reply while $held drained"
    out=${out%$'\r'}
    case $out in SECOND | second) ;; *) fail "held session after SIGTERM: [$out]" ;; esac
    exec {fd}>&-
    local pid
    eval "pid=\$PID_$held"
    wait_exit "$pid" 10
    expect_rc "$held after its drain" "$EXIT_RC" 0
    retry 5 down "$held" || fail "haproxy did not mark the drained $held DOWN: $(cat "$T/haproxy.err")"
    out=$(via "$HA_PORT" 127.0.0.7 after)
    [ "$out" = "$( [ "$want" = hello ] && echo after || echo AFTER)" ] || fail "after the drain: [$out]"
    # A crash: kill -9 the other; haproxy marks it down too.
    eval "pid=\$PID_$other"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null # no "Killed" notice
    retry 5 down "$other" || fail "haproxy did not mark the killed $other DOWN: $(cat "$T/haproxy.err")"
    kill "$HA_PID"
}

case ${1:-} in
haproxy) case_haproxy ;;
*) fail "unknown case ${1:-}" ;;
esac
echo PASS
