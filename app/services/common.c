/* common.c - what several services share: the UDP loop guard, the end of
 * a session that only writes, lingering close, the line buffer, and the
 * time formats of RFC 867 and RFC 868. */
#include "services.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define LINGER_MS        500  /* how long a closing session waits for the client's FIN */
#define LINGER_MAX_BYTES 4096 /* and how much of its input it drops meanwhile */

int svc_loop_guard(ss_conn_t *c)
{
    static const int ports[] = {7, 13, 19, 37}; /* echo, daytime, chargen, time */
    if (!ss_conn_is_datagram(c)) return 0;
    int port = ss_addr_port(ss_conn_peer(c)); /* -1 for unixgram: no ports there */
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) {
        if (port != ports[i]) continue;
        ss_server_t *s = ss_conn_server(c);
        if (s)
            ss_server_log(s, SS_LOG_DEBUG,
                          "not answering %s: source port %d is a service's (loop guard)",
                          ss_conn_peername(c), port);
        return 1;
    }
    return 0;
}

int svc_peer_gone(int err)
{
    return err == -EPIPE || err == -ECONNRESET;
}

int svc_linger(ss_conn_t *c)
{
    int rc = ss_close_write(c);
    if (rc < 0) return svc_peer_gone(rc) ? 0 : rc;
    int64_t until = ss_now_ms() + LINGER_MS;
    int64_t d = ss_deadline(c);
    ss_set_deadline(c, d > 0 && d < until ? d : until);
    char sink[512];
    size_t dropped = 0;
    ssize_t n;
    while (dropped < LINGER_MAX_BYTES && (n = ss_read(c, sink, sizeof sink)) > 0)
        dropped += (size_t)n;
    return 0; /* the reply is out: how the client leaves is its business */
}

char *svc_line_buffer(const ss_conn_t *c, size_t *cap)
{
    const ss_server_t *s = ss_conn_server(c);
    size_t max_line = s ? ss_server_config(s)->max_line : 8192;
    *cap = max_line + 1; /* ss_readline keeps the NUL in the buffer */
    return malloc(*cap);
}

char *svc_ctime(time_t t, char *buf, size_t cap)
{
    struct tm tm;
    /* strftime in the C locale (the program never calls setlocale) gives
     * ctime(3)'s "%.3s %.3s%3d %.2d:%.2d:%.2d %d" exactly. */
    if (!localtime_r(&t, &tm) || strftime(buf, cap, "%a %b %e %H:%M:%S %Y", &tm) == 0) {
        if (cap > 0) buf[0] = '\0';
    }
    return buf;
}

uint32_t svc_rfc868(time_t unix_seconds)
{
    /* Unsigned arithmetic wraps modulo 2^32 as RFC 868's 32-bit field does
     * (in 2036 the count restarts; clients tell the eras apart). */
    return (uint32_t)((uint64_t)unix_seconds + SVC_RFC868_OFFSET);
}

void svc_chargen_fill(char *buf, size_t n, uint64_t off)
{
    uint64_t line = off / SVC_CHARGEN_LINE;
    unsigned col = (unsigned)(off % SVC_CHARGEN_LINE);
    for (size_t i = 0; i < n; i++) {
        if (col < SVC_CHARGEN_WIDTH)
            buf[i] = (char)(' ' + (line + col) % SVC_CHARGEN_PERIOD);
        else
            buf[i] = col == SVC_CHARGEN_WIDTH ? '\r' : '\n';
        if (++col == SVC_CHARGEN_LINE) {
            col = 0;
            line++;
        }
    }
}
