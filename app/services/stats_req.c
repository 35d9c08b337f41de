/* stats_req.c - the request head of `serve --stats` (RFC 9112 sections 2
 * and 3), judged from the bytes received so far: complete or not, within
 * the limits or not, and what it asks. Pure, and reads only buf[0..len),
 * so that fuzz/fuzz_http.c can drive it. */
#include "stats_http.h"

#include <string.h>

/* The next line of buf[from..len): its length without the LF and a CR
 * before it in *n; returns where the next one starts, or 0 when no LF has
 * come yet (*n: the bytes so far, a last CR not counted, so that the
 * length never depends on where a read ended). */
static size_t next_line(const char *buf, size_t len, size_t from, size_t *n)
{
    const char *nl = memchr(buf + from, '\n', len - from);
    size_t end = nl ? (size_t)(nl - buf) : len;
    *n = end - from;
    if (*n > 0 && buf[end - 1] == '\r') (*n)--;
    return nl ? end + 1 : 0;
}

static int starts(const char *p, size_t n, const char *word)
{
    size_t w = strlen(word);
    return n >= w && memcmp(p, word, w) == 0;
}

/* "METHOD SP TARGET SP HTTP/1.x": the method and the path (its query
 * ignored) become out's head and route. */
static void request_line(const char *p, size_t n, stats_req_t *out)
{
    const char *sp1 = memchr(p, ' ', n);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - p)) : NULL;
    if (!sp1 || !sp2 || sp1 == p || sp2 == sp1 + 1 ||
        !starts(sp2 + 1, n - (size_t)(sp2 + 1 - p), "HTTP/1.")) {
        out->status = 400;
        return;
    }
    size_t mlen = (size_t)(sp1 - p);
    out->head = mlen == 4 && memcmp(p, "HEAD", 4) == 0;
    if (!out->head && !(mlen == 3 && memcmp(p, "GET", 3) == 0)) {
        out->status = 405;
        return;
    }
    const char *t = sp1 + 1;
    size_t tlen = (size_t)(sp2 - t);
    const char *q = memchr(t, '?', tlen);
    if (q) tlen = (size_t)(q - t);
    static const struct {
        const char *path;
        stats_route_t route;
    } routes[] = {{"/", STATS_ROUTE_PAGE},
                  {"/metrics", STATS_ROUTE_METRICS},
                  {"/healthz", STATS_ROUTE_HEALTH}};
    out->route = STATS_ROUTE_NONE;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (tlen == strlen(routes[i].path) && memcmp(t, routes[i].path, tlen) == 0)
            out->route = routes[i].route;
}

int stats_http_parse(const char *buf, size_t len, stats_req_t *out)
{
    memset(out, 0, sizeof *out);
    size_t at = 0; /* empty lines before the request line are ignored */
    while (at < len && (buf[at] == '\r' || buf[at] == '\n')) at++;
    size_t start = at, first_len = 0;
    for (int first = 1;; first = 0) {
        size_t n, next = next_line(buf, len, at, &n);
        if (memchr(buf + at, '\0', (next ? next : len) - at)) {
            out->status = 400; /* only the head's own bytes: what follows it is not read */
            return 1;
        }
        if (n > STATS_HTTP_LINE_MAX) {
            out->status = first ? 414 : 431;
            return 1;
        }
        if (!next) break;
        if (first) first_len = n;
        if (!first && n == 0) {
            request_line(buf + start, first_len, out);
            return 1;
        }
        at = next;
    }
    if (len >= STATS_HTTP_HEAD_MAX) {
        out->status = 431;
        return 1;
    }
    return 0;
}
