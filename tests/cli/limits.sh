#!/bin/bash
# limits.sh MODE - a misbehaving client costs its own session and nothing
# else: a line longer than --max-line, silence past --idle-timeout, a
# connection beyond --max-connections, a reset in mid-session, binary
# garbage. After each, the server still serves a well-behaved client.
. "$(dirname "$0")/lib.sh"

MODE=$1

# answers ADDRESS: the upper server still answers a good client.
answers() {
    [ "$(send -t 2 "$1" still here 2>/dev/null)" == $'STILL\nHERE' ]
}

# open_session FD PORT: a session to upper on FD, checked by one exchange.
open_session() {
    local line
    eval "exec $1<>/dev/tcp/127.0.0.1/$2" || fail "cannot connect to port $2"
    printf 'ping\n' >&"$1"
    IFS= read -r -t 3 line <&"$1" || fail "session on fd $1: no reply"
    expect_eq "session on fd $1" "$line" PING
}

# ---- --max-line: a long line ends that session only
start_server line 2 upper tcp://127.0.0.1:0 "unix:$T/line.sock" --mode "$MODE" --max-line 16
for a in "$(addr line tcp)" "$(addr line unix)"; do
    expect_eq "$a: a 15-byte line fits" "$(send "$a" 12345678901234)" 12345678901234
    send "$a" "$(printf 'x%.0s' {1..40})" >"$T/out" 2>"$T/err"
    expect_rc "$a: a 41-byte line" "$?" 69
    [ -s "$T/out" ] && fail "$a: the long line was answered: $(cat "$T/out")"
    answers "$a" || fail "$a: no answer after a long line"
done
grep -q 'Line too long' "$T/line.err" || fail "the long line was not logged"

# ---- --idle-timeout: a silent client is closed, others go on
start_server idle 1 upper tcp://127.0.0.1:0 --mode "$MODE" --idle-timeout 0.4
p=$(port idle tcp)
exec 3<>"/dev/tcp/127.0.0.1/$p"
t0=$(now_ms)
IFS= read -r -t 5 line <&3
rc=$?
dt=$(($(now_ms) - t0))
[ "$rc" -gt 128 ] && fail "a silent client was not closed within 5 s"
[ "$dt" -ge 300 ] && [ "$dt" -le 3000 ] || fail "a silent client was closed after $dt ms (timeout 0.4 s)"
exec 3>&-
answers "tcp://127.0.0.1:$p" || fail "no answer after an idle timeout"
# A client that keeps talking is not idle, however long it stays.
open_session 3 "$p"
for i in 1 2 3; do
    sleep 0.2
    printf 'again\n' >&3
    IFS= read -r -t 3 line <&3 || fail "an active session was cut by the idle timeout"
done
exec 3>&-

# ---- --max-connections: one client too many is closed at once (the
# serving thread of sync mode runs one session at a time: the next client
# waits its turn there, so this part needs a concurrent mode)
if [ "$MODE" != sync ]; then
    start_server cap 1 upper tcp://127.0.0.1:0 --mode "$MODE" --max-connections 2
    p=$(port cap tcp)
    open_session 3 "$p"
    open_session 4 "$p"
    t0=$(now_ms)
    send -t 3 "tcp://127.0.0.1:$p" extra >"$T/out" 2>"$T/err"
    rc=$?
    dt=$(($(now_ms) - t0))
    expect_rc "the client beyond --max-connections" "$rc" 69
    [ "$dt" -lt 1500 ] || fail "the client beyond the limit waited $dt ms"
    for fd in 3 4; do
        printf 'still\n' >&"$fd"
        IFS= read -r -t 3 line <&"$fd" || fail "session $fd lost after a refusal"
        expect_eq "session $fd after a refusal" "$line" STILL
    done
    exec 3>&-
    retry 3 answers "tcp://127.0.0.1:$p" || fail "capacity did not return after a client left"
    exec 4>&-
    grep -q 'max_connections (2) reached' "$T/cap.err" || fail "the refusal was not logged"
fi

# ---- a reset in mid-session: replies left unread, then close (RST)
start_server reset 1 echo tcp://127.0.0.1:0 --mode "$MODE"
p=$(port reset tcp)
exec 3<>"/dev/tcp/127.0.0.1/$p"
head -c 200000 /dev/zero | tr '\0' 'r' >&3 &
writer=$!
sleep 0.2
exec 3>&-
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
expect_eq "echo after a reset" "$(send "tcp://127.0.0.1:$p" fine)" fine

# ---- chargen stops promptly when its client goes away
# first_line: chargen's first line, whole. A client refused at the limit is
# closed at once, which `send` with no message takes as a (silent) end: an
# empty output is a refusal, to be retried, not a success.
first_line() {
    send --max-bytes 74 "tcp://127.0.0.1:$p" </dev/null >"$T/gen" 2>/dev/null &&
        chargen_lines 1 | cmp -s - "$T/gen"
}
start_server gen 1 chargen tcp://127.0.0.1:0 --mode "$MODE" --max-connections 1
p=$(port gen tcp)
for i in 1 2 3; do
    exec 3<>"/dev/tcp/127.0.0.1/$p"
    head -c 1000 <&3 >/dev/null || fail "chargen sent nothing"
    exec 3>&- # unread data: a reset; then the next write fails
    # The next client is served only once that session ended (sync: the
    # one serving thread; others: --max-connections 1).
    retry 3 first_line ||
        fail "chargen did not stop after its client left (round $i): got [$(head -c 100 "$T/gen")]"
done

# ---- binary garbage: echo is byte-exact, upper and timestamp survive it
head -c 65536 /dev/urandom >"$T/garbage"
start_server bin 1 echo tcp://127.0.0.1:0 --mode "$MODE"
p=$(port bin tcp)
exec 3<>"/dev/tcp/127.0.0.1/$p"
cat "$T/garbage" >&3 &
writer=$!
timeout 10 head -c 65536 <&3 >"$T/back"
wait "$writer"
exec 3>&-
cmp "$T/garbage" "$T/back" || fail "echo changed binary data"
for svc in upper timestamp; do
    start_server "g$svc" 1 "$svc" tcp://127.0.0.1:0 --mode "$MODE"
    p=$(port "g$svc" tcp)
    exec 3<>"/dev/tcp/127.0.0.1/$p"
    cat "$T/garbage" >&3
    exec 3>&-
    out=$(send "tcp://127.0.0.1:$p" after garbage) || fail "$svc: no answer after garbage"
    [[ ${out,,} == *garbage ]] || fail "$svc: [$out] after garbage"
done
echo "ok: limits in $MODE mode"
