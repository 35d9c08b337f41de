#!/usr/bin/env bash
# seeds.sh - writes the hand-made seed files of fuzz/corpus/<target>/ (the
# seed-* files; regression inputs of past findings, crash-*, are kept as
# they were committed). Input formats: fuzz/README.md. Run from anywhere;
# commit what changes.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus && cd corpus

seed() { # target name printf-format [args...]
    local dir=$1 name=$2
    shift 2
    mkdir -p "$dir"
    # shellcheck disable=SC2059 # the format is ours: escapes for binary bytes
    printf -- "$@" >"$dir/seed-$name"
}

# ---------------------------------------------------------------- addr
seed addr tcp4 'tcp://127.0.0.1:7'
seed addr tcp6 'tcp://[::1]:2345'
seed addr tcp-any 'tcp://:80'
seed addr udp-any6 'udp://[::]:0'
seed addr udp-scoped 'udp://[fe80::1%%1]:53'
seed addr tcp-scoped-name 'tcp://[fe80::1%%lo]:9'
seed addr tcp-mapped 'tcp://[::ffff:10.0.0.1]:65535'
seed addr localhost 'tcp://localhost:8080'
seed addr v6-longest-run 'tcp://[1:0:0:2:0:0:0:3]:1'
seed addr v6-first-of-equals 'udp://[0:0:1:0:0:1:0:0]:2'
seed addr v6-single-zero 'tcp://[1:0:2:3:4:5:6:7]:3'
seed addr v6-compatible 'tcp://[::2:3]:4'
seed addr v6-mapped-long 'tcp://[0:0:0:0:0:ffff:1.2.3.4]:5'
seed addr v6-trailing 'tcp://[1::]:6'
seed addr v6-full 'tcp://[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%%4294967295]:65535'
seed addr unix-path 'unix:/tmp/ss.sock'
seed addr unix-abstract 'unix:@ss-abstract'
seed addr unixgram-relative 'unixgram:relative/path.sock'
seed addr unix-107 "unix:/$(printf 'p%.0s' $(seq 106))"
seed addr unix-108 "unix:/$(printf 'p%.0s' $(seq 107))"
seed addr bad-inet-aton 'tcp://127.1:80'
seed addr bad-decimal-host 'tcp://2130706433:1'
seed addr bad-no-port 'tcp://[::1]'
seed addr bad-port-range 'udp://1.2.3.4:65536'
seed addr bad-port-digits 'tcp://1.2.3.4:000080'
seed addr bad-unbracketed-v6 'tcp://::1:80'
seed addr bad-space 'tcp://host name:1'
seed addr bad-empty-scope 'udp://[::1%%]:1'
seed addr bad-v4-in-brackets 'tcp://[1.2.3.4]:5'
seed addr bad-scheme 'ftp://x:1'
seed addr bad-unix-empty 'unix:'
seed addr bad-abstract-empty 'unix:@'
seed addr name-never-resolved 'tcp://example.com:80'
# Raw: NUL, transport, length (2 bytes, big-endian), sockaddr bytes.
seed addr raw-unix-abstract-nul '\000\002\000\010\001\000\000ab\000cd'
seed addr raw-inet-short '\000\000\000\004\002\000\000\007'
seed addr raw-inet6 '\000\001\000\034\012\000\000\065\000\000\000\000\376\200\000\000\000\000\000\000\000\000\000\000\000\000\000\001\002\000\000\000'
seed addr raw-unknown-transport '\000\004\000\020\002\000\000\007\177\000\000\001'

# ---------------------------------------------------------------- readline
# Header: buffer_size, max_line, cap, ss_read mask, buffer cache; then the
# stream, \377 between chunks.
seed readline crlf '\000\000\000\000\000alpha\r\nbeta\r\n'
seed readline lf-chunks '\004\000\000\000\000one\n\377two\n\377\377three\n'
seed readline no-newline '\000\000\000\000\000last-without-newline'
seed readline max-line-8 '\000\010\000\000\000''1234567\n12345678\nok\nlonger-than-eight\n'
seed readline cap-4 '\000\000\003\000\000abc\ndefgh\n'
seed readline mixed-reads '\003\000\000\125\000a\nbb\nccc\n\377dd'
seed readline empty-and-nul '\000\000\000\000\000\n\n\r\n\000\000\n'
seed readline buffer-1 '\001\005\000\000\000hello\nworld\n'
seed readline long-line "\\020\\000\\000\\000\\000$(printf 'x%.0s' $(seq 1500))\\377$(printf 'y%.0s' $(seq 1500))\\n"
seed readline long-over-limit "\\010\\300\\000\\000\\000$(printf 'z%.0s' $(seq 5000))\\nafter\\n"
seed readline cache-exact '\010\000\000\000\001one\n\377two\377\n\377three'
seed readline cache-larger '\010\000\000\042\021ab\ncd\377ef\n\377\377gh\nij'

# ---------------------------------------------------------------- opts
# Arguments after the command name, NUL-separated; each input is parsed as
# "serve ...", as "send ..." and as "bench ...".
seed opts serve-mode 'echo\000tcp://:7\000--mode\000thread\000-w\0004'
seed opts serve-limits 'upper\000--max-line\00064k\000--idle-timeout\0000.5\000--drain-timeout\000500ms'
seed opts serve-slow 'upper\000--line-timeout\0003\000--min-rate\0001k:2.5\000--request-timeout\00030'
seed opts serve-peers 'echo\000unix:/s\000--allow-uid\0000,1000\000--allow-gid=65534'
seed opts serve-admit 'echo\000--allow\00010.0.0.0/8,::1\000--deny=10.6.6.6\000--max-per-source\0004\000--rate\0000.5:3\000--source-prefix\00024,48\000--source-table\0001024\000--udp-budget\00064k\000--udp-amplification\0003'
seed opts help '--help'
seed opts version '-V'
seed opts bad-mode 'echo\000--mode\000nosuch'
seed opts missing-value '--max-line'
seed opts unknown-short '-x'
seed opts workers-too-many '--workers=1025\000echo'
seed opts send-time 'udp://127.0.0.1:13\000--time\000-t\0001.5\000-r\0003'
seed opts send-conflict 'unix:/tmp/s\000hello\000--no-reply\000--max-bytes\0001M'
seed opts double-dash '--\000-dash-service\000tcp://:1'
seed opts abbreviation '--mo\000sync\000echo\000--verb'
seed opts ambiguous '--m\000x'
seed opts flag-with-value '--verbose=1\000echo'
seed opts negative '--max-connections\000-1\000echo'
seed opts exponent '--idle-timeout\0001e3\000echo'
seed opts zero-timeout '--timeout\0000\000x'
seed opts fractions 'x\000-t\000.0001\000--max-bytes\0001GiB\000--drain-timeout\0001.0009s'
seed opts too-many-addresses "echo$(printf '\\000tcp://:%d' $(seq 1 70))"
seed opts bench-all 'tcp://127.0.0.1:7\000-p\000echo\000-c\000100\000-t\0004\000-d\0000.5\000-w\000100ms\000-s\0001k\000-P\0008\000-r\0001e3\000-T\0001\000-i\00010ms\000-j\000-q'
seed opts bench-too-small 'udp://127.0.0.1:7\000--interval\0009ms\000--rate\000nan\000extra'

# ---------------------------------------------------------------- http
# The request head of serve --stats, as the client sends it.
seed http metrics 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: text/plain\r\n\r\n'
seed http page 'GET /?refresh=1 HTTP/1.1\r\nHost: a\r\n\r\n'
seed http healthz-lf '\n\nGET /healthz HTTP/1.0\n\n'
seed http head 'HEAD /metrics HTTP/1.1\r\n\r\n'
seed http post 'POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc'
seed http unknown 'GET /nope HTTP/1.1\r\n\r\n'
seed http bad-line 'hello there\r\n\r\n'
seed http no-version 'GET /\r\n\r\n'
seed http nul 'GET /\000 HTTP/1.1\r\n\r\n'
seed http partial 'GET /metrics HTTP/1.1\r\nHost: x\r\n'

# ---------------------------------------------------------------- proxy
# [accept: 0 both, 1 v1, 2 v2] then the bytes (proxy-protocol.txt 2.1, 2.2).
V2='\r\n\r\n\000\r\nQUIT\n'
seed proxy v1-tcp4 '\000PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET /'
seed proxy v1-tcp6 '\001PROXY TCP6 2001:db8::1 ::1 1 65535\r\n'
seed proxy v1-unknown '\000PROXY UNKNOWN\r\n'
seed proxy v1-unknown-more '\000PROXY UNKNOWN ffff::1 ::2 3 4\r\n'
seed proxy v1-longest '\000PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n'
seed proxy v1-bad-no-cr '\000PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'
seed proxy v1-bad-port '\000PROXY TCP4 1.2.3.4 5.6.7.8 01 65536\r\n'
seed proxy v1-bad-family '\000PROXY TCP4 ::1 5.6.7.8 1 2\r\n'
seed proxy v1-bad-spaces '\000PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n'
seed proxy v1-bad-long "\\000PROXY TCP4 $(printf '1%.0s' $(seq 120))\\r\\n"
seed proxy v1-bad-nul '\000PROXY TCP4 1.2.3.4\0005.6.7.8 1 2\r\n'
seed proxy v1-truncated '\000PROXY TCP4 1.2.3.4 5.6'
seed proxy v1-to-v2 '\002PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n'
seed proxy v2-tcp4 "\\000$V2"'\041\021\000\014\300\000\002\001\306\063\144\002\334\004\001\273data'
seed proxy v2-tcp6 "\\002$V2"'\041\041\000\044 \001\015\270\000\000\000\000\000\000\000\000\000\000\000\001\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\001\000\120\001\273'
seed proxy v2-local "\\000$V2"'\040\000\000\000'
seed proxy v2-local-tlv "\\000$V2"'\040\000\000\007\004\000\004abcd'
seed proxy v2-unspec "\\000$V2"'\041\000\000\000'
seed proxy v2-ssl-tlvs "\\000$V2"'\041\021\000\045\300\000\002\001\306\063\144\002\334\004\001\273\040\000\025\007\000\000\000\000\041\000\007TLSv1.3\042\000\003bob\004\000\002\000\000'
seed proxy v2-unix "\\000$V2"'\041\061\000\330'"$(printf '\\000%.0s' $(seq 216))"
seed proxy v2-bad-version "\\000"'\r\n\r\n\000\r\nQUIT\n\021\021\000\000'
seed proxy v2-bad-command "\\000$V2"'\042\021\000\014\300\000\002\001\306\063\144\002\334\004\001\273'
seed proxy v2-bad-family "\\000$V2"'\041\101\000\000'
seed proxy v2-bad-short-addr "\\000$V2"'\041\021\000\004abcd'
seed proxy v2-bad-tlv "\\000$V2"'\041\021\000\020\300\000\002\001\306\063\144\002\334\004\001\273\040\000\100\007'
seed proxy v2-bad-ssl-sub "\\000$V2"'\041\021\000\024\300\000\002\001\306\063\144\002\334\004\001\273\040\000\005\007\000\000\000\041'
seed proxy v2-oversized "\\000$V2"'\041\021\020\000'
seed proxy v2-truncated "\\000$V2"'\041\021\000\014\300\000\002'
seed proxy v2-to-v1 "\\001$V2"'\041\021\000\014\300\000\002\001\306\063\144\002\334\004\001\273'
seed proxy garbage '\000GET / HTTP/1.0\r\n\r\n'
seed proxy tls-hello '\000\026\003\001\002\000\001\000\001\374\003\003'

# ---------------------------------------------------------------- services
# Header: kind, max_line, buffer_size or max_datagram, peer reads, buffer
# cache; then the payload (stream: \377 between chunks; datagram: the packet).
for svc in echo discard chargen daytime time upper timestamp; do
    d=svc_$svc
    seed "$d" stream-lines '\000\000\000\000\000hello\nworld\n'
    seed "$d" stream-chunks '\000\000\007\001\000abc\377def\n\377ghi\r\n\377'
    seed "$d" stream-empty-line '\000\000\000\000\000one\n\r\ntwo\n'
    seed "$d" stream-no-newline '\000\000\000\000\000a\nb'
    seed "$d" stream-long-line '\000\010\000\000\000short\nthis line is too long\nnever\n'
    seed "$d" stream-small-sndbuf "\\002\\000\\020\\000\\000$(printf 'abcdefghij%.0s' $(seq 600))\\n"
    seed "$d" stream-budget '\000\000\000\370\000x'
    seed "$d" stream-cache '\000\000\001\002\011one\n\377two\n\377\377three'
    seed "$d" dgram-unixgram '\001\000\000\000\000hello datagram'
    seed "$d" dgram-udp '\003\000\000\000\000hello udp'
    seed "$d" dgram-empty '\003\000\000\000\000'
    seed "$d" dgram-empty-unixgram '\001\000\000\000\000'
    seed "$d" dgram-guard-7 '\007\000\000\000\000loop?'
    seed "$d" dgram-guard-37 '\037\000\000\000\000loop?'
    seed "$d" dgram-max-20 '\001\000\024\000\000x'
    seed "$d" dgram-binary '\001\000\000\000\000\000\377\r\nmixed Case\n'
    seed "$d" dgram-cache '\003\000\000\000\005cached reply'
done
