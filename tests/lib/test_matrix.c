/* test_matrix.c - the proof of the one idea: ONE handler, written once in
 * blocking style, passes the same cases in every mode over every transport.
 * Usage: test_matrix MODE TRANSPORT CASE (ctest registers the product). */
#include "harness.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>

static shared_counts *counts;

/* ------------------------------------------------------------ the handler */

static int lab_setup(ss_conn_t *c, void *ctx)
{
    (void)c, (void)ctx;
    counts->setups++;
    counts->in_handler++;
    return 0;
}

static void lab_finish(ss_conn_t *c, void *ctx)
{
    (void)c, (void)ctx;
    counts->finished++;
    counts->in_handler--;
}

static void upcase(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (char)toupper((unsigned char)p[i]);
}

static int note(int rc)
{
    if (rc == -ECANCELED) counts->cancelled++;
    return rc;
}

/* A stream command: FAIL, SLEEP ms, WAIT, ECHO n; anything else uppercased. */
static int stream_line(ss_conn_t *c, char *line, size_t n)
{
    long v;
    if (strncmp(line, "FAIL", 4) == 0) return -EPROTO;
    if (sscanf(line, "SLEEP %ld", &v) == 1) {
        int rc = note(ss_sleep_until(ss_now_ms() + v));
        return rc < 0 ? rc : ss_puts(c, "SLEPT\n");
    }
    if (strncmp(line, "WAIT", 4) == 0) {
        char b[16];
        ssize_t r = note((int)ss_read(c, b, sizeof b));
        return r < 0 ? (int)r : 1;
    }
    if (sscanf(line, "ECHO %ld", &v) == 1 && v > 0 && v <= (1 << 22)) {
        char *big = malloc((size_t)v);
        ssize_t r = ss_read_full(c, big, (size_t)v);
        int rc = r == v ? ss_write(c, big, (size_t)v) : (int)(r < 0 ? r : SS_EEOF);
        free(big);
        return rc;
    }
    upcase(line, n);
    return ss_write(c, line, n);
}

static int lab_stream(ss_conn_t *c)
{
    char line[256];
    for (;;) {
        ssize_t n = ss_readline(c, line, sizeof line);
        if (n < 0) return note((int)n);
        if (n == 0 || strcmp(line, "\n") == 0 || strcmp(line, "\r\n") == 0) return 0;
        int rc = stream_line(c, line, (size_t)n);
        if (rc != 0) return rc < 0 ? rc : 0;
    }
}

static int lab_datagram(ss_conn_t *c)
{
    static _Thread_local char pkt[65536];
    ssize_t n = ss_read(c, pkt, sizeof pkt - 1);
    if (n < 0) return (int)n;
    pkt[n] = '\0';
    long v;
    if (strncmp(pkt, "FAIL", 4) == 0) return -EPROTO;
    if (strncmp(pkt, "SILENT", 6) == 0) return 0;
    if (sscanf(pkt, "SLEEP %ld", &v) == 1) {
        int rc = note(ss_sleep_until(ss_now_ms() + v));
        return rc < 0 ? rc : ss_puts(c, "SLEPT");
    }
    upcase(pkt, (size_t)n);
    return ss_write(c, pkt, (size_t)n);
}

static int lab_handle(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    counts->handled++;
    return ss_conn_is_datagram(c) ? lab_datagram(c) : lab_stream(c);
}

static void lab_error(ss_server_t *s, ss_conn_t *c, int err, void *ctx)
{
    (void)s, (void)c, (void)ctx;
    counts->errors++;
    counts->last_error = err;
}

static int deny_all(ss_server_t *s, const ss_addr_t *peer, void *ctx)
{
    (void)s, (void)peer, (void)ctx;
    return -EACCES; /* refused, with a reason for the log */
}

static const ss_handler_t lab = {lab_setup, lab_handle, lab_finish, NULL};

/* ------------------------------------------------------------ the cases */

static ss_mode_t mode;
static const char *transport;
static ss_config_t cfg;
static running srv;

static int is_dgram(void)
{
    return strncmp(transport, "udp", 3) == 0 || strcmp(transport, "unixgram") == 0;
}

static ss_conn_t *dial(void)
{
    ss_conn_t *c;
    ASSERT_OK(ss_dial(srv.addr, ss_now_ms() + 5000, &c));
    ss_set_deadline(c, ss_now_ms() + 10000);
    return c;
}

/* A client the server refuses at once: over TLS the handshake, which
 * ss_dial completes, may already fail; NULL then. */
static ss_conn_t *dial_refused(void)
{
    ss_conn_t *c;
    int rc = ss_dial(srv.addr, ss_now_ms() + 5000, &c);
    if (rc < 0 && strcmp(transport, "tls") == 0) return NULL;
    ASSERT_OK(rc);
    ss_set_deadline(c, ss_now_ms() + 10000);
    return c;
}

static void say(ss_conn_t *c, const char *line, const char *want)
{
    char buf[256];
    ASSERT_OK(ss_puts(c, line));
    ASSERT_OK(ss_readline(c, buf, sizeof buf));
    ASSERT_STR_EQ(buf, want);
}

/* One datagram request, answered within timeout ms (0: a second). */
static ssize_t ask(ss_conn_t *c, const char *req, char *reply, size_t cap, int64_t timeout)
{
    int64_t deadline = ss_now_ms() + (timeout > 0 ? timeout : 1000);
    ssize_t n = ss_request(c, req, strlen(req), reply, cap - 1, deadline, 1);
    if (n >= 0) reply[n] = '\0';
    return n;
}

static void expect_reply(ss_conn_t *c, const char *req, const char *want)
{
    char buf[256];
    ssize_t n = ask(c, req, buf, sizeof buf, 5000);
    ASSERT_OK(n);
    ASSERT_STR_EQ(buf, want);
}

static void expect_silence(ss_conn_t *c, const char *req)
{
    char buf[64];
    ASSERT_EQ(ask(c, req, buf, sizeof buf, 300), -ETIMEDOUT);
}

static void quit(ss_conn_t *c)
{
    ASSERT_OK(ss_puts(c, "\r\n"));
    harness_expect_closed(c);
    ss_conn_close(c);
}

/* Until n handlers run (counted by the handler itself, in any mode). */
static void wait_in_handler(int n)
{
    int64_t end = ss_now_ms() + 5000;
    while (counts->in_handler != n) {
        ASSERT_LT(ss_now_ms(), end);
        ss_sleep_until(ss_now_ms() + 2);
    }
}

/* Until the server itself counts n requests (ss_server_active). */
static void wait_active(int n)
{
    int64_t end = ss_now_ms() + 5000;
    while (counts->active != n) {
        ASSERT_LT(ss_now_ms(), end);
        ss_sleep_until(ss_now_ms() + 2);
    }
}

static void case_upper(void)
{
    ss_conn_t *c = dial();
    if (is_dgram()) {
        expect_reply(c, "hello", "HELLO");
        expect_reply(c, "Mixed Case\n", "MIXED CASE\n");
        ss_conn_close(c);
        stop_server(&srv);
        ASSERT_EQ(counts->setups, 2);
        ASSERT_EQ(counts->finished, 2);
        return;
    }
    say(c, "hello\r\n", "HELLO\r\n");
    say(c, "Mixed Case\n", "MIXED CASE\n");
    quit(c);
    stop_server(&srv);
    ASSERT_EQ(counts->setups, 1);
    ASSERT_EQ(counts->finished, 1);
    ASSERT_EQ(counts->errors, 0);
}

static void case_sequential(void)
{
    for (int i = 0; i < 5; i++) {
        ss_conn_t *c = dial();
        if (is_dgram()) {
            expect_reply(c, "abc", "ABC");
            ss_conn_close(c);
        } else {
            say(c, "abc\n", "ABC\n");
            quit(c);
        }
    }
    stop_server(&srv);
    ASSERT_EQ(counts->handled, 5);
}

/* A second client is served while the first one's handler still runs. */
static void case_concurrent(void)
{
    ss_conn_t *a = dial(), *b = dial();
    if (is_dgram()) {
        ASSERT_OK(ss_puts(a, "SLEEP 1500"));
        ASSERT_OK(ss_flush(a));
        wait_in_handler(1);
        expect_reply(b, "second", "SECOND");
        char buf[32];
        ASSERT_EQ(ask(a, "SLEEP 0", buf, sizeof buf, 0) >= 0, 1); /* some reply comes */
    } else {
        say(a, "first\n", "FIRST\n");
        say(b, "second\n", "SECOND\n");
        say(a, "again\n", "AGAIN\n");
        quit(b);
        quit(a);
        a = b = NULL;
    }
    ss_conn_close(a);
    ss_conn_close(b);
    stop_server(&srv);
}

static void case_big(void)
{
    ss_conn_t *c = dial();
    if (is_dgram()) {
        size_t n = 60000;
        char *req = malloc(n + 1), *rep = malloc(n + 1);
        memset(req, 'q', n);
        req[n] = '\0';
        ASSERT_EQ(ask(c, req, rep, n + 1, 5000), (ssize_t)n);
        for (size_t i = 0; i < n; i++) ASSERT_EQ(rep[i], 'Q');
        free(req);
        free(rep);
    } else {
        size_t n = 1 << 20;
        char *data = malloc(n), *back = malloc(n);
        for (size_t i = 0; i < n; i++) data[i] = (char)(i * 7);
        ASSERT_OK(ss_printf(c, "ECHO %zu\n", n));
        ASSERT_OK(ss_write(c, data, n));
        ASSERT_EQ(ss_read_full(c, back, n), (ssize_t)n);
        ASSERT_MEM_EQ(data, back, n);
        free(data);
        free(back);
        quit(c);
        c = NULL;
    }
    ss_conn_close(c);
    stop_server(&srv);
    ASSERT_EQ(counts->errors, 0);
}

/* A failing handler is reported with its error; the server serves on. */
static void case_failure(void)
{
    ss_conn_t *c = dial();
    if (is_dgram()) {
        expect_silence(c, "FAIL");
        expect_reply(c, "ok", "OK");
    } else {
        ASSERT_OK(ss_puts(c, "FAIL\n"));
        harness_expect_closed(c);
        ss_conn_close(c);
        c = dial();
        say(c, "ok\n", "OK\n");
        quit(c);
        c = NULL;
    }
    ss_conn_close(c);
    stop_server(&srv);
    ASSERT_EQ(counts->errors, 1);
    ASSERT_EQ(counts->last_error, -EPROTO);
}

static void case_verify(void)
{
    ss_conn_t *c = dial_refused();
    if (!c) {
        /* refused during the handshake */
    } else if (is_dgram()) {
        expect_silence(c, "denied");
    } else {
        /* The server may close first: the write may then fail (EPIPE). */
        if (ss_puts(c, "denied\n") == 0 && ss_flush(c) == 0) harness_expect_closed(c);
    }
    ss_conn_close(c);
    stop_server(&srv);
    ASSERT_EQ(counts->handled, 0);
}

static void case_line_limit(void)
{
    ss_conn_t *c = dial();
    char line[200];
    memset(line, 'x', sizeof line);
    line[sizeof line - 1] = '\n';
    if (ss_write(c, line, sizeof line) == 0 && ss_flush(c) == 0) harness_expect_closed(c);
    ss_conn_close(c);
    c = dial();
    say(c, "short\n", "SHORT\n");
    quit(c);
    stop_server(&srv);
    ASSERT_EQ(counts->errors, 1);
    ASSERT_EQ(counts->last_error, SS_ELINE);
}

static void case_timeout(void)
{
    ss_conn_t *c = dial();
    harness_expect_closed(c); /* silent client: the server gives up after 200 ms */
    ss_conn_close(c);
    c = dial();
    say(c, "alive\n", "ALIVE\n");
    quit(c);
    stop_server(&srv);
    ASSERT_EQ(counts->errors, 1);
    ASSERT_EQ(counts->last_error, -ETIMEDOUT);
}

/* max_connections 1: a second client is closed at once; capacity returns. */
static void case_maxconn(void)
{
    ss_conn_t *a = dial();
    say(a, "one\n", "ONE\n");
    ss_conn_t *b = dial_refused();
    if (b) harness_expect_closed(b);
    ss_conn_close(b);
    quit(a);
    wait_active(0);
    ss_conn_t *c = dial();
    say(c, "three\n", "THREE\n");
    quit(c);
    stop_server(&srv);
    ASSERT_EQ(counts->handled, 2);
}

typedef struct client_job {
    ss_conn_t *c;
    char reply[64];
    ssize_t n;
} client_job;

static void *sleeper(void *arg)
{
    client_job *j = arg;
    if (is_dgram()) {
        j->n = ask(j->c, "SLEEP 300", j->reply, sizeof j->reply, 5000);
    } else {
        ss_puts(j->c, "SLEEP 300\n");
        j->n = ss_readline(j->c, j->reply, sizeof j->reply);
        ss_puts(j->c, "\n"); /* then end the session */
        ss_flush(j->c);
    }
    return NULL;
}

/* A request in flight when the server closes still gets its answer. */
static void case_drain(void)
{
    client_job j = {.c = dial()};
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, sleeper, &j), 0);
    wait_in_handler(1);
    stop_server(&srv);
    pthread_join(t, NULL);
    ASSERT_OK(j.n);
    ASSERT_STR_EQ(j.reply, is_dgram() ? "SLEPT" : "SLEPT\n");
    ss_conn_close(j.c);
}

/* A handler still blocked after drain_timeout is cancelled and unwinds. */
static void case_cancel(void)
{
    ss_conn_t *c = dial();
    if (is_dgram()) {
        ASSERT_OK(ss_puts(c, "SLEEP 60000"));
        ASSERT_OK(ss_flush(c));
    } else {
        say(c, "x\n", "X\n");
        ASSERT_OK(ss_puts(c, "WAIT\n"));
        ASSERT_OK(ss_flush(c));
    }
    wait_in_handler(1);
    int64_t t0 = ss_now_ms();
    stop_server(&srv);
    ASSERT_LT(ss_now_ms() - t0, 5000); /* bounded, not a speed claim */
    ASSERT_EQ(counts->cancelled, 1);
    ASSERT_EQ(counts->finished, 1);
    if (!is_dgram()) harness_expect_closed(c);
    ss_conn_close(c);
}

/* Descriptors, threads and children all back to where they were: the
 * server process checks itself after ss_server_close (harness.h), over
 * several rounds of clients. */
static void case_leaks(void)
{
    for (int round = 0; round < 3; round++) {
        if (round > 0) start_server(&srv, &cfg, &lab, transport, counts);
        for (int i = 0; i < 3; i++) {
            ss_conn_t *c = dial();
            if (is_dgram()) {
                expect_reply(c, "leak", "LEAK");
                ss_conn_close(c);
            } else {
                say(c, "leak\n", "LEAK\n");
                quit(c);
            }
        }
        stop_server(&srv);
    }
    ASSERT_EQ(counts->handled, 9);
}

static const struct {
    const char *name;
    void (*fn)(void);
} cases[] = {
    {"upper", case_upper},           {"sequential", case_sequential},
    {"concurrent", case_concurrent}, {"big", case_big},
    {"failure", case_failure},       {"verify", case_verify},
    {"line_limit", case_line_limit}, {"timeout", case_timeout},
    {"maxconn", case_maxconn},       {"drain", case_drain},
    {"cancel", case_cancel},         {"leaks", case_leaks},
};

static void configure(const char *name)
{
    ss_config_init(&cfg);
    cfg.mode = mode;
    cfg.handle_error = lab_error;
    cfg.log_level = SS_LOG_ERROR;
    if (strcmp(name, "verify") == 0) cfg.verify_request = deny_all;
    if (strcmp(name, "line_limit") == 0) cfg.max_line = 64;
    if (strcmp(name, "timeout") == 0) cfg.idle_timeout_ms = 200;
    if (strcmp(name, "maxconn") == 0) cfg.max_connections = 1;
    if (strcmp(name, "cancel") == 0) cfg.drain_timeout_ms = 200;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: test_matrix MODE TRANSPORT CASE\n");
        return 2;
    }
    ASSERT_OK(ss_mode_parse(argv[1], &mode));
    if (!ss_mode_available(mode)) {
        printf("skipped: mode %s not built\n", argv[1]);
        return 77;
    }
    transport = argv[2];
    counts = shared_counts_new();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(cases[i].name, argv[3]) != 0) continue;
        configure(argv[3]);
        start_server(&srv, &cfg, &lab, transport, counts);
        cases[i].fn();
        return 0;
    }
    fprintf(stderr, "no case %s\n", argv[3]);
    return 2;
}
