# spew and bucket (slides 44-45): spew cuts a message into datagrams of
# BUFSIZE (1024) bytes; bucket prints each on a line, in order, repr-style.
source "$(dirname "$0")/lib.sh"

start_server bucket udp://127.0.0.1:0

# A message of 9000 bytes, read from stdin: 8 datagrams of 1024 and one of
# 808, which put back together are the message.
msg=$(for ((i = 1; i <= 1500; i++)); do printf '%05d ' "$i"; done)
printf '%s' "$msg" >"$TMP/msg"
run spew "$ADDR" <"$TMP/msg"
expect_rc spew 0
wait_lines bucket 10
mapfile -t got <"$TMP/bucket.out"
joined=""
for ((i = 1; i <= 9; i++)); do
    want=$((i < 9 ? 1024 : 808))
    [ "${#got[i]}" -eq "$want" ] || fail "datagram $i: ${#got[i]} bytes, expected $want"
    joined+=${got[i]}
done
[ "$joined" = "$msg" ] || fail "the datagrams put together differ from the message"

# Exactly two datagrams' worth: no empty third one.
printf '%2048s' x >"$TMP/msg"
run spew "$ADDR" <"$TMP/msg"
expect_rc spew 0

# The message as an argument, with bytes repr escapes: Python 2's repr picks
# "..." quotes for a text with ' and no ", so ' stays; with both, '...' and
# \' (the [1:-1] removes the quotes themselves).
run spew "$ADDR" $'tab\there \x01 it\'s \\ end\r\n\xff'
expect_rc spew 0
run spew "$ADDR" $'say "hi", it\'s \x7f'
expect_rc spew 0
wait_lines bucket 14
stop_server bucket
{
    echo "listening $ADDR"
    printf '%s\n' "${got[@]:1:9}"
    printf '%1024s\n' ""
    printf '%1024s\n' x
    printf '%s\n' 'tab\there \x01 it'\''s \\ end\r\n\xff'
    printf '%s\n' 'say "hi", it\'\''s \x7f'
} >"$TMP/bucket.expected"
expect_file bucket "$TMP/bucket.expected"
