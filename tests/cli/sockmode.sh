#!/bin/bash
# sockmode.sh - `serve --socket-mode`: the unix and unixgram socket files get
# exactly the mode asked for, whatever the umask (narrower or wider than
# its result); without the option they keep the umask's; an abstract name
# has no file (a warning, and the server works); bad values are usage
# errors (64) that bind nothing. As root, with setpriv, the mode is seen to
# act: a client running as nobody is refused by a 0600 socket and served
# by a 0666 one, over unix and unixgram.
# shellcheck disable=SC2154 # PID_*: set by start_server's eval
. "$(dirname "$0")/lib.sh"

mode_of() {
    stat -c %a "$1"
}

# serve_modes NAME UMASK SERVE-ARGS...: a server with a unix and a unixgram
# listener ($T/NAME.s, $T/NAME.g) started under UMASK; the umask is this
# shell's again afterwards.
serve_modes() {
    local name=$1 mask=$2 old
    shift 2
    old=$(umask)
    umask "$mask"
    start_server "$name" 2 echo "unix:$T/$name.s" "unixgram:$T/$name.g" "$@"
    umask "$old"
}

# check_modes NAME WANT: both files have mode WANT, both answer; then
# SIGTERM, exit 0, and the files are gone.
check_modes() {
    expect_eq "$1: unix socket mode" "$(mode_of "$T/$1.s")" "$2"
    expect_eq "$1: unixgram socket mode" "$(mode_of "$T/$1.g")" "$2"
    expect_eq "$1: echo over unix" "$(send "unix:$T/$1.s" hi)" hi
    expect_eq "$1: echo over unixgram" "$(send "unixgram:$T/$1.g" hi)" hi
    stop_server "$1"
    if [ -e "$T/$1.s" ] || [ -e "$T/$1.g" ]; then fail "$1: socket files left behind"; fi
}

# ---- the mode asked for, in the forms chmod(1) takes (name umask option
# want), then whatever the umask: wider than it lets bind(2) make, and narrower
while read -r name mask opt want <&3; do
    serve_modes "$name" "$mask" --socket-mode "$opt"
    check_modes "$name" "$want"
done 3<<'EOF_MODES'
m600 022 0600 600
m666 022 0666 666
m660 022 660 660
m700 022 700 700
wide 077 0666 666
narrow 0 0640 640
EOF_MODES

# ---- no option: the umask's result (0777 less the umask, unix(7))
serve_modes def027 027
check_modes def027 750
serve_modes def022 022
check_modes def022 755

# ---- abstract names have no file: ignored, with a warning, and served
start_server abstract 2 echo "unix:@ss-sockmode-$$" "unixgram:@ss-sockmodeg-$$" --socket-mode 0600
expect_eq "echo over abstract unix" "$(send "unix:@ss-sockmode-$$" hi)" hi
expect_eq "echo over abstract unixgram" "$(send "unixgram:@ss-sockmodeg-$$" hi)" hi
grep -q -- '--socket-mode has no effect' "$T/abstract.err" ||
    fail "no warning for --socket-mode without a socket file: $(cat "$T/abstract.err")"
stop_server abstract
start_server mixed 1 echo "unix:$T/mixed.s" --socket-mode 0600
grep -q -- '--socket-mode has no effect' "$T/mixed.err" && fail "a warning with a socket file"
stop_server mixed

# ---- bad values: 64, one line naming the option, nothing bound
for bad in 888 8 1777 4755 01000 0 000 abc '' 0x1ff -600 +600 ' 600' '600 ' 00600 0o600 6.6 \
    '60 0' 7777; do
    "$SS" serve echo "unix:$T/bad.s" tcp://127.0.0.1:0 --socket-mode "$bad" >"$T/out" 2>"$T/err"
    expect_rc "--socket-mode '$bad'" "$?" 64
    [ "$(wc -l <"$T/err")" -eq 1 ] || fail "--socket-mode '$bad': not one line: $(cat "$T/err")"
    grep -q -- '--socket-mode' "$T/err" || fail "--socket-mode '$bad': message [$(cat "$T/err")]"
    [ -s "$T/out" ] && fail "--socket-mode '$bad': something was bound: $(cat "$T/out")"
    [ -e "$T/bad.s" ] && fail "--socket-mode '$bad' left a socket file"
done
"$SS" serve echo "unix:$T/bad.s" --socket-mode >"$T/out" 2>"$T/err"
expect_rc "--socket-mode without a value" "$?" 64

# ---- the mode acts: another user is refused by 0600, served by 0666
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: not root (a client as another user)"
    exit 0
fi
if ! command -v setpriv >/dev/null 2>&1 || ! getent passwd nobody >/dev/null; then
    echo "skipped: no setpriv or no user nobody (a client as another user)"
    exit 0
fi
as_nobody=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups)
chmod 755 "$T" # nobody must reach the sockets
serve_modes closed 022 --socket-mode 0600
for scheme in unix unixgram; do
    file=$T/closed.s
    [ "$scheme" == unixgram ] && file=$T/closed.g
    timeout 20 "${as_nobody[@]}" "$SS" send --retries 0 "$scheme:$file" hi >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" -ne 0 ] || fail "nobody was served over a 0600 $scheme socket"
    grep -q 'Permission denied' "$T/err" || fail "nobody over 0600 $scheme: $(cat "$T/err")"
done
stop_server closed
serve_modes open 022 --socket-mode 0666
expect_eq "nobody over a 0666 unix socket" \
    "$(timeout 20 "${as_nobody[@]}" "$SS" send "unix:$T/open.s" hi)" hi
expect_eq "nobody over a 0666 unixgram socket" \
    "$(timeout 20 "${as_nobody[@]}" "$SS" send "unixgram:$T/open.g" hi)" hi
stop_server open
echo "ok: --socket-mode"
