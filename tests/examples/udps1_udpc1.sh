# udps1 and udpc1 (slides 70-71): each line typed goes out as a datagram and
# comes back in upper case. ARG: the transport, udp or unixgram.
source "$(dirname "$0")/lib.sh"

case ${2:-udp} in
udp) start_server udps1 udp://127.0.0.1:0 ;;
unixgram) start_server udps1 "unixgram:$TMP/udps1.sock" ;;
*) fail "unknown transport ${2}" ;;
esac
run udpc1 "$ADDR" <<<'Hello, World'
expect_rc udpc1 0
expect_out udpc1 $'Recv: HELLO, WORLD\n'
run udpc1 "$ADDR" <<<'' # nothing to send: no datagram, no answer
expect_rc udpc1 0
expect_out udpc1 ""
stop_server udps1
expect_out udps1 "listening $ADDR"$'\nHello, World\n'
[ ! -e "$TMP/udps1.sock" ] || fail "udps1 left $TMP/udps1.sock behind"
