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
 * the reuseport group member of a loop that is going away.
 * With reuse_port, though, each loop but the first has a sibling of each
 * TCP listener (ss__listener_sibling: its own SO_REUSEPORT socket), so the
 * kernel spreads the clients and no accept queue is shared; the first loop
 * accepts on the server's own socket. A loop that cannot have one (a unix
 * or datagram listener, or a bind that fails) watches the shared one. */
#include "event/loop.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS  256
#define INLINE_DGRAM 1024 /* datagrams up to this size travel on their task's stack */
#define BUF_CACHE    64   /* connection buffers a loop keeps for reuse */

typedef struct worker {
    ss_server_t *s;
    pthread_t tid;
    ss__loop *loop;
    int index;     /* its place among the loops: names the thread, picks its CPU */
    int acceptors; /* its acceptor tasks still running; under event_state.mu */
    int *own;      /* per listener: its sibling socket (reuse_port), or -1 */
    int nown;
    int ready, rc;
    struct worker *next;
} worker;

typedef struct event_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;         /* a worker started, or an acceptor ended */
    int stop_fd;               /* eventfd: acceptors stop (serve is returning) */
    int acceptors;             /* acceptor tasks running, all loops */
    atomic_int sibling_warned; /* a loop could not have its own listener */
    int want, started;         /* loops this serve should run, and runs */
    ss__drainer drainer;       /* event_drain waits for the sessions to end */
    int64_t retry_at;          /* serving thread: when to start the missing loops */
    worker *workers;           /* every worker ever started; joined by destroy */
    ss__loop *local;           /* handle_request's loop, in the serving thread */
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
 * rather than two (docs/design.md: an idle connection is the stack pages its
 * task has touched; this keeps the echo service's within one page). */
typedef struct session {
    ss_conn_t c;
    char *packet; /* a datagram too large to travel inline: freed at the end */
} session;

/* ------------------------------------------------------------- state */

/* The poller the loops will use, tried once here so that a server asked for
 * io_uring where it cannot have it fails at create, naming why, rather than
 * in each loop. The choice is logged at debug (auto's fallback included). */
static int check_poller(ss_server_t *s)
{
    if ((unsigned)s->cfg.poller > SS_POLLER_IO_URING)
        return ss__fail(-EINVAL, "event mode: poller");
    ss__poller *p;
    int rc = ss__poller_create(&p, 1, s->cfg.poller);
    if (rc == SS_EMODE) return ss__fail(rc, "event mode: built without io_uring (liburing)");
    if (rc < 0) return ss__fail(rc, "event mode: io_uring");
    int want = ss__poller_resolve(s->cfg.poller);
    const char *got = ss__poller_name(p);
    ss__poller_destroy(p);
    if (want == SS_POLLER_IO_URING && got[0] == 'e')
        ss__log(s, SS_LOG_DEBUG, "event mode: epoll (the kernel refuses io_uring)");
    else
        ss__log(s, SS_LOG_DEBUG, "event mode: %s%s", got,
                s->cfg.poller == SS_POLLER_AUTO ? " (auto)" : "");
    return 0;
}

static int event_init(ss_server_t *s)
{
    int prc = check_poller(s);
    if (prc < 0) return prc;
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
    ss__admit_release(&c->ticket);
    if (!(c->flags & SS__C_DGRAM)) {
        ss__loop_closing(ss__loop_current(), c->fd);
        close(c->fd);
    }
    free(x->packet);
    session_end(s);
}

/* Starts a task for req (the packet of a datagram is copied, or taken when
 * owned); on failure the client is dropped (closed). */
static int session_start(ss_server_t *s, ss__loop *l, ss__request *req)
{
    char *own = (req->flags & SS__REQ_PACKET_OWNED) ? req->packet : NULL;
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
        ss__admit_release(&req->ticket);
        if (!ss__is_dgram(req->transport)) close(req->fd);
        free(own);
        ss__log(s, SS_LOG_WARN, "event: no coroutine for a request: %s", ss_strerror(rc));
        return rc;
    }
    ss__request r = *req;
    r.flags &= ~SS__REQ_PACKET_OWNED; /* the session frees own (x->packet) */
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
    return pause_ms(s, SS__BACKOFF_MS);
}

/* What an acceptor does after the intake's answer other than a request:
 * returns 0 to go on, or < 0 to stop accepting. */
static int intake_wait(ss_server_t *s, int lfd, int rc)
{
    if (rc == SS__INTAKE_EMPTY) return wait_listener(s, lfd);
    if (rc == SS__INTAKE_PAUSE) return pause_ms(s, SS__BACKOFF_MS);
    return rc; /* the listener failed: EBADF once closed */
}

/* Takes clients in through the intake, each admitted one into a session
 * task of its own; yields after SS__ACCEPT_BATCH in a row so that the new
 * sessions run. */
static void stream_acceptor(worker *w, const ss__listener *l)
{
    ss_server_t *s = w->s;
    for (int n = 1; !stopping(s); n++) {
        ss__request req;
        int rc = ss__intake_accept(s, l, &req);
        if (rc == 1) {
            /* A number closed elsewhere may come back: forget what the loop
             * knew of it. */
            ss__loop_closing(w->loop, req.fd);
            session_start(s, w->loop, &req);
        }
        if (rc >= 0) {
            if (n % SS__ACCEPT_BATCH == 0) ss__loop_yield();
        } else if (intake_wait(s, l->fd, rc) < 0) {
            break;
        }
    }
}

/* ---------------------------------------------------------- datagrams */

/* Datagrams come in batches (ss__intake_recv: one recvmmsg); each admitted
 * one gets a task of its own, its packet copied onto the task's stack. */
static void dgram_acceptor(worker *w, const ss__listener *l)
{
    ss_server_t *s = w->s;
    ss__dgram_batch *b = NULL;
    while (!stopping(s)) {
        if (!b) {
            /* Out of memory for the batch: retry after a pause rather than
             * end, which would leave the listener unread by this loop. */
            b = malloc(sizeof *b);
            if (!b || ss__dgram_batch_init(s, b) < 0) {
                free(b);
                b = NULL;
                ss__log(s, SS_LOG_WARN, "event: out of memory for a datagram listener; pausing");
                if (pause_ms(s, SS__BACKOFF_MS) < 0) break;
                continue;
            }
        }
        int n = ss__intake_recv(s, l, b, SS__DGRAM_BATCH);
        if (n < 0) {
            if (intake_wait(s, l->fd, n) < 0) break;
            continue;
        }
        for (int i = 0; i < n; i++) {
            ss__request req;
            if (ss__intake_datagram(s, l, b, i, &req)) session_start(s, w->loop, &req);
        }
        /* A short batch drained the socket: wait for its next edge instead
         * of paying a recvmmsg that says EAGAIN (docs/design.md, as fill() does
         * for streams). A full one: let the sessions run, then read on. */
        if (n < b->count) {
            if (wait_listener(s, l->fd) < 0) break;
        } else {
            ss__loop_yield();
        }
    }
    ss__dgram_batch_free(b);
    free(b);
}

static void acceptor_main(void *arg)
{
    acceptor_arg *a = arg;
    worker *w = a->w;
    ss__listener l = w->s->ls[a->li];
    if (w->own[a->li] >= 0) l.fd = w->own[a->li];
    if (ss__is_dgram(l.transport))
        dgram_acceptor(w, &l);
    else
        stream_acceptor(w, &l);
    ss__loop_forget(w->loop, l.fd); /* EPOLL_CTL_DEL: the listener stays open */
    if (w->own[a->li] >= 0) {
        /* Its own socket closes with it, as the shared one closes when
         * serving ends: a new client is refused, not queued for nobody. */
        close(w->own[a->li]);
        w->own[a->li] = -1;
    }
    acceptor_end(w);
}

/* ------------------------------------------------------------ workers */

/* Everything an acceptor's waits need is registered before any acceptor
 * runs: the listeners, stop_fd and (for the sessions) the cancel eventfd.
 * A failure here (epoll_ctl's ENOMEM, say) fails the loop's start, which the
 * serving thread retries; once the acceptors run, their waits cannot fail
 * and an acceptor ends only when told to stop. */
/* The sockets loop w accepts on: with reuse_port, siblings of its own for
 * every loop but the first (which takes the server's), else the shared
 * ones. A sibling that cannot be made is not fatal: the loop then shares
 * the server's socket (EPOLLEXCLUSIVE), with one warning. */
static int own_listeners(worker *w)
{
    ss_server_t *s = w->s;
    event_state *st = s->mode_state;
    w->own = malloc((size_t)(s->nls ? s->nls : 1) * sizeof *w->own);
    if (!w->own) return -ENOMEM;
    w->nown = s->nls;
    for (int i = 0; i < s->nls; i++) {
        int fd = w->index > 0 ? ss__listener_sibling(s, i) : -EOPNOTSUPP;
        w->own[i] = fd >= 0 ? fd : -1;
        if (fd < 0 && fd != -EOPNOTSUPP && !atomic_exchange(&st->sibling_warned, 1))
            ss__log(s, SS_LOG_WARN, "event: reuse_port: loops share the listener (loop %d): %s",
                    w->index, ss_errmsg());
    }
    return 0;
}

static void own_close(worker *w)
{
    for (int i = 0; i < w->nown; i++)
        if (w->own[i] >= 0) close(w->own[i]);
    free(w->own);
    w->own = NULL;
    w->nown = 0;
}

static int spawn_acceptors(worker *w)
{
    event_state *st = w->s->mode_state;
    int rc = ss__loop_watch_cancel(w->loop, st->stop_fd);
    if (rc == 0) rc = ss__loop_watch_cancel(w->loop, w->s->cancel_fd);
    if (rc == 0) rc = own_listeners(w);
    for (int i = 0; i < w->s->nls && rc == 0; i++)
        rc =
            ss__loop_watch(w->loop, w->own[i] >= 0 ? w->own[i] : w->s->ls[i].fd, SS__POLLER_SHARED);
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

/* "ss-loop-3": top -H, perf and /proc/PID/task/TID/comm tell the loops
 * apart (pthread_setname_np(3): at most 15 bytes). */
static void name_thread(int index)
{
    char name[16];
    snprintf(name, sizeof name, "ss-loop-%d", index);
    pthread_setname_np(pthread_self(), name);
}

/* A worker's loop ends when its acceptors have stopped and its sessions are
 * done. If the loop fails, its acceptors no longer count. A loop that could
 * not start (w->rc < 0) is reported and retried by the serving thread. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    ss_server_t *s = w->s;
    name_thread(w->index);
    ss__pin(s, w->index, "event: loop"); /* first: the loop's memory is then the CPU's node's */
    size_t stack = s->cfg.stack_size ? s->cfg.stack_size : SS__STACK_DEFAULT;
    int rc = ss__loop_create_on(&w->loop, stack, s->cfg.poller);
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
    own_close(w); /* those of acceptors that never ran, or a failed start's */
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

/* One loop per CPU the process may use (cpus.c): a loop never blocks, so
 * one per CPU keeps them all busy, and more would only take turns on the
 * same CPUs, paying a context switch for each. */
static int worker_count(ss_server_t *s)
{
    return ss__scaled(s, "event", "loop", 1, 1, MAX_WORKERS);
}

/* Starts loops until st->want run, waiting until each has its acceptors. A
 * loop that cannot start (no memory, no thread, no descriptor, epoll_ctl
 * failing) does not end serving: the loops that run serve meanwhile (with
 * none, clients wait in the listen backlog), and the serving thread tries
 * again SS__BACKOFF_MS later (wait_shutdown), as the poll loop pauses after
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
        w->index = st->started;
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
    st->retry_at = ss_now_ms() + SS__BACKOFF_MS;
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

/* The serving thread waits for shutdown, runs service_actions when the
 * loops have taken requests in (the intake wakes it through notify_fd) or
 * service_interval_ms has passed, and starts the loops that could not start
 * before; the loops do the serving. */
static int wait_shutdown(ss_server_t *s)
{
    event_state *st = s->mode_state;
    while (!atomic_load(&s->shutdown)) {
        struct pollfd p = {.fd = s->wake_fd, .events = POLLIN};
        int rc = poll(&p, 1, ss__poll_timeout(ss__actions_deadline(s, st->retry_at)));
        if (rc < 0 && errno != EINTR) return ss__fail(ss__errno(), "poll");
        if (rc > 0) ss__eventfd_drain(s->wake_fd);
        if (atomic_load(&s->shutdown)) break;
        if (st->retry_at && ss_now_ms() >= st->retry_at) workers_start(s);
        ss__actions_run(s);
    }
    return 0;
}

static int event_serve(ss_server_t *s)
{
    event_state *st = s->mode_state;
    ss__eventfd_drain(st->stop_fd); /* serve may run again after a shutdown */
    st->want = worker_count(s);
    st->started = 0;
    st->retry_at = 0;
    if (st->want > 1) ss__intake_shared(s);
    s->notify_fd = s->wake_fd;
    workers_start(s); /* a loop that did not start is retried by wait_shutdown */
    int rc = wait_shutdown(s);
    acceptors_stop(s);
    s->notify_fd = -1;
    return rc;
}

/* handle_request runs the poll loop (poll_loop.c), which calls process: the
 * handler then runs as a coroutine on a loop of the serving thread, to its
 * end, one request at a time. */
static int event_process(ss_server_t *s, ss__request *req)
{
    event_state *st = s->mode_state;
    if (!st->local) {
        size_t stack = s->cfg.stack_size ? s->cfg.stack_size : SS__STACK_DEFAULT;
        int rc = ss__loop_create_on(&st->local, stack, s->cfg.poller);
        if (rc < 0) {
            ss__request_drop(req);
            return ss__fail(rc, "event: loop");
        }
        ss__loop_buffers(st->local, s->cfg.buffer_size, BUF_CACHE);
    }
    ss__loop_closing(st->local, req->fd);
    int rc = session_start(s, st->local, req);
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
};
