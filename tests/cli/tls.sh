#!/bin/bash
# tls.sh CASE [MODE] - TLS in the program (serve --tls-*, send tls://), with
# certificates made by tests/tls/mkcerts.sh into the test's own directory:
#   files      serve's exit codes for TLS files: missing or unreadable 66,
#              not a certificate or key, or a key of another certificate 65,
#              tls:// without --tls-cert 64; one line naming the file, and
#              nothing listening. A build without TLS: tls:// exits 64
#              "built without TLS" (the only case that runs there).
#   svc MODE   every stream service over tls:// in MODE, with send
#   interop    openssl s_client and socat OPENSSL: against serve; send
#              against openssl s_server
#   mtls       mutual TLS: a client of the CA is served and named, one
#              without a certificate or of another CA is refused
#   verify     send refuses a wrong CA, an expired certificate and another
#              host name (exit 76), and accepts --insecure and --sni
#   hostile MODE  a plain-text client, a handshake that stalls (ended by the
#              idle timeout), a garbage record, 1000 aborted handshakes: the
#              server serves on, and its descriptors return to their count
. "$(dirname "$0")/lib.sh"

CASE=${1:?usage: tls.sh CASE [MODE]}
MODE=${2:-thread}
SRC=${SS_SOURCE_DIR:?}

# A build without TLS says so, with exit 64, for any tls:// address.
"$SS" serve echo tls://127.0.0.1:0 --tls-cert /nonexistent >"$T/probe.out" 2>"$T/probe.err"
probe=$?
if grep -q 'built without TLS' "$T/probe.err"; then
    expect_rc "tls:// without TLS" "$probe" 64
    [ "$CASE" = files ] && exit 0
    skip "built without TLS"
fi
mkdir "$T/c"
sh "$SRC/tests/tls/mkcerts.sh" "$T/c" >"$T/mkcerts.out" || {
    [ $? -eq 77 ] && skip "openssl not installed"
    fail "mkcerts.sh: $(cat "$T/mkcerts.out")"
}
C=$T/c
SERVE_TLS=(--tls-cert "$C/server.pem" --tls-key "$C/server.key")
SEND_TLS=(--tls-ca "$C/ca.pem")

# serve_fails WHAT RC PATTERN ARGS...: serve exits RC at once with one line
# matching PATTERN.
serve_fails() {
    local what=$1 rc=$2 pat=$3
    shift 3
    timeout 10 "$SS" serve echo "$@" >"$T/f.out" 2>"$T/f.err"
    expect_rc "$what" $? "$rc"
    [ "$(wc -l <"$T/f.err")" -eq 1 ] || fail "$what: not one line: $(cat "$T/f.err")"
    grep -q -- "$pat" "$T/f.err" || fail "$what: [$(cat "$T/f.err")] lacks [$pat]"
    grep -q '^listening' "$T/f.out" && fail "$what: something listened"
    return 0
}

case_files() {
    local a=tls://127.0.0.1:0
    printf 'not a certificate\n' >"$T/junk.pem"
    serve_fails "missing cert" 66 "$T/none.pem: No such file" $a --tls-cert "$T/none.pem" \
        --tls-key "$C/server.key"
    serve_fails "missing key" 66 "$T/none.key" $a --tls-cert "$C/server.pem" --tls-key "$T/none.key"
    serve_fails "key is a directory" 66 "$T: Is a directory" $a --tls-cert "$C/server.pem" \
        --tls-key "$T"
    serve_fails "malformed cert" 65 "$T/junk.pem: not a PEM certificate" $a --tls-cert "$T/junk.pem" \
        --tls-key "$C/server.key"
    serve_fails "malformed key" 65 "$T/junk.pem: not a PEM private key" $a --tls-cert "$C/server.pem" \
        --tls-key "$T/junk.pem"
    serve_fails "key of another cert" 65 "$C/client.key: does not match the certificate" $a \
        --tls-cert "$C/server.pem" --tls-key "$C/client.key"
    serve_fails "malformed client CA" 65 "$T/junk.pem" $a "${SERVE_TLS[@]}" --tls-client-ca "$T/junk.pem"
    serve_fails "no cert" 64 "need --tls-cert" $a
    serve_fails "key alone" 64 "need --tls-cert" $a --tls-key "$C/server.key"
}

case_svc() {
    start_server s 1 echo tls://127.0.0.1:0 --mode "$MODE" "${SERVE_TLS[@]}"
    local a svc out
    a=$(addr s tls)
    out=$(send "$a" "${SEND_TLS[@]}" hello "two words")
    expect_eq "echo over tls" "$out" $'hello\ntwo words'
    stop_server s
    for svc in upper discard daytime time chargen timestamp; do
        start_server "$svc" 1 "$svc" tls://127.0.0.1:0 --mode "$MODE" "${SERVE_TLS[@]}"
    done
    out=$(send "$(addr upper tls)" "${SEND_TLS[@]}" "Mixed Case")
    expect_eq "upper" "$out" "MIXED CASE"
    out=$(send "$(addr discard tls)" "${SEND_TLS[@]}" --no-reply into the void)
    expect_rc "discard" $? 0
    out=$(send "$(addr daytime tls)" "${SEND_TLS[@]}" </dev/null)
    [[ $out =~ ^${CTIME_RE}$'\r'?$ ]] || fail "daytime over tls [$out]"
    out=$(send "$(addr time tls)" "${SEND_TLS[@]}" --time </dev/null)
    near_now "${out%% *}" || fail "time over tls [$out]"
    out=$(send "$(addr chargen tls)" "${SEND_TLS[@]}" --max-bytes 740 </dev/null)
    [ "$out" == "$(chargen_lines 10 | head -c 740)" ] || fail "chargen over tls"
    out=$(send "$(addr timestamp tls)" "${SEND_TLS[@]}" stamp)
    [[ $out =~ stamp ]] || fail "timestamp over tls [$out]"
    for svc in upper discard daytime time chargen timestamp; do stop_server "$svc"; done
}

case_interop() {
    need socat socat
    start_server e 1 echo tls://127.0.0.1:0 --mode event "${SERVE_TLS[@]}"
    local p
    p=$(port e tls)
    # s_client leaves at the end of its input: the input lasts until the
    # reply is in.
    out=$({ printf 'from s_client\n'; sleep 1; } | timeout 10 openssl s_client -connect "127.0.0.1:$p" \
        -CAfile "$C/ca.pem" -verify_return_error -quiet -no_ign_eof 2>/dev/null)
    expect_eq "openssl s_client" "$out" "from s_client"
    out=$(printf 'from socat\n' | timeout 10 socat -t 2 - \
        "OPENSSL:127.0.0.1:$p,cafile=$C/ca.pem,commonname=localhost")
    expect_eq "socat OPENSSL:" "$out" "from socat"
    out=$({ printf 'tls1.2\n'; sleep 1; } | timeout 10 openssl s_client -connect "127.0.0.1:$p" -tls1_2 \
        -CAfile "$C/ca.pem" -quiet -no_ign_eof 2>/dev/null)
    expect_eq "TLS 1.2" "$out" "tls1.2"
    # TLS 1.1 is refused (at least TLS 1.2).
    printf 'old\n' | timeout 10 openssl s_client -connect "127.0.0.1:$p" -tls1_1 -quiet \
        >"$T/old.out" 2>&1 && fail "a TLS 1.1 client was served"
    stop_server e
    # Our client against OpenSSL's server (-rev: each line comes back reversed).
    timeout 20 openssl s_server -accept 127.0.0.1:0 -cert "$C/server.pem" -key "$C/server.key" \
        -rev -naccept 1 >"$T/s_server.out" 2>&1 &
    PIDS+=($!)
    retry 5 grep -q '^ACCEPT' "$T/s_server.out" || fail "s_server did not start"
    p=$(grep -m1 '^ACCEPT' "$T/s_server.out" | grep -o '[0-9]*$')
    out=$(send "tls://localhost:$p" "${SEND_TLS[@]}" hello)
    expect_eq "send to s_server" "$out" "olleh"
}

case_mtls() {
    start_server m 1 upper tls://127.0.0.1:0 --mode event "${SERVE_TLS[@]}" \
        --tls-client-ca "$C/ca.pem" -v
    local a
    a=$(addr m tls)
    out=$(send "$a" "${SEND_TLS[@]}" --tls-cert "$C/client.pem" --tls-key "$C/client.key" ok)
    expect_eq "client of the CA" "$out" "OK"
    # TLS 1.3 checks the client's certificate after the client's side of the
    # handshake is done (RFC 8446 section 4.4.2): send learns of the refusal
    # as the server's alert (76), or, when the server's close resets the
    # connection first, as a reset (69).
    send "$a" "${SEND_TLS[@]}" refused >"$T/o" 2>"$T/e"
    rc=$?
    [ $rc -eq 76 ] || [ $rc -eq 69 ] || fail "no client certificate: exit $rc: $(cat "$T/e")"
    grep -q 'certificate required\|reset' "$T/e" || fail "no client certificate: $(cat "$T/e")"
    send "$a" "${SEND_TLS[@]}" -- >"$T/o" 2>"$T/e" </dev/null
    [ -s "$T/o" ] && fail "a client without a certificate got a reply"
    send "$a" "${SEND_TLS[@]}" --tls-cert "$C/stranger.pem" --tls-key "$C/stranger.key" x \
        >"$T/o" 2>"$T/e"
    rc=$?
    [ $rc -eq 76 ] || [ $rc -eq 69 ] || fail "client of another CA: exit $rc: $(cat "$T/e")"
    [ -s "$T/o" ] && fail "a client of another CA got a reply"
    grep -q 'peer did not return a certificate' "$T/m.err" || fail "server log: no refusal logged"
    out=$(send "$a" "${SEND_TLS[@]}" --tls-cert "$C/client.pem" --tls-key "$C/client.key" again)
    expect_eq "served after refusals" "$out" "AGAIN"
    stop_server m
}

# send_refused WHAT PATTERN ARGS...: send exits 76 with one line saying why.
send_refused() {
    local what=$1 pat=$2
    shift 2
    send "$@" x >"$T/o" 2>"$T/e"
    expect_rc "$what" $? 76
    [ "$(wc -l <"$T/e")" -eq 1 ] || fail "$what: not one line: $(cat "$T/e")"
    grep -q "$pat" "$T/e" || fail "$what: [$(cat "$T/e")] lacks [$pat]"
}

case_verify() {
    start_server ok 1 echo tls://127.0.0.1:0 --mode thread "${SERVE_TLS[@]}"
    start_server old 1 echo tls://127.0.0.1:0 --mode thread --tls-cert "$C/expired.pem" \
        --tls-key "$C/expired.key"
    start_server other 1 echo tls://127.0.0.1:0 --mode thread --tls-cert "$C/wrongname.pem" \
        --tls-key "$C/wrongname.key"
    local p
    p=$(port ok tls)
    send_refused "wrong CA" "unable to get local issuer certificate" "tls://localhost:$p" \
        --tls-ca "$C/other-ca.pem"
    send_refused "system store" "certificate verify failed" "tls://localhost:$p"
    send_refused "expired" "certificate has expired" "tls://localhost:$(port old tls)" "${SEND_TLS[@]}"
    send_refused "host name" "hostname mismatch" "tls://localhost:$(port other tls)" "${SEND_TLS[@]}"
    send_refused "--sni name" "hostname mismatch" "tls://localhost:$p" "${SEND_TLS[@]}" --sni nope.example
    out=$(send "tls://localhost:$(port other tls)" "${SEND_TLS[@]}" --sni other.example sni)
    expect_eq "--sni other.example" "$out" "sni"
    out=$(send "tls://127.0.0.1:$p" --insecure insecure)
    expect_eq "--insecure" "$out" "insecure"
    out=$(send "tls://[::1]:$p" "${SEND_TLS[@]}" v6 2>&1)
    send "tls://localhost:$p" --tls-ca "$T/none.pem" x >"$T/o" 2>"$T/e"
    expect_rc "missing CA file" $? 66
    send "tcp://127.0.0.1:$p" --insecure x >"$T/o" 2>"$T/e"
    expect_rc "TLS option on tcp" $? 64
    for s in ok old other; do stop_server "$s"; done
}

fds_of() { ls "/proc/$1/fd" | wc -l; }

# Resident memory in KiB of a server and its direct children (prefork's
# workers hold the sessions there).
rss_of() {
    local p total=0 kids
    kids=$(cat /proc/"$1"/task/*/children 2>/dev/null)
    for p in "$1" $kids; do
        total=$((total + $(awk '/^VmRSS:/ { print $2 }' /proc/"$p"/status 2>/dev/null || echo 0)))
    done
    echo "$total"
}

case_hostile() {
    need python3
    local h="$SRC/tests/tls/hostile.py" a p n0 n1 t
    start_server h 1 upper tls://127.0.0.1:0 --mode "$MODE" "${SERVE_TLS[@]}" --idle-timeout 1 -q
    a=$(addr h tls)
    p=$(port h tls)
    out=$(send "$a" "${SEND_TLS[@]}" warm)
    expect_eq "first client" "$out" "WARM"
    n0=$(fds_of "$PID_h")
    # A plain-text client: closed at once; the server serves on.
    out=$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 socat -t 3 - "TCP4:127.0.0.1:$p" | tr -d '\0')
    [[ $out == *HTTP* ]] && fail "a plain-text client was answered in plain text"
    # A stalled handshake is ended by the idle timeout (1 s), and others are
    # served meanwhile (not in sync mode, which serves one at a time).
    timeout 20 python3 "$h" stall "$p" >"$T/stall" &
    PIDS+=($!)
    if [ "$MODE" != sync ]; then
        out=$(send "$a" "${SEND_TLS[@]}" during)
        expect_eq "during a stalled handshake" "$out" "DURING"
    fi
    wait_exit $! 15
    t=$(cat "$T/stall")
    awk -v t="$t" 'BEGIN { exit !(t >= 0.8 && t < 5) }' || fail "stalled handshake ended after $t s"
    out=$(timeout 20 python3 "$h" garbage "$p" "$C/ca.pem")
    expect_eq "garbage record" "$out" "closed"
    timeout 60 python3 "$h" abort 1000 "$p" || fail "aborting 1000 handshakes"
    # Memory: a second round of 1,000 aborted handshakes must not grow the
    # server (a leak of one SSL per handshake would be megabytes); the first
    # round warmed the allocator's arenas and OpenSSL's caches.
    # Under a sanitizer the allocator holds freed blocks back (ASan's
    # quarantine) and memory says nothing; LeakSanitizer checks leaks there,
    # at the server's exit.
    local m1 m2
    m1=$(rss_of "$PID_h")
    timeout 60 python3 "$h" abort 1000 "$p" || fail "aborting 1000 more handshakes"
    m2=$(rss_of "$PID_h")
    if grep -q 'lib[at]san' "/proc/$PID_h/maps"; then
        echo "note: memory not compared under a sanitizer ($m1 KiB, then $m2 KiB)"
    else
        [ $((m2 - m1)) -lt 2048 ] ||
            fail "memory grew by $((m2 - m1)) KiB over 1000 aborted handshakes"
    fi
    out=$(send "$a" "${SEND_TLS[@]}" after)
    expect_eq "after the hostile clients" "$out" "AFTER"
    retry 10 test "$(fds_of "$PID_h")" -eq "$n0" ||
        fail "descriptors: $(fds_of "$PID_h") now, $n0 before"
    stop_server h
}

"case_$CASE"
