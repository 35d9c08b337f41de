/* poll_uring.c - the poller on io_uring(7): readiness by multishot
 * IORING_OP_POLL_ADD, one request per descriptor, armed once (io_uring's poll
 * is edge-triggered unless IORING_POLL_ADD_LEVEL is asked: each wakeup of the
 * file posts one completion, as EPOLLET does). What it saves over epoll: the
 * registrations and removals of a loop turn are queued in the submission ring
 * and go to the kernel with the wait itself, in one io_uring_enter(2); with
 * IORING_SETUP_DEFER_TASKRUN the kernel does the completion work only then,
 * on the loop's own thread, never interrupting it (io_uring_setup(2)).
 *
 * Two differences from epoll the loop must not see:
 * - a poll request holds a reference to the file: close(2) alone would keep
 *   the socket open (no FIN) until the request goes. So a descriptor that is
 *   closing cancels its request (ss__poller_closing), and the cancel reaches
 *   the kernel with the next wait, a loop turn later at most;
 * - a completion may arrive for a request that was cancelled, or for a
 *   descriptor number that has been closed and reused since. Each request's
 *   user_data carries the descriptor and its generation; a completion of an
 *   older generation is dropped. */
#include "poll_uring.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

/* What the poller knows of a descriptor. */
typedef struct uslot {
    uint32_t gen;  /* generation of its current request */
    uint32_t mask; /* events asked; 0: no request armed */
} uslot;

struct ss__uring {
    struct io_uring ring;
    int max;
    ss__poll_event *out;
    uslot *slots;
    int nslots;
};

/* The ring's size: registrations of a turn queue here before the wait. */
#define SQ_ENTRIES 256

/* A completion's user_data: the descriptor, its request's generation (31
 * bits, wrapping), and whether it is the answer to a removal. */
#define REMOVAL  (UINT64_C(1) << 63)
#define GEN_MASK UINT32_C(0x7fffffff)

static uint64_t tag(int fd, uint32_t gen)
{
    return (uint64_t)(uint32_t)fd | (uint64_t)(gen & GEN_MASK) << 32;
}

/* Sets the ring up with the flags that pay (kernel 6.1+), falling back to
 * fewer on older kernels (EINVAL). Returns 0 or -errno (ENOSYS, EPERM under
 * seccomp or kernel.io_uring_disabled: the caller falls back to epoll). */
static int ring_init(struct io_uring *ring)
{
    static const unsigned tries[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        0,
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof tries / sizeof tries[0] && rc == -EINVAL; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = tries[i] | IORING_SETUP_CQSIZE;
        p.cq_entries = SQ_ENTRIES * 16; /* multishot: many completions per request */
        rc = io_uring_queue_init_params(SQ_ENTRIES, ring, &p);
    }
    return rc;
}

int ss__uring_create(ss__uring **out, int max_events)
{
    ss__uring *u = calloc(1, sizeof *u);
    if (!u) return -ENOMEM;
    u->max = max_events > 0 ? max_events : 256;
    u->out = calloc((size_t)u->max, sizeof *u->out);
    if (!u->out) {
        free(u);
        return -ENOMEM;
    }
    int rc = ring_init(&u->ring);
    if (rc < 0) {
        free(u->out);
        free(u);
        return rc;
    }
    *out = u;
    return 0;
}

void ss__uring_destroy(ss__uring *u)
{
    if (!u) return;
    io_uring_queue_exit(&u->ring);
    free(u->slots);
    free(u->out);
    free(u);
}

static uslot *slot(ss__uring *u, int fd)
{
    if (fd < 0) return NULL;
    if (fd >= u->nslots) {
        int n = u->nslots ? u->nslots : 64;
        while (n <= fd) n *= 2;
        uslot *s = realloc(u->slots, (size_t)n * sizeof *s);
        if (!s) return NULL;
        memset(s + u->nslots, 0, (size_t)(n - u->nslots) * sizeof *s);
        u->slots = s;
        u->nslots = n;
    }
    return &u->slots[fd];
}

/* A free submission entry; a full ring goes to the kernel first. */
static struct io_uring_sqe *sqe_get(ss__uring *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) {
        io_uring_submit(&u->ring);
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

static int arm(ss__uring *u, int fd, uslot *s)
{
    struct io_uring_sqe *sqe = sqe_get(u);
    if (!sqe) return -EBUSY;
    io_uring_prep_poll_multishot(sqe, fd, s->mask);
    io_uring_sqe_set_data64(sqe, tag(fd, s->gen));
    return 0;
}

/* Asks the kernel to remove the request tagged target. */
static int remove_req(ss__uring *u, uint64_t target)
{
    struct io_uring_sqe *sqe = sqe_get(u);
    if (!sqe) return -EBUSY;
    io_uring_prep_poll_remove(sqe, target);
    io_uring_sqe_set_data64(sqe, target | REMOVAL);
    return 0;
}

/* Cancels fd's request, if any; its late completions are then of an older
 * generation. */
static int disarm(ss__uring *u, int fd, uslot *s)
{
    if (!s->mask) return 0;
    s->mask = 0;
    return remove_req(u, tag(fd, s->gen++));
}

static unsigned ring_mask(int how)
{
    switch (how) {
    case SS__POLLER_IN:
        return POLLIN;
    case SS__POLLER_SHARED:
        return POLLIN | EPOLLEXCLUSIVE; /* one loop woken per new client */
    default:
        return POLLIN | POLLOUT | POLLRDHUP;
    }
}

int ss__uring_add(ss__uring *u, int fd, int how)
{
    uslot *s = slot(u, fd);
    if (!s) return fd < 0 ? -EBADF : -ENOMEM;
    if (s->mask) return -EEXIST;
    s->mask = ring_mask(how);
    return arm(u, fd, s);
}

int ss__uring_del(ss__uring *u, int fd)
{
    uslot *s = slot(u, fd);
    if (!s) return fd < 0 ? -EBADF : -ENOMEM;
    if (!s->mask) return -ENOENT;
    return disarm(u, fd, s);
}

void ss__uring_closing(ss__uring *u, int fd)
{
    if (fd >= 0 && fd < u->nslots) disarm(u, fd, &u->slots[fd]);
}

static unsigned poll_bits(unsigned e)
{
    unsigned r = e & (POLLIN | POLLOUT | POLLERR | POLLHUP);
    if (e & POLLRDHUP) r |= POLLIN | POLLRDHUP;
    return r;
}

/* One completion: 1 if it is an event for the loop, with *ev filled. */
static int on_cqe(ss__uring *u, const struct io_uring_cqe *cqe, ss__poll_event *ev)
{
    uint64_t data = io_uring_cqe_get_data64(cqe);
    if (data & REMOVAL) {
        /* EALREADY: the request was running its wakeup and goes on (a
         * multishot one is not ended); ask again, or it would hold its
         * file (and the peer would never see our close) until it fires. */
        if (cqe->res == -EALREADY) remove_req(u, data & ~REMOVAL);
        return 0;
    }
    int fd = (int)(uint32_t)data;
    uint32_t gen = (uint32_t)(data >> 32);
    if (fd < 0 || fd >= u->nslots) return 0;
    uslot *s = &u->slots[fd];
    if ((s->gen & GEN_MASK) != gen || !s->mask) return 0; /* cancelled, or an older descriptor */
    if (cqe->res == -EINVAL && (s->mask & EPOLLEXCLUSIVE)) {
        s->mask &= ~(unsigned)EPOLLEXCLUSIVE; /* a kernel without exclusive multishot */
        s->gen++;
        arm(u, fd, s);
        return 0;
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        /* The request ended (an error, or the kernel stopped it: a full
         * completion ring). Arm it again: a new request reports the state
         * the file is in, so no edge is lost. */
        s->gen++;
        arm(u, fd, s);
        if (cqe->res < 0 && cqe->res != -ECANCELED) {
            *ev = (ss__poll_event){.fd = fd, .events = POLLERR};
            return 1;
        }
    }
    if (cqe->res <= 0) return 0;
    *ev = (ss__poll_event){.fd = fd, .events = poll_bits((unsigned)cqe->res)};
    return 1;
}

int ss__uring_wait(ss__uring *u, int timeout_ms, const ss__poll_event **out)
{
    struct io_uring_cqe *cqe = NULL;
    int rc;
    if (timeout_ms < 0) {
        rc = io_uring_submit_and_wait(&u->ring, 1);
    } else {
        struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
                                       .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
        rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) return rc;
    int n = 0;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&u->ring, head, cqe)
    {
        if (n == u->max) break;
        seen++;
        if (on_cqe(u, cqe, &u->out[n])) n++;
    }
    io_uring_cq_advance(&u->ring, seen);
    *out = u->out;
    return n;
}
