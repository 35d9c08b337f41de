/* udpc1 - slide 71's udpc1.py: reads a line, sends it to the UDP
 * upper-case server and prints the answer.
 *
 *     udpc1 [ADDRESS]                  (default udp://127.0.0.1:2345)
 *
 * The slide warns that udpc1.py "Hangs if no response". This one does not:
 * ss_request waits TIMEOUT_MS for the answer, sends again RETRIES times,
 * then gives up with a message and exit status 1. */
#define _POSIX_C_SOURCE 200809L

#include "example.h"

#include <stdio.h>
#include <stdlib.h>

#define TIMEOUT_MS 1000
#define RETRIES    1

int main(int argc, char **argv)
{
    if (argc > 2) return example_usage("udpc1 [ADDRESS]");
    const char *srvaddr = argc > 1 ? argv[1] : "udp://127.0.0.1:2345";

    char *data = NULL;
    size_t cap = 0;
    ssize_t len = example_input("Send: ", &data, &cap); /* raw_input("Send: ") */
    /* An empty datagram would bring back an empty answer, which the server
     * does not send (a handler that writes nothing sends no reply): there is
     * nothing to ask. */
    if (len <= 0) {
        free(data);
        return 0;
    }
    ss_conn_t *s;
    if (ss_dial(srvaddr, 0, &s) < 0) { /* s.bind(('', 0)): any free port */
        fprintf(stderr, "udpc1: %s\n", ss_errmsg());
        free(data);
        return 1;
    }
    char reply[1024];
    ssize_t n = ss_request(s, data, (size_t)len, reply, sizeof reply,
                           ss_now_ms() + TIMEOUT_MS * (RETRIES + 1), RETRIES + 1);
    if (n >= 0)
        printf("Recv: %.*s\n", (int)n, reply);
    else
        fprintf(stderr, "udpc1: %s\n", ss_conn_errmsg(s));
    ss_conn_close(s);
    free(data);
    return n < 0 ? 1 : 0;
}
