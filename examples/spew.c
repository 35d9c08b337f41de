/* spew - slide 44's spew(): sends a long message over UDP in datagrams of at
 * most BUFSIZE bytes, from a port the system chooses. bucket prints them.
 *
 *     spew [ADDRESS [MESSAGE]]         (default udp://127.0.0.1:8881)
 *
 * Without MESSAGE, the message is everything read from stdin. */
#define _POSIX_C_SOURCE 200809L

#include "example.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUFSIZE 1024 /* as in bucket.c */

/* Reads all of stdin into a malloc'd buffer. Returns it (the caller frees
 * it) and its length in *len, or NULL. */
static char *read_all(size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = NULL;
    for (;;) {
        char *bigger = realloc(buf, cap);
        if (!bigger) break;
        buf = bigger;
        n += fread(buf + n, 1, cap - n, stdin);
        if (n < cap) {
            if (ferror(stdin)) break;
            *len = n;
            return buf;
        }
        cap *= 2;
    }
    free(buf);
    return NULL;
}

/* while msg: s.sendto(msg[:BUFSIZE], (host, port)); msg = msg[BUFSIZE:]
 * Each ss_flush on a dialed UDP connection sends one datagram. */
static int spew(ss_conn_t *s, const char *msg, size_t len)
{
    while (len > 0) {
        size_t n = len < BUFSIZE ? len : BUFSIZE;
        int rc = ss_write(s, msg, n);
        if (rc == 0) rc = ss_flush(s);
        if (rc < 0) return rc;
        msg += n;
        len -= n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 3) return example_usage("spew [ADDRESS [MESSAGE]]");
    const char *address = argc > 1 ? argv[1] : "udp://127.0.0.1:8881";

    size_t len = 0;
    char *msg = argc > 2 ? strdup(argv[2]) : read_all(&len);
    if (!msg) {
        perror("spew: reading the message");
        return 1;
    }
    if (argc > 2) len = strlen(msg);
    ss_conn_t *s;
    int rc = ss_dial(address, 0, &s); /* s.bind(('', 0)): any free port */
    if (rc == 0) {
        rc = spew(s, msg, len);
        if (rc < 0) fprintf(stderr, "spew: %s\n", ss_conn_errmsg(s));
        ss_conn_close(s);
    } else {
        fprintf(stderr, "spew: %s\n", ss_errmsg());
    }
    free(msg);
    return rc < 0 ? 1 : 0;
}
