/* upper.c - the seed's tcps1/udps1 server: each line is sent back in
 * upper case with its own line ending. On a stream an empty line ("\r\n" or
 * "\n") or the end of the stream ends the session; a datagram is answered
 * with itself in upper case. Only ASCII letters change: other bytes, binary
 * ones included, go back as they came. */
#include "services.h"

#include <errno.h>
#include <stdlib.h>

static void ascii_upper(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 'a' && p[i] <= 'z') p[i] = (char)(p[i] - 'a' + 'A');
}

static int is_empty_line(const char *p, ssize_t n)
{
    return (n == 1 && p[0] == '\n') || (n == 2 && p[0] == '\r' && p[1] == '\n');
}

/* ss_readline enforces --max-line: a longer line fails with SS_ELINE, which
 * ends this client's session and no other's. */
static int upper_stream(ss_conn_t *c)
{
    size_t cap;
    char *line = svc_line_buffer(c, &cap);
    if (!line) return -ENOMEM;
    ssize_t n = 0;
    int rc = 0;
    while (rc == 0 && (n = ss_readline(c, line, cap)) > 0 && !is_empty_line(line, n)) {
        ascii_upper(line, (size_t)n);
        rc = ss_write(c, line, (size_t)n);
    }
    free(line);
    return rc < 0 ? rc : (n < 0 ? (int)n : 0);
}

static int upper_datagram(ss_conn_t *c)
{
    if (svc_loop_guard(c)) return 0;
    int rc = ss_write(c, "", 0); /* an empty datagram gets an empty reply, as echo's */
    char buf[1024];
    ssize_t n = 0;
    while (rc == 0 && (n = ss_read(c, buf, sizeof buf)) > 0) {
        ascii_upper(buf, (size_t)n);
        rc = ss_write(c, buf, (size_t)n);
    }
    return rc < 0 ? rc : (int)n;
}

int svc_upper(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    return ss_conn_is_datagram(c) ? upper_datagram(c) : upper_stream(c);
}
