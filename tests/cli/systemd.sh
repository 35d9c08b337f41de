#!/bin/bash
# systemd.sh PART - serve under systemd's protocols, with no systemd running:
# socket activation by systemd-socket-activate(1) (the sd_listen_fds(3)
# side, stream and datagram, names) and by hand (malformed variables), and
# sd_notify(3) to a datagram socket that socat reads (a path and an
# abstract @name; READY, STATUS, STOPPING, WATCHDOG).
#   activate: tcp, unix stream and unix datagram listeners, LISTEN_FDNAMES
#   dgram:    udp listeners (--datagram)
#   errors:   LISTEN_FDS garbage, a descriptor that is not a socket, a
#             connected one, LISTEN_PID of another process
#   notify:   NOTIFY_SOCKET as a path and as @abstract, with a watchdog
# shellcheck disable=SC2154 # PID_*: set by start_server's (or activate's) eval
. "$(dirname "$0")/lib.sh"

PART=${1:?usage: systemd.sh activate|dgram|errors|notify}
ACT=$(command -v systemd-socket-activate || true)

# activate NAME COUNT ARGS...: runs systemd-socket-activate ARGS (its
# options, then serve's command line) and waits for its COUNT listeners.
# Like systemd, it starts serve at the first client: `listened` then waits
# for serve's own lines. Returns 1 when it exits (a port in use).
activate() {
    local name=$1 count=$2 i
    shift 2
    [ -n "$ACT" ] || skip "systemd-socket-activate not installed (package systemd)"
    "$ACT" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    eval "PID_$name=$SERVER_PID"
    for ((i = 0; i < 1000; i++)); do
        [ "$(grep -c '^Listening on ' "$T/$name.err")" -ge "$count" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.01
    done
    fail "systemd-socket-activate did not listen in 10 s: $(cat "$T/$name.err")"
}

# listened NAME COUNT: waits for serve's COUNT listening lines.
listened() {
    local i
    for ((i = 0; i < 1000; i++)); do
        [ "$(grep -c '^listening ' "$T/$1.out")" -ge "$2" ] && return 0
        sleep 0.01
    done
    fail "serve under $1 did not print $2 listening lines in 10 s: $(cat "$T/$1.err")"
}

# A random high port: systemd-socket-activate takes no port 0. A port in use
# makes it fail at once; the caller tries another.
rport() { echo $((20000 + RANDOM % 12000)); } # below the ephemeral ports (32768 on)

case $PART in
activate)
    for try in 1 2 3 4 5; do
        P=$(rport)
        activate act 2 -l "127.0.0.1:$P" -l "$T/s.sock" --fdname=web:ctl \
            "$SS" serve echo --mode thread && break
        [ "$try" -lt 5 ] || fail "systemd-socket-activate: $(cat "$T/act.err")"
    done
    # The first client starts serve, and is served by it.
    expect_eq "the first client" "$(send "tcp://127.0.0.1:$P" first </dev/null)" first
    listened act 2
    expect_eq "listening lines" "$(grep '^listening ' "$T/act.out" | sort | xargs)" \
        "listening tcp://127.0.0.1:$P listening unix:$T/s.sock"
    grep -q 'adopted tcp://127.0.0.1:'"$P"' (descriptor 3, name "web")' "$T/act.err" ||
        fail "no log line naming descriptor 3 \"web\""
    grep -q "adopted unix:$T/s.sock (descriptor 4, name \"ctl\")" "$T/act.err" ||
        fail "no log line naming descriptor 4 \"ctl\""
    expect_eq "echo over the adopted tcp listener" "$(send "tcp://127.0.0.1:$P" hello </dev/null)" hello
    expect_eq "echo over the adopted unix listener" "$(send "unix:$T/s.sock" hi </dev/null)" hi
    # Close-on-exec: a program a handler runs cannot keep the listeners.
    pid=$PID_act
    for fd in 3 4; do
        f=$(awk '/^flags:/ { print $2 }' "/proc/$pid/fdinfo/$fd")
        (((8#$f & 8#2000000) != 0)) || fail "descriptor $fd is not close-on-exec (flags $f)"
    done
    # SIGHUP: the adopted sockets go on to a new generation (which knows
    # each by its transport's name, "tls" included).
    kill -HUP "$PID_act"
    retry 10 grep -q 'restart: generation 1 (pid [0-9]*) serving' "$T/act.err" ||
        fail "no generation 1 after SIGHUP: $(cat "$T/act.err")"
    expect_eq "tcp after the restart" "$(send "tcp://127.0.0.1:$P" again </dev/null)" again
    expect_eq "unix after the restart" "$(send "unix:$T/s.sock" again </dev/null)" again
    kill -TERM "$PID_act"
    wait_exit "$PID_act" 5
    expect_rc "serve after SIGTERM" "$EXIT_RC" 0
    # The socket file is the supervisor's: serve leaves it.
    [ -S "$T/s.sock" ] || fail "serve removed the supervisor's socket file"
    echo "ok: tcp and unix listeners adopted, named, served, restarted, left to their owner"
    ;;
dgram)
    for try in 1 2 3 4 5; do
        P=$(rport)
        activate dg 2 --datagram -l "127.0.0.1:$P" -l "$T/d.sock" \
            "$SS" serve upper --mode pool && break
        [ "$try" -lt 5 ] || fail "systemd-socket-activate: $(cat "$T/dg.err")"
    done
    expect_eq "the first datagram" "$(send "unixgram:$T/d.sock" first </dev/null)" FIRST
    listened dg 2
    expect_eq "listening lines" "$(grep '^listening ' "$T/dg.out" | sort | xargs)" \
        "listening udp://127.0.0.1:$P listening unixgram:$T/d.sock"
    expect_eq "upper over the adopted udp socket" "$(send "udp://127.0.0.1:$P" hello </dev/null)" HELLO
    expect_eq "upper over the adopted unixgram socket" "$(send "unixgram:$T/d.sock" hi </dev/null)" HI
    kill -TERM "$PID_dg"
    wait_exit "$PID_dg" 5
    expect_rc "serve after SIGTERM" "$EXIT_RC" 0
    echo "ok: udp and unixgram sockets adopted and served"
    ;;
errors)
    # by_hand ENV... : serve echo with LISTEN_PID set to its own PID.
    by_hand() {
        # shellcheck disable=SC2016 # expanded by the inner bash: its own PID
        env "$@" bash -c 'export LISTEN_PID=$$; exec "$0" serve echo 3<&0' "$SS" </dev/null \
            >"$T/e.out" 2>"$T/e.err"
    }
    by_hand LISTEN_FDS=two
    expect_rc "LISTEN_FDS=two" "$?" 64
    grep -q 'LISTEN_FDS "two" is not a count' "$T/e.err" || fail "LISTEN_FDS=two: $(cat "$T/e.err")"
    expect_eq "one line" "$(wc -l <"$T/e.err")" 1
    by_hand LISTEN_FDS=1 # descriptor 3 is /dev/null
    expect_rc "descriptor 3 a file" "$?" 64
    grep -q 'descriptor 3 is not a socket' "$T/e.err" || fail "a file: $(cat "$T/e.err")"
    by_hand LISTEN_FDS=2 # descriptor 4 is not open
    expect_rc "descriptor 4 closed" "$?" 64
    # A connected stream socket is an Accept=yes unit's: --inetd's.
    # socat runs the command on one end of a connected socketpair.
    need socat socat
    # shellcheck disable=SC2016 # expanded by the inner sh
    printf '#!/bin/sh\nexport LISTEN_PID=$$ LISTEN_FDS=1\nexec "$SS" serve echo 3<&0 2>"$T/c.err"\n' >"$T/c.sh"
    export SS T
    timeout 10 socat OPEN:/dev/null SYSTEM:"sh $T/c.sh; echo \$? >$T/c.rc" 2>/dev/null
    expect_eq "connected socket: exit" "$(cat "$T/c.rc")" 64
    grep -q 'connected stream socket.*--inetd' "$T/c.err" || fail "connected: $(cat "$T/c.err")"
    echo "ok: malformed LISTEN_FDS, a file, a closed descriptor, a connected socket: exit 64, one line"
    ;;
notify)
    need socat socat
    for where in path abstract; do
        if [ "$where" == path ]; then
            sock=$T/notify.sock addr=UNIX-RECV:$sock
        else
            sock=@ss-notify-$$-$RANDOM addr=ABSTRACT-RECV:${sock#@}
        fi
        rm -f "$T/notify.txt"
        socat -u "$addr" OPEN:"$T/notify.txt",creat,append &
        PIDS+=($!)
        retry 3 test -e "$T/notify.txt" || true
        sleep 0.2
        NOTIFY_SOCKET=$sock WATCHDOG_USEC=200000 start_server "n$where" 1 echo "unix:$T/$where.sock" --mode event
        retry 3 grep -q 'READY=1' "$T/notify.txt" || fail "$where: no READY=1 (got $(cat "$T/notify.txt"))"
        eval "pid=\$PID_n$where"
        grep -q "MAINPID=$pid" "$T/notify.txt" || fail "$where: no MAINPID=$pid"
        grep -q 'STATUS=serving echo in event mode' "$T/notify.txt" || fail "$where: no STATUS"
        sleep 0.5 # WATCHDOG_USEC/2 = 100 ms: about 5 more
        n=$(grep -o 'WATCHDOG=1' "$T/notify.txt" | wc -l)
        [ "$n" -ge 3 ] || fail "$where: $n WATCHDOG=1 in 0.5 s at a 100 ms interval"
        # SIGHUP: the started process reloads, and stays the main PID.
        kill -HUP "$pid"
        retry 10 grep -q 'STATUS=generation 1 (pid [0-9]*) serving' "$T/notify.txt" ||
            fail "$where: no READY=1 for generation 1 (got $(cat "$T/notify.txt"))"
        grep -q 'RELOADING=1' "$T/notify.txt" || fail "$where: no RELOADING=1"
        grep -o 'MAINPID=[0-9]*' "$T/notify.txt" | grep -qv "MAINPID=$pid" && fail "$where: MAINPID changed"
        expect_eq "$where: served after the restart" "$(send "unix:$T/$where.sock" x </dev/null)" x
        stop_server "n$where"
        retry 3 grep -q 'STOPPING=1' "$T/notify.txt" || fail "$where: no STOPPING=1"
        echo "ok: $where: READY=1, MAINPID, STATUS, $n WATCHDOG=1, RELOADING=1 and READY=1 on SIGHUP, STOPPING=1"
    done
    # WATCHDOG_PID of another process: no watchdog for us.
    rm -f "$T/notify.txt"
    socat -u "UNIX-RECV:$T/n2.sock" OPEN:"$T/notify.txt",creat,append &
    PIDS+=($!)
    sleep 0.2
    NOTIFY_SOCKET=$T/n2.sock WATCHDOG_USEC=100000 WATCHDOG_PID=1 start_server other 1 echo "unix:$T/o.sock"
    retry 3 grep -q 'READY=1' "$T/notify.txt" || fail "no READY=1 with WATCHDOG_PID=1"
    sleep 0.3
    grep -q WATCHDOG "$T/notify.txt" && fail "WATCHDOG=1 sent although WATCHDOG_PID is another process's"
    stop_server other
    # A malformed NOTIFY_SOCKET costs a warning, not the service.
    NOTIFY_SOCKET=relative/path start_server bad 1 echo "unix:$T/b.sock"
    grep -q 'warning: NOTIFY_SOCKET "relative/path"' "$T/bad.err" || fail "no warning: $(cat "$T/bad.err")"
    expect_eq "served all the same" "$(send "unix:$T/b.sock" x </dev/null)" x
    stop_server bad
    echo "ok: WATCHDOG_PID honoured, a bad NOTIFY_SOCKET warned about"
    ;;
*) fail "unknown part $PART" ;;
esac
