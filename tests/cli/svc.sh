#!/bin/bash
# svc.sh MODE SERVICE - one cell of the service x mode matrix: SERVICE served
# in MODE on tcp, udp, unix and unixgram at once (one server, four
# listeners), each transport checked with our own client, then a SIGTERM that
# must exit 0 and remove the socket files.
. "$(dirname "$0")/lib.sh"

MODE=$1
SVC=$2

check_echo() {
    local a=$1 out big
    out=$(send "$a" hello 'two words') || fail "$a: echo failed"
    expect_eq "$a echo" "$out" $'hello\ntwo words'
    # Longer than the handler's buffer, to cross its loop.
    big=$(printf 'x%.0s' {1..3000})
    out=$(send "$a" "$big") || fail "$a: echo of 3000 bytes failed"
    expect_eq "$a echo 3000 bytes" "${#out}" 3000
}

check_discard() {
    local a=$1 rc
    send -n "$a" hello there || fail "$a: discard --no-reply failed"
    send -t 0.3 -r 0 "$a" hello >"$T/out" 2>"$T/err"
    rc=$?
    expect_rc "$a: discard must never answer" "$rc" 69
    [ -s "$T/out" ] && fail "$a: discard answered: $(cat "$T/out")"
    grep -q 'no reply' "$T/err" || fail "$a: no 'no reply' message: $(cat "$T/err")"
}

check_chargen() {
    local a=$1 n
    if [[ $a == udp:* || $a == unixgram:* ]]; then
        send --raw "$a" x >"$T/out" || fail "$a: chargen datagram failed"
        n=$(wc -c <"$T/out")
        [ "$n" -ge 1 ] && [ "$n" -le 512 ] || fail "$a: chargen datagram of $n bytes"
        chargen_lines 7 | head -c "$n" >"$T/want"
        cmp -s "$T/out" "$T/want" || fail "$a: chargen datagram is not the pattern"
    else
        send --max-bytes 740 "$a" </dev/null >"$T/out" || fail "$a: chargen stream failed"
        chargen_lines 10 >"$T/want"
        cmp "$T/out" "$T/want" || fail "$a: chargen's first 10 lines differ"
    fi
}

check_daytime() {
    local a=$1 out
    out=$(send "$a" </dev/null) || fail "$a: daytime failed"
    [[ $out =~ ^${CTIME_RE}$'\r'$ ]] || fail "$a: daytime line [$out]"
    out=$(send "$a" anything) || fail "$a: daytime with a message failed"
    [[ $out =~ ^${CTIME_RE}$'\r'$ ]] || fail "$a: daytime line after a message [$out]"
}

check_time() {
    local a=$1 out
    out=$(send --time "$a" </dev/null) || fail "$a: time failed"
    near_now "${out%% *}" || fail "$a: time [$out] is not now ($(date +%s))"
    send --raw "$a" </dev/null >"$T/out" 2>"$T/raw.err" ||
        fail "$a: raw time failed: $(cat "$T/raw.err")"
    expect_eq "$a: time reply size ($(od -An -tx1 "$T/out" | tr -s ' '))" "$(wc -c <"$T/out")" 4
}

check_upper() {
    local a=$1 out rc
    out=$(send "$a" hello 'MiXed 123 !') || fail "$a: upper failed"
    expect_eq "$a upper" "$out" $'HELLO\nMIXED 123 !'
    if [[ $a == tcp:* || $a == unix:* ]]; then
        out=$(send -C "$a" crlf) || fail "$a: upper --crlf failed"
        expect_eq "$a upper keeps CR LF" "$out" $'CRLF\r'
        out=$(send "$a" one '') || fail "$a: upper: an empty line must end the session"
        expect_eq "$a upper before the empty line" "$out" ONE
        send "$a" one '' two >/dev/null 2>&1
        rc=$?
        expect_rc "$a: a line after the empty one" "$rc" 69
    fi
}

check_timestamp() {
    local a=$1 out
    out=$(send "$a" hello 'second line') || fail "$a: timestamp failed"
    [[ $out =~ ^\[${CTIME_RE}\]\ hello$'\n'\[${CTIME_RE}\]\ second\ line$ ]] ||
        fail "$a: timestamp reply [$out]"
}

start_server srv 4 "$SVC" tcp://127.0.0.1:0 udp://127.0.0.1:0 "unix:$T/s" "unixgram:$T/g" \
    --mode "$MODE"
for scheme in tcp udp unix unixgram; do
    "check_$SVC" "$(addr srv $scheme)"
done
stop_server srv
[ -e "$T/s" ] || [ -e "$T/g" ] && fail "socket files left after SIGTERM"
grep -q 'request from .* failed' "$T/srv.err" && fail "a request failed on the server"
echo "ok: $SVC in $MODE mode over tcp, udp, unix and unixgram"
