# session.sh - the tcpc1 sessions that tcps1 and mixin (the same handler)
# must answer alike, and what the server prints for them.

# check_sessions SERVER: two sessions with tcpc1, checked.
check_sessions() {
    run tcpc1 "$ADDR" < <(printf 'hello\nWorld 2\n\nnot sent\n')
    expect_rc tcpc1 0
    expect_out tcpc1 $'HELLO\nWORLD 2\n'
    run tcpc1 "$ADDR" <<<'end of input ends it too' # then "\r\n" at EOF
    expect_rc tcpc1 0
    expect_out tcpc1 $'END OF INPUT ENDS IT TOO\n'
}

# expect_session_log SERVER [LINE...]: the server printed its listening line,
# the two sessions of check_sessions, then the LINEs (regular expressions).
expect_session_log() {
    local peer='tcp://127\.0\.0\.1:[0-9]+'
    [[ $ADDR == unix:* ]] && peer=$(quote_re "$ADDR")
    local name=$1
    shift
    expect_match "$name" "listening $(quote_re "$ADDR")" \
        "Connected: $peer" hello 'World 2' \
        "Connected: $peer" 'end of input ends it too' "$@"
}
