/* loop.c - the per-thread scheduler: a run queue of tasks (coroutines), the
 * poller, a timer heap and a table of descriptors. A task that must wait
 * parks here and the loop switches to the next one; the loop resumes it on
 * readiness, deadline or cancel. Shaped after State Threads' sched.c and
 * libdill's cr.c, with Go's netpoller latch for edge-triggered readiness. */
#include "loop.h"

#include "internal.h"
#include "offload.h"
#include "timer.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define OFFLOAD_THREADS 4

enum { T_RUNNABLE, T_RUNNING, T_PARKED, T_DONE };

typedef struct ss__task ss__task;
/* The fields each park and wake touch come first, next to the coroutine,
 * and the error message (ctx.errmsg, 256 bytes) last: with thousands of
 * connections a task is rarely in cache when its turn comes, and each line
 * it spans is a miss (perf annotate: most of the loop's own time at 256
 * connections went to such loads). */
struct ss__task {
    ss__coro co;             /* first: the task lives where its coroutine does */
    ss__task *rnext;         /* run queue */
    ss__task *wnext, *wprev; /* tasks parked on the same descriptor */
    int wfd, wevents, wcancel;
    int result;
    int state;
    int busy; /* transfers since it last parked or yielded (seam_busy) */
    ss__timer timer;
    void *arg;
    ss__loop *loop;
    ss__coro_fn *fn;
    ss__task *anext, *aprev; /* every live task */
    ss__ctx ctx;             /* waiter, cancel fd and errmsg of the code running in it */
};

/* What the loop knows of a descriptor, indexed by its number. */
enum { FD_NONE, FD_WATCHED, FD_PLAIN, FD_CANCEL };
typedef struct fdent {
    ss__task *waiters;
    unsigned ready;      /* latched edges nobody consumed yet (POLL* bits) */
    unsigned short mask; /* the events it is registered for (POLLIN, POLLOUT) */
    unsigned char kind;
    unsigned char fired; /* FD_CANCEL: it became readable */
} fdent;

struct ss__loop {
    ss__coro main; /* the thread's own context */
    ss__stack_pool pool;
    size_t stack_size;
    ss__poller *poller;
    ss__timer_heap timers;
    fdent *fds;
    int nfds;
    ss__task *rhead, *rtail;
    ss__task *all;
    int count;
    ss__task *running;
    int wake_fd; /* eventfd: other threads, offload completions */
    atomic_int stop;
    ss__waiter waiter;
    ss__offload *offload;
    pthread_mutex_t mu; /* guards done */
    ss__job *done;
    /* Connection buffers of buf_size bytes kept for reuse (ss__loop_buffers):
     * a singly linked list through the blocks themselves. */
    void *bufs;
    int nbufs, maxbufs;
    size_t buf_size;
};

/* A cached buffer's first bytes link it to the next one. */
typedef struct bufnode {
    struct bufnode *next;
} bufnode;

static _Thread_local ss__loop *this_loop;

static int seam_wait(void *self, int fd, int events, int64_t deadline, int cancel_fd);
static void seam_busy(void *self);
static int seam_offload(void *self, ss_offload_fn *fn, void *arg);
static void seam_closing(void *self, int fd);

/* ----------------------------------------------------------- lifecycle */

static int loop_init(ss__loop *l, size_t stack_size, int poller_kind)
{
    ss__coro_init_main(&l->main);
    ss__stack_pool_init(&l->pool, SS__STACK_FREE_MAX);
    l->stack_size = stack_size ? stack_size : SS__STACK_DEFAULT;
    ss__timer_heap_init(&l->timers);
    l->waiter = (ss__waiter){.wait = seam_wait,
                             .busy = seam_busy,
                             .offload = seam_offload,
                             .closing = seam_closing,
                             .self = l};
    pthread_mutex_init(&l->mu, NULL);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake_fd < 0) return -errno;
    int rc = ss__poller_create(&l->poller, 512, poller_kind);
    if (rc == 0) rc = ss__poller_add(l->poller, l->wake_fd, SS__POLLER_IN);
    return rc;
}

int ss__loop_create(ss__loop **out, size_t stack_size)
{
    return ss__loop_create_on(out, stack_size, SS_POLLER_AUTO);
}

const char *ss__loop_poller_name(const ss__loop *l)
{
    return ss__poller_name(l->poller);
}

int ss__loop_create_on(ss__loop **out, size_t stack_size, int poller_kind)
{
    ss__loop *l = calloc(1, sizeof *l);
    if (!l) return -ENOMEM;
    int rc = loop_init(l, stack_size, poller_kind);
    if (rc == 0) rc = ss__coro_guard_thread_init();
    if (rc != 0) {
        if (l->poller) ss__poller_destroy(l->poller);
        if (l->wake_fd >= 0) close(l->wake_fd);
        pthread_mutex_destroy(&l->mu);
        free(l);
        return rc;
    }
    this_loop = l;
    *out = l;
    return 0;
}

static void reap(ss__loop *l, ss__task *t)
{
    ss__timer_cancel(&l->timers, &t->timer);
    if (t->aprev)
        t->aprev->anext = t->anext;
    else
        l->all = t->anext;
    if (t->anext) t->anext->aprev = t->aprev;
    l->count--;
    ss__coro_destroy(&l->pool, &t->co);
}

void ss__loop_destroy(ss__loop *l)
{
    if (!l) return;
    ss__offload_destroy(l->offload); /* joins helpers before their tasks go */
    while (l->all) reap(l, l->all);
    while (l->bufs) {
        bufnode *b = l->bufs;
        l->bufs = b->next;
        free(b);
    }
    ss__stack_pool_drain(&l->pool);
    ss__timer_heap_free(&l->timers);
    ss__poller_destroy(l->poller);
    close(l->wake_fd);
    pthread_mutex_destroy(&l->mu);
    free(l->fds);
    if (this_loop == l) this_loop = NULL;
    ss__coro_guard_thread_fini();
    free(l);
}

ss__loop *ss__loop_current(void)
{
    return this_loop;
}

int ss__loop_count(const ss__loop *l)
{
    return l->count;
}

void ss__loop_stop(ss__loop *l)
{
    atomic_store(&l->stop, 1);
    ss__loop_wake(l);
}

void ss__loop_wake(ss__loop *l)
{
    uint64_t one = 1;
    ssize_t n = write(l->wake_fd, &one, sizeof one);
    (void)n; /* EAGAIN: the counter is already non-zero, the loop will wake */
}

/* ------------------------------------------------------------- tasks */

static void enqueue(ss__loop *l, ss__task *t)
{
    t->state = T_RUNNABLE;
    t->rnext = NULL;
    if (l->rtail)
        l->rtail->rnext = t;
    else
        l->rhead = t;
    l->rtail = t;
}

static void task_main(void *arg)
{
    ss__task *t = arg;
    t->fn(t->arg);
    t->state = T_DONE;
}

#define TASK_BYTES     ((sizeof(ss__task) + 15) & ~(size_t)15)
#define SPAWN_DATA_MAX 2048

static ss__task *task_new(ss__loop *l, ss__coro_fn *fn, void *arg, size_t extra)
{
    /* A slot in the timer heap for each task, taken now: parking with a
     * deadline then never fails for want of memory, so a task that must
     * wait (an acceptor pausing after ENOMEM, say) always can. */
    if (ss__timer_reserve(&l->timers, (size_t)l->count + 1) != 0) return NULL;
    ss__coro *co =
        ss__coro_create(&l->pool, l->stack_size, TASK_BYTES + extra, task_main, NULL, &l->main);
    if (!co) return NULL;
    ss__task *t = (ss__task *)co;
    co->arg = t;
    /* Every field past the coroutine is set here: a stack from the pool
     * still holds the bytes of the task (or the frames) that used it, and a
     * stale aprev or timer index would corrupt the task list or the timer
     * heap (the list then loops on itself: a hang found by the fault walk).
     * errmsg needs only its first byte. */
    t->ctx.errmsg[0] = '\0';
    t->ctx.cancel_fd = -1;
    t->ctx.waiter = &l->waiter;
    t->loop = l;
    t->fn = fn;
    t->arg = arg;
    t->rnext = t->aprev = t->wnext = t->wprev = NULL;
    t->timer = (ss__timer){0};
    t->wfd = t->wcancel = -1;
    t->wevents = t->result = t->busy = 0;
    t->anext = l->all;
    if (l->all) l->all->aprev = t;
    l->all = t;
    l->count++;
    enqueue(l, t);
    return t;
}

int ss__loop_spawn(ss__loop *l, ss__coro_fn *fn, void *arg)
{
    return task_new(l, fn, arg, 0) ? 0 : -ENOMEM;
}

void *ss__loop_spawn_data(ss__loop *l, ss__coro_fn *fn, size_t len)
{
    if (len > SPAWN_DATA_MAX) {
        errno = EINVAL;
        return NULL;
    }
    ss__task *t = task_new(l, fn, NULL, len);
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    t->arg = (char *)t + TASK_BYTES;
    return t->arg;
}

int ss__loop_spawn_with(ss__loop *l, ss__coro_fn *fn, const void *data, size_t len)
{
    void *arg = ss__loop_spawn_data(l, fn, len);
    if (!arg) return -errno;
    memcpy(arg, data, len);
    return 0;
}

/* Switches to t, with its ss__ctx current while it runs. */
static void resume(ss__loop *l, ss__task *t)
{
    l->running = t;
    t->state = T_RUNNING;
    ss__ctx *saved = ss__ctx_swap(&t->ctx);
    ss__coro_switch(&l->main, &t->co);
    ss__ctx_swap(saved);
    l->running = NULL;
    if (t->state == T_DONE) reap(l, t);
}

/* Runs the tasks queued now; those they queue run next turn, after the
 * loop has looked for I/O, so a task that yields cannot starve the rest. */
static void run_queued(ss__loop *l)
{
    ss__task *last = l->rtail;
    while (l->rhead) {
        ss__task *t = l->rhead;
        l->rhead = t->rnext;
        if (!l->rhead) l->rtail = NULL;
        resume(l, t);
        if (t == last) break;
    }
}

/* ------------------------------------------------------ parking, waking */

static fdent *fd_entry(ss__loop *l, int fd)
{
    if (fd < l->nfds) return &l->fds[fd];
    int n = l->nfds ? l->nfds : 64;
    while (n <= fd) n = n > INT_MAX / 2 ? INT_MAX : n * 2;
    fdent *v = realloc(l->fds, (size_t)n * sizeof *v);
    if (!v) return NULL;
    for (int i = l->nfds; i < n; i++) v[i] = (fdent){0};
    l->fds = v;
    l->nfds = n;
    return &l->fds[fd];
}

static void unlink_waiter(ss__loop *l, ss__task *t)
{
    if (t->wfd < 0) return;
    if (t->wprev)
        t->wprev->wnext = t->wnext;
    else
        l->fds[t->wfd].waiters = t->wnext;
    if (t->wnext) t->wnext->wprev = t->wprev;
    t->wnext = t->wprev = NULL;
    t->wfd = -1;
}

static void wake(ss__loop *l, ss__task *t, int result)
{
    unlink_waiter(l, t);
    ss__timer_cancel(&l->timers, &t->timer);
    t->wcancel = -1;
    t->result = result;
    enqueue(l, t);
}

static int park(ss__loop *l, ss__task *t, int fd, int events, int64_t deadline, int cancel_fd)
{
    if (deadline > 0 && ss__timer_add(&l->timers, &t->timer, deadline) != 0) return -ENOMEM;
    if (fd >= 0) {
        fdent *e = &l->fds[fd];
        t->wprev = NULL;
        t->wnext = e->waiters;
        if (e->waiters) e->waiters->wprev = t;
        e->waiters = t;
    }
    t->wfd = fd;
    t->wevents = events;
    t->wcancel = cancel_fd;
    t->state = T_PARKED;
    t->busy = 0;
    ss__coro_switch(&t->co, &l->main);
    return t->result;
}

/* Registers a cancel eventfd once; returns 1 if it has fired already. */
static int cancel_fired(ss__loop *l, int cancel_fd)
{
    fdent *e = fd_entry(l, cancel_fd);
    if (!e) return -ENOMEM;
    if (e->kind == FD_CANCEL) return e->fired;
    int rc = ss__poller_add(l->poller, cancel_fd, SS__POLLER_IN);
    if (rc != 0 && rc != -EEXIST) return rc;
    e->kind = FD_CANCEL;
    /* Already readable? epoll reports that at the next wait: a cancel that
     * came before registration is not lost (epoll(7), EPOLLET). */
    return 0;
}

int ss__loop_watch_cancel(ss__loop *l, int fd)
{
    int rc = cancel_fired(l, fd);
    return rc < 0 ? rc : 0;
}

/* Registers fd on first use. Returns 1 if the caller should just retry its
 * call (a descriptor epoll cannot watch, or one whose edges we may have
 * missed), 0 to go on, or a negative errno. */
static int fd_register(ss__loop *l, fdent *e, int fd)
{
    if (e->kind == FD_WATCHED) return 0;
    if (e->kind == FD_PLAIN) return 1;
    int rc = ss__poller_add(l->poller, fd, SS__POLLER_RW);
    if (rc == -EPERM) { /* regular files and directories are always ready */
        e->kind = FD_PLAIN;
        return 1;
    }
    if (rc != 0 && rc != -EEXIST) return rc;
    e->kind = FD_WATCHED;
    e->mask = POLLIN | POLLOUT;
    e->ready = 0;
    return rc == -EEXIST;
}

/* A wait for an event fd is not registered for (output on a shared datagram
 * listener, which is watched for input only, and EPOLLEXCLUSIVE forbids
 * EPOLL_CTL_MOD): sleep a millisecond and let the caller retry its call.
 * Rare: a full socket send buffer. */
static int wait_unwatched(ss__loop *l, ss__task *t, int64_t deadline, int cancel_fd)
{
    int64_t soon = ss_now_ms() + 1;
    if (deadline > 0 && deadline < soon) soon = deadline;
    int rc = park(l, t, -1, 0, soon, cancel_fd);
    if (rc == -ETIMEDOUT && (deadline <= 0 || ss_now_ms() < deadline)) rc = 0;
    return rc;
}

/* A latched edge answers the wait at once: the edge came while nobody waited
 * (the task was busy writing, say) and will not come again. ERR and HUP stay
 * latched: the condition lasts. So does RDHUP for input: the peer's FIN may
 * come in the same edge as its last data, and a short read of that data
 * ("drained": conn.c then waits before reading again) does not return the
 * end of stream, which no later edge would announce (the adversary's
 * halfopen test hung there). */
static int consume_ready(fdent *e, int events)
{
    if (e->ready & (POLLERR | POLLHUP)) return 1;
    if ((e->ready & POLLRDHUP) && (events & POLLIN)) return 1;
    unsigned hit = e->ready & (unsigned)events & (POLLIN | POLLOUT);
    e->ready &= ~hit;
    return hit != 0;
}

static int task_wait(ss__loop *l, ss__task *t, int fd, int events, int64_t deadline, int cancel_fd)
{
    if (cancel_fd >= 0) {
        int rc = cancel_fired(l, cancel_fd);
        if (rc < 0) return rc;
        if (rc) return -ECANCELED;
    }
    if (fd >= 0) {
        fdent *e = fd_entry(l, fd);
        if (!e) return -ENOMEM;
        if (e->kind == FD_CANCEL) return -EINVAL;
        int rc = fd_register(l, e, fd);
        if (rc != 0) return rc < 0 ? rc : 0;
        if (consume_ready(e, events)) return 0;
        if (((unsigned)events & e->mask) != ((unsigned)events & (POLLIN | POLLOUT)))
            return wait_unwatched(l, t, deadline, cancel_fd);
    }
    if (deadline > 0 && deadline <= ss_now_ms()) return -ETIMEDOUT;
    if (fd < 0 && deadline <= 0 && cancel_fd < 0) return 0;
    return park(l, t, fd, events, deadline, cancel_fd);
}

static int seam_wait(void *self, int fd, int events, int64_t deadline, int cancel_fd)
{
    ss__loop *l = self;
    if (l != this_loop || !l->running) return ss__poll_wait(fd, events, deadline, cancel_fd);
    return task_wait(l, l->running, fd, events, deadline, cancel_fd);
}

int ss__loop_wait(int fd, int events, int64_t deadline, int cancel_fd)
{
    ss__loop *l = this_loop;
    if (!l || !l->running) return ss__poll_wait(fd, events, deadline, cancel_fd);
    return task_wait(l, l->running, fd, events, deadline, cancel_fd);
}

void ss__loop_yield(void)
{
    ss__loop *l = this_loop;
    if (!l || !l->running) return;
    ss__task *t = l->running;
    t->busy = 0;
    enqueue(l, t);
    ss__coro_switch(&t->co, &l->main);
}

/* The waiter's busy hook (internal.h): a task that has made BUSY_TURN
 * transfers without waiting yields, so that the loop looks for events and
 * runs its other tasks (and the acceptors see a shutdown) even while one
 * peer is always ready. A yield costs two switches: noise at that rate. */
#define BUSY_TURN 64

static void seam_busy(void *self)
{
    ss__loop *l = self;
    if (l != this_loop || !l->running) return;
    if (++l->running->busy >= BUSY_TURN) ss__loop_yield();
}

int ss__loop_watch(ss__loop *l, int fd, int how)
{
    fdent *e = fd_entry(l, fd);
    if (!e) return -ENOMEM;
    if (e->kind != FD_NONE) return 0;
    int rc = ss__poller_add(l->poller, fd, how);
    if (rc != 0) return rc;
    e->kind = FD_WATCHED;
    e->mask = how == SS__POLLER_RW ? POLLIN | POLLOUT : POLLIN;
    e->ready = 0;
    return 0;
}

static void fd_drop(ss__loop *l, int fd, int del)
{
    if (!l || fd < 0 || fd >= l->nfds) return;
    fdent *e = &l->fds[fd];
    while (e->waiters) wake(l, e->waiters, -EBADF);
    if (del && (e->kind == FD_WATCHED || e->kind == FD_CANCEL))
        ss__poller_del(l->poller, fd);
    else if (!del)
        ss__poller_closing(l->poller, fd);
    *e = (fdent){0};
}

void ss__loop_forget(ss__loop *l, int fd)
{
    fd_drop(l, fd, 1);
}

void ss__loop_closing(ss__loop *l, int fd)
{
    fd_drop(l, fd, 0);
}

/* The seam's "a descriptor is closing" (ss__fd_closing: a dialed socket). */
static void seam_closing(void *self, int fd)
{
    fd_drop(self, fd, 0);
}

void ss__loop_set_label(const char *label)
{
    ss__loop *l = this_loop;
    if (l && l->running) ss__coro_set_label(&l->running->co, label);
}

void ss__loop_set_label_fn(ss__coro_label_fn *fn, const void *arg)
{
    ss__loop *l = this_loop;
    if (l && l->running) ss__coro_set_label_fn(&l->running->co, fn, arg);
}

/* ------------------------------------------------------------ buffers */

/* The waiter's buffer cache (internal.h): a block of buf_size bytes from the
 * free list, else malloc'd. Only the loop's own thread uses the list (the
 * task running is the caller); requests larger than buf_size, and calls from
 * another thread, are plain malloc and free. */
static void *buf_get(void *self, size_t min, size_t *size)
{
    ss__loop *l = self;
    if (l != this_loop || min > l->buf_size) {
        *size = min;
        return malloc(min);
    }
    *size = l->buf_size;
    bufnode *b = l->bufs;
    if (!b) return malloc(l->buf_size);
    l->bufs = b->next;
    l->nbufs--;
    return b;
}

static void buf_put(void *self, void *p, size_t size)
{
    ss__loop *l = self;
    if (l != this_loop || size != l->buf_size || l->nbufs >= l->maxbufs) {
        free(p);
        return;
    }
    bufnode *b = p;
    b->next = l->bufs;
    l->bufs = b;
    l->nbufs++;
}

void ss__loop_buffers(ss__loop *l, size_t size, int max)
{
    if (size < sizeof(bufnode) || max <= 0) return;
    l->buf_size = size;
    l->maxbufs = max;
    l->waiter.buf_get = buf_get;
    l->waiter.buf_put = buf_put;
}

/* ------------------------------------------------------------ events */

static void cancel_all(ss__loop *l, int cancel_fd)
{
    for (ss__task *t = l->all; t; t = t->anext)
        if (t->state == T_PARKED && t->wcancel == cancel_fd) wake(l, t, -ECANCELED);
}

static void take_done(ss__loop *l)
{
    uint64_t n;
    ssize_t r = read(l->wake_fd, &n, sizeof n);
    (void)r; /* EAGAIN: already drained */
    pthread_mutex_lock(&l->mu);
    ss__job *j = l->done;
    l->done = NULL;
    pthread_mutex_unlock(&l->mu);
    while (j) {
        ss__job *next = j->next;
        wake(l, j->owner, 0);
        j = next;
    }
}

static void on_ready(ss__loop *l, int fd, unsigned events)
{
    if (fd == l->wake_fd) {
        take_done(l);
        return;
    }
    if (fd < 0 || fd >= l->nfds) return;
    fdent *e = &l->fds[fd];
    if (e->kind == FD_CANCEL) {
        e->fired = 1;
        cancel_all(l, fd);
        return;
    }
    e->ready |= events;
    unsigned consumed = 0;
    for (ss__task *t = e->waiters, *next; t; t = next) {
        next = t->wnext;
        unsigned hit = events & ((unsigned)t->wevents | POLLERR | POLLHUP);
        if (!hit) continue;
        consumed |= hit & (POLLIN | POLLOUT);
        wake(l, t, 0);
    }
    e->ready &= ~consumed;
}

static void expire_timers(ss__loop *l)
{
    if (!l->timers.n) return;
    int64_t now = ss_now_ms();
    ss__timer *tm;
    while ((tm = ss__timer_pop_expired(&l->timers, now)) != NULL)
        wake(l, (ss__task *)(void *)((char *)tm - offsetof(ss__task, timer)), -ETIMEDOUT);
}

static int poll_timeout(ss__loop *l)
{
    if (l->rhead || atomic_load_explicit(&l->stop, memory_order_relaxed)) return 0;
    int64_t next = ss__timer_next(&l->timers);
    if (next == 0) return -1;
    int64_t left = next - ss_now_ms();
    if (left <= 0) return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

int ss__loop_run(ss__loop *l)
{
    for (;;) {
        run_queued(l);
        if (l->count == 0) return 0;
        if (atomic_exchange(&l->stop, 0)) return 0; /* a stop is used up once */
        const ss__poll_event *ev;
        int n = ss__poller_wait(l->poller, poll_timeout(l), &ev);
        if (n < 0) return n;
        for (int i = 0; i < n; i++) on_ready(l, ev[i].fd, ev[i].events);
        expire_timers(l);
    }
}

/* ----------------------------------------------------------- offload */

static void offload_done(ss__job *j, void *ctx)
{
    ss__loop *l = ctx;
    pthread_mutex_lock(&l->mu);
    j->next = l->done;
    l->done = j;
    pthread_mutex_unlock(&l->mu);
    ss__loop_wake(l);
}

/* The waiter's offload hook (ss_offload): the loop's own task only. Its
 * signature is the hook's (ss__waiter.offload), hence the non-const self. */
// cppcheck-suppress constParameter
static int seam_offload(void *self, ss_offload_fn *fn, void *arg)
{
    if (self != this_loop) {
        fn(arg);
        return 0;
    }
    return ss__loop_offload(fn, arg);
}

int ss__loop_offload(void (*fn)(void *), void *arg)
{
    ss__loop *l = this_loop;
    if (!l || !l->running) {
        fn(arg); /* not in a task: blocking is what the caller does anyway */
        return 0;
    }
    if (!l->offload) {
        int rc = ss__offload_create(&l->offload, OFFLOAD_THREADS, offload_done, l);
        if (rc != 0) return rc;
    }
    ss__task *t = l->running;
    ss__job job = {.fn = fn, .arg = arg, .owner = t};
    int rc = ss__offload_submit(l->offload, &job);
    if (rc != 0) return rc;
    return park(l, t, -1, 0, 0, -1);
}
