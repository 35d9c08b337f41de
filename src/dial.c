/* dial.c - the client side: a connection from ss_dial has the same calls as
 * a handler's, and ss_request is a datagram request that never hangs (the
 * seed's udpc1 "hangs if no response"; this one retries, then says so). */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_ADDRS 16

static int dial_one(ss_conn_t **out, const ss_addr_t *a, int64_t deadline)
{
    int fd = ss__connect(a, deadline);
    if (fd < 0) return fd;
    ss_conn_t *c = malloc(sizeof *c);
    if (!c) {
        ss__fd_closing(fd);
        close(fd);
        return -ENOMEM;
    }
    ss__conn_init(c, fd, a->transport, NULL);
    c->flags |= SS__C_DIALED;
    c->peer = *a;
    c->cancel_fd = ss__ctx_get()->cancel_fd;
    ss__local_addr(fd, a->transport, &c->local);
    *out = c;
    return 0;
}

int ss_dial(const char *address, int64_t deadline, ss_conn_t **out)
{
    ss_addr_t addrs[MAX_ADDRS];
    if (!out || !address) return ss__fail(SS_EUSAGE, "dial");
    *out = NULL;
    int n = ss_addr_resolve(address, addrs, MAX_ADDRS);
    if (n < 0) return n;
    int rc = -ECONNREFUSED;
    /* Each address of a name in turn, as getaddrinfo(3) orders them. */
    for (int i = 0; i < n; i++) {
        rc = dial_one(out, &addrs[i], deadline);
        if (rc == 0 || rc == -ETIMEDOUT || rc == -ECANCELED) break;
    }
    if (rc < 0) return ss__fail(rc, "connect %s", address);
    return 0;
}

void ss_conn_close(ss_conn_t *c)
{
    if (!c) return;
    if (c->flags & SS__C_DIALED) {
        if (!(c->flags & SS__C_FAILED)) ss_flush(c);
        ss__fd_closing(c->fd);
        close(c->fd);
        ss__conn_release(c);
        free(c);
    }
}

/* Receives one datagram as the reply. A reply larger than cap is reported,
 * not cut silently. */
static ssize_t await_reply(ss_conn_t *c, void *reply, size_t cap, int64_t deadline)
{
    int64_t saved = c->deadline;
    c->deadline = ss__min_deadline(saved, deadline);
    c->rpos = c->rlen = 0; /* drop what is left of an earlier reply */
    ssize_t n = cap > 0 ? ss_read(c, reply, cap) : 0;
    if (n >= 0 && c->rpos < c->rlen) n = ss__conn_fail(c, SS_ETRUNC, "reply from");
    c->deadline = saved;
    return n;
}

/* Sends the request datagram. An empty one is a request too (RFC 867 and
 * RFC 868 over UDP), but ss_flush sends nothing when nothing was written:
 * send it here. */
/* One request datagram; a zero-length request is a datagram too (RFC 867
 * and 868 over UDP), as a zero-length ss_write marks a reply. */
static int send_request(ss_conn_t *c, const void *req, size_t n)
{
    c->wlen = 0;
    int rc = ss_write(c, req, n);
    return rc < 0 ? rc : ss_flush(c);
}

/* Each send waits for its reply an even share of the time left to the sends
 * that remain (resolv.conf(5): timeout and attempts). */
ssize_t ss_request(ss_conn_t *c, const void *req, size_t n, void *reply, size_t cap,
                   int64_t deadline, int tries)
{
    if (!(c->flags & SS__C_DGRAM) || !(c->flags & SS__C_DIALED))
        return ss__conn_fail(c, SS_EUSAGE, "request (needs a dialed datagram connection)");
    if (deadline <= 0) return ss__conn_fail(c, SS_EUSAGE, "request (needs a deadline)");
    if (tries < 1) tries = 1;
    for (int left = tries; left > 0; left--) {
        int rc = send_request(c, req, n);
        if (rc < 0) return rc;
        int64_t now = ss_now_ms();
        int64_t share = deadline > now ? (deadline - now) / left : 0;
        ssize_t r = await_reply(c, reply, cap, left == 1 ? deadline : now + share);
        if (r != -ETIMEDOUT) return r;
    }
    return ss__conn_fail(c, -ETIMEDOUT, "no reply from");
}
