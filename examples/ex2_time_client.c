/* ex2_time_client - slide 49's ex2.py: connects to the time server, reads
 * what it sends and prints "The time is ...".
 *
 *     ex2_time_client [ADDRESS]        (default tcp://127.0.0.1:8888)
 */
#define _POSIX_C_SOURCE 200809L

#include "example.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc > 2) return example_usage("ex2_time_client [ADDRESS]");
    const char *address = argc > 1 ? argv[1] : "tcp://127.0.0.1:8888";

    ss_conn_t *s;
    if (ss_dial(address, ss_now_ms() + 5000, &s) < 0) { /* s.connect(...) */
        fprintf(stderr, "ex2_time_client: %s\n", ss_errmsg());
        return 1;
    }
    /* tm = s.recv(1024). One recv may return part of what was sent, so read
     * until the server closes (or 1023 bytes came). */
    char tm[1024];
    size_t len = 0;
    ssize_t n;
    do {
        n = ss_read(s, tm + len, sizeof tm - 1 - len);
        if (n > 0) len += (size_t)n;
    } while (n > 0 && len < sizeof tm - 1);
    if (n < 0) fprintf(stderr, "ex2_time_client: %s\n", ss_conn_errmsg(s));
    ss_conn_close(s);
    if (n < 0) return 1;
    printf("The time is %.*s\n", (int)len, tm);
    return 0;
}
