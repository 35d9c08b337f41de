/* adversary.c - misbehaving clients for the black-box tests of `socketserver
 * serve` (the scripts beside it). Each subcommand is one attack made with the
 * plain socket API, as a real adversary makes it (the library only parses the
 * address), and ends with one summary line on stdout.
 * Exit status: 0 the server behaved, 1 it did not, 2 usage or local failure. */
#include "socketserver.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CHARGEN_WIDTH  72 /* RFC 864: 72 characters and CR LF per line */
#define CHARGEN_PERIOD 95 /* the printable ASCII characters */

typedef struct opts {
    const char *address;
    ss_addr_t addr;
    long count;          /* clients, rounds or datagrams */
    long conc;           /* at once */
    size_t size;         /* bytes of a request */
    int64_t delay_ms;    /* between two bytes (slowloris) */
    int64_t timeout_ms;  /* one client's bound */
    int64_t hold_ms;     /* keep connections open this long at the end */
    int64_t duration_ms; /* churn: how long */
    long min_ok;         /* at least this many exact replies */
    size_t max_reply;    /* a larger reply is a failure */
    int upper;           /* replies are upper-cased (upper), else echoed */
    int keep;            /* keep each connection open after its reply */
    int none;            /* udpprobe: no reply is expected (discard) */
} opts;

static volatile sig_atomic_t stop_flag; /* SIGINT or SIGTERM: end a hold */

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int64_t now(void)
{
    return ss_now_ms();
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("adversary: out of memory\n", stderr);
        exit(2);
    }
    return p;
}

/* What the service sends back for a request: the bytes (echo) or the bytes
 * with ASCII letters upper-cased (upper). */
static void transform(const opts *o, char *dst, const char *src, size_t n)
{
    memcpy(dst, src, n);
    for (size_t i = 0; o->upper && i < n; i++)
        if (dst[i] >= 'a' && dst[i] <= 'z') dst[i] = (char)(dst[i] - 'a' + 'A');
}

/* RFC 864's stream from its start, as svc_chargen sends it. */
static void chargen_fill(char *buf, size_t n)
{
    size_t line = 0, col = 0;
    for (size_t i = 0; i < n; i++) {
        if (col < CHARGEN_WIDTH)
            buf[i] = (char)(' ' + (line + col) % CHARGEN_PERIOD);
        else
            buf[i] = col == CHARGEN_WIDTH ? '\r' : '\n';
        if (++col == CHARGEN_WIDTH + 2) {
            col = 0;
            line++;
        }
    }
}

/* A request line of exactly n bytes (n >= 2): the tag, then letters, then
 * '\n'. Lower-case letters, so that upper changes them. */
static char *make_line(size_t n, const char *tag, long a, long b)
{
    char *p = xmalloc(n);
    int k = snprintf(p, n, "%s %ld %ld ", tag, a, b);
    size_t used = k < 0 ? 0 : (size_t)k >= n ? n - 1 : (size_t)k;
    for (size_t i = used; i + 1 < n; i++) p[i] = (char)('a' + (i + (size_t)a) % 26);
    p[n - 1] = '\n';
    return p;
}

/* ------------------------------------------------------------ sockets */

static int new_socket(const opts *o)
{
    int type = (o->addr.transport == SS_UDP || o->addr.transport == SS_UNIXGRAM) ? SOCK_DGRAM
                                                                                 : SOCK_STREAM;
    return socket(o->addr.sa.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

/* A non-blocking connect. Returns the descriptor (connecting or connected),
 * or a negative errno: refused at once (ECONNREFUSED; unix: EAGAIN for a
 * full backlog) or a local failure (EMFILE...). */
static int dial(const opts *o)
{
    int fd = new_socket(o);
    if (fd < 0) return -errno;
    if (o->addr.transport == SS_UNIXGRAM) {
        struct sockaddr_un un = {.sun_family = AF_UNIX}; /* autobind (unix(7)) */
        if (bind(fd, (const struct sockaddr *)&un, sizeof(sa_family_t)) < 0) {
            int err = -errno;
            close(fd);
            return err;
        }
    }
    if (connect(fd, (const struct sockaddr *)&o->addr.sa, o->addr.len) < 0 &&
        errno != EINPROGRESS) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* The closing that resets: SO_LINGER with a zero time sends RST at once and
 * drops whatever is queued either way (socket(7), tcp(7)). */
static void close_reset(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

/* ------------------------------------------------------------ sessions */

/* How the sessions of one attack behave. */
typedef struct plan {
    int64_t trickle_ms; /* > 0: one byte of the request per this many ms */
    int shut_wr;        /* after the request's last byte, shutdown(SHUT_WR) */
    int wait_eof;       /* done at the server's close, not at the reply's end */
    int prefix;         /* the reply may go on after want (chargen) */
    int reset;          /* end each session with an RST */
    int keep;           /* leave the connection open once done */
    int64_t timeout_ms; /* a session not done after this long is hung */
} plan;

enum { R_EXACT, R_REFUSED, R_CUT, R_WRONG, R_HUNG, R_KINDS };
static const char *const kind_names[R_KINDS] = {"exact", "refused", "cut", "wrong", "hung"};

typedef struct sess {
    int fd; /* -1 once closed */
    int connected, done, hung;
    char *out; /* the request (owned) */
    size_t outlen, sent;
    int64_t next_send;
    char *want; /* the expected reply (owned) */
    size_t wantlen;
    char *in; /* the first wantlen + 1 bytes received */
    size_t got;
    int eof; /* the server closed its side */
    int err; /* or the connection failed: a negative errno */
    int64_t t0, t1;
} sess;

static void sess_free(sess *s)
{
    free(s->out);
    free(s->want);
    free(s->in);
    s->out = s->want = s->in = NULL;
}

/* Starts a session whose request and expected reply are already set. */
static void sess_start(sess *s, const opts *o)
{
    s->t0 = s->next_send = now();
    s->in = xmalloc(s->wantlen + 1);
    s->fd = dial(o);
    if (s->fd < 0) {
        s->err = s->fd;
        s->done = 1;
        s->t1 = s->t0;
    }
}

static void sess_finish(sess *s, const plan *p)
{
    s->done = 1;
    s->t1 = now();
    if (s->fd < 0 || p->keep) return;
    if (p->reset)
        close_reset(s->fd);
    else
        close(s->fd);
    s->fd = -1;
}

static int verdict(const sess *s, const plan *p)
{
    size_t kept = s->got < s->wantlen + 1 ? s->got : s->wantlen + 1;
    size_t cmp = kept < s->wantlen ? kept : s->wantlen;
    if (s->hung) return R_HUNG;
    if (memcmp(s->in, s->want, cmp) != 0) return R_WRONG;
    if (s->got > s->wantlen && !p->prefix) return R_WRONG;
    if (s->got >= s->wantlen && s->wantlen > 0) return R_EXACT;
    if (s->got == 0 && s->wantlen > 0) return R_REFUSED;
    if (s->wantlen == 0 && (s->eof || s->err)) return R_EXACT; /* only the close was wanted */
    return R_CUT;
}

static void sess_fail(sess *s, const plan *p, int err)
{
    s->err = err;
    sess_finish(s, p);
}

static void sess_read(sess *s, const plan *p)
{
    char sink[16384];
    for (;;) {
        size_t room = s->got < s->wantlen + 1 ? s->wantlen + 1 - s->got : 0;
        char *dst = room ? s->in + s->got : sink;
        size_t cap = room ? room : sizeof sink;
        ssize_t r = recv(s->fd, dst, cap, 0);
        if (r > 0) {
            s->got += (size_t)r;
            if (!p->wait_eof && s->wantlen > 0 && s->got >= s->wantlen) {
                sess_finish(s, p);
                return;
            }
            continue;
        }
        if (r == 0) {
            s->eof = 1;
            sess_finish(s, p);
        } else if (errno != EAGAIN && errno != EINTR) {
            sess_fail(s, p, -errno);
        }
        return;
    }
}

static void sess_write(sess *s, const plan *p, int64_t t)
{
    while (s->sent < s->outlen && (p->trickle_ms <= 0 || t >= s->next_send)) {
        size_t n = p->trickle_ms > 0 ? 1 : s->outlen - s->sent;
        ssize_t w = send(s->fd, s->out + s->sent, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno != EAGAIN && errno != EINTR) sess_fail(s, p, -errno);
            return;
        }
        s->sent += (size_t)w;
        s->next_send = t + p->trickle_ms;
    }
    if (s->sent == s->outlen && p->shut_wr && s->outlen > 0) {
        shutdown(s->fd, SHUT_WR);
        s->outlen = 0; /* once */
    }
}

static void sess_connected(sess *s, const plan *p)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err) {
        sess_fail(s, p, -err);
        return;
    }
    s->connected = 1;
    s->next_send = now();
}

static short sess_events(const sess *s, const plan *p, int64_t t)
{
    if (!s->connected) return POLLOUT;
    short ev = POLLIN;
    if (s->sent < s->outlen && (p->trickle_ms <= 0 || t >= s->next_send)) ev |= POLLOUT;
    return ev;
}

/* The poll timeout until the next trickled byte or session timeout. */
static int next_wake(const sess *v, long n, const plan *p, int64_t t)
{
    int64_t wake = t + 100;
    for (long i = 0; i < n; i++) {
        if (v[i].done || v[i].fd < 0) continue;
        if (v[i].connected && p->trickle_ms > 0 && v[i].sent < v[i].outlen && v[i].next_send < wake)
            wake = v[i].next_send;
        if (p->timeout_ms > 0 && v[i].t0 + p->timeout_ms < wake) wake = v[i].t0 + p->timeout_ms;
    }
    return wake <= t ? 0 : (int)(wake - t);
}

/* One poll round over the sessions not done yet. Returns how many are left. */
static long step(sess *v, long n, const plan *p, struct pollfd *pfd, long *idx)
{
    int64_t t = now();
    long k = 0;
    for (long i = 0; i < n; i++) {
        if (v[i].done) continue;
        if (p->timeout_ms > 0 && t - v[i].t0 >= p->timeout_ms) {
            v[i].hung = 1;
            sess_finish(&v[i], p);
            continue;
        }
        pfd[k] = (struct pollfd){.fd = v[i].fd, .events = sess_events(&v[i], p, t)};
        idx[k++] = i;
    }
    if (k == 0) return 0;
    if (poll(pfd, (nfds_t)k, next_wake(v, n, p, t)) < 0 && errno != EINTR) {
        perror("adversary: poll");
        exit(2);
    }
    t = now();
    for (long j = 0; j < k; j++) {
        sess *s = &v[idx[j]];
        if (!s->connected && pfd[j].revents) sess_connected(s, p);
        if (s->done || !s->connected) continue;
        if (pfd[j].revents & (POLLIN | POLLHUP | POLLERR)) sess_read(s, p);
        if (!s->done) sess_write(s, p, t);
    }
    return k;
}

/* ------------------------------------------------------------ a run */

/* Makes the request and the expected reply of session number seq. */
typedef void make_fn(const opts *o, long seq, sess *s);

typedef struct tally {
    long kinds[R_KINDS];
    int64_t slowest[R_KINDS]; /* ms from start to the verdict */
    long started;
    int first_err; /* the first connection error seen */
} tally;

static void count(tally *t, const sess *s, const plan *p)
{
    int k = verdict(s, p);
    int64_t dt = s->t1 - s->t0;
    t->kinds[k]++;
    if (dt > t->slowest[k]) t->slowest[k] = dt;
    if (s->err && !t->first_err) t->first_err = s->err;
}

static void print_tally(const char *what, const tally *t)
{
    printf("%s: %ld sessions:", what, t->started);
    for (int k = 0; k < R_KINDS; k++)
        if (t->kinds[k] || k == R_EXACT)
            printf(" %ld %s (slowest %lld ms)", t->kinds[k], kind_names[k],
                   (long long)t->slowest[k]);
    if (t->first_err) printf("; first error: %s", strerror(-t->first_err));
    putchar('\n');
    fflush(stdout);
}

static int more_to_start(const tally *t, long total, int64_t end, int64_t tm)
{
    return (total == 0 || t->started < total) && (end == 0 || tm < end) && !stop_flag;
}

/* Sleeps until the first slot pause ends (a slot whose server refused). */
static void sleep_paused(const int64_t *pause, long n)
{
    int64_t t = now(), wake = 0;
    for (long i = 0; i < n; i++)
        if (pause[i] > t && (wake == 0 || pause[i] < wake)) wake = pause[i];
    if (wake > t) poll(NULL, 0, (int)(wake - t));
}

/* Runs total sessions (0: as many as fit before end), conc at once; a slot
 * whose session is done is counted and starts the next. Returns the slots
 * (their sessions still open with plan.keep), for free_sessions. */
static sess *run(const opts *o, const plan *p, make_fn *make, long total, long conc, int64_t end,
                 tally *t)
{
    sess *v = calloc((size_t)conc, sizeof *v);
    struct pollfd *pfd = calloc((size_t)conc, sizeof *pfd);
    long *idx = calloc((size_t)conc, sizeof *idx);
    int64_t *pause = calloc((size_t)conc, sizeof *pause);
    if (!v || !pfd || !idx || !pause) exit(2);
    for (long i = 0; i < conc; i++) v[i].done = 1, v[i].fd = -1;
    for (;;) {
        int64_t tm = now();
        for (long i = 0; i < conc && more_to_start(t, total, end, tm); i++) {
            if (!v[i].done) continue;
            if (v[i].want) { /* a finished session: count it, then reuse the slot */
                if (p->keep) continue;
                count(t, &v[i], p);
                if (v[i].err == -ECONNREFUSED) pause[i] = tm + 20; /* the server is gone */
                sess_free(&v[i]);
            }
            if (tm < pause[i]) continue;
            memset(&v[i], 0, sizeof v[i]);
            make(o, t->started, &v[i]);
            sess_start(&v[i], o);
            t->started++;
        }
        long left = step(v, conc, p, pfd, idx);
        if (left == 0 && !more_to_start(t, total, end, now())) break;
        if (left == 0) sleep_paused(pause, conc);
    }
    for (long i = 0; i < conc; i++)
        if (v[i].want) count(t, &v[i], p);
    free(pfd);
    free(idx);
    free(pause);
    return v;
}

static void free_sessions(sess *v, long n)
{
    for (long i = 0; i < n; i++) {
        if (v[i].fd >= 0) close(v[i].fd);
        sess_free(&v[i]);
    }
    free(v);
}

/* Keeps the process (and its connections) until hold_ms passes or a
 * SIGINT/SIGTERM comes. */
static void hold(int64_t ms)
{
    int64_t end = now() + ms;
    while (!stop_flag && now() < end) poll(NULL, 0, (int)(end - now() < 100 ? end - now() : 100));
}

static int judge(const tally *t, long min_ok, int allow_refused)
{
    if (t->kinds[R_WRONG] || t->kinds[R_CUT] || t->kinds[R_HUNG]) return 1;
    if (!allow_refused && t->kinds[R_REFUSED]) return 1;
    return t->kinds[R_EXACT] >= min_ok ? 0 : 1;
}

/* ------------------------------------------------------------ attacks */

static void make_echo_line(const opts *o, long seq, sess *s, const char *tag, size_t n)
{
    s->out = make_line(n, tag, seq, (long)getpid());
    s->outlen = n;
    s->want = xmalloc(n);
    s->wantlen = n;
    transform(o, s->want, s->out, n);
}

static void make_slow(const opts *o, long seq, sess *s)
{
    make_echo_line(o, seq, s, "slowloris", o->size);
}

/* slowloris: clients sending their line one byte at a time; each must get
 * its exact reply at the end. The script checks meanwhile that others are
 * served promptly. */
static int cmd_slowloris(const opts *o)
{
    plan p = {.trickle_ms = o->delay_ms,
              .timeout_ms = (int64_t)o->size * o->delay_ms + o->timeout_ms};
    tally t = {0};
    sess *v = run(o, &p, make_slow, o->count, o->count, 0, &t);
    free_sessions(v, o->count);
    print_tally("slowloris", &t);
    return judge(&t, o->count, 0);
}

static void make_big(const opts *o, long seq, sess *s)
{
    (void)seq;
    s->out = xmalloc(o->size);
    memset(s->out, 'x', o->size);
    s->out[o->size - 1] = '\n';
    s->outlen = o->size;
    s->want = xmalloc(1);
    s->wantlen = 0; /* nothing: only the close */
}

/* bigline: one line of SIZE bytes (over --max-line); the server must close
 * the connection in time having answered at most --max-reply bytes. */
static int cmd_bigline(const opts *o)
{
    plan p = {.wait_eof = 1, .timeout_ms = o->timeout_ms};
    tally t = {0};
    sess *v = run(o, &p, make_big, 1, 1, 0, &t);
    const sess *s = &v[0];
    printf("bigline: %zu-byte line: %s after %lld ms, %zu bytes sent, %zu reply bytes\n", o->size,
           s->hung  ? "still open"
           : s->eof ? "closed (EOF)"
                    : strerror(-s->err),
           (long long)(s->t1 - s->t0), s->sent, s->got);
    int bad = s->hung || (!s->eof && !s->err) || s->got > o->max_reply;
    free_sessions(v, 1);
    return bad;
}

static void make_half(const opts *o, long seq, sess *s)
{
    /* Lines of 64 bytes, the last one cut short (no '\n'): the server must
     * deliver what it has at the end of the stream. */
    s->out = xmalloc(o->size);
    for (size_t i = 0; i < o->size; i++)
        s->out[i] = i % 64 == 63 ? '\n' : (char)('a' + (i / 64 + (size_t)seq) % 26);
    if (o->size % 64 == 0) s->out[o->size - 1] = 'z';
    s->outlen = o->size;
    s->want = xmalloc(o->size);
    s->wantlen = o->size;
    transform(o, s->want, s->out, o->size);
}

/* halfopen: each client sends SIZE bytes, shuts down its sending side and
 * reads until the server closes: it must get every byte back, then EOF. */
static int cmd_halfopen(const opts *o)
{
    plan p = {.shut_wr = 1, .wait_eof = 1, .timeout_ms = o->timeout_ms};
    tally t = {0};
    sess *v = run(o, &p, make_half, o->count, o->count, 0, &t);
    long noeof = 0;
    for (long i = 0; i < o->count; i++) {
        noeof += !v[i].eof;
        if (v[i].hung)
            printf("halfopen: session %ld hung: %zu of %zu bytes sent%s, %zu received\n", i,
                   v[i].sent, o->size, v[i].outlen == 0 ? " and shut down" : "", v[i].got);
    }
    free_sessions(v, o->count);
    print_tally("halfopen", &t);
    if (noeof) printf("halfopen: %ld sessions ended by an error, not EOF\n", noeof);
    return judge(&t, o->count, 0) || noeof;
}

static void make_flood(const opts *o, long seq, sess *s)
{
    make_echo_line(o, seq, s, "flood", o->size);
}

/* flood / storm: COUNT connections at once, each sending one line; each
 * must get its exact reply or be closed (refused), none may hang or get a
 * wrong reply. --keep holds every connection open once answered (so the
 * server's sessions stay busy), --hold keeps them after the summary. */
static int flood_like(const opts *o, const char *name)
{
    plan p = {.keep = o->keep, .timeout_ms = o->timeout_ms};
    tally t = {0};
    sess *v = run(o, &p, make_flood, o->count, o->count, 0, &t);
    print_tally(name, &t);
    if (o->hold_ms > 0) {
        printf("%s: holding %ld connections\n", name, o->count);
        fflush(stdout);
        hold(o->hold_ms);
    }
    free_sessions(v, o->count);
    return judge(&t, o->min_ok, 1);
}

static int cmd_flood(const opts *o)
{
    return flood_like(o, "flood");
}

static int cmd_storm(const opts *o)
{
    return flood_like(o, "storm");
}

static void make_churn(const opts *o, long seq, sess *s)
{
    size_t n =
        24 + (size_t)(((unsigned long)seq * 2654435761u) % (o->size > 24 ? o->size - 23 : 1));
    make_echo_line(o, seq, s, "churn", n);
}

/* churn: CONC clients in a loop for DURATION: connect, one line, its reply,
 * close. Every reply must be exact; refusals (the server stopping) are
 * counted but allowed. */
static int cmd_churn(const opts *o)
{
    plan p = {.timeout_ms = o->timeout_ms};
    tally t = {0};
    sess *v = run(o, &p, make_churn, 0, o->conc, now() + o->duration_ms, &t);
    free_sessions(v, o->conc);
    print_tally("churn", &t);
    return judge(&t, o->min_ok, 1);
}

static void make_rst(const opts *o, long seq, sess *s)
{
    (void)seq;
    s->out = xmalloc(1);
    s->outlen = 0; /* chargen ignores its input */
    s->want = xmalloc(o->size);
    s->wantlen = o->size;
    chargen_fill(s->want, o->size);
}

/* rst: COUNT clients (CONC at once) of chargen, each reading SIZE bytes,
 * checking them, then closing with an RST in the middle of the stream. */
static int cmd_rst(const opts *o)
{
    plan p = {.prefix = 1, .reset = 1, .timeout_ms = o->timeout_ms};
    tally t = {0};
    sess *v = run(o, &p, make_rst, o->count, o->conc, 0, &t);
    free_sessions(v, o->conc);
    print_tally("rst", &t);
    return judge(&t, o->count, 0);
}

/* ------------------------------------------------------------ no reader */

typedef struct noread_conn {
    int fd;
    size_t sent;
    int err;
} noread_conn;

/* Writes what each socket takes; returns whether anything moved. */
static int noread_push(noread_conn *c, long n, const char *buf, size_t size)
{
    int moved = 0;
    for (long i = 0; i < n; i++) {
        while (c[i].fd >= 0 && !c[i].err && c[i].sent < size) {
            ssize_t w = send(c[i].fd, buf + c[i].sent, size - c[i].sent, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno != EAGAIN && errno != ENOTCONN) c[i].err = errno;
                break;
            }
            c[i].sent += (size_t)w;
            moved = 1;
        }
    }
    return moved;
}

/* noread: COUNT clients each send SIZE bytes to echo and never read a byte
 * of the replies. Once nothing moves for half a second it prints "stalled"
 * and holds the connections for --hold (or until SIGTERM): the server's
 * memory must stay bounded meanwhile (the script measures it). */
static int cmd_noread(const opts *o)
{
    noread_conn *c = calloc((size_t)o->count, sizeof *c);
    char *buf = xmalloc(o->size);
    if (!c) return 2;
    for (size_t i = 0; i < o->size; i++) buf[i] = (char)('a' + i % 26);
    for (long i = 0; i < o->count; i++) {
        c[i].fd = dial(o);
        if (c[i].fd < 0) c[i].err = -c[i].fd;
    }
    int64_t last = now(), start = last;
    while (!stop_flag && now() - last < 500 && now() - start < o->timeout_ms) {
        if (noread_push(c, o->count, buf, o->size)) last = now();
        poll(NULL, 0, 10);
    }
    size_t total = 0;
    long failed = 0;
    for (long i = 0; i < o->count; i++) {
        total += c[i].sent;
        failed += c[i].err != 0;
    }
    printf("noread: stalled: %zu of %zu bytes sent on %ld connections (%ld closed or refused)\n",
           total, o->size * (size_t)o->count, o->count, failed);
    fflush(stdout);
    hold(o->hold_ms);
    for (long i = 0; i < o->count; i++)
        if (c[i].fd >= 0) close(c[i].fd); /* unread data: the kernel resets */
    free(c);
    free(buf);
    return 0;
}

/* ------------------------------------------------------------ datagrams */

static int is_dgram(const opts *o)
{
    return o->addr.transport == SS_UDP || o->addr.transport == SS_UNIXGRAM;
}

static char *dgram_payload(size_t n, long seq)
{
    char *p = make_line(n < 2 ? 2 : n, "udpflood", seq, 0);
    return p;
}

/* A reply of the flood: the transformed request of the sequence number it
 * carries, whole. Returns 1 if right. */
static int check_dgram(const opts *o, const char *r, ssize_t n)
{
    char up[64];
    long seq;
    if (n != (ssize_t)o->size || n < 12) return 0;
    size_t k = (size_t)n < sizeof up - 1 ? (size_t)n : sizeof up - 1;
    memcpy(up, r, k);
    up[k] = '\0';
    if (sscanf(up, "%*s %ld", &seq) != 1 || seq < 0) return 0;
    char *req = dgram_payload(o->size, seq);
    char *want = xmalloc(o->size);
    transform(o, want, req, o->size);
    int ok = memcmp(want, r, o->size) == 0;
    free(req);
    free(want);
    return ok;
}

static void drain_replies(const opts *o, int fd, long *replies, long *wrong)
{
    char buf[65536];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC)) >= 0) {
        (*replies)++;
        if (!check_dgram(o, buf, n)) (*wrong)++;
    }
}

/* One request with retries on a new socket: whether the exact reply came. */
static int dgram_probe(const opts *o, int tries)
{
    int fd = dial(o);
    if (fd < 0) return 0;
    char req[] = "probe after the flood\n", want[sizeof req], buf[256];
    transform(o, want, req, sizeof req - 1);
    int ok = 0;
    for (int i = 0; i < tries && !ok; i++) {
        if (send(fd, req, sizeof req - 1, 0) < 0) poll(NULL, 0, 100);
        int64_t end = now() + 300;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        while (!ok && now() < end && poll(&pfd, 1, (int)(end - now())) > 0) {
            ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN) break;
            ok = n == (ssize_t)(sizeof req - 1) && memcmp(buf, want, (size_t)n) == 0;
        }
    }
    close(fd);
    return ok;
}

/* udpflood: COUNT datagrams of SIZE bytes as fast as the socket takes them,
 * replies drained meanwhile and checked; then a probe on a new socket must
 * be answered. */
static int cmd_udpflood(const opts *o)
{
    if (!is_dgram(o) || o->size < 12) {
        fputs("adversary udpflood: needs a udp:// or unixgram: address and --size >= 12\n", stderr);
        return 2;
    }
    int fd = dial(o);
    if (fd < 0) return 2;
    long sent = 0, errs = 0, replies = 0, wrong = 0;
    int64_t t0 = now();
    for (long i = 0; i < o->count; i++) {
        char *p = dgram_payload(o->size, i);
        if (send(fd, p, o->size, 0) == (ssize_t)o->size)
            sent++;
        else if (errno == EAGAIN || errno == ENOBUFS)
            errs++, poll(NULL, 0, 1);
        else
            errs++;
        free(p);
        if (i % 64 == 63) drain_replies(o, fd, &replies, &wrong);
    }
    int64_t t1 = now();
    for (int64_t end = now() + 300; now() < end; poll(NULL, 0, 20))
        drain_replies(o, fd, &replies, &wrong);
    close(fd);
    int ok = dgram_probe(o, 10);
    printf("udpflood: %ld of %ld datagrams sent in %lld ms (%ld send errors), %ld replies (%ld "
           "wrong); probe %s\n",
           sent, o->count, (long long)(t1 - t0), errs, replies, wrong,
           ok ? "answered" : "NOT answered");
    return wrong || !ok;
}

/* udpprobe: COUNT datagrams of SIZE bytes, one at a time, each waiting half
 * a second for its reply: prints the reply sizes; fails if one is larger
 * than --max-reply, or (--none) if any reply comes, or none does. */
static int cmd_udpprobe(const opts *o)
{
    if (!is_dgram(o)) return 2;
    int fd = dial(o);
    if (fd < 0) return 2;
    char *req = xmalloc(o->size);
    memset(req, 'x', o->size);
    static char buf[65536];
    long answered = 0;
    size_t lo = SIZE_MAX, hi = 0;
    for (long i = 0; i < o->count; i++) {
        if (send(fd, req, o->size, 0) < 0) continue;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 500) <= 0) continue;
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) continue;
        answered++;
        if ((size_t)n < lo) lo = (size_t)n;
        if ((size_t)n > hi) hi = (size_t)n;
    }
    close(fd);
    free(req);
    printf("udpprobe: %ld datagrams of %zu bytes, %ld answered, reply sizes %zu..%zu\n", o->count,
           o->size, answered, answered ? lo : 0, hi);
    if (o->none) return answered != 0;
    return answered == 0 || hi > o->max_reply;
}

/* ------------------------------------------------------------ main */

typedef struct command {
    const char *name;
    int (*run)(const opts *o);
    const char *help;
} command;

static const command commands[] = {
    {"slowloris", cmd_slowloris, "COUNT clients send a SIZE-byte line a byte per DELAY ms"},
    {"bigline", cmd_bigline, "one SIZE-byte line: the server must close, replying <= MAX-REPLY"},
    {"noread", cmd_noread, "COUNT clients send SIZE bytes each and never read; hold"},
    {"flood", cmd_flood, "COUNT connections at once, a line each: exact reply or refused"},
    {"storm", cmd_storm, "as flood (for an accept storm: with --keep and --hold)"},
    {"churn", cmd_churn, "CONC clients connect, send a line, read it, close, for DURATION"},
    {"rst", cmd_rst, "COUNT chargen clients (CONC at once) read SIZE bytes, then reset"},
    {"halfopen", cmd_halfopen, "COUNT clients send SIZE bytes, shut down writing, read to EOF"},
    {"udpflood", cmd_udpflood, "COUNT datagrams of SIZE bytes at full speed, then a probe"},
    {"udpprobe", cmd_udpprobe, "COUNT datagrams of SIZE bytes one by one: reply sizes"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fputs("Usage: adversary COMMAND ADDRESS [OPTIONS]\n\nCommands:\n", f);
    for (const command *c = commands; c->name; c++) fprintf(f, "  %-10s %s\n", c->name, c->help);
    fputs("\nOptions:\n"
          "  -n, --count N         clients, rounds or datagrams\n"
          "  -c, --concurrency N   at once (churn, rst)\n"
          "  -s, --size BYTES      request size (k, M suffixes)\n"
          "  -d, --delay MS        slowloris: ms between two bytes\n"
          "  -t, --timeout MS      a session not done by then is hung\n"
          "  -H, --hold MS         keep the connections this long at the end\n"
          "  -D, --duration MS     churn: run this long\n"
          "  -m, --min-ok N        at least N exact replies\n"
          "  -M, --max-reply BYTES a larger reply fails\n"
          "  -u, --upper           replies are upper-cased (the upper service)\n"
          "  -k, --keep            keep each connection open once answered\n"
          "      --none            udpprobe: no reply must come (discard)\n"
          "Exit status: 0 the server behaved, 1 it did not, 2 usage or local error.\n",
          f);
}

/* Bytes, with an optional k or M (1024-based); 0 allowed. */
static int parse_bytes(const char *text, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text) return -1;
    if (*end == 'k' || *end == 'K') v <<= 10, end++;
    if (*end == 'M') v <<= 20, end++;
    if (*end) return -1;
    *out = (size_t)v;
    return 0;
}

static int parse_size(const char *text, size_t *out)
{
    return parse_bytes(text, out) < 0 || *out == 0 ? -1 : 0;
}

static int parse_long(const char *text, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < 0) return -1;
    *out = v;
    return 0;
}

static int parse_ms(const char *text, int64_t *out)
{
    long v;
    if (parse_long(text, &v) < 0) return -1;
    *out = v;
    return 0;
}

static int parse_opt(opts *o, int c, const char *v)
{
    switch (c) {
    case 'n':
        return parse_long(v, &o->count);
    case 'c':
        return parse_long(v, &o->conc);
    case 's':
        return parse_size(v, &o->size);
    case 'd':
        return parse_ms(v, &o->delay_ms);
    case 't':
        return parse_ms(v, &o->timeout_ms);
    case 'H':
        return parse_ms(v, &o->hold_ms);
    case 'D':
        return parse_ms(v, &o->duration_ms);
    case 'm':
        return parse_long(v, &o->min_ok);
    case 'M':
        return parse_bytes(v, &o->max_reply);
    case 'u':
        o->upper = 1;
        return 0;
    case 'k':
        o->keep = 1;
        return 0;
    case 'N':
        o->none = 1;
        return 0;
    default:
        return -1;
    }
}

static int parse_args(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"count", required_argument, NULL, 'n'},
        {"concurrency", required_argument, NULL, 'c'},
        {"size", required_argument, NULL, 's'},
        {"delay", required_argument, NULL, 'd'},
        {"timeout", required_argument, NULL, 't'},
        {"hold", required_argument, NULL, 'H'},
        {"duration", required_argument, NULL, 'D'},
        {"min-ok", required_argument, NULL, 'm'},
        {"max-reply", required_argument, NULL, 'M'},
        {"upper", no_argument, NULL, 'u'},
        {"keep", no_argument, NULL, 'k'},
        {"none", no_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    *o = (opts){.count = 4,
                .conc = 4,
                .size = 64,
                .delay_ms = 20,
                .timeout_ms = 5000,
                .duration_ms = 3000,
                .min_ok = 1,
                .max_reply = SIZE_MAX};
    int c;
    while ((c = getopt_long(argc, argv, "n:c:s:d:t:H:D:m:M:uk", lo, NULL)) != -1)
        if (c == '?' || parse_opt(o, c, optarg) < 0) return -1;
    if (optind != argc - 1 || o->count < 1 || o->conc < 1) return -1;
    o->address = argv[optind];
    if (ss_addr_parse(o->address, &o->addr) < 0) {
        fprintf(stderr, "adversary: %s\n", ss_errmsg());
        return -1;
    }
    return 0;
}

/* Signals end a hold; SIGPIPE is never wanted (MSG_NOSIGNAL covers sends).
 * The descriptor limit goes to its hard maximum: a flood needs many. */
static void setup_process(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const command *cmd = commands;
    while (cmd->name && strcmp(cmd->name, argv[1]) != 0) cmd++;
    opts o;
    if (!cmd->name || parse_args(argc - 1, argv + 1, &o) < 0) {
        fprintf(stderr, "adversary: bad command line (see adversary --help)\n");
        return 2;
    }
    setup_process();
    return cmd->run(&o);
}
