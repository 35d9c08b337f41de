/* worker.c - one generator thread: an edge-triggered epoll loop over its
 * share of the connections, running one pattern (echo, connect, udp, idle) in
 * closed loop or, with --rate, open loop.
 *
 * Open loop follows wrk2: sends are scheduled at fixed intervals from the
 * start, and latency counts from the time a request was due, not from when a
 * busy connection finally sent it, so a stalled server is not hidden by the
 * generator slowing down with it (coordinated omission).
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_CONNECTING 256            /* connects in flight per worker */
#define BACKOFF_NS     (10 * 1000000) /* before reconnecting after a failure */
#define AGAIN_NS       (1 * 1000000)  /* unix connect found the backlog full */
#define SWEEP_NS       (50 * 1000000) /* how often timeouts are checked */
#define RX_CAP         (64 * 1024)
#define TLS_TX_CAP     (16 * 1024) /* one TLS record's worth of plaintext per write */

/* A slot's states; C_HANDSHAKE: connected, its TLS handshake under way. */
enum { C_CLOSED, C_CONNECTING, C_HANDSHAKE, C_OPEN };

typedef struct bconn {
    int fd;
    uint32_t id;  /* global connection number: part of the request bytes */
    uint32_t key; /* (id + requests before this stream) % 36: the stream's rotation */
    uint8_t state;
    uint8_t want_write;   /* output left over: waiting for EPOLLOUT */
    uint8_t in_free;      /* open loop: on the free stack */
    uint8_t queued;       /* on the start queue */
    uint8_t pinged;       /* idle: its one request was answered */
    uint32_t outstanding; /* requests sent and not yet answered */
    uint32_t gen;         /* bumped at each close: tells a slot's streams apart */
    uint64_t seq;         /* requests issued on this slot, all streams */
    uint64_t tx_off, tx_end, rx_off;
    int64_t progress; /* last sign of life, for --timeout */
    int64_t *due;     /* ring of `pipeline` due times (ns) */
    void *ssl;        /* tls:// : the session on fd */
    void *sess;       /* tls://, persistent patterns: the session to resume */
} bconn_t;

typedef struct qent {
    int slot;
    int64_t not_before;
} qent_t;

typedef struct wk {
    bench_worker_t *w;
    const bench_opts_t *o;
    bench_clock_t *clk;
    int ep;
    int n;
    bconn_t *c;
    qent_t *q; /* start queue: a ring of n entries, about in not_before order */
    int qhead, qlen;
    int64_t *due;  /* every slot's ring, in one allocation */
    int *free_stk; /* open loop: slots able to take a request now */
    int nfree;
    int connecting;
    int64_t open;
    int64_t next_sweep;
    int64_t next_send; /* open loop: when the next request is due */
    uint64_t issued;
    double ns_per_req;
    char *rx, *tx;
    size_t tx_cap;
    char msg[160]; /* a TLS failure's text */
    int pwait2;    /* epoll_pwait2(2) works: sub-millisecond timeouts */
} wk_t;

static int persistent(const wk_t *k)
{
    return k->o->pattern == BENCH_ECHO || k->o->pattern == BENCH_IDLE;
}

static int open_loop(const wk_t *k)
{
    return k->o->rate > 0 && k->o->pattern != BENCH_IDLE;
}

static void publish(wk_t *k)
{
    bench_live_t *l = &k->w->live;
    bench_result_t *r = &k->w->result;
    uint64_t errors = 0;
    for (int i = 0; i < BERR_KINDS; i++) errors += r->errors[i];
    atomic_store_explicit(&l->requests, r->requests, memory_order_relaxed);
    atomic_store_explicit(&l->bytes, r->bytes_received, memory_order_relaxed);
    atomic_store_explicit(&l->errors, errors, memory_order_relaxed);
    atomic_store_explicit(&l->open, k->open, memory_order_relaxed);
}

static int err_kind(int err)
{
    switch (err) {
    case ECONNREFUSED:
        return BERR_REFUSED;
    case ECONNRESET:
    case EPIPE:
        return BERR_RESET;
    case ETIMEDOUT:
        return BERR_TIMEOUT;
    default:
        return BERR_IO;
    }
}

static void count_error(wk_t *k, int kind, const char *what, int err)
{
    bench_result_t *r = &k->w->result;
    r->errors[kind]++;
    if (r->first_error[0]) return;
    if (err)
        snprintf(r->first_error, sizeof r->first_error, "%s: %s", what, ss_strerror(-err));
    else
        snprintf(r->first_error, sizeof r->first_error, "%s", what);
}

/* ---------------------------------------------------- queue and free stack */

static void enqueue(wk_t *k, bconn_t *c, int64_t not_before)
{
    if (c->queued) return;
    c->queued = 1;
    k->q[(k->qhead + k->qlen++) % k->n] = (qent_t){(int)(c - k->c), not_before};
}

static void push_free(wk_t *k, bconn_t *c)
{
    if (c->in_free) return;
    c->in_free = 1;
    k->free_stk[k->nfree++] = (int)(c - k->c);
}

/* Whether a slot can take a request now (open loop). */
static int able(const wk_t *k, const bconn_t *c)
{
    if (k->o->pattern == BENCH_CONNECT) return c->state == C_CLOSED && !c->queued;
    return c->state == C_OPEN && c->outstanding < (uint32_t)k->o->pipeline;
}

/* The top of the free stack, dropping entries that went stale (a connection
 * that failed or filled up since it was pushed). */
static bconn_t *peek_free(wk_t *k)
{
    while (k->nfree > 0) {
        bconn_t *c = &k->c[k->free_stk[k->nfree - 1]];
        if (able(k, c)) return c;
        c->in_free = 0;
        k->nfree--;
    }
    return NULL;
}

/* ------------------------------------------------------------- closing */

/* how: BENCH_TLS_NOTIFY after success, QUIET or ABORT after a failure
 * (tls.c). */
static void close_conn(wk_t *k, bconn_t *c, int how)
{
    bench_tls_close(c->ssl, how);
    c->ssl = NULL;
    if (c->fd >= 0) close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    if (c->state == C_CONNECTING || c->state == C_HANDSHAKE) k->connecting--;
    if (c->state == C_OPEN) k->open--;
    if (c->pinged) atomic_fetch_sub_explicit(&k->w->live.idle_ready, 1, memory_order_relaxed);
    c->state = C_CLOSED;
    c->gen++;
    c->pinged = 0;
    c->outstanding = 0;
    c->want_write = 0;
}

/* After a failure: the requests in flight are lost; a persistent connection
 * is opened again after a short pause (so a refusing server is not spun on),
 * a connect slot tries again, a UDP socket sends its next datagram. */
static void after_failure(wk_t *k, bconn_t *c, int kind, int64_t now)
{
    if (k->o->pattern == BENCH_UDP) {
        c->outstanding = 0;
        if (open_loop(k))
            push_free(k, c);
        else
            enqueue(k, c, now + BACKOFF_NS);
        return;
    }
    close_conn(k, c, kind == BERR_TLS ? BENCH_TLS_ABORT : BENCH_TLS_QUIET);
    if (open_loop(k) && !persistent(k))
        push_free(k, c);
    else
        enqueue(k, c, now + BACKOFF_NS);
}

static void fail(wk_t *k, bconn_t *c, int kind, const char *what, int err, int64_t now)
{
    count_error(k, kind, what, err);
    after_failure(k, c, kind, now);
}

/* A failed read or write (or handshake) with err as the tls_* calls return
 * it: TLS's own failures are counted apart, with their text. */
static void fail_io(wk_t *k, bconn_t *c, const char *what, int err, int64_t now)
{
    if (err == SS_ETLS)
        fail(k, c, BERR_TLS, k->msg, 0, now);
    else if (err == 0)
        fail(k, c, BERR_EOF, "the server closed the connection", 0, now);
    else
        fail(k, c, err_kind(-err), what, -err, now);
}

/* ----------------------------------------------------------- requests */

/* Counts a request answered at now, due at due, with its bytes. */
static void record_bytes(wk_t *k, int64_t due, int64_t now, uint64_t sent, uint64_t received)
{
    bench_result_t *r = &k->w->result;
    if (now < k->clk->measure_end) r->requests_all++;
    if (due < k->clk->measure_start || now >= k->clk->measure_end) return;
    bench_hist_record(&r->hist, (uint64_t)(now - due));
    r->requests++;
    r->bytes_sent += sent;
    r->bytes_received += received;
}

static void record(wk_t *k, int64_t due, int64_t now)
{
    record_bytes(k, due, now, k->o->size, k->o->size);
}

/* The connect pattern against a server that does not echo: no request is
 * sent, and the connection itself (or what the server says unasked) is the
 * reply. */
static int asks(const wk_t *k)
{
    return k->o->pattern != BENCH_CONNECT || k->o->reply == BENCH_REPLY_ECHO;
}

/* Copies the stream's bytes from tx_off on (at most cap) to buf: the same
 * bytes at the same offset every time, so a TLS write retried after
 * SSL_ERROR_WANT_WRITE sends what it tried before (SSL_write(3ssl)). */
static size_t fill(const wk_t *k, const bconn_t *c, char *buf, size_t cap)
{
    size_t size = k->o->size, n = 0;
    for (uint64_t p = c->tx_off; p < c->tx_end && n < cap;) {
        size_t o = (size_t)(p % size);
        if (o == size - 1) {
            buf[n++] = '\n';
            p++;
            continue;
        }
        size_t len = size - 1 - o;
        if (len > cap - n) len = cap - n;
        if (len > c->tx_end - p) len = (size_t)(c->tx_end - p);
        memcpy(buf + n, bench_body(bench_shift(c->key, p / size)) + o, len);
        n += len, p += len;
    }
    return n;
}

/* flush_stream over TLS: one record's worth at a time. */
static int flush_tls(wk_t *k, bconn_t *c, int64_t now)
{
    while (c->tx_off < c->tx_end) {
        size_t len = fill(k, c, k->tx, k->tx_cap);
        ssize_t n = bench_tls_write(c->ssl, k->tx, len, k->msg, sizeof k->msg);
        if (n == -EAGAIN) {
            c->want_write = 1;
            return 0;
        }
        if (n < 0) {
            fail_io(k, c, "write", (int)n, now);
            return -1;
        }
        c->tx_off += (uint64_t)n;
    }
    c->want_write = 0;
    return 0;
}

/* Writes what is queued on a stream. Returns 0, or -1 after a failure (the
 * connection is then closed). A short write means the socket buffer is full:
 * stop and let the EPOLLOUT edge call again (nginx's "ready = 0"). */
static int flush_stream(wk_t *k, bconn_t *c, int64_t now)
{
    size_t size = k->o->size;
    if (c->ssl) return flush_tls(k, c, now);
    while (c->tx_off < c->tx_end) {
        struct iovec iov[32];
        int cnt = 0;
        size_t total = 0;
        for (uint64_t p = c->tx_off; p < c->tx_end && cnt < 31;) {
            size_t o = (size_t)(p % size);
            if (o < size - 1) {
                const char *body = bench_body(bench_shift(c->key, p / size));
                iov[cnt++] = (struct iovec){(void *)(body + o), size - 1 - o};
                p += size - 1 - o;
            }
            iov[cnt++] = (struct iovec){(void *)"\n", 1};
            p++;
        }
        for (int i = 0; i < cnt; i++) total += iov[i].iov_len;
        ssize_t n = writev(c->fd, iov, cnt);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN) {
            fail(k, c, err_kind(errno), "write", errno, now);
            return -1;
        }
        if (n > 0) c->tx_off += (uint64_t)n;
        if (n < 0 || (size_t)n < total) {
            c->want_write = 1;
            return 0;
        }
    }
    c->want_write = 0;
    return 0;
}

static void flush_dgram(wk_t *k, bconn_t *c, int64_t now)
{
    size_t size = k->o->size;
    memcpy(k->tx, bench_body(bench_shift(c->key, c->seq - 1)), size - 1);
    k->tx[size - 1] = '\n';
    for (;;) {
        if (send(c->fd, k->tx, size, 0) >= 0) break;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
            c->want_write = 1;
            return;
        }
        fail(k, c, err_kind(errno), "send", errno, now);
        return;
    }
    c->want_write = 0;
}

static int open_socket(wk_t *k, bconn_t *c, int64_t now);
static void established(wk_t *k, bconn_t *c, int64_t now);

/* issue -> established -> next_work -> issue is a cycle in the call graph
 * only: issue calls established just for a connection it opened itself, with
 * its request queued, and established then flushes and returns before
 * next_work. The depth is bounded (misc-no-recursion, checked by hand). */
/* Queues one request due at `due` and sends it if the slot is connected. The
 * connect pattern first opens the slot's connection, and sends once it is up
 * (against a server that does not echo, it sends nothing: opened, read_stream).
 * In closed loop a request is due when it is sent: the clock is read here,
 * not once per loop pass, so that each request is timed from its own send
 * to its own reply (a stale pass time made loopback round trips of 0 us). */
static void issue(wk_t *k, bconn_t *c, int64_t due, int64_t now) // NOLINT(misc-no-recursion)
{
    int up = 0;
    if (!open_loop(k)) due = now = bench_now_ns();
    if (k->o->pattern == BENCH_CONNECT && c->state == C_CLOSED) {
        up = open_socket(k, c, now);
        if (up < 0) return; /* failed at once; counted */
    }
    uint64_t in_stream = c->tx_end / k->o->size;
    c->due[in_stream % (uint64_t)k->o->pipeline] = due;
    if (c->outstanding++ == 0) c->progress = now;
    c->seq++;
    if (asks(k)) c->tx_end += k->o->size;
    if (up)
        established(k, c, now);
    else if (c->state != C_OPEN)
        return;
    else if (k->o->pattern == BENCH_UDP)
        flush_dgram(k, c, now);
    else if (!c->want_write)
        flush_stream(k, c, now);
}

/* What a slot does once it is ready for work (connected, or answered). */
static void next_work(wk_t *k, bconn_t *c, int64_t now) // NOLINT(misc-no-recursion)
{
    if (now >= k->clk->measure_end) return;
    switch (k->o->pattern) {
    case BENCH_IDLE:
        if (!c->pinged && c->outstanding == 0) issue(k, c, now, now);
        return;
    case BENCH_ECHO:
    case BENCH_UDP:
        if (open_loop(k)) {
            if (able(k, c)) push_free(k, c);
            return;
        }
        while (c->state == C_OPEN && c->outstanding < (uint32_t)k->o->pipeline)
            issue(k, c, now, now);
        return;
    case BENCH_CONNECT:
        if (open_loop(k))
            push_free(k, c);
        else
            issue(k, c, now, now);
        return;
    }
}

/* One request's reply is complete. */
static void complete(wk_t *k, bconn_t *c, uint64_t in_stream, int64_t now)
{
    record(k, c->due[in_stream % (uint64_t)k->o->pipeline], now);
    c->outstanding--;
    c->progress = now;
    switch (k->o->pattern) {
    case BENCH_CONNECT: /* one request per connection: close, then again */
        close_conn(k, c, BENCH_TLS_NOTIFY);
        next_work(k, c, now);
        return;
    case BENCH_IDLE:
        c->pinged = 1;
        atomic_fetch_add_explicit(&k->w->live.idle_ready, 1, memory_order_relaxed);
        return;
    default:
        next_work(k, c, now);
        return;
    }
}

/* --------------------------------------------------------- connecting */

/* The connection is up (its TLS handshake done): the connect pattern sends
 * its request, or against a server that never answers counts the setup
 * itself; the others start their work. */
static void opened(wk_t *k, bconn_t *c, int64_t now) // NOLINT(misc-no-recursion)
{
    if (c->state == C_CONNECTING || c->state == C_HANDSHAKE) k->connecting--;
    c->state = C_OPEN;
    c->progress = now;
    k->open++;
    k->w->result.connects++;
    if (k->o->pattern == BENCH_CONNECT && k->o->reply == BENCH_REPLY_NONE) {
        record_bytes(k, c->due[0], now, 0, 0);
        c->outstanding = 0;
        close_conn(k, c, BENCH_TLS_NOTIFY);
        /* Through the queue, not next_work: a unix connect completes at once,
         * and issue -> established -> opened -> issue would recurse. */
        if (open_loop(k))
            push_free(k, c);
        else if (now < k->clk->measure_end)
            enqueue(k, c, now);
        return;
    }
    if (c->tx_end > c->tx_off) { /* the connect pattern's request, queued already */
        flush_stream(k, c, now);
        return;
    }
    if (k->o->pattern != BENCH_CONNECT) next_work(k, c, now);
}

/* One step of the TLS handshake; done, the connection is open. A resumed
 * session is counted apart: the echo pattern resumes when it reconnects. */
static void handshake(wk_t *k, bconn_t *c, int64_t now) // NOLINT(misc-no-recursion)
{
    int r = bench_tls_handshake(c->ssl, k->msg, sizeof k->msg);
    if (r == 0) return; /* the socket's next edge calls again */
    if (r < 0) {
        if (r == SS_ETLS)
            fail(k, c, BERR_TLS, k->msg, 0, now);
        else
            fail(k, c, err_kind(-r), k->msg, 0, now);
        return;
    }
    k->w->result.handshakes++;
    if (bench_tls_resumed(c->ssl)) k->w->result.resumed++;
    opened(k, c, bench_now_ns());
}

static void established(wk_t *k, bconn_t *c, int64_t now) // NOLINT(misc-no-recursion)
{
    int err = bench_send_proxy(c->fd, k->o); /* --proxy: the header first */
    if (err < 0) {
        fail(k, c, err_kind(-err), "PROXY header", -err, now);
        return;
    }
    if (!k->o->tls) {
        opened(k, c, now);
        return;
    }
    c->ssl = bench_tls_new(k->o, c->fd, persistent(k) ? &c->sess : NULL);
    if (!c->ssl) {
        fail(k, c, BERR_IO, "TLS session", ENOMEM, now);
        return;
    }
    c->state = C_HANDSHAKE;
    c->progress = now;
    handshake(k, c, now);
}

/* A new stream on the slot: its offsets restart, its rotation moves on. */
static void reset_stream(bconn_t *c)
{
    c->key = (uint32_t)((c->id + c->seq) % 36);
    c->tx_off = c->tx_end = c->rx_off = 0;
    c->outstanding = 0;
}

/* Opens the slot's socket and starts connecting. Returns 1 when connected
 * at once, 0 when in progress (state C_CONNECTING), or -1 after a failure,
 * counted and handled. The socket joins the epoll set once, edge-triggered
 * for both directions, so no epoll_ctl is needed per request. */
static int open_socket(wk_t *k, bconn_t *c, int64_t now)
{
    int in_progress;
    reset_stream(c);
    int fd = bench_socket_connect(&k->o->addr, &in_progress);
    if (fd == -EAGAIN && (persistent(k) || !open_loop(k))) {
        enqueue(k, c, now + AGAIN_NS); /* unix(7): the listener's backlog is full */
        return -1;
    }
    if (fd < 0) {
        fail(k, c, fd == -ECONNREFUSED ? BERR_REFUSED : BERR_CONNECT, "connect", -fd, now);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = (uint64_t)(c - k->c)};
    if (epoll_ctl(k->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = errno;
        close(fd);
        fail(k, c, BERR_IO, "epoll_ctl", err, now);
        return -1;
    }
    c->fd = fd;
    c->state = C_CONNECTING;
    c->progress = now;
    k->connecting++;
    return !in_progress;
}

static void start_conn(wk_t *k, bconn_t *c, int64_t now)
{
    if (open_socket(k, c, now) == 1) established(k, c, now);
}

static void on_connecting(wk_t *k, bconn_t *c, int64_t now)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == 0) {
        established(k, c, bench_now_ns());
        return;
    }
    fail(k, c, err == ECONNREFUSED ? BERR_REFUSED : BERR_CONNECT, "connect", err, now);
}

/* Starts queued slots whose time has come, keeping at most MAX_CONNECTING
 * connects in flight so that thousands of SYNs do not overflow the server's
 * backlog all at once. */
static void start_queued(wk_t *k, int64_t now)
{
    while (k->qlen > 0 && k->connecting < MAX_CONNECTING) {
        qent_t *e = &k->q[k->qhead];
        if (e->not_before > now) return;
        bconn_t *c = &k->c[e->slot];
        k->qhead = (k->qhead + 1) % k->n;
        k->qlen--;
        c->queued = 0;
        if (k->o->pattern == BENCH_UDP)
            next_work(k, c, now);
        else if (k->o->pattern == BENCH_CONNECT)
            issue(k, c, now, now);
        else
            start_conn(k, c, now);
    }
}

/* ------------------------------------------------------------- reading */

/* Checks and accounts n bytes of a stream's replies. Returns 0, or -1 when
 * the connection failed. */
static int consume(wk_t *k, bconn_t *c, const char *buf, size_t n, int64_t now)
{
    size_t size = k->o->size;
    uint32_t gen = c->gen;
    if (c->rx_off + n > c->tx_off || !bench_verify(c->key, c->rx_off, buf, n, size)) {
        fail(k, c, BERR_MISMATCH, "the reply differs from the request", 0, now);
        return -1;
    }
    c->progress = now;
    uint64_t first = c->rx_off / size;
    c->rx_off += n;
    for (uint64_t r = first; r < c->rx_off / size; r++) {
        complete(k, c, r, now);
        if (c->gen != gen) return -1; /* closed (and maybe reopened) meanwhile */
    }
    return 0;
}

/* The connect pattern against a server that speaks unasked: what it says
 * (read to the end of what is there) answers the connection; then close. */
static void unasked(wk_t *k, bconn_t *c, size_t got, int64_t now)
{
    record_bytes(k, c->due[0], now, 0, got);
    c->outstanding = 0;
    close_conn(k, c, BENCH_TLS_NOTIFY);
    next_work(k, c, now);
}

/* read_stream over TLS: SSL_read until it wants the socket, since a record
 * read may leave whole records behind in the socket (or decrypted ones in
 * OpenSSL), and no edge would come for them. */
static void read_tls(wk_t *k, bconn_t *c, int64_t now)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = bench_tls_read(c->ssl, k->rx, RX_CAP, k->msg, sizeof k->msg);
        if (n > 0) {
            now = bench_now_ns();
            if (!asks(k)) {
                got += (size_t)n;
                continue;
            }
            if (consume(k, c, k->rx, (size_t)n, now) < 0) return;
            continue;
        }
        if (got && (n == -EAGAIN || n == 0)) {
            unasked(k, c, got, now);
            return;
        }
        if (n != -EAGAIN) fail_io(k, c, "read", (int)n, now);
        return;
    }
}

/* Reads until a short read: with edge triggering a short read means the
 * socket is drained, and one more read() would only return EAGAIN (docs/design.md,
 * "Measured facts"). After a hangup, read on to see the end of stream. Each
 * read's replies are timed by the clock read after it. */
static void read_stream(wk_t *k, bconn_t *c, int hangup, int64_t now)
{
    if (c->ssl) {
        read_tls(k, c, now);
        return;
    }
    size_t got = 0;
    for (;;) {
        ssize_t n = read(c->fd, k->rx, RX_CAP);
        if (n > 0) {
            now = bench_now_ns();
            if (!asks(k)) { /* read what it says; the end (or a pause) answers */
                got += (size_t)n;
                continue;
            }
            if (consume(k, c, k->rx, (size_t)n, now) < 0) return;
            if ((size_t)n < RX_CAP && !hangup) return;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (got && (n == 0 || errno == EAGAIN)) {
            unasked(k, c, got, now);
            return;
        }
        if (n == 0) {
            fail(k, c, BERR_EOF, "the server closed the connection", 0, now);
            return;
        }
        if (errno != EAGAIN) fail(k, c, err_kind(errno), "read", errno, now);
        return;
    }
}

/* A datagram matches some other rotation: a reply that came after its
 * request had been counted lost. */
static int late_reply(const char *buf, size_t n, size_t size)
{
    if (n != size) return 0;
    for (unsigned s = 0; s < 36; s++)
        if (bench_verify(s, 0, buf, n, size)) return 1;
    return 0;
}

static void on_datagram(wk_t *k, bconn_t *c, size_t n, int64_t now)
{
    size_t size = k->o->size;
    uint32_t key = bench_shift(c->key, c->seq - 1);
    if (c->outstanding && n == size && bench_verify(key, 0, k->rx, n, size)) {
        complete(k, c, c->tx_end / size - 1, now);
        return;
    }
    if (late_reply(k->rx, n, size)) {
        k->w->result.late++;
        return;
    }
    fail(k, c, BERR_MISMATCH, "the reply differs from the request", 0, now);
}

/* Reads every datagram waiting, each timed by the clock read right after
 * its recv: a pass's stale `now` (from before this socket's turn, or before
 * the request it answers was sent) would count round trips of 0 us. */
static void read_dgram(wk_t *k, bconn_t *c, int64_t now)
{
    for (;;) {
        ssize_t n = recv(c->fd, k->rx, RX_CAP, 0);
        if (n >= 0) {
            now = bench_now_ns();
            on_datagram(k, c, (size_t)n, now);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return;
        fail(k, c, err_kind(errno), "recv", errno, now);
        return;
    }
}

/* The events belong to the socket the slot had when they were collected:
 * once that one is closed (gen moves on), the rest of them are stale. */
static void on_event(wk_t *k, bconn_t *c, uint32_t events, int64_t now)
{
    uint32_t gen = c->gen;
    if (c->fd < 0) return;
    if (c->state == C_CONNECTING)
        on_connecting(k, c, now); /* and the first step of a TLS handshake */
    else if (c->state == C_HANDSHAKE)
        handshake(k, c, now);
    if (c->gen != gen || c->state != C_OPEN) return;
    if (k->o->pattern == BENCH_UDP) {
        if ((events & EPOLLOUT) && c->want_write) flush_dgram(k, c, now);
        if (events & (EPOLLIN | EPOLLERR)) read_dgram(k, c, now);
        return;
    }
    if ((events & (EPOLLOUT | EPOLLERR)) && c->want_write) flush_stream(k, c, now);
    if (c->gen != gen) return;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
        read_stream(k, c, (events & (EPOLLHUP | EPOLLRDHUP)) != 0, now);
}

/* ------------------------------------------------------ time and the loop */

/* Every SWEEP_NS: a connect or a request that made no progress for --timeout
 * fails with BERR_TIMEOUT (a UDP datagram with BERR_LOST). */
static void sweep(wk_t *k, int64_t now)
{
    int64_t limit = (int64_t)(k->o->timeout * 1e9);
    for (int i = 0; i < k->n; i++) {
        bconn_t *c = &k->c[i];
        if (c->state == C_CLOSED || now - c->progress < limit) continue;
        if (c->state == C_CONNECTING)
            fail(k, c, BERR_TIMEOUT, "connect", ETIMEDOUT, now);
        else if (c->state == C_HANDSHAKE)
            fail(k, c, BERR_TIMEOUT, "TLS handshake", ETIMEDOUT, now);
        else if (c->outstanding && k->o->pattern == BENCH_UDP)
            fail(k, c, BERR_LOST, "no reply datagram within --timeout", 0, now);
        else if (c->outstanding)
            fail(k, c, BERR_TIMEOUT, "no reply within --timeout", 0, now);
    }
    k->next_sweep = now + SWEEP_NS;
}

/* Open loop: sends every request whose time has come while a slot is free.
 * When none is, the schedule runs on without it and the backlog's latency
 * keeps counting from each request's due time. */
static void dispatch(wk_t *k, int64_t now)
{
    while (k->next_send <= now) {
        bconn_t *c = peek_free(k);
        if (!c) return;
        issue(k, c, k->next_send, now);
        if (!able(k, c)) {
            c->in_free = 0;
            k->nfree--;
        }
        k->issued++;
        k->next_send = k->clk->start + (int64_t)((double)k->issued * k->ns_per_req);
    }
}

static int64_t next_wake(const wk_t *k)
{
    int64_t t = k->clk->measure_end;
    if (k->next_sweep < t) t = k->next_sweep;
    if (open_loop(k) && k->nfree > 0 && k->next_send < t) t = k->next_send;
    if (k->qlen > 0 && k->connecting < MAX_CONNECTING && k->q[k->qhead].not_before < t)
        t = k->q[k->qhead].not_before;
    return t;
}

/* epoll_wait(2) counts in milliseconds, too coarse for an open-loop schedule
 * of thousands of requests a second: epoll_pwait2(2) (Linux 5.11) takes a
 * timespec. Raw syscall, so that older C libraries build it too. */
static int wait_events(wk_t *k, struct epoll_event *ev, int max, int64_t ns)
{
    if (ns < 0) ns = 0;
#ifdef SYS_epoll_pwait2
    if (k->pwait2) {
        struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
        long n = syscall(SYS_epoll_pwait2, k->ep, ev, max, &ts, NULL, 0);
        if (n >= 0 || errno != ENOSYS) return (int)n;
        k->pwait2 = 0;
    }
#endif
    return epoll_wait(k->ep, ev, max, (int)((ns + 999999) / 1000000));
}

static int run_loop(wk_t *k)
{
    struct epoll_event ev[256];
    for (;;) {
        int64_t now = bench_now_ns();
        if (now >= k->clk->measure_end || atomic_load(&k->clk->stop)) return 0;
        start_queued(k, now);
        if (now >= k->next_sweep) sweep(k, now);
        if (open_loop(k)) dispatch(k, now);
        publish(k);
        int n = wait_events(k, ev, 256, next_wake(k) - now);
        if (n < 0 && errno != EINTR) return -errno;
        now = bench_now_ns();
        for (int i = 0; i < n; i++) on_event(k, &k->c[ev[i].data.u64], ev[i].events, now);
    }
}

/* ---------------------------------------------------------- set up, tear down */

static int udp_open(wk_t *k, bconn_t *c)
{
    int in_progress;
    int fd = bench_socket_connect(&k->o->addr, &in_progress);
    if (fd < 0) return fd;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET,
                             .data.u64 = (uint64_t)(c - k->c)};
    if (epoll_ctl(k->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    c->fd = fd;
    c->state = C_OPEN;
    k->open++;
    k->w->result.connects++;
    reset_stream(c);
    return 0;
}

static int setup(wk_t *k, bench_worker_t *w)
{
    const bench_opts_t *o = w->opts;
    k->w = w, k->o = o, k->clk = w->clock, k->n = w->conns, k->pwait2 = 1;
    if (k->n < 1) return -EINVAL; /* run.c gives each worker at least one */
    k->c = calloc((size_t)k->n, sizeof *k->c);
    k->q = calloc((size_t)k->n, sizeof *k->q);
    k->free_stk = calloc((size_t)k->n, sizeof *k->free_stk);
    k->due = calloc((size_t)k->n * (size_t)o->pipeline, sizeof *k->due);
    k->rx = malloc(RX_CAP);
    k->tx_cap = o->tls ? TLS_TX_CAP : o->size;
    k->tx = malloc(k->tx_cap);
    if (!k->c || !k->q || !k->free_stk || !k->due || !k->rx || !k->tx) return -ENOMEM;
    k->ep = epoll_create1(EPOLL_CLOEXEC);
    if (k->ep < 0) return -errno;
    k->ns_per_req = open_loop(k) ? 1e9 / w->rate : 0;
    k->next_send = k->clk->start;
    k->next_sweep = k->clk->start + SWEEP_NS;
    for (int i = 0; i < k->n; i++) {
        bconn_t *c = &k->c[i];
        c->fd = -1;
        c->id = (uint32_t)(w->first_conn + i);
        c->due = k->due + (size_t)i * (size_t)o->pipeline;
        if (o->pattern == BENCH_UDP) {
            int r = udp_open(k, c);
            if (r < 0) return r;
            next_work(k, c, bench_now_ns());
        } else if (o->pattern == BENCH_CONNECT && open_loop(k))
            push_free(k, c);
        else
            enqueue(k, c, 0);
    }
    return 0;
}

static void teardown(wk_t *k)
{
    for (int i = 0; k->c && i < k->n; i++) {
        bench_tls_close(k->c[i].ssl, BENCH_TLS_ABORT);
        bench_tls_session_free(k->c[i].sess);
        if (k->c[i].fd >= 0) close(k->c[i].fd);
    }
    if (k->ep >= 0) close(k->ep);
    free(k->due);
    free(k->c);
    free(k->q);
    free(k->free_stk);
    free(k->rx);
    free(k->tx);
}

void *bench_worker_run(void *arg)
{
    bench_worker_t *w = arg;
    wk_t k;
    memset(&k, 0, sizeof k);
    k.ep = -1;
    int r = setup(&k, w);
    if (r == 0) r = run_loop(&k);
    publish(&k);
    w->fatal = r;
    teardown(&k);
    return NULL;
}
