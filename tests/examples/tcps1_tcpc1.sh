# tcps1 and tcpc1 (slides 72-73): each line typed comes back in upper case
# until an empty line; the server prints each line. ARG: tcp or unix.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/session.sh"

case ${2:-tcp} in
tcp) start_server tcps1 tcp://127.0.0.1:0 ;;
unix) start_server tcps1 "unix:$TMP/tcps1.sock" ;;
*) fail "unknown transport ${2}" ;;
esac
check_sessions tcps1
stop_server tcps1
expect_session_log tcps1
[ ! -e "$TMP/tcps1.sock" ] || fail "tcps1 left $TMP/tcps1.sock behind"
