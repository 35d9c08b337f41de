# udpc1 (slide 71) "Hangs if no response": not this one. Against a port where
# nothing listens it fails at once (the ICMP port unreachable); against a
# server that never answers (bucket) it fails after its timeout and one
# resend (about 2 s). Either way: exit status 1, a message, no hang.
source "$(dirname "$0")/lib.sh"

# A port that was just free: bound by a server that is then stopped.
start_server udps1 udp://127.0.0.1:0
stop_server udps1
start=$(now_ms)
run udpc1 "$ADDR" <<<'anyone?'
expect_rc udpc1 1
[ "$(($(now_ms) - start))" -lt 5000 ] || fail "udpc1 took $(($(now_ms) - start)) ms"
expect_out udpc1 ""
grep -q "Connection refused" "$TMP/udpc1.err" || fail "udpc1 said: $(cat "$TMP/udpc1.err")"

start_server bucket udp://127.0.0.1:0
start=$(now_ms)
run udpc1 "$ADDR" <<<'anyone?'
expect_rc udpc1 1
took=$(($(now_ms) - start))
[ "$took" -ge 1900 ] && [ "$took" -lt 5000 ] || fail "udpc1 gave up after $took ms, not about 2 s"
expect_out udpc1 ""
grep -q "timed out" "$TMP/udpc1.err" || fail "udpc1 said: $(cat "$TMP/udpc1.err")"
stop_server bucket
expect_out bucket "listening $ADDR"$'\nanyone?\nanyone?\n' # the request and its resend
