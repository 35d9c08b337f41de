/* timestamp.c - the seed's tsTservSS server: each line is answered with
 * the local time in ctime(3) style and the line, "[Thu Nov 26 04:13:54 2026]
 * line", until the end of the stream; a datagram is answered the same way. */
#include "services.h"

#include <errno.h>
#include <stdlib.h>

static int stamp(ss_conn_t *c)
{
    char now[SVC_CTIME_LEN + 1];
    svc_ctime(time(NULL), now, sizeof now);
    return ss_printf(c, "[%s] ", now);
}

static int timestamp_stream(ss_conn_t *c)
{
    size_t cap;
    char *line = svc_line_buffer(c, &cap); /* --max-line bounds it */
    if (!line) return -ENOMEM;
    ssize_t n = 0;
    int rc = 0;
    while (rc == 0 && (n = ss_readline(c, line, cap)) > 0) {
        rc = stamp(c);
        if (rc == 0) rc = ss_write(c, line, (size_t)n);
    }
    free(line);
    return rc < 0 ? rc : (n < 0 ? (int)n : 0);
}

static int timestamp_datagram(ss_conn_t *c)
{
    if (svc_loop_guard(c)) return 0;
    int rc = stamp(c);
    char buf[1024];
    ssize_t n = 0;
    while (rc == 0 && (n = ss_read(c, buf, sizeof buf)) > 0) rc = ss_write(c, buf, (size_t)n);
    return rc < 0 ? rc : (n < 0 ? (int)n : 0);
}

int svc_timestamp(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    return ss_conn_is_datagram(c) ? timestamp_datagram(c) : timestamp_stream(c);
}
