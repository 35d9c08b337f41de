/* fuzz_http.c - the request head parser of `serve --stats`
 * (app/services/stats_req.c), which every client of the stats listener
 * reaches.
 *
 * The input is the bytes of a head as they arrive, up to
 * STATS_HTTP_HEAD_MAX (more is never read). Invariants: the verdict is
 * "incomplete" or one of the statuses the parser may give, with a route
 * in range; a full buffer is always judged; and the verdict is the same
 * whatever the reads split the bytes into (the server parses again after
 * each): once a prefix is judged, the whole input gets that verdict. */
#include "fuzz.h"

#include "services/stats_http.h"

#include <string.h>

static int same(const stats_req_t *a, const stats_req_t *b)
{
    return a->status == b->status && a->head == b->head && a->route == b->route;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > STATS_HTTP_HEAD_MAX) size = STATS_HTTP_HEAD_MAX;
    const char *buf = (const char *)data;
    stats_req_t whole;
    int done = stats_http_parse(buf, size, &whole);
    FUZZ_CHECK(done == 0 || done == 1, "rc %d", done);
    if (done) {
        int s = whole.status;
        FUZZ_CHECK(s == 0 || s == 400 || s == 405 || s == 414 || s == 431, "status %d", s);
        FUZZ_CHECK(whole.route >= STATS_ROUTE_NONE && whole.route <= STATS_ROUTE_HEALTH, "route %d",
                   (int)whole.route);
    }
    if (size == STATS_HTTP_HEAD_MAX) FUZZ_CHECK(done, "a full buffer left incomplete");
    /* The first complete prefix decides: every longer one agrees. */
    stats_req_t first;
    size_t at = 0;
    while (at <= size && !stats_http_parse(buf, at, &first)) at++;
    FUZZ_CHECK((at <= size) == done, "prefix %zu complete, whole %d", at, done);
    if (done) FUZZ_CHECK(same(&first, &whole), "prefix %zu judged otherwise", at);
    return 0;
}
