/* test_mode.c - the event mode through the public API: handle_request, many
 * 10,000 idle connections on one loop with small stacks, a handler that dials out twice (the
 * descriptor number comes back), the stack overflow report naming the
 * peer, and a session whose peer is always ready (it must yield). Each case prints "skipped" when
 * this build lacks the event mode. */
#include "socketserver.h"

#include "event/sanitizer.h"
#include "test.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char backend[SS_ADDRSTRLEN];

static int upper_handle(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    char line[256];
    ssize_t n;
    while ((n = ss_readline(c, line, sizeof line)) > 0 && line[0] != '\n') {
        for (ssize_t i = 0; i < n; i++)
            if (line[i] >= 'a' && line[i] <= 'z') line[i] = (char)(line[i] - 32);
        int rc = ss_write(c, line, (size_t)n);
        if (rc < 0) return rc;
    }
    return n < 0 ? (int)n : 0;
}

/* An event-mode configuration: `workers` loops, errors logged only. */
static ss_config_t event_config(int workers)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.mode = SS_MODE_EVENT;
    cfg.workers = workers;
    cfg.log_level = SS_LOG_ERROR;
    return cfg;
}

/* A server on an ephemeral loopback port; its address into addr. */
static ss_server_t *listen_with(const ss_config_t *cfg, ss_handler_t *h, char *addr)
{
    ss_server_t *s;
    ASSERT_OK(ss_server_create(cfg, h, &s));
    ASSERT_OK(ss_server_listen(s, "tcp://127.0.0.1:0"));
    ss_addr_t a;
    ASSERT_OK(ss_server_address(s, 0, &a));
    ASSERT_OK(ss_addr_format(&a, addr, SS_ADDRSTRLEN));
    return s;
}

static ss_server_t *make_server(ss_handler_t *h, size_t stack, char *addr)
{
    ss_config_t cfg = event_config(2);
    cfg.stack_size = stack;
    cfg.max_connections = 0;
    return listen_with(&cfg, h, addr);
}

static void *serve_thread(void *arg)
{
    ss_server_t *s = arg;
    ASSERT_OK(ss_server_serve(s));
    return NULL;
}

static void say(ss_conn_t *c, const char *line, const char *want)
{
    char got[256];
    ASSERT_OK(ss_puts(c, line));
    ASSERT_OK(ss_flush(c));
    ASSERT_GT(ss_readline(c, got, sizeof got), 0);
    ASSERT_STR_EQ(got, want);
}

static int have_event(void)
{
    if (ss_mode_available(SS_MODE_EVENT)) return 1;
    printf("skipped: event mode not built\n");
    return 0;
}

/* ---------------------------------------------------------- handle_request */

static void *one_client(void *arg)
{
    const char *addr = arg;
    ss_conn_t *c;
    ASSERT_OK(ss_dial(addr, ss_now_ms() + 5000, &c));
    say(c, "hello\n", "HELLO\n");
    ss_conn_close(c);
    return NULL;
}

static void test_handle_request(void)
{
    if (!have_event()) return;
    ss_handler_t h = {.handle = upper_handle};
    char addr[SS_ADDRSTRLEN];
    ss_server_t *s = make_server(&h, 0, addr);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, one_client, addr), 0);
    ASSERT_OK(ss_server_handle_request(s, ss_now_ms() + 5000));
    pthread_join(t, NULL);
    ASSERT_EQ(ss_server_handle_request(s, ss_now_ms() + 50), -ETIMEDOUT);
    ss_server_close(s);
}

/* ------------------------------------------------------------- many_idle */

#define IDLE_CLIENTS 10000

/* This process's descriptor limit raised to its hard limit (and beyond it
 * when root may: CAP_SYS_RESOURCE, setrlimit(2)). Returns the soft limit. */
static long raise_nofile(long want)
{
    struct rlimit rl;
    ASSERT_OK(getrlimit(RLIMIT_NOFILE, &rl));
    if (rl.rlim_max < (rlim_t)want) {
        struct rlimit more = {(rlim_t)want, (rlim_t)want};
        if (setrlimit(RLIMIT_NOFILE, &more) == 0) rl = more;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}

/* The clients, in a child process (each side then needs n descriptors, not
 * 2n): n connections that each say one line and then stay idle until the
 * parent has counted them, say a second line, and close. */
static void idle_clients(const char *addr, int n, int ready_fd, int go_fd)
{
    ss_conn_t **c = calloc((size_t)n, sizeof *c);
    ASSERT(c != NULL);
    for (int i = 0; i < n; i++) {
        ASSERT_OK(ss_dial(addr, ss_now_ms() + 10000, &c[i]));
        say(c[i], "idle\n", "IDLE\n");
    }
    char b = 'r';
    ASSERT_EQ(write(ready_fd, &b, 1), 1);
    ASSERT_EQ(read(go_fd, &b, 1), 1);
    for (int i = 0; i < n; i++) say(c[i], "again\n", "AGAIN\n");
    for (int i = 0; i < n; i++) ss_conn_close(c[i]);
    free(c);
    _exit(0);
}

/* 10,000 concurrent idle connections on ONE loop, 16 KiB stacks: every
 * session parked at once, none lost, each served again afterwards. */
static void test_many_idle(void)
{
    if (!have_event()) return;
    long lim = raise_nofile(IDLE_CLIENTS + 256);
    int n = IDLE_CLIENTS;
    if (lim < n + 64) {
        n = (int)(lim - 64);
        printf("note: descriptor limit %ld: %d idle connections instead of %d\n", lim, n,
               IDLE_CLIENTS);
    }
    ss_config_t cfg = event_config(1);
    cfg.stack_size = 16 * 1024;
    cfg.max_connections = 0;
    cfg.backlog = 4096;
    char addr[SS_ADDRSTRLEN];
    ss_server_t *s = listen_with(&cfg, &(ss_handler_t){.handle = upper_handle}, addr);
    int ready[2], go[2];
    ASSERT_OK(pipe(ready));
    ASSERT_OK(pipe(go));
    pid_t pid = fork(); /* before any thread: the child may use malloc freely */
    ASSERT(pid >= 0);
    if (pid == 0) {
        close(ready[0]), close(go[1]);
        idle_clients(addr, n, ready[1], go[0]);
    }
    close(ready[1]), close(go[0]); /* a child that dies is then an EOF here */
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, serve_thread, s), 0);
    char b;
    ASSERT_EQ(read(ready[0], &b, 1), 1); /* the child's ASSERTs end it: EOF */
    ASSERT_EQ(ss_server_active(s), n);   /* every session parked, none lost */
    ASSERT_EQ(write(go[1], &b, 1), 1);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(ready[0]), close(go[1]);
    ASSERT_OK(ss_server_shutdown(s));
    pthread_join(t, NULL);
    ss_server_close(s);
}

/* ------------------------------------------------------------ dial_twice */

/* A handler that is a client too: each dial's socket may get the number the
 * previous one had, which the loop must then watch anew. */
static int proxy_handle(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    char line[64];
    ASSERT_GT(ss_readline(c, line, sizeof line), 0);
    for (int i = 0; i < 3; i++) {
        ss_conn_t *b;
        int rc = ss_dial(backend, ss_now_ms() + 3000, &b);
        if (rc < 0) return rc;
        char got[64];
        rc = ss_puts(b, line);
        if (rc == 0) rc = ss_flush(b);
        ssize_t n = rc < 0 ? rc : ss_readline(b, got, sizeof got);
        ss_conn_close(b);
        if (n <= 0) return n < 0 ? (int)n : -EPIPE;
        rc = ss_write(c, got, (size_t)n);
        if (rc < 0) return rc;
    }
    return 0;
}

static void test_dial_twice(void)
{
    if (!have_event()) return;
    ss_handler_t up = {.handle = upper_handle}, px = {.handle = proxy_handle};
    char addr[SS_ADDRSTRLEN];
    ss_server_t *b = make_server(&up, 0, backend);
    ss_server_t *s = make_server(&px, 0, addr);
    pthread_t tb, ts;
    ASSERT_EQ(pthread_create(&tb, NULL, serve_thread, b), 0);
    ASSERT_EQ(pthread_create(&ts, NULL, serve_thread, s), 0);
    for (int k = 0; k < 3; k++) {
        ss_conn_t *c;
        ASSERT_OK(ss_dial(addr, ss_now_ms() + 5000, &c));
        ASSERT_OK(ss_puts(c, "x\n"));
        ASSERT_OK(ss_flush(c));
        char got[64];
        for (int i = 0; i < 3; i++) {
            ASSERT_GT(ss_readline(c, got, sizeof got), 0);
            ASSERT_STR_EQ(got, "X\n");
        }
        ss_conn_close(c);
    }
    ASSERT_OK(ss_server_shutdown(s));
    ASSERT_OK(ss_server_shutdown(b));
    pthread_join(ts, NULL);
    pthread_join(tb, NULL);
    ss_server_close(s);
    ss_server_close(b);
}

/* -------------------------------------------------------------- overflow */

static int deep(int n)
{
    volatile char frame[512];
    frame[0] = (char)n;
    if (n < 0) return 0; /* never: unbounded */
    return deep(n + 1) + frame[0];
}

static int overflow_handle(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    char line[64];
    if (ss_readline(c, line, sizeof line) <= 0) return 0;
    return deep(0);
}

static void test_overflow(void)
{
    if (!have_event()) return;
    int p[2];
    ASSERT_OK(pipe(p));
    ss_handler_t h = {.handle = overflow_handle};
    char addr[SS_ADDRSTRLEN];
    ss_server_t *s = make_server(&h, 32 * 1024, addr);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        ss_server_serve(s);
        _exit(4);
    }
    close(p[1]);
    ss_conn_t *c;
    ASSERT_OK(ss_dial(addr, ss_now_ms() + 5000, &c));
    ASSERT_OK(ss_puts(c, "go\n"));
    ASSERT_OK(ss_flush(c));
    char out[8192];
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof out && (r = read(p[0], out + n, sizeof out - 1 - n)) > 0) n += (size_t)r;
    out[n] = '\0';
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ss_conn_close(c);
    ss_server_close(s);
#ifdef SS_ASAN
    ASSERT(strstr(out, "stack-overflow") != NULL);
#else
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV)
        FAIL_AT("server status %#x, stderr: %s", (unsigned)status, out);
    if (!strstr(out, "socketserver: stack overflow in handler for tcp://127.0.0.1:"))
        FAIL_AT("no report naming the peer: %s", out);
#endif
}

/* ------------------------------------------------------------ busy_peer */

/* "flood": writes without end to a reader that keeps up, so no write ever
 * waits; any other first line: upper. */
static int flood_handle(ss_conn_t *c, void *ctx)
{
    char line[64];
    ssize_t n = ss_readline(c, line, sizeof line);
    if (n <= 0) return (int)n;
    if (strcmp(line, "flood\n") != 0) {
        for (ssize_t i = 0; i < n; i++)
            if (line[i] >= 'a' && line[i] <= 'z') line[i] = (char)(line[i] - 32);
        int rc = ss_write(c, line, (size_t)n);
        return rc < 0 ? rc : upper_handle(c, ctx);
    }
    char buf[2048];
    memset(buf, 'x', sizeof buf);
    for (;;)
        if (ss_write(c, buf, sizeof buf) < 0) return 0; /* cancelled, or the reader left */
}

/* Reads the flood as fast as the kernel allows: MSG_TRUNC discards TCP
 * data without copying it (tcp(7)), so the server's writes never wait. */
static void *fast_reader(void *arg)
{
    ss_addr_t a;
    ASSERT_OK(ss_addr_parse(arg, &a));
    int fd = socket(a.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT(fd >= 0);
    ASSERT_OK(connect(fd, (struct sockaddr *)&a.sa, a.len));
    ASSERT_EQ(send(fd, "flood\n", 6, MSG_NOSIGNAL), 6);
    while (recv(fd, NULL, 1 << 20, MSG_TRUNC) > 0) {
    }
    close(fd);
    return NULL;
}

/* A session whose peer is always ready never waits: it must still yield
 * now and then, so that on its one loop another client is served and a
 * shutdown returns at once (the acceptors must see it), and the drain then
 * cancels it (it noticed nothing while it hogged the loop before). */
static void test_busy_peer(void)
{
    if (!have_event()) return;
    ss_config_t cfg = event_config(1);
    cfg.drain_timeout_ms = 200;
    char addr[SS_ADDRSTRLEN];
    ss_server_t *s = listen_with(&cfg, &(ss_handler_t){.handle = flood_handle}, addr);
    pthread_t st, rt;
    ASSERT_EQ(pthread_create(&st, NULL, serve_thread, s), 0);
    ASSERT_EQ(pthread_create(&rt, NULL, fast_reader, addr), 0);
    usleep(200 * 1000);
    ss_conn_t *c;
    ASSERT_OK(ss_dial(addr, ss_now_ms() + 3000, &c));
    ss_set_deadline(c, ss_now_ms() + 3000);
    say(c, "hi\n", "HI\n");
    ss_conn_close(c);
    int64_t t0 = ss_now_ms();
    ASSERT_OK(ss_server_shutdown(s));
    pthread_join(st, NULL);
    ASSERT_LT(ss_now_ms() - t0, 2000);
    ss_server_close(s); /* the flood is cancelled after the drain timeout */
    ASSERT_LT(ss_now_ms() - t0, 4000);
    pthread_join(rt, NULL);
}

/* -------------------------------------------------------------- offload */

static void block_200ms(void *arg)
{
    usleep(200 * 1000); /* a blocking call: on the loop it would stop it */
    *(int *)arg = 42;
}

/* "slow": a blocking function through ss_offload, then "done 42"; "dial
 * PORT": a dial by name (localhost: its lookup goes off the loop too) to
 * the same server, which answers "hi" with "HI"; anything else: upper. */
static int offload_handle(ss_conn_t *c, void *ctx)
{
    char line[64];
    ssize_t n = ss_readline(c, line, sizeof line);
    if (n <= 0) return (int)n;
    if (strcmp(line, "slow\n") == 0) {
        int v = 0;
        int rc = ss_offload(block_200ms, &v);
        return rc < 0 ? rc : ss_printf(c, "done %d\n", v);
    }
    if (strncmp(line, "dial ", 5) == 0) {
        char to[64];
        snprintf(to, sizeof to, "tcp://localhost:%d", atoi(line + 5));
        ss_conn_t *b;
        int rc = ss_dial(to, ss_now_ms() + 3000, &b);
        if (rc < 0) return rc;
        char got[16];
        ssize_t m = ss_puts(b, "hi\n");
        if (m == 0) m = ss_flush(b);
        if (m == 0) m = ss_readline(b, got, sizeof got);
        ss_conn_close(b);
        return m < 0 ? (int)m : ss_write(c, got, (size_t)m);
    }
    for (ssize_t i = 0; i < n; i++)
        if (line[i] >= 'a' && line[i] <= 'z') line[i] = (char)(line[i] - 32);
    int rc = ss_write(c, line, (size_t)n);
    return rc < 0 ? rc : upper_handle(c, ctx);
}

/* One loop: while a session waits 200 ms for its offloaded blocking call,
 * another session on the same loop is answered at once; the call's result
 * reaches the handler; a name lookup in ss_dial does not stop the loop. */
static void test_offload(void)
{
    if (!have_event()) return;
    ss_config_t cfg = event_config(1);
    char addr[SS_ADDRSTRLEN];
    ss_server_t *s = listen_with(&cfg, &(ss_handler_t){.handle = offload_handle}, addr);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, serve_thread, s), 0);
    ss_conn_t *slow, *quick;
    ASSERT_OK(ss_dial(addr, ss_now_ms() + 3000, &slow));
    ASSERT_OK(ss_dial(addr, ss_now_ms() + 3000, &quick));
    ss_set_deadline(slow, ss_now_ms() + 5000);
    ss_set_deadline(quick, ss_now_ms() + 5000);
    ASSERT_OK(ss_puts(slow, "slow\n"));
    ASSERT_OK(ss_flush(slow));
    usleep(20 * 1000); /* the offloaded call is under way */
    int64_t t0 = ss_now_ms();
    say(quick, "ping\n", "PING\n");
    ASSERT_LT(ss_now_ms() - t0, 150); /* not behind the 200 ms call */
    char got[64];
    ASSERT_GT(ss_readline(slow, got, sizeof got), 0);
    ASSERT_STR_EQ(got, "done 42\n");
    ss_conn_close(slow);
    ss_conn_close(quick);
    ss_conn_t *d;
    ASSERT_OK(ss_dial(addr, ss_now_ms() + 3000, &d));
    ss_set_deadline(d, ss_now_ms() + 5000);
    char dial[32];
    ss_addr_t a;
    ASSERT_OK(ss_server_address(s, 0, &a));
    snprintf(dial, sizeof dial, "dial %d\n", ss_addr_port(&a));
    say(d, dial, "HI\n");
    ss_conn_close(d);
    ASSERT_OK(ss_server_shutdown(s));
    pthread_join(t, NULL);
    ss_server_close(s);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {{"handle_request", test_handle_request},
                                      {"many_idle", test_many_idle},
                                      {"dial_twice", test_dial_twice},
                                      {"overflow", test_overflow},
                                      {"busy_peer", test_busy_peer},
                                      {"offload", test_offload},
                                      {NULL, NULL}};
    return test_main(cases, argc, argv);
}
