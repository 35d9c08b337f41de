/* echo.c - the echo service (RFC 862): a stream gets back every byte it
 * sends until it closes; a datagram is answered with itself. */
#include "services.h"

int svc_echo(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    if (svc_loop_guard(c)) return 0;
    /* The same loop serves both kinds: a datagram reads as its bytes, then
     * end, and what is written becomes the one reply datagram. A small fixed
     * buffer: echo needs no framing, so it never holds more than it read. */
    char buf[2048];
    if (ss_conn_is_datagram(c)) {
        /* An empty datagram is answered too, with an empty one (RFC 862:
         * "the data from it is sent back"): writing nothing makes the reply. */
        int rc = ss_write(c, "", 0);
        if (rc < 0) return rc;
    }
    for (;;) {
        ssize_t n = ss_read(c, buf, sizeof buf);
        if (n <= 0) return (int)n;
        int rc = ss_write(c, buf, (size_t)n);
        if (rc < 0) return rc;
    }
}
