/* cond.c - condition variables on the monotonic clock, and the drainer: the
 * wait for a mode's running requests to end (event, pool and thread) that
 * costs a request's end no lock unless a drain is waiting. */
#include "internal.h"

#include <errno.h>
#include <time.h>

/* A deadline on CLOCK_MONOTONIC, the clock of ss_now_ms, so that setting
 * the system time does not move it (pthread_condattr_setclock(3)). glibc's
 * pthread_cond_init only stores the attributes and does not fail. */
void ss__cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

/* ss_now_ms counts whole milliseconds of CLOCK_MONOTONIC, so a deadline in
 * its unit is the same instant as an absolute timespec on that clock:
 * pthread_cond_timedwait(3) takes it as it is, and a deadline already past
 * returns ETIMEDOUT at once. */
int ss__cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline)
{
    if (deadline <= 0) return -pthread_cond_wait(cv, mu);
    struct timespec ts = {.tv_sec = (time_t)(deadline / 1000),
                          .tv_nsec = (long)(deadline % 1000) * 1000000};
    return -pthread_cond_timedwait(cv, mu, &ts);
}

void ss__drainer_init(ss__drainer *d)
{
    pthread_mutex_init(&d->mu, NULL);
    ss__cond_init(&d->cv);
    atomic_init(&d->draining, 0);
}

void ss__drainer_destroy(ss__drainer *d)
{
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
}

/* Only a drain waits for requests to end, and only while one does is a
 * request's end worth the lock and the broadcast: not on every request.
 * The drain raises draining before it reads active, this lowers active
 * before it reads draining; both sequentially consistent, so either the
 * drain sees the decrement or this sees the drain and wakes it. The drain
 * holds the mutex from its raise until the wait releases it, so the
 * broadcast, made under the mutex, cannot fall between its check and its
 * wait. */
int ss__drainer_done(ss__drainer *d, atomic_int *active)
{
    int was = atomic_fetch_sub(active, 1);
    if (!atomic_load(&d->draining)) return was;
    pthread_mutex_lock(&d->mu);
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    return was;
}

/* draining counts the drains that wait rather than flagging one: a second
 * drain that ends must not hide the first, still waiting, from the ends
 * that would wake it. */
int ss__drainer_wait(ss__drainer *d, atomic_int *active, int64_t deadline)
{
    pthread_mutex_lock(&d->mu);
    atomic_fetch_add(&d->draining, 1); /* see ss__drainer_done */
    while (atomic_load(active) > 0)
        if (ss__cond_wait_until(&d->cv, &d->mu, deadline) == -ETIMEDOUT) break;
    atomic_fetch_sub(&d->draining, 1);
    pthread_mutex_unlock(&d->mu);
    return atomic_load(active);
}
