/* poller.c - the choice between the loop's two pollers, and the calls that
 * go to the one chosen (a branch per call, no indirect call). */
#include "poller.h"

#include "internal.h"
#include "poll_epoll.h"
#ifdef SS_HAVE_URING
#include "poll_uring.h"
#endif

#include <stdlib.h>
#include <string.h>

struct ss__poller {
    ss__epoll *ep;
#ifdef SS_HAVE_URING
    ss__uring *ur;
#endif
};

/* The default for SS_POLLER_AUTO: see docs/design.md, "The event loop's
 * pollers", for the measurements behind it. */
#define POLLER_DEFAULT SS_POLLER_EPOLL

int ss__poller_resolve(int kind)
{
    if (kind != SS_POLLER_AUTO) return kind;
    const char *env = getenv("SS_POLLER");
    if (env && strcmp(env, "io_uring") == 0) return SS_POLLER_IO_URING;
    if (env && strcmp(env, "epoll") == 0) return SS_POLLER_EPOLL;
    return POLLER_DEFAULT;
}

int ss__poller_create(ss__poller **out, int max_events, int kind)
{
    ss__poller *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    int want = ss__poller_resolve(kind);
    int rc = SS_EMODE; /* io_uring asked for, in a build without it */
#ifdef SS_HAVE_URING
    if (want == SS_POLLER_IO_URING) {
        rc = ss__uring_create(&p->ur, max_events);
        /* AUTO falls back to epoll where the kernel refuses io_uring
         * (too old, kernel.io_uring_disabled, seccomp); a name does not. */
        if (rc < 0 && kind == SS_POLLER_AUTO) want = SS_POLLER_EPOLL;
    }
#else
    if (want == SS_POLLER_IO_URING && kind == SS_POLLER_AUTO) want = SS_POLLER_EPOLL;
#endif
    if (want == SS_POLLER_EPOLL) rc = ss__epoll_create(&p->ep, max_events);
    if (rc < 0) {
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void ss__poller_destroy(ss__poller *p)
{
    if (!p) return;
#ifdef SS_HAVE_URING
    ss__uring_destroy(p->ur);
#endif
    ss__epoll_destroy(p->ep);
    free(p);
}

const char *ss__poller_name(const ss__poller *p)
{
    return p->ep ? "epoll" : "io_uring";
}

#ifdef SS_HAVE_URING
#define DISPATCH(call_ep, call_ur) return p->ep ? (call_ep) : (call_ur)
#else
#define DISPATCH(call_ep, call_ur) return (call_ep)
#endif

int ss__poller_add(ss__poller *p, int fd, int how)
{
    DISPATCH(ss__epoll_add(p->ep, fd, how), ss__uring_add(p->ur, fd, how));
}

int ss__poller_del(ss__poller *p, int fd)
{
    DISPATCH(ss__epoll_del(p->ep, fd), ss__uring_del(p->ur, fd));
}

void ss__poller_closing(ss__poller *p, int fd)
{
#ifdef SS_HAVE_URING
    if (p->ur) ss__uring_closing(p->ur, fd);
#else
    (void)p;
    (void)fd;
#endif
}

int ss__poller_wait(ss__poller *p, int timeout_ms, const ss__poll_event **out)
{
    DISPATCH(ss__epoll_wait(p->ep, timeout_ms, out), ss__uring_wait(p->ur, timeout_ms, out));
}
