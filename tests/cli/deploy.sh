#!/usr/bin/env bash
# deploy.sh CASE - the tested snippets of docs/deploy.md:
#   haproxy   the "Behind HAProxy" configuration, taken from docs/deploy.md as
#             written (its ```haproxy block), moved to free loopback ports and
#             a 200 ms check interval, in front of two serve --proxy-protocol
#             v2 instances (one upper, one echo: a reply tells which one
#             answered). Both serve; SIGTERM to the one holding a session
#             lets that session finish while every new client is served by
#             the other (none fails: HAProxy retries and redispatches); the
#             drained one is marked DOWN; kill -9 of the other marks it DOWN.
#   k8s       the Kubernetes pod of "A Kubernetes pod with a readiness probe":
#             it parses (python3-yaml), its readiness probe asks /healthz on
#             the port --stats listens on, terminationGracePeriodSeconds
#             exceeds the preStop pause plus --drain-timeout, and its args,
#             moved to loopback port 0, start serve; with --stats in this
#             build, /healthz answers 200 (without it, that part is skipped
#             and says so).
# Skipped without haproxy or socat (haproxy), python3-yaml (k8s).
source "$(dirname "$0")/lib.sh"

SRC=${SS_SOURCE_DIR:?SS_SOURCE_DIR must name the source tree}

# via PORT SOURCE LINE: LINE through haproxy on PORT from the loopback
# address SOURCE; prints the reply line.
via() {
    printf '%s\n' "$3" | timeout 5 socat -t 2 - "TCP:127.0.0.1:$1,bind=$2" 2>/dev/null
}

# ha_config OUT FRONT A B: docs/deploy.md's haproxy configuration with the
# frontend on 127.0.0.1:FRONT and the servers on ports A and B.
ha_config() {
    awk '/^```haproxy$/ {on = 1; next} on && /^```$/ {exit} on {print}' "$SRC/docs/deploy.md" >"$T/doc.cfg"
    grep -q 'send-proxy-v2' "$T/doc.cfg" || fail "no haproxy block with send-proxy-v2 in docs/deploy.md"
    grep -q 'check-send-proxy' "$T/doc.cfg" || fail "the haproxy block lacks check-send-proxy"
    sed -e "s/^\( *bind \):7000$/\1127.0.0.1:$2/" \
        -e "s/127\.0\.0\.1:7001$/127.0.0.1:$3/" -e "s/127\.0\.0\.1:7002$/127.0.0.1:$4/" \
        -e "s/ inter 2s / inter 200ms /" "$T/doc.cfg" >"$1"
    grep -q "bind 127.0.0.1:$2" "$1" && grep -q "127.0.0.1:$3" "$1" && grep -q "127.0.0.1:$4" "$1" &&
        grep -q "inter 200ms" "$1" || fail "docs/deploy.md's haproxy block changed shape: $(cat "$T/doc.cfg")"
}

# haproxy_up A B: haproxy on the documented configuration, on a free-looking
# port (tried until it binds). Sets HA_PORT.
haproxy_up() {
    local i
    for ((i = 0; i < 20; i++)); do
        HA_PORT=$((20000 + RANDOM % 40000))
        ha_config "$T/haproxy.cfg" "$HA_PORT" "$1" "$2"
        haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.out" 2>"$T/haproxy.err" &
        HA_PID=$!
        PIDS+=("$HA_PID")
        sleep 0.3
        kill -0 "$HA_PID" 2>/dev/null && return 0
    done
    fail "haproxy did not start: $(cat "$T/haproxy.err")"
}

# down NAME: haproxy has marked server NAME down.
down() {
    grep -Eq "Server socketserver/$1 is DOWN" "$T/haproxy.err"
}

case_haproxy() {
    need haproxy haproxy
    need socat socat
    start_server a 1 upper tcp://127.0.0.1:0 --proxy-protocol v2 --mode event --drain-timeout 20
    start_server b 1 echo tcp://127.0.0.1:0 --proxy-protocol v2 --mode event --drain-timeout 20
    haproxy_up "$(port a tcp)" "$(port b tcp)"
    # shellcheck disable=SC2016 # expanded by the inner shell
    retry 5 bash -c '[ -n "$(printf "hi\n" | timeout 5 socat -t 2 - TCP:127.0.0.1:$1,bind=127.0.0.5 2>/dev/null)" ]' _ "$HA_PORT" ||
        fail "nothing served through haproxy: $(cat "$T/haproxy.err")"
    sleep 0.5 # several checks, which must all pass
    local i out na=0 nb=0
    for ((i = 0; i < 10; i++)); do
        out=$(via "$HA_PORT" 127.0.0.5 hello)
        case $out in
        HELLO) na=$((na + 1)) ;;
        hello) nb=$((nb + 1)) ;;
        *) fail "request $i through haproxy: [$out]" ;;
        esac
    done
    echo "through haproxy: $na to a (upper), $nb to b (echo)"
    [ "$na" -gt 0 ] && [ "$nb" -gt 0 ] || fail "one server got every client ($na, $nb)"
    down a && fail "a health check failed: $(cat "$T/haproxy.err")"
    down b && fail "a health check failed: $(cat "$T/haproxy.err")"

    # A session held through haproxy; the server that holds it drains.
    local fd held other want
    exec {fd}<>"/dev/tcp/127.0.0.1/$HA_PORT" || fail "connect to haproxy"
    printf 'first\n' >&"$fd"
    IFS= read -r -t 5 out <&"$fd" || fail "no reply on the held session"
    out=${out%$'\r'}
    case $out in
    FIRST) held=a other=b want=hello ;;
    first) held=b other=a want=HELLO ;;
    *) fail "held session: [$out]" ;;
    esac
    eval "kill -TERM \$PID_$held"
    local fails=0
    for ((i = 0; i < 20; i++)); do
        out=$(via "$HA_PORT" 127.0.0.6 hello)
        [ "$out" = "$want" ] || fails=$((fails + 1))
    done
    expect_eq "requests failed or served by the draining $held" "$fails" 0
    # The held session is still served, then ends; the drained server exits 0.
    printf 'second\n' >&"$fd"
    IFS= read -r -t 5 out <&"$fd" || fail "the held session lost its reply while $held drained"
    out=${out%$'\r'}
    case $out in SECOND | second) ;; *) fail "held session after SIGTERM: [$out]" ;; esac
    exec {fd}>&-
    local pid
    eval "pid=\$PID_$held"
    wait_exit "$pid" 10
    expect_rc "$held after its drain" "$EXIT_RC" 0
    retry 5 down "$held" || fail "haproxy did not mark the drained $held DOWN: $(cat "$T/haproxy.err")"
    out=$(via "$HA_PORT" 127.0.0.7 after)
    [ "$out" = "$( [ "$want" = hello ] && echo after || echo AFTER)" ] || fail "after the drain: [$out]"
    # A crash: kill -9 the other; haproxy marks it down too.
    eval "pid=\$PID_$other"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null # no "Killed" notice
    retry 5 down "$other" || fail "haproxy did not mark the killed $other DOWN: $(cat "$T/haproxy.err")"
    kill "$HA_PID"
}

# The pod's facts, one "key value" a line, from the YAML block after the
# heading "## A Kubernetes pod".
pod_facts() {
    python3 - "$SRC/docs/deploy.md" <<'PY'
import sys, yaml
text = open(sys.argv[1]).read()
part = text.split("## A Kubernetes pod", 1)[1]
block = part.split("```yaml\n", 1)[1].split("```", 1)[0]
pod = yaml.safe_load(block)
assert pod["kind"] == "Pod", "not a Pod"
spec = pod["spec"]
c = spec["containers"][0]
args = c["args"]
def opt(name):
    return args[args.index(name) + 1] if name in args else ""
ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
probe = c["readinessProbe"]["httpGet"]
port = probe["port"]
port = ports.get(port, port)
stop = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
pause = int(stop[1]) if len(stop) == 2 and stop[0] == "sleep" else 0
print("grace", spec["terminationGracePeriodSeconds"])
print("drain", opt("--drain-timeout") or "10")
print("pause", pause)
print("probe_path", probe["path"])
print("probe_port", port)
print("stats", opt("--stats"))
print("args", " ".join(args))
PY
}

case_k8s() {
    python3 -c 'import yaml' 2>/dev/null || skip "python3-yaml not installed"
    local facts
    facts=$(pod_facts) || fail "the pod in docs/deploy.md does not parse"
    fact() { echo "$facts" | sed -n "s/^$1 //p"; }
    expect_eq "readiness probe path" "$(fact probe_path)" /healthz
    local stats
    stats=$(fact stats)
    [ -n "$stats" ] || fail "the pod's serve has no --stats"
    expect_eq "readiness probe port (the --stats port)" "$(fact probe_port)" "${stats##*:}"
    local grace drain pause
    grace=$(fact grace) drain=$(fact drain) pause=$(fact pause)
    [ "$grace" -gt $((pause + ${drain%.*})) ] ||
        fail "terminationGracePeriodSeconds $grace does not exceed preStop $pause s + --drain-timeout $drain s"
    echo "grace period $grace s > preStop $pause s + drain $drain s"
    # The args as serve takes them, on loopback port 0.
    local args=() a have_stats=1
    read -r -a args <<<"$(fact args)"
    "$SS" serve --help | grep -q -- '--stats' || have_stats=0
    local run=() i
    for ((i = 0; i < ${#args[@]}; i++)); do
        a=${args[i]}
        [ "$i" = 0 ] && continue # "serve"
        if [ "$a" = --stats ] && [ "$have_stats" = 0 ]; then
            i=$((i + 1))
            continue
        fi
        [[ $a == tcp://0.0.0.0:* ]] && a=tcp://127.0.0.1:0
        run+=("$a")
    done
    start_server pod 1 "${run[@]}"
    local addr
    addr=$(addr pod tcp)
    out=$(send "$addr" hello) || fail "the pod's serve does not answer"
    expect_eq "the pod's service" "$out" hello
    if [ "$have_stats" = 1 ]; then
        local sp fd line
        # --stats prints "stats ADDRESS" once it listens.
        retry 5 grep -q '^stats ' "$T/pod.out" || fail "no stats line: $(cat "$T/pod.out")"
        sp=$(grep -m1 '^stats ' "$T/pod.out" | cut -d' ' -f2)
        sp=${sp##*:}
        exec {fd}<>"/dev/tcp/127.0.0.1/$sp" || fail "connect to --stats"
        printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&"$fd"
        IFS= read -r -t 5 line <&"$fd"
        exec {fd}>&-
        case $line in "HTTP/1.1 200"*) ;; *) fail "/healthz: [$line]" ;; esac
    else
        echo "skipped part: this build has no --stats: /healthz not asked"
    fi
    stop_server pod
}

case ${1:-} in
haproxy) case_haproxy ;;
k8s) case_k8s ;;
*) fail "unknown case ${1:-}" ;;
esac
echo PASS
