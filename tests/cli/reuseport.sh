#!/usr/bin/env bash
# reuseport.sh PART - serve --reuse-port (SO_REUSEPORT, socket(7)):
#   instances  two serve instances on one TCP and UDP port, running different
#              services (upper and echo), so each reply tells which one
#              answered: both get clients; without --reuse-port the second
#              one's bind fails (exit 71)
#   event      --mode event --workers 2 --poller epoll: two listening sockets
#              on the port in the one process, each watched by a different
#              loop's epoll instance (/proc/PID/fdinfo; hence epoll whatever
#              SS_POLLER says), and both loops hold connections
#   prefork    --mode prefork --workers 2: two listening sockets, one for each
#              worker (ss -p), and both workers hold a connection
#   shared     without --reuse-port, event and prefork keep one listening
#              socket (the shared accept queue)
#   user       (root) with --user nobody the loops and workers cannot join
#              root's group: they share the listener, with a warning, and serve
# Clients land on a socket by a hash of their address and port, so 24 held
# connections (or 24 requests) all landing on one of two sockets has a
# chance of 2^-23.
source "$(dirname "$0")/lib.sh"

N=24

# listeners PORT: how many TCP sockets listen on 127.0.0.1:PORT.
listeners() {
    ss -ltnH "sport = :$1" | grep -c LISTEN
}

# hold PORT: opens N connections to PORT and keeps them open (fds 10 and
# up in this shell), each having sent a line so that its session is running.
hold() {
    local i
    for ((i = 0; i < N; i++)); do
        exec {fd}<>"/dev/tcp/127.0.0.1/$1" || fail "connect $i to port $1"
        printf 'x\n' >&"$fd"
        HELD+=("$fd")
    done
}

release() {
    local fd
    for fd in "${HELD[@]}"; do exec {fd}>&-; done
    HELD=()
}

case_instances() {
    start_server a 1 upper tcp://127.0.0.1:0 --reuse-port
    local p
    p=$(port a tcp)
    start_server a_udp 1 upper "udp://127.0.0.1:$p" --reuse-port
    start_server b 2 echo "tcp://127.0.0.1:$p" "udp://127.0.0.1:$p" --reuse-port
    local proto out i upper echo
    for proto in tcp udp; do
        upper=0 echo=0
        for ((i = 0; i < N; i++)); do
            out=$(send "$proto://127.0.0.1:$p" hello) || fail "$proto request $i failed"
            case $out in
            HELLO) upper=$((upper + 1)) ;;
            hello) echo=$((echo + 1)) ;;
            *) fail "$proto request $i: unexpected reply [$out]" ;;
            esac
        done
        echo "$proto: $upper requests to the upper instance, $echo to the echo one"
        [ "$upper" -gt 0 ] && [ "$echo" -gt 0 ] ||
            fail "$proto: one instance got every request ($upper upper, $echo echo)"
    done
    # Without the option a second server cannot bind the port.
    "$SS" serve echo "tcp://127.0.0.1:$p" >"$T/c.out" 2>"$T/c.err" </dev/null
    expect_rc "a third server without --reuse-port" $? 71
    grep -q 'Address already in use' "$T/c.err" || fail "no 'in use' message: $(cat "$T/c.err")"
    stop_server b
    stop_server a_udp
    stop_server a
}

# inode_of PID FD: the socket inode behind descriptor FD of PID.
inode_of() {
    readlink "/proc/$1/fd/$2" | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p'
}

case_event() {
    start_server s 1 echo tcp://127.0.0.1:0 --mode event --workers 2 --reuse-port --poller epoll
    local p pid
    p=$(port s tcp)
    pid=$PID_s
    expect_eq "listening sockets on the port" "$(listeners "$p")" 2
    HELD=()
    hold "$p"
    # Each listening socket's descriptor in the server that a loop watches
    # (the process also keeps a copy of the server's for SIGHUP restarts,
    # restart.c, which no loop watches).
    local inodes fd lfds=() ino
    inodes=" $(ss -ltneH "sport = :$p" | grep -o 'ino:[0-9]*' | cut -d: -f2 | tr '\n' ' ')"
    for fd in /proc/"$pid"/fd/*; do
        ino=$(inode_of "$pid" "${fd##*/}")
        [ -n "$ino" ] && [[ $inodes == *" $ino "* ]] || continue
        grep -Eqs "^tfd: +${fd##*/} " /proc/"$pid"/fdinfo/* && lfds+=("${fd##*/}")
    done
    expect_eq "listening descriptors in the server" "${#lfds[@]}" 2
    # Each loop's epoll instance: which listener it watches, how many
    # connections (every other socket it has registered but the eventfds).
    local watched=() conns=() f l n ok=0
    retry 5 sessions_registered "$pid" "$p" || true
    for f in /proc/"$pid"/fdinfo/*; do
        grep -q '^tfd:' "$f" 2>/dev/null || continue
        for l in "${lfds[@]}"; do
            grep -Eq "^tfd: +$l " "$f" && watched+=("$l") && n=$(count_conns "$pid" "$p" "$f") &&
                conns+=("$n")
        done
    done
    expect_eq "epoll instances watching a listener" "${#watched[@]}" 2
    [ "${watched[0]}" != "${watched[1]}" ] || fail "both loops watch listener fd ${watched[0]}"
    echo "loop 1 accepts on fd ${watched[0]} and holds ${conns[0]} connections;" \
        "loop 2 on fd ${watched[1]}, ${conns[1]}"
    [ "${conns[0]}" -gt 0 ] && [ "${conns[1]}" -gt 0 ] && ok=1
    [ $((conns[0] + conns[1])) -eq "$N" ] || fail "loops hold ${conns[*]}, expected $N in all"
    [ "$ok" = 1 ] || fail "one loop holds every connection: ${conns[*]}"
    release
    out=$(send "tcp://127.0.0.1:$p" after) || fail "request after release"
    expect_eq "echo after" "$out" after
    stop_server s
}

# count_conns PID PORT FDINFO: the TCP connections an epoll instance
# watches (its registered descriptors that are sockets established on PORT).
count_conns() {
    local pid=$1 f=$3 t n=0 ino est
    est=" $(ss -tneH state established "sport = :$2" | grep -o 'ino:[0-9]*' | cut -d: -f2 | tr '\n' ' ')"
    for t in $(awk '/^tfd:/ {print $2}' "$f"); do
        ino=$(inode_of "$pid" "$t")
        [ -n "$ino" ] && [[ $est == *" $ino "* ]] && n=$((n + 1))
    done
    echo "$n"
}

# sessions_registered PID PORT: every held connection is registered with
# some loop (each echo session waits for its next line).
sessions_registered() {
    local pid=$1 f total=0
    for f in /proc/"$pid"/fdinfo/*; do
        grep -q '^tfd:' "$f" 2>/dev/null || continue
        total=$((total + $(count_conns "$pid" "$2" "$f")))
    done
    [ "$total" -eq "$N" ]
}

case_prefork() {
    start_server s 1 echo tcp://127.0.0.1:0 --mode prefork --workers 2 --reuse-port
    local p
    p=$(port s tcp)
    expect_eq "listening sockets on the port" "$(listeners "$p")" 2
    # Each worker holds one listening socket of the port: the parent and the
    # slot 0 worker share the server's, the other worker has its own.
    local lines
    lines=$(ss -ltnpH "sport = :$p")
    local w1 w2
    w1=$(echo "$lines" | grep -v "pid=$PID_s," | grep -o 'pid=[0-9]*' | sort -u)
    w2=$(echo "$lines" | grep "pid=$PID_s," | grep -o 'pid=[0-9]*' | grep -v "pid=$PID_s\$" | sort -u)
    [ "$(echo "$w1" | wc -w)" = 1 ] || fail "the sibling socket is not one worker's: $lines"
    [ "$(echo "$w2" | wc -w)" = 1 ] || fail "the server's socket is not one worker's: $lines"
    [ "$w1" != "$w2" ] || fail "one worker holds both sockets: $lines"
    # Each worker serves one session at a time; the rest wait in the
    # accept queue of the socket they were hashed to. Both workers are busy
    # once both sockets have had a client.
    HELD=()
    hold "$p"
    local owners
    retry 5 two_owners "$p" || fail "connections are not served by two processes: $(ss -tnpH state established "sport = :$p")"
    owners=$(ss -tnpH state established "sport = :$p" | grep -o 'pid=[0-9]*' | sort -u | tr '\n' ' ')
    echo "sessions held by $owners; queued: $(ss -ltnH "sport = :$p" | awk '{print $2}' | tr '\n' ' ')"
    release
    out=$(send "tcp://127.0.0.1:$p" after) || fail "request after release"
    expect_eq "echo after" "$out" after
    stop_server s
}

two_owners() {
    [ "$(ss -tnpH state established "sport = :$1" | grep -o 'pid=[0-9]*' | sort -u | wc -l)" -eq 2 ]
}

case_shared() {
    local m
    for m in event prefork; do
        start_server "s_$m" 1 echo tcp://127.0.0.1:0 --mode "$m" --workers 2
        expect_eq "$m without --reuse-port: listening sockets" "$(listeners "$(port "s_$m" tcp)")" 1
        stop_server "s_$m"
    done
}

case_user() {
    [ "$(id -u)" = 0 ] || skip "not root"
    id nobody >/dev/null 2>&1 || skip "no user nobody"
    local m
    for m in event prefork; do
        start_server "u_$m" 1 echo tcp://127.0.0.1:0 --mode "$m" --workers 2 --reuse-port --user nobody
        local a
        a=$(addr "u_$m" tcp)
        expect_eq "$m --user: listening sockets" "$(listeners "${a##*:}")" 1
        expect_eq "$m --user: served" "$(send "$a" hi)" hi
        retry 5 grep -q "reuse_port: .*share the listener.*: bind .*Address already in use" "$T/u_$m.err" ||
            fail "$m --user: no warning: $(cat "$T/u_$m.err")"
        stop_server "u_$m"
    done
}

need ss iproute2
case ${1:-} in
user) case_user ;;
instances) case_instances ;;
event) case_event ;;
prefork) case_prefork ;;
shared) case_shared ;;
*) fail "unknown part ${1:-}" ;;
esac
echo PASS
