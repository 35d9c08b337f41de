/* fuzz_readline.c - line framing (ss_readline in src/conn.c) over any
 * chunking of the stream, with small buffers and line limits.
 *
 * Input: 5 header bytes, then the stream with FUZZ_SEP between chunks.
 *   [0] buffer_size (fuzz_buffer_size)   [1] max_line (fuzz_max_line)
 *   [2] cap of the line buffer: 0 = max_line + 1, else 2-256
 *   [3] bit i set: call i (mod 8) is ss_read of 1 + [3] % 5 bytes, not a line
 *   [4] 0: buffers from malloc; else from a cache, as in event mode, whose
 *       blocks are [4] - 1 bytes larger than asked (fuzz_peer_cache)
 * The scripted peer (peer.c) sends each chunk when the connection waits, so
 * the connection's real fill path sees exactly those recv boundaries.
 *
 * Each call is checked against a model that knows only the bytes: from the
 * current position, a line is the bytes up to and including the next '\n'
 * (or to the end); if longer than the limit, min(cap - 1, max_line),
 * ss_readline fails with SS_ELINE after consuming exactly limit bytes, else
 * it returns the line. So: the returned bytes concatenate to the input, each
 * line ends with '\n' unless the stream ended, none is longer than the limit,
 * and the end of stream is 0, again and again. */
#include "fuzz.h"

#include <string.h>
#include <unistd.h>

typedef struct model {
    const uint8_t *data; /* the stream without separators */
    size_t len, pos;     /* and how much of it the calls consumed */
    size_t limit;
} model;

static void check_line(model *m, const char *buf, size_t cap, ssize_t rc)
{
    const uint8_t *rest = m->data + m->pos;
    size_t left = m->len - m->pos;
    const uint8_t *nl = memchr(rest, '\n', left);
    size_t line = nl ? (size_t)(nl - rest) + 1 : left;
    if (line > m->limit) {
        FUZZ_CHECK(rc == SS_ELINE, "at %zu: line of %zu > limit %zu, but %zd", m->pos, line,
                   m->limit, rc);
        FUZZ_CHECK(memcmp(buf, rest, m->limit) == 0 && buf[m->limit] == '\0',
                   "at %zu: SS_ELINE without the first %zu bytes", m->pos, m->limit);
        m->pos += m->limit; /* "the bytes of it read so far are consumed" */
        return;
    }
    FUZZ_CHECK(rc == (ssize_t)line, "at %zu: line of %zu (limit %zu, cap %zu), but %zd", m->pos,
               line, m->limit, cap, rc);
    FUZZ_CHECK(memcmp(buf, rest, line) == 0 && buf[line] == '\0', "at %zu: wrong bytes", m->pos);
    FUZZ_CHECK(line == 0 || buf[line - 1] == '\n' || m->pos + line == m->len,
               "at %zu: a line without '\\n' before the end", m->pos);
    m->pos += line;
}

static void check_read(model *m, const char *buf, size_t n, ssize_t rc)
{
    size_t left = m->len - m->pos;
    if (left == 0) {
        FUZZ_CHECK(rc == 0, "at the end: ss_read gave %zd", rc);
        return;
    }
    FUZZ_CHECK(rc >= 1 && (size_t)rc <= n && (size_t)rc <= left, "at %zu: ss_read(%zu) gave %zd",
               m->pos, n, rc);
    FUZZ_CHECK(memcmp(buf, m->data + m->pos, (size_t)rc) == 0, "at %zu: ss_read: wrong bytes",
               m->pos);
    m->pos += (size_t)rc;
}

/* Calls until two ends of stream in a row (each call consumes at least one
 * byte or reports the end, so this terminates). */
static void run_calls(ss_conn_t *c, model *m, size_t cap, uint8_t reads)
{
    char *buf = malloc(cap); /* exactly cap: an overflow is AddressSanitizer's */
    FUZZ_CHECK(buf != NULL, "out of memory");
    int ends = 0;
    for (unsigned i = 0; ends < 2; i++) {
        ssize_t rc;
        if (reads & (1u << (i % 8))) {
            size_t n = 1 + reads % 5u;
            char *rb = malloc(n); /* exactly n, as buf is exactly cap */
            FUZZ_CHECK(rb != NULL, "out of memory");
            rc = ss_read(c, rb, n);
            check_read(m, rb, n, rc);
            free(rb);
        } else {
            memset(buf, 0x55, cap);
            rc = ss_readline(c, buf, cap);
            FUZZ_CHECK(rc >= 0 || rc == SS_ELINE, "ss_readline: %zd (%s)", rc, ss_conn_errmsg(c));
            check_line(m, buf, cap, rc);
        }
        ends = rc == 0 ? ends + 1 : 0;
    }
    FUZZ_CHECK(m->pos == m->len, "stopped at %zu of %zu", m->pos, m->len);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5) return 0;
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.buffer_size = fuzz_buffer_size(data[0], 0);
    cfg.max_line = fuzz_max_line(data[1]);
    size_t cap = data[2] == 0 ? cfg.max_line + 1 : (size_t)data[2] + 1;
    const uint8_t *script = data + 5;
    size_t len = size - 5;

    uint8_t *plain = malloc(len ? len : 1);
    FUZZ_CHECK(plain != NULL, "out of memory");
    model m = {.data = plain, .len = fuzz_strip(script, len, plain)};
    m.limit = cap - 1 < cfg.max_line ? cap - 1 : cfg.max_line;

    fuzz_peer p;
    fuzz_peer_open(&p, script, len, 4096, 0, 0);
    if (data[4]) fuzz_peer_cache(&p, (size_t)data[4] - 1);
    ss_conn_t c;
    ss__conn_init(&c, p.conn_fd, SS_UNIX, &cfg);
    fuzz_peer_attach(&p);
    run_calls(&c, &m, cap, data[3]);
    ss__conn_release(&c); /* attached: the buffers go back to the cache */
    fuzz_peer_detach(&p);
    close(p.conn_fd);
    fuzz_peer_close(&p);
    free(plain);
    return 0;
}
