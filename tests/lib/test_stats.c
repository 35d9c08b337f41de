/* test_stats.c - ss_server_stats counts the traffic a test sends, in every
 * mode (fork children and prefork workers count into the parent's view):
 * accepted, requests, bytes, handler errors, timeouts, the duration
 * histogram, refusals by max_connections, by a failed TLS handshake and by
 * a bad PROXY header.
 * The server process publishes its snapshot from service_actions (its
 * serving thread) into memory the test reads. Usage: test_stats CASE MODE
 * TRANSPORT. */
#include "harness.h"

#include <errno.h>

typedef struct seen {
    ss_stats_t st;
    _Atomic int seq; /* odd while st is written (a seqlock of one writer) */
} seen;

static seen *S;
static ss_mode_t mode;

static void publish(ss_server_t *s, void *ctx)
{
    (void)ctx;
    ss_stats_t st;
    ASSERT_OK(ss_server_stats(s, &st));
    S->seq++;
    S->st = st;
    S->seq++;
}

/* A consistent copy of the last snapshot published. */
static ss_stats_t snapshot(void)
{
    for (;;) {
        int a = S->seq;
        ss_stats_t st = S->st;
        if (a % 2 == 0 && S->seq == a) return st;
        usleep(100);
    }
}

/* Waits up to 5 s for the published requests + refusals to reach n. */
static ss_stats_t wait_done(uint64_t requests, uint64_t refused)
{
    int64_t end = ss_now_ms() + 5000;
    for (;;) {
        ss_stats_t st = snapshot();
        uint64_t r = 0;
        for (int i = 0; i < SS_REFUSED__COUNT; i++) r += st.refused[i];
        if (st.requests >= requests && r >= refused && st.active == 0) return st;
        if (ss_now_ms() > end)
            FAIL_AT("waited 5 s for %" PRIu64 " requests and %" PRIu64 " refusals, have %" PRIu64
                    " and %" PRIu64 " (%" PRIu64 " active)",
                    requests, refused, st.requests, r, st.active);
        usleep(2000);
    }
}

/* Each line back as it came; "fail" fails the handler, which then counts
 * as a handler error. */
static int echo(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    char line[128];
    ssize_t n;
    while ((n = ss_readline(c, line, sizeof line)) > 0) {
        if (strncmp(line, "fail", 4) == 0) return -EPROTO;
        int rc = ss_write(c, line, (size_t)n);
        if (rc < 0 || ss_conn_is_datagram(c)) return rc;
        ss_flush(c);
    }
    return (int)n;
}

static const ss_handler_t handler = {NULL, echo, NULL, NULL};

static ss_proxy_protocol_t proxy; /* the proxy case's */

static void start(running *r, const char *transport, int max_connections)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.proxy_protocol = proxy;
    cfg.mode = mode;
    cfg.workers = 2;
    cfg.log_level = SS_LOG_ERROR;
    cfg.idle_timeout_ms = 300;
    cfg.max_connections = max_connections;
    cfg.service_actions = publish;
    cfg.service_interval_ms = 5;
    start_server(r, &cfg, &handler, transport, shared_counts_new());
}

static ss_conn_t *dial(const char *addr)
{
    ss_conn_t *c;
    ASSERT_OK(ss_dial(addr, ss_now_ms() + 2000, &c));
    ss_set_deadline(c, ss_now_ms() + 5000);
    return c;
}

/* Known traffic: 5 echoed lines of 6 bytes each on connections (or
 * datagrams) of their own, one request that fails, and on streams one
 * silent client that the idle timeout ends. */
static void case_traffic(const char *transport)
{
    running r;
    start(&r, transport, 0);
    int stream = strncmp(transport, "udp", 3) != 0 && strcmp(transport, "unixgram") != 0;
    for (int i = 0; i < 5; i++) harness_roundtrip(r.addr, "hello\n", "hello\n");
    ss_conn_t *c = dial(r.addr);
    if (stream) {
        ASSERT_OK(ss_puts(c, "fail\n"));
        harness_expect_closed(c);
    } else {
        ASSERT_OK(ss_write(c, "fail\n", 5));
        ASSERT_OK(ss_flush(c));
    }
    ss_conn_close(c);
    uint64_t want = 6;
    if (stream) {
        c = dial(r.addr); /* says nothing: ended after 300 ms */
        harness_expect_closed(c);
        ss_conn_close(c);
        want = 7;
    }
    ss_stats_t st = wait_done(want, 0);
    ASSERT_EQ(st.requests, want);
    ASSERT_EQ(st.accepted, stream ? want : 0);
    ASSERT_EQ(st.bytes_in, 5 * 6 + 5);
    ASSERT_EQ(st.bytes_out, 5 * 6);
    ASSERT_EQ(st.handler_errors, stream ? 2 : 1);
    ASSERT_EQ(st.timeouts, stream ? 1 : 0);
    for (int i = 0; i < SS_REFUSED__COUNT; i++) ASSERT_EQ(st.refused[i], 0);
    /* How they ended: 5 ok, 1 error, the silent one by the idle timeout. */
    uint64_t ended = 0;
    for (int i = 0; i < SS_STATS_RESULTS; i++) {
        const char *name = ss_stats_result_name(i);
        if (!name) {
            ASSERT_EQ(st.ended[i], 0);
            continue;
        }
        uint64_t w = strcmp(name, "ok") == 0             ? 5
                     : strcmp(name, "error") == 0        ? 1
                     : strcmp(name, "idle_timeout") == 0 ? (stream ? 1 : 0)
                                                         : 0;
        if (st.ended[i] != w) FAIL_AT("ended %s: %" PRIu64 ", want %" PRIu64, name, st.ended[i], w);
        ended += st.ended[i];
    }
    ASSERT_EQ(ended, want);
    ASSERT(ss_stats_result_name(-1) == NULL && ss_stats_result_name(SS_STATS_RESULTS) == NULL);
    /* The histogram: cumulative, every request in +Inf; the silent one
     * lasted at least 300 ms, beyond the 250 ms bucket. */
    ASSERT_EQ(st.duration_le_ms[SS_STATS_BUCKETS - 1], UINT64_MAX);
    ASSERT_EQ(st.duration_le_ms[0], 1);
    ASSERT_EQ(st.duration_bucket[SS_STATS_BUCKETS - 1], want);
    for (int i = 1; i < SS_STATS_BUCKETS; i++)
        ASSERT_GE(st.duration_bucket[i], st.duration_bucket[i - 1]);
    if (stream) {
        ASSERT_GE(st.duration_sum_ms, 300);
        ASSERT_EQ(st.duration_le_ms[6], 250);
        ASSERT_EQ(st.duration_bucket[6], want - 1);
    }
    ASSERT_EQ(st.active, 0);
    stop_server(&r);
}

/* max_connections 1: a client beyond the one served is refused, counted
 * under its reason, and accepted all the same. */
static void case_maxconn(const char *transport)
{
    running r;
    start(&r, transport, 1);
    ss_conn_t *a = dial(r.addr);
    ASSERT_OK(ss_puts(a, "one\n"));
    harness_expect_line(a, "one\n");
    int64_t end = ss_now_ms() + 5000;
    while (snapshot().active != 1) {
        if (ss_now_ms() > end) FAIL_AT("the first client is never active");
        usleep(1000);
    }
    ss_conn_t *b = dial(r.addr);
    harness_expect_closed(b);
    ss_conn_close(b);
    ss_conn_close(a);
    ss_stats_t st = wait_done(1, 1);
    ASSERT_EQ(st.refused[SS_REFUSED_MAX_CONNECTIONS], 1);
    ASSERT_EQ(st.accepted, 2);
    ASSERT_EQ(st.requests, 1);
    ASSERT_EQ(st.bytes_in, 4);
    ASSERT_EQ(st.bytes_out, 4);
    stop_server(&r);
}

/* A client that speaks no TLS to a tls:// listener: refused as "tls", not
 * a request. */
static void case_tls(const char *transport)
{
    running r;
    start(&r, transport, 0);
    char plain[SS_ADDRSTRLEN];
    ASSERT(strncmp(r.addr, "tls://", 6) == 0);
    memcpy(plain, r.addr, sizeof plain);
    memcpy(plain, "tcp", 3); /* tcp://HOST:PORT: the same listener, no TLS */
    ss_conn_t *c = dial(plain);
    ASSERT_OK(ss_puts(c, "this is no client hello\r\n\r\n"));
    harness_expect_closed(c);
    ss_conn_close(c);
    harness_roundtrip(r.addr, "hello\n", "hello\n");
    ss_stats_t st = wait_done(1, 1);
    ASSERT_EQ(st.refused[SS_REFUSED_TLS], 1);
    ASSERT_EQ(st.accepted, 2);
    ASSERT_EQ(st.requests, 1);
    ASSERT_EQ(st.handler_errors, 0);
    ASSERT_EQ(st.bytes_in, 6);
    stop_server(&r);
}

/* A PROXY v1 listener: a bad header is refused as "proxy" (its bytes are
 * the layer's, not the session's), a good one is a request whose bytes are
 * those after the header. */
static void case_proxy(const char *transport)
{
    running r;
    proxy = SS_PROXY_V1;
    start(&r, transport, 0);
    ss_conn_t *c = dial(r.addr);
    ASSERT_OK(ss_puts(c, "PROXY NONSENSE\r\nhello\n"));
    harness_expect_closed(c);
    ss_conn_close(c);
    c = dial(r.addr);
    ASSERT_OK(ss_puts(c, "PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\nhello\n"));
    harness_expect_line(c, "hello\n");
    ss_conn_close(c);
    ss_stats_t st = wait_done(1, 1);
    ASSERT_EQ(st.refused[SS_REFUSED_PROXY], 1);
    ASSERT_EQ(st.accepted, 2);
    ASSERT_EQ(st.requests, 1);
    ASSERT_EQ(st.handler_errors, 0);
    ASSERT_EQ(st.bytes_in, 6);
    ASSERT_EQ(st.bytes_out, 6);
    stop_server(&r);
}

int main(int argc, char **argv)
{
    if (argc < 4 || ss_mode_parse(argv[2], &mode) < 0) {
        fprintf(stderr, "usage: test_stats traffic|maxconn|tls|proxy MODE TRANSPORT\n");
        return 2;
    }
    if (!ss_mode_available(mode)) return 77;
    S = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT(S != MAP_FAILED);
    memset(S, 0, sizeof *S);
    S->st.active = 1; /* nothing published yet */
    if (strcmp(argv[1], "traffic") == 0)
        case_traffic(argv[3]);
    else if (strcmp(argv[1], "maxconn") == 0)
        case_maxconn(argv[3]);
    else if (strcmp(argv[1], "tls") == 0)
        case_tls(argv[3]);
    else if (strcmp(argv[1], "proxy") == 0)
        case_proxy(argv[3]);
    else
        return 2;
    return 0;
}
