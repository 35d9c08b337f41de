/* test_lifecycle.c - BaseServer's lifecycle and the guards around it:
 * shutdown from a thread and from a signal, handle_request and its timeout
 * hook, service_actions, bind errors, unix socket files (stale, live,
 * replaced, not a socket), several listeners, adopted descriptors, running
 * out of descriptors, a child that crashes, configuration errors. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>

static _Atomic int timeouts, actions, handled;

static int upper(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    handled++;
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

static const ss_handler_t h_upper = {NULL, upper, NULL, NULL};

static ss_server_t *make(ss_mode_t mode, const char *addr)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.mode = mode;
    cfg.log_level = SS_LOG_ERROR;
    ss_server_t *s;
    ASSERT_OK(ss_server_create(&cfg, &h_upper, &s));
    if (addr) ASSERT_OK(ss_server_listen(s, addr));
    return s;
}

static void addr_of(ss_server_t *s, int i, char *buf)
{
    ss_addr_t a;
    ASSERT_OK(ss_server_address(s, i, &a));
    ASSERT_OK(ss_addr_format(&a, buf, SS_ADDRSTRLEN));
}

typedef struct bg {
    ss_server_t *s;
    pthread_t t;
    _Atomic int rc;
    _Atomic int64_t returned_at;
} bg;

static void *bg_serve(void *arg)
{
    bg *b = arg;
    b->rc = ss_server_serve(b->s);
    b->returned_at = ss_now_ms();
    return NULL;
}

static void bg_start(bg *b, ss_server_t *s)
{
    b->s = s;
    b->returned_at = 0;
    ASSERT_EQ(pthread_create(&b->t, NULL, bg_serve, b), 0);
}

static void test_shutdown_thread(void)
{
    ss_server_t *s = make(SS_MODE_THREAD, "tcp://127.0.0.1:0");
    bg b;
    bg_start(&b, s);
    usleep(50000);
    int64_t t0 = ss_now_ms();
    ASSERT_OK(ss_server_shutdown(s));
    pthread_join(b.t, NULL);
    ASSERT_EQ(b.rc, 0);
    ASSERT_LT(b.returned_at - t0, 100); /* the eventfd wakes it: no poll interval */
    ss_server_close(s);
}

static ss_server_t *sig_server;
static void on_usr1(int sig)
{
    (void)sig;
    ss_server_shutdown(sig_server);
}

static void test_shutdown_signal(void)
{
    sig_server = make(SS_MODE_SYNC, "udp://127.0.0.1:0");
    struct sigaction sa = {.sa_handler = on_usr1};
    sigaction(SIGUSR1, &sa, NULL);
    bg b;
    bg_start(&b, sig_server);
    usleep(50000);
    int64_t t0 = ss_now_ms();
    pthread_kill(b.t, SIGUSR1); /* the handler runs in the serving thread */
    pthread_join(b.t, NULL);
    ASSERT_EQ(b.rc, 0);
    ASSERT_LT(b.returned_at - t0, 100);
    ss_server_close(sig_server);
}

static void on_timeout(ss_server_t *s, void *ctx)
{
    (void)s, (void)ctx;
    timeouts++;
}

static void test_handle_request(void)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.handle_timeout = on_timeout;
    ss_server_t *s;
    ASSERT_OK(ss_server_create(&cfg, &h_upper, &s));
    ASSERT_EQ(ss_server_handle_request(s, ss_now_ms() + 10), SS_EUSAGE); /* no listener yet */
    ASSERT_OK(ss_server_listen(s, "udp://127.0.0.1:0"));
    ASSERT_EQ(ss_server_handle_request(s, ss_now_ms() + 30), -ETIMEDOUT);
    ASSERT_EQ(timeouts, 1);
    char addr[SS_ADDRSTRLEN];
    addr_of(s, 0, addr);
    ss_conn_t *c;
    ASSERT_OK(ss_dial(addr, 0, &c));
    ASSERT_OK(ss_puts(c, "one"));
    ASSERT_OK(ss_flush(c));
    ASSERT_EQ(ss_server_handle_request(s, ss_now_ms() + 2000),
              0); /* one request, then back to us */
    char buf[16];
    ASSERT_EQ(ss_read(c, buf, sizeof buf), 3);
    ASSERT_MEM_EQ(buf, "ONE", 3);
    ASSERT_EQ(handled, 1);
    ASSERT_EQ(timeouts, 1);
    ss_conn_close(c);
    ss_server_shutdown(s);
    ASSERT_EQ(ss_server_handle_request(s, ss_now_ms() + 1000), -ECANCELED);
    ss_server_close(s);
}

static void on_actions(ss_server_t *s, void *ctx)
{
    (void)s, (void)ctx;
    actions++;
}

static void test_service_actions(void)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.service_actions = on_actions;
    cfg.service_interval_ms = 10;
    ss_server_t *s;
    ASSERT_OK(ss_server_create(&cfg, &h_upper, &s));
    ASSERT_OK(ss_server_listen(s, "tcp://127.0.0.1:0"));
    bg b;
    bg_start(&b, s);
    int64_t end = ss_now_ms() + 5000;
    while (actions < 3) { /* called while idle, on the interval */
        ASSERT_LT(ss_now_ms(), end);
        usleep(5000);
    }
    ss_server_shutdown(s);
    pthread_join(b.t, NULL);
    ss_server_close(s);
}

static void test_port_in_use(void)
{
    ss_server_t *a = make(SS_MODE_SYNC, "tcp://127.0.0.1:0");
    char addr[SS_ADDRSTRLEN], want[SS_ADDRSTRLEN + 64];
    addr_of(a, 0, addr);
    ss_server_t *b = make(SS_MODE_SYNC, NULL);
    ASSERT_EQ(ss_server_listen(b, addr), -EADDRINUSE);
    snprintf(want, sizeof want, "bind %s: Address already in use", addr);
    ASSERT_STR_EQ(ss_errmsg(), want);
    ASSERT_EQ(ss_server_listen(b, "tcp://127.0.0.1"), SS_EADDR);
    ASSERT_EQ(ss_server_listener_count(b), 0);
    ss_server_close(b);
    ss_server_close(a);
}

static void tmpdir(char *dir, char *path, size_t cap, const char *scheme)
{
    snprintf(dir, 64, "/tmp/ss-life-XXXXXX");
    ASSERT(mkdtemp(dir));
    snprintf(path, cap, "%s:%s/s", scheme, dir);
}

/* A socket file left by a dead server is replaced. */
static void test_unix_stale(void)
{
    char dir[64], addr[128];
    tmpdir(dir, addr, sizeof addr, "unix");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s/s", dir);
    ASSERT_EQ(bind(fd, (struct sockaddr *)&un, sizeof un), 0);
    close(fd); /* stale: the file stays, nobody listens */
    ss_server_t *s = make(SS_MODE_SYNC, addr);
    bg b;
    bg_start(&b, s);
    harness_roundtrip(addr, "stale\n", "STALE\n");
    ss_server_shutdown(s);
    pthread_join(b.t, NULL);
    ss_server_close(s);
    ASSERT_EQ(count_dir(dir), 0);
    rmdir(dir);
}

/* A live server's socket is neither stolen nor removed by another. */
static void test_unix_live(void)
{
    char dir[64], addr[128];
    tmpdir(dir, addr, sizeof addr, "unixgram");
    ss_server_t *a = make(SS_MODE_THREAD, addr);
    bg b;
    bg_start(&b, a);
    ss_server_t *other = make(SS_MODE_SYNC, NULL);
    ASSERT_EQ(ss_server_listen(other, addr), -EADDRINUSE);
    ss_server_close(other);
    harness_roundtrip(addr, "still mine", "STILL MINE");
    ss_server_shutdown(a);
    pthread_join(b.t, NULL);
    ss_server_close(a);
    ASSERT_EQ(count_dir(dir), 0);
    rmdir(dir);
}

/* Not a socket (a file, a symlink): refused and left untouched. */
static void test_unix_not_socket(void)
{
    char dir[64], addr[128], path[128], target[128];
    tmpdir(dir, addr, sizeof addr, "unix");
    snprintf(path, sizeof path, "%s/s", dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    close(fd);
    ss_server_t *s = make(SS_MODE_SYNC, NULL);
    ASSERT_EQ(ss_server_listen(s, addr), -EADDRINUSE);
    struct stat st;
    ASSERT_EQ(lstat(path, &st), 0);
    ASSERT(S_ISREG(st.st_mode));
    unlink(path);
    snprintf(target, sizeof target, "%s/target", dir);
    ASSERT_EQ(symlink(target, path), 0);
    ASSERT_LT(ss_server_listen(s, addr), 0);
    ASSERT_EQ(lstat(path, &st), 0);
    ASSERT(S_ISLNK(st.st_mode));
    ss_server_close(s);
    unlink(path);
    rmdir(dir);
}

/* Our file was replaced by another server's: closing must not remove it. */
static void test_unix_replaced(void)
{
    char dir[64], addr[128], path[128];
    tmpdir(dir, addr, sizeof addr, "unix");
    snprintf(path, sizeof path, "%s/s", dir);
    ss_server_t *a = make(SS_MODE_SYNC, addr);
    unlink(path);
    ss_server_t *b = make(SS_MODE_SYNC, addr);
    ss_server_close(a);
    struct stat st;
    ASSERT_EQ(lstat(path, &st), 0);
    ss_server_close(b);
    ASSERT_NE(lstat(path, &st), 0);
    rmdir(dir);
}

/* Serves s in the background until one stream line and one datagram have
 * been answered (upper), then shuts it down. */
static void serve_both(ss_server_t *s, const char *stream, const char *dgram)
{
    bg b;
    bg_start(&b, s);
    harness_roundtrip(stream, "unix\n", "UNIX\n");
    harness_roundtrip(dgram, "gram", "GRAM");
    ss_server_shutdown(s);
    pthread_join(b.t, NULL);
}

/* The mode of the socket files of a unix and a unixgram listener made with
 * cfg.unix_mode = mode under umask mask; both must be want. The umask is
 * the process's, but each case runs in a process of its own. */
static void check_unix_mode(unsigned mode, mode_t mask, mode_t want)
{
    char dir[64], ux[128], ug[128], path[128];
    tmpdir(dir, ux, sizeof ux, "unix");
    snprintf(ug, sizeof ug, "unixgram:%s/g", dir);
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.log_level = SS_LOG_ERROR;
    cfg.unix_mode = mode;
    mode_t old = umask(mask);
    ss_server_t *s;
    ASSERT_OK(ss_server_create(&cfg, &h_upper, &s));
    ASSERT_OK(ss_server_listen(s, ux));
    ASSERT_OK(ss_server_listen(s, ug));
    umask(old);
    struct stat st;
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, i ? "g" : "s");
        ASSERT_EQ(lstat(path, &st), 0);
        ASSERT(S_ISSOCK(st.st_mode));
        if ((st.st_mode & 0777) != want)
            FAIL_AT("%s: mode %o, expected %o", path, (unsigned)(st.st_mode & 0777),
                    (unsigned)want);
    }
    serve_both(s, ux, ug);
    ss_server_close(s);
    ASSERT_EQ(count_dir(dir), 0);
    rmdir(dir);
}

/* unix_mode is the files' mode whatever the umask: narrower (0640 under
 * 022), wider (0666 under 077, which bind alone would have made 0700). */
static void test_unix_mode(void)
{
    check_unix_mode(0640, 022, 0640);
    check_unix_mode(0600, 0, 0600);
}

static void test_unix_mode_wide(void)
{
    check_unix_mode(0666, 077, 0666);
}

/* 0 leaves the files as bind(2) made them: 0777 less the umask. */
static void test_unix_mode_default(void)
{
    check_unix_mode(0, 027, 0750);
    check_unix_mode(0, 022, 0755);
}

/* An abstract name has no file: the mode is ignored, the listener works.
 * Beyond 0777 (set-id, sticky or wider bits) the configuration is refused. */
static void test_unix_mode_abstract(void)
{
    char ux[64], ug[64];
    snprintf(ux, sizeof ux, "unix:@ss-life-mode-%d", (int)getpid());
    snprintf(ug, sizeof ug, "unixgram:@ss-life-modeg-%d", (int)getpid());
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.log_level = SS_LOG_ERROR;
    cfg.unix_mode = 0600;
    ss_server_t *s;
    ASSERT_OK(ss_server_create(&cfg, &h_upper, &s));
    ASSERT_OK(ss_server_listen(s, ux));
    ASSERT_OK(ss_server_listen(s, ug));
    serve_both(s, ux, ug);
    ss_server_close(s);
    unsigned bad[] = {01000, 04755, 07777, 0x10000, ~0u};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.unix_mode = bad[i];
        s = NULL;
        ASSERT_EQ(ss_server_create(&cfg, &h_upper, &s), -EINVAL);
        ASSERT(s == NULL);
        ASSERT(strstr(ss_errmsg(), "unix_mode") != NULL);
    }
}

/* One server, one handler, four transports at once. */
static void test_many_listeners(void)
{
    char dir[64], ux[128], ug[128];
    tmpdir(dir, ux, sizeof ux, "unix");
    snprintf(ug, sizeof ug, "unixgram:%s/g", dir);
    ss_server_t *s = make(SS_MODE_THREAD, "tcp://127.0.0.1:0");
    ASSERT_OK(ss_server_listen(s, "udp://[::1]:0"));
    ASSERT_OK(ss_server_listen(s, ux));
    ASSERT_OK(ss_server_listen(s, ug));
    ASSERT_EQ(ss_server_listener_count(s), 4);
    ASSERT_EQ(ss_server_address(s, 4, &(ss_addr_t){0}), -EINVAL);
    bg b;
    bg_start(&b, s);
    char a0[SS_ADDRSTRLEN], a1[SS_ADDRSTRLEN];
    addr_of(s, 0, a0);
    addr_of(s, 1, a1);
    harness_roundtrip(a0, "tcp\n", "TCP\n");
    harness_roundtrip(a1, "udp6", "UDP6");
    harness_roundtrip(ux, "unix\n", "UNIX\n");
    harness_roundtrip(ug, "gram", "GRAM");
    ss_server_shutdown(s);
    pthread_join(b.t, NULL);
    ss_server_close(s);
    ASSERT_EQ(count_dir(dir), 0);
    rmdir(dir);
}

static void test_listen_fd(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    ASSERT_EQ(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    ASSERT_EQ(listen(fd, 8), 0);
    ss_server_t *s = make(SS_MODE_SYNC, NULL);
    ASSERT_OK(ss_server_listen_fd(s, fd, SS_TCP));
    char addr[SS_ADDRSTRLEN];
    addr_of(s, 0, addr);
    bg b;
    bg_start(&b, s);
    harness_roundtrip(addr, "adopted\n", "ADOPTED\n");
    ss_server_shutdown(s);
    pthread_join(b.t, NULL);
    ss_server_close(s);
    ASSERT_EQ(fcntl(fd, F_GETFD), -1); /* the server owned and closed it */
}

static void test_config_errors(void)
{
    ss_config_t cfg;
    ss_server_t *s = NULL;
    ss_config_init(&cfg);
    cfg.max_connections = -1;
    ASSERT_EQ(ss_server_create(&cfg, &h_upper, &s), -EINVAL);
    ss_config_init(&cfg);
    cfg.buffer_size = 1;
    ASSERT_EQ(ss_server_create(&cfg, &h_upper, &s), -EINVAL);
    ss_config_init(&cfg);
    ss_handler_t none = {0};
    ASSERT_EQ(ss_server_create(&cfg, &none, &s), SS_EUSAGE);
    ss_mode_t m;
    ASSERT_EQ(ss_mode_parse("forking", &m), SS_EUSAGE);
    ASSERT(strstr(ss_errmsg(), "forking") != NULL);
    ASSERT_OK(ss_mode_parse("fork", &m));
    ASSERT_EQ(m, SS_MODE_FORK);
    ASSERT_STR_EQ(ss_mode_name(SS_MODE_EVENT), "event");
    ASSERT(ss_mode_name((ss_mode_t)42) == NULL);
    for (int i = 0; i <= SS_MODE_EVENT; i++) {
        cfg.mode = (ss_mode_t)i;
        int rc = ss_server_create(&cfg, &h_upper, &s);
        ASSERT_EQ(rc, ss_mode_available((ss_mode_t)i) ? 0 : SS_EMODE);
        if (rc == 0) ss_server_close(s);
    }
    ss_server_close(NULL);
    ASSERT_STR_EQ(ss_strerror(SS_ELINE), "Line too long");
    ASSERT_STR_EQ(ss_strerror(-ECONNRESET), "Connection reset by peer");
    ASSERT_STR_EQ(ss_strerror(12345678), "Unknown error");
}

/* ---- running out of descriptors: refuse, don't spin, recover */

static long cpu_ms(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    ASSERT(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut, st;
    ASSERT_EQ(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st), 2);
    return (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

static int holder(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    char line[64];
    ssize_t n;
    while ((n = ss_readline(c, line, sizeof line)) > 0)
        if (ss_write(c, line, (size_t)n) < 0) break;
    return 0;
}

static void test_emfile(void)
{
    static shared_counts *counts;
    counts = shared_counts_new();
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.mode = SS_MODE_THREAD;
    cfg.log_level = SS_LOG_ERROR;
    ss_handler_t h = {NULL, holder, NULL, NULL};
    running r;
    /* The server process gets a descriptor limit a few above what it uses. */
    struct rlimit old, low = {.rlim_cur = 32, .rlim_max = 4096};
    getrlimit(RLIMIT_NOFILE, &old);
    low.rlim_max = old.rlim_max;
    setrlimit(RLIMIT_NOFILE, &low);
    start_server(&r, &cfg, &h, "tcp4", counts);
    setrlimit(RLIMIT_NOFILE, &old);
    ss_conn_t *c[60];
    int open_ok = 0;
    for (int i = 0; i < 60; i++) {
        ASSERT_OK(ss_dial(r.addr, ss_now_ms() + 2000, &c[i]));
        ss_set_deadline(c[i], ss_now_ms() + 3000);
        char line[16];
        ss_puts(c[i], "hi\n");
        if (ss_readline(c[i], line, sizeof line) == 3) open_ok++; /* else refused */
    }
    ASSERT_GT(open_ok, 5);
    ASSERT_LT(open_ok, 60); /* some were refused: the limit was reached */
    long before = cpu_ms(r.pid);
    usleep(300000);
    ASSERT_LT(cpu_ms(r.pid) - before, 150); /* not spinning on EMFILE */
    for (int i = 0; i < 60; i++) ss_conn_close(c[i]);
    int64_t end = ss_now_ms() + 5000;
    for (;;) { /* serves again once descriptors are back */
        ss_conn_t *x;
        char line[16];
        ASSERT_OK(ss_dial(r.addr, ss_now_ms() + 2000, &x));
        ss_set_deadline(x, ss_now_ms() + 1000);
        ss_puts(x, "back\n");
        ssize_t n = ss_readline(x, line, sizeof line);
        ss_conn_close(x);
        if (n == 5) break;
        ASSERT_LT(ss_now_ms(), end);
        usleep(50000);
    }
    stop_server(&r);
}

/* ---- a forked handler that crashes is reported; the server serves on */

static shared_counts *crash_counts;
static int crasher(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    char line[64];
    if (ss_readline(c, line, sizeof line) > 0 && strncmp(line, "crash", 5) == 0) abort();
    return ss_write(c, "fine\n", 5);
}

static void crash_log(ss_log_level_t level, const char *msg, void *ctx)
{
    (void)ctx;
    if (level == SS_LOG_ERROR && strstr(msg, "killed by signal 6") && strstr(msg, "tcp://"))
        crash_counts->errors++;
}

static void test_fork_crash(void)
{
    crash_counts = shared_counts_new();
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.mode = SS_MODE_FORK;
    cfg.log = crash_log;
    ss_handler_t h = {NULL, crasher, NULL, NULL};
    running r;
    start_server(&r, &cfg, &h, "tcp4", crash_counts);
    harness_roundtrip(r.addr, "crash\n", ""); /* the child dies: EOF, empty line */
    harness_roundtrip(r.addr, "hello\n", "fine\n");
    int64_t end = ss_now_ms() + 5000;
    while (crash_counts->errors < 1) {
        ASSERT_LT(ss_now_ms(), end);
        usleep(10000);
    }
    stop_server(&r);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        {"shutdown_thread", test_shutdown_thread},
        {"shutdown_signal", test_shutdown_signal},
        {"handle_request", test_handle_request},
        {"service_actions", test_service_actions},
        {"port_in_use", test_port_in_use},
        {"unix_stale", test_unix_stale},
        {"unix_live", test_unix_live},
        {"unix_not_socket", test_unix_not_socket},
        {"unix_replaced", test_unix_replaced},
        {"unix_mode", test_unix_mode},
        {"unix_mode_wide", test_unix_mode_wide},
        {"unix_mode_default", test_unix_mode_default},
        {"unix_mode_abstract", test_unix_mode_abstract},
        {"many_listeners", test_many_listeners},
        {"listen_fd", test_listen_fd},
        {"config_errors", test_config_errors},
        {"emfile", test_emfile},
        {"fork_crash", test_fork_crash},
        {NULL, NULL},
    };
    return test_main(cases, argc, argv);
}
