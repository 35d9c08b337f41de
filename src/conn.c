/* conn.c - the connection object: buffered reads and writes with deadlines
 * over a stream's top connection layer (the socket, or a layer pushed above
 * it: internal.h, ss__layer), and the same calls over one datagram and its
 * reply. Every wait goes through ss__wait (wait.c), so these calls run
 * unchanged in every mode. Datagram sends use MSG_NOSIGNAL: a closed peer is
 * an error, never a SIGPIPE. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define DEFAULT_BUF   4096
#define DEFAULT_LINE  8192
#define DEFAULT_DGRAM 65536

void ss__conn_init(ss_conn_t *c, int fd, ss_transport_t t, const ss_config_t *cfg)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->transport = t;
    c->cancel_fd = -1;
    if (ss__is_dgram(t)) c->flags |= SS__C_DGRAM;
    c->bufsize = cfg && cfg->buffer_size ? cfg->buffer_size : DEFAULT_BUF;
    c->max_line = cfg && cfg->max_line ? cfg->max_line : DEFAULT_LINE;
    c->max_dgram = cfg && cfg->max_datagram ? cfg->max_datagram : DEFAULT_DGRAM;
    c->idle_ms = cfg ? cfg->idle_timeout_ms : 0;
    c->line_ms = cfg ? cfg->line_timeout_ms : 0;
    c->min_rate = cfg ? cfg->min_rate : 0;
    c->sock = (ss__layer){.ops = &ss__layer_socket, .fd = fd};
    c->top = &c->sock;
}

void ss__conn_push(ss_conn_t *c, ss__layer *l)
{
    l->below = c->top;
    l->fd = c->fd;
    c->top = l;
}

void ss__conn_drop_layers(ss_conn_t *c)
{
    while (c->top && c->top != &c->sock) {
        ss__layer *l = c->top;
        c->top = l->below;
        if (l->ops->close) l->ops->close(l);
    }
}

/* Buffers come from the waiter's cache when it has one (event mode: see
 * ss__waiter), else from malloc. Either way a block is malloc'd memory, so
 * buf_put may free it from any thread. */
static void *buf_get(size_t min, size_t *size)
{
    const ss__waiter *w = ss__ctx_get()->waiter;
    if (w && w->buf_get) return w->buf_get(w->self, min, size);
    *size = min;
    return malloc(min);
}

static void buf_put(void *p, size_t size)
{
    if (!p) return;
    const ss__waiter *w = ss__ctx_get()->waiter;
    if (w && w->buf_put)
        w->buf_put(w->self, p, size);
    else
        free(p);
}

void ss__conn_release(ss_conn_t *c)
{
    ss__conn_drop_layers(c);
    if (c->flags & SS__C_OWN_RBUF) buf_put(c->rbuf, c->rcap);
    buf_put(c->wbuf, c->wcap);
    c->rbuf = c->wbuf = NULL;
    c->rcap = c->wcap = c->rpos = c->rlen = c->wlen = 0;
    c->flags &= ~SS__C_OWN_RBUF;
}

void ss__conn_set_packet(ss_conn_t *c, char *packet, size_t len)
{
    if (c->flags & SS__C_OWN_RBUF) buf_put(c->rbuf, c->rcap);
    c->flags &= ~SS__C_OWN_RBUF;
    c->rbuf = packet;
    c->rcap = c->rlen = len;
    c->rpos = 0;
    c->bytes_in += len;
    c->flags |= SS__C_EOF; /* nothing follows the packet */
}

const char *ss_conn_peername(const ss_conn_t *c)
{
    ss_conn_t *m = (ss_conn_t *)(uintptr_t)c; /* a cache, filled on first use */
    if (m->peername[0] == '\0' && ss_addr_format(&c->peer, m->peername, sizeof m->peername) < 0)
        snprintf(m->peername, sizeof m->peername, "%s", "(unknown peer)");
    return m->peername;
}

/* What the layers know, asked from the top (ss__layer_ops.info). */
static const char *layer_info(const ss_conn_t *c, ss__layer_info_t what)
{
    if (c->flags & SS__C_DGRAM) return NULL;
    for (const ss__layer *l = c->top; l && l != &c->sock; l = l->below) {
        const char *v = l->ops->info ? l->ops->info(l, what) : NULL;
        if (v) return v;
    }
    return NULL;
}

/* A TLS or PROXY header failure is told by the layer that knows why
 * ("certificate verify failed: hostname mismatch", "v1: not six fields"),
 * not by the code's name alone. */
static int layer_explains(int err)
{
    return err == SS_ETLS || err == -EPROTO || err == -EMSGSIZE || err == -EPERM;
}

/* Records why the session is failing, for the access log and /metrics
 * (ss__result_t), unless a cause was already said for this error. */
static void conn_result(ss_conn_t *c, int err, ss__result_t r)
{
    c->result = (unsigned char)r;
    c->result_err = err;
}

/* Which of the connection's deadlines a -ETIMEDOUT wait met: the
 * session's (request_timeout_ms, or ss_set_deadline), the line's, or else
 * the idle timeout. The clock is read only on this failing path. */
static ss__result_t timeout_kind(const ss_conn_t *c)
{
    int64_t now = ss_now_ms();
    if (c->line_deadline > 0 && now >= c->line_deadline) return SS__RESULT_LINE_TIMEOUT;
    if (c->deadline > 0 && now >= c->deadline) return SS__RESULT_REQUEST_TIMEOUT;
    return SS__RESULT_IDLE_TIMEOUT;
}

int ss__conn_fail(ss_conn_t *c, int err, const char *op)
{
    if (c->result_err != err || c->result == SS__RESULT_NONE) {
        if (err == -ETIMEDOUT)
            conn_result(c, err, timeout_kind(c));
        else if (err == SS_ELINE)
            conn_result(c, err, SS__RESULT_LINE_TOO_LONG);
    }
    const char *why = layer_explains(err) ? layer_info(c, SS__INFO_ERROR) : NULL;
    if (!why) return ss__fail_into(c->errmsg, err, "%s %s", op, ss_conn_peername(c));
    ss__fail_plain(err, "%s %s: %s", op, ss_conn_peername(c), why);
    memcpy(c->errmsg, ss_errmsg(), sizeof c->errmsg);
    return err;
}

/* A failure whose cause is said in full here (a deadline of our own), not
 * by err's name. */
static int conn_fail_why(ss_conn_t *c, int err, const char *op, const char *why, ss__result_t r)
{
    conn_result(c, err, r);
    ss__fail_plain(err, "%s %s: %s", op, ss_conn_peername(c), why);
    memcpy(c->errmsg, ss_errmsg(), sizeof c->errmsg);
    return err;
}

/* The deadline of one wait: the connection's, or sooner the idle timeout,
 * or sooner the end of the line being read (line_timeout_ms). A minimum of
 * numbers already known: the line deadline costs no system call. */
static int64_t wait_deadline(const ss_conn_t *c)
{
    int64_t idle = c->idle_ms > 0 ? ss_now_ms() + c->idle_ms : 0;
    return ss__min_deadline(ss__min_deadline(c->deadline, idle), c->line_deadline);
}

static int conn_wait(ss_conn_t *c, int events)
{
    return ss__wait(c->fd, events, wait_deadline(c), c->cancel_fd);
}

/* The server cancelled its handlers: a memory load, no syscall (and, in a
 * mode that runs handlers inside serve, its waiter's verdict). */
static int cancelled(const ss_conn_t *c)
{
    if (c->cancelled && atomic_load(c->cancelled)) return 1;
    return ss__wait_cancelled();
}

/* Runs layer l's start until it is done, waiting through the seam for what
 * it asks. A layer may set its own deadline for it (a PROXY header's 5 s),
 * sooner than the connection's. */
static int start_layer(ss_conn_t *c, ss__layer *l)
{
    int rc = 0;
    while (l->ops->start) {
        int events = 0;
        rc = l->ops->start(l, c, &events);
        if (rc != -EAGAIN) break;
        rc = ss__wait(c->fd, events, ss__min_deadline(wait_deadline(c), l->deadline), c->cancel_fd);
        if (rc < 0) break;
    }
    if (rc >= 0) return 0;
    c->failed = l->ops;
    ss__conn_fail(c, rc, l->ops->name);
    /* The layer's own result (a PROXY header, a handshake), whatever the
     * error: the session never reached its handler. A drain that ran out
     * meanwhile is "cancelled" all the same. */
    if (rc == -ECANCELED)
        conn_result(c, rc, SS__RESULT_CANCELLED);
    else if (l->ops->result)
        conn_result(c, rc, (ss__result_t)l->ops->result);
    return rc;
}

/* Bottom first: a TLS handshake runs over a PROXY layer that has read its
 * header. */
int ss__conn_start(ss_conn_t *c)
{
    ss__layer *stack[SS__LAYERS_MAX + 1];
    int n = 0;
    for (ss__layer *l = c->top; l != &c->sock && n <= SS__LAYERS_MAX; l = l->below) stack[n++] = l;
    int rc = 0;
    while (rc == 0 && n > 0) rc = start_layer(c, stack[--n]);
    return rc;
}

/* ------------------------------------------------------------- writing */

/* A transfer went through without waiting: the waiter may take a turn to
 * let others run (ss__waiter.busy; event mode), so that a session whose peer
 * is always ready (chargen to a fast reader) cannot keep its loop, and the
 * shutdown its acceptors must see, to itself. */
static void busy(void)
{
    const ss__waiter *w = ss__ctx_get()->waiter;
    if (w && w->busy) w->busy(w->self);
}

static int send_stream(ss_conn_t *c, const char *p, size_t n)
{
    if (cancelled(c)) return ss__conn_fail(c, -ECANCELED, "write");
    while (n > 0) {
        int events = 0;
        ssize_t w = c->top->ops->send(c->top, p, n, &events);
        if (w >= 0) {
            p += w;
            n -= (size_t)w;
            c->bytes_out += (uint64_t)w;
            busy();
            continue;
        }
        int err = (int)w;
        if (err == -EAGAIN) err = conn_wait(c, events);
        if (err < 0) {
            c->flags |= SS__C_FAILED;
            return ss__conn_fail(c, err, "write");
        }
    }
    return 0;
}

static int send_datagram(ss_conn_t *c)
{
    const struct sockaddr *to = NULL;
    socklen_t tolen = 0;
    if (c->reply_gate && !c->reply_gate(c, c->wlen)) {
        /* Over its source's budget: dropped, not sent; not the handler's
         * failure (the gate counted and logged it). */
        c->wlen = 0;
        c->flags &= ~SS__C_REPLY;
        return 0;
    }
    if (!(c->flags & SS__C_DIALED)) {
        to = (const struct sockaddr *)&c->peer.sa;
        tolen = c->peer.len;
    }
    for (;;) {
        ssize_t w = sendto(c->fd, c->wbuf, c->wlen, MSG_NOSIGNAL, to, tolen);
        if (w >= 0) {
            c->bytes_out += (uint64_t)w;
            break;
        }
        int err = ss__errno();
        if (err == -EINTR) continue;
        if (err == -EAGAIN) err = conn_wait(c, POLLOUT);
        if (err < 0) return ss__conn_fail(c, err, "send");
    }
    c->wlen = 0;
    c->flags &= ~SS__C_REPLY;
    return 0;
}

int ss_flush(ss_conn_t *c)
{
    if (c->flags & SS__C_DGRAM) return (c->flags & SS__C_REPLY) ? send_datagram(c) : 0;
    if (c->wlen == 0) return 0;
    int rc = send_stream(c, c->wbuf, c->wlen);
    c->wlen = 0;
    return rc;
}

static int grow_wbuf(ss_conn_t *c, size_t need)
{
    size_t cap = c->wcap ? c->wcap : (c->flags & SS__C_DGRAM ? 512 : c->bufsize);
    while (cap < need) cap *= 2;
    if (c->flags & SS__C_DGRAM && cap > c->max_dgram) cap = c->max_dgram;
    char *b = c->wbuf ? realloc(c->wbuf, cap) : buf_get(cap, &cap);
    if (!b) return ss__conn_fail(c, -ENOMEM, "write");
    c->wbuf = b;
    c->wcap = cap;
    return 0;
}

static int write_datagram(ss_conn_t *c, const void *buf, size_t n)
{
    c->flags |= SS__C_REPLY; /* even n == 0: an empty reply is a reply (echo) */
    if (n > c->max_dgram - c->wlen) return ss__conn_fail(c, -EMSGSIZE, "reply");
    if (c->wlen + n > c->wcap) {
        int rc = grow_wbuf(c, c->wlen + n);
        if (rc < 0) return rc;
    }
    if (n > 0) memcpy(c->wbuf + c->wlen, buf, n);
    c->wlen += n;
    return 0;
}

int ss_write(ss_conn_t *c, const void *buf, size_t n)
{
    if (c->flags & SS__C_DGRAM) return write_datagram(c, buf, n);
    if (c->flags & SS__C_FAILED) return ss__conn_fail(c, -EPIPE, "write");
    if (cancelled(c)) return ss__conn_fail(c, -ECANCELED, "write");
    if (!c->wbuf) {
        int rc = grow_wbuf(c, c->bufsize);
        if (rc < 0) return rc;
    }
    if (n <= c->wcap - c->wlen) {
        memcpy(c->wbuf + c->wlen, buf, n);
        c->wlen += n;
        return 0;
    }
    int rc = ss_flush(c);
    if (rc < 0) return rc;
    if (n >= c->wcap) return send_stream(c, buf, n); /* too big to buffer: no copy */
    memcpy(c->wbuf, buf, n);
    c->wlen = n;
    return 0;
}

int ss_puts(ss_conn_t *c, const char *s)
{
    return ss_write(c, s, strlen(s));
}

int ss_printf(ss_conn_t *c, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return ss__conn_fail(c, -EINVAL, "format");
    if ((size_t)n < sizeof small) return ss_write(c, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big) return ss__conn_fail(c, -ENOMEM, "format");
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = ss_write(c, big, (size_t)n);
    free(big);
    return rc;
}

int ss_close_write(ss_conn_t *c)
{
    if (c->flags & SS__C_DGRAM) return ss__conn_fail(c, SS_EUSAGE, "shutdown");
    int rc = ss_flush(c);
    for (int events = 0; rc == 0;) {
        rc = c->top->ops->shutdown(c->top, &events);
        if (rc != -EAGAIN) break;
        rc = conn_wait(c, events);
    }
    return rc < 0 ? ss__conn_fail(c, rc, "shutdown") : 0;
}

/* ------------------------------------------------------------- reading */

static int ensure_rbuf(ss_conn_t *c, size_t cap)
{
    if (c->rbuf) return 0;
    c->rbuf = buf_get(cap, &c->rcap);
    if (!c->rbuf) {
        c->rcap = 0;
        return ss__conn_fail(c, -ENOMEM, "read");
    }
    c->flags |= SS__C_OWN_RBUF;
    return 0;
}

/* The connection is about to wait for input with nothing buffered either
 * way (its input consumed, its output flushed). When the waiter keeps a
 * cache of buffers (event mode), both go back to it: an idle connection then
 * holds no heap memory, and the next request takes a warm block from the
 * cache, without malloc. Blocking modes keep theirs (no cache, no churn). */
static void release_idle(ss_conn_t *c)
{
    const ss__waiter *w = ss__ctx_get()->waiter;
    if (!w || !w->buf_put) return;
    if (c->flags & SS__C_OWN_RBUF) {
        w->buf_put(w->self, c->rbuf, c->rcap);
        c->rbuf = NULL;
        c->rcap = 0;
        c->flags &= ~SS__C_OWN_RBUF;
    }
    if (c->wbuf && c->wlen == 0) {
        w->buf_put(w->self, c->wbuf, c->wcap);
        c->wbuf = NULL;
        c->wcap = 0;
    }
}

/* One datagram into the (empty) buffer of a dialed datagram socket.
 * MSG_TRUNC makes recv return the real size, so a cut is seen and reported. */
static ssize_t recv_datagram(ss_conn_t *c)
{
    int rc = ensure_rbuf(c, c->max_dgram);
    if (rc < 0) return rc;
    /* A block from a cache may be larger than asked: max_dgram still rules. */
    size_t room = c->rcap < c->max_dgram ? c->rcap : c->max_dgram;
    for (;;) {
        ssize_t r = recv(c->fd, c->rbuf, room, MSG_TRUNC);
        if (r >= 0) {
            c->rpos = 0;
            if ((size_t)r > room) {
                c->rlen = 0;
                return ss__conn_fail(c, SS_ETRUNC, "receive");
            }
            c->rlen = (size_t)r;
            return r;
        }
        int err = ss__errno();
        if (err == -EINTR) continue;
        if (err == -EAGAIN) {
            int f = ss_flush(c);
            if (f < 0) return f;
            err = conn_wait(c, POLLIN);
        }
        if (err < 0) return ss__conn_fail(c, err, "receive");
    }
}

/* Waits for input. Inside a line or a record (SS__C_MEASURED) under
 * min_rate, the time waited is kept for the rate window, counted with the
 * bytes that the wait brings (rate_count). Two reads of the monotonic clock
 * (vDSO, no system call) per wait, and only then. */
static int wait_input(ss_conn_t *c, int events)
{
    if (!(c->flags & SS__C_MEASURED)) return conn_wait(c, events);
    int64_t t0 = ss_now_ms();
    int rc = conn_wait(c, events);
    c->waited_ms += ss_now_ms() - t0 + 1; /* + 1: a wait is never free */
    return rc;
}

/* r bytes arrived inside a line or a record: into the window; after the
 * grace, a window below min_rate ends the session. Judged only after a
 * wait, so that a peer whose bytes come without waiting costs nothing. */
static int rate_count(ss_conn_t *c, size_t r)
{
    if (!(c->flags & SS__C_MEASURED)) return 0;
    int64_t waited = c->waited_ms;
    c->waited_ms = 0;
    ss__rate_add(&c->rate, waited, r);
    if (waited == 0 || ss_now_ms() < c->rate_from || !ss__rate_low(&c->rate, c->min_rate)) return 0;
    char why[96];
    snprintf(why, sizeof why, "peer sends under %llu bytes/s (min_rate)",
             (unsigned long long)c->min_rate);
    return conn_fail_why(c, -ETIMEDOUT, "read", why, SS__RESULT_MIN_RATE);
}

/* Reads more stream bytes after the buffered ones. Returns the count, 0 at
 * end of stream, or an error. A short read means the socket was drained, so
 * the next fill waits first instead of paying a read(2) that says EAGAIN
 * (docs/design.md: measured facts). Pending writes are flushed before waiting. */
static ssize_t fill(ss_conn_t *c)
{
    if (c->flags & SS__C_EOF) return 0;
    if (cancelled(c)) return ss__conn_fail(c, -ECANCELED, "read");
    /* Called only when every buffered byte was consumed (more()). */
    c->rpos = c->rlen = 0;
    for (;;) {
        int events = POLLIN;
        if (!(c->flags & SS__C_DRAINED)) {
            int rc = ensure_rbuf(c, c->bufsize); /* again after release_idle */
            if (rc < 0) return rc;
            ssize_t r = c->top->ops->recv(c->top, c->rbuf, c->rcap, &events);
            if (r > 0) {
                c->rlen = (size_t)r;
                c->bytes_in += (uint64_t)r;
                if (rate_count(c, (size_t)r) < 0) return -ETIMEDOUT;
                if ((size_t)r < c->rcap && (c->top->ops->flags & SS__LAYER_SHORT_READ_DRAINS))
                    c->flags |= SS__C_DRAINED; /* the next fill waits */
                else
                    busy(); /* more may follow at once: no wait in sight */
                return r;
            }
            if (r == 0) {
                c->flags |= SS__C_EOF;
                return 0;
            }
            if (r != -EAGAIN) return ss__conn_fail(c, (int)r, "read");
        }
        int rc = ss_flush(c);
        if (rc < 0) return rc;
        release_idle(c);
        rc = wait_input(c, events);
        if (rc < 0) return ss__conn_fail(c, rc, "read");
        c->flags &= ~SS__C_DRAINED;
    }
}

static ssize_t more(ss_conn_t *c)
{
    if (c->rpos < c->rlen) return (ssize_t)(c->rlen - c->rpos);
    if (c->flags & SS__C_DGRAM) {
        if (c->flags & SS__C_DIALED) return recv_datagram(c);
        return 0; /* a request's packet: nothing after it */
    }
    return fill(c);
}

ssize_t ss_read(ss_conn_t *c, void *buf, size_t n)
{
    if (n == 0) return 0;
    ssize_t avail = more(c);
    if (avail <= 0) return avail;
    size_t k = (size_t)avail < n ? (size_t)avail : n;
    memcpy(buf, c->rbuf + c->rpos, k);
    c->rpos += k;
    return (ssize_t)k;
}

/* The first bytes of a line or record are in and more must come: from now
 * on, waits count for min_rate. */
static void measure(ss_conn_t *c)
{
    if (c->min_rate > 0) c->flags |= SS__C_MEASURED;
}

ssize_t ss_read_full(ss_conn_t *c, void *buf, size_t n)
{
    size_t got = 0;
    ssize_t rc = (ssize_t)n;
    while (got < n) {
        ssize_t r = ss_read(c, (char *)buf + got, n - got);
        if (r <= 0) {
            rc = r < 0 ? r : got == 0 ? 0 : ss__conn_fail(c, SS_EEOF, "read");
            break;
        }
        got += (size_t)r;
        measure(c);
    }
    c->flags &= ~SS__C_MEASURED;
    return rc;
}

/* The line has begun and is not complete in the buffer: its deadline is
 * set (once per line), and waits count for min_rate. */
static void line_begun(ss_conn_t *c)
{
    if (c->flags & SS__C_DGRAM) return; /* a packet: nothing is waited for */
    if (c->line_ms > 0 && c->line_deadline == 0) c->line_deadline = ss_now_ms() + c->line_ms;
    measure(c);
}

static ssize_t readline_body(ss_conn_t *c, char *buf, size_t cap)
{
    size_t limit = cap - 1 < c->max_line ? cap - 1 : c->max_line;
    size_t got = 0;
    for (;;) {
        ssize_t avail = more(c);
        if (avail < 0) return avail;
        if (avail == 0) break; /* end of stream: the last line may lack '\n' */
        size_t k = (size_t)avail;
        const char *src = c->rbuf + c->rpos;
        const char *nl = memchr(src, '\n', k);
        if (nl) k = (size_t)(nl - src) + 1;
        if (k > limit - got) {
            memcpy(buf + got, src, limit - got);
            c->rpos += limit - got;
            buf[limit] = '\0';
            return ss__conn_fail(c, SS_ELINE, "readline");
        }
        memcpy(buf + got, src, k);
        c->rpos += k;
        got += k;
        if (nl) break;
        line_begun(c);
    }
    buf[got] = '\0';
    return (ssize_t)got;
}

ssize_t ss_readline(ss_conn_t *c, char *buf, size_t cap)
{
    if (!buf || cap == 0) return ss__conn_fail(c, SS_EUSAGE, "readline");
    ssize_t n = readline_body(c, buf, cap);
    if (n == -ETIMEDOUT && c->line_deadline > 0 && ss_now_ms() >= c->line_deadline) {
        char why[96];
        snprintf(why, sizeof why, "line not ended within %lld ms (line_timeout)",
                 (long long)c->line_ms);
        conn_fail_why(c, -ETIMEDOUT, "readline", why, SS__RESULT_LINE_TIMEOUT);
    }
    c->line_deadline = 0;
    c->flags &= ~SS__C_MEASURED;
    return n;
}

/* ------------------------------------------------------------ accessors */

void ss_set_deadline(ss_conn_t *c, int64_t deadline_ms)
{
    c->deadline = deadline_ms > 0 ? deadline_ms : 0;
}

int64_t ss_deadline(const ss_conn_t *c)
{
    return c->deadline;
}

const ss_addr_t *ss_conn_peer(const ss_conn_t *c)
{
    return &c->peer;
}

const ss_addr_t *ss_conn_local(const ss_conn_t *c)
{
    return &c->local;
}

ss_transport_t ss_conn_transport(const ss_conn_t *c)
{
    return c->transport;
}

int ss_conn_is_datagram(const ss_conn_t *c)
{
    return (c->flags & SS__C_DGRAM) != 0;
}

ss_server_t *ss_conn_server(const ss_conn_t *c)
{
    return c->server;
}

const char *ss_conn_tls_version(const ss_conn_t *c)
{
    return layer_info(c, SS__INFO_TLS_VERSION);
}

const char *ss_conn_tls_alpn(const ss_conn_t *c)
{
    return layer_info(c, SS__INFO_TLS_ALPN);
}

const char *ss_conn_tls_peer(const ss_conn_t *c)
{
    return layer_info(c, SS__INFO_TLS_PEER);
}

const char *ss_conn_errmsg(const ss_conn_t *c)
{
    return c->errmsg;
}

/* Unix stream connections only: TCP has no credentials, and a datagram
 * socket's SO_PEERCRED names whoever connected it, not the sender of the
 * datagram at hand (unix(7)). */
int ss_conn_peer_cred(const ss_conn_t *c, pid_t *pid, uid_t *uid, gid_t *gid)
{
    if (!c) return ss__fail(SS_EUSAGE, "ss_conn_peer_cred");
    if (c->transport != SS_UNIX || (c->flags & SS__C_DGRAM))
        return ss__fail(-ENOTSUP, "peer credentials of %s", ss_conn_peername(c));
    int rc = ss__peer_cred(c->fd, pid, uid, gid);
    return rc < 0 ? ss__fail(rc, "SO_PEERCRED %s", ss_conn_peername(c)) : 0;
}

void ss_conn_set_data(ss_conn_t *c, void *data)
{
    c->data = data;
}

void *ss_conn_data(const ss_conn_t *c)
{
    return c->data;
}
