/* ex4_udp_upper_client - slide 41's ex4.py: sends "MixedCaseString" from a
 * port the system chooses and prints the reply and who sent it.
 *
 *     ex4_udp_upper_client [ADDRESS]   (default udp://127.0.0.1:11111)
 */
#define _POSIX_C_SOURCE 200809L

#include "example.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc > 2) return example_usage("ex4_udp_upper_client [ADDRESS]");
    const char *server = argc > 1 ? argv[1] : "udp://127.0.0.1:11111";

    /* Dialing UDP binds to port 0, as s.bind(('127.0.0.1', 0)) does: the
     * system chooses the port, and ss_conn_local tells which. */
    ss_conn_t *s;
    if (ss_dial(server, 0, &s) < 0) {
        fprintf(stderr, "ex4_udp_upper_client: %s\n", ss_errmsg());
        return 1;
    }
    char using[SS_ADDRSTRLEN];
    ss_addr_format(ss_conn_local(s), using, sizeof using);
    printf("using %s\n", using);

    /* sendto, then recvfrom: ex4.py waits forever if the reply is lost;
     * ss_request gives up after 1 s and one resend. */
    const char msg[] = "MixedCaseString";
    char data[1024];
    ssize_t n = ss_request(s, msg, sizeof msg - 1, data, sizeof data, ss_now_ms() + 2000, 2);
    if (n < 0) {
        fprintf(stderr, "ex4_udp_upper_client: %s\n", ss_conn_errmsg(s));
        ss_conn_close(s);
        return 1;
    }
    /* A connected UDP socket only accepts datagrams from the server, so the
     * sender is the address dialed. */
    printf("received %.*s from %s\n", (int)n, data, ss_conn_peername(s));
    ss_conn_close(s);
    return 0;
}
