/* mode_thread.c - ThreadingMixIn: a new thread per request (connection or
 * datagram). max_connections bounds live threads without stalling the
 * accept loop (a client beyond it is closed at once, by the intake). Finished
 * threads are joined by the serving thread, so none outlives
 * ss_server_close (block_on_close), up to the drain limit. */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct job {
    ss_server_t *s;
    ss__request req;
    pthread_t tid;
    struct job *next;
} job;

typedef struct thread_state {
    pthread_mutex_t mu;
    pthread_cond_t done_cv;
    job *finished; /* threads that returned, waiting to be joined */
} thread_state;

static int thread_init(ss_server_t *s)
{
    thread_state *t = calloc(1, sizeof *t);
    if (!t) return ss__fail(-ENOMEM, "thread mode");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->done_cv, &ca);
    pthread_condattr_destroy(&ca);
    s->mode_state = t;
    return 0;
}

static void *run(void *arg)
{
    job *j = arg;
    ss_server_t *s = j->s;
    thread_state *t = s->mode_state;
    ss_conn_t c = {0};
    ss__conn_for_request(s, &c, &j->req);
    ss__run_handler(s, &c);
    ss__request_done(&c, &j->req, 0);
    pthread_mutex_lock(&t->mu);
    j->next = t->finished;
    t->finished = j;
    atomic_fetch_sub(&s->active, 1);
    pthread_cond_broadcast(&t->done_cv);
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

static void join_finished(ss_server_t *s)
{
    thread_state *t = s->mode_state;
    pthread_mutex_lock(&t->mu);
    job *list = t->finished;
    t->finished = NULL;
    pthread_mutex_unlock(&t->mu);
    while (list) {
        job *next = list->next;
        pthread_join(list->tid, NULL);
        free(list);
        list = next;
    }
}

/* Handler threads block every signal: a process signal (SIGINT, SIGTERM)
 * goes to the serving thread, whose handler calls ss_server_shutdown. */
static int spawn(ss_server_t *s, job *j)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (s->cfg.stack_size) pthread_attr_setstacksize(&attr, s->cfg.stack_size);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&j->tid, &attr, run, j);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return -rc;
}

static int thread_process(ss_server_t *s, ss__request *req)
{
    join_finished(s);
    job *j = calloc(1, sizeof *j);
    int rc = j ? 0 : -ENOMEM;
    if (j) {
        j->s = s;
        j->req = *req;
        atomic_fetch_add(&s->active, 1);
        rc = spawn(s, j);
        if (rc < 0) atomic_fetch_sub(&s->active, 1);
    }
    if (rc == 0) return 0;
    /* No thread (EAGAIN: out of threads or memory): refuse this client and
     * keep serving the others. */
    free(j);
    ss__request_drop(req);
    return ss__fail(rc, "thread: pthread_create");
}

static int thread_drain(ss_server_t *s, int64_t deadline)
{
    thread_state *t = s->mode_state;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t left = deadline - ss_now_ms();
    if (left < 0) left = 0;
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (left % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&t->mu);
    while (atomic_load(&s->active) > 0)
        if (pthread_cond_timedwait(&t->done_cv, &t->mu, &ts) == ETIMEDOUT) break;
    pthread_mutex_unlock(&t->mu);
    join_finished(s);
    return atomic_load(&s->active);
}

static void thread_destroy(ss_server_t *s)
{
    thread_state *t = s->mode_state;
    if (!t) return;
    join_finished(s);
    pthread_cond_destroy(&t->done_cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
    s->mode_state = NULL;
}

const ss__mode_ops ss__mode_thread = {
    .mode = SS_MODE_THREAD,
    .init = thread_init,
    .process = thread_process,
    .drain = thread_drain,
    .destroy = thread_destroy,
    .flags = SS__MODE_COPY_PACKET,
};
