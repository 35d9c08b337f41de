/* access_log.c - the access log (ss_config_t.access_log): one JSON object
 * per line for every session, refused client and dropped datagram, in
 * every mode and process. Lines are buffered per process and written whole,
 * with one write(2) on an O_APPEND descriptor (a pipe: at most PIPE_BUF at a
 * time, so that lines of several processes never interleave, pipe(7)), by
 * whichever comes first: a full buffer, the next line after 100 ms, a
 * flusher thread's timer, a child's exit, the server's close. A rotation
 * (ss_server_reopen_logs, SIGUSR2 in serve) bumps a generation in a shared
 * page that every process compares at its next write. */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ALOG_BUF      65536 /* a process's buffer for a regular file */
#define ALOG_LINE_MAX 2048  /* one line, bounded by the field caps below */
#define ALOG_ADDR_MAX 600   /* an address escaped (SS_ADDRSTRLEN bytes, a few \u00XX) */
#define ALOG_NAME_MAX 256   /* the service name escaped */
#define ALOG_FLUSH_MS 100   /* the oldest buffered line waits no longer */
#define ALOG_IDLE_MS  1000  /* an idle flusher still looks for a rotation */
#define ALOG_BLOCK_MS 1000  /* a full pipe is waited for this long, then lines are lost */

/* The flusher of this process: none yet (started with the first line),
 * running, or none wanted (a fork-mode child writes at its exit). */
enum { FLUSHER_NONE, FLUSHER_RUNNING, FLUSHER_OFF };

typedef struct alog_shared {
    atomic_uint gen; /* bumped by each ss_server_reopen_logs */
} alog_shared;

struct ss__alog {
    pthread_mutex_t mu; /* everything below but the constants */
    pthread_cond_t cv;  /* the flusher: a first line, or stop */
    char *buf;
    size_t len;
    size_t limit;   /* ALOG_BUF for a regular file, PIPE_BUF for anything else */
    int64_t oldest; /* when the first buffered line came (ss_now_ms) */
    int fd;
    unsigned gen; /* the rotation this process's fd belongs to */
    int flusher;  /* FLUSHER_* */
    int stop;
    int warned; /* a failed write is logged once per process */
    pthread_t thread;
    alog_shared *shared; /* MAP_SHARED: seen by every child */
    ss_server_t *s;
    const char *mode; /* static text (ss_mode_name) */
    char *path;       /* NULL: standard error ("-") */
    char *service;    /* NULL: the field is null */
    struct ss__alog *next;
};

/* ------------------------------------------------- fork, from any thread */

/* Every access log of the process, for the fork handlers: a fork made while
 * a flusher holds a log's mutex would leave the child a mutex locked by a
 * thread it does not have. prepare takes every one; the child drops what
 * the parent buffered (the parent writes it) and has no flusher yet. */
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ss__alog *registry;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
    pthread_mutex_lock(&registry_mu);
    for (struct ss__alog *a = registry; a; a = a->next) pthread_mutex_lock(&a->mu);
}

static void fork_parent(void)
{
    for (struct ss__alog *a = registry; a; a = a->next) pthread_mutex_unlock(&a->mu);
    pthread_mutex_unlock(&registry_mu);
}

static void fork_child(void)
{
    for (struct ss__alog *a = registry; a; a = a->next) {
        a->len = 0;
        a->oldest = 0;
        /* A fork-mode child serves one session and writes at its exit
         * (ss__alog_flush in mode_fork.c): no thread for it. */
        a->flusher = a->s->cfg.mode == SS_MODE_FORK ? FLUSHER_OFF : FLUSHER_NONE;
        a->stop = 0;
        ss__cond_init(&a->cv); /* the parent's flusher may have waited on it */
        pthread_mutex_unlock(&a->mu);
    }
    pthread_mutex_unlock(&registry_mu);
}

static void registry_init(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* ------------------------------------------------------------- writing */

/* A regular file takes a large write whole under O_APPEND; anything else (a
 * pipe, a FIFO, a terminal, a socket) gets at most PIPE_BUF bytes at once,
 * the size pipe(7) keeps from interleaving with other writers. */
static size_t limit_for(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) return ALOG_BUF;
    return PIPE_BUF;
}

static int open_log(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
}

/* logrotate renamed the file and signalled: this process opens the path
 * anew before its next write. Lines buffered before go to the new file,
 * those written before to the old one: none is lost either way. */
static void reopen_locked(struct ss__alog *a, unsigned gen)
{
    a->gen = gen;
    if (!a->path) return; /* standard error is the supervisor's to rotate */
    int fd = open_log(a->path);
    if (fd < 0) {
        ss__log(a->s, SS_LOG_ERROR, "access log %s: reopen: %s; still writing the old file",
                a->path, ss_strerror(ss__errno()));
        return;
    }
    close(a->fd);
    a->fd = fd;
    a->limit = limit_for(fd);
}

/* write(2) until done: a blocking descriptor takes all (a write of at most
 * PIPE_BUF to a pipe is whole); a non-blocking one that is full is waited
 * for, at most ALOG_BLOCK_MS. Returns 0 or the error. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        int err = w < 0 ? ss__errno() : -EIO;
        if (err == -EINTR) continue;
        if (err != -EAGAIN) return err;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (poll(&pfd, 1, ALOG_BLOCK_MS) <= 0) return err;
    }
    return 0;
}

/* Writes the buffer (a->mu held), after a rotation's reopen. */
static void flush_locked(struct ss__alog *a)
{
    unsigned gen = atomic_load_explicit(&a->shared->gen, memory_order_relaxed);
    if (gen != a->gen) reopen_locked(a, gen);
    if (a->len == 0) return;
    int rc = write_all(a->fd, a->buf, a->len);
    if (rc < 0 && !a->warned) {
        a->warned = 1;
        ss__log(a->s, SS_LOG_ERROR, "access log %s: %s; lines lost", a->path ? a->path : "-",
                ss_strerror(rc));
    }
    a->len = 0;
    a->oldest = 0;
}

/* The flusher thread of a process: writes a line that waited ALOG_FLUSH_MS
 * (a server gone idle still has its lines written), and looks for a
 * rotation every ALOG_IDLE_MS so that no process keeps a rotated file open. */
static void *flusher_main(void *arg)
{
    struct ss__alog *a = arg;
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        int64_t due = a->len ? a->oldest + ALOG_FLUSH_MS : ss_now_ms() + ALOG_IDLE_MS;
        ss__cond_wait_until(&a->cv, &a->mu, due);
        if (a->stop) break;
        int rotated = atomic_load_explicit(&a->shared->gen, memory_order_relaxed) != a->gen;
        if (rotated || (a->len && ss_now_ms() - a->oldest >= ALOG_FLUSH_MS)) flush_locked(a);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* Started by the first line of a process (a->mu held), with every signal
 * blocked, so that the program's handlers run on its own threads. Without a
 * thread (pthread_create failed), each line is written at once. */
static void start_flusher(struct ss__alog *a)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&a->thread, NULL, flusher_main, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    a->flusher = rc == 0 ? FLUSHER_RUNNING : FLUSHER_OFF;
}

static void append(struct ss__alog *a, const char *line, size_t n)
{
    int64_t now = ss_now_ms();
    pthread_mutex_lock(&a->mu);
    if (a->len + n > a->limit) flush_locked(a);
    memcpy(a->buf + a->len, line, n);
    a->len += n;
    if (a->len == n) {
        a->oldest = now;
        if (a->flusher == FLUSHER_NONE) start_flusher(a);
        if (a->flusher == FLUSHER_RUNNING) pthread_cond_signal(&a->cv); /* arm its timer */
    } else if (now - a->oldest >= ALOG_FLUSH_MS) {
        flush_locked(a); /* the next line writes those that waited */
    }
    if (a->flusher == FLUSHER_OFF && a->s->cfg.mode != SS_MODE_FORK) flush_locked(a);
    pthread_mutex_unlock(&a->mu);
}

void ss__alog_start(struct ss__alog *a)
{
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    if (a->flusher == FLUSHER_NONE) start_flusher(a);
    pthread_mutex_unlock(&a->mu);
}

void ss__alog_flush(struct ss__alog *a)
{
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    flush_locked(a);
    pthread_mutex_unlock(&a->mu);
}

/* ----------------------------------------------------- a line of JSON */

typedef struct jbuf {
    char *p;
    size_t len, cap;
} jbuf;

static void put(jbuf *b, const char *s, size_t n)
{
    if (n > b->cap - b->len) n = b->cap - b->len; /* cannot happen: caps add up */
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void puts_(jbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_u64(jbuf *b, uint64_t v)
{
    char d[20];
    int i = (int)sizeof d;
    do d[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    put(b, d + i, sizeof d - (size_t)i);
}

static void put_digits(jbuf *b, unsigned v, int width)
{
    char d[8];
    for (int i = width - 1; i >= 0; i--, v /= 10) d[i] = (char)('0' + v % 10);
    put(b, d, (size_t)width);
}

/* A JSON string (RFC 8259 section 7) of any bytes, at most max bytes
 * escaped: quotes, backslashes and control bytes escaped, and every byte
 * above 0x7e as \u00XX (its Latin-1 reading), since a unix socket's name
 * may hold any byte and the line must stay valid UTF-8. NULL is null. */
static void put_str(jbuf *b, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    if (!s) {
        puts_(b, "null");
        return;
    }
    size_t start = b->len;
    puts_(b, "\"");
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        char e[6] = {'\\', 'u', '0', '0', hex[*u >> 4], hex[*u & 15]};
        size_t n = 6;
        if (*u == '"' || *u == '\\') {
            e[1] = (char)*u;
            n = 2;
        } else if (*u == '\n' || *u == '\t' || *u == '\r') {
            e[1] = (char)(*u == '\n' ? 'n' : *u == '\t' ? 't' : 'r');
            n = 2;
        } else if (*u >= 0x20 && *u < 0x7f) {
            e[0] = (char)*u;
            n = 1;
        }
        if (b->len - start + n + 1 > max) break; /* cut, still a string */
        put(b, e, n);
    }
    puts_(b, "\"");
}

/* The civil date of a day count since 1970-01-01 (Howard Hinnant's
 * days_from_civil inverted, proleptic Gregorian): pure arithmetic, where
 * gmtime_r takes glibc's time zone lock, which the threads of every event
 * loop would share. */
static void civil(int64_t days, unsigned *y, unsigned *m, unsigned *d)
{
    days += 719468; /* from 0000-03-01 */
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (unsigned)((int64_t)yoe + era * 400 + (*m <= 2));
}

/* "YYYY-MM-DDTHH:MM:SS" of the current second, made once per second per
 * thread. */
static _Thread_local time_t this_second = -1;
static _Thread_local char second_text[19];

static void format_second(time_t t)
{
    unsigned y, mo, d;
    int64_t days = (int64_t)t / 86400, rest = (int64_t)t % 86400;
    if (rest < 0) {
        rest += 86400;
        days--;
    }
    civil(days, &y, &mo, &d);
    jbuf b = {second_text, 0, sizeof second_text};
    put_digits(&b, y, 4);
    puts_(&b, "-");
    put_digits(&b, mo, 2);
    puts_(&b, "-");
    put_digits(&b, d, 2);
    puts_(&b, "T");
    put_digits(&b, (unsigned)(rest / 3600), 2);
    puts_(&b, ":");
    put_digits(&b, (unsigned)(rest / 60 % 60), 2);
    puts_(&b, ":");
    put_digits(&b, (unsigned)(rest % 60), 2);
    this_second = t;
}

/* RFC 3339 in UTC with milliseconds, from the wall clock (vDSO, no system
 * call). */
static void put_time(jbuf *b)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != this_second) format_second(ts.tv_sec);
    puts_(b, "{\"time\":\"");
    put(b, second_text, sizeof second_text);
    puts_(b, ".");
    put_digits(b, (unsigned)(ts.tv_nsec / 1000000), 3);
    puts_(b, "Z\"");
}

static void put_addr(jbuf *b, const char *key, const ss_addr_t *addr)
{
    char text[SS_ADDRSTRLEN];
    puts_(b, key);
    put_str(b, addr && ss_addr_format(addr, text, sizeof text) >= 0 ? text : NULL, ALOG_ADDR_MAX);
}

/* The fields every line has, but for the numbers and the result. */
static void put_head(jbuf *b, const struct ss__alog *a, const char *peer, const ss_addr_t *local)
{
    put_time(b);
    puts_(b, ",\"peer\":");
    put_str(b, peer, ALOG_ADDR_MAX);
    put_addr(b, ",\"local\":", local);
    puts_(b, ",\"service\":");
    put_str(b, a->service, ALOG_NAME_MAX);
    puts_(b, ",\"mode\":\"");
    puts_(b, a->mode);
    puts_(b, "\"");
}

static void put_counts(jbuf *b, int64_t duration, uint64_t in, uint64_t out)
{
    puts_(b, ",\"duration_ms\":");
    put_u64(b, duration > 0 ? (uint64_t)duration : 0);
    puts_(b, ",\"bytes_in\":");
    put_u64(b, in);
    puts_(b, ",\"bytes_out\":");
    put_u64(b, out);
}

void ss__alog_session(ss_server_t *s, const ss_conn_t *c, int rc)
{
    struct ss__alog *a = s->alog;
    if (!a) return;
    char line[ALOG_LINE_MAX];
    jbuf b = {line, 0, sizeof line};
    ss__result_t r = ss__session_result(c, rc);
    put_head(&b, a, ss_conn_peername(c), &c->local);
    put_counts(&b, ss_now_ms() - c->started_ms, c->bytes_in, c->bytes_out);
    puts_(&b, ",\"result\":\"");
    puts_(&b, ss__result_name(r));
    if (r == SS__RESULT_REFUSED) {
        puts_(&b, "\",\"reason\":\"");
        puts_(&b, ss_refusal_name((ss_refusal_t)c->refusal));
    }
    puts_(&b, "\"}\n");
    append(a, line, b.len);
}

void ss__alog_refused(ss_server_t *s, const ss_addr_t *peer, const ss_addr_t *local,
                      ss__result_t result, ss_refusal_t why)
{
    struct ss__alog *a = s->alog;
    if (!a) return;
    char text[SS_ADDRSTRLEN];
    int named = peer && ss_addr_format(peer, text, sizeof text) >= 0;
    char line[ALOG_LINE_MAX];
    jbuf b = {line, 0, sizeof line};
    put_head(&b, a, named ? text : NULL, local);
    put_counts(&b, 0, 0, 0);
    puts_(&b, ",\"result\":\"");
    puts_(&b, ss__result_name(result));
    if (result == SS__RESULT_REFUSED) {
        puts_(&b, "\",\"reason\":\"");
        puts_(&b, ss_refusal_name(why));
    }
    puts_(&b, "\"}\n");
    append(a, line, b.len);
}

/* ------------------------------------------------------------ lifecycle */

static void alog_destroy(struct ss__alog *a)
{
    if (a->fd > 2) close(a->fd);
    if (a->shared) munmap(a->shared, sizeof *a->shared);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a->buf);
    free(a->path);
    free(a->service);
    free(a);
}

static int alog_open(struct ss__alog *a, const char *path, const char *service)
{
    void *p =
        mmap(NULL, sizeof *a->shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    a->shared = p == MAP_FAILED ? NULL : p;
    a->buf = malloc(ALOG_BUF);
    int to_stderr = strcmp(path, "-") == 0;
    a->path = to_stderr ? NULL : strdup(path);
    a->service = service ? strdup(service) : NULL;
    if (!a->shared || !a->buf || (!a->path && !to_stderr) || (!a->service && service))
        return ss__fail(-ENOMEM, "access log");
    atomic_init(&a->shared->gen, 0);
    a->fd = a->path ? open_log(a->path) : STDERR_FILENO;
    if (a->fd < 0) return ss__fail(ss__errno(), "access log %s", path);
    a->limit = limit_for(a->fd);
    return 0;
}

int ss__alog_new(ss_server_t *s, const char *mode, struct ss__alog **out)
{
    *out = NULL;
    const char *path = s->cfg.access_log;
    if (!path || !*path) return 0;
    struct ss__alog *a = calloc(1, sizeof *a);
    if (!a) return ss__fail(-ENOMEM, "access log");
    pthread_mutex_init(&a->mu, NULL);
    ss__cond_init(&a->cv);
    a->fd = -1;
    a->s = s;
    a->mode = mode ? mode : "?";
    int rc = alog_open(a, path, s->cfg.service);
    if (rc < 0) {
        alog_destroy(a);
        return rc;
    }
    pthread_once(&registry_once, registry_init);
    pthread_mutex_lock(&registry_mu);
    a->next = registry;
    registry = a;
    pthread_mutex_unlock(&registry_mu);
    *out = a;
    return 0;
}

void ss__alog_free(struct ss__alog *a)
{
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    a->stop = 1;
    pthread_cond_signal(&a->cv);
    int joined = a->flusher == FLUSHER_RUNNING;
    pthread_mutex_unlock(&a->mu);
    if (joined) pthread_join(a->thread, NULL);
    ss__alog_flush(a);
    pthread_mutex_lock(&registry_mu);
    for (struct ss__alog **p = &registry; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            break;
        }
    pthread_mutex_unlock(&registry_mu);
    alog_destroy(a);
}

/* Only a store and no lock: safe in a signal handler (serve's SIGUSR2),
 * from any process of the server. */
int ss_server_reopen_logs(ss_server_t *s)
{
    if (!s) return ss__fail(SS_EUSAGE, "ss_server_reopen_logs");
    if (s->alog) atomic_fetch_add_explicit(&s->alog->shared->gen, 1, memory_order_relaxed);
    return 0;
}
