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

extern const ss__mode_ops ss__mode_event; /* until internal.h declares it */

#define MAX_WORKERS   256
#define ACCEPT_BATCH  16           /* accepts in a row before the acceptor yields */
#define DGRAM_BATCH   8            /* datagrams per recvmmsg(2), at most */
#define DGRAM_BUFFERS (256 * 1024) /* receive buffer per datagram listener and loop */
#define BACKOFF_MS    100          /* pause after ENOMEM/ENOBUFS or an EMFILE not shed */

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
    pthread_cond_t cv;          /* a worker started, an acceptor or a session ended */
    int stop_fd;                /* eventfd: acceptors stop (serve is returning) */
    int acceptors;              /* acceptor tasks running, all loops */
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

typedef struct session_arg {
    ss_server_t *s;
    ss__request req;
    int owned;
} session_arg;

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
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&st->mu, NULL);
    pthread_mutex_init(&st->reserve_mu, NULL);
    s->mode_state = st;
    return 0;
}

/* Waits on st->cv (st->mu held) until deadline; 0 = no deadline. Returns
 * ETIMEDOUT once it has passed. */
static int wait_until(event_state *st, int64_t deadline)
{
    if (deadline <= 0) return pthread_cond_wait(&st->cv, &st->mu);
    int64_t left = deadline - ss_now_ms();
    if (left <= 0) return ETIMEDOUT;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (left % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return pthread_cond_timedwait(&st->cv, &st->mu, &ts);
}

/* ----------------------------------------------------------- sessions */

static void session_end(ss_server_t *s)
{
    event_state *st = s->mode_state;
    pthread_mutex_lock(&st->mu);
    atomic_fetch_sub(&s->active, 1);
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

/* One request, as a task: the connection lives on the task's stack, and
 * ss__run_handler (handler.c) runs setup/handle/finish as in every mode. */
static void session_main(void *arg)
{
    session_arg *x = arg;
    ss_server_t *s = x->s;
    ss_conn_t c = {0};
    ss__conn_for_request(s, &c, &x->req);
    ss__loop_set_label(ss_conn_peername(&c));
    ss__run_handler(s, &c);
    ss__conn_release(&c);
    if (!ss__is_dgram(x->req.transport)) {
        ss__loop_closing(ss__loop_current(), x->req.fd);
        close(x->req.fd);
    }
    if (x->owned) free(x->req.packet);
    session_end(s);
}

/* Starts a task for req; on failure the client is dropped (closed). */
static int session_start(ss_server_t *s, ss__loop *l, ss__request *req, int owned)
{
    session_arg x = {.s = s, .req = *req, .owned = owned};
    atomic_fetch_add(&s->active, 1);
    int rc = ss__loop_spawn_with(l, session_main, &x, sizeof x);
    if (rc == 0) return 0;
    session_end(s);
    if (!ss__is_dgram(req->transport)) close(req->fd);
    if (owned) free(req->packet);
    ss__log(s, SS_LOG_WARN, "event: no coroutine for a request: %s", ss_strerror(rc));
    return rc;
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

/* Parks until ms from now, or until the acceptors are told to stop. */
static int pause_ms(ss_server_t *s, int64_t ms)
{
    event_state *st = s->mode_state;
    int rc = ss__loop_wait(-1, 0, ss_now_ms() + ms, st->stop_fd);
    return rc == -ETIMEDOUT ? 0 : rc;
}

/* Out of descriptors: give back the reserve, accept the waiting client and
 * close it at once (refused, not left hanging), take the reserve again
 * (libuv's trick, as serve.c). The reserve is shared by the loops. */
static void shed_one(ss_server_t *s, int lfd)
{
    event_state *st = s->mode_state;
    int fd = -1;
    pthread_mutex_lock(&st->reserve_mu);
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

/* Returns 0 to go on, or < 0 to stop accepting. */
static int accept_failed(ss_server_t *s, int lfd, int err)
{
    event_state *st = s->mode_state;
    if (err == -EAGAIN) return ss__loop_wait(lfd, POLLIN, 0, st->stop_fd);
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
        req.fd = accept4(l->fd, (struct sockaddr *)&req.peer.sa, &req.peer.len,
                         SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (req.fd >= 0) {
            accepted(s, w, l, &req);
            if (n % ACCEPT_BATCH == 0) ss__loop_yield(); /* let the new sessions run */
        } else if (accept_failed(s, l->fd, ss__errno()) < 0) {
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
    req.packet = malloc(n ? n : 1);
    if (!req.packet) {
        ss__log(s, SS_LOG_WARN, "out of memory: dropped a datagram");
        return;
    }
    memcpy(req.packet, b->iov[i].iov_base, n);
    session_start(s, w->loop, &req, 1);
}

/* recvmmsg(2) takes up to DGRAM_BATCH datagrams per system call; MSG_TRUNC
 * makes each length the datagram's real size (udp(7), unix(7)). */
static void dgram_acceptor(worker *w, const ss__listener *l)
{
    ss_server_t *s = w->s;
    event_state *st = s->mode_state;
    size_t size = s->cfg.max_datagram + 1;
    int count = batch_count(size);
    dgram_batch *b = malloc(sizeof *b);
    char *buf = malloc(size * (size_t)count);
    while (b && buf && !stopping(s)) {
        b->buf = buf;
        batch_prepare(b, size, count);
        int n = recvmmsg(l->fd, b->msg, (unsigned)count, MSG_DONTWAIT | MSG_TRUNC, NULL);
        if (n < 0) {
            int err = ss__errno();
            if (err == -EAGAIN && ss__loop_wait(l->fd, POLLIN, 0, st->stop_fd) < 0) break;
            if (err == -EAGAIN || err == -EINTR) continue;
            ss__log(s, SS_LOG_WARN, "recvmmsg: %s", ss_strerror(err));
            if (pause_ms(s, BACKOFF_MS) < 0) break;
            continue;
        }
        for (int i = 0; i < n; i++) datagram(w, l, b, i);
        ss__loop_yield();
    }
    if (!b || !buf) ss__log(s, SS_LOG_ERROR, "event: out of memory for a datagram listener");
    free(buf);
    free(b);
}

static void acceptor_main(void *arg)
{
    acceptor_arg *a = arg;
    worker *w = a->w;
    ss__listener l = w->s->ls[a->li];
    int rc = ss__loop_watch(w->loop, l.fd, SS__POLLER_SHARED);
    if (rc < 0)
        ss__log(w->s, SS_LOG_ERROR, "event: epoll_ctl listener: %s", ss_strerror(rc));
    else if (ss__is_dgram(l.transport))
        dgram_acceptor(w, &l);
    else
        stream_acceptor(w, &l);
    ss__loop_forget(w->loop, l.fd); /* EPOLL_CTL_DEL: the listener stays open */
    acceptor_end(w);
}

/* ------------------------------------------------------------ workers */

static int spawn_acceptors(worker *w)
{
    event_state *st = w->s->mode_state;
    for (int i = 0; i < w->s->nls; i++) {
        acceptor_arg a = {.w = w, .li = i};
        int rc = ss__loop_spawn_with(w->loop, acceptor_main, &a, sizeof a);
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
 * done. If the loop fails, its acceptors no longer count. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    ss_server_t *s = w->s;
    size_t stack = s->cfg.stack_size ? s->cfg.stack_size : SS__STACK_DEFAULT;
    int rc = ss__loop_create(&w->loop, stack);
    if (rc == 0) rc = spawn_acceptors(w);
    worker_ready(w, rc);
    if (rc == 0) rc = ss__loop_run(w->loop);
    if (rc < 0) ss__log(s, SS_LOG_ERROR, "event loop: %s", ss_strerror(rc));
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

/* Starts the loops and waits until each has its acceptors. */
static int workers_start(ss_server_t *s)
{
    event_state *st = s->mode_state;
    int n = worker_count(s), started = 0, rc = 0;
    for (; started < n && rc == 0; started++) {
        worker *w = calloc(1, sizeof *w);
        if (!w) return ss__fail(-ENOMEM, "event: workers");
        w->s = s;
        rc = worker_start(s, w);
        if (rc < 0) {
            free(w);
            break;
        }
        pthread_mutex_lock(&st->mu);
        w->next = st->workers;
        st->workers = w;
        while (!w->ready) pthread_cond_wait(&st->cv, &st->mu);
        rc = w->rc;
        pthread_mutex_unlock(&st->mu);
    }
    return rc < 0 ? ss__fail(rc, "event: starting %d loops", n) : 0;
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

/* The serving thread waits for shutdown, calling service_actions at least
 * every service_interval_ms; the loops do the serving. */
static int wait_shutdown(ss_server_t *s)
{
    while (!atomic_load(&s->shutdown)) {
        int64_t next = 0;
        if (s->cfg.service_interval_ms > 0) next = s->last_actions + s->cfg.service_interval_ms;
        struct pollfd p = {.fd = s->wake_fd, .events = POLLIN};
        int rc = poll(&p, 1, ss__poll_timeout(next));
        if (rc < 0 && errno != EINTR) return ss__fail(ss__errno(), "poll");
        if (rc > 0) drain_fd(s->wake_fd);
        if (atomic_load(&s->shutdown)) break;
        s->last_actions = ss_now_ms();
        if (s->cfg.service_actions) s->cfg.service_actions(s, s->cfg.hook_ctx);
    }
    return 0;
}

static int event_serve(ss_server_t *s)
{
    event_state *st = s->mode_state;
    if (s->nls == 0) return ss__fail_into(s->errmsg, SS_EUSAGE, "serve: no listener");
    drain_fd(st->stop_fd); /* serve may run again after a shutdown */
    s->last_actions = ss_now_ms();
    int rc = workers_start(s);
    if (rc == 0) rc = wait_shutdown(s);
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
    }
    ss__loop_closing(st->local, req->fd);
    int rc = session_start(s, st->local, req, owned);
    if (rc == 0) rc = ss__loop_run(st->local);
    return rc < 0 ? ss__fail(rc, "event: request") : 0;
}

static int event_drain(ss_server_t *s, int64_t deadline)
{
    event_state *st = s->mode_state;
    pthread_mutex_lock(&st->mu);
    while (atomic_load(&s->active) > 0)
        if (wait_until(st, deadline) == ETIMEDOUT) break;
    pthread_mutex_unlock(&st->mu);
    return atomic_load(&s->active);
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
