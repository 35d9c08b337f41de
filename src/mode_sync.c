/* mode_sync.c - TCPServer: each request runs in the serving thread, one at a
 * time. While a handler runs, its waits also watch the shutdown eventfd: a
 * shutdown closes the listeners at once and gives the handler
 * drain_timeout_ms to finish before its calls return -ECANCELED, the same
 * drain the other modes give. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* The mode's state: the connection reused from request to request, and the
 * drain clock of a shutdown seen while a handler runs. */
typedef struct sync_state {
    ss_server_t *s;
    int64_t drain_deadline; /* 0 until a shutdown is seen */
    ss_conn_t conn;
} sync_state;

static int sync_init(ss_server_t *s)
{
    sync_state *st = calloc(1, sizeof *st);
    if (!st) return ss__fail(-ENOMEM, "sync mode");
    st->s = s;
    s->mode_state = st;
    return 0;
}

/* The shutdown is seen: stop accepting at once and start the drain clock. */
static void begin_drain(sync_state *st)
{
    if (st->drain_deadline) return;
    st->drain_deadline = ss_now_ms() + st->s->cfg.drain_timeout_ms;
    ss__close_listeners(st->s);
}

/* ss__waiter.cancelled: after a shutdown, the handler is cancelled once the
 * drain deadline has passed (asked by every read and write, even those that
 * never wait). */
static int sync_cancelled(void *self)
{
    sync_state *st = self;
    if (!atomic_load(&st->s->shutdown)) return 0;
    begin_drain(st);
    if (ss_now_ms() < st->drain_deadline) return 0;
    atomic_store(&st->s->shared->cancelled, 1);
    return 1;
}

static int wait_draining(sync_state *st, int fd, int events, int64_t deadline, int cancel_fd)
{
    int64_t dd = st->drain_deadline;
    int64_t d = ss__min_deadline(deadline, dd);
    int rc = ss__poll_wait(fd, events, d, cancel_fd);
    if (rc == -ETIMEDOUT && d == dd && d != deadline) return -ECANCELED;
    return rc;
}

static int sync_wait(void *self, int fd, int events, int64_t deadline, int cancel_fd)
{
    sync_state *st = self;
    if (st->drain_deadline) return wait_draining(st, fd, events, deadline, cancel_fd);
    /* The wake eventfd stands in for the cancel fd until a shutdown. */
    struct pollfd p[3];
    int n = 0;
    if (fd >= 0) p[n++] = (struct pollfd){.fd = fd, .events = (short)events};
    p[n++] = (struct pollfd){.fd = st->s->wake_fd, .events = POLLIN};
    if (cancel_fd >= 0) p[n++] = (struct pollfd){.fd = cancel_fd, .events = POLLIN};
    for (;;) {
        int rc = poll(p, (nfds_t)n, ss__poll_timeout(deadline));
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return ss__errno();
        if (rc == 0) return -ETIMEDOUT;
        if (cancel_fd >= 0 && p[n - 1].revents) return -ECANCELED;
        if (p[fd >= 0 ? 1 : 0].revents && atomic_load(&st->s->shutdown)) {
            begin_drain(st);
            if (fd >= 0 && p[0].revents) return 0;
            return wait_draining(st, fd, events, deadline, cancel_fd);
        }
        if (fd >= 0 && p[0].revents) return 0;
        if (fd < 0 && deadline > 0 && ss_now_ms() >= deadline) return -ETIMEDOUT;
    }
}

static int sync_process(ss_server_t *s, ss__request *req)
{
    sync_state *st = s->mode_state;
    ss_conn_t *c = &st->conn;
    ss__conn_for_request(s, c, req);
    if (atomic_load(&s->shutdown)) begin_drain(st);
    ss__waiter waiter = {.wait = sync_wait, .cancelled = sync_cancelled, .self = st};
    ss__ctx *ctx = ss__ctx_get();
    const ss__waiter *prev = ctx->waiter;
    ctx->waiter = &waiter;
    atomic_fetch_add(&s->active, 1);
    ss__run_handler(s, c);
    atomic_fetch_sub(&s->active, 1);
    ctx->waiter = prev;
    ss__request_done(c, req, 1);
    return 0;
}

static int sync_drain(ss_server_t *s, int64_t deadline)
{
    (void)deadline;
    return atomic_load(&s->active);
}

static void sync_destroy(ss_server_t *s)
{
    sync_state *st = s->mode_state;
    if (!st) return;
    ss__conn_release(&st->conn);
    free(st);
    s->mode_state = NULL;
}

const ss__mode_ops ss__mode_sync = {
    .mode = SS_MODE_SYNC,
    .init = sync_init,
    .process = sync_process,
    .drain = sync_drain,
    .destroy = sync_destroy,
};
