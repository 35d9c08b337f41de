/* layer_socket.c - the first connection layer: the stream socket itself,
 * non-blocking, under every stream connection (internal.h, ss__layer). send
 * uses MSG_NOSIGNAL so a closed peer is an EPIPE error, never a SIGPIPE
 * (send(2)). EINTR is retried here: a signal is not an error. */
#include "internal.h"

#include <sys/socket.h>

static ssize_t sock_recv(ss__layer *l, void *buf, size_t n, int *events)
{
    for (;;) {
        ssize_t r = recv(l->fd, buf, n, 0);
        if (r >= 0) return r;
        int err = ss__errno();
        if (err == -EINTR) continue;
        if (err == -EAGAIN) *events = POLLIN;
        return err;
    }
}

static ssize_t sock_send(ss__layer *l, const void *buf, size_t n, int *events)
{
    for (;;) {
        ssize_t w = send(l->fd, buf, n, MSG_NOSIGNAL);
        if (w >= 0) return w;
        int err = ss__errno();
        if (err == -EINTR) continue;
        if (err == -EAGAIN) *events = POLLOUT;
        return err;
    }
}

static int sock_shutdown(ss__layer *l, int *events)
{
    *events = 0; /* shutdown(2) does not wait */
    return shutdown(l->fd, SHUT_WR) < 0 ? ss__errno() : 0;
}

const ss__layer_ops ss__layer_socket = {
    .name = "socket",
    .flags = SS__LAYER_SHORT_READ_DRAINS,
    .recv = sock_recv,
    .send = sock_send,
    .shutdown = sock_shutdown,
};
