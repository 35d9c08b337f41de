/* discard.c - the discard service (RFC 863): reads and drops everything
 * until the client closes; never answers, on any transport. */
#include "services.h"

int svc_discard(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    if (ss_conn_is_datagram(c)) return 0; /* "simply throws away the datagram" */
    char buf[2048];
    ssize_t n;
    while ((n = ss_read(c, buf, sizeof buf)) > 0) {
    }
    return (int)n;
}
