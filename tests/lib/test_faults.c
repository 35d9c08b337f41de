/* test_faults.c - fault injection (SQLite's anomaly tests, curl's torture
 * mode): the Nth allocation or the Nth call of a chosen syscall made by the
 * server side fails, for every N a server's lifecycle reaches. Each failure
 * must give a clean error or a retried operation: never a crash, a leak
 * (LeakSanitizer at exit), a hang (alarm), nor a server that stops serving.
 * The library's calls are intercepted with the linker's --wrap. */
#include "socketserver.h"
#include "test.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ injection */

typedef struct fault {
    const char *call; /* which wrapper */
    int err;          /* errno to fail with; 0 = a short transfer */
    int retryable;    /* the library must hide it: every request succeeds */
} fault;

static const fault faults[] = {
    {"malloc", ENOMEM, 0},
    {"calloc", ENOMEM, 0},
    {"realloc", ENOMEM, 0},
    {"accept4", EMFILE, 0},
    {"accept4", ECONNABORTED, 0},
    {"accept4", EINTR, 1},
    {"recv", EINTR, 1},
    {"recv", ECONNRESET, 0},
    {"send", EINTR, 1},
    {"send", EAGAIN, 1},
    {"send", 0, 1},
    {"send", EPIPE, 0},
    {"recvfrom", EINTR, 1},
    {"recvfrom", ENOMEM, 0},
    {"sendto", EAGAIN, 1},
    {"sendto", EINTR, 1},
    {"poll", EINTR, 1},
    {"pthread_create", EAGAIN, 0},
    {"fork", EAGAIN, 0},
    {"eventfd", EMFILE, 0},
    {"socket", EMFILE, 0},
    {"epoll_ctl", ENOMEM, 0}, /* event mode: a listener, a cancel eventfd, a client */
};

/* Shared with every process of a scenario (fork children included), so
 * calls are counted across them and the client can disarm the server. */
typedef struct injector {
    _Atomic long countdown; /* fail when it reaches 0 */
    _Atomic long calls;     /* calls seen of the armed kind */
    _Atomic int disarmed;
} injector;

static const fault *armed;
static injector *inj;
static int atexit_write_fd = -1;
static int exempt; /* the client process */

static int inject(const char *call)
{
    if (exempt || !armed || !inj || inj->disarmed || strcmp(armed->call, call) != 0) return 0;
    inj->calls++;
    return atomic_fetch_sub(&inj->countdown, 1) == 1;
}

#define WRAP_ERR(ret)                                                                              \
    do {                                                                                           \
        errno = armed->err;                                                                        \
        return ret;                                                                                \
    } while (0)

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
int __real_accept4(int fd, struct sockaddr *a, socklen_t *l, int fl);
ssize_t __real_recv(int fd, void *b, size_t n, int fl);
ssize_t __real_send(int fd, const void *b, size_t n, int fl);
ssize_t __real_recvfrom(int fd, void *b, size_t n, int fl, struct sockaddr *a, socklen_t *l);
ssize_t __real_sendto(int fd, const void *b, size_t n, int fl, const struct sockaddr *a,
                      socklen_t l);
int __real_poll(struct pollfd *p, nfds_t n, int t);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg);
pid_t __real_fork(void);
int __real_eventfd(unsigned v, int fl);
int __real_socket(int d, int t, int p);
int __real_epoll_ctl(int ep, int op, int fd, struct epoll_event *e);
int __real_recvmmsg(int fd, struct mmsghdr *v, unsigned n, int fl, struct timespec *t);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_realloc(void *p, size_t n);
int __wrap_accept4(int fd, struct sockaddr *a, socklen_t *l, int fl);
ssize_t __wrap_recv(int fd, void *b, size_t n, int fl);
ssize_t __wrap_send(int fd, const void *b, size_t n, int fl);
ssize_t __wrap_recvfrom(int fd, void *b, size_t n, int fl, struct sockaddr *a, socklen_t *l);
ssize_t __wrap_sendto(int fd, const void *b, size_t n, int fl, const struct sockaddr *a,
                      socklen_t l);
int __wrap_poll(struct pollfd *p, nfds_t n, int t);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg);
pid_t __wrap_fork(void);
int __wrap_eventfd(unsigned v, int fl);
int __wrap_socket(int d, int t, int p);
int __wrap_epoll_ctl(int ep, int op, int fd, struct epoll_event *e);
int __wrap_recvmmsg(int fd, struct mmsghdr *v, unsigned n, int fl, struct timespec *t);

void *__wrap_malloc(size_t n)
{
    if (inject("malloc")) WRAP_ERR(NULL);
    return __real_malloc(n);
}

void *__wrap_calloc(size_t a, size_t b)
{
    if (inject("calloc")) WRAP_ERR(NULL);
    return __real_calloc(a, b);
}

void *__wrap_realloc(void *p, size_t n)
{
    if (inject("realloc")) WRAP_ERR(NULL);
    return __real_realloc(p, n);
}

int __wrap_accept4(int fd, struct sockaddr *a, socklen_t *l, int fl)
{
    if (inject("accept4")) WRAP_ERR(-1);
    return __real_accept4(fd, a, l, fl);
}

ssize_t __wrap_recv(int fd, void *b, size_t n, int fl)
{
    if (inject("recv")) WRAP_ERR(-1);
    return __real_recv(fd, b, n, fl);
}

ssize_t __wrap_send(int fd, const void *b, size_t n, int fl)
{
    if (inject("send")) {
        if (armed->err == 0) return __real_send(fd, b, n > 1 ? n / 2 : n, fl); /* short */
        WRAP_ERR(-1);
    }
    return __real_send(fd, b, n, fl);
}

ssize_t __wrap_recvfrom(int fd, void *b, size_t n, int fl, struct sockaddr *a, socklen_t *l)
{
    if (inject("recvfrom")) WRAP_ERR(-1);
    return __real_recvfrom(fd, b, n, fl, a, l);
}

ssize_t __wrap_sendto(int fd, const void *b, size_t n, int fl, const struct sockaddr *a,
                      socklen_t l)
{
    if (inject("sendto")) WRAP_ERR(-1);
    return __real_sendto(fd, b, n, fl, a, l);
}

int __wrap_poll(struct pollfd *p, nfds_t n, int t)
{
    if (inject("poll")) WRAP_ERR(-1);
    return __real_poll(p, n, t);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg)
{
    if (inject("pthread_create")) return armed->err;
    return __real_pthread_create(t, a, f, arg);
}

pid_t __wrap_fork(void)
{
    if (inject("fork")) WRAP_ERR(-1);
    return __real_fork();
}

int __wrap_eventfd(unsigned v, int fl)
{
    if (inject("eventfd")) WRAP_ERR(-1);
    return __real_eventfd(v, fl);
}

int __wrap_socket(int d, int t, int p)
{
    if (inject("socket")) WRAP_ERR(-1);
    return __real_socket(d, t, p);
}

int __wrap_epoll_ctl(int ep, int op, int fd, struct epoll_event *e)
{
    if (inject("epoll_ctl")) WRAP_ERR(-1);
    return __real_epoll_ctl(ep, op, fd, e);
}

/* The event mode receives datagrams with recvmmsg: it counts as the
 * "recvfrom" fault, so that those entries walk that mode's receive path. */
int __wrap_recvmmsg(int fd, struct mmsghdr *v, unsigned n, int fl, struct timespec *t)
{
    if (inject("recvfrom")) WRAP_ERR(-1);
    return __real_recvmmsg(fd, v, n, fl, t);
}

/* ------------------------------------------------------------ scenario */

static int upper(ss_conn_t *c, void *ctx)
{
    (void)ctx;
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

/* The server's log: silent, unless SS_FAULT_VERBOSE is set (to see what a
 * failing call index did, with `test_faults MODE INDEX CALL`). */
static void quiet(ss_log_level_t level, const char *msg, void *ctx)
{
    (void)ctx;
    if (getenv("SS_FAULT_VERBOSE"))
        fprintf(stderr, "[%d] server log %d: %s\n", getpid(), level, msg);
}

static ss_server_t *server;
static void on_term(int sig)
{
    (void)sig;
    ss_server_shutdown(server);
}

/* One request. Returns 0 when answered correctly. */
static int request(const char *addr, int dgram)
{
    ss_conn_t *c;
    char buf[64];
    int ok = -1;
    if (ss_dial(addr, ss_now_ms() + 2000, &c) < 0) return -1;
    ss_set_deadline(c, ss_now_ms() + 2000);
    if (dgram) {
        ssize_t n = ss_request(c, "ping", 4, buf, sizeof buf, ss_now_ms() + 600, 3);
        ok = (n == 4 && memcmp(buf, "PING", 4) == 0) ? 0 : -1;
    } else if (ss_puts(c, "ping\n") == 0 && ss_readline(c, buf, sizeof buf) == 5) {
        ok = memcmp(buf, "PING\n", 5) == 0 ? 0 : -1;
    }
    ss_conn_close(c);
    return ok;
}

/* The client: a separate, single-threaded process, forked before the
 * server starts any thread, so that the server may fork (fork mode) and the
 * client may allocate without another thread holding a lock across fork.
 * It learns the addresses from a pipe ("" if the server could not start).
 * Exit code: 0, or 1 for a failed request that had to succeed. */
static void client(int in, pid_t server_pid)
{
    exempt = 1;
    char buf[2 * SS_ADDRSTRLEN] = {0};
    size_t n = 0;
    ssize_t k;
    while (n < sizeof buf - 1 && (k = read(in, buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)k;
    char *udp = strchr(buf, '\n');
    if (!udp) _exit(0); /* the server failed cleanly before serving */
    *udp++ = '\0';
    const char *tcp = buf;
    int failed = 0;
    for (int i = 0; i < 3; i++) failed += request(tcp, 0) < 0;
    for (int i = 0; i < 2; i++) failed += request(udp, 1) < 0;
    int bad = armed->retryable && failed > 0;
    inj->disarmed = 1; /* the server must serve again */
    if (request(tcp, 0) < 0 || request(udp, 1) < 0) bad = 1;
    kill(server_pid, SIGTERM);
    _exit(bad);
}

static void finish(pid_t cl, int out)
{
    if (out >= 0) close(out);
    int status;
    ASSERT_EQ(waitpid(cl, &status, 0), cl);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    exit(0);
}

/* Runs a server's whole lifecycle with the fault armed. Exits 0 if every
 * invariant holds; LeakSanitizer then checks for leaks at exit. */
static void scenario(ss_mode_t mode)
{
    alarm(20); /* a hang is a failure */
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    pid_t me = getpid();
    pid_t cl = __real_fork(); /* the test's own fork is never injected */
    ASSERT(cl >= 0);
    if (cl == 0) {
        close(p[1]);
        client(p[0], me);
    }
    close(p[0]);
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.mode = mode;
    cfg.log = quiet;
    cfg.drain_timeout_ms = 500;
    int rc = ss_server_create(&cfg, &(ss_handler_t){.handle = upper}, &server);
    if (rc < 0) {
        ASSERT(ss_errmsg()[0] != '\0');
        finish(cl, p[1]);
    }
    char text[2 * SS_ADDRSTRLEN + 2];
    ss_addr_t a, b;
    if (ss_server_listen(server, "tcp://127.0.0.1:0") < 0 ||
        ss_server_listen(server, "udp://127.0.0.1:0") < 0) {
        ASSERT(ss_errmsg()[0] != '\0');
        ss_server_close(server);
        finish(cl, p[1]);
    }
    ss_server_address(server, 0, &a);
    ss_server_address(server, 1, &b);
    char t1[SS_ADDRSTRLEN], t2[SS_ADDRSTRLEN];
    ss_addr_format(&a, t1, sizeof t1);
    ss_addr_format(&b, t2, sizeof t2);
    int len = snprintf(text, sizeof text, "%s\n%s", t1, t2);
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    ASSERT_EQ(write(p[1], text, (size_t)len), len);
    close(p[1]);
    ss_server_serve(server); /* an error here is acceptable; close must be clean */
    /* The client's SIGTERM may come after serve returned on its own (an
     * error): on_term must not touch the server once close has freed it. */
    signal(SIGTERM, SIG_IGN);
    ss_server_close(server);
    finish(cl, -1);
}

static void report_calls(void)
{
    long c = inj->calls;
    ssize_t w = write(atexit_write_fd, &c, sizeof c);
    (void)w;
}

/* Runs the scenario in a child with the fault armed at call n; returns how
 * many calls of that kind the lifecycle made (for n = 0: just counting). */
static long run_one(ss_mode_t mode, const fault *f, long n)
{
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        armed = f;
        inj = mmap(NULL, sizeof *inj, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        ASSERT(inj != MAP_FAILED);
        inj->countdown = n > 0 ? n : -1;
        atexit_write_fd = p[1];
        atexit(report_calls);
        scenario(mode);
    }
    close(p[1]);
    long seen = 0;
    ssize_t r = read(p[0], &seen, sizeof seen);
    close(p[0]);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        FAIL_AT("%s %s (errno %d) at call %ld: child status 0x%x", ss_mode_name(mode), f->call,
                f->err, n, status);
    return r == sizeof seen ? seen : 0;
}

#define MAX_WALK 400 /* calls per fault kind; beyond it, every 7th */

int main(int argc, char **argv)
{
    ss_mode_t mode;
    if ((argc != 3 && argc != 4) || ss_mode_parse(argv[1], &mode) < 0) {
        fprintf(stderr, "usage: test_faults MODE FAULT-INDEX [CALL]\n");
        return 2;
    }
    if (!ss_mode_available(mode)) {
        printf("skipped: mode %s not built\n", argv[1]);
        return 77;
    }
    int i = atoi(argv[2]);
    ASSERT(i >= 0 && i < (int)(sizeof faults / sizeof faults[0]));
    const fault *f = &faults[i];
    if (argc == 4) { /* just that call: for debugging one failure */
        run_one(mode, f, atol(argv[3]));
        printf("%s: %s fails with errno %d at call %s: clean\n", argv[1], f->call, f->err, argv[3]);
        return 0;
    }
    long total = run_one(mode, f, 0);
    long walked = 0;
    for (long n = 1; n <= total; n += n < MAX_WALK ? 1 : 7) {
        run_one(mode, f, n);
        walked++;
    }
    printf("%s: %s fails with errno %d: %ld of %ld calls walked, all clean\n", argv[1], f->call,
           f->err, walked, total);
    return 0;
}
