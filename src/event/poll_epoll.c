/* poll_epoll.c - the poller on Linux epoll(7). Edge-triggered: the loop
 * latches each edge until a coroutine consumes it, so none is lost. */
#include "poll_epoll.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct ss__epoll {
    int epfd;
    int max;
    struct epoll_event *ev;
    ss__poll_event *out;
};

int ss__epoll_create(ss__epoll **out, int max_events)
{
    ss__epoll *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->max = max_events > 0 ? max_events : 256;
    p->ev = calloc((size_t)p->max, sizeof *p->ev);
    p->out = calloc((size_t)p->max, sizeof *p->out);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!p->ev || !p->out || p->epfd < 0) {
        int err = p->epfd < 0 ? -errno : -ENOMEM;
        ss__epoll_destroy(p);
        return err;
    }
    *out = p;
    return 0;
}

void ss__epoll_destroy(ss__epoll *p)
{
    if (!p) return;
    if (p->epfd >= 0) close(p->epfd);
    free(p->ev);
    free(p->out);
    free(p);
}

static unsigned epoll_flags(int how)
{
    switch (how) {
    case SS__POLLER_IN:
        return EPOLLIN | EPOLLET;
    case SS__POLLER_SHARED:
        return EPOLLIN | EPOLLET | EPOLLEXCLUSIVE;
    default:
        return EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    }
}

int ss__epoll_add(ss__epoll *p, int fd, int how)
{
    struct epoll_event e = {.events = epoll_flags(how), .data.fd = fd};
    return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &e) == 0 ? 0 : -errno;
}

int ss__epoll_del(ss__epoll *p, int fd)
{
    struct epoll_event e = {0}; /* non-NULL for kernels before 2.6.9 */
    return epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, &e) == 0 ? 0 : -errno;
}

static unsigned poll_bits(unsigned e)
{
    unsigned r = 0;
    if (e & (EPOLLIN | EPOLLRDHUP)) r |= POLLIN;
    if (e & EPOLLRDHUP) r |= POLLRDHUP;
    if (e & EPOLLOUT) r |= POLLOUT;
    if (e & EPOLLERR) r |= POLLERR;
    if (e & EPOLLHUP) r |= POLLHUP;
    return r;
}

int ss__epoll_wait(ss__epoll *p, int timeout_ms, const ss__poll_event **out)
{
    int n = epoll_wait(p->epfd, p->ev, p->max, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++)
        p->out[i] = (ss__poll_event){.fd = p->ev[i].data.fd, .events = poll_bits(p->ev[i].events)};
    *out = p->out;
    return n;
}
