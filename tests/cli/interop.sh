#!/bin/bash
# interop.sh TOOL - our RFC services against clients nobody here wrote: TOOL
# is socat or nc (netcat-openbsd). echo, discard, daytime, chargen and time
# over tcp and udp, compared byte for byte where the RFC fixes the bytes.
. "$(dirname "$0")/lib.sh"

TOOL=$1
case $TOOL in
socat)
    need socat socat
    tcp_io() { timeout 10 socat -t 2 - "TCP4:127.0.0.1:$1"; }   # stdin out, half-close, print replies
    tcp_in() { timeout 10 socat -u "TCP4:127.0.0.1:$1" -; }     # print what the server sends
    udp_io() { timeout 10 socat -T 0.5 - "UDP4:127.0.0.1:$1"; } # one datagram, replies for 0.5 s
    ;;
nc)
    need nc netcat-openbsd
    nc -h 2>&1 | grep -q -- '-N' || skip "nc is not netcat-openbsd (no -N)"
    tcp_io() { timeout 10 nc -N 127.0.0.1 "$1"; }
    tcp_in() { timeout 10 nc -d 127.0.0.1 "$1"; }
    udp_io() { timeout 10 nc -u -w 1 127.0.0.1 "$1"; }
    ;;
*) fail "usage: interop.sh socat|nc" ;;
esac

# Every byte value, then lines with both endings: echo must not touch any.
for i in {0..255}; do printf "\\x$(printf %02x "$i")"; done >"$T/bytes"
printf 'line one\r\nline two\n' >>"$T/bytes"
[ "$(wc -c <"$T/bytes")" -eq 275 ] || fail "test data: $(wc -c <"$T/bytes") bytes, not 275"

for svc in echo discard daytime chargen time; do
    start_server "$svc" 2 "$svc" tcp://127.0.0.1:0 udp://127.0.0.1:0 --mode thread
done

# echo (RFC 862)
tcp_io "$(port echo tcp)" <"$T/bytes" >"$T/out" || fail "$TOOL: tcp echo failed"
cmp "$T/bytes" "$T/out" || fail "$TOOL: tcp echo changed the bytes"
out=$(printf 'hello datagram' | udp_io "$(port echo udp)")
expect_eq "$TOOL: udp echo" "$out" "hello datagram"

# discard (RFC 863): nothing back, and the session ends when the client's does
out=$(tcp_io "$(port discard tcp)" <"$T/bytes") || fail "$TOOL: tcp discard failed"
expect_eq "$TOOL: tcp discard" "$out" ""
out=$(printf 'into the void' | udp_io "$(port discard udp)")
expect_eq "$TOOL: udp discard" "$out" ""

# daytime (RFC 867)
out=$(tcp_in "$(port daytime tcp)" </dev/null) || fail "$TOOL: tcp daytime failed"
[[ $out =~ ^${CTIME_RE}$'\r'$ ]] || fail "$TOOL: tcp daytime [$out]"
out=$(printf x | udp_io "$(port daytime udp)")
[[ $out =~ ^${CTIME_RE}$'\r'$ ]] || fail "$TOOL: udp daytime [$out]"

# chargen (RFC 864): the first lines of the pattern; a datagram of 1-512
tcp_in "$(port chargen tcp)" </dev/null | head -c 740 >"$T/out"
chargen_lines 10 | cmp - "$T/out" || fail "$TOOL: tcp chargen's first 10 lines"
printf x | udp_io "$(port chargen udp)" >"$T/out"
n=$(wc -c <"$T/out")
[ "$n" -ge 1 ] && [ "$n" -le 512 ] || fail "$TOOL: udp chargen sent $n bytes"
chargen_lines 7 | head -c "$n" | cmp - "$T/out" || fail "$TOOL: udp chargen is not the pattern"

# time (RFC 868): 4 bytes, seconds since 1900
decode() {
    local b
    read -r -a b < <(od -An -tu1 "$1")
    [ "${#b[@]}" -eq 4 ] || fail "$TOOL: time reply of ${#b[@]} bytes"
    echo $(((b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]) - 2208988800))
}
tcp_in "$(port time tcp)" </dev/null >"$T/out" || fail "$TOOL: tcp time failed"
near_now "$(decode "$T/out")" || fail "$TOOL: tcp time is $(decode "$T/out"), not now"
printf x | udp_io "$(port time udp)" >"$T/out"
near_now "$(decode "$T/out")" || fail "$TOOL: udp time is $(decode "$T/out"), not now"

for svc in echo discard daytime chargen time; do stop_server "$svc"; done
echo "ok: $TOOL talks to echo, discard, daytime, chargen and time over tcp and udp"
