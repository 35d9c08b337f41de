/* mode_pool.c - a pool of N long-lived worker threads. The serving thread
 * runs the poll loop (poll_loop.c): it accepts (or receives) a request, checks
 * it and hands it to an idle worker through a small queue. When every worker
 * is busy it stops polling the listeners, so new clients wait in the kernel's
 * listen backlog, not in an unbounded queue of ours, and none is dropped. */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct job {
    ss__request req;
} job;

/* active (s->active) counts queued and running requests; the serving thread
 * is the only one that raises it, so "active < size" checked there before an
 * accept holds until the job is queued, and the queue needs no more than
 * size entries: one per idle worker. */
typedef struct pool_state {
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* a job was queued, or stop */
    ss__drainer drainer;    /* pool_drain waits for the jobs to end */
    job *q;                 /* ring of size entries */
    int head, len;
    int stop;
    int size;    /* worker threads wanted, and the queue's room */
    int started; /* worker threads running; set once, before any job */
    pthread_t *tids;
    int room_fd; /* eventfd: a worker of a full pool became free */
    int gated;   /* the pool holds clients back when full (see pool_init) */
} pool_state;

/* max_connections below the pool size would leave threads that never run:
 * the pool then has max_connections threads, never counts itself full, and a
 * client beyond the limit is closed at once by the intake, as in every mode.
 * Above it, the pool fills first: clients wait in the backlog and the limit
 * is never reached. */
static int pool_init(ss_server_t *s)
{
    int n = ss__workers(s, "pool");
    if (n < 0) return n;
    int max = s->cfg.max_connections;
    pool_state *p = calloc(1, sizeof *p);
    if (!p) return ss__fail(-ENOMEM, "pool mode");
    p->size = max > 0 && max < n ? max : n;
    p->gated = !(max > 0 && max <= p->size);
    p->q = calloc((size_t)p->size, sizeof *p->q);
    p->tids = calloc((size_t)p->size, sizeof *p->tids);
    p->room_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!p->q || !p->tids || p->room_fd < 0) {
        int err = p->room_fd < 0 ? ss__errno() : -ENOMEM;
        if (p->room_fd >= 0) close(p->room_fd);
        free(p->q);
        free(p->tids);
        free(p);
        return ss__fail(err, "pool mode");
    }
    pthread_mutex_init(&p->mu, NULL);
    ss__cond_init(&p->work_cv);
    ss__drainer_init(&p->drainer);
    s->mode_state = p;
    return 0;
}

/* ------------------------------------------------------------- workers */

/* Waits for a job; 0 once the pool stops and the queue is empty. */
static int next_job(pool_state *p, job *j)
{
    pthread_mutex_lock(&p->mu);
    while (p->len == 0 && !p->stop) pthread_cond_wait(&p->work_cv, &p->mu);
    int got = p->len > 0;
    if (got) {
        *j = p->q[p->head];
        p->head = (p->head + 1) % p->size;
        p->len--;
    }
    pthread_mutex_unlock(&p->mu);
    return got;
}

/* The request is over: wake a drain if one waits, and the serving thread if
 * it had stopped accepting because the pool was full (an eventfd keeps its
 * count, so the wake is not lost if it is not polling yet). The drain's
 * mutex is taken only when one waits: drain raises draining before it reads
 * active, this thread lowers active before it reads draining, so (the
 * atomics being sequentially consistent) one of the two sees the other's
 * write and no wake is lost (ss__drainer_done). */
static void job_done(ss_server_t *s, pool_state *p)
{
    int was = ss__drainer_done(&p->drainer, &s->active);
    if (p->gated && was >= p->started) ss__eventfd_signal(p->room_fd);
}

/* One request on the worker's connection object, whose buffers are kept from
 * one request to the next (a borrowed datagram packet is not). */
static void run_job(ss_server_t *s, ss_conn_t *c, job *j)
{
    ss__conn_for_request(s, c, &j->req);
    ss__run_handler(s, c);
    ss__request_done(c, &j->req, 1);
}

static void *worker_main(void *arg)
{
    ss_server_t *s = arg;
    pool_state *p = s->mode_state;
    ss_conn_t c = {0};
    job j;
    while (next_job(p, &j)) {
        run_job(s, &c, &j);
        job_done(s, p);
    }
    ss__conn_release(&c);
    return NULL;
}

/* Workers block every signal: a process signal (SIGINT, SIGTERM) goes to the
 * serving thread, whose handler calls ss_server_shutdown (as in thread mode).
 * They start with the first request, not in ss_server_create, so a program
 * may still fork (daemonize) between create and serve. If only some threads
 * can be made, the pool runs with those; if none, the next request retries. */
static int pool_start(ss_server_t *s, pool_state *p)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (s->cfg.stack_size) pthread_attr_setstacksize(&attr, s->cfg.stack_size);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    while (p->started < p->size && rc == 0) {
        rc = pthread_create(&p->tids[p->started], &attr, worker_main, s);
        if (rc == 0) p->started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        ss__log(s, SS_LOG_WARN, "pool: %d of %d worker threads: pthread_create: %s", p->started,
                p->size, ss_strerror(-rc));
    return p->started > 0 ? 0 : -rc;
}

/* ------------------------------------------------------------- serving */

/* The requests the pool can take now: one per idle worker when it holds
 * clients back (gated), else no limit of its own. */
static int pool_room(const ss_server_t *s)
{
    const pool_state *p = s->mode_state;
    int size = p->started > 0 ? p->started : p->size; /* before the first request */
    return p->gated ? size - atomic_load(&s->active) : 1 << 30;
}

static int pool_process(ss_server_t *s, ss__request *req)
{
    pool_state *p = s->mode_state;
    int rc = p->started == 0 ? pool_start(s, p) : 0;
    if (rc == 0) {
        pthread_mutex_lock(&p->mu);
        rc = p->len < p->size ? 0 : -EAGAIN; /* cannot happen: see pool_state */
        if (rc == 0) {
            p->q[(p->head + p->len) % p->size] = (job){*req};
            p->len++;
            atomic_fetch_add(&s->active, 1);
            pthread_cond_signal(&p->work_cv);
        }
        pthread_mutex_unlock(&p->mu);
    }
    if (rc == 0) return 0;
    ss__request_drop(req);
    return ss__fail(rc, "pool: no worker for a request");
}

/* The poll loop watches the room eventfd (a worker of a full pool became
 * free) and takes no more requests than there are idle workers. */
static int pool_watch(ss_server_t *s, struct pollfd *pfd, int max,
                      int64_t *deadline, // NOLINT(readability-non-const-parameter): ss__poll_hooks
                      int *room)
{
    const pool_state *p = s->mode_state;
    (void)deadline;
    *room = pool_room(s);
    if (max < 1) return 0;
    pfd[0] = (struct pollfd){.fd = p->room_fd, .events = POLLIN};
    return 1;
}

static void pool_ready(ss_server_t *s, const struct pollfd *pfd, int n)
{
    const pool_state *p = s->mode_state;
    uint64_t v;
    if (n > 0 && pfd[0].revents) {
        ssize_t r = read(p->room_fd, &v, sizeof v); /* the next turn re-checks the room */
        (void)r;
    }
}

/* ------------------------------------------------------------- closing */

static int pool_drain(ss_server_t *s, int64_t deadline)
{
    pool_state *p = s->mode_state;
    return ss__drainer_wait(&p->drainer, &s->active, deadline);
}

/* Runs when no request is left (server.c keeps a server whose handlers did
 * not return): each worker finds the queue empty and stop set, and ends. */
static void pool_destroy(ss_server_t *s)
{
    pool_state *p = s->mode_state;
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++) pthread_join(p->tids[i], NULL);
    pthread_cond_destroy(&p->work_cv);
    ss__drainer_destroy(&p->drainer);
    pthread_mutex_destroy(&p->mu);
    close(p->room_fd);
    free(p->q);
    free(p->tids);
    free(p);
    s->mode_state = NULL;
}

static const ss__poll_hooks pool_hooks = {.watch = pool_watch, .ready = pool_ready};

const ss__mode_ops ss__mode_pool = {
    .mode = SS_MODE_POOL,
    .flags = SS__MODE_COPY_PACKET,
    .init = pool_init,
    .process = pool_process,
    .poll = &pool_hooks,
    .drain = pool_drain,
    .destroy = pool_destroy,
};
