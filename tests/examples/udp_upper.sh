# ex3_udp_upper_server and ex4_udp_upper_client (slides 40-41): the client
# says which port the system gave it; the server sees the datagram come from
# that very address and answers in upper case.
source "$(dirname "$0")/lib.sh"

start_server ex3_udp_upper_server udp://127.0.0.1:0
run ex4_udp_upper_client "$ADDR" </dev/null
expect_rc ex4_udp_upper_client 0
IFS= read -r line <"$TMP/ex4_udp_upper_client.out"
[[ $line =~ ^using\ (udp://127\.0\.0\.1:[0-9]+)$ ]] || fail "ex4 first line: '$line'"
using=${BASH_REMATCH[1]}
[ "$using" != "$ADDR" ] || fail "client and server share $ADDR"
expect_out ex4_udp_upper_client "using $using"$'\n'"received MIXEDCASESTRING from $ADDR"$'\n'
stop_server ex3_udp_upper_server
expect_out ex3_udp_upper_server "listening $ADDR"$'\n'"Connection from $using"$'\n'
