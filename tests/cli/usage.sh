#!/bin/bash
# usage.sh - the exits of the command-line contract: bad input is exit 64 with
# exactly one line on stderr naming the problem; an address in use or a
# permission error is exit 71 with the call, the address and the cause;
# --help and --version exit 0.
. "$(dirname "$0")/lib.sh"

RUN_AS=() # a command prefix, such as setpriv to drop root

# usage_case STATUS PATTERN ARGS...: `socketserver ARGS` must exit STATUS
# with one stderr line containing PATTERN and nothing on stdout.
usage_case() {
    local want=$1 pat=$2 rc
    shift 2
    timeout 10 "${RUN_AS[@]}" "$SS" "$@" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    expect_rc "socketserver $*" "$rc" "$want"
    expect_eq "socketserver $*: stderr lines" "$(wc -l <"$T/err")" 1
    grep -qF -- "$pat" "$T/err" || fail "socketserver $*: stderr [$(cat "$T/err")] lacks [$pat]"
    [ -s "$T/out" ] && fail "socketserver $*: wrote to stdout: $(cat "$T/out")"
    return 0
}

# ---- serve: services, addresses, options
usage_case 64 'unknown service "nosuch"' serve nosuch
usage_case 64 'missing SERVICE' serve
usage_case 64 'address "bogus://x"' serve echo bogus://x
usage_case 64 'port out of range' serve echo tcp://127.0.0.1:99999
usage_case 64 "missing ':PORT'" serve echo tcp://127.0.0.1
usage_case 64 'empty socket path' serve echo unix:
usage_case 64 'invalid IPv4 address' serve echo udp://127.0.0.300:7
# A bad last address binds nothing at all: no "listening" line.
usage_case 64 'address "tcp://x:y"' serve echo tcp://127.0.0.1:0 tcp://x:y
for v in abc -1 1e99 '' 0x10 1.5.2 ' 1' 1.; do
    usage_case 64 "--idle-timeout \"$v\"" serve echo --idle-timeout "$v"
    usage_case 64 "--drain-timeout \"$v\"" serve echo "--drain-timeout=$v"
done
for v in abc -1 1e99 '' 0x10 1.5.2 ' 1' 1.; do
    usage_case 64 "--line-timeout \"$v\"" serve echo --line-timeout "$v"
    usage_case 64 "--request-timeout \"$v\"" serve echo "--request-timeout=$v"
done
for v in abc -1 '' 0 : 100: :5 100:0 100:x 1.5 100:5:5 2T; do
    usage_case 64 "--min-rate \"$v\"" serve echo --min-rate "$v"
done
for v in abc -1 '' , 0, ,0 1,,2 4294967295 0x1; do
    usage_case 64 "--allow-uid \"$v\"" serve echo --allow-uid "$v"
    usage_case 64 "--allow-gid \"$v\"" serve echo "--allow-gid=$v"
done
usage_case 64 'more than 16 IDs' serve echo --allow-uid "$(seq -s, 1 17)"
# Admission by source: each bad value is one line and exit 64.
for v in abc -1 '' 1e3 0x10 1000001 2:0 2: :2 2:x 1.; do
    usage_case 64 "--rate \"$v\"" serve echo --rate "$v"
done
for v in abc -1 '' 1.5 2000000; do
    usage_case 64 "--max-per-source \"$v\"" serve echo --max-per-source "$v"
done
for v in abc '' 32 33,64 32,129 ,64 32, -1,64 32,64,1; do
    usage_case 64 "--source-prefix \"$v\"" serve echo --source-prefix "$v"
done
for v in abc -1 '' 2T 1.5; do
    usage_case 64 "--udp-budget \"$v\"" serve echo --udp-budget "$v"
done
for v in abc -1 '' 1001 1.5; do
    usage_case 64 "--udp-amplification \"$v\"" serve echo --udp-amplification "$v"
done
for v in abc 63 '' 16777217; do
    usage_case 64 "--source-table \"$v\"" serve echo --source-table "$v"
done
for v in '' , 10.0.0.0/33 ::1/129 nohost 10.0.0.1,,10.0.0.2 "$(seq -s, -f 10.0.0.%g 1 65)"; do
    usage_case 64 "--allow" serve echo --allow "$v"
    usage_case 64 "--deny" serve echo "--deny=$v"
done
for v in abc -1 1e99 '' 0 1.5 9999999999999999999999 16M1; do
    usage_case 64 "--max-line \"$v\"" serve echo --max-line "$v"
done
for v in abc -1 1e99 '' 1.5 +3 2000000; do
    usage_case 64 "--max-connections \"$v\"" serve echo --max-connections "$v"
done
usage_case 64 '--workers "99999": too large' serve echo --workers 99999
usage_case 64 '--idle-timeout "99999999999": too large' serve echo --idle-timeout 99999999999
usage_case 64 'unknown mode "nosuch"' serve echo --mode nosuch
usage_case 64 'option --mode needs a value' serve echo --mode
usage_case 64 'unknown or malformed option "--frobnicate"' serve echo --frobnicate
usage_case 64 'unknown option -Z' serve echo -Z
# Every mode the help lists as missing is refused by name.
"$SS" serve --help >"$T/help" || fail "serve --help failed"
missing=$(sed -n 's/.*not in this build: //p' "$T/help" | tr -d ,)
for m in $missing; do
    usage_case 64 "mode \"$m\" is not available in this build" serve echo --mode "$m"
done

# ---- send
usage_case 64 'missing ADDRESS' send
usage_case 64 'address "nowhere"' send nowhere hello
usage_case 64 '--timeout "abc"' send tcp://127.0.0.1:9 --timeout abc
usage_case 64 '--timeout "0": must be above 0' send tcp://127.0.0.1:9 --timeout 0
usage_case 64 '--retries "-1"' send udp://127.0.0.1:9 --retries -1
usage_case 64 '--retries "1000": too large' send udp://127.0.0.1:9 --retries 1000
usage_case 64 '--max-bytes "x"' send tcp://127.0.0.1:9 --max-bytes x
usage_case 64 'unknown or malformed option "--bogus"' send tcp://127.0.0.1:9 --bogus

# ---- the program
usage_case 64 'unknown command' frobnicate

# ---- help and version: exit 0 on stdout
for svc in echo discard chargen daytime time upper timestamp; do
    grep -q "^  $svc " "$T/help" || fail "serve --help does not list $svc"
done
for m in sync thread fork pool prefork event; do
    grep '^Modes' "$T/help" | grep -qw "$m" || fail "serve --help does not list mode $m"
done
for opt in --mode --workers --max-connections --idle-timeout --max-line --drain-timeout \
    --line-timeout --min-rate --request-timeout --allow-uid --allow-gid --allow --deny \
    --max-per-source --rate --source-prefix --source-table --udp-budget --udp-amplification; do
    grep -q -- "$opt" "$T/help" || fail "serve --help does not list $opt"
done
for args in "--help" "--version" "serve --version" "send --help" "send --version" "serve -h"; do
    # shellcheck disable=SC2086
    timeout 10 "$SS" $args >"$T/out" 2>"$T/err" || fail "socketserver $args: exit status $?"
    [ -s "$T/out" ] || fail "socketserver $args printed nothing"
    [ -s "$T/err" ] && fail "socketserver $args wrote to stderr: $(cat "$T/err")"
done
grep -q '^socketserver [0-9]' <("$SS" --version) || fail "--version: $("$SS" --version)"

# ---- runtime failures: exit 71 with the call, the address and the cause
start_server first 2 echo tcp://127.0.0.1:0 "unix:$T/live"
p=$(port first tcp)
usage_case 71 "bind tcp://127.0.0.1:$p: Address already in use" serve echo "tcp://127.0.0.1:$p"
usage_case 71 "Address already in use" serve echo "unix:$T/live"
usage_case 71 "No such file or directory" serve echo "unix:$T/no/such/dir/s"
[ -S "$T/live" ] || fail "a refused server removed the live server's socket file"
expect_eq "the first server still answers" "$(send "tcp://127.0.0.1:$p" hi)" hi
stop_server first

# ---- the default addresses: tcp and udp on 127.0.0.1:2345
"$SS" serve echo >"$T/default.out" 2>"$T/default.err" &
pid=$!
PIDS+=("$pid")
for ((i = 0; i < 1000; i++)); do
    [ "$(grep -c '^listening ' "$T/default.out")" -ge 2 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
done
if grep -q 'Address already in use' "$T/default.err"; then
    echo "note: port 2345 is in use here: the default addresses were not checked"
else
    expect_eq "the default addresses" "$(cat "$T/default.out")" \
        $'listening tcp://127.0.0.1:2345\nlistening udp://127.0.0.1:2345'
    kill -TERM "$pid"
    wait_exit "$pid" 5
    expect_rc "the default server after SIGTERM" "$EXIT_RC" 0
fi

# Permission denied: a port below 1024 for an unprivileged user (root drops
# to nobody for it).
if [ "$(sysctl -n net.ipv4.ip_unprivileged_port_start 2>/dev/null || echo 1024)" -le 80 ]; then
    echo "note: ports below 1024 are not privileged here; permission case not run"
elif [ "$(id -u)" -ne 0 ]; then
    usage_case 71 "bind tcp://127.0.0.1:80: Permission denied" serve echo tcp://127.0.0.1:80
elif command -v setpriv >/dev/null &&
    setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$SS" 2>/dev/null; then
    RUN_AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    usage_case 71 "bind tcp://127.0.0.1:80: Permission denied" serve echo tcp://127.0.0.1:80
    RUN_AS=()
else
    echo "note: cannot drop root to nobody; permission case not run"
fi
echo "ok: usage errors, help, version, address in use"
