/* test_hooks.c - the header's promises about the server hooks, in every
 * mode: where each hook runs ("Hooks and threads"), that service_actions
 * follows the requests taken in whatever the mode, and that
 * ss_server_handle_request returns 0 for a client it refused (verify_request
 * or max_connections) as Python's handle_request does, without waiting out
 * its deadline. Usage: test_hooks CASE MODE [TRANSPORT]. */
#include "harness.h"

#include <errno.h>
#include <sys/syscall.h>

/* What the server process saw, in memory shared with the test. */
typedef struct seen {
    _Atomic int serve_pid, serve_tid;   /* the serving thread */
    _Atomic int verify_pid, verify_tid; /* the last verify_request */
    _Atomic int handle_pid, handle_tid; /* the last handle */
    _Atomic int actions, actions_wrong, actions_inside;
    _Atomic int timeouts;
    _Atomic int refuse; /* verify_request refuses while set */
} seen;

static seen *S;
static ss_mode_t mode;

static int tid(void)
{
    return (int)syscall(SYS_gettid);
}

static int on_verify(ss_server_t *s, const ss_addr_t *peer, void *ctx)
{
    (void)s, (void)peer, (void)ctx;
    S->verify_pid = (int)getpid();
    S->verify_tid = tid();
    return S->refuse ? -EACCES : 0;
}

/* Runs in the serving thread, never twice at once. */
static void on_actions(ss_server_t *s, void *ctx)
{
    (void)s, (void)ctx;
    if (S->actions_inside++ != 0) S->actions_wrong++;
    if (getpid() != S->serve_pid || tid() != S->serve_tid) S->actions_wrong++;
    S->actions++;
    S->actions_inside--;
}

static void on_timeout(ss_server_t *s, void *ctx)
{
    (void)s, (void)ctx;
    S->timeouts++;
}

/* Each line (or datagram) back in upper case; the last handle's thread is
 * noted. */
static int upper(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    S->handle_pid = (int)getpid();
    S->handle_tid = tid();
    char line[128];
    ssize_t n;
    while ((n = ss_readline(c, line, sizeof line)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (line[i] >= 'a' && line[i] <= 'z') line[i] = (char)(line[i] - 32);
        int rc = ss_write(c, line, (size_t)n);
        if (rc < 0 || ss_conn_is_datagram(c)) return rc;
    }
    return (int)n;
}

static const ss_handler_t handler = {NULL, upper, NULL, NULL};

static void config(ss_config_t *cfg)
{
    ss_config_init(cfg);
    cfg->mode = mode;
    cfg->workers = 2;
    cfg->log_level = SS_LOG_ERROR;
    cfg->verify_request = on_verify;
    cfg->handle_timeout = on_timeout;
}

/* ------------------------------------------------------------- server */

/* In the server process (harness.h), whose main thread serves: notes it. */
static void note_serving_thread(ss_server_t *s)
{
    (void)s;
    S->serve_pid = (int)getpid();
    S->serve_tid = tid();
}

/* A server process with service_actions on requests only (interval 0). */
static void start(running *r, const char *transport)
{
    ss_config_t cfg;
    config(&cfg);
    cfg.service_actions = on_actions;
    cfg.service_interval_ms = 0;
    harness_after_listen = note_serving_thread;
    start_server(r, &cfg, &handler, transport, shared_counts_new());
}

/* ------------------------------------------------------------- cases */

/* The header's table "Hooks and threads", mode by mode. */
static void case_where(const char *transport)
{
    running r;
    start(&r, transport);
    for (int i = 0; i < 3; i++) harness_roundtrip(r.addr, "where\n", "WHERE\n");
    harness_wait_for(&S->actions, 1);
    int same_thread = S->verify_pid == S->serve_pid && S->verify_tid == S->serve_tid;
    switch (mode) {
    case SS_MODE_PREFORK: /* the worker process that accepted */
        ASSERT_NE(S->verify_pid, S->serve_pid);
        ASSERT_NE(S->handle_pid, S->serve_pid);
        ASSERT_EQ(S->handle_pid, S->verify_pid);
        break;
    case SS_MODE_EVENT: /* a loop thread, which also runs the handler */
        ASSERT_EQ(S->verify_pid, S->serve_pid);
        ASSERT_NE(S->verify_tid, S->serve_tid);
        ASSERT_EQ(S->handle_tid, S->verify_tid);
        break;
    default: /* the serving thread takes every request in */
        ASSERT(same_thread);
        if (mode == SS_MODE_SYNC) ASSERT_EQ(S->handle_tid, S->serve_tid);
        if (mode == SS_MODE_FORK) ASSERT_NE(S->handle_pid, S->serve_pid);
        if (mode == SS_MODE_THREAD || mode == SS_MODE_POOL) {
            ASSERT_EQ(S->handle_pid, S->serve_pid);
            ASSERT_NE(S->handle_tid, S->serve_tid);
        }
    }
    ASSERT_EQ(S->actions_wrong, 0);
    stop_server(&r);
}

/* service_interval_ms = 0: service_actions follows each request taken in,
 * wherever it was taken in (the serving thread, a loop, a worker). */
static void case_actions(const char *transport)
{
    running r;
    start(&r, transport);
    for (int i = 1; i <= 5; i++) {
        harness_roundtrip(r.addr, "tick\n", "TICK\n");
        harness_wait_for(&S->actions, i);
    }
    usleep(50 * 1000);
    ASSERT_LE(S->actions, 5); /* nothing but the requests calls it */
    ASSERT_EQ(S->actions_wrong, 0);
    stop_server(&r);
}

/* A client that connects (or sends) now, before anyone takes it in; with
 * done set, a stream client also ends its side, so that a handler run
 * inside handle_request (sync, event) returns. */
static ss_conn_t *waiting_client(const char *addr, int done)
{
    ss_conn_t *c;
    ASSERT_OK(ss_dial(addr, ss_now_ms() + 3000, &c));
    ASSERT_OK(ss_puts(c, "hello\n"));
    if (done && !ss_conn_is_datagram(c))
        ASSERT_OK(ss_close_write(c));
    else
        ASSERT_OK(ss_flush(c));
    return c;
}

static ss_server_t *local_server(const char *transport, char *dir, char *addr, int max_conn)
{
    ss_config_t cfg;
    config(&cfg);
    cfg.max_connections = max_conn;
    /* In fork mode the child also holds the test's own client sockets, so it
     * never reads their end: close cancels it after this drain. */
    cfg.drain_timeout_ms = 300;
    char want[SS_ADDRSTRLEN];
    transport_addr(transport, dir, want, sizeof want);
    ss_server_t *s;
    ASSERT_OK(ss_server_create(&cfg, &handler, &s));
    ASSERT_OK(ss_server_listen(s, want));
    ss_addr_t a;
    ASSERT_OK(ss_server_address(s, 0, &a));
    ASSERT_OK(ss_addr_format(&a, addr, SS_ADDRSTRLEN));
    return s;
}

/* handle_request takes a client that verify_request refuses, and returns 0
 * at once: not its deadline, not handle_timeout. */
static void case_refused(const char *transport)
{
    char dir[64] = "", addr[SS_ADDRSTRLEN];
    ss_server_t *s = local_server(transport, dir, addr, 0);
    S->refuse = 1;
    ss_conn_t *c = waiting_client(addr, 1);
    int64_t t0 = ss_now_ms();
    ASSERT_EQ(ss_server_handle_request(s, t0 + 3000), 0);
    ASSERT_LT(ss_now_ms() - t0, 1000);
    ASSERT_EQ(S->timeouts, 0);
    ASSERT_EQ(S->handle_pid, 0); /* no handler ran */
    ss_conn_close(c);
    S->refuse = 0; /* and the next client is served */
    c = waiting_client(addr, 1);
    ASSERT_EQ(ss_server_handle_request(s, ss_now_ms() + 3000), 0);
    char buf[16];
    ss_set_deadline(c, ss_now_ms() + 3000);
    ASSERT_EQ(ss_read(c, buf, sizeof buf), 6);
    ASSERT_MEM_EQ(buf, "HELLO\n", 6);
    ss_conn_close(c);
    ss_server_close(s);
    if (dir[0]) rmdir(dir);
}

/* The same for a client beyond max_connections (stream modes whose
 * requests outlive handle_request: thread, fork, pool). */
static void case_capacity(const char *transport)
{
    char dir[64] = "", addr[SS_ADDRSTRLEN];
    ss_server_t *s = local_server(transport, dir, addr, 1);
    ss_conn_t *first = waiting_client(addr, 0);
    ASSERT_EQ(ss_server_handle_request(s, ss_now_ms() + 3000), 0);
    char buf[16];
    ss_set_deadline(first, ss_now_ms() + 3000);
    ASSERT_EQ(ss_read(first, buf, sizeof buf), 6); /* served, and still connected */
    ss_conn_t *second = waiting_client(addr, 0);
    int64_t t0 = ss_now_ms();
    ASSERT_EQ(ss_server_handle_request(s, t0 + 3000), 0);
    ASSERT_LT(ss_now_ms() - t0, 1000);
    ASSERT_EQ(S->timeouts, 0);
    ss_set_deadline(second, ss_now_ms() + 3000);
    ssize_t n = ss_read(second, buf, sizeof buf); /* closed: refused */
    ASSERT(n == 0 || n == -ECONNRESET);
    ss_conn_close(second);
    ss_conn_close(first);
    ss_server_close(s);
    if (dir[0]) rmdir(dir);
}

int main(int argc, char **argv)
{
    if (argc < 3 || ss_mode_parse(argv[2], &mode) < 0) {
        fprintf(stderr, "usage: test_hooks where|actions|refused|capacity MODE [TRANSPORT]\n");
        return 2;
    }
    if (!ss_mode_available(mode)) return 77;
    const char *transport = argc > 3 ? argv[3] : "tcp4";
    S = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT(S != MAP_FAILED);
    memset(S, 0, sizeof *S);
    if (strcmp(argv[1], "where") == 0)
        case_where(transport);
    else if (strcmp(argv[1], "actions") == 0)
        case_actions(transport);
    else if (strcmp(argv[1], "refused") == 0)
        case_refused(transport);
    else if (strcmp(argv[1], "capacity") == 0)
        case_capacity(transport);
    else
        return 2;
    return 0;
}
