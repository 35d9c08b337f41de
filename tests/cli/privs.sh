#!/bin/bash
# privs.sh - `serve --user/--group`. With or without root: an unknown user or
# group exits 67 and binds nothing. Without root: asking for another user or
# group exits 77 and binds nothing (then "skipped: not root", exit 0). As
# root: `--user nobody --group nogroup` runs with all four user and group IDs
# dropped (real, effective, saved, filesystem) and no supplementary group
# but nogroup, still answers on tcp and unix, owns its socket file, warns
# that it may not remove it from a root-only directory, leaves it there and
# exits 0 on SIGTERM; --user alone takes the user's primary group, --group
# alone changes the group only; numeric IDs; a user listed in groups gets
# them, as initgroups(3) gives them; without root (setpriv) 77, or nothing
# to do when already that user. Every mode's workers: security.sh.
# shellcheck disable=SC2154 # PID_*: set by start_server's eval
. "$(dirname "$0")/lib.sh"

# ---- unknown names: 67, before anything is bound (no root needed)
for args in "--user no-such-user-xq" "--group no-such-group-xq" \
    "--user nobody --group no-such-group-xq" "--user 4000000000" "--user 4294967295" \
    "--group 4294967295"; do
    # shellcheck disable=SC2086 # $args is two words
    "$SS" serve echo "unix:$T/unknown.sock" tcp://127.0.0.1:0 $args >"$T/out" 2>"$T/err"
    expect_rc "$args" "$?" 67
    grep -q 'no such' "$T/err" || fail "$args: message [$(cat "$T/err")]"
    [ -s "$T/out" ] && fail "$args: something was bound: $(cat "$T/out")"
    [ -e "$T/unknown.sock" ] && fail "$args: a socket file was created"
done
for opt in --user --group; do
    "$SS" serve echo tcp://127.0.0.1:0 "$opt" '' >"$T/out" 2>"$T/err"
    expect_rc "$opt ''" "$?" 64
done

# no_drop_without_root WHAT CMD...: CMD (a serve asking for another user or
# group, run without root) exits 77 with a message, binding nothing.
no_drop_without_root() {
    local what=$1
    shift
    "$@" >"$T/out" 2>"$T/err"
    expect_rc "$what" "$?" 77
    grep -q 'needs root' "$T/err" || fail "$what: message [$(cat "$T/err")]"
    [ -s "$T/out" ] && fail "$what: something was bound: $(cat "$T/out")"
    [ -e "$T/noroot.sock" ] && fail "$what: a socket file was created"
}

if [ "$(id -u)" -ne 0 ]; then
    no_drop_without_root "--user root" "$SS" serve echo "unix:$T/noroot.sock" --user root
    [ "$(id -g)" -ne 0 ] &&
        no_drop_without_root "--group root" "$SS" serve echo "unix:$T/noroot.sock" --group root
    echo "skipped: not root"
    exit 0
fi

# ---- as root
getent passwd nobody >/dev/null || skip "no user nobody"
group=$(getent group nogroup >/dev/null && echo nogroup || echo nobody)
uid=$(id -u nobody)
gid=$(getent group "$group" | cut -d: -f3)
pgid=$(id -g nobody) # nobody's primary group

# ids PID Uid|Gid: the four IDs of that line of /proc/PID/status.
ids() {
    awk -v f="$2:" '$1 == f { print $2, $3, $4, $5 }' "/proc/$1/status"
}

# groups_of PID: the supplementary groups, sorted, on one line.
groups_of() {
    awk '$1 == "Groups:" { for (i = 2; i <= NF; i++) print $i }' "/proc/$1/status" | sort -n | xargs
}

# initgroups USER GID: the groups initgroups(3) gives USER with GID: GID and
# every group listing USER as a member, sorted, on one line.
initgroups() {
    getent group | awk -F: -v u="$1" -v g="$2" '
        BEGIN { print g }
        { n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) print $3 }' |
        sort -nu | xargs
}

# ---- --user nobody --group nogroup, in $T (root's, 0700)
start_server drop 2 echo tcp://127.0.0.1:0 "unix:$T/s" --user nobody --group "$group"
pid=$PID_drop
expect_eq "Uid after the drop" "$(ids "$pid" Uid)" "$uid $uid $uid $uid"
expect_eq "Gid after the drop" "$(ids "$pid" Gid)" "$gid $gid $gid $gid"
g=$(groups_of "$pid")
[ -z "$g" ] || [ "$g" == "$(initgroups nobody "$gid")" ] ||
    fail "Groups after the drop: [$g], expected none or [$(initgroups nobody "$gid")]"
expect_eq "echo over tcp as nobody" "$(send "$(addr drop tcp)" dropped)" dropped
expect_eq "echo over unix as nobody" "$(send "unix:$T/s" hi)" hi
expect_eq "socket file owner" "$(stat -c %u:%g "$T/s")" "$uid:$gid"
grep -q 'may not remove it.*left behind at exit' "$T/drop.err" ||
    fail "no warning at start about a socket file nobody may not remove: $(cat "$T/drop.err")"
stop_server drop # SIGTERM: exit 0, though the file could not be removed
grep -q "remove unix:$T/s: Permission denied; the socket file is left behind" "$T/drop.err" ||
    fail "no warning at exit about the file left behind: $(cat "$T/drop.err")"
[ -S "$T/s" ] || fail "the socket file should be left behind (documented)"
rm -f "$T/s"

# ---- --user alone: the user's primary group and its groups
start_server user 1 echo tcp://127.0.0.1:0 --user nobody
expect_eq "--user nobody: Uid" "$(ids "$PID_user" Uid)" "$uid $uid $uid $uid"
expect_eq "--user nobody: Gid" "$(ids "$PID_user" Gid)" "$pgid $pgid $pgid $pgid"
expect_eq "--user nobody: Groups" "$(groups_of "$PID_user")" "$(initgroups nobody "$pgid")"
expect_eq "echo as nobody" "$(send "$(addr user tcp)" hi)" hi
stop_server user

# ---- --group alone: the group, not the user; root's groups are dropped
start_server group 1 echo tcp://127.0.0.1:0 --group "$group"
expect_eq "--group alone: Uid" "$(ids "$PID_group" Uid)" "0 0 0 0"
expect_eq "--group alone: Gid" "$(ids "$PID_group" Gid)" "$gid $gid $gid $gid"
expect_eq "--group alone: Groups" "$(groups_of "$PID_group")" ""
expect_eq "echo with --group alone" "$(send "$(addr group tcp)" hi)" hi
stop_server group

# ---- numeric IDs
start_server num 1 echo tcp://127.0.0.1:0 --user "$uid" --group "$gid"
expect_eq "--user $uid: Uid" "$(ids "$PID_num" Uid)" "$uid $uid $uid $uid"
expect_eq "--group $gid: Gid" "$(ids "$PID_num" Gid)" "$gid $gid $gid $gid"
stop_server num

# ---- a user listed in groups gets them (initgroups), if there is one
member=$(getent group | awk -F: '$4 != "" { split($4, m, ","); print m[1]; exit }')
if [ -n "$member" ] && getent passwd "$member" >/dev/null; then
    start_server member 1 echo tcp://127.0.0.1:0 --user "$member"
    mgid=$(id -g "$member")
    expect_eq "--user $member: Groups" "$(groups_of "$PID_member")" "$(initgroups "$member" "$mgid")"
    expect_eq "--user $member: Gid" "$(ids "$PID_member" Gid)" "$mgid $mgid $mgid $mgid"
    stop_server member
else
    echo "skipped: no user is a member of a group (supplementary groups)"
fi

# ---- without root: 77; already that user: nothing to do
if ! command -v setpriv >/dev/null 2>&1; then
    echo "skipped: setpriv not installed (package util-linux): the cases without root"
    echo "ok: --user and --group"
    exit 0
fi
as_nobody=(setpriv --reuid="$uid" --regid="$gid" --clear-groups)
no_drop_without_root "--user root as nobody" "${as_nobody[@]}" "$SS" serve echo \
    "unix:$T/noroot.sock" --user root
no_drop_without_root "--group root as nobody" "${as_nobody[@]}" "$SS" serve echo \
    "unix:$T/noroot.sock" --group root
# A supplementary group that --user's list lacks cannot be dropped without root.
no_drop_without_root "--user nobody with group 0 as nobody" \
    setpriv --reuid="$uid" --regid="$gid" --groups 0 "$SS" serve echo "unix:$T/noroot.sock" \
    --user nobody --group "$group"
"${as_nobody[@]}" "$SS" serve echo tcp://127.0.0.1:0 --user nobody --group "$group" \
    >"$T/self.out" 2>"$T/self.err" &
self=$!
PIDS+=("$self")
retry 5 grep -q listening "$T/self.out" || fail "--user nobody as nobody: $(cat "$T/self.err")"
kill -TERM "$self"
wait_exit "$self" 5
expect_rc "--user nobody as nobody" "$EXIT_RC" 0
echo "ok: --user and --group"
