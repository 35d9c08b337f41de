#!/bin/bash
# security.sh - the security basics of `serve` across modes: a symbolic link
# at a socket path is refused and left untouched; with --user/--group, in
# every mode, the server, its threads and its worker processes run as
# nobody and still serve; the socket files' fate after the drop (removed
# from a directory the user may write, announced and left behind
# elsewhere, with exit status 0); a port below 1024 needs root only to
# bind. --socket-mode: sockmode.sh; --user/--group's exit statuses, IDs and
# groups: privs.sh.
# shellcheck disable=SC2154 # PID_*, pid: set by eval
. "$(dirname "$0")/lib.sh"

# ---- a symbolic link at the socket path is refused and left untouched,
# whatever it points to: a file, nothing, a directory, a stale socket
printf 'precious\n' >"$T/file"
mkdir "$T/dir"
start_server stale 1 echo "unix:$T/stale.sock"
kill -9 "$PID_stale" # leaves a stale socket file behind
wait "$PID_stale" 2>/dev/null
[ -S "$T/stale.sock" ] || fail "no stale socket to point at"
for target in "$T/file" "$T/nowhere" "$T/dir" "$T/stale.sock"; do
    for scheme in unix unixgram; do
        ln -sfn "$target" "$T/link.sock"
        "$SS" serve echo "$scheme:$T/link.sock" >"$T/out" 2>"$T/err"
        rc=$?
        [ "$rc" -eq 71 ] || fail "$scheme over a symlink to ${target##*/}: exit $rc, $(cat "$T/err")"
        [ -L "$T/link.sock" ] || fail "the symlink to ${target##*/} was replaced ($scheme)"
        expect_eq "symlink target ($scheme)" "$(readlink "$T/link.sock")" "$target"
        grep -q 'listening' "$T/out" && fail "listened over a symlink to ${target##*/}"
    done
done
expect_eq "the symlink's file" "$(cat "$T/file")" precious
[ -S "$T/stale.sock" ] || fail "the stale socket behind a symlink was removed"
[ -e "$T/nowhere" ] && fail "a socket was created at a dangling symlink's target"

# ---- --user and --group
[ "$(id -u)" -eq 0 ] || skip "not root: the privilege drop needs root (the rest passed)"
getent passwd nobody >/dev/null || skip "no user nobody"
group=$(getent group nogroup >/dev/null && echo nogroup || echo nobody)
uid=$(id -u nobody)
gid=$(getent group "$group" | cut -d: -f3)

# ids_are PID [GID]: every thread of the process runs as nobody/GID (default
# GROUP's), real, effective, saved and filesystem ids alike, with no
# supplementary group but GID (nobody is in no other group here).
ids_are() {
    local s g=${2:-$gid}
    for s in /proc/"$1"/task/*/status; do
        [ "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$s")" == "$uid $uid $uid $uid" ] &&
            [ "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "$s")" == "$g $g $g $g" ] &&
            [[ "$(awk '/^Groups:/ { $1 = ""; print }' "$s" | xargs)" =~ ^($g)?$ ]] || return 1
    done
}

# The socket directory: writable by nobody (sticky, like /tmp), so the
# server removes its file at exit after the drop.
chmod 755 "$T" # nobody must reach the directories below
mkdir -m 1777 "$T/pub"
for mode in sync thread fork pool prefork event; do
    if ! "$SS" serve --help | sed -n 's/^Modes (--mode)://p' | cut -d';' -f1 | grep -qw "$mode"; then
        echo "skipped: $mode mode is not in this build"
        continue
    fi
    name=drop_$mode
    start_server "$name" 2 echo tcp://127.0.0.1:0 "unix:$T/pub/$mode.sock" --mode "$mode" \
        --user nobody --group "$group" --socket-mode 660 --workers 2
    eval "pid=\$PID_$name"
    ids_are "$pid" || fail "$mode: the server runs as $(grep -E '^(Uid|Gid|Groups)' "/proc/$pid/status")"
    expect_eq "$mode: socket file owner" "$(stat -c '%u:%g %a' "$T/pub/$mode.sock")" "$uid:$gid 660"
    expect_eq "$mode: echo after the drop" "$(send "$(addr "$name" tcp)" dropped)" dropped
    expect_eq "$mode: echo over unix after the drop" "$(send "unix:$T/pub/$mode.sock" hi)" hi
    # Workers (prefork) and session processes (fork: a session held open).
    exec 3<>"/dev/tcp/127.0.0.1/$(port "$name" tcp)"
    printf 'held\n' >&3
    IFS= read -r -t 5 _ <&3 || fail "$mode: no reply on a held session"
    for k in $(pgrep -P "$pid"); do
        ids_are "$k" || fail "$mode: child $k runs as $(grep -E '^(Uid|Gid)' "/proc/$k/status")"
    done
    exec 3>&-
    stop_server "$name"
    echo "$mode: ran as $uid:$gid, served, removed its socket file"
    [ -e "$T/pub/$mode.sock" ] && fail "$mode: the socket file is left after the drop"
    grep -q 'left behind' "$T/$name.err" && fail "$mode: a removable file was announced as left"
done

# A directory only root may write: the file cannot be removed as nobody;
# serve says so at start and at exit, leaves it, and still exits 0. The
# next server (started as root) replaces it, since nobody answers on it.
mkdir -m 755 "$T/priv"
start_server priv 1 echo "unix:$T/priv/s.sock" --user nobody
grep -q 'left behind at exit' "$T/priv.err" || fail "no warning about an unremovable socket file"
expect_eq "echo as nobody in a root directory" "$(send "unix:$T/priv/s.sock" hi)" hi
stop_server priv
[ -S "$T/priv/s.sock" ] || fail "the socket file should be left behind (documented)"
grep -q 'remove unix:.*Permission denied; the socket file is left behind' "$T/priv.err" ||
    fail "the file left behind was not logged at exit: $(cat "$T/priv.err")"
start_server priv2 1 echo "unix:$T/priv/s.sock"
stop_server priv2
[ -e "$T/priv/s.sock" ] && fail "a root server did not replace and remove the stale file"

# A port below 1024 needs root only to bind.
for ((p = 900; p < 1000; p++)); do
    "$SS" serve echo "tcp://127.0.0.9:$p" --user nobody >"$T/low.out" 2>"$T/low.err" &
    PIDS+=($!)
    low=$!
    for ((i = 0; i < 200; i++)); do
        grep -q listening "$T/low.out" && break
        kill -0 "$low" 2>/dev/null || break
        sleep 0.02
    done
    grep -q listening "$T/low.out" && break
    wait "$low" 2>/dev/null
done
grep -q listening "$T/low.out" || fail "no free port below 1000 on 127.0.0.9: $(cat "$T/low.err")"
ids_are "$low" "$(id -g nobody)" || fail "the low-port server is not nobody"
expect_eq "echo on port $p as nobody" "$(send "tcp://127.0.0.9:$p" low)" low
kill -TERM "$low"
wait_exit "$low" 5
expect_rc "low-port server after SIGTERM" "$EXIT_RC" 0

echo "ok: security basics"
