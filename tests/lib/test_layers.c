/* test_layers.c - the connection-layer interface (src/internal.h, ss__layer)
 * in every mode: a layer pushed by the listener sits between the socket and
 * an unchanged handler. The test layer is a rehearsal of a PROXY header
 * reader and of TLS: its start reads a header line ("HELLO name") before
 * setup, keeping the bytes that follow it; its recv and send flip the case
 * of letters both ways; its close is counted. Cases:
 *   pass     the handler (upper) sees the flipped bytes, the client gets them
 *            flipped back; the header's name reaches the handler; every
 *            connection's layer is closed once
 *   slow     the header arrives in two parts 200 ms apart (start waits
 *            through the seam; in event mode other sessions go on)
 *   bad      a connection without the header is closed before setup with a
 *            log line, and the next one is served
 *   silent   a client that sends nothing is closed at the idle timeout
 * Usage: test_layers CASE MODE TRANSPORT. */
#include "harness.h"
#include "internal.h"

#include <ctype.h>
#include <errno.h>

/* What the server processes saw, shared with the test. */
typedef struct layer_counts {
    _Atomic int pushed, closed, handled, setups;
    char name[32]; /* the header's name, as the handler saw it */
} layer_counts;

static layer_counts *L;

/* ------------------------------------------------------------ the layer */

typedef struct hello_layer {
    ss__layer base; /* first: the layer is where its state is */
    char head[64];  /* the header line while start reads it */
    size_t hlen;
    char rest[64]; /* bytes read with the header that follow it */
    size_t rpos, rlen;
    ss_conn_t *conn;
} hello_layer;

static void flip(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        p[i] = (char)(isupper(ch) ? tolower(ch) : islower(ch) ? toupper(ch) : ch);
    }
}

/* Reads the header line through the layer below; what follows the '\n' in
 * the same read is kept for recv. */
static int hello_start(ss__layer *l, ss_conn_t *c, int *events)
{
    hello_layer *h = (hello_layer *)l;
    while (h->hlen < sizeof h->head) {
        ssize_t n =
            l->below->ops->recv(l->below, h->head + h->hlen, sizeof h->head - h->hlen, events);
        if (n < 0) return (int)n; /* -EAGAIN: wait for *events */
        if (n == 0) return -ECONNRESET;
        h->hlen += (size_t)n;
        char *nl = memchr(h->head, '\n', h->hlen);
        if (!nl) continue;
        size_t line = (size_t)(nl - h->head);
        if (line < 7 || memcmp(h->head, "HELLO ", 6) != 0) return -EPROTO;
        h->rlen = h->hlen - line - 1;
        memcpy(h->rest, nl + 1, h->rlen);
        *nl = '\0';
        snprintf(L->name, sizeof L->name, "%s", h->head + 6);
        ss_conn_set_data(c, L->name);
        return 0;
    }
    return -EPROTO; /* no line in 64 bytes */
}

static ssize_t hello_recv(ss__layer *l, void *buf, size_t n, int *events)
{
    hello_layer *h = (hello_layer *)l;
    ssize_t r;
    if (h->rpos < h->rlen) {
        r = (ssize_t)(h->rlen - h->rpos < n ? h->rlen - h->rpos : n);
        memcpy(buf, h->rest + h->rpos, (size_t)r);
        h->rpos += (size_t)r;
    } else {
        r = l->below->ops->recv(l->below, buf, n, events);
    }
    if (r > 0) flip(buf, (size_t)r);
    return r;
}

static ssize_t hello_send(ss__layer *l, const void *buf, size_t n, int *events)
{
    char tmp[256];
    size_t k = n < sizeof tmp ? n : sizeof tmp;
    memcpy(tmp, buf, k);
    flip(tmp, k);
    return l->below->ops->send(l->below, tmp, k, events);
}

static int hello_shutdown(ss__layer *l, int *events)
{
    return l->below->ops->shutdown(l->below, events);
}

static void hello_close(ss__layer *l)
{
    L->closed++;
    free(l);
}

static const ss__layer_ops hello_ops = {
    .name = "hello",
    .start = hello_start,
    .recv = hello_recv,
    .send = hello_send,
    .shutdown = hello_shutdown,
    .close = hello_close,
};

static int hello_push(ss_conn_t *c, void *arg)
{
    (void)arg;
    hello_layer *h = calloc(1, sizeof *h);
    if (!h) return -ENOMEM;
    h->base.ops = &hello_ops;
    h->conn = c;
    ss__conn_push(c, &h->base);
    L->pushed++;
    return 0;
}

static void add_layer(ss_server_t *s)
{
    if (ss__listener_add_layer(s, 0, hello_push, NULL) < 0) _exit(3);
}

/* ---------------------------------------------------------- the handler */

static int count_setup(ss_conn_t *c, void *ctx)
{
    (void)c, (void)ctx;
    L->setups++;
    return 0;
}

/* Upper case, each line prefixed with the header's name. */
static int upper(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    L->handled++;
    const char *name = ss_conn_data(c);
    char line[128];
    ssize_t n;
    while ((n = ss_readline(c, line, sizeof line)) > 0) {
        for (ssize_t i = 0; i < n; i++) line[i] = (char)toupper((unsigned char)line[i]);
        int rc = ss_printf(c, "%s:%s", name ? name : "?", line);
        if (rc < 0) return rc;
    }
    return (int)n;
}

static const ss_handler_t handler = {count_setup, upper, NULL, NULL};

/* ------------------------------------------------------------- clients */

static ss_conn_t *dial(const char *addr)
{
    ss_conn_t *c;
    ASSERT_OK(ss_dial(addr, ss_now_ms() + 3000, &c));
    ss_set_deadline(c, ss_now_ms() + 8000);
    return c;
}

/* Header and data in one write: the layer keeps what follows the header. */
static void case_pass(const char *addr)
{
    for (int i = 0; i < 3; i++) {
        ss_conn_t *c = dial(addr);
        ASSERT_OK(ss_puts(c, "HELLO ann\nMixed Case\n"));
        ASSERT_OK(ss_flush(c));
        /* upper sees "mIXED cASE", sends "ann:MIXED CASE", flipped on the way. */
        harness_expect_line(c, "ANN:mixed case\n");
        ASSERT_OK(ss_puts(c, "two\n"));
        harness_expect_line(c, "ANN:two\n");
        ss_conn_close(c);
    }
    harness_wait_for(&L->closed, 3);
    ASSERT_EQ(L->pushed, 3);
    ASSERT_EQ(L->handled, 3);
}

static void case_slow(const char *addr)
{
    ss_conn_t *c = dial(addr);
    ASSERT_OK(ss_puts(c, "HEL"));
    ASSERT_OK(ss_flush(c));
    usleep(200 * 1000);
    ASSERT_EQ(L->setups, 0); /* start still waits for the header */
    ASSERT_OK(ss_puts(c, "LO bo\nx\n"));
    ASSERT_OK(ss_flush(c));
    harness_expect_line(c, "BO:x\n");
    ss_conn_close(c);
    harness_wait_for(&L->closed, 1);
}

static void case_bad(const char *addr)
{
    ss_conn_t *c = dial(addr);
    ASSERT_OK(ss_puts(c, "GET / HTTP/1.0\n\n"));
    ASSERT_OK(ss_flush(c));
    harness_expect_closed(c);
    ss_conn_close(c);
    harness_wait_for(&L->closed, 1);
    ASSERT_EQ(L->setups, 0); /* no hook ran */
    c = dial(addr);          /* and the server goes on */
    ASSERT_OK(ss_puts(c, "HELLO cy\nok\n"));
    ASSERT_OK(ss_flush(c));
    harness_expect_line(c, "CY:ok\n");
    ss_conn_close(c);
}

static void case_silent(const char *addr)
{
    ss_conn_t *c = dial(addr);
    int64_t t0 = ss_now_ms();
    harness_expect_closed(c); /* the idle timeout (300 ms) ends the header's wait */
    ASSERT_LT(ss_now_ms() - t0, 4000);
    ss_conn_close(c);
    harness_wait_for(&L->closed, 1);
    ASSERT_EQ(L->setups, 0);
}

int main(int argc, char **argv)
{
    ss_mode_t mode;
    if (argc < 4 || ss_mode_parse(argv[2], &mode) < 0) {
        fprintf(stderr, "usage: test_layers pass|slow|bad|silent MODE TRANSPORT\n");
        return 2;
    }
    if (!ss_mode_available(mode)) return 77;
    L = mmap(NULL, sizeof *L, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT(L != MAP_FAILED);
    memset(L, 0, sizeof *L);
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.mode = mode;
    cfg.workers = 2;
    cfg.log_level = SS_LOG_ERROR;
    if (strcmp(argv[1], "silent") == 0) cfg.idle_timeout_ms = 300;
    harness_after_listen = add_layer;
    running r;
    start_server(&r, &cfg, &handler, argv[3], shared_counts_new());
    if (strcmp(argv[1], "pass") == 0)
        case_pass(r.addr);
    else if (strcmp(argv[1], "slow") == 0)
        case_slow(r.addr);
    else if (strcmp(argv[1], "bad") == 0)
        case_bad(r.addr);
    else if (strcmp(argv[1], "silent") == 0)
        case_silent(r.addr);
    else
        return 2;
    stop_server(&r);
    return 0;
}
