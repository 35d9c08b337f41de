/* test_extra.c - the library's edges that the area tests leave out: bad
 * arguments and NULLs on every public entry, error names, address formats of
 * odd addresses, configuration limits, the handler contract (setup's verdict,
 * finish, handle_error, the request deadline, per-connection data), datagrams
 * too large in either direction, and a unix listener whose backlog is full.
 * Every case runs in one process on loopback, in sync mode where a server is
 * needed: ss_server_handle_request runs the handler in the calling thread. */
#include "internal.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

/* What the hooks and the handler saw, reset by each case. */
static struct {
    int setup_rc; /* what setup returns */
    int handle_rc;
    int setups, handles, finishes, errors, last_error;
    int64_t deadline_seen, now_seen;
    ss_server_t *server_seen;
    ss_transport_t transport_seen;
    void *data_in_finish;
    size_t bytes_seen;
    char log[2048]; /* every message logged, one a line */
    int logs;
} seen;

static int data_tag; /* its address is the per-connection data */

static void on_log(ss_log_level_t level, const char *msg, void *ctx)
{
    (void)level, (void)ctx;
    size_t used = strlen(seen.log);
    snprintf(seen.log + used, sizeof seen.log - used, "%s\n", msg);
    seen.logs++;
}

static void on_error(ss_server_t *s, ss_conn_t *c, int err, void *ctx)
{
    (void)s, (void)c, (void)ctx;
    seen.errors++;
    seen.last_error = err;
}

static int h_setup(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    seen.setups++;
    ss_conn_set_data(c, &data_tag);
    return seen.setup_rc;
}

/* Echoes one line (or the datagram) back, after noting what it was given. */
static int h_handle(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    seen.handles++;
    seen.deadline_seen = ss_deadline(c);
    seen.now_seen = ss_now_ms();
    seen.server_seen = ss_conn_server(c);
    seen.transport_seen = ss_conn_transport(c);
    char line[256];
    ssize_t n = ss_readline(c, line, sizeof line);
    if (n < 0) return (int)n;
    seen.bytes_seen = (size_t)n;
    int rc = ss_write(c, line, (size_t)n);
    if (rc < 0) return rc;
    return seen.handle_rc;
}

static void h_finish(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    seen.finishes++;
    seen.data_in_finish = ss_conn_data(c);
}

static const ss_handler_t handler = {h_setup, h_handle, h_finish, NULL};

/* A sync server on addr whose log and errors land in `seen`. */
static ss_server_t *sync_server(const char *addr, ss_config_t *cfg)
{
    ss_config_t def;
    if (!cfg) {
        ss_config_init(&def);
        cfg = &def;
    }
    cfg->log = on_log;
    ss_server_t *s;
    ASSERT_OK(ss_server_create(cfg, &handler, &s));
    ASSERT_OK(ss_server_listen(s, addr));
    memset(&seen, 0, sizeof seen);
    return s;
}

static void bound_text(ss_server_t *s, char *buf)
{
    ss_addr_t a;
    ASSERT_OK(ss_server_address(s, 0, &a));
    ASSERT_OK(ss_addr_format(&a, buf, SS_ADDRSTRLEN));
}

/* One line over a new stream connection, served by one handle_request. */
static ss_conn_t *send_line(ss_server_t *s, const char *line)
{
    char addr[SS_ADDRSTRLEN];
    bound_text(s, addr);
    ss_conn_t *c;
    ASSERT_OK(ss_dial(addr, ss_now_ms() + 5000, &c));
    ss_set_deadline(c, ss_now_ms() + 5000);
    ASSERT_OK(ss_puts(c, line));
    ASSERT_OK(ss_flush(c));
    ASSERT_EQ(ss_server_handle_request(s, ss_now_ms() + 5000), 0);
    return c;
}

/* ------------------------------------------------------ errors and modes */

static void test_strerror_all(void)
{
    static const int codes[] = {SS_EADDR, SS_ERESOLVE, SS_ELINE, SS_ETRUNC,
                                SS_EEOF,  SS_EMODE,    SS_EUSAGE};
    const size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        const char *m = ss_strerror(codes[i]);
        ASSERT(m != NULL);
        ASSERT(strcmp(m, "Unknown error") != 0);
        for (size_t j = 0; j < i; j++) ASSERT(strcmp(m, ss_strerror(codes[j])) != 0);
    }
    ASSERT_STR_EQ(ss_strerror(0), "Success");
    ASSERT_STR_EQ(ss_strerror(SS_ERESOLVE), "Host name not resolved");
    ASSERT_STR_EQ(ss_strerror(-EMSGSIZE), "Message too long");
    /* Positive values, errno numbers no system has, and anything between
     * the errno range and the library's: never NULL, never a guess. */
    ASSERT_STR_EQ(ss_strerror(EPIPE), "Unknown error");
    ASSERT_STR_EQ(ss_strerror(-4095), "Unknown error");
    ASSERT_STR_EQ(ss_strerror(-4096), "Unknown error");
    ASSERT_STR_EQ(ss_strerror(-20000), "Unknown error");
    ASSERT_STR_EQ(ss_strerror(INT_MIN), "Unknown error");
}

static void test_mode_table(void)
{
    for (int i = 0; i <= SS_MODE_EVENT; i++) {
        const char *name = ss_mode_name((ss_mode_t)i);
        ASSERT(name != NULL);
        ss_mode_t m = (ss_mode_t)-1;
        ASSERT_OK(ss_mode_parse(name, &m));
        ASSERT_EQ(m, i);
    }
    ASSERT(ss_mode_name((ss_mode_t)-1) == NULL);
    ASSERT(ss_mode_name((ss_mode_t)(SS_MODE_EVENT + 1)) == NULL);
    ss_mode_t m = SS_MODE_FORK;
    ASSERT_EQ(ss_mode_parse(NULL, &m), SS_EUSAGE);
    ASSERT(strstr(ss_errmsg(), "unknown mode") != NULL);
    ASSERT_EQ(ss_mode_parse("", &m), SS_EUSAGE);
    ASSERT_EQ(ss_mode_parse("SYNC", &m), SS_EUSAGE); /* names are lower case */
    ASSERT_EQ(m, SS_MODE_FORK);                      /* untouched on failure */
    ASSERT_EQ(ss_mode_available((ss_mode_t)42), 0);
    ASSERT_EQ(ss_mode_available((ss_mode_t)-1), 0);
    ASSERT_EQ(ss_mode_available(SS_MODE_SYNC), 1);
}

/* ------------------------------------------------------------- addresses */

static void test_addr_args(void)
{
    ss_addr_t a[2];
    char buf[SS_ADDRSTRLEN];
    ASSERT_EQ(ss_addr_resolve(NULL, a, 2), SS_EUSAGE);
    ASSERT_EQ(ss_addr_resolve("tcp://127.0.0.1:1", NULL, 2), SS_EUSAGE);
    ASSERT_EQ(ss_addr_resolve("tcp://127.0.0.1:1", a, 0), SS_EUSAGE);
    ASSERT_EQ(ss_addr_parse(NULL, a), SS_EUSAGE);

    ASSERT_OK(ss_addr_parse("udp://127.0.0.1:7", &a[0]));
    ASSERT_EQ(ss_addr_format(NULL, buf, sizeof buf), SS_EADDR);
    ASSERT_EQ(ss_addr_format(&a[0], NULL, sizeof buf), SS_EADDR);
    ASSERT_EQ(ss_addr_format(&a[0], buf, 0), SS_EADDR);
    a[0].transport = (ss_transport_t)42;
    ASSERT_EQ(ss_addr_format(&a[0], buf, sizeof buf), SS_EADDR);

    /* A family getnameinfo cannot name: an error and an empty text. */
    memset(&a[0], 0, sizeof a[0]);
    a[0].transport = SS_TCP;
    a[0].sa.ss_family = AF_UNSPEC;
    a[0].len = sizeof(struct sockaddr_in);
    strcpy(buf, "stale");
    ASSERT_EQ(ss_addr_format(&a[0], buf, sizeof buf), SS_EADDR);
    ASSERT_STR_EQ(buf, "");
}

/* Addresses the parser never makes but sockets report: an unnamed unix
 * peer (a socketpair, an unbound client) and an over-long length. */
static void test_addr_format_unix(void)
{
    ss_addr_t a;
    char buf[SS_ADDRSTRLEN];
    memset(&a, 0, sizeof a);
    a.transport = SS_UNIX;
    a.sa.ss_family = AF_UNIX;
    a.len = sizeof(sa_family_t);
    ASSERT_EQ(ss_addr_format(&a, buf, sizeof buf), 5);
    ASSERT_STR_EQ(buf, "unix:");
    a.len = 0;
    ASSERT_EQ(ss_addr_format(&a, buf, sizeof buf), 5);
    ASSERT_STR_EQ(buf, "unix:");

    /* A length beyond sockaddr_un is cut to sun_path, not read past it. */
    struct sockaddr_un *un = (struct sockaddr_un *)&a.sa;
    memset(un->sun_path, 'p', sizeof un->sun_path);
    a.transport = SS_UNIXGRAM;
    a.len = (socklen_t)sizeof a.sa;
    int n = ss_addr_format(&a, buf, sizeof buf);
    ASSERT_EQ(n, (int)(strlen("unixgram:") + sizeof un->sun_path));
    ASSERT_EQ(strspn(buf + strlen("unixgram:"), "p"), sizeof un->sun_path);

    /* An abstract name keeps its exact length, NULs included. */
    ASSERT_OK(ss_addr_parse("unixgram:@x", &a));
    ASSERT_EQ(ss_addr_format(&a, buf, sizeof buf), (int)strlen("unixgram:@x"));
    ASSERT_STR_EQ(buf, "unixgram:@x");
}

static void test_addr_hosts(void)
{
    ss_addr_t a;
    char buf[SS_ADDRSTRLEN];
    /* Host names are matched without regard to case (RFC 4343). */
    ASSERT_OK(ss_addr_parse("tcp://LocalHost:9", &a));
    ASSERT_OK(ss_addr_format(&a, buf, sizeof buf));
    ASSERT(strcmp(buf, "tcp://127.0.0.1:9") == 0 || strcmp(buf, "tcp://[::1]:9") == 0);
    ASSERT_EQ(ss_addr_port(&a), 9);
    ASSERT_OK(ss_addr_parse("udp://[::1]:65535", &a));
    ASSERT_EQ(ss_addr_port(&a), 65535);
    ASSERT_OK(ss_addr_parse("tcp://0.0.0.0:0", &a));
    ASSERT_EQ(ss_addr_port(&a), 0);

    /* A bracketed text too long for any IPv6 address. */
    char text[400];
    memset(text, 0, sizeof text);
    strcpy(text, "tcp://[");
    memset(text + strlen(text), '1', 300);
    strcat(text, "]:80");
    ASSERT_EQ(ss_addr_parse(text, &a), SS_EADDR);
    ASSERT(strstr(ss_errmsg(), "IPv6") != NULL || strstr(ss_errmsg(), "too long") != NULL);
    /* Every character class a host name may not hold. */
    static const char *const bad[] = {"tcp://a+b:1", "tcp://a@b:1",  "tcp://a~b:1",
                                      "tcp://a,b:1", "tcp://\x7f:1", "tcp://\xc3\xa9:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_EQ(ss_addr_parse(bad[i], &a), SS_EADDR);
        ASSERT(strstr(ss_errmsg(), "invalid character") != NULL);
    }
}

/* An address as glibc's getnameinfo(3) writes it, with our scheme: the
 * reference for the library's own text. */
static void glibc_format(const ss_addr_t *a, char *out, size_t cap)
{
    if (a->sa.ss_family == AF_UNIX) {
        ASSERT_OK(ss_addr_format(a, out, cap)); /* no getnameinfo for a path */
        return;
    }
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2], serv[8];
    ASSERT_EQ(getnameinfo((const struct sockaddr *)&a->sa, a->len, host, sizeof host, serv,
                          sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV),
              0);
    const char *scheme = a->transport == SS_UDP ? "udp://" : "tcp://";
    if (a->sa.ss_family == AF_INET6)
        snprintf(out, cap, "%s[%s]:%s", scheme, host, serv);
    else
        snprintf(out, cap, "%s%s:%s", scheme, host, serv);
}

/* ss_addr_format and the async-signal-safe formatter (for reports from a
 * signal handler) both write what getnameinfo writes, without calling it.
 * IPv6 text is the subtle part (RFC 5952): compared with glibc's on many
 * addresses. */
static void expect_same_format(const ss_addr_t *a)
{
    char want[SS_ADDRSTRLEN], got[SS_ADDRSTRLEN];
    glibc_format(a, want, sizeof want);
    ASSERT_OK(ss_addr_format(a, got, sizeof got));
    ASSERT_STR_EQ(got, want);
    ss__addr_format_safe(a, got, sizeof got);
    ASSERT_STR_EQ(got, want);
    ss__addr_format_safe(a, got, 4); /* too small: nothing, never a cut address */
    ASSERT_STR_EQ(got, "");
}

/* ss_offload outside the event mode calls the function in place. */
static void set_seven(void *arg)
{
    *(int *)arg = 7;
}

static void test_offload_in_place(void)
{
    int v = 0;
    ASSERT_OK(ss_offload(set_seven, &v));
    ASSERT_EQ(v, 7);
    ASSERT_EQ(ss_offload(NULL, &v), SS_EUSAGE);
}

static void test_addr_format_safe(void)
{
    static const char *const texts[] = {"tcp://0.0.0.0:0",
                                        "udp://255.255.255.255:65535",
                                        "tcp://[::]:1",
                                        "tcp://[::1]:2",
                                        "tcp://[1::]:3",
                                        "tcp://[1:0:0:2::3]:4",
                                        "tcp://[1::2:0:0:3]:5",
                                        "tcp://[1:0:2:0:3:0:4:0]:6",
                                        "tcp://[2001:db8::ff00:42:8329]:7",
                                        "tcp://[::ffff:1.2.3.4]:8",
                                        "tcp://[::1.2.3.4]:9",
                                        "tcp://[::ffff:0:1.2.3.4]:10",
                                        "tcp://[0:0:1::]:11",
                                        "tcp://[abcd:ef01:2345:6789:abcd:ef01:2345:6789]:12",
                                        "unix:/tmp/s",
                                        "unixgram:@abstract",
                                        "unix:rel"};
    ss_addr_t a;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        ASSERT_OK(ss_addr_parse(texts[i], &a));
        expect_same_format(&a);
    }
    /* Random IPv6 addresses, with zero groups made common so that runs of
     * every length and position occur. A fixed seed: the same each run. */
    uint32_t seed = 12345;
    ASSERT_OK(ss_addr_parse("udp://[::]:53", &a));
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.sa;
    for (int n = 0; n < 20000; n++) {
        for (int g = 0; g < 8; g++) {
            seed = seed * 1103515245u + 12345u;
            unsigned v = (seed >> 16) & 0xffff;
            if ((seed >> 8) % 3 != 0) v = (seed >> 12) % 5 == 0 ? 0xffff : 0;
            in6->sin6_addr.s6_addr[2 * g] = (unsigned char)(v >> 8);
            in6->sin6_addr.s6_addr[2 * g + 1] = (unsigned char)v;
        }
        expect_same_format(&a);
    }
    /* Random IPv4 addresses and ports. */
    ASSERT_OK(ss_addr_parse("tcp://0.0.0.0:0", &a));
    struct sockaddr_in *in4 = (struct sockaddr_in *)&a.sa;
    for (int n = 0; n < 2000; n++) {
        seed = seed * 1103515245u + 12345u;
        in4->sin_addr.s_addr = seed;
        in4->sin_port = (in_port_t)(seed >> 7);
        expect_same_format(&a);
    }
    /* An IPv6 scope: ss_addr_format names its interface as getnameinfo
     * does (the safe form gives its number). */
    ASSERT_OK(ss_addr_parse("tcp://[fe80::1]:80", &a));
    ((struct sockaddr_in6 *)&a.sa)->sin6_scope_id = 1;
    char want[SS_ADDRSTRLEN], got[SS_ADDRSTRLEN];
    glibc_format(&a, want, sizeof want);
    ASSERT_OK(ss_addr_format(&a, got, sizeof got));
    ASSERT_STR_EQ(got, want);
    /* What cannot be shown whole is not shown at all. */
    char small[8];
    ASSERT_OK(ss_addr_parse("tcp://127.0.0.1:80", &a));
    strcpy(small, "stale");
    ss__addr_format_safe(&a, small, sizeof small);
    ASSERT_STR_EQ(small, "");
    a.transport = (ss_transport_t)42;
    strcpy(small, "stale");
    ss__addr_format_safe(&a, small, sizeof small);
    ASSERT_STR_EQ(small, "");
    ss__addr_format_safe(NULL, small, sizeof small);
    ASSERT_STR_EQ(small, "");
    ss__addr_format_safe(&a, NULL, 0); /* no buffer: nothing written, no crash */
}

/* ------------------------------------------------------------------ time */

static void test_clock_deadlines(void)
{
    int64_t now = ss_now_ms();
    ASSERT_EQ(ss__poll_timeout(0), -1);  /* no deadline: wait forever */
    ASSERT_EQ(ss__poll_timeout(-5), -1); /* likewise */
    ASSERT_EQ(ss__poll_timeout(1), 0);   /* long past: do not wait */
    ASSERT_EQ(ss__poll_timeout(now + (int64_t)INT_MAX * 4), INT_MAX); /* clamped */
    int t = ss__poll_timeout(now + 60000);
    ASSERT(t > 0 && t <= 60000);
    ASSERT_EQ(ss__min_deadline(0, 0), 0);
    ASSERT_EQ(ss__min_deadline(0, 7), 7);
    ASSERT_EQ(ss__min_deadline(7, 0), 7);
    ASSERT_EQ(ss__min_deadline(7, 3), 3);
    ASSERT_EQ(ss__min_deadline(-1, 3), 3);
    ASSERT_EQ(ss_sleep_until(SS_NO_DEADLINE), 0);
    ASSERT_EQ(ss_sleep_until(ss_now_ms() - 10), 0);
    ASSERT_EQ(ss_sleep_until(ss_now_ms() + 1), 0);
    ASSERT_GE(ss_now_ms(), now + 1);
}

/* ------------------------------------------------------- configuration */

static void expect_config_error(const ss_config_t *cfg, int want, const char *needle)
{
    void *junk = &data_tag;
    ss_server_t *s = junk; /* must be set to NULL on failure */
    int rc = ss_server_create(cfg, &handler, &s);
    if (rc != want) FAIL_AT("create: got %d (%s), want %d", rc, ss_errmsg(), want);
    ASSERT(s == NULL);
    if (!strstr(ss_errmsg(), needle)) FAIL_AT("message \"%s\" lacks \"%s\"", ss_errmsg(), needle);
}

static void test_config_limits(void)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.drain_timeout_ms = -1;
    expect_config_error(&cfg, -EINVAL, "negative timeout");
    ss_config_init(&cfg);
    cfg.idle_timeout_ms = -1;
    expect_config_error(&cfg, -EINVAL, "negative timeout");
    ss_config_init(&cfg);
    cfg.request_timeout_ms = -1;
    expect_config_error(&cfg, -EINVAL, "negative timeout");
    ss_config_init(&cfg);
    cfg.workers = -1;
    expect_config_error(&cfg, -EINVAL, "workers");
    ss_config_init(&cfg);
    cfg.max_line = 0;
    expect_config_error(&cfg, -EINVAL, "max_line");
    ss_config_init(&cfg);
    cfg.max_datagram = 0;
    expect_config_error(&cfg, -EINVAL, "max_datagram");
    ss_config_init(&cfg);
    cfg.max_datagram = 16 * 1024 * 1024 + 1;
    expect_config_error(&cfg, -EINVAL, "16 MiB");
    ss_config_init(&cfg);
    cfg.mode = (ss_mode_t)42;
    expect_config_error(&cfg, SS_EMODE, "mode ?");
    /* Worker counts are bounded wherever workers are used. */
    static ss_server_t fake; /* what ss__workers reads: the configuration, the log */
    ss_config_init(&fake.cfg);
    fake.cfg.log_level = SS_LOG_ERROR;
    fake.cfg.workers = SS__WORKERS_MAX + 1;
    ASSERT_EQ(ss__workers(&fake, "pool"), -EINVAL);
    ASSERT(strstr(ss_errmsg(), "above") != NULL);
    fake.cfg.workers = 3;
    ASSERT_EQ(ss__workers(&fake, "pool"), 3);
    fake.cfg.workers = 0;
    int n = ss__workers(&fake, "pool");
    ASSERT(n >= 4 && n <= SS__WORKERS_MAX);
    /* CPU affinity: a setting that is none of the three, an empty list, a
     * CPU the process may not use (bit 1023: no test machine has it). */
    ss_config_init(&cfg);
    cfg.cpu_affinity = (ss_cpu_affinity_t)7;
    expect_config_error(&cfg, -EINVAL, "cpu_affinity 7");
    cfg.cpu_affinity = SS_CPU_AFFINITY_LIST;
    expect_config_error(&cfg, -EINVAL, "cpu_list is empty");
    cfg.cpu_list[SS_CPU_LIST_WORDS - 1] = UINT64_C(1) << 63;
    expect_config_error(&cfg, -EINVAL, "names CPU 1023, which this process may not use");

    /* NULLs. */
    ss_config_init(&cfg);
    ss_server_t *s = NULL;
    ASSERT_EQ(ss_server_create(&cfg, &handler, NULL), SS_EUSAGE);
    ASSERT_EQ(ss_server_create(NULL, &handler, &s), SS_EUSAGE);
    ASSERT_EQ(ss_server_create(&cfg, NULL, &s), SS_EUSAGE);

    /* The largest datagram allowed is allowed; a backlog of 0 means the
     * default, and the server's copy of the configuration says so. */
    cfg.max_datagram = 16 * 1024 * 1024;
    cfg.backlog = 0;
    ASSERT_OK(ss_server_create(&cfg, &handler, &s));
    ASSERT_EQ(ss_server_config(s)->backlog, SOMAXCONN);
    ASSERT_EQ(ss_server_config(s)->max_datagram, 16 * 1024 * 1024);
    ASSERT_EQ(ss_server_listener_count(s), 0);
    ss_server_close(s);
}

static void test_server_args(void)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    ss_server_t *s;
    ASSERT_OK(ss_server_create(&cfg, &handler, &s));
    ss_addr_t a;
    ASSERT_EQ(ss_server_address(s, 0, &a), -EINVAL);
    ASSERT_EQ(ss_server_address(s, -1, &a), -EINVAL);
    ASSERT_EQ(ss_server_listen(s, "tcp://127.0.0.1"), SS_EADDR);
    ASSERT_EQ(ss_server_listen(s, NULL), SS_EUSAGE);
    /* An adopted descriptor must be a socket. */
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    int rc = ss_server_listen_fd(s, p[0], SS_TCP);
    ASSERT_EQ(rc, -ENOTSOCK);
    ASSERT(strstr(ss_errmsg(), "adopt listener fd") != NULL);
    close(p[0]);
    close(p[1]);
    ASSERT_EQ(ss_server_listener_count(s), 0);
    ASSERT_EQ(ss_server_serve(s), SS_EUSAGE); /* nothing to serve */
    ASSERT_OK(ss_server_listen(s, "tcp://127.0.0.1:0"));
    ASSERT_EQ(ss_server_listener_count(s), 1);
    ASSERT_OK(ss_server_address(s, 0, &a));
    ASSERT_EQ(ss_server_address(s, 1, &a), -EINVAL);
    ss_server_close(s);
}

/* reuse_port: a second server may bind the port a first one holds. */
static void test_reuse_port(void)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.log_level = SS_LOG_ERROR;
    cfg.reuse_port = 1;
    ss_server_t *s1, *s2, *s3;
    ASSERT_OK(ss_server_create(&cfg, &handler, &s1));
    ASSERT_OK(ss_server_create(&cfg, &handler, &s2));
    ASSERT_OK(ss_server_listen(s1, "tcp://127.0.0.1:0"));
    char addr[SS_ADDRSTRLEN];
    bound_text(s1, addr);
    ASSERT_OK(ss_server_listen(s2, addr));
    cfg.reuse_port = 0;
    ASSERT_OK(ss_server_create(&cfg, &handler, &s3));
    ASSERT_EQ(ss_server_listen(s3, addr), -EADDRINUSE);
    ASSERT(strstr(ss_errmsg(), "bind") != NULL);
    ss_server_close(s3);
    ss_server_close(s2);
    ss_server_close(s1);
}

/* ------------------------------------------------------ handler contract */

/* The server closed the connection without writing: end of stream, or a
 * reset since the request line it never read was still in its buffer. */
static void expect_no_reply(ss_conn_t *c)
{
    char buf[16];
    ssize_t r = ss_read(c, buf, sizeof buf);
    if (r != 0 && r != -ECONNRESET) FAIL_AT("want no reply, got %zd (%s)", r, ss_conn_errmsg(c));
}

/* setup's verdict: 0 runs handle; negative skips it and is the request's
 * error; positive skips it quietly. finish runs whenever setup did. */
static void test_setup_verdict(void)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.handle_error = on_error;
    ss_server_t *s = sync_server("tcp://127.0.0.1:0", &cfg);
    char buf[16];

    seen.setup_rc = -EACCES;
    ss_conn_t *c = send_line(s, "one\n");
    expect_no_reply(c); /* closed without a reply */
    ss_conn_close(c);
    ASSERT_EQ(seen.setups, 1);
    ASSERT_EQ(seen.handles, 0);
    ASSERT_EQ(seen.finishes, 1);
    ASSERT_EQ(seen.errors, 1);
    ASSERT_EQ(seen.last_error, -EACCES);
    ASSERT(seen.data_in_finish == &data_tag);

    seen.setup_rc = 1;
    c = send_line(s, "two\n");
    expect_no_reply(c);
    ss_conn_close(c);
    ASSERT_EQ(seen.setups, 2);
    ASSERT_EQ(seen.handles, 0);
    ASSERT_EQ(seen.finishes, 2);
    ASSERT_EQ(seen.errors, 1);

    seen.setup_rc = 0;
    c = send_line(s, "three\n");
    ASSERT_EQ(ss_read(c, buf, sizeof buf), 6);
    ASSERT_MEM_EQ(buf, "three\n", 6);
    ss_conn_close(c);
    ASSERT_EQ(seen.handles, 1);
    ASSERT_EQ(seen.finishes, 3);
    ASSERT_EQ(seen.errors, 1);
    ASSERT(seen.server_seen == s);
    ASSERT_EQ(seen.transport_seen, SS_TCP);
    ss_server_close(s);
}

/* Without a handle_error hook, a failure the handler made up (no call on
 * the connection failed) is logged with the peer and the error's name. */
static void test_default_error_log(void)
{
    ss_server_t *s = sync_server("tcp://127.0.0.1:0", NULL);
    seen.handle_rc = -EPROTO;
    ss_conn_t *c = send_line(s, "x\n");
    char peer[SS_ADDRSTRLEN];
    ASSERT_OK(ss_addr_format(ss_conn_local(c), peer, sizeof peer));
    ss_conn_close(c);
    ASSERT_EQ(seen.handles, 1);
    ASSERT_GE(seen.logs, 1);
    ASSERT(strstr(seen.log, "failed: Protocol error") != NULL);
    if (!strstr(seen.log, peer)) FAIL_AT("log \"%s\" lacks the peer %s", seen.log, peer);
    ss_server_close(s);
}

/* request_timeout_ms: the handler starts with the request's deadline set;
 * without it, none. */
static void test_request_deadline(void)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.request_timeout_ms = 60000;
    ss_server_t *s = sync_server("tcp://127.0.0.1:0", &cfg);
    int64_t before = ss_now_ms();
    ss_conn_close(send_line(s, "a\n"));
    ASSERT_EQ(seen.handles, 1);
    ASSERT_GT(seen.deadline_seen, before);
    ASSERT_LE(seen.deadline_seen, seen.now_seen + 60000);
    ss_server_close(s);

    s = sync_server("tcp://127.0.0.1:0", NULL);
    ss_conn_close(send_line(s, "b\n"));
    ASSERT_EQ(seen.handles, 1);
    ASSERT_EQ(seen.deadline_seen, 0);
    ss_server_close(s);
}

/* ------------------------------------------------------------ datagrams */

/* A datagram larger than max_datagram is dropped with a warning, never
 * handed to the handler cut short; the next one is served. */
static void test_dgram_too_big(void)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.max_datagram = 100;
    ss_server_t *s = sync_server("udp://127.0.0.1:0", &cfg);
    char addr[SS_ADDRSTRLEN];
    bound_text(s, addr);
    ss_conn_t *c;
    ASSERT_OK(ss_dial(addr, 0, &c));
    char big[200];
    memset(big, 'b', sizeof big);
    ASSERT_OK(ss_write(c, big, sizeof big));
    ASSERT_OK(ss_flush(c));
    ASSERT_OK(ss_write(c, "small", 5));
    ASSERT_OK(ss_flush(c));
    ASSERT_EQ(ss_server_handle_request(s, SS_NO_DEADLINE), 0); /* no time limit */
    ASSERT_EQ(seen.handles, 1);
    ASSERT_EQ(seen.bytes_seen, 5);
    ASSERT_EQ(seen.transport_seen, SS_UDP);
    ASSERT(strstr(seen.log, "truncated") != NULL);
    ASSERT(strstr(seen.log, "200 bytes") != NULL);
    ss_set_deadline(c, ss_now_ms() + 5000);
    char buf[16];
    ASSERT_EQ(ss_read(c, buf, sizeof buf), 5);
    ASSERT_MEM_EQ(buf, "small", 5);
    ss_conn_close(c);
    ss_server_close(s);
}

/* A dialed datagram connection receives a datagram larger than its buffer:
 * SS_ETRUNC, not a cut datagram; the next one reads whole. */
static void test_dgram_reply_too_big(void)
{
    char dir[] = "/tmp/ss-extra-XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/g", dir);
    int srv = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT(srv >= 0);
    int sz = 1 << 20;
    ASSERT_EQ(setsockopt(srv, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz), 0);
    ASSERT_EQ(bind(srv, (struct sockaddr *)&sun, sizeof sun), 0);
    char addr[SS_ADDRSTRLEN];
    snprintf(addr, sizeof addr, "unixgram:%s", sun.sun_path);

    ss_conn_t *c;
    ASSERT_OK(ss_dial(addr, 0, &c));
    ASSERT_OK(ss_write(c, "hi", 2));
    ASSERT_OK(ss_flush(c));
    struct sockaddr_un from;
    socklen_t flen = sizeof from;
    char in[8];
    ASSERT_EQ(recvfrom(srv, in, sizeof in, 0, (struct sockaddr *)&from, &flen), 2);
    size_t big = 65536 + 1000; /* beyond a dialed connection's default max_datagram */
    char *out = calloc(1, big);
    ASSERT(out != NULL);
    ASSERT_EQ(sendto(srv, out, big, 0, (struct sockaddr *)&from, flen), (ssize_t)big);
    ASSERT_EQ(sendto(srv, "ok", 2, 0, (struct sockaddr *)&from, flen), 2);
    free(out);

    ss_set_deadline(c, ss_now_ms() + 5000);
    char buf[64];
    ASSERT_EQ(ss_read(c, buf, sizeof buf), SS_ETRUNC);
    ASSERT(strstr(ss_conn_errmsg(c), "truncated") != NULL);
    ASSERT_EQ(ss_read(c, buf, sizeof buf), 2);
    ASSERT_MEM_EQ(buf, "ok", 2);
    ss_conn_close(c);
    close(srv);
    unlink(sun.sun_path);
    rmdir(dir);
}

/* ------------------------------------------------------ client-side calls */

static void test_conn_usage(void)
{
    void *junk = &data_tag;
    ss_conn_t *c = junk; /* must be set to NULL on failure */
    ASSERT_EQ(ss_dial("tcp://127.0.0.1:1", 0, NULL), SS_EUSAGE);
    ASSERT_EQ(ss_dial(NULL, 0, &c), SS_EUSAGE);
    ASSERT_EQ(ss_dial("tcp://nowhere", 0, &c), SS_EADDR);
    ASSERT(c == NULL);
    ss_conn_close(NULL);

    ss_server_t *s = sync_server("tcp://127.0.0.1:0", NULL);
    char addr[SS_ADDRSTRLEN];
    bound_text(s, addr);
    ASSERT_OK(ss_dial(addr, ss_now_ms() + 5000, &c));
    ASSERT_EQ(ss_conn_transport(c), SS_TCP);
    ASSERT_EQ(ss_conn_is_datagram(c), 0);
    ASSERT(ss_conn_server(c) == NULL); /* dialed: no server */
    ASSERT(ss_conn_data(c) == NULL);
    ss_conn_set_data(c, &data_tag);
    ASSERT(ss_conn_data(c) == &data_tag);
    ASSERT_STR_EQ(ss_conn_errmsg(c), "");
    ss_addr_t bound;
    ASSERT_OK(ss_server_address(s, 0, &bound));
    ASSERT_EQ(ss_addr_port(ss_conn_peer(c)), ss_addr_port(&bound));
    ASSERT_GT(ss_addr_port(ss_conn_local(c)), 0);
    ASSERT_STR_EQ(ss_conn_peername(c), addr);
    ASSERT_EQ(ss_deadline(c), 0);
    char buf[4];
    ASSERT_EQ(ss_read(c, buf, 0), 0); /* nothing asked, nothing waited for */
    ASSERT_EQ(ss_readline(c, NULL, 10), SS_EUSAGE);
    ASSERT_EQ(ss_readline(c, buf, 0), SS_EUSAGE);
    ASSERT(strstr(ss_conn_errmsg(c), "readline") != NULL);
    ASSERT_EQ(ss_request(c, "x", 1, buf, sizeof buf, ss_now_ms() + 10, 1),
              SS_EUSAGE); /* a stream */
    ss_conn_close(c);
    ss_server_close(s);

    ASSERT_OK(ss_dial("udp://127.0.0.1:9", 0, &c));
    ASSERT_EQ(ss_conn_transport(c), SS_UDP);
    ASSERT_EQ(ss_conn_is_datagram(c), 1);
    ASSERT_EQ(ss_close_write(c), SS_EUSAGE); /* no half-close for datagrams */
    ss_conn_close(c);
}

/* ---------------------------------------------------- full unix backlog */

typedef struct {
    int fd;
    int accepted;
} acceptor;

static void *accept_one(void *arg)
{
    acceptor *a = arg;
    usleep(50 * 1000); /* let the dial find the backlog full first */
    int fd = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC);
    a->accepted = fd;
    return NULL;
}

/* A unix stream listener whose backlog is full makes connect(2) fail with
 * EAGAIN, which poll cannot wait for: ss_dial retries until its deadline
 * (then -ETIMEDOUT), and succeeds once the server makes room. */
static void test_unix_backlog_full(void)
{
    char dir[] = "/tmp/ss-extra-XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/s", dir);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT(l >= 0);
    ASSERT_EQ(bind(l, (struct sockaddr *)&sun, sizeof sun), 0);
    ASSERT_EQ(listen(l, 0), 0);
    int fill[16], nfill = 0;
    for (; nfill < 16; nfill++) {
        fill[nfill] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ASSERT(fill[nfill] >= 0);
        if (connect(fill[nfill], (struct sockaddr *)&sun, sizeof sun) < 0) {
            ASSERT_EQ(errno, EAGAIN);
            close(fill[nfill]);
            break;
        }
    }
    ASSERT_LT(nfill, 16); /* the backlog did fill */
    char addr[SS_ADDRSTRLEN];
    snprintf(addr, sizeof addr, "unix:%s", sun.sun_path);

    ss_conn_t *c = NULL;
    ASSERT_EQ(ss_dial(addr, ss_now_ms() + 30, &c), -ETIMEDOUT);
    ASSERT(c == NULL);
    ASSERT(strstr(ss_errmsg(), addr) != NULL);

    acceptor a = {.fd = l, .accepted = -1};
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, accept_one, &a), 0);
    ASSERT_OK(ss_dial(addr, ss_now_ms() + 20000, &c));
    pthread_join(t, NULL);
    ASSERT(a.accepted >= 0);
    ASSERT_EQ(ss_conn_transport(c), SS_UNIX);
    ss_conn_close(c);
    close(a.accepted);
    for (int i = 0; i < nfill; i++) close(fill[i]);
    close(l);
    unlink(sun.sun_path);
    rmdir(dir);
}

/* ss_server_serve_conn: a connection accepted elsewhere (inetd's) is
 * served in the calling thread through setup, handle and finish, then
 * closed, so the peer sees the end; the peer is the socket's. Refused: a
 * mode other than sync, a listener, a datagram socket, a pipe. */
static void test_serve_conn(void)
{
    ss_server_t *s = sync_server("tcp://127.0.0.1:0", NULL);
    char addr[SS_ADDRSTRLEN];
    bound_text(s, addr);
    /* A real TCP connection: accept it ourselves, as inetd would. */
    int l = ss_server_listener_fd(s, 0);
    ASSERT(l >= 0);
    ss_conn_t *c;
    ASSERT_OK(ss_dial(addr, ss_now_ms() + 5000, &c));
    int fd = -1;
    for (int i = 0; i < 500 && fd < 0; i++) {
        fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) usleep(2000);
    }
    ASSERT(fd >= 0);
    ss_set_deadline(c, ss_now_ms() + 5000);
    ASSERT_OK(ss_puts(c, "inetd\n"));
    ASSERT_OK(ss_flush(c));
    ASSERT_EQ(ss_server_serve_conn(s, fd, 0), 0);
    ASSERT_EQ(seen.setups, 1);
    ASSERT_EQ(seen.handles, 1);
    ASSERT_EQ(seen.finishes, 1);
    ASSERT_EQ(seen.transport_seen, SS_TCP);
    char line[64];
    ASSERT_EQ(ss_readline(c, line, sizeof line), 6);
    ASSERT_MEM_EQ(line, "inetd\n", 6);
    ASSERT_EQ(ss_readline(c, line, sizeof line), 0); /* the end: fd was closed */
    ss_conn_close(c);

    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
    ASSERT_EQ(ss_server_serve_conn(s, sv[0], 0), -EINVAL);
    ASSERT(strstr(ss_errmsg(), "not a connected stream") != NULL);
    close(sv[1]);
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    ASSERT_EQ(ss_server_serve_conn(s, p[0], 0), -ENOTSOCK);
    close(p[1]);
    int lfd = fcntl(l, F_DUPFD_CLOEXEC, 3);
    ASSERT_EQ(ss_server_serve_conn(s, lfd, 0), -EINVAL); /* a listener */
    ss_server_close(s);

    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.mode = SS_MODE_THREAD;
    s = sync_server("tcp://127.0.0.1:0", &cfg);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ASSERT_EQ(ss_server_serve_conn(s, sv[0], 0), SS_EMODE);
    close(sv[1]);
    ss_server_close(s);
}

/* ss_server_listener_fd: the listener's own descriptor, gone once a
 * shutdown closes stream listeners. */
static void test_listener_fd(void)
{
    ss_server_t *s = sync_server("unix:@ss-extra-listener-fd", NULL);
    int fd = ss_server_listener_fd(s, 0);
    ASSERT(fd >= 0);
    int listening = 0;
    socklen_t len = sizeof listening;
    ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len), 0);
    ASSERT_EQ(listening, 1);
    ASSERT_EQ(ss_server_listener_fd(s, 1), -EINVAL);
    ASSERT_EQ(ss_server_listener_fd(s, -1), -EINVAL);
    ss__close_listeners(s);
    ASSERT_EQ(ss_server_listener_fd(s, 0), -EBADF);
    ss_server_close(s);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        {"strerror_all", test_strerror_all},
        {"mode_table", test_mode_table},
        {"addr_args", test_addr_args},
        {"addr_format_unix", test_addr_format_unix},
        {"addr_hosts", test_addr_hosts},
        {"addr_format_safe", test_addr_format_safe},
        {"clock_deadlines", test_clock_deadlines},
        {"config_limits", test_config_limits},
        {"server_args", test_server_args},
        {"reuse_port", test_reuse_port},
        {"setup_verdict", test_setup_verdict},
        {"default_error_log", test_default_error_log},
        {"request_deadline", test_request_deadline},
        {"dgram_too_big", test_dgram_too_big},
        {"dgram_reply_too_big", test_dgram_reply_too_big},
        {"conn_usage", test_conn_usage},
        {"unix_backlog_full", test_unix_backlog_full},
        {"offload_in_place", test_offload_in_place},
        {"serve_conn", test_serve_conn},
        {"listener_fd", test_listener_fd},
        {NULL, NULL},
    };
    return test_main(cases, argc, argv);
}
