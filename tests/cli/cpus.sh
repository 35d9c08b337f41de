#!/bin/bash
# cpus.sh PART - the defaults that scale with the CPUs follow the CPUs the
# process may use, counted from /proc (threads named ss-loop-N, children),
# never from log lines; and --cpu-affinity pins each loop or worker.
#   taskset   under taskset -c 0: one loop, prefork's one-CPU default; with
#             two CPUs allowed, two loops; SS_CPUS and --workers override
#   cgroup    as root, in a cgroup with a one-CPU quota made for the test
#             (v2, else the v1 cpu controller), removed afterwards
#   affinity  --cpu-affinity auto and LIST: each loop thread's, each
#             worker's Cpus_allowed_list, a respawned worker's too
#   usage     a bad LIST, or a CPU the process may not use, exits 64
. "$(dirname "$0")/lib.sh"

PART=${1:?usage: cpus.sh taskset|cgroup|affinity|usage}
REAL=$SS
unset SS_CPUS

# The CPUs this shell may use, one a line ("0-2,5" expanded).
allowed_cpus() {
    local item
    local -a items
    IFS=, read -ra items <<<"$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status)"
    for item in "${items[@]}"; do
        if [[ $item == *-* ]]; then seq "${item%-*}" "${item#*-}"; else echo "$item"; fi
    done
}
mapfile -t CPUS < <(allowed_cpus)

# loops PID: the event loop threads of PID, by name.
loops() {
    local n=0 f c
    for f in /proc/"$1"/task/*/comm; do
        c=$(cat "$f" 2>/dev/null) || continue
        [[ $c == ss-loop-* ]] && n=$((n + 1))
    done
    echo "$n"
}

# children PID: PID's child processes (prefork workers).
children() {
    cat /proc/"$1"/task/*/children 2>/dev/null | wc -w
}

# is WANT COMMAND...: whether COMMAND prints WANT (run anew at each retry).
is() {
    local want=$1
    shift
    [ "$("$@")" == "$want" ]
}

# expect_count WHAT FUNCTION PID WANT: FUNCTION PID reaches WANT within 5 s
# and stays there (no more loops or workers come later).
expect_count() {
    local what=$1 fn=$2 pid=$3 want=$4 got
    retry 5 is "$want" "$fn" "$pid"
    sleep 0.3
    got=$($fn "$pid")
    [ "$got" -eq "$want" ] || fail "$what: $got, expected $want"
}

# wrapper BEFORE PREFIX: $SS becomes a script that runs the shell code
# BEFORE, then execs the program under PREFIX (a taskset command line, or
# nothing), so that start_server's PID is the server's own.
wrapper() {
    printf '#!/bin/sh\n%s\nexec %s "%s" "$@"\n' "$1" "$2" "$REAL" >"$T/wrap.sh"
    chmod +x "$T/wrap.sh"
    SS=$T/wrap.sh
}

# serves NAME: its tcp listener answers an echo.
serves() {
    expect_eq "server $1 echoes" "$(send "$(addr "$1" tcp)" hello)" hello
}

# ---- the defaults under taskset, SS_CPUS and --workers
part_taskset() {
    need taskset util-linux
    wrapper : "taskset -c ${CPUS[0]}"
    start_server ev1 1 echo tcp://127.0.0.1:0 --mode event
    expect_count "event loops under taskset -c ${CPUS[0]}" loops "$PID_ev1" 1
    serves ev1
    grep -q 'event: 1 loop: 1 CPU in the affinity mask' "$T/ev1.err" ||
        fail "the log does not say why: $(cat "$T/ev1.err")"
    stop_server ev1
    start_server pf1 1 echo tcp://127.0.0.1:0 --mode prefork
    expect_count "prefork workers under taskset -c ${CPUS[0]}" children "$PID_pf1" 4
    serves pf1
    stop_server pf1
    SS_CPUS=3 start_server env 1 echo tcp://127.0.0.1:0 --mode event
    expect_count "event loops with SS_CPUS=3" loops "$PID_env" 3
    stop_server env
    SS_CPUS=3 start_server wk 1 echo tcp://127.0.0.1:0 --mode event --workers 2
    expect_count "event loops with --workers 2 (and SS_CPUS=3)" loops "$PID_wk" 2
    stop_server wk
    if [ "${#CPUS[@]}" -lt 2 ]; then
        echo "note: one CPU allowed here: the two-CPU case was not run"
        return
    fi
    wrapper : "taskset -c ${CPUS[0]},${CPUS[1]}"
    start_server ev2 1 echo tcp://127.0.0.1:0 --mode event
    expect_count "event loops under taskset -c ${CPUS[0]},${CPUS[1]}" loops "$PID_ev2" 2
    serves ev2
    stop_server ev2
    start_server pf2 1 echo tcp://127.0.0.1:0 --mode prefork
    expect_count "prefork workers with two CPUs" children "$PID_pf2" 8
    stop_server pf2
}

# ---- a cgroup with a one-CPU quota
CG=''
cg_remove() {
    local i
    [ -n "$CG" ] && [ -d "$CG" ] || return 0
    for ((i = 0; i < 100; i++)); do
        rmdir "$CG" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "warning: could not remove $CG" >&2
}

# The v1 cpu controller's mount point, from mountinfo (proc(5)).
v1_cpu_mount() {
    awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break
           if ($(i + 1) == "cgroup" && ("," $(i + 3) ",") ~ /,cpu,/) { print $5; exit } }' \
        /proc/self/mountinfo
}

# Makes $CG with a quota of one CPU: v2 (cpu.max), else v1 (cfs files).
# Returns 1, with the reason in SKIP_WHY, where neither can be made.
cg_make() {
    local v2=/sys/fs/cgroup v1
    if [ -f "$v2/cgroup.controllers" ] && grep -qw cpu "$v2/cgroup.controllers"; then
        grep -qw cpu "$v2/cgroup.subtree_control" 2>/dev/null ||
            echo +cpu >"$v2/cgroup.subtree_control" 2>/dev/null
        CG=$v2/ss-test-$$
        mkdir "$CG" 2>/dev/null && echo "100000 100000" >"$CG/cpu.max" 2>/dev/null && return 0
        cg_remove
    fi
    v1=$(v1_cpu_mount)
    if [ -n "$v1" ]; then
        CG=$v1/ss-test-$$
        mkdir "$CG" 2>/dev/null && echo 100000 >"$CG/cpu.cfs_period_us" 2>/dev/null &&
            echo 100000 >"$CG/cpu.cfs_quota_us" 2>/dev/null && return 0
        cg_remove
    fi
    SKIP_WHY="no cgroup v2 cpu controller and no v1 cpu hierarchy where a group can be made"
    return 1
}

part_cgroup() {
    [ "$(id -u)" -eq 0 ] || skip "cgroup: not root (a cgroup with a CPU quota needs root)"
    trap 'cleanup; cg_remove' EXIT
    cg_make || skip "cgroup: $SKIP_WHY"
    echo "note: cgroup $CG, one CPU of quota; ${#CPUS[@]} CPU(s) in the affinity mask"
    wrapper "echo \$\$ >'$CG/cgroup.procs' || exit 71" ""
    start_server ev 1 echo tcp://127.0.0.1:0 --mode event
    expect_count "event loops in a one-CPU cgroup" loops "$PID_ev" 1
    serves ev
    if [ "${#CPUS[@]}" -gt 1 ]; then
        grep -q 'event: 1 loop: cgroup CPU quota 1' "$T/ev.err" ||
            fail "the log does not give the quota as the reason: $(cat "$T/ev.err")"
    fi
    stop_server ev
    start_server pf 1 echo tcp://127.0.0.1:0 --mode prefork
    expect_count "prefork workers in a one-CPU cgroup" children "$PID_pf" 4
    serves pf
    stop_server pf
}

# ---- --cpu-affinity
# cpus_of PID: Cpus_allowed_list of a task or process.
cpus_of() {
    awk '/^Cpus_allowed_list:/ { print $2 }' "$1/status" 2>/dev/null
}

# loop_cpus PID: "ss-loop-0=CPU ss-loop-1=CPU ..." sorted.
loop_cpus() {
    local t out=()
    for t in /proc/"$1"/task/*; do
        [[ $(cat "$t/comm" 2>/dev/null) == ss-loop-* ]] || continue
        out+=("$(cat "$t/comm")=$(cpus_of "$t")")
    done
    printf '%s\n' "${out[@]}" | sort | tr '\n' ' '
}

# worker_cpus PID: the CPUs of PID's children, sorted, and "pid=cpu" pairs
# in WORKERS.
worker_cpus() {
    local c out=()
    WORKERS=()
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        out+=("$(cpus_of "/proc/$c")")
        WORKERS+=("$c=$(cpus_of "/proc/$c")")
    done
    printf '%s\n' "${out[@]}" | sort -n | tr '\n' ' '
}

# replaced PID VICTIM CPU: VICTIM is no longer PID's child, and another
# child runs on CPU.
replaced() {
    local w found=''
    worker_cpus "$1" >/dev/null
    for w in "${WORKERS[@]}"; do
        [ "${w%=*}" == "$2" ] && return 1
        [ "${w#*=}" == "$3" ] && found=$w
    done
    [ -n "$found" ]
}

part_affinity() {
    [ "${#CPUS[@]}" -ge 2 ] || skip "affinity: one CPU allowed here: pinning two loops apart needs two"
    local a=${CPUS[0]} b=${CPUS[1]} all
    all=$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status)
    start_server auto 1 echo tcp://127.0.0.1:0 --mode event --workers 2 --cpu-affinity auto
    expect_count "event loops" loops "$PID_auto" 2
    retry 5 is "ss-loop-0=$a ss-loop-1=$b " loop_cpus "$PID_auto" ||
        fail "--cpu-affinity auto: loops on [$(loop_cpus "$PID_auto")], expected ss-loop-0=$a ss-loop-1=$b"
    expect_eq "the serving thread is not pinned" "$(cpus_of "/proc/$PID_auto")" "$all"
    serves auto
    stop_server auto
    # A LIST of one CPU: both loops there (going round).
    start_server list 1 echo tcp://127.0.0.1:0 --mode event --workers 2 --cpu-affinity "$b"
    expect_count "event loops" loops "$PID_list" 2
    retry 5 is "ss-loop-0=$b ss-loop-1=$b " loop_cpus "$PID_list" ||
        fail "--cpu-affinity $b: loops on [$(loop_cpus "$PID_list")]"
    stop_server list
    # Prefork: worker i on CPU i; a replaced worker takes its slot's CPU.
    start_server pf 1 echo tcp://127.0.0.1:0 --mode prefork --workers 2 --cpu-affinity auto
    expect_count "prefork workers" children "$PID_pf" 2
    retry 5 is "$a $b " worker_cpus "$PID_pf" ||
        fail "prefork workers on [$(worker_cpus "$PID_pf")], expected [$a $b]"
    worker_cpus "$PID_pf" >/dev/null
    local victim=${WORKERS[0]%=*} cpu=${WORKERS[0]#*=}
    kill -KILL "$victim"
    retry 5 replaced "$PID_pf" "$victim" "$cpu" ||
        fail "no new worker on CPU $cpu after $victim died: ${WORKERS[*]}"
    expect_eq "workers' CPUs after a respawn" "$(worker_cpus "$PID_pf")" "$a $b "
    serves pf
    stop_server pf
}

# ---- bad values: exit 64, one line naming the option and the value
usage_64() {
    local what=$1 needle=$2
    shift 2
    timeout 10 "$REAL" serve echo tcp://127.0.0.1:0 "$@" >"$T/out" 2>"$T/err"
    expect_rc "$what" "$?" 64
    expect_eq "$what: lines on stderr" "$(wc -l <"$T/err")" 1
    grep -qF -- "$needle" "$T/err" || fail "$what: \"$(cat "$T/err")\" lacks $needle"
}

part_usage() {
    usage_64 "a LIST of garbage" '--cpu-affinity "0,x": not a CPU list' --mode event \
        --cpu-affinity 0,x
    usage_64 "a range backwards" '--cpu-affinity "3-1": range 3-1 runs backwards' \
        --mode prefork --cpu-affinity 3-1
    usage_64 "an empty item" '--cpu-affinity "0,,1"' --mode event --cpu-affinity 0,,1
    usage_64 "a CPU beyond 1023" '--cpu-affinity "4096"' --mode event --cpu-affinity 4096
    usage_64 "a CPU the process may not use" \
        '--cpu-affinity "1023": config: cpu_list names CPU 1023, which this process may not use' \
        --mode event --cpu-affinity 1023
    timeout 10 "$REAL" serve echo tcp://127.0.0.1:0 --mode sync --cpu-affinity auto \
        --drain-timeout 0 >"$T/out" 2>"$T/err" &
    local pid=$!
    PIDS+=("$pid")
    retry 5 grep -q 'cpu-affinity has no effect in sync mode' "$T/err" ||
        fail "no warning for --cpu-affinity in sync mode: $(cat "$T/err")"
    kill -TERM "$pid"
    wait_exit "$pid" 5
}

case $PART in
taskset) part_taskset ;;
cgroup) part_cgroup ;;
affinity) part_affinity ;;
usage) part_usage ;;
*) fail "unknown part $PART" ;;
esac
echo "ok: cpus $PART"
