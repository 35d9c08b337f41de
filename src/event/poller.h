/* poller.h - the loop's readiness backend: epoll (poll_epoll.c) or io_uring
 * (poll_uring.c, when built with liburing), chosen when the loop is made
 * (poller.c). Each descriptor is registered once, edge-triggered for both
 * directions, so that no call is made per request (docs/design.md,
 * "Measured facts"). */
#ifndef SS_EVENT_POLLER_H
#define SS_EVENT_POLLER_H

typedef struct ss__poller ss__poller;

/* Ready events, in poll(2)'s bits: POLLIN, POLLOUT, POLLERR, POLLHUP, and
 * POLLRDHUP with POLLIN when the peer shut its sending side (a read returns
 * 0 once the data before it is read). */
typedef struct ss__poll_event {
    int fd;
    unsigned events;
} ss__poll_event;

/* How a descriptor is registered. */
enum {
    SS__POLLER_RW = 0,    /* edge-triggered input and output (connections) */
    SS__POLLER_IN = 1,    /* edge-triggered input (eventfds, cancel) */
    SS__POLLER_SHARED = 2 /* edge-triggered input, EPOLLEXCLUSIVE: a listener
                            shared by several loops, one woken per event */
};

/* Creates a poller of the kind asked (an ss_poller_t: SS_POLLER_AUTO picks,
 * see ss__poller_resolve) returning at most max_events per wait. 0 or
 * -errno: SS_EMODE for io_uring in a build without liburing, the kernel's
 * refusal (ENOSYS, EPERM) when io_uring was asked for by name. */
int ss__poller_create(ss__poller **out, int max_events, int kind);
/* The kind SS_POLLER_AUTO stands for here: the SS_POLLER environment
 * variable ("epoll", "io_uring") when set, else the default (poller.c). */
int ss__poller_resolve(int kind);
/* "epoll" or "io_uring": what p runs on. */
const char *ss__poller_name(const ss__poller *p);
void ss__poller_destroy(ss__poller *p);
/* Registers fd once, as how says. 0 or -errno (-EEXIST if already there). */
int ss__poller_add(ss__poller *p, int fd, int how);
/* Unregisters fd. Closing fd does it too, when no other descriptor refers to
 * the same open file (epoll(7), "Q6"). */
int ss__poller_del(ss__poller *p, int fd);
/* fd is about to be closed by its only owner, or its number was just given
 * to a new file: epoll forgets it by itself (no call), io_uring must cancel
 * its request, which holds the file open (poll_uring.c). */
void ss__poller_closing(ss__poller *p, int fd);
/* Waits up to timeout_ms (-1: forever, 0: just look) and points *out at the
 * ready events. Returns their count (0 on timeout or EINTR) or -errno. */
int ss__poller_wait(ss__poller *p, int timeout_ms, const ss__poll_event **out);

#endif /* SS_EVENT_POLLER_H */
