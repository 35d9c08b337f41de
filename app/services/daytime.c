/* daytime.c - the daytime service (RFC 867): one human-readable line.
 * The format is ctime(3)'s, local time, ended by CR LF - what the BSD inetd
 * built-in sends ("Thu Nov 26 04:13:54 2026\r\n"); RFC 867 leaves the syntax
 * open. A stream gets the line and is closed; a datagram gets it as the
 * reply (its content is ignored). */
#include "services.h"

int svc_daytime(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    if (svc_loop_guard(c)) return 0;
    char line[SVC_CTIME_LEN + 3];
    svc_ctime(time(NULL), line, SVC_CTIME_LEN + 1);
    int rc = ss_puts(c, line);
    if (rc == 0) rc = ss_puts(c, "\r\n");
    if (rc < 0 || ss_conn_is_datagram(c)) return rc;
    return svc_linger(c);
}
