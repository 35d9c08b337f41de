# tsTservSS and tsTclntSS (slides 64-65): one connection per line typed,
# each answered "[ctime] line"; the client stops at an empty line. Run over
# TCP and over a unix socket, whose file the server removes when it stops.
source "$(dirname "$0")/lib.sh"

for address in tcp://127.0.0.1:0 "unix:$TMP/ts.sock"; do
    start_server tsTservSS "$address"
    run tsTclntSS "$ADDR" < <(printf 'hello\n  two  words \n\nnot sent\n')
    expect_rc tsTclntSS 0
    expect_match tsTclntSS "\\[$CTIME\\] hello" "\\[$CTIME\\]   two  words"
    stop_server tsTservSS
    peer='tcp://127\.0\.0\.1:[0-9]+'
    [[ $ADDR == unix:* ]] && peer=$(quote_re "$ADDR")
    expect_match tsTservSS "listening $(quote_re "$ADDR")" \
        "\\.\\.\\.connected from: $peer" "\\.\\.\\.connected from: $peer"
done
[ ! -e "$TMP/ts.sock" ] || fail "tsTservSS left $TMP/ts.sock behind"
