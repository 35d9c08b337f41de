/* poller.h - the loop's readiness backend: epoll today (poll_epoll.c),
 * io_uring or kqueue later behind the same few calls. Each descriptor is
 * registered once, edge-triggered for both directions, so that no call is
 * made per request (docs/design.md, "Measured facts"). */
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

/* Creates a poller returning at most max_events per wait. 0 or -errno. */
int ss__poller_create(ss__poller **out, int max_events);
void ss__poller_destroy(ss__poller *p);
/* Registers fd once, as how says. 0 or -errno (-EEXIST if already there). */
int ss__poller_add(ss__poller *p, int fd, int how);
/* Unregisters fd. Closing fd does it too, when no other descriptor refers to
 * the same open file (epoll(7), "Q6"). */
int ss__poller_del(ss__poller *p, int fd);
/* Waits up to timeout_ms (-1: forever, 0: just look) and points *out at the
 * ready events. Returns their count (0 on timeout or EINTR) or -errno. */
int ss__poller_wait(ss__poller *p, int timeout_ms, const ss__poll_event **out);

#endif /* SS_EVENT_POLLER_H */
