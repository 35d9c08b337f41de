/* test_admit.c - admission by source (src/admit.c) in every mode, over a
 * real loopback server: the allow and deny lists, max_per_source, rate,
 * source_prefix, the datagram reply budgets, and the source table under a
 * flood of distinct sources. Clients bind to chosen 127.x addresses
 * (loopback has all of 127/8), or name any source they like in a PROXY v2
 * header (IPv4 and IPv6). The server publishes its refusals by reason
 * through service_actions. Cases:
 *   per_source  max_per_source 2: a third connection from one source is
 *               closed at once; once one ends (its fork child or prefork
 *               worker reaped) a new one is served; another source is not
 *               counted with it (unix: one user ID is one source)
 *   crash       fork, prefork: a child killed mid-session gives its count
 *               back (taken at accept, and after a PROXY header: a lease)
 *   rate        rate 2/s, burst 2: two at once, the third refused, one
 *               more after half a second
 *   lists       allow and deny, IPv4 and IPv6, direct and in PROXY headers
 *               (deny wins; outside the allow list refused); datagrams
 *               from a denied address get no reply
 *   prefix      max_per_source 1: 127.0.0.1 and 127.0.0.2 are one source
 *               under /24, two under /32; two IPv6 addresses of one /64
 *               are one source, another /64 is not, and under 32,128 they
 *               are two
 *   flood       100,000 distinct sources (PROXY v2, half IPv4, half IPv6)
 *               through a table of 1,024 entries: the server's memory
 *               stays flat, the limits still hold, it serves on (thread
 *               and fork: 10,000 through 64 entries)
 *   udp_budget  512-byte replies to a flood of datagrams: one second's
 *               budget comes back, the rest is dropped (counted); more
 *               after a second; a second source gets its own
 *   udp_amp     udp_amplification 2: 512-byte replies to 10-byte
 *               datagrams are dropped, to 300-byte ones sent
 *   table_full  100 live sources and a table of 64 entries: a source whose
 *               set is full of live ones is refused; all are served later
 *   config      the defaults; each bad setting fails ss_server_create
 *               with -EINVAL naming it (test_admit config)
 * Usage: test_admit CASE MODE TRANSPORT. */
#include "harness.h"
#include "internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

/* ASan's quarantine would hold every freed block of 100,000 sessions and
 * hide the bound the flood case checks: keep it small in this program. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=4";
}

/* What the server process saw, shared with the test. */
typedef struct seen {
    _Atomic unsigned long refused[SS_REFUSED__COUNT];
} seen;

static seen *S;
static shared_counts *C;
static const char *MODE, *TRANSPORT;
static int abortive; /* close with a reset: 100,000 connections leave no TIME_WAIT */

static void publish(ss_server_t *s, void *ctx)
{
    (void)ctx;
    C->active = ss_server_active(s);
    ss_stats_t st;
    if (ss_server_stats(s, &st) < 0) return;
    for (int i = 0; i < SS_REFUSED__COUNT; i++) S->refused[i] = st.refused[i];
}

/* Streams: each line back, "die" kills the process serving it (fork and
 * prefork only). Datagrams: 512 bytes for any datagram (chargen's most). */
static int handle(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    char line[128];
    if (ss_conn_is_datagram(c)) {
        char reply[512];
        memset(reply, 'x', sizeof reply);
        return ss_write(c, reply, sizeof reply);
    }
    ssize_t n;
    while ((n = ss_readline(c, line, sizeof line)) > 0) {
        if (strcmp(line, "die\n") == 0) kill(getpid(), SIGKILL);
        int rc = ss_write(c, line, (size_t)n);
        if (rc == 0) rc = ss_flush(c);
        if (rc < 0) return rc;
    }
    return (int)n;
}

static const ss_handler_t handler = {NULL, handle, NULL, NULL};

static void config(ss_config_t *cfg)
{
    ss_config_init(cfg);
    ASSERT_OK(ss_mode_parse(MODE, &cfg->mode));
    if (cfg->mode == SS_MODE_PREFORK || cfg->mode == SS_MODE_POOL) cfg->workers = 8;
    cfg->service_actions = publish;
    cfg->service_interval_ms = 5;
    cfg->log_level = SS_LOG_DEBUG; /* the rate-limited refusal lines, seen in a failure's log */
}

static void start(running *r, const ss_config_t *cfg, const char *transport)
{
    memset((void *)S, 0, sizeof *S);
    start_server(r, cfg, &handler, transport, C);
}

/* ------------------------------------------------------------- clients */

/* The server's address as a sockaddr. */
static ss_addr_t server_addr(const running *r)
{
    ss_addr_t a;
    ASSERT_OK(ss_addr_parse(r->addr, &a));
    return a;
}

static void set_timeout(int fd, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
}

/* A socket of the server's family and type, bound to src (NULL: any). */
static int socket_from(const ss_addr_t *to, int type, const char *src)
{
    int fd = socket(to->sa.ss_family, type | SOCK_CLOEXEC, 0);
    ASSERT(fd >= 0);
    set_timeout(fd, 3000);
    if (!src) return fd;
    struct sockaddr_storage b = {0};
    socklen_t len;
    if (to->sa.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&b;
        in->sin_family = AF_INET;
        ASSERT_EQ(inet_pton(AF_INET, src, &in->sin_addr), 1);
        len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&b;
        in6->sin6_family = AF_INET6;
        ASSERT_EQ(inet_pton(AF_INET6, src, &in6->sin6_addr), 1);
        len = sizeof *in6;
    }
    ASSERT_EQ(bind(fd, (struct sockaddr *)&b, len), 0);
    return fd;
}

/* A stream connection to the server from src (NULL: the default). */
static int dial_from(const running *r, const char *src)
{
    ss_addr_t to = server_addr(r);
    int fd = to.sa.ss_family == AF_UNIX ? socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)
                                        : socket_from(&to, SOCK_STREAM, src);
    ASSERT(fd >= 0);
    set_timeout(fd, 3000);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&to.sa, to.len), 0);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    ASSERT_EQ(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Sends msg (one line, with a PROXY header before it when hdr is given)
 * and reads it back: 1 when it came back, 0 when the server closed (or
 * reset) the connection instead. */
static int roundtrip(int fd, const void *hdr, size_t hlen, const char *msg)
{
    char out[256], in[256];
    size_t n = strlen(msg);
    ASSERT(hlen + n <= sizeof out);
    if (hlen) memcpy(out, hdr, hlen);
    memcpy(out + hlen, msg, n);
    ssize_t w = send(fd, out, hlen + n, MSG_NOSIGNAL);
    if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) return 0;
    ASSERT_EQ(w, (ssize_t)(hlen + n));
    size_t got = 0;
    while (got < n) {
        ssize_t k = recv(fd, in + got, n - got, 0);
        if (k == 0 || (k < 0 && errno == ECONNRESET)) return 0;
        if (k < 0) FAIL_AT("recv: %s", strerror(errno));
        got += (size_t)k;
    }
    ASSERT_MEM_EQ(in, msg, n);
    return 1;
}

static const unsigned char sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* A v2 PROXY header (section 2.2) for TCP from src (IPv4 or IPv6). */
static size_t v2_header(unsigned char *out, const char *src)
{
    int six = strchr(src, ':') != NULL;
    size_t w = six ? 16 : 4, alen = 2 * w + 4;
    memcpy(out, sig, 12);
    out[12] = 0x21;
    out[13] = six ? 0x21 : 0x11;
    out[14] = 0;
    out[15] = (unsigned char)alen;
    ASSERT_EQ(inet_pton(six ? AF_INET6 : AF_INET, src, out + 16), 1);
    ASSERT_EQ(inet_pton(six ? AF_INET6 : AF_INET, six ? "::1" : "127.0.0.1", out + 16 + w), 1);
    out[16 + 2 * w] = 0x30, out[17 + 2 * w] = 0x39; /* port 12345 */
    out[18 + 2 * w] = 0x1f, out[19 + 2 * w] = 0x90; /* port 8080 */
    return 16 + alen;
}

/* A connection from src, directly or (proxy) named in a PROXY header:
 * served (1, fd kept open in *out) or refused (0, closed). */
static int try_from(const running *r, int proxy, const char *src, int *out)
{
    unsigned char hdr[64];
    size_t hlen = proxy ? v2_header(hdr, src) : 0;
    int fd = dial_from(r, proxy ? NULL : src);
    int ok = roundtrip(fd, hdr, hlen, "hello\n");
    if (ok && out) {
        *out = fd;
        return ok;
    }
    if (abortive) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(fd);
    if (out) *out = -1;
    return ok;
}

/* Until a connection from src is served (a count released elsewhere, a
 * child reaped): at most 5 s. */
static int served_soon(const running *r, int proxy, const char *src, int *out)
{
    int64_t end = ss_now_ms() + 5000;
    while (!try_from(r, proxy, src, out)) {
        if (ss_now_ms() > end) return 0;
        usleep(20 * 1000);
    }
    return 1;
}

static void wait_refused(ss_refusal_t why, unsigned long n)
{
    int64_t end = ss_now_ms() + 5000;
    while (S->refused[why] < n) {
        if (ss_now_ms() > end)
            FAIL_AT("refused %s: %lu, want %lu", ss_refusal_name(why),
                    (unsigned long)S->refused[why], n);
        usleep(2000);
    }
}

static int is_six(void)
{
    return strcmp(TRANSPORT, "tcp6") == 0 || strcmp(TRANSPORT, "udp6") == 0;
}

/* ---------------------------------------------------------------- cases */

static void case_per_source(void)
{
    ss_config_t cfg;
    config(&cfg);
    cfg.max_per_source = 2;
    running r;
    start(&r, &cfg, TRANSPORT);
    int unix_ = strcmp(TRANSPORT, "unix") == 0;
    const char *me = unix_ ? NULL : is_six() ? "::1" : "127.0.0.1";
    int a, b, c;
    ASSERT(try_from(&r, 0, me, &a));
    ASSERT(try_from(&r, 0, me, &b));
    ASSERT(!try_from(&r, 0, me, NULL)); /* the third at once */
    wait_refused(SS_REFUSED_PER_SOURCE, 1);
    if (!unix_ && !is_six()) { /* another source is not counted with it */
        ASSERT(try_from(&r, 0, "127.0.0.9", &c));
        close(c);
    }
    close(a); /* its session ends; its count goes (fork: when reaped) */
    ASSERT(served_soon(&r, 0, me, &a));
    ASSERT(!try_from(&r, 0, me, NULL));
    close(a);
    close(b);
    /* Both counts go back: two at once again. */
    ASSERT(served_soon(&r, 0, me, &a));
    ASSERT(served_soon(&r, 0, me, &b));
    close(a);
    close(b);
    stop_server(&r);
}

/* A process killed in a session (fork: its child; prefork: its worker)
 * gives its count back, over a PROXY header too (then the child took the
 * count itself, and its parent releases its lease). */
static void case_crash(void)
{
    for (int proxy = 0; proxy <= 1; proxy++) {
        ss_config_t cfg;
        config(&cfg);
        cfg.max_per_source = 1;
        if (proxy) cfg.proxy_protocol = SS_PROXY_V2;
        running r;
        start(&r, &cfg, "tcp4");
        const char *src = proxy ? "192.0.2.7" : "127.0.0.1";
        for (int i = 0; i < 3; i++) {
            int a;
            ASSERT(served_soon(&r, proxy, src, &a));
            ASSERT(!try_from(&r, proxy, src, NULL));
            send_all(a, "die\n", 4);
            char b[8];
            ASSERT(recv(a, b, sizeof b, 0) <= 0);
            close(a);
        }
        ASSERT(served_soon(&r, proxy, src, NULL));
        stop_server(&r);
    }
}

static void case_rate(void)
{
    ss_config_t cfg;
    config(&cfg);
    cfg.rate = 2;
    running r;
    start(&r, &cfg, TRANSPORT);
    const char *me = is_six() ? "::1" : "127.0.0.1";
    /* The bucket holds 2: two at once, then refused. Each is closed at
     * once: the rate counts new connections, not live ones. */
    ASSERT(try_from(&r, 0, me, NULL));
    ASSERT(try_from(&r, 0, me, NULL));
    int64_t t0 = ss_now_ms();
    int refused = !try_from(&r, 0, me, NULL);
    if (ss_now_ms() - t0 < 400) ASSERT(refused); /* a slow machine may have refilled */
    if (refused) wait_refused(SS_REFUSED_RATE, 1);
    /* A token every half second. */
    usleep(600 * 1000);
    ASSERT(try_from(&r, 0, me, NULL));
    if (!is_six()) ASSERT(try_from(&r, 0, "127.0.0.2", NULL)); /* its own bucket */
    stop_server(&r);
}

/* A datagram from src: 1 when a reply came back within ms. */
static int datagram_from(const running *r, const char *src, size_t n, int ms)
{
    ss_addr_t to = server_addr(r);
    int fd = socket_from(&to, SOCK_DGRAM, src);
    char out[512] = {0}, in[1024];
    ASSERT(n <= sizeof out);
    ASSERT_EQ(sendto(fd, out, n, 0, (struct sockaddr *)&to.sa, to.len), (ssize_t)n);
    set_timeout(fd, ms);
    ssize_t k = recv(fd, in, sizeof in, 0);
    close(fd);
    return k > 0;
}

static void case_lists(void)
{
    ss_config_t cfg;
    config(&cfg);
    int dgram = strncmp(TRANSPORT, "udp", 3) == 0;
    if (strcmp(TRANSPORT, "tcp4") == 0 || dgram) {
        cfg.allow = is_six() ? "::1" : "127.0.0.0/24";
        cfg.deny = is_six() ? "::2" : "127.0.0.3,127.0.0.128/25";
    } else { /* tcp6: the lists judge the PROXY header's address */
        cfg.proxy_protocol = SS_PROXY_V2;
        cfg.allow = "2001:db8::/32,192.0.2.0/24";
        cfg.deny = "2001:db8:bad::/48,192.0.2.66";
    }
    running r;
    start(&r, &cfg, TRANSPORT);
    unsigned long n = 0;
    if (dgram && is_six()) {
        ASSERT(datagram_from(&r, "::1", 10, 2000));
    } else if (dgram) {
        ASSERT(datagram_from(&r, "127.0.0.1", 10, 2000));
        ASSERT(!datagram_from(&r, "127.0.0.3", 10, 300)); /* denied */
        ASSERT(!datagram_from(&r, "127.0.1.1", 10, 300)); /* outside allow */
        n = 2;
    } else if (strcmp(TRANSPORT, "tcp4") == 0) {
        ASSERT(try_from(&r, 0, "127.0.0.1", NULL));
        ASSERT(try_from(&r, 0, "127.0.0.4", NULL));
        ASSERT(!try_from(&r, 0, "127.0.0.3", NULL));   /* denied, in the allowed /24 */
        ASSERT(!try_from(&r, 0, "127.0.0.200", NULL)); /* the denied /25 */
        ASSERT(!try_from(&r, 0, "127.0.1.1", NULL));   /* outside allow */
        n = 3;
    } else {
        ASSERT(try_from(&r, 1, "2001:db8:1::5", NULL));
        ASSERT(try_from(&r, 1, "192.0.2.1", NULL));
        ASSERT(!try_from(&r, 1, "2001:db8:bad::1", NULL)); /* denied */
        ASSERT(!try_from(&r, 1, "2001:db9::1", NULL));     /* outside allow */
        ASSERT(!try_from(&r, 1, "192.0.2.66", NULL));      /* denied */
        ASSERT(!try_from(&r, 1, "198.51.100.1", NULL));    /* outside allow */
        n = 4;
    }
    wait_refused(SS_REFUSED_DENY, n);
    ASSERT_EQ(S->refused[SS_REFUSED_DENY], n);
    stop_server(&r);
}

static void case_prefix(void)
{
    for (int round = 0; round < 2; round++) {
        ss_config_t cfg;
        config(&cfg);
        cfg.max_per_source = 1;
        int proxy = strcmp(TRANSPORT, "tcp6") == 0;
        if (proxy) cfg.proxy_protocol = SS_PROXY_V2;
        if (round == 1) cfg.source_prefix_v4 = 24, cfg.source_prefix_v6 = 128;
        running r;
        start(&r, &cfg, "tcp4");
        int a, b;
        if (!proxy) {
            ASSERT(try_from(&r, 0, "127.0.0.1", &a));
            /* /32: two sources; /24: one, at its limit. */
            ASSERT_EQ(try_from(&r, 0, "127.0.0.2", &b), round == 0);
            if (round == 0) close(b);
            ASSERT(try_from(&r, 0, "127.0.1.2", &b)); /* another /24 */
        } else {
            ASSERT(try_from(&r, 1, "2001:db8:1:1::1", &a));
            /* One /64: one source at its limit; under /128, two. */
            ASSERT_EQ(try_from(&r, 1, "2001:db8:1:1::2", &b), round == 1);
            if (round == 1) close(b);
            ASSERT(try_from(&r, 1, "2001:db8:1:2::1", &b)); /* another /64 */
        }
        close(a);
        close(b);
        stop_server(&r);
    }
}

/* The server process's resident memory (its parent's fork children and
 * workers have their own), in KiB. */
static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    ASSERT(f != NULL);
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

/* Source i of the flood: 10.a.b.c for the first half, a /64 of
 * 2001:db8::/32 each for the second. */
static void flood_source(int i, char *out, size_t cap)
{
    if (i % 2 == 0)
        snprintf(out, cap, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    else
        snprintf(out, cap, "2001:db8:%x:%x::1", (i >> 16) & 0xffff, i & 0xffff);
}

/* 100,000 sources (sync, pool, prefork, event); 10,000 through a table of
 * 64 entries where each session costs a thread or a process (thread,
 * fork: 100,000 would take minutes under the sanitizers), whose resident
 * size is not judged (ASan keeps a record of every thread that ran). */
static void case_flood(void)
{
    int small = strcmp(MODE, "thread") == 0 || strcmp(MODE, "fork") == 0;
    const int SOURCES = small ? 10000 : 100000, WARM = SOURCES / 2;
    ss_config_t cfg;
    config(&cfg);
    cfg.log_level = SS_LOG_WARN; /* 100,000 resets are logged at info */
    abortive = 1;
    cfg.proxy_protocol = SS_PROXY_V2;
    cfg.max_per_source = 2;
    cfg.rate = 1000;
    cfg.source_table_size = small ? 64 : 1024;
    if (getenv("ADMIT_NO_LIMITS")) /* for comparison, by hand: no table at all */
        cfg.max_per_source = 0, cfg.rate = 0, cfg.udp_budget = 0;
    running r;
    start(&r, &cfg, "tcp4");
    /* A live source through it all (sync mode serves one client at a
     * time: its sessions all end). */
    int sync = strcmp(MODE, "sync") == 0, held = -1;
    if (!sync) ASSERT(try_from(&r, 1, "198.51.100.7", &held));
    long rss0 = 0;
    char src[64];
    for (int i = 0; i < SOURCES; i++) {
        if (i == WARM) rss0 = rss_kib(r.pid);
        if (getenv("ADMIT_TRACE") && i % 10000 == 0)
            fprintf(stderr, "%d: %ld\n", i, rss_kib(r.pid));
        flood_source(i, src, sizeof src);
        if (!try_from(&r, 1, src, NULL)) FAIL_AT("source %d (%s) refused", i, src);
    }
    long rss1 = rss_kib(r.pid);
    fprintf(stderr, "server RSS: %ld KiB after %d sources, %ld KiB after %d\n", rss0, WARM, rss1,
            SOURCES);
    /* The table is fixed (1,024 entries, 40 KiB): what grows over the
     * second 50,000 sources (allocators' caches and ASan's quarantine,
     * per thread, are full by then: the resident size stays flat from
     * about 40,000 on) is a leak. */
    /* Not under ThreadSanitizer: its own bookkeeping (the history and sync
     * objects of every connection's memory) grows with the sessions, some
     * 15 MiB over these 50,000 (measured), whatever the server holds. */
    if (!small && !SS_TSAN) ASSERT_LT(rss1 - rss0, 2 * 1024);
    if (getenv("ADMIT_NO_LIMITS")) return;
    /* The live source kept its entry and its count: one more from it is
     * its second (allowed), a third is refused. */
    ASSERT_EQ(S->refused[SS_REFUSED_RATE], 0);
    ASSERT_EQ(S->refused[SS_REFUSED_PER_SOURCE], 0);
    if (!sync) {
        int second;
        ASSERT(try_from(&r, 1, "198.51.100.7", &second));
        ASSERT(!try_from(&r, 1, "198.51.100.7", NULL));
        wait_refused(SS_REFUSED_PER_SOURCE, 1);
        close(second);
        close(held);
    }
    stop_server(&r);
}

/* A table of 64 entries (8 sets of 8) and 100 live sources: those whose
 * set is full of live ones are refused, not admitted uncounted; once the
 * others end, every source finds an entry again. */
static void case_table_full(void)
{
    enum { N = 100 };
    ss_config_t cfg;
    config(&cfg);
    cfg.proxy_protocol = SS_PROXY_V2;
    cfg.max_per_source = 1;
    cfg.source_table_size = 64;
    running r;
    start(&r, &cfg, "tcp4");
    int fd[N], served = 0;
    char src[64];
    for (int i = 0; i < N; i++) {
        snprintf(src, sizeof src, "10.1.%d.%d", i / 250, i % 250 + 1);
        served += try_from(&r, 1, src, &fd[i]);
    }
    ASSERT_LE(served, 64);
    ASSERT_GE(served, 8);
    wait_refused(SS_REFUSED_PER_SOURCE, (unsigned long)(N - served));
    /* Each source served holds its entry: it is still at its limit. */
    for (int i = 0; i < N; i++) {
        if (fd[i] < 0) continue;
        snprintf(src, sizeof src, "10.1.%d.%d", i / 250, i % 250 + 1);
        ASSERT(!try_from(&r, 1, src, NULL));
        break;
    }
    for (int i = 0; i < N; i++)
        if (fd[i] >= 0) close(fd[i]);
    for (int i = 0; i < N; i++) {
        snprintf(src, sizeof src, "10.2.%d.%d", i / 250, i % 250 + 1);
        ASSERT(served_soon(&r, 1, src, NULL));
    }
    stop_server(&r);
}

/* Sends count datagrams of n bytes from one socket bound to src, then
 * counts the replies that come back until none has come for a second;
 * *span_ms (if not NULL) is the time from the first datagram sent to the
 * last reply received, over which a budget refills. */
static int burst_from(const running *r, const char *src, int count, size_t n, int64_t *span_ms)
{
    ss_addr_t to = server_addr(r);
    int fd = socket_from(&to, SOCK_DGRAM, src);
    char out[512] = {0}, in[1024];
    ASSERT(n <= sizeof out);
    int got = 0;
    int64_t t0 = ss_now_ms(), last = t0;
    for (int i = 0; i < count; i++) {
        ASSERT_EQ(sendto(fd, out, n, 0, (struct sockaddr *)&to.sa, to.len), (ssize_t)n);
        usleep(1000); /* no loss in the server's receive buffer */
    }
    set_timeout(fd, 1000);
    while (recv(fd, in, sizeof in, 0) > 0) {
        got++;
        last = ss_now_ms();
    }
    close(fd);
    if (span_ms) *span_ms = last - t0;
    return got;
}

/* At most a budget of 8 replies, and what refilled over span_ms (one per
 * 125 ms), one more for rounding. */
static void expect_budget(int got, int64_t span_ms)
{
    ASSERT_GE(got, 8);
    ASSERT_LE(got, 8 + span_ms / 125 + 1);
}

static void case_udp_budget(void)
{
    ss_config_t cfg;
    config(&cfg);
    cfg.udp_budget = 4096; /* 8 replies of 512 bytes a second */
    running r;
    start(&r, &cfg, TRANSPORT);
    const char *me = is_six() ? "::1" : "127.0.0.1";
    /* 40 datagrams within about 60 ms (a loaded machine: longer, and the
     * budget refills meanwhile): 8 replies, the rest dropped. */
    int64_t span;
    int got = burst_from(&r, me, 40, 1, &span);
    expect_budget(got, span);
    wait_refused(SS_REFUSED_UDP_BUDGET, (unsigned long)(40 - got));
    if (!is_six()) { /* another source has its own budget, now */
        int other = burst_from(&r, "127.0.0.2", 10, 1, NULL);
        ASSERT_GE(other, 8);
    }
    usleep(1100 * 1000); /* a second later, a whole budget again */
    got = burst_from(&r, me, 40, 1, &span);
    expect_budget(got, span);
    stop_server(&r);
}

static void case_udp_amp(void)
{
    ss_config_t cfg;
    config(&cfg);
    cfg.udp_budget = 0;
    cfg.udp_amplification = 2;
    running r;
    start(&r, &cfg, TRANSPORT);
    const char *me = is_six() ? "::1" : "127.0.0.1";
    ASSERT_EQ(burst_from(&r, me, 10, 10, NULL), 0); /* 512 > 2 x 10 bytes, each time */
    wait_refused(SS_REFUSED_UDP_BUDGET, 10);
    ASSERT_EQ(burst_from(&r, me, 3, 300, NULL), 3); /* 512 <= 2 x 300 (and what is left) */
    stop_server(&r);
}

/* A bad setting fails ss_server_create with -EINVAL, naming it. */
static void bad_config(void (*set)(ss_config_t *), const char *want)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    set(&cfg);
    ss_server_t *s = NULL;
    ASSERT_EQ(ss_server_create(&cfg, &handler, &s), -EINVAL);
    if (!strstr(ss_errmsg(), want)) FAIL_AT("\"%s\" does not name %s", ss_errmsg(), want);
}

static void set_allow(ss_config_t *c)
{
    c->allow = "10.0.0.0/8,nohost";
}
static void set_deny(ss_config_t *c)
{
    c->deny = "::1/129";
}
static void set_v4(ss_config_t *c)
{
    c->source_prefix_v4 = 33;
}
static void set_v6(ss_config_t *c)
{
    c->source_prefix_v6 = -1;
}
static void set_max(ss_config_t *c)
{
    c->max_per_source = -1;
}
static void set_rate(ss_config_t *c)
{
    c->rate = -0.5;
}
static void set_table(ss_config_t *c)
{
    c->source_table_size = (1 << 24) + 1;
}

static void case_config(void)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    ASSERT_EQ(cfg.source_prefix_v4, 32);
    ASSERT_EQ(cfg.source_prefix_v6, 64);
    ASSERT_EQ(cfg.udp_budget, 1048576);
    ASSERT_EQ(cfg.udp_amplification, 0);
    ASSERT_EQ(cfg.max_per_source, 0);
    ASSERT(cfg.rate == 0 && !cfg.allow && !cfg.deny);
    bad_config(set_allow, "allow: \"nohost\"");
    bad_config(set_deny, "deny: \"::1/129\"");
    bad_config(set_v4, "source_prefix_v4");
    bad_config(set_v6, "source_prefix_v6");
    bad_config(set_max, "max_per_source");
    bad_config(set_rate, "rate");
    bad_config(set_table, "source_table_size");
    /* Good settings make a server, whose table goes with it. */
    cfg.allow = "10.0.0.0/8,2001:db8::/32";
    cfg.deny = "10.6.6.6";
    cfg.max_per_source = 3;
    cfg.rate = 0.5;
    cfg.source_table_size = 100;
    ss_server_t *s = NULL;
    ASSERT_OK(ss_server_create(&cfg, &handler, &s));
    ss_server_close(s);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "config") == 0) {
        case_config();
        return 0;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: test_admit CASE MODE TRANSPORT\n");
        return 2;
    }
    MODE = argv[2];
    TRANSPORT = argv[3];
    ss_mode_t m;
    if (ss_mode_parse(MODE, &m) < 0 || !ss_mode_available(m)) {
        printf("skipped: mode %s not in this build\n", MODE);
        return 77;
    }
    C = shared_counts_new();
    S = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT(S != MAP_FAILED);
    const test_case cases[] = {
        {"per_source", case_per_source},
        {"crash", case_crash},
        {"rate", case_rate},
        {"lists", case_lists},
        {"prefix", case_prefix},
        {"flood", case_flood},
        {"udp_budget", case_udp_budget},
        {"udp_amp", case_udp_amp},
        {"table_full", case_table_full},
        {NULL, NULL},
    };
    return test_main(cases, 2, argv);
}
