/* tcpc1 - slide 73's tcpc1.py: sends each line typed to the TCP upper-case
 * server and prints the answer; an empty line (or the end of input) sends
 * "\r\n", which ends the session.
 *
 *     tcpc1 [ADDRESS]                  (default tcp://127.0.0.1:2345)
 */
#define _POSIX_C_SOURCE 200809L

#include "example.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The session: each line out, its answer back. Returns 0 or an error. */
static int converse(ss_conn_t *s)
{
    char *data = NULL;
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        ssize_t len = example_input("Send: ", &data, &cap); /* raw_input("Send: ") */
        if (len < 0) len = 0;                               /* end of input: as empty */
        rc = ss_write(s, data ? data : "", (size_t)len);
        if (rc == 0) rc = ss_write(s, "\r\n", 2); /* s.send(data + "\r\n") */
        if (rc < 0 || len == 0) break;
        char reply[1024];
        ssize_t n = ss_readline(s, reply, sizeof reply); /* flushes, then reads */
        if (n <= 0) {
            rc = n < 0 ? (int)n : SS_EEOF; /* the server closed */
            break;
        }
        printf("%.*s\n", (int)strcspn(reply, "\r\n"), reply); /* print data[:-2] */
    }
    if (rc == 0) rc = ss_flush(s);
    free(data);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 2) return example_usage("tcpc1 [ADDRESS]");
    const char *srvaddr = argc > 1 ? argv[1] : "tcp://127.0.0.1:2345";

    ss_conn_t *s;
    if (ss_dial(srvaddr, ss_now_ms() + 5000, &s) < 0) { /* s.connect(srvaddr) */
        fprintf(stderr, "tcpc1: %s\n", ss_errmsg());
        return 1;
    }
    int rc = converse(s);
    if (rc < 0)
        fprintf(stderr, "tcpc1: %s\n",
                ss_conn_errmsg(s)[0] ? ss_conn_errmsg(s) : "the server closed the connection");
    ss_conn_close(s);
    return rc < 0 ? 1 : 0;
}
