#!/bin/bash
# inetd_mode.sh PART - `serve --inetd SERVICE` started the way inetd starts
# a program, by the real starters:
#   inetd:    openbsd-inetd in the foreground (-d) with a generated
#             inetd.conf on a loopback port: tcp nowait (echo, daytime),
#             udp wait (upper; the process ends once idle, the next
#             datagram starts another)
#   activate: systemd-socket-activate --inetd: tcp and unix stream with
#             Accept (one process a connection), a unix datagram socket
#   errors:   standard input a pipe, --inetd with an ADDRESS or --user
. "$(dirname "$0")/lib.sh"

PART=${1:?usage: inetd_mode.sh inetd|activate|errors}
rport() { echo $((20000 + RANDOM % 12000)); } # below the ephemeral ports (32768 on)

case $PART in
inetd)
    INETD=$(command -v inetd || echo /usr/sbin/inetd)
    [ -x "$INETD" ] || skip "inetd not installed (package openbsd-inetd)"
    for try in 1 2 3 4 5; do
        P=$(rport) Q=$(rport)
        cat >"$T/inetd.conf" <<EOF
127.0.0.1:$P stream tcp nowait root $SS socketserver serve --inetd echo
127.0.0.1:$Q stream tcp nowait root $SS socketserver serve --inetd daytime
127.0.0.1:$P dgram udp wait root $SS socketserver serve --inetd upper --idle-timeout 0.5
EOF
        "$INETD" -d "$T/inetd.conf" >"$T/inetd.err" 2>&1 &
        INETD_PID=$!
        PIDS+=("$INETD_PID")
        retry 3 eval "send -t 0.3 tcp://127.0.0.1:$P probe >/dev/null 2>&1" &&
            retry 1 eval "send -t 0.3 tcp://127.0.0.1:$Q >/dev/null 2>&1" && break
        kill -9 "$INETD_PID" 2>/dev/null
        [ "$try" -lt 5 ] || fail "inetd did not serve tcp://127.0.0.1:$P: $(tail -3 "$T/inetd.err")"
    done
    expect_eq "tcp nowait echo" "$(send "tcp://127.0.0.1:$P" one two </dev/null | xargs)" "one two"
    # daytime closes: the client sees the end, so serve closed every copy.
    out=$(send "tcp://127.0.0.1:$Q" </dev/null 2>"$T/send.err") || fail "tcp nowait daytime: $(cat "$T/send.err")"
    [[ $out =~ ^${CTIME_RE}$'\r'$ ]] || fail "daytime line [$out]"
    # Three clients at once: three processes, each its own session.
    clients=()
    for i in 1 2 3; do
        send "tcp://127.0.0.1:$P" "client $i" </dev/null >"$T/c$i.out" &
        clients+=($!)
    done
    wait "${clients[@]}"
    for i in 1 2 3; do expect_eq "client $i" "$(cat "$T/c$i.out")" "client $i"; done
    expect_eq "udp wait upper" "$(send "udp://127.0.0.1:$P" hello </dev/null)" HELLO
    expect_eq "udp wait, the same process" "$(send "udp://127.0.0.1:$P" again </dev/null)" AGAIN
    # Idle 0.5 s: the process exits (status 0) and inetd watches again.
    retry 5 grep -q "restored $P" "$T/inetd.err" || fail "the udp wait process did not exit when idle"
    grep -q 'reaped, status [1-9]' "$T/inetd.err" && fail "a serve exited non-zero: $(cat "$T/inetd.err")"
    expect_eq "udp wait, a new process" "$(send "udp://127.0.0.1:$P" later </dev/null)" LATER
    kill -TERM "$INETD_PID"
    wait_exit "$INETD_PID" 5
    echo "ok: openbsd-inetd: tcp nowait echo and daytime, udp wait upper ending when idle"
    ;;
activate)
    ACT=$(command -v systemd-socket-activate) || skip "systemd-socket-activate not installed (package systemd)"
    for try in 1 2 3 4 5; do
        P=$(rport)
        "$ACT" --inetd -a -l "127.0.0.1:$P" -l "$T/s.sock" "$SS" serve --inetd upper >"$T/act.out" 2>"$T/act.err" &
        PIDS+=($!)
        retry 3 grep -q "Listening on $T/s.sock" "$T/act.err" && break
        [ "$try" -lt 5 ] || fail "systemd-socket-activate: $(cat "$T/act.err")"
    done
    expect_eq "tcp Accept=yes" "$(send "tcp://127.0.0.1:$P" hello world </dev/null | xargs)" "HELLO WORLD"
    expect_eq "unix Accept=yes" "$(send "unix:$T/s.sock" hi </dev/null)" HI
    expect_eq "tcp again: a new process" "$(send "tcp://127.0.0.1:$P" again </dev/null)" AGAIN
    n=$(grep -c '^Spawned ' "$T/act.err")
    [ "$n" -eq 3 ] || fail "$n processes spawned for 3 connections"
    # A datagram socket: one process serves until idle.
    "$ACT" --inetd --datagram -l "$T/d.sock" "$SS" serve --inetd echo --idle-timeout 0.3 \
        >"$T/dg.out" 2>"$T/dg.err" &
    DG=$!
    PIDS+=("$DG")
    retry 3 grep -q "Listening on $T/d.sock" "$T/dg.err" || fail "no datagram socket: $(cat "$T/dg.err")"
    expect_eq "unixgram wait" "$(send "unixgram:$T/d.sock" ping </dev/null)" ping
    wait_exit "$DG" 5
    expect_rc "unixgram wait: exit once idle" "$EXIT_RC" 0
    echo "ok: systemd-socket-activate --inetd: tcp and unix per connection, unixgram until idle"
    ;;
errors)
    echo hi | "$SS" serve --inetd echo >"$T/o" 2>"$T/e"
    expect_rc "a pipe on standard input" "$?" 64
    grep -q 'standard input is not a socket' "$T/e" || fail "a pipe: $(cat "$T/e")"
    expect_eq "one line" "$(wc -l <"$T/e")" 1
    "$SS" serve --inetd echo tcp://127.0.0.1:0 </dev/null >"$T/o" 2>"$T/e"
    expect_rc "--inetd ADDRESS" "$?" 64
    grep -q -- '--inetd takes no ADDRESS' "$T/e" || fail "--inetd ADDRESS: $(cat "$T/e")"
    "$SS" serve --inetd echo --user nobody </dev/null >"$T/o" 2>"$T/e"
    expect_rc "--inetd --user" "$?" 64
    echo "ok: a pipe, an ADDRESS, --user: exit 64 with one line"
    ;;
*) fail "unknown part $PART" ;;
esac
