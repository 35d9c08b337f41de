/* mode_event.c - the event mode: each connection's (or datagram's) handler
 * runs as a coroutine on an epoll loop, one loop per worker thread (State
 * Threads' model); handler I/O parks its coroutine through the wait seam
 * (event/loop.c), so the handler code runs unchanged.
 * Listeners: every loop watches the server's own listening sockets with
 * EPOLLEXCLUSIVE (epoll_ctl(2), Linux 4.5), so one loop is woken per new
 * client. Chosen over a SO_REUSEPORT listener per loop because it works for
 * every transport (unix sockets too), for adopted descriptors
 * (ss_server_listen_fd) and with reuse_port off, and because a closed
 * listener refuses new clients at once instead of leaving them queued on
 * the reuseport group member of a loop that is going away. */
#include "event/loop.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS   256
#define ACCEPT_BATCH  16           /* accepts in a row before the acceptor yields */
#define DGRAM_BATCH   8            /* datagrams per recvmmsg(2), at most */
#define DGRAM_BUFFERS (256 * 1024) /* receive buffer per datagram listener and loop */
#define BACKOFF_MS    100          /* pause after ENOMEM/ENOBUFS or an EMFILE not shed */
#define INLINE_DGRAM  1024         /* datagrams up to this size travel on their task's stack */
#define BUF_CACHE     64           /* connection buffers a loop keeps for reuse */

typedef struct worker {
    ss_server_t *s;
    pthread_t tid;
    ss__loop *loop;
    int acceptors; /* its acceptor tasks still running; under event_state.mu */
    int ready, rc;
    struct worker *next;
} worker;

typedef struct event_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* a worker started, or an acceptor ended */
    int stop_fd;                /* eventfd: acceptors stop (serve is returning) */
    int acceptors;              /* acceptor tasks running, all loops */
    int want, started;          /* loops this serve should run, and runs */
    ss__drainer drainer;        /* event_drain waits for the sessions to end */
    int64_t retry_at;           /* serving thread: when to start the missing loops */
    worker *workers;            /* every worker ever started; joined by destroy */
    ss__loop *local;            /* handle_request's loop, in the serving thread */
    pthread_mutex_t reserve_mu; /* s->reserve_fd, shared by the loops */
} event_state;

/* What an acceptor task and a session task are started with (copied onto
 * their own stacks by ss__loop_spawn_with). */
typedef struct acceptor_arg {
    worker *w;
    int li;
} acceptor_arg;

/* A session task's data, made in place on its own stack
 * (ss__loop_spawn_data): the connection, built by the acceptor, then for a
 * datagram of up to INLINE_DGRAM bytes the datagram itself. So a request
 * costs no malloc, and the stack holds one copy of the request's details
 * rather than two (DESIGN.md: an idle connection is the stack pages its
 * task has touched; this keeps the echo service's within one page). */
typedef struct session {
    ss_conn_t c;
    char *packet; /* a datagram too large to travel inline: freed at the end */
} session;

/* ------------------------------------------------------------- state */

static int event_init(ss_server_t *s)
{
    event_state *st = calloc(1, sizeof *st);
    if (!st) return ss__fail(-ENOMEM, "event mode");
    st->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (st->stop_fd < 0) {
        int err = ss__errno();
        free(st);
        return ss__fail(err, "event mode: eventfd");
    }
    ss__cond_init(&st->cv);
    pthread_mutex_init(&st->mu, NULL);
    ss__drainer_init(&st->drainer);
    pthread_mutex_init(&st->reserve_mu, NULL);
    s->mode_state = st;
    return 0;
}

/* ----------------------------------------------------------- sessions */

/* Only event_drain waits for sessions to end, and only while it does is a
 * session's end worth the lock and the broadcast: not on every request.
 * Both sides are sequentially consistent (a decrement then a load here, a
 * store then a load there), so either the drain sees the decrement or this
 * sees the drain and wakes it (ss__drainer_done). */
static void session_end(ss_server_t *s)
{
    event_state *st = s->mode_state;
    ss__drainer_done(&st->drainer, &s->active);
}

/* The stack overflow report's label, made only if it is ever printed: a
 * formatted peer name for every request costs getnameinfo and snprintf,
 * and their stack pages. */
static void peer_label(const void *peer, char *buf, size_t cap)
{
    ss__addr_format_safe(peer, buf, cap);
}

/* One request, as a task: ss__run_handler (handler.c) runs setup, handle
 * and finish on the connection as in every mode. */
static void session_main(void *arg)
{
    session *x = arg;
    ss_conn_t *c = &x->c;
    ss_server_t *s = c->server;
    ss__loop_set_label_fn(peer_label, &c->peer);
    ss__run_handler(s, c);
    ss__conn_release(c);
    if (!(c->flags & SS__C_DGRAM)) {
        ss__loop_closing(ss__loop_current(), c->fd);
        close(c->fd);
    }
    free(x->packet);
    session_end(s);
}

/* Starts a task for req (the packet of a datagram is copied, or taken when
 * owned); on failure the client is dropped (closed). */
static int session_start(ss_server_t *s, ss__loop *l, ss__request *req, int owned)
{
    char *own = owned ? req->packet : NULL;
    if (req->packet && !own && req->len > INLINE_DGRAM) {
        own = malloc(req->len);
        if (!own) {
            ss__log(s, SS_LOG_WARN, "out of memory: dropped a datagram");
            return -ENOMEM;
        }
        memcpy(own, req->packet, req->len);
    }
    size_t inline_len = req->packet && !own ? req->len : 0;
    atomic_fetch_add(&s->active, 1);
    session *x = ss__loop_spawn_data(l, session_main, sizeof *x + inline_len);
    if (!x) {
        int rc = -errno;
        session_end(s);
        if (!ss__is_dgram(req->transport)) close(req->fd);
        free(own);
        ss__log(s, SS_LOG_WARN, "event: no coroutine for a request: %s", ss_strerror(rc));
        return rc;
    }
    ss__request r = *req;
    if (own) {
        r.packet = own;
    } else if (req->packet) {
        r.packet = (char *)(x + 1);
        memcpy(r.packet, req->packet, inline_len);
    }
    memset(&x->c, 0, sizeof x->c); /* a reused stack holds old bytes */
    ss__conn_for_request(s, &x->c, &r);
    x->packet = own;
    return 0;
}

/* verify_request and max_connections (as serve.c's admit does). Returns 1
 * to serve req; else the client is closed (a datagram dropped). */
static int admit(ss_server_t *s, ss__request *req)
{
    int ok = !s->cfg.verify_request || s->cfg.verify_request(s, &req->peer, s->cfg.hook_ctx);
    if (ok && ss__at_capacity(s)) {
        char text[SS_ADDRSTRLEN];
        ss_addr_format(&req->peer, text, sizeof text);
        ss__log(s, SS_LOG_WARN, "max_connections (%d) reached: refused %s", s->cfg.max_connections,
                text);
        ok = 0;
    }
    if (!ok && !ss__is_dgram(req->transport)) close(req->fd);
    return ok;
}

/* ---------------------------------------------------------- acceptors */

static void acceptor_end(worker *w)
{
    event_state *st = w->s->mode_state;
    pthread_mutex_lock(&st->mu);
    w->acceptors--;
    st->acceptors--;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static int stopping(ss_server_t *s)
{
    return atomic_load(&s->shutdown) || atomic_load(&s->closed);
}

/* Parks until ms from now, or until the acceptors are told to stop
 * (-ECANCELED). It cannot fail otherwise: the loop reserved this task's
 * timer and registered stop_fd before the acceptors started (worker_main). */
static int pause_ms(ss_server_t *s, int64_t ms)
{
    event_state *st = s->mode_state;
    int rc = ss__loop_wait(-1, 0, ss_now_ms() + ms, st->stop_fd);
    return rc == -ECANCELED ? rc : 0;
}

/* Out of descriptors: give back the reserve, accept the waiting client and
 * close it at once (refused, not left hanging), take the reserve again
 * (libuv's trick, as serve.c). The reserve is shared by the loops, and
 * their accepts wait for reserve_mu (accept_locked): another loop's accept
 * could otherwise take the slot freed here, and the reserve would be lost
 * with every client beyond the limit left hanging in the backlog (the
 * adversary's storm test, 64 descriptors, 200 clients). Should it be lost
 * all the same (a handler's own descriptor), it is taken again once
 * descriptors come back. */
static void shed_one(ss_server_t *s, int lfd)
{
    event_state *st = s->mode_state;
    int fd = -1;
    pthread_mutex_lock(&st->reserve_mu);
    if (s->reserve_fd < 0) s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (s->reserve_fd >= 0) {
        close(s->reserve_fd);
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) close(fd);
        s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    pthread_mutex_unlock(&st->reserve_mu);
    ss__log(s, SS_LOG_WARN, "accept: out of descriptors; %s",
            fd >= 0 ? "refused a client" : "pausing");
    if (fd < 0) pause_ms(s, BACKOFF_MS);
}

/* accept4 under reserve_mu when several loops share the reserve (see
 * shed_one); uncontended but for a shed, next to accept's system call. */
static int accept_locked(ss_server_t *s, int lfd, ss__request *req)
{
    event_state *st = s->mode_state;
    int locked = st->want > 1;
    if (locked) pthread_mutex_lock(&st->reserve_mu);
    int fd = accept4(lfd, (struct sockaddr *)&req->peer.sa, &req->peer.len,
                     SOCK_CLOEXEC | SOCK_NONBLOCK);
    int err = fd < 0 ? ss__errno() : 0;
    if (locked) pthread_mutex_unlock(&st->reserve_mu);
    return fd >= 0 ? fd : err;
}

static void accepted(ss_server_t *s, worker *w, const ss__listener *l, ss__request *req)
{
    /* A number closed elsewhere may come back: forget what the loop knew. */
    ss__loop_closing(w->loop, req->fd);
    if (l->transport == SS_TCP && s->cfg.tcp_nodelay) {
        int one = 1;
        setsockopt(req->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (l->transport == SS_UNIX) req->peer = l->addr; /* unix clients are mostly unnamed */
    req->local = l->addr;
    if (admit(s, req)) session_start(s, w->loop, req, 0);
}

/* Waits until the listener is readable. Returns 0, or -ECANCELED once the
 * acceptors must stop. The listener and stop_fd were registered before the
 * acceptor started, so no other error can come from the loop; should one
 * come all the same, a pause and a retry keep the listener served (an
 * acceptor that ended would leave it unwatched by this loop for good). */
static int wait_listener(ss_server_t *s, int lfd)
{
    event_state *st = s->mode_state;
    int rc = ss__loop_wait(lfd, POLLIN, 0, st->stop_fd);
    if (rc == 0 || rc == -ECANCELED) return rc;
    ss__log(s, SS_LOG_WARN, "event: waiting for a listener: %s", ss_strerror(rc));
    return pause_ms(s, BACKOFF_MS);
}

/* Returns 0 to go on, or < 0 to stop accepting. */
static int accept_failed(ss_server_t *s, int lfd, int err)
{
    if (err == -EAGAIN) return wait_listener(s, lfd);
    if (err == -EMFILE || err == -ENFILE) shed_one(s, lfd);
    if (err == -ENOBUFS || err == -ENOMEM) return pause_ms(s, BACKOFF_MS);
    /* EINTR, ECONNABORTED, EPROTO, EPERM: that one client (accept(2)). */
    return err == -EBADF || err == -EINVAL || err == -ENOTSOCK ? err : 0;
}

static void stream_acceptor(worker *w, const ss__listener *l)
{
    ss_server_t *s = w->s;
    for (int n = 1; !stopping(s); n++) {
        ss__request req = {.transport = l->transport};
        req.peer.transport = req.local.transport = l->transport;
        req.peer.len = sizeof req.peer.sa;
        req.fd = accept_locked(s, l->fd, &req);
        if (req.fd >= 0) {
            accepted(s, w, l, &req);
            if (n % ACCEPT_BATCH == 0) ss__loop_yield(); /* let the new sessions run */
        } else if (accept_failed(s, l->fd, req.fd) < 0) {
            break;
        }
    }
}

/* ---------------------------------------------------------- datagrams */

typedef struct dgram_batch {
    struct mmsghdr msg[DGRAM_BATCH];
    struct iovec iov[DGRAM_BATCH];
    ss_addr_t peer[DGRAM_BATCH];
    char *buf;
} dgram_batch;

/* How many datagrams one recvmmsg takes: 8 small ones, fewer when
 * max_datagram is large, so a loop's buffer stays near DGRAM_BUFFERS. */
static int batch_count(size_t size)
{
    size_t n = DGRAM_BUFFERS / size;
    return n < 1 ? 1 : n > DGRAM_BATCH ? DGRAM_BATCH : (int)n;
}

static void batch_prepare(dgram_batch *b, size_t size, int count)
{
    for (int i = 0; i < count; i++) {
        b->iov[i] = (struct iovec){.iov_base = b->buf + (size_t)i * size, .iov_len = size};
        b->peer[i].len = sizeof b->peer[i].sa;
        b->msg[i] = (struct mmsghdr){0};
        b->msg[i].msg_hdr.msg_name = &b->peer[i].sa;
        b->msg[i].msg_hdr.msg_namelen = sizeof b->peer[i].sa;
        b->msg[i].msg_hdr.msg_iov = &b->iov[i];
        b->msg[i].msg_hdr.msg_iovlen = 1;
    }
}

/* One received datagram: dropped if larger than max_datagram (never cut,
 * as serve.c), else copied out and handed to a task of its own. */
static void datagram(worker *w, const ss__listener *l, dgram_batch *b, int i)
{
    ss_server_t *s = w->s;
    size_t n = b->msg[i].msg_len;
    ss__request req = {.transport = l->transport, .fd = l->fd, .local = l->addr, .len = n};
    req.peer = b->peer[i];
    req.peer.transport = l->transport;
    req.peer.len = b->msg[i].msg_hdr.msg_namelen;
    if (n > s->cfg.max_datagram || (b->msg[i].msg_hdr.msg_flags & MSG_TRUNC)) {
        char text[SS_ADDRSTRLEN];
        ss_addr_format(&req.peer, text, sizeof text);
        ss__log(s, SS_LOG_WARN, "datagram from %s truncated: more than max_datagram %zu", text,
                s->cfg.max_datagram);
        return;
    }
    if (!admit(s, &req)) return;
    req.packet = b->iov[i].iov_base; /* copied by session_start: b is reused */
    session_start(s, w->loop, &req, 0);
}

/* recvmmsg(2) takes up to DGRAM_BATCH datagrams per system call; MSG_TRUNC
 * makes each length the datagram's real size (udp(7), unix(7)). */
static void dgram_acceptor(worker *w, const ss__listener *l)
{
    ss_server_t *s = w->s;
    size_t size = s->cfg.max_datagram + 1;
    int count = batch_count(size);
    dgram_batch *b = NULL;
    char *buf = NULL;
    while (!stopping(s)) {
        if (!b || !buf) {
            /* Out of memory for the batch: retry after a pause rather than
             * end, which would leave the listener unread by this loop. */
            if (!b) b = malloc(sizeof *b);
            if (!buf) buf = malloc(size * (size_t)count);
            if (!b || !buf) {
                ss__log(s, SS_LOG_WARN, "event: out of memory for a datagram listener; pausing");
                if (pause_ms(s, BACKOFF_MS) < 0) break;
                continue;
            }
        }
        b->buf = buf;
        batch_prepare(b, size, count);
        int n = recvmmsg(l->fd, b->msg, (unsigned)count, MSG_DONTWAIT | MSG_TRUNC, NULL);
        if (n < 0) {
            int err = ss__errno();
            if (err == -EAGAIN && wait_listener(s, l->fd) < 0) break;
            if (err == -EAGAIN || err == -EINTR) continue;
            if (err == -EBADF || err == -ENOTSOCK) break; /* the listener is gone */
            ss__log(s, SS_LOG_WARN, "recvmmsg: %s", ss_strerror(err));
            if (pause_ms(s, BACKOFF_MS) < 0) break;
            continue;
        }
        for (int i = 0; i < n; i++) datagram(w, l, b, i);
        /* A short batch drained the socket: wait for its next edge instead
         * of paying a recvmmsg that says EAGAIN (DESIGN.md, as fill() does
         * for streams). A full one: let the sessions run, then read on. */
        if (n < count) {
            if (wait_listener(s, l->fd) < 0) break;
        } else {
            ss__loop_yield();
        }
    }
    free(buf);
    free(b);
}

static void acceptor_main(void *arg)
{
    acceptor_arg *a = arg;
    worker *w = a->w;
    ss__listener l = w->s->ls[a->li];
    if (ss__is_dgram(l.transport))
        dgram_acceptor(w, &l);
    else
        stream_acceptor(w, &l);
    ss__loop_forget(w->loop, l.fd); /* EPOLL_CTL_DEL: the listener stays open */
    acceptor_end(w);
}

/* ------------------------------------------------------------ workers */

/* Everything an acceptor's waits need is registered before any acceptor
 * runs: the listeners, stop_fd and (for the sessions) the cancel eventfd.
 * A failure here (epoll_ctl's ENOMEM, say) fails the loop's start, which the
 * serving thread retries; once the acceptors run, their waits cannot fail
 * and an acceptor ends only when told to stop. */
static int spawn_acceptors(worker *w)
{
    event_state *st = w->s->mode_state;
    int rc = ss__loop_watch_cancel(w->loop, st->stop_fd);
    if (rc == 0) rc = ss__loop_watch_cancel(w->loop, w->s->cancel_fd);
    for (int i = 0; i < w->s->nls && rc == 0; i++)
        rc = ss__loop_watch(w->loop, w->s->ls[i].fd, SS__POLLER_SHARED);
    if (rc < 0) return ss__fail(rc, "event: epoll_ctl");
    for (int i = 0; i < w->s->nls; i++) {
        acceptor_arg a = {.w = w, .li = i};
        rc = ss__loop_spawn_with(w->loop, acceptor_main, &a, sizeof a);
        if (rc < 0) return rc;
        pthread_mutex_lock(&st->mu);
        w->acceptors++;
        st->acceptors++;
        pthread_mutex_unlock(&st->mu);
    }
    return 0;
}

static void worker_ready(worker *w, int rc)
{
    event_state *st = w->s->mode_state;
    pthread_mutex_lock(&st->mu);
    w->rc = rc;
    w->ready = 1;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

/* A worker's loop ends when its acceptors have stopped and its sessions are
 * done. If the loop fails, its acceptors no longer count. A loop that could
 * not start (w->rc < 0) is reported and retried by the serving thread. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    ss_server_t *s = w->s;
    size_t stack = s->cfg.stack_size ? s->cfg.stack_size : SS__STACK_DEFAULT;
    int rc = ss__loop_create(&w->loop, stack);
    if (rc == 0) {
        ss__loop_buffers(w->loop, s->cfg.buffer_size, BUF_CACHE);
        rc = spawn_acceptors(w);
    }
    worker_ready(w, rc);
    if (rc == 0) {
        rc = ss__loop_run(w->loop);
        if (rc < 0) ss__log(s, SS_LOG_ERROR, "event loop: %s", ss_strerror(rc));
    }
    event_state *st = s->mode_state;
    pthread_mutex_lock(&st->mu);
    st->acceptors -= w->acceptors;
    w->acceptors = 0;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    ss__loop_destroy(w->loop);
    return NULL;
}

/* Loop threads block the asynchronous signals: process signals go to the
 * serving thread, whose handler calls ss_server_shutdown (as thread mode
 * does). Fault signals stay unblocked: the kernel kills a thread that faults
 * with them blocked without running any handler (signal(7)), and the stack
 * overflow report is such a handler. */
static int worker_start(ss_server_t *s, worker *w)
{
    sigset_t all, old;
    sigfillset(&all);
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};
    for (unsigned i = 0; i < sizeof faults / sizeof faults[0]; i++) sigdelset(&all, faults[i]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&w->tid, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return -rc;
}

static int worker_count(const ss_server_t *s)
{
    long n = s->cfg.workers > 0 ? s->cfg.workers : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    return n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

/* Starts loops until st->want run, waiting until each has its acceptors. A
 * loop that cannot start (no memory, no thread, no descriptor, epoll_ctl
 * failing) does not end serving: the loops that run serve meanwhile (with
 * none, clients wait in the listen backlog), and the serving thread tries
 * again BACKOFF_MS later (wait_shutdown), as the common loop pauses after
 * ENOMEM. Returns 0 once every loop runs, else the last error. */
static int workers_start(ss_server_t *s)
{
    event_state *st = s->mode_state;
    int rc = 0;
    while (st->started < st->want) {
        worker *w = calloc(1, sizeof *w);
        if (!w) {
            rc = -ENOMEM;
            break;
        }
        w->s = s;
        rc = worker_start(s, w);
        if (rc < 0) {
            free(w);
            break;
        }
        pthread_mutex_lock(&st->mu);
        while (!w->ready) pthread_cond_wait(&st->cv, &st->mu);
        rc = w->rc;
        if (rc == 0) {
            w->next = st->workers;
            st->workers = w;
        }
        pthread_mutex_unlock(&st->mu);
        if (rc < 0) {
            pthread_join(w->tid, NULL); /* its thread is ending: nothing to wait for */
            free(w);
            break;
        }
        st->started++;
    }
    if (rc == 0) {
        if (st->retry_at) ss__log(s, SS_LOG_INFO, "event: all %d loops running", st->want);
        st->retry_at = 0;
        return 0;
    }
    if (!st->retry_at) /* the first failure of a run of them: log once */
        ss__log(s, SS_LOG_WARN, "event: %d of %d loops running (starting one: %s); retrying",
                st->started, st->want, ss_strerror(rc));
    st->retry_at = ss_now_ms() + BACKOFF_MS;
    return rc;
}

/* Tells every acceptor to stop and waits until they have: after that no loop
 * touches a listener, which ss_server_close may then close. */
static void acceptors_stop(ss_server_t *s)
{
    event_state *st = s->mode_state;
    ss__eventfd_signal(st->stop_fd);
    pthread_mutex_lock(&st->mu);
    while (st->acceptors > 0) pthread_cond_wait(&st->cv, &st->mu);
    pthread_mutex_unlock(&st->mu);
}

/* ------------------------------------------------------------- serving */

static void drain_fd(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof v) > 0) {
    }
}

/* The serving thread waits for shutdown, calling service_actions every
 * service_interval_ms and starting the loops that could not start before;
 * the loops do the serving. */
static int wait_shutdown(ss_server_t *s)
{
    event_state *st = s->mode_state;
    while (!atomic_load(&s->shutdown)) {
        int64_t next = st->retry_at;
        if (s->cfg.service_interval_ms > 0)
            next = ss__min_deadline(next, s->last_actions + s->cfg.service_interval_ms);
        struct pollfd p = {.fd = s->wake_fd, .events = POLLIN};
        int rc = poll(&p, 1, ss__poll_timeout(next));
        if (rc < 0 && errno != EINTR) return ss__fail(ss__errno(), "poll");
        if (rc > 0) drain_fd(s->wake_fd);
        if (atomic_load(&s->shutdown)) break;
        int64_t now = ss_now_ms();
        if (st->retry_at && now >= st->retry_at) workers_start(s);
        if (s->cfg.service_interval_ms > 0 && now >= s->last_actions + s->cfg.service_interval_ms) {
            s->last_actions = now;
            if (s->cfg.service_actions) s->cfg.service_actions(s, s->cfg.hook_ctx);
        }
    }
    return 0;
}

static int event_serve(ss_server_t *s)
{
    event_state *st = s->mode_state;
    if (s->nls == 0) return ss__fail_into(s->errmsg, SS_EUSAGE, "serve: no listener");
    drain_fd(st->stop_fd); /* serve may run again after a shutdown */
    s->last_actions = ss_now_ms();
    st->want = worker_count(s);
    st->started = 0;
    st->retry_at = 0;
    workers_start(s); /* a loop that did not start is retried by wait_shutdown */
    int rc = wait_shutdown(s);
    acceptors_stop(s);
    atomic_store(&s->shutdown, 0); /* serve may be called again (socketserver.py) */
    return rc;
}

/* handle_request runs the common loop (serve.c), which calls process: the
 * handler then runs as a coroutine on a loop of the serving thread, to its
 * end, one request at a time. */
static int event_process(ss_server_t *s, ss__request *req, int owned)
{
    event_state *st = s->mode_state;
    if (!st->local) {
        size_t stack = s->cfg.stack_size ? s->cfg.stack_size : SS__STACK_DEFAULT;
        int rc = ss__loop_create(&st->local, stack);
        if (rc < 0) {
            if (!ss__is_dgram(req->transport)) close(req->fd);
            if (owned) free(req->packet);
            return ss__fail(rc, "event: loop");
        }
        ss__loop_buffers(st->local, s->cfg.buffer_size, BUF_CACHE);
    }
    ss__loop_closing(st->local, req->fd);
    int rc = session_start(s, st->local, req, owned);
    if (rc == 0) rc = ss__loop_run(st->local);
    return rc < 0 ? ss__fail(rc, "event: request") : 0;
}

static int event_drain(ss_server_t *s, int64_t deadline)
{
    event_state *st = s->mode_state;
    return ss__drainer_wait(&st->drainer, &s->active, deadline);
}

/* Every handler has returned by now, and every acceptor has stopped: each
 * loop runs out of tasks and its thread ends. */
static void event_destroy(ss_server_t *s)
{
    event_state *st = s->mode_state;
    if (!st) return;
    acceptors_stop(s);
    while (st->workers) {
        worker *w = st->workers;
        st->workers = w->next;
        pthread_join(w->tid, NULL);
        free(w);
    }
    ss__loop_destroy(st->local);
    close(st->stop_fd);
    ss__drainer_destroy(&st->drainer);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    pthread_mutex_destroy(&st->reserve_mu);
    free(st);
    s->mode_state = NULL;
}

const ss__mode_ops ss__mode_event = {
    .mode = SS_MODE_EVENT,
    .init = event_init,
    .process = event_process,
    .drain = event_drain,
    .destroy = event_destroy,
    .serve = event_serve,
    .wants_packet_copy = 0,
};
