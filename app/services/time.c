/* time.c - the time service (RFC 868): the time as a 32-bit big-endian
 * count of seconds since 1900-01-01 00:00 UTC. A stream gets the four bytes
 * and is closed; a datagram (usually empty) gets them as the reply. */
#include "services.h"

int svc_time(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    if (svc_loop_guard(c)) return 0;
    uint32_t t = svc_rfc868(time(NULL));
    unsigned char be[4] = {(unsigned char)(t >> 24), (unsigned char)(t >> 16),
                           (unsigned char)(t >> 8), (unsigned char)t};
    int rc = ss_write(c, be, sizeof be);
    if (rc < 0 || ss_conn_is_datagram(c)) return rc;
    return svc_linger(c);
}
