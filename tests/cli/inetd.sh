#!/bin/bash
# inetd.sh - a differential test: our echo, discard, chargen, daytime and time
# against the built-in ones of openbsd-inetd, asked the same questions by the
# same client. inetd binds the services' well-known ports (it looks internal
# services up by name), so it listens on an address of its own: a random
# 127.0.0.X for tcp, and [::1] for udp (its UDP services ignore every
# 127.0.0.0/8 source as a reflection guard; ::1 is not refused).
. "$(dirname "$0")/lib.sh"

INETD=$(command -v inetd || echo /usr/sbin/inetd)
[ -x "$INETD" ] || skip "inetd not installed (package openbsd-inetd)"
[ "$(id -u)" -eq 0 ] || skip "inetd needs root to bind ports 7-37"

H=127.0.0.$((100 + RANDOM % 100))
{
    for svc in echo discard chargen daytime time; do
        echo "$H:$svc stream tcp4 nowait root internal"
    done
    for svc in echo chargen daytime time; do
        echo "::1:$svc dgram udp6 wait root internal"
    done
} >"$T/inetd.conf"
# -d: debug, in the foreground (no daemon, no pid file); its own config only.
"$INETD" -d "$T/inetd.conf" >"$T/inetd.err" 2>&1 &
INETD_PID=$!
PIDS+=("$INETD_PID")
retry 3 eval "send -t 0.3 tcp://$H:7 probe >/dev/null 2>&1" ||
    skip "inetd did not serve tcp://$H:7 (not openbsd-inetd, or port in use): $(tail -3 "$T/inetd.err")"
udp6=1
retry 1 eval "send -t 0.3 -r 0 'udp://[::1]:7' probe >/dev/null 2>&1" || {
    udp6=0
    echo "note: no inetd on udp://[::1]:7 (no IPv6, or port in use): udp not compared"
}

for svc in echo discard chargen daytime time; do
    start_server "$svc" 2 "$svc" tcp://127.0.0.1:0 'udp://[::1]:0' --mode fork
done
declare -A PORTNO=([echo]=7 [discard]=9 [chargen]=19 [daytime]=13 [time]=37)
ours() { addr "$1" "$2"; }
theirs() {
    if [ "$2" == tcp ]; then echo "tcp://$H:${PORTNO[$1]}"; else echo "udp://[::1]:${PORTNO[$1]}"; fi
}

# same WHAT OPTIONS...: `send OPTIONS ADDRESS MSGS...` prints the same for
# both servers. ADDRESS is built from $SVC and $PROTO; MSGS is an array.
MSGS=()
same() {
    local what=$1 a b
    shift
    a=$(send "$@" "$(ours "$SVC" "$PROTO")" "${MSGS[@]}" </dev/null) || fail "$what: ours failed"
    b=$(send "$@" "$(theirs "$SVC" "$PROTO")" "${MSGS[@]}" </dev/null) || fail "$what: inetd's failed"
    [ "$a" == "$b" ] || fail "$what: ours [$a], inetd's [$b]"
}

# close_in_time WHAT ARGS...: both answers are times (as `send --time`
# prints them, or a daytime line) within 2 s of each other.
close_in_time() {
    local what=$1 a b
    shift
    a=$(send "$@" "$(ours "$SVC" "$PROTO")" </dev/null) || fail "$what: ours failed"
    b=$(send "$@" "$(theirs "$SVC" "$PROTO")" </dev/null) || fail "$what: inetd's failed"
    if [ "$SVC" == daytime ]; then
        [[ $a =~ ^${CTIME_RE}$'\r'$ ]] || fail "$what: our line [$a]"
        [[ $b =~ ^${CTIME_RE}$'\r'$ ]] || fail "$what: inetd's line [$b]"
        a=$(date -d "${a%$'\r'}" +%s) b=$(date -d "${b%$'\r'}" +%s)
    else
        a=${a%% *} b=${b%% *}
    fi
    [ $((a - b)) -ge -2 ] && [ $((a - b)) -le 2 ] || fail "$what: ours $a, inetd's $b"
}

protos=(tcp)
[ "$udp6" -eq 1 ] && protos+=(udp)
for PROTO in "${protos[@]}"; do
    MSGS=('hello, world' 'a second line' ' spaces and	tab ')
    SVC=echo same "$PROTO echo"
    MSGS=()
    SVC=daytime close_in_time "$PROTO daytime"
    SVC=time close_in_time "$PROTO time" --time
done
SVC=chargen PROTO=tcp same "tcp chargen, the first 20 lines" --max-bytes 1480
MSGS=('into the void')
SVC=discard PROTO=tcp same "tcp discard --no-reply" --no-reply
for a in "$(ours discard tcp)" "$(theirs discard tcp)"; do
    send -t 0.3 "$a" hello >/dev/null 2>&1
    expect_rc "discard at $a answered" "$?" 69
done
if [ "$udp6" -eq 1 ]; then
    # A chargen datagram: inetd sends one 74-byte line, we a random 1-512
    # bytes (RFC 864); both must be the start of the same pattern.
    a=$(send --raw "$(ours chargen udp)" x | od -An -c) || fail "udp chargen: ours failed"
    b=$(send --raw "$(theirs chargen udp)" x | od -An -c) || fail "udp chargen: inetd's failed"
    n=$((${#a} < ${#b} ? ${#a} : ${#b}))
    [ "${a:0:n}" == "${b:0:n}" ] || fail "udp chargen: ours [${a:0:n}], inetd's [${b:0:n}]"
fi

kill -TERM "$INETD_PID"
wait_exit "$INETD_PID" 3
for svc in echo discard chargen daytime time; do stop_server "$svc"; done
echo "ok: echo, discard, chargen, daytime and time agree with openbsd-inetd's (${protos[*]})"
