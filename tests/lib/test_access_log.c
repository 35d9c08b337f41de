/* test_access_log.c - the access log (ss_config_t.access_log) in every mode:
 * one valid JSON line per session under concurrent load, none torn or lost;
 * a rotation (rename, then ss_server_reopen_logs from a signal handler, as
 * logrotate and serve's SIGUSR2 do) under load losing no line; the result
 * of sessions that end badly (timeouts, a line too long, a reset peer, a
 * refused client, a cancelled one, an oversized datagram); a unix path of
 * any bytes escaped; "-" writing to standard error.
 * Run as: test_access_log CASE MODE [TRANSPORT]. Each line is checked by a
 * strict parser of the flat JSON objects the log writes (RFC 8259: an
 * object of strings, numbers and null), which decodes its strings too. */
#include "harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

static ss_mode_t mode;
static const char *transport = "tcp4";
static char log_path[128];
static char log_dir[64];

/* ------------------------------------------------------ a line of JSON */

#define FIELDS_MAX 16
typedef struct field {
    char key[32];
    char val[1024]; /* a string decoded, or a number or null as written */
    int is_str;
} field;
typedef struct jline {
    field f[FIELDS_MAX];
    int n;
} jline;

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A JSON string at *p (after its quote) into out; \u escapes must be below
 * 0x100 (the log writes bytes so). Returns 0 or -1 when malformed. */
static int parse_str(const char **p, char *out, size_t cap)
{
    size_t n = 0;
    const unsigned char *s = (const unsigned char *)*p;
    for (;;) {
        int c = *s++;
        if (c == '"') break;
        if (c < 0x20 || c >= 0x7f) return -1; /* the log writes ASCII only */
        if (c == '\\') {
            int e = *s++;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                c = e;
                break;
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'u': {
                int v = 0;
                for (int i = 0; i < 4; i++) {
                    int h = hexval(*s++);
                    if (h < 0) return -1;
                    v = v * 16 + h;
                }
                if (v > 0xff) return -1;
                c = v;
                break;
            }
            default:
                return -1;
            }
        }
        if (n + 1 >= cap) return -1;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    *p = (const char *)s;
    return 0;
}

/* A number (RFC 8259 section 6, the integers the log writes) or null. */
static int parse_scalar(const char **p, char *out, size_t cap)
{
    const char *s = *p;
    if (strncmp(s, "null", 4) == 0) {
        snprintf(out, cap, "null");
        *p = s + 4;
        return 0;
    }
    size_t n = 0;
    if (*s == '0' && s[1] >= '0' && s[1] <= '9') return -1; /* no leading zero */
    while (*s >= '0' && *s <= '9' && n + 1 < cap) out[n++] = *s++;
    if (n == 0) return -1;
    out[n] = '\0';
    *p = s;
    return 0;
}

/* One line: {"k":v,...}\n and nothing else. Returns 0 or -1. */
static int parse_line(const char *s, jline *j)
{
    j->n = 0;
    if (*s++ != '{') return -1;
    for (;;) {
        if (j->n == FIELDS_MAX || *s++ != '"') return -1;
        field *f = &j->f[j->n++];
        if (parse_str(&s, f->key, sizeof f->key) < 0 || *s++ != ':') return -1;
        f->is_str = *s == '"';
        if (f->is_str ? (s++, parse_str(&s, f->val, sizeof f->val))
                      : parse_scalar(&s, f->val, sizeof f->val))
            return -1;
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s++ != '}') return -1;
        return strcmp(s, "\n") == 0 ? 0 : -1;
    }
}

static const field *get(const jline *j, const char *key)
{
    for (int i = 0; i < j->n; i++)
        if (strcmp(j->f[i].key, key) == 0) return &j->f[i];
    return NULL;
}

static const char *str(const jline *j, const char *key)
{
    const field *f = get(j, key);
    if (!f || !f->is_str) FAIL_AT("no string field %s", key);
    return f->val;
}

static long long num(const jline *j, const char *key)
{
    const field *f = get(j, key);
    if (!f || f->is_str || strcmp(f->val, "null") == 0) FAIL_AT("no number field %s", key);
    return atoll(f->val);
}

/* "2026-12-06T14:52:54.819Z": RFC 3339, UTC, milliseconds, and now (the
 * lines of a test are at most a minute old: timegm(3) agrees). */
static void check_time(const char *t)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    ASSERT_EQ(strlen(t), strlen(shape));
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? !(t[i] >= '0' && t[i] <= '9') : t[i] != shape[i])
            FAIL_AT("time \"%s\" is not RFC 3339 UTC with milliseconds", t);
    struct tm tm = {0};
    ASSERT_EQ(sscanf(t, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec),
              6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    long long age = (long long)(time(NULL) - timegm(&tm));
    if (age < -2 || age > 60) FAIL_AT("time \"%s\" is %lld s from now", t, age);
}

/* Every line of the log at path: parsed and checked for the fields every
 * line has, handed to each (may be NULL). Returns the count. */
static int each_line(const char *path, void (*each)(const jline *j, void *arg), void *arg)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    static char buf[4096];
    static jline j;
    int n = 0;
    while (fgets(buf, sizeof buf, f)) {
        if (parse_line(buf, &j) < 0)
            FAIL_AT("%s: line %d is not one JSON object: %s", path, n + 1, buf);
        check_time(str(&j, "time"));
        static const char *const keys[] = {"peer", "local", "service", "mode", "result"};
        for (unsigned k = 0; k < sizeof keys / sizeof keys[0]; k++)
            if (!get(&j, keys[k])) FAIL_AT("line %d lacks %s: %s", n + 1, keys[k], buf);
        ASSERT_STR_EQ(str(&j, "mode"), ss_mode_name(mode));
        ASSERT_GE(num(&j, "duration_ms"), 0);
        ASSERT_GE(num(&j, "bytes_in"), 0);
        ASSERT_GE(num(&j, "bytes_out"), 0);
        if (each) each(&j, arg);
        n++;
    }
    fclose(f);
    return n;
}

/* ------------------------------------------------------------ the server */

/* echo, one line per session (a datagram: its packet). */
static int echo_handle(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    char line[512];
    for (;;) {
        ssize_t n = ss_readline(c, line, sizeof line);
        if (n <= 0) return (int)n;
        int rc = ss_write(c, line, (size_t)n);
        if (rc < 0) return rc;
        if (ss_conn_is_datagram(c)) return 0;
    }
}

static const ss_handler_t echo = {.handle = echo_handle};

/* The server process reopens its log on SIGUSR2, as serve does. */
static void on_usr2(int sig)
{
    (void)sig;
    ss_server_reopen_logs(harness_server);
}

static void install_usr2(ss_server_t *s)
{
    (void)s;
    struct sigaction sa = {.sa_handler = on_usr2};
    sigaction(SIGUSR2, &sa, NULL);
}

static void config(ss_config_t *cfg)
{
    ss_config_init(cfg);
    cfg->mode = mode;
    cfg->workers = mode == SS_MODE_EVENT ? 2 : 0;
    cfg->access_log = log_path;
    cfg->service = "echo";
    cfg->log_level = SS_LOG_ERROR;
    harness_after_listen = install_usr2;
}

static void log_init(void)
{
    snprintf(log_dir, sizeof log_dir, "/tmp/ss-alog-XXXXXX");
    ASSERT(mkdtemp(log_dir) != NULL);
    snprintf(log_path, sizeof log_path, "%s/access.log", log_dir);
}

static void log_cleanup(void)
{
    char p[160];
    snprintf(p, sizeof p, "%s.1", log_path);
    unlink(p);
    unlink(log_path);
    rmdir(log_dir);
}

/* ------------------------------------------------------------- the load */

#define CLIENTS  8
#define SESSIONS 200

typedef struct load {
    const char *addr;
    atomic_int done;
    int id;
} load;

static void *client_main(void *arg)
{
    load *l = arg;
    char msg[64], want[64];
    for (int i = 0; i < SESSIONS; i++) {
        snprintf(msg, sizeof msg, "client %d session %03d\n", l->id, i);
        snprintf(want, sizeof want, "%s", msg);
        harness_roundtrip(l->addr, msg, want);
        atomic_fetch_add(&l->done, 1);
    }
    return NULL;
}

/* Runs CLIENTS clients of SESSIONS sessions each; at half the sessions, when
 * rotate is set, renames the log and signals the server. */
static void run_load(running *r, int rotate)
{
    static load loads[CLIENTS];
    pthread_t th[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        loads[i] = (load){.addr = r->addr, .id = i};
        ASSERT_EQ(pthread_create(&th[i], NULL, client_main, &loads[i]), 0);
    }
    if (rotate) {
        for (;;) {
            int sum = 0;
            for (int i = 0; i < CLIENTS; i++) sum += atomic_load(&loads[i].done);
            if (sum >= CLIENTS * SESSIONS / 2) break;
            usleep(1000);
        }
        /* Some lines written (within 100 ms), so the old file has some. */
        struct stat st;
        for (int i = 0; i < 2000 && (stat(log_path, &st) < 0 || st.st_size == 0); i++) usleep(1000);
        char old[160];
        snprintf(old, sizeof old, "%s.1", log_path);
        ASSERT_EQ(rename(log_path, old), 0);
        ASSERT_EQ(kill(r->pid, SIGUSR2), 0);
    }
    for (int i = 0; i < CLIENTS; i++) pthread_join(th[i], NULL);
}

typedef struct tally {
    int ok;
    long long bytes;
} tally;

static void count_ok(const jline *j, void *arg)
{
    tally *t = arg;
    ASSERT_STR_EQ(str(j, "result"), "ok");
    ASSERT_STR_EQ(str(j, "service"), "echo");
    ASSERT_EQ(num(j, "bytes_in"), num(j, "bytes_out")); /* echo */
    ASSERT_EQ(num(j, "bytes_in"), strlen("client 0 session 000\n"));
    t->ok++;
    t->bytes += num(j, "bytes_in");
}

/* 8 clients x 200 sessions: exactly 1,600 lines, each whole and valid. */
static void case_load(void)
{
    log_init();
    ss_config_t cfg;
    config(&cfg);
    shared_counts *counts = shared_counts_new();
    running r;
    start_server(&r, &cfg, &echo, transport, counts);
    run_load(&r, 0);
    stop_server(&r);
    tally t = {0};
    ASSERT_EQ(each_line(log_path, count_ok, &t), CLIENTS * SESSIONS);
    ASSERT_EQ(t.ok, CLIENTS * SESSIONS);
    log_cleanup();
}

/* How many descriptors of all processes are open on path (/proc/PID/fd). */
static int processes_holding(const char *path)
{
    DIR *proc = opendir("/proc");
    ASSERT(proc != NULL);
    int n = 0;
    struct dirent *p;
    while ((p = readdir(proc)) != NULL) {
        if (p->d_name[0] < '1' || p->d_name[0] > '9') continue;
        char dir[64];
        snprintf(dir, sizeof dir, "/proc/%.20s/fd", p->d_name);
        DIR *fds = opendir(dir);
        if (!fds) continue; /* gone, or not ours to read */
        struct dirent *f;
        while ((f = readdir(fds)) != NULL) {
            char link[128], target[256];
            snprintf(link, sizeof link, "%s/%.20s", dir, f->d_name);
            ssize_t k = readlink(link, target, sizeof target - 1);
            if (k <= 0) continue;
            target[k] = '\0';
            n += strcmp(target, path) == 0;
        }
        closedir(fds);
    }
    closedir(proc);
    return n;
}

/* The same load, the log renamed and the server signalled halfway: every
 * line is in the old file or the new one, and both have some. */
static void case_rotate(void)
{
    log_init();
    ss_config_t cfg;
    config(&cfg);
    shared_counts *counts = shared_counts_new();
    running r;
    start_server(&r, &cfg, &echo, transport, counts);
    run_load(&r, 1);
    /* A second round after the rotation: lines that can only be in the new file. */
    harness_roundtrip(r.addr, "client 9 session 999\n", "client 9 session 999\n");
    char old[160];
    snprintf(old, sizeof old, "%s.1", log_path);
    /* Within a second every process of the server (the parent, prefork's
     * workers, fork's children) has let the renamed file go. */
    int64_t end = ss_now_ms() + 3000;
    int holders;
    while ((holders = processes_holding(old)) > 0 && ss_now_ms() < end) usleep(20 * 1000);
    ASSERT_EQ(holders, 0);
    stop_server(&r);
    tally t = {0};
    int before = each_line(old, count_ok, &t);
    int after = each_line(log_path, count_ok, &t);
    fprintf(stderr, "rotated: %d lines before, %d after\n", before, after);
    ASSERT_GT(before, 0);
    ASSERT_GT(after, 0);
    ASSERT_EQ(before + after, CLIENTS * SESSIONS + 1);
    log_cleanup();
}

/* ------------------------------------------------------------ results */

typedef struct want_result {
    const char *result, *reason;
    int seen;
} want_result;

static void find_result(const jline *j, void *arg)
{
    want_result *w = arg;
    if (strcmp(str(j, "result"), w->result) != 0) return;
    if (w->reason) ASSERT_STR_EQ(str(j, "reason"), w->reason);
    w->seen++;
}

static void expect_result(const char *result, const char *reason)
{
    want_result w = {result, reason, 0};
    int n = each_line(log_path, find_result, &w);
    if (w.seen != 1) FAIL_AT("want one \"%s\" line, have %d of %d lines", result, w.seen, n);
}

/* A write to a socket the server closed fails with EPIPE, not a death. */
static void signal_ignore_pipe(void)
{
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &sa, NULL);
}

static ss_conn_t *dial(const running *r)
{
    ss_conn_t *c;
    ASSERT_OK(ss_dial(r->addr, ss_now_ms() + 2000, &c));
    ss_set_deadline(c, ss_now_ms() + 5000);
    return c;
}

/* A session the server ends by itself with want: the client sends what,
 * then waits for the close. */
static void one_session(ss_config_t *cfg, const char *what, const char *want)
{
    log_init();
    running r;
    start_server(&r, cfg, &echo, transport, shared_counts_new());
    ss_conn_t *c = dial(&r);
    if (*what) ASSERT_OK(ss_write(c, what, strlen(what)));
    ASSERT_OK(ss_flush(c));
    char buf[256];
    while (ss_read(c, buf, sizeof buf) > 0) {
    }
    ss_conn_close(c);
    stop_server(&r);
    expect_result(want, NULL);
    log_cleanup();
}

static void case_idle_timeout(void)
{
    ss_config_t cfg;
    config(&cfg);
    cfg.idle_timeout_ms = 200;
    one_session(&cfg, "", "idle_timeout");
}

static void case_line_timeout(void)
{
    ss_config_t cfg;
    config(&cfg);
    cfg.line_timeout_ms = 300;
    one_session(&cfg, "no end of line", "line_timeout");
}

static void case_request_timeout(void)
{
    ss_config_t cfg;
    config(&cfg);
    cfg.request_timeout_ms = 300;
    one_session(&cfg, "", "request_timeout");
}

/* A trickle of a byte every 100 ms inside a line, under min_rate 1000. */
static void case_min_rate(void)
{
    log_init();
    ss_config_t cfg;
    config(&cfg);
    cfg.min_rate = 1000;
    cfg.min_rate_grace_ms = 100;
    running r;
    start_server(&r, &cfg, &echo, transport, shared_counts_new());
    ss_addr_t a;
    ASSERT_OK(ss_addr_parse(r.addr, &a));
    int fd = socket(a.sa.ss_family, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&a.sa, a.len), 0);
    signal_ignore_pipe();
    int64_t end = ss_now_ms() + 8000;
    while (ss_now_ms() < end && write(fd, "a", 1) == 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) > 0) break; /* closed by the server */
    }
    ASSERT_LT(ss_now_ms(), end);
    close(fd);
    stop_server(&r);
    expect_result("min_rate", NULL);
    log_cleanup();
}

static void case_line_too_long(void)
{
    ss_config_t cfg;
    config(&cfg);
    cfg.max_line = 16;
    one_session(&cfg, "a line of more than sixteen bytes\n", "line_too_long");
}

/* A PROXY protocol listener given no header but a plain line. */
static void case_proxy(void)
{
    ss_config_t cfg;
    config(&cfg);
    cfg.proxy_protocol = SS_PROXY_V1;
    one_session(&cfg, "GET / HTTP/1.0\r\n\r\n", "proxy");
}

/* A tls:// listener given plain text: the handshake fails. */
static void case_tls(void)
{
    log_init();
    ss_config_t cfg;
    config(&cfg);
    running r;
    start_server(&r, &cfg, &echo, "tls", shared_counts_new());
    ss_addr_t a;
    ASSERT_OK(ss_addr_parse(r.addr, &a));
    int fd = socket(a.sa.ss_family, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&a.sa, a.len), 0);
    ASSERT_EQ(write(fd, "GET / HTTP/1.0\r\n\r\n", 18), 18);
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    close(fd);
    stop_server(&r);
    expect_result("tls", NULL);
    log_cleanup();
}

/* The client resets the connection (SO_LINGER 0, tcp(7)) in mid-line. */
static void case_reset(void)
{
    log_init();
    ss_config_t cfg;
    config(&cfg);
    running r;
    start_server(&r, &cfg, &echo, transport, shared_counts_new());
    ss_addr_t a;
    ASSERT_OK(ss_addr_parse(r.addr, &a));
    int fd = socket(a.sa.ss_family, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&a.sa, a.len), 0);
    ASSERT_EQ(write(fd, "half a li", 9), 9);
    usleep(100 * 1000); /* the handler is reading */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(fd);
    usleep(100 * 1000);
    stop_server(&r);
    expect_result("closed", NULL);
    log_cleanup();
}

/* max_connections 1: a second client is refused while the first is served. */
static void case_refused(void)
{
    log_init();
    ss_config_t cfg;
    config(&cfg);
    cfg.max_connections = 1;
    shared_counts *counts = shared_counts_new();
    running r;
    start_server(&r, &cfg, &echo, transport, counts);
    ss_conn_t *first = dial(&r);
    ASSERT_OK(ss_puts(first, "one\n"));
    harness_expect_line(first, "one\n"); /* the first is in its handler */
    ss_conn_t *second = dial(&r);
    harness_expect_closed(second);
    ss_conn_close(second);
    ss_conn_close(first);
    usleep(100 * 1000);
    stop_server(&r);
    expect_result("refused", "max_connections");
    expect_result("ok", NULL);
    log_cleanup();
}

/* A session still running when the drain runs out is cancelled. */
static void case_cancelled(void)
{
    log_init();
    ss_config_t cfg;
    config(&cfg);
    cfg.drain_timeout_ms = 100;
    running r;
    start_server(&r, &cfg, &echo, transport, shared_counts_new());
    ss_conn_t *c = dial(&r);
    ASSERT_OK(ss_puts(c, "here\n"));
    harness_expect_line(c, "here\n");
    stop_server(&r);
    ss_conn_close(c);
    expect_result("cancelled", NULL);
    log_cleanup();
}

/* A datagram over max_datagram is dropped, and logged as "oversize". */
static void case_oversize(void)
{
    log_init();
    ss_config_t cfg;
    config(&cfg);
    cfg.max_datagram = 32;
    running r;
    transport = "udp4";
    start_server(&r, &cfg, &echo, transport, shared_counts_new());
    ss_conn_t *c = dial(&r);
    char big[100];
    memset(big, 'x', sizeof big);
    ASSERT_OK(ss_write(c, big, sizeof big));
    ASSERT_OK(ss_flush(c));
    ss_conn_close(c);
    harness_roundtrip(r.addr, "small\n", "small\n"); /* after the drop: served */
    stop_server(&r);
    expect_result("oversize", NULL);
    expect_result("ok", NULL);
    log_cleanup();
}

/* A unix listener whose path holds a quote, a backslash, a newline, a
 * control byte and bytes above 0x7f: the line stays valid and decodes to
 * the path. */
static void check_peer(const jline *j, void *arg)
{
    char want[SS_ADDRSTRLEN];
    snprintf(want, sizeof want, "unix:%s", (const char *)arg);
    ASSERT_STR_EQ(str(j, "local"), want);
    ASSERT_STR_EQ(str(j, "peer"), want);
}

static void case_escape(void)
{
    log_init();
    ss_config_t cfg;
    config(&cfg);
    char path[108];
    snprintf(path, sizeof path, "%s/q\"b\\n\nc\x01h\xc3\xa9\xff", log_dir);
    ss_server_t *s;
    ASSERT_OK(ss_server_create(&cfg, &echo, &s));
    char addr[160];
    snprintf(addr, sizeof addr, "unix:%s", path);
    ASSERT_OK(ss_server_listen(s, addr));
    /* One session on a socket pair would bypass the intake: a real client. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, path, strlen(path) + 1);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    ASSERT_EQ(write(fd, "x\n", 2), 2);
    shutdown(fd, SHUT_WR);
    ASSERT_OK(ss_server_handle_request(s, ss_now_ms() + 2000));
    char buf[8];
    ASSERT_EQ(read(fd, buf, sizeof buf), 2);
    close(fd);
    ss_server_close(s);
    ASSERT_EQ(each_line(log_path, check_peer, path), 1);
    log_cleanup();
}

/* "-": the lines go to standard error, among the log's own lines. */
static void case_stderr(void)
{
    log_init();
    ss_config_t cfg;
    config(&cfg);
    cfg.access_log = "-";
    char err_path[160];
    snprintf(err_path, sizeof err_path, "%s/stderr", log_dir);
    int saved = dup(2);
    int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    ASSERT(fd >= 0 && saved >= 0);
    fflush(stderr);
    dup2(fd, 2);
    close(fd);
    running r;
    start_server(&r, &cfg, &echo, transport, shared_counts_new());
    for (int i = 0; i < 5; i++) harness_roundtrip(r.addr, "to stderr\n", "to stderr\n");
    stop_server(&r);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    /* Only the JSON lines: anything else there is the server's log. */
    FILE *f = fopen(err_path, "r");
    ASSERT(f != NULL);
    char line[4096];
    int n = 0;
    jline j;
    while (fgets(line, sizeof line, f)) {
        if (line[0] != '{') continue;
        if (parse_line(line, &j) < 0) FAIL_AT("not one JSON object: %s", line);
        ASSERT_STR_EQ(str(&j, "result"), "ok");
        n++;
    }
    fclose(f);
    ASSERT_EQ(n, 5);
    unlink(err_path);
    log_cleanup();
}

int main(int argc, char **argv)
{
    if (argc < 3 || ss_mode_parse(argv[2], &mode) < 0) {
        fprintf(stderr, "usage: test_access_log CASE MODE [TRANSPORT]\n");
        return 2;
    }
    if (!ss_mode_available(mode)) return 77;
    if (argc > 3) transport = argv[3];
    static const test_case cases[] = {
        {"load", case_load},
        {"rotate", case_rotate},
        {"idle_timeout", case_idle_timeout},
        {"line_timeout", case_line_timeout},
        {"request_timeout", case_request_timeout},
        {"min_rate", case_min_rate},
        {"line_too_long", case_line_too_long},
        {"reset", case_reset},
        {"proxy", case_proxy},
        {"tls", case_tls},
        {"refused", case_refused},
        {"cancelled", case_cancelled},
        {"oversize", case_oversize},
        {"escape", case_escape},
        {"stderr", case_stderr},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(argv[1], cases[i].name) == 0) {
            cases[i].fn();
            return 0;
        }
    fprintf(stderr, "no case %s\n", argv[1]);
    return 2;
}
