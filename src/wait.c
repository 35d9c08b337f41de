/* wait.c - the single seam between handler I/O and the server mode.
 * Blocking modes wait here with poll(2); the event mode installs an
 * ss__waiter in the coroutine's context that parks the coroutine instead, and
 * answers the seam's other questions (a descriptor closing, an offload). */
#include "internal.h"

#include <errno.h>
#include <unistd.h>

int ss__wait(int fd, int events, int64_t deadline, int cancel_fd)
{
    const ss__waiter *w = ss__ctx_get()->waiter;
    if (w) return w->wait(w->self, fd, events, deadline, cancel_fd);
    return ss__poll_wait(fd, events, deadline, cancel_fd);
}

int ss_sleep_until(int64_t deadline)
{
    if (deadline <= 0 || deadline <= ss_now_ms()) return 0;
    int rc = ss__wait(-1, 0, deadline, ss__ctx_get()->cancel_fd);
    return rc == -ETIMEDOUT ? 0 : rc;
}

int ss_offload(ss_offload_fn *fn, void *arg)
{
    if (!fn) return ss__fail(SS_EUSAGE, "ss_offload");
    const ss__waiter *w = ss__ctx_get()->waiter;
    if (w && w->offload) return w->offload(w->self, fn, arg);
    fn(arg); /* a thread or a process of its own: blocking is allowed here */
    return 0;
}

void ss__fd_closing(int fd)
{
    const ss__waiter *w = ss__ctx_get()->waiter;
    if (w && w->closing) w->closing(w->self, fd);
}

int ss__wait_cancelled(void)
{
    const ss__waiter *w = ss__ctx_get()->waiter;
    return w && w->cancelled && w->cancelled(w->self);
}

/* poll(2) on the descriptor and the cancel eventfd. EINTR restarts with the
 * remaining time: a signal is not a timeout. */
int ss__poll_wait(int fd, int events, int64_t deadline, int cancel_fd)
{
    struct pollfd p[2];
    int n = 0;
    if (fd >= 0) p[n++] = (struct pollfd){.fd = fd, .events = (short)events};
    if (cancel_fd >= 0) p[n++] = (struct pollfd){.fd = cancel_fd, .events = POLLIN};
    for (;;) {
        int rc = poll(p, (nfds_t)n, ss__poll_timeout(deadline));
        if (rc < 0) {
            if (errno == EINTR) continue;
            return ss__errno();
        }
        if (cancel_fd >= 0 && (p[n - 1].revents & POLLIN)) return -ECANCELED;
        if (rc == 0) {
            if (deadline > 0 && ss_now_ms() >= deadline) return -ETIMEDOUT;
            if (deadline <= 0 && fd < 0 && cancel_fd < 0) return 0;
            continue;
        }
        /* POLLERR/POLLHUP count as ready: the next syscall reports why. */
        return 0;
    }
}

/* The eventfds that wake serving loops (shutdown, a request taken in
 * elsewhere): one write makes it readable, and reads empty it. */
void ss__eventfd_signal(int fd)
{
    uint64_t one = 1;
    ssize_t w = write(fd, &one, sizeof one); /* write(2) is async-signal-safe */
    (void)w;
}

void ss__eventfd_drain(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof v) > 0) {
    }
}
