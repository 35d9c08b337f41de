#!/bin/bash
# deadline.sh MODE PART - the deadlines that slow and hostile peers cannot
# dodge (socketserver(7), "Slow and hostile peers"), black-box, in one mode:
#   line    as many one-byte-a-second clients as --max-connections allows,
#           against upper with --line-timeout 1: each is closed within the
#           line deadline plus a second of its first byte (sync, which serves
#           one at a time: within that per client queued before it), then a
#           normal client is served; an honest slow client (a byte every
#           0.5 s for 2 s, --line-timeout 3) is served.
#   typist  with the defaults, a line typed over 20 s (a key every 2 s) is
#           served.
#   rate    --min-rate ends a client that trickles whole lines (each in time
#           for the line deadline) and spares one that pauses between lines.
#   noread  chargen with --idle-timeout 1 to a client that never reads is
#           closed within the idle timeout plus a margin, over tcp and tls.
# Each part ends with the server's descriptors, threads and children back to
# their startup counts, and SIGTERM exiting 0.
# shellcheck disable=SC2154 # PID_*: set by eval in lib.sh
. "$(dirname "$0")/lib.sh"

PART=${2:?PART: line, typist, rate or noread}
need python3
PEER=$(dirname "$0")/slowpeer.py

peer() {
    timeout 120 python3 "$PEER" "$@" >"$T/peer.out" 2>&1
    local rc=$?
    cat "$T/peer.out"
    [ "$rc" -eq 0 ] || fail "slowpeer $* (exit $rc): $(cat "$T/peer.out")"
}

part_line() {
    local n=8 bound=2
    [ "$MODE" == sync ] && n=3 bound=$((3 * 2))
    # shellcheck disable=SC2046 # workers_for's words are separate options
    start_server line 1 upper tcp://127.0.0.1:0 --mode "$MODE" --max-connections "$n" \
        --line-timeout 1 $(workers_for $((n + 2)))
    local tcp
    tcp=$(addr line tcp)
    baseline line "$tcp"
    peer loris 127.0.0.1 "$(port line tcp)" "$n" 1 "$bound"
    served_within "$tcp" 1500
    grep -q 'line not ended within 1000 ms (line_timeout)' "$T/line.err" ||
        fail "the line deadline was not logged"
    no_leaks line
    stop_clean line

    # shellcheck disable=SC2046
    start_server honest 1 upper tcp://127.0.0.1:0 --mode "$MODE" --line-timeout 3 \
        $(workers_for 4)
    peer honest 127.0.0.1 "$(port honest tcp)" type 0.5
    stop_clean honest
}

# With the defaults (a line deadline of 60 s), a person typing a line in a
# terminal in raw mode, a key every 2 s for 20 s, is served.
part_typist() {
    # shellcheck disable=SC2046
    start_server typist 1 upper tcp://127.0.0.1:0 --mode "$MODE" $(workers_for 4)
    peer honest 127.0.0.1 "$(port typist tcp)" "slow typer" 2
    stop_clean typist
}

part_rate() {
    # shellcheck disable=SC2046
    start_server rate 1 upper tcp://127.0.0.1:0 --mode "$MODE" --min-rate 100:1 \
        --line-timeout 2 $(workers_for 4)
    local tcp
    tcp=$(addr rate tcp)
    baseline rate "$tcp"
    # Lines of 4 bytes at a byte per 0.2 s: 0.8 s each, within the line
    # deadline, at 5 bytes/s: ended after the grace and a window's half.
    peer trickle 127.0.0.1 "$(port rate tcp)" 0.2 4 5
    grep -q 'peer sends under 100 bytes/s (min_rate)' "$T/rate.err" ||
        fail "the minimum rate was not logged"
    # Pauses between lines, longer than the grace and the window, are not
    # measured: every line is answered.
    peer pauser 127.0.0.1 "$(port rate tcp)" 2.5 3
    served_within "$tcp" 1500
    no_leaks rate
    stop_clean rate
}

# noread_one NAME ADDRESS [CAFILE]: a client of chargen that never reads is
# closed, and logged, within the idle timeout (1 s) plus 2 s of its start.
noread_one() {
    local name=$1 a=$2 t0 dt
    shift 2
    : >"$T/$name.err.mark"
    t0=$(now_ms)
    timeout 30 python3 "$PEER" noread 127.0.0.1 "${a##*:}" 10 "$@" >"$T/noread.out" 2>&1 &
    PIDS+=("$!")
    wait_for "$T/$name.err" 'failed: write.*timed out' 6
    dt=$(($(now_ms) - t0))
    echo "$name: the client that never reads was closed after $dt ms"
    [ "$dt" -le 3000 ] || fail "$name: closed after $dt ms (idle timeout 1 s + 2 s)"
    kill "${PIDS[-1]}" 2>/dev/null
}

# warm ADDRESS [OPTIONS]: one exchange with chargen (a pool starts its
# threads, an event loop its stacks, with the first request: part of the
# startup state that baseline records).
warm() {
    send -t 5 --max-bytes 1k "$@" x >/dev/null || fail "chargen at $1 did not answer"
}

part_noread() {
    # shellcheck disable=SC2046
    start_server gen 1 chargen tcp://127.0.0.1:0 --mode "$MODE" --idle-timeout 1 \
        $(workers_for 4)
    warm "$(addr gen tcp)"
    baseline gen ""
    noread_one gen "$(addr gen tcp)"
    no_leaks gen
    stop_clean gen

    mkdir "$T/c"
    sh "$(dirname "$0")/../tls/mkcerts.sh" "$T/c" >"$T/mkcerts.out" 2>&1 || {
        [ $? -eq 77 ] && skip "openssl not installed"
        fail "mkcerts.sh: $(cat "$T/mkcerts.out")"
    }
    "$SS" serve echo tls://127.0.0.1:0 --tls-cert /nonexistent 2>&1 | grep -q 'built without TLS' &&
        {
            echo "tls: built without TLS; only tcp checked"
            return 0
        }
    # shellcheck disable=SC2046
    start_server tgen 1 chargen tls://127.0.0.1:0 --mode "$MODE" --idle-timeout 1 \
        --tls-cert "$T/c/server.pem" --tls-key "$T/c/server.key" $(workers_for 4)
    warm "$(addr tgen tls)" --tls-ca "$T/c/ca.pem"
    baseline tgen ""
    noread_one tgen "$(addr tgen tls)" "$T/c/ca.pem"
    no_leaks tgen
    stop_clean tgen
}

"part_$PART"
echo "ok: $PART deadlines in $MODE mode"
