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
#include <unistd.h>

typedef struct job {
    ss_server_t *s;
    ss__request req;
    pthread_t tid;
    struct job *next;
} job;

typedef struct thread_state {
    pthread_mutex_t mu;  /* guards finished */
    job *finished;       /* threads that returned, waiting to be joined */
    ss__drainer drainer; /* thread_drain waits for the handlers to end */
} thread_state;

static int thread_init(ss_server_t *s)
{
    thread_state *t = calloc(1, sizeof *t);
    if (!t) return ss__fail(-ENOMEM, "thread mode");
    pthread_mutex_init(&t->mu, NULL);
    ss__drainer_init(&t->drainer);
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
    pthread_mutex_unlock(&t->mu);
    ss__drainer_done(&t->drainer, &s->active);
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

/* Every thread that ended is on the finished list before it lowered active
 * (run), so once none runs all of them are joined here. */
static int thread_drain(ss_server_t *s, int64_t deadline)
{
    thread_state *t = s->mode_state;
    ss__drainer_wait(&t->drainer, &s->active, deadline);
    join_finished(s);
    return atomic_load(&s->active);
}

static void thread_destroy(ss_server_t *s)
{
    thread_state *t = s->mode_state;
    if (!t) return;
    join_finished(s);
    ss__drainer_destroy(&t->drainer);
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
