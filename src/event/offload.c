/* offload.c - a small pool of helper threads per loop for blocking calls
 * (libuv's threadpool idea, State Threads' lack of one). Threads start on
 * demand, up to a cap, and wait on a condition variable for jobs. */
#include "offload.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

struct ss__offload {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ss__job *head, *tail;
    int nthreads, idle, max, stop;
    pthread_t *threads;
    void (*done)(ss__job *, void *);
    void *ctx;
};

int ss__offload_create(ss__offload **out, int max_threads, void (*done)(ss__job *, void *),
                       void *ctx)
{
    ss__offload *o = calloc(1, sizeof *o);
    if (!o) return -ENOMEM;
    o->max = max_threads > 0 ? max_threads : 1;
    o->threads = calloc((size_t)o->max, sizeof *o->threads);
    if (!o->threads) {
        free(o);
        return -ENOMEM;
    }
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    o->done = done;
    o->ctx = ctx;
    *out = o;
    return 0;
}

/* Takes the next job, waiting for one; NULL once stopped and empty. */
static ss__job *take(ss__offload *o)
{
    pthread_mutex_lock(&o->mu);
    while (!o->head && !o->stop) {
        o->idle++;
        pthread_cond_wait(&o->cv, &o->mu);
        o->idle--;
    }
    ss__job *j = o->head;
    if (j) {
        o->head = j->next;
        if (!o->head) o->tail = NULL;
    }
    pthread_mutex_unlock(&o->mu);
    return j;
}

static void *helper(void *arg)
{
    ss__offload *o = arg;
    ss__job *j;
    while ((j = take(o)) != NULL) {
        j->fn(j->arg);
        o->done(j, o->ctx);
    }
    return NULL;
}

/* Called with o->mu held. Helpers start with every signal blocked, so that
 * process signals (SIGINT, SIGTERM) go to the threads that expect them. */
static int start_helper(ss__offload *o)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&o->threads[o->nthreads], NULL, helper, o);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) return -rc;
    o->nthreads++;
    return 0;
}

int ss__offload_submit(ss__offload *o, ss__job *job)
{
    int rc = 0;
    job->next = NULL;
    pthread_mutex_lock(&o->mu);
    if (o->idle == 0 && o->nthreads < o->max) rc = start_helper(o);
    if (rc == 0 || o->nthreads > 0) {
        rc = 0;
        if (o->tail)
            o->tail->next = job;
        else
            o->head = job;
        o->tail = job;
        pthread_cond_signal(&o->cv);
    }
    pthread_mutex_unlock(&o->mu);
    return rc;
}

void ss__offload_destroy(ss__offload *o)
{
    if (!o) return;
    pthread_mutex_lock(&o->mu);
    o->stop = 1;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
    for (int i = 0; i < o->nthreads; i++) pthread_join(o->threads[i], NULL);
    pthread_cond_destroy(&o->cv);
    pthread_mutex_destroy(&o->mu);
    free(o->threads);
    free(o);
}
