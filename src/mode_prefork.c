/* mode_prefork.c - a supervising parent and N long-lived worker processes
 * (Apache's prefork, nginx's master/worker). Each worker accepts on the
 * listeners it inherited and runs what it accepts to the end, one request at
 * a time; the parent only forks, reaps and replaces workers, and runs
 * service_actions. They share a pipe, the cancel eventfd and a shared page.
 *
 * Thundering herd: each worker has an epoll instance of its own with every
 * listener registered EPOLLEXCLUSIVE (epoll_ctl(2), Linux 4.5), so a new
 * client wakes one waiting worker, not all; a busy worker is not waiting and
 * is passed over. Not an accept lock (a lock round trip per accept, and a
 * worker that dies holding it), nor SO_REUSEPORT (a listener per worker: the
 * kernel hashes a client to a worker even while it is busy, and the
 * connections queued on a worker's listener are reset when it exits) unless
 * reuse_port asks for it: then each worker but slot 0's makes a sibling of
 * each TCP listener (own_listeners), accepts on it alone, and the kernel
 * spreads the clients; slot 0's worker accepts on the server's own socket,
 * which the parent holds, so that one is never left unserved.
 *
 * The life pipe: the parent keeps its write end, every worker polls its read
 * end, which reads end-of-file once no write end is left (pipe(7)): when the
 * parent closes it to retire the workers (shutdown), and when the parent
 * dies, even by SIGKILL, since the kernel closes a dead process's
 * descriptors. PR_SET_PDEATHSIG alone would fire when the *thread* that
 * forked exits, and misses a parent that died before the worker called it
 * (prctl(2)); it is only the backup, for a worker already retiring when its
 * parent dies. A worker that retires stops accepting at once (it closes its
 * copies of the stream listeners), finishes its request and exits; the
 * parent cancels it after drain_timeout_ms (the cancel eventfd is shared
 * across fork) and kills it after the grace; a worker whose parent is gone
 * cancels itself after drain_timeout_ms.
 *
 * Where hooks run: verify_request and handle_error in the worker that has
 * the client; service_actions in the parent's serving thread. Workers run
 * only what they accept, so ss_server_handle_request fails with SS_EMODE.
 * In a worker, SIGTERM and SIGINT (and ss_server_shutdown on its copy of the
 * server) retire that worker; the parent installs no signal handler. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define QUICK_DEATH_MS 1000 /* a worker that dies younger than this is failing */
#define RESPAWN_MIN_MS 100  /* the first back-off; it doubles per quick death */
#define RESPAWN_MAX_MS 5000
#define SWEEP_MS       100              /* how often workers without a pidfd are checked */
#define TAG_LIFE       UINT32_MAX       /* epoll data of the life pipe, */
#define TAG_WAKE       (UINT32_MAX - 1) /* of the wake eventfd; a listener's is its index */

/* Counters in shared memory must work across processes: only lock-free
 * atomics are address-free (C11 7.17.5). */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "prefork needs lock-free atomic_int");

typedef struct proc {
    ss__child k; /* pid and pidfd (swept every SWEEP_MS without one) */
    int slot;    /* its place in the serving generation; -1 once retired */
    int cell;    /* its request counter in shared memory */
    int64_t born;
} proc;

typedef struct slot {
    int64_t due;  /* when to fork its worker; 0 while one runs */
    int failures; /* quick deaths in a row */
} slot;

/* A worker process's own state (in the parent: none). */
typedef struct worker {
    int cell;
    int ep;      /* epoll: listeners (EPOLLEXCLUSIVE), life pipe, wake eventfd */
    int life_fd; /* read end of the life pipe, watched until retired */
    pid_t parent;
    int retired;
    int64_t orphan_deadline; /* the parent is gone: cancel the request then */
    int claiming;            /* its cell is set for a request being taken in */
    ss_conn_t conn;          /* reused from request to request */
} worker;

/* Requests are counted in shared memory, one cell per worker process, and
 * ss_server_active sums the cells. A cell is one word that the parent
 * zeroes when it reaps its worker, so a worker killed in a request leaks no
 * count. */
typedef struct prefork_state {
    int nworkers, ncells;
    slot *slots;          /* nworkers */
    ss__children procs;   /* live workers (serving or retired), one per taken cell */
    unsigned char *taken; /* ncells: a live worker has the cell */
    atomic_int *cells;    /* ncells request counters, MAP_SHARED */
    int life[2];          /* the serving generation's life pipe; -1 between */
    pid_t parent;         /* the process that forks the workers */
    struct pollfd *pfd;   /* the parent's: wake eventfd and pidfds */
    worker *self;         /* in a worker process: its state */
} prefork_state;

static void state_free(prefork_state *st)
{
    if (st->cells) munmap(st->cells, (size_t)st->ncells * sizeof *st->cells);
    free(st->slots);
    ss__children_free(&st->procs);
    free(st->taken);
    free(st->pfd);
    free(st);
}

static int prefork_init(ss_server_t *s)
{
    int n = ss__workers(s, "prefork");
    if (n < 0) return n;
    prefork_state *st = calloc(1, sizeof *st);
    if (!st) return ss__fail(-ENOMEM, "prefork mode");
    st->nworkers = n;
    st->ncells = 2 * n; /* room for a generation that drains while the next serves */
    st->life[0] = st->life[1] = -1;
    st->slots = calloc((size_t)n, sizeof *st->slots);
    st->taken = calloc((size_t)st->ncells, 1);
    st->pfd = calloc((size_t)st->ncells + 1, sizeof *st->pfd);
    void *m = mmap(NULL, (size_t)st->ncells * sizeof *st->cells, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    st->cells = m == MAP_FAILED ? NULL : m;
    int rc = ss__children_init(&st->procs, sizeof(proc), SWEEP_MS, st->ncells);
    if (rc < 0 || !st->slots || !st->taken || !st->pfd || !st->cells) {
        state_free(st);
        return ss__fail(-ENOMEM, "prefork mode");
    }
    s->mode_state = st;
    return 0;
}

/* In a worker taking a client in (take_one), the intake's max_connections
 * check comes here once the client is accepted: the worker claims its cell
 * first, then counts every other worker's. So two workers that accept at
 * the same moment for the last place see each other's claim and both refuse
 * rather than both serve, and a worker woken for a client another took
 * (its accept says EAGAIN) never gets this far, so claims nothing. */
static int prefork_active(const ss_server_t *s)
{
    const prefork_state *st = s->mode_state;
    worker *w = st->self;
    if (w && w->claiming) atomic_store(&st->cells[w->cell], 1);
    int n = 0;
    for (int i = 0; i < st->ncells; i++) n += atomic_load(&st->cells[i]);
    return w && w->claiming ? n - 1 : n;
}

/* =========================================================== the worker */

static ss_server_t *worker_server; /* the worker's copy, for its signal handler */

/* What ss_server_shutdown does, on the worker's copy of the server (the
 * mode does not call back up into server.c): a flag and an eventfd write,
 * both async-signal-safe. */
static void on_stop_signal(int sig)
{
    (void)sig;
    atomic_store(&worker_server->shutdown, 1);
    ss__eventfd_signal(worker_server->wake_fd);
}

/* SIGTERM and SIGINT (a terminal's ^C reaches the whole process group)
 * retire the worker: the host's handlers for them would act on a copy of
 * the parent's state. Unblocked in case the forking thread blocked them
 * (for a signalfd, say). */
static void worker_signals(ss_server_t *s)
{
    worker_server = s;
    struct sigaction sa = {.sa_handler = on_stop_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Stops accepting at once: closes this worker's copies of the stream
 * listeners (a socket shared by processes closes with its last copy) and its
 * epoll instance, whose registrations would otherwise outlive those
 * descriptors (epoll(7), questions 6). Datagram listeners stay open: the
 * request running may reply from one. */
static void worker_retire(ss_server_t *s, worker *w)
{
    if (!w->retired) {
        w->retired = 1;
        ss__close_listeners(s);
        close(w->ep);
        w->ep = -1;
    }
    if (!w->orphan_deadline && getppid() != w->parent)
        w->orphan_deadline = ss_now_ms() + s->cfg.drain_timeout_ms;
}

/* The wait seam in a worker: as ss__poll_wait, also watching the life pipe
 * and the wake eventfd, so that a retiring worker stops accepting while its
 * request runs on; and, once the parent is gone, cancelling the request at
 * the worker's own drain deadline. */
static int worker_wait(void *self, int fd, int events, int64_t deadline, int cancel_fd)
{
    worker *w = self;
    ss_server_t *s = worker_server;
    if (fd < 0 && deadline <= 0 && cancel_fd < 0) return 0;
    for (;;) {
        struct pollfd p[4];
        int n = 0, ic = -1, il = -1;
        if (fd >= 0) p[n++] = (struct pollfd){.fd = fd, .events = (short)events};
        if (cancel_fd >= 0) p[ic = n++] = (struct pollfd){.fd = cancel_fd, .events = POLLIN};
        int iw = n++;
        p[iw] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};
        if (!w->retired) p[il = n++] = (struct pollfd){.fd = w->life_fd, .events = POLLIN};
        int rc =
            poll(p, (nfds_t)n, ss__poll_timeout(ss__min_deadline(deadline, w->orphan_deadline)));
        if (rc < 0 && errno != EINTR) return ss__errno();
        if (rc > 0 && ic >= 0 && p[ic].revents) return -ECANCELED;
        if (rc > 0 && (p[iw].revents || (il >= 0 && p[il].revents))) {
            ss__eventfd_drain(s->wake_fd);
            worker_retire(s, w);
        }
        if (rc > 0 && fd >= 0 && p[0].revents) return 0;
        int64_t now = ss_now_ms();
        if (w->orphan_deadline && now >= w->orphan_deadline) return -ECANCELED;
        if (deadline > 0 && now >= deadline) return -ETIMEDOUT;
    }
}

static int watch(int ep, int fd, uint32_t events, uint32_t tag)
{
    struct epoll_event ev = {.events = events, .data.u32 = tag};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int worker_epoll(ss_server_t *s, worker *w)
{
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    if (w->ep < 0) return ss__fail(ss__errno(), "prefork worker: epoll_create1");
    int rc = watch(w->ep, w->life_fd, EPOLLIN, TAG_LIFE);
    if (rc == 0) rc = watch(w->ep, s->wake_fd, EPOLLIN, TAG_WAKE);
    for (int i = 0; i < s->nls && rc == 0; i++) {
        if (s->ls[i].fd < 0) continue;
        rc = watch(w->ep, s->ls[i].fd, EPOLLIN | EPOLLEXCLUSIVE, (uint32_t)i);
        /* EINVAL before Linux 4.5: every worker wakes (the herd), but works. */
        if (rc < 0 && errno == EINVAL) rc = watch(w->ep, s->ls[i].fd, EPOLLIN, (uint32_t)i);
    }
    return rc < 0 ? ss__fail(ss__errno(), "prefork worker: epoll_ctl") : 0;
}

/* Drops what is the parent's: the life pipe's write end (or the worker
 * would keep its own pipe open), its siblings' pidfds, and the wake eventfd,
 * replaced by one of the worker's own so that ss_server_shutdown in the
 * worker retires the worker and never wakes the parent. */
static int worker_fds(ss_server_t *s, prefork_state *st, worker *w)
{
    close(st->life[1]);
    w->life_fd = st->life[0];
    ss__children_abandon(&st->procs);
    /* The parent's wake eventfd stays open as notify_fd: the intake tells
     * the parent through it that service_actions is due. */
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd < 0) return ss__fail(ss__errno(), "prefork worker: eventfd");
    return worker_epoll(s, w);
}

/* After EMFILE or ENOMEM (the intake's pause) the listeners stay readable,
 * so the pause is waited out on the life pipe and the wake eventfd alone. */
static void worker_pause(ss_server_t *s, worker *w)
{
    struct pollfd p[2] = {{.fd = w->life_fd, .events = POLLIN},
                          {.fd = s->wake_fd, .events = POLLIN}};
    if (poll(p, 2, ss__poll_timeout(s->backoff_until)) > 0) worker_retire(s, w);
    if (ss_now_ms() >= s->backoff_until) s->backoff_until = 0;
}

/* One request from listener i, counted in the worker's cell from the
 * intake's check (prefork_active) to its end (prefork_process). */
static void take_one(ss_server_t *s, worker *w, int i)
{
    prefork_state *st = s->mode_state;
    w->claiming = 1;
    ss__take(s, i, 1);
    w->claiming = 0;
    atomic_store(&st->cells[w->cell], 0);
}

/* One wait and what it brings. A listener is taken one request at a time,
 * so the life pipe is looked at again before the next accept. */
static void worker_turn(ss_server_t *s, worker *w)
{
    if (atomic_load(&s->shutdown)) {
        worker_retire(s, w);
        return;
    }
    if (s->backoff_until) {
        worker_pause(s, w);
        return;
    }
    struct epoll_event ev[8];
    int n = epoll_wait(w->ep, ev, 8, -1);
    if (n < 0 && errno != EINTR) {
        ss__log(s, SS_LOG_ERROR, "prefork worker: epoll_wait: %s", ss_strerror(ss__errno()));
        worker_retire(s, w);
    }
    for (int k = 0; k < n && !w->retired; k++) {
        uint32_t tag = ev[k].data.u32;
        if (tag == TAG_LIFE || tag == TAG_WAKE)
            worker_retire(s, w);
        else
            take_one(s, w, (int)tag);
    }
}

/* With reuse_port, a worker of slot 1 and up swaps its copy of each TCP
 * listener for a sibling of its own (ss__listener_sibling), closed when it
 * retires (ss__close_listeners). One that cannot be made leaves the worker on
 * the shared socket; slot 1 says why (the others fail alike: a process that
 * dropped privileges cannot join its group). */
static void own_listeners(ss_server_t *s, int slot_i)
{
    for (int i = 0; i < s->nls && slot_i > 0; i++) {
        int fd = ss__listener_sibling(s, i);
        if (fd >= 0) {
            close(s->ls[i].fd);
            s->ls[i].fd = fd;
        } else if (fd != -EOPNOTSUPP && slot_i == 1) {
            ss__log(s, SS_LOG_WARN, "prefork: reuse_port: workers share the listener: %s",
                    ss_errmsg());
        }
    }
}

/* The worker process: never returns. Its own wake eventfd comes before its
 * signal handlers, which write to it; a shutdown flag set before either (a
 * signal to the parent as it forked, or the host's handler run early) is
 * seen at the first turn. _exit skips the host's atexit handlers (the
 * parent's to run); stdio is flushed first for the handler's output. */
static _Noreturn void worker_main(ss_server_t *s, int slot_i, int cell)
{
    prefork_state *st = s->mode_state;
    /* Its counts against sources are leased: the parent reaps it. */
    ss__admit_in_child();
    ss__pin(s, slot_i, "prefork: worker"); /* the slot's CPU, the same after a respawn */
    worker w = {.cell = cell, .ep = -1, .parent = st->parent};
    st->self = &w;
    own_listeners(s, slot_i);
    if (worker_fds(s, st, &w) < 0) {
        ss__log(s, SS_LOG_ERROR, "%s", ss_errmsg());
        fflush(NULL);
        _exit(1);
    }
    worker_signals(s);
    ss__waiter waiter = {.wait = worker_wait, .self = &w};
    ss__ctx_get()->waiter = &waiter;
    while (!w.retired) worker_turn(s, &w);
    ss__alog_flush(s->alog); /* its access log lines still buffered */
    fflush(NULL);
    _exit(0);
}

/* In a worker: runs the request here, to its end. The worker's cell counts
 * it from the intake's max_connections check (prefork_active) to its end, so
 * that the check sees every worker's claim. */
static int prefork_process(ss_server_t *s, ss__request *req)
{
    prefork_state *st = s->mode_state;
    worker *w = st->self;
    w->claiming = 0; /* admitted: its cell counts it from now on */
    ss_conn_t *c = &w->conn;
    ss__conn_for_request(s, c, req);
    ss__run_handler(s, c);
    ss__request_done(c, req, 1);
    atomic_store(&st->cells[w->cell], 0);
    return 0;
}

/* =========================================================== the parent */

/* The first quick death is replaced at once; each further one in a row waits
 * twice as long, from RESPAWN_MIN_MS up to RESPAWN_MAX_MS. */
static int64_t respawn_delay(int failures)
{
    int64_t d = failures <= 1 ? 0 : RESPAWN_MIN_MS;
    for (int i = 2; i < failures && d < RESPAWN_MAX_MS; i++) d *= 2;
    return d < RESPAWN_MAX_MS ? d : RESPAWN_MAX_MS;
}

static int free_cell(const prefork_state *st)
{
    for (int c = 0; c < st->ncells; c++)
        if (!st->taken[c]) return c;
    return -1;
}

static int spawn(ss_server_t *s, int slot_i)
{
    prefork_state *st = s->mode_state;
    int cell = free_cell(st);
    if (cell < 0) return -EAGAIN; /* two generations still drain */
    fflush(NULL);                 /* or the worker's exit would repeat buffered output */
    pid_t pid = fork();
    if (pid == 0) worker_main(s, slot_i, cell);
    if (pid < 0) return ss__errno();
    proc *p = ss__children_add(&st->procs, pid);
    if (!p) { /* cannot happen: the set has room for every cell */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -ENOMEM;
    }
    p->slot = slot_i;
    p->cell = cell;
    p->born = ss_now_ms();
    st->taken[cell] = 1;
    st->slots[slot_i].due = 0;
    return 0;
}

/* Forks the workers due. When fork fails (EAGAIN: RLIMIT_NPROC, memory)
 * every worker due waits, with one log line, rather than one per worker. */
static void spawn_due(ss_server_t *s)
{
    prefork_state *st = s->mode_state;
    int64_t now = ss_now_ms(), later = 0;
    int rc = 0;
    for (int i = 0; i < st->nworkers; i++) {
        slot *sl = &st->slots[i];
        if (sl->due == 0 || sl->due > now) continue;
        if (rc == 0) rc = spawn(s, i);
        if (rc == 0) continue;
        sl->failures++;
        int64_t d = respawn_delay(sl->failures);
        sl->due = now + (d > RESPAWN_MIN_MS ? d : RESPAWN_MIN_MS);
        later = sl->due - now;
    }
    if (rc < 0)
        ss__log(s, SS_LOG_ERROR, "prefork: fork: %s; retrying in %lld ms", ss_strerror(rc),
                (long long)later);
}

static int64_t next_due(const prefork_state *st)
{
    int64_t d = 0;
    for (int i = 0; i < st->nworkers; i++) d = ss__min_deadline(d, st->slots[i].due);
    return d;
}

/* A serving worker ended: its slot gets a new one, at once or, if workers
 * keep dying young, after a back-off. A retired worker is not replaced. */
static void schedule_respawn(ss_server_t *s, const proc *p)
{
    prefork_state *st = s->mode_state;
    if (p->slot < 0) return;
    slot *sl = &st->slots[p->slot];
    int64_t now = ss_now_ms();
    sl->failures = now - p->born < QUICK_DEATH_MS ? sl->failures + 1 : 0;
    int64_t d = respawn_delay(sl->failures);
    sl->due = now + d;
    if (d > 0)
        ss__log(s, SS_LOG_WARN, "prefork: workers keep dying; the next in %lld ms", (long long)d);
}

/* A worker ended (or was reaped by the host: no status): a request it was
 * running is over, its cell is free, and its slot gets a new worker. */
static void reaped(void *ctx, void *entry, const int *status)
{
    ss_server_t *s = ctx;
    prefork_state *st = s->mode_state;
    const proc *p = entry;
    ss__child_report(s, status, 1, "prefork: worker %d", (int)p->k.pid);
    ss__admit_reaped(s, p->k.pid); /* the count of a client it was serving */
    atomic_store(&st->cells[p->cell], 0);
    st->taken[p->cell] = 0;
    schedule_respawn(s, p);
}

static void sweep(ss_server_t *s)
{
    prefork_state *st = s->mode_state;
    ss__children_sweep(&st->procs, reaped, s);
}

/* The wake eventfd, then one pidfd per worker (readable once it exits). */
static int build_pollset(ss_server_t *s)
{
    prefork_state *st = s->mode_state;
    st->pfd[0] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};
    return 1 + ss__children_poll_fds(&st->procs, st->pfd + 1, st->ncells);
}

/* One turn of the parent: forks the workers due, then waits for a worker to
 * end, a shutdown, a respawn or service_actions to be due. No SIGCHLD
 * handler: pidfds tell when a worker ends (pidfd_open(2)). */
static int supervise(ss_server_t *s)
{
    prefork_state *st = s->mode_state;
    spawn_due(s);
    int n = build_pollset(s);
    int blind = ss__children_blind(&st->procs);
    int64_t d = ss__actions_deadline(s, next_due(st));
    d = ss__min_deadline(d, ss__children_deadline(&st->procs));
    int rc = poll(st->pfd, (nfds_t)n, ss__poll_timeout(d));
    if (rc < 0 && errno != EINTR) return ss__fail_into(s->errmsg, ss__errno(), "prefork: poll");
    if (rc > 0 && st->pfd[0].revents) ss__eventfd_drain(s->wake_fd);
    if (atomic_load(&s->shutdown)) return 0;
    if (rc > 0 || blind) sweep(s);
    ss__actions_run(s);
    return 0;
}

static int generation_start(ss_server_t *s)
{
    prefork_state *st = s->mode_state;
    if (pipe2(st->life, O_CLOEXEC) < 0) {
        st->life[0] = st->life[1] = -1;
        return ss__fail_into(s->errmsg, ss__errno(), "prefork: pipe");
    }
    st->parent = getpid();
    s->notify_fd = s->wake_fd; /* workers wake the parent for service_actions */
    int64_t now = ss_now_ms();
    for (int i = 0; i < st->nworkers; i++) st->slots[i] = (slot){.due = now};
    return 0;
}

/* Closing the life pipe is the broadcast: every worker of the generation
 * reads end-of-file and stops accepting at once. Retired workers are not
 * replaced; ss_server_close reaps them. */
static void generation_retire(ss_server_t *s)
{
    prefork_state *st = s->mode_state;
    if (st->life[1] < 0) return;
    close(st->life[1]);
    close(st->life[0]);
    st->life[0] = st->life[1] = -1;
    for (int i = 0; i < ss__children_count(&st->procs); i++)
        ((proc *)ss__children_at(&st->procs, i))->slot = -1;
    for (int i = 0; i < st->nworkers; i++) st->slots[i].due = 0;
}

/* serve_forever: supervises until shutdown, then retires the workers (they
 * drain on their own while ss_server_close waits for them). */
static int prefork_serve(ss_server_t *s)
{
    int rc = atomic_load(&s->shutdown) ? 0 : generation_start(s);
    while (rc == 0 && !atomic_load(&s->shutdown)) rc = supervise(s);
    generation_retire(s);
    s->notify_fd = -1;
    return rc;
}

/* Waits for every worker to end; returns how many still run. */
static int prefork_drain(ss_server_t *s, int64_t deadline)
{
    prefork_state *st = s->mode_state;
    generation_retire(s);
    return ss__children_drain(&st->procs, deadline, reaped, s);
}

static int prefork_force(ss_server_t *s)
{
    prefork_state *st = s->mode_state;
    ss__children_kill(&st->procs, reaped, s);
    return 0;
}

static void prefork_destroy(ss_server_t *s)
{
    prefork_state *st = s->mode_state;
    if (!st) return;
    generation_retire(s);
    prefork_force(s);
    state_free(st);
    s->mode_state = NULL;
}

const ss__mode_ops ss__mode_prefork = {
    .mode = SS_MODE_PREFORK,
    .init = prefork_init,
    .process = prefork_process,
    .drain = prefork_drain,
    .force = prefork_force,
    .destroy = prefork_destroy,
    .serve = prefork_serve,
    .active = prefork_active,
    .flags = SS__MODE_NO_HANDLE_REQUEST,
};
