# ex1_time_server and ex2_time_client (slides 48-49): each client prints the
# time the server sent, and the server logs each connection.
source "$(dirname "$0")/lib.sh"

start_server ex1_time_server tcp://127.0.0.1:0
for i in 1 2; do
    run ex2_time_client "$ADDR" </dev/null
    expect_rc ex2_time_client 0
    expect_match ex2_time_client "The time is $CTIME"
done
stop_server ex1_time_server
expect_match ex1_time_server "listening $(quote_re "$ADDR")" \
    'Got a connection from tcp://127\.0\.0\.1:[0-9]+' \
    'Got a connection from tcp://127\.0\.0\.1:[0-9]+'
