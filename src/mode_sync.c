/* mode_sync.c - TCPServer: each request runs in the serving thread, one at a
 * time. While a handler runs, its waits also watch the shutdown eventfd: a
 * shutdown closes the listeners at once and gives the handler
 * drain_timeout_ms to finish before its calls return -ECANCELED, the same
 * drain the other modes give. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct sync_waiter {
    ss_server_t *s;
} sync_waiter;

/* The shutdown is seen: stop accepting at once and start the drain clock
 * (s->drain_deadline, 0 until then). */
static void begin_drain(ss_server_t *s)
{
    if (s->drain_deadline) return;
    s->drain_deadline = ss_now_ms() + s->cfg.drain_timeout_ms;
    ss__close_listeners(s);
}

static int sync_check_cancel(ss_server_t *s)
{
    begin_drain(s);
    if (ss_now_ms() < s->drain_deadline) return 0;
    atomic_store(s->cancelled, 1);
    return 1;
}

static int wait_draining(sync_waiter *w, int fd, int events, int64_t deadline, int cancel_fd)
{
    int64_t dd = w->s->drain_deadline;
    int64_t d = ss__min_deadline(deadline, dd);
    int rc = ss__poll_wait(fd, events, d, cancel_fd);
    if (rc == -ETIMEDOUT && d == dd && d != deadline) return -ECANCELED;
    return rc;
}

static int sync_wait(void *self, int fd, int events, int64_t deadline, int cancel_fd)
{
    sync_waiter *w = self;
    if (w->s->drain_deadline) return wait_draining(w, fd, events, deadline, cancel_fd);
    /* The wake eventfd stands in for the cancel fd until a shutdown. */
    struct pollfd p[3];
    int n = 0;
    if (fd >= 0) p[n++] = (struct pollfd){.fd = fd, .events = (short)events};
    p[n++] = (struct pollfd){.fd = w->s->wake_fd, .events = POLLIN};
    if (cancel_fd >= 0) p[n++] = (struct pollfd){.fd = cancel_fd, .events = POLLIN};
    for (;;) {
        int rc = poll(p, (nfds_t)n, ss__poll_timeout(deadline));
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return ss__errno();
        if (rc == 0) return -ETIMEDOUT;
        if (cancel_fd >= 0 && p[n - 1].revents) return -ECANCELED;
        if (p[fd >= 0 ? 1 : 0].revents && atomic_load(&w->s->shutdown)) {
            begin_drain(w->s);
            if (fd >= 0 && p[0].revents) return 0;
            return wait_draining(w, fd, events, deadline, cancel_fd);
        }
        if (fd >= 0 && p[0].revents) return 0;
        if (fd < 0 && deadline > 0 && ss_now_ms() >= deadline) return -ETIMEDOUT;
    }
}

static int sync_process(ss_server_t *s, ss__request *req, int owned)
{
    if (!s->sync_conn) s->sync_conn = calloc(1, sizeof *s->sync_conn);
    if (!s->sync_conn) {
        if (!ss__is_dgram(req->transport)) close(req->fd);
        return ss__fail(-ENOMEM, "sync: connection");
    }
    ss_conn_t *c = s->sync_conn;
    ss__conn_for_request(s, c, req);
    sync_waiter w = {.s = s};
    if (atomic_load(&s->shutdown)) begin_drain(s);
    ss__waiter waiter = {.wait = sync_wait, .self = &w};
    ss__ctx *ctx = ss__ctx_get();
    const ss__waiter *prev = ctx->waiter;
    ctx->waiter = &waiter;
    atomic_fetch_add(&s->active, 1);
    ss__run_handler(s, c);
    atomic_fetch_sub(&s->active, 1);
    ctx->waiter = prev;
    if (!ss__is_dgram(req->transport)) close(req->fd);
    if (!(c->flags & SS__C_OWN_RBUF)) {
        c->rbuf = NULL; /* the packet was borrowed */
        c->rcap = 0;
    }
    if (owned) free(req->packet);
    return 0;
}

static int sync_drain(ss_server_t *s, int64_t deadline)
{
    (void)deadline;
    return atomic_load(&s->active);
}

const ss__mode_ops ss__mode_sync = {
    .mode = SS_MODE_SYNC,
    .process = sync_process,
    .drain = sync_drain,
    .check_cancel = sync_check_cancel,
};
