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

/* The deadline of one attempt when `left` attempts remain (this one
 * included): the last gets all the time there is, every other a fair share
 * of it, so that one address that never answers (a black hole: no RST, no
 * ICMP) cannot eat the whole deadline before the others are tried. Go's
 * dialSerial divides the time left the same way (net/dial.go,
 * partialDeadline). Rounded up, so a share is never zero. */
static int64_t attempt_deadline(int64_t deadline, int left)
{
    if (deadline <= 0 || left <= 1) return deadline;
    int64_t now = ss_now_ms();
    if (now >= deadline) return deadline;
    return now + (deadline - now + left - 1) / left;
}

/* Whether a failed attempt leaves the next address worth trying: not after
 * a cancel (shutdown) and not once the caller's deadline has passed. Any
 * other failure is the address's own: refused, unreachable, reset, or its
 * share of the time gone. */
static int try_next(int rc, int64_t deadline)
{
    if (rc == -ECANCELED) return 0;
    return deadline <= 0 || ss_now_ms() < deadline;
}

/* Connects to one of address's addresses (ss_dial's rules). */
static int dial_addrs(const char *address, int64_t deadline, ss_conn_t **out)
{
    ss_addr_t addrs[MAX_ADDRS];
    /* A datagram connect(2) sends nothing, so no attempt could fail over to
     * the next address: take the one a server on the same name listens on. */
    int dgram = strncmp(address, "udp://", 6) == 0 || strncmp(address, "unixgram:", 9) == 0;
    int n = dgram ? ss_addr_parse(address, &addrs[0]) : ss_addr_resolve(address, addrs, MAX_ADDRS);
    if (n < 0) return n;
    if (dgram) n = 1;
    int rc = -ECONNREFUSED;
    /* The addresses in ss_addr_resolve's order (RFC 8305 section 4), one
     * after another rather than raced as RFC 8305 section 5 would: a
     * second socket per dial is not worth it for the names this library
     * dials, and the shares of the deadline bound the cost of a dead one. */
    for (int i = 0; i < n; i++) {
        rc = dial_one(out, &addrs[i], attempt_deadline(deadline, n - i));
        if (rc == 0 || !try_next(rc, deadline)) break;
    }
    if (rc < 0) return ss__fail(rc, "connect %s", address);
    return 0;
}

int ss_dial(const char *address, int64_t deadline, ss_conn_t **out)
{
    if (!out || !address) return ss__fail(SS_EUSAGE, "dial");
    *out = NULL;
    if (strncmp(address, "tls://", 6) == 0) return ss_dial_tls(address, NULL, deadline, out);
    return dial_addrs(address, deadline, out);
}

/* The host of "tls://HOST:PORT" or "tls://[V6]:PORT", for SNI and the
 * verification of the server's name. The address was parsed already. */
static void host_of(const char *address, char *host, size_t cap)
{
    const char *h = address + 6;
    size_t n;
    if (*h == '[') {
        h++;
        n = strcspn(h, "]%");
    } else {
        const char *colon = strrchr(h, ':');
        n = colon ? (size_t)(colon - h) : strlen(h);
    }
    if (n >= cap) n = 0; /* too long for a name: verified as none, so refused */
    memcpy(host, h, n);
    host[n] = '\0';
}

/* The handshake, bounded by the dial's deadline; ss_errmsg() then says why
 * it failed ("tls handshake tls://...: certificate verify failed: ..."). */
static int handshake(ss_conn_t *c, ss__tls *t, const char *address, int64_t deadline)
{
    char host[256];
    host_of(address, host, sizeof host);
    int rc = ss__tls_push_client(c, t, host);
    if (rc < 0) return rc;
    c->deadline = deadline;
    rc = ss__conn_start(c);
    c->deadline = 0;
    return rc;
}

int ss_dial_tls(const char *address, const ss_tls_config_t *tls, int64_t deadline, ss_conn_t **out)
{
    if (!out || !address) return ss__fail(SS_EUSAGE, "dial");
    *out = NULL;
    if (strncmp(address, "tls://", 6) != 0)
        return ss__fail_plain(SS_EUSAGE, "dial %.100s: not a tls:// address", address);
    ss__tls *t;
    int rc = ss__tls_client_new(tls, &t);
    if (rc < 0) return rc;
    ss_conn_t *c = NULL;
    rc = dial_addrs(address, deadline, &c);
    if (rc == 0 && c) rc = handshake(c, t, address, deadline);
    ss__tls_free(t); /* each session holds the context it needs */
    if (rc < 0) {
        char msg[SS__ERRMSG_MAX];
        memcpy(msg, ss_errmsg(), sizeof msg);
        ss_conn_close(c);
        return ss__fail_plain(rc, "%s", msg);
    }
    *out = c;
    return 0;
}

void ss_conn_close(ss_conn_t *c)
{
    if (!c) return;
    if (c->flags & SS__C_DIALED) {
        if (!(c->flags & SS__C_FAILED)) ss_flush(c);
        ss__conn_drop_layers(c); /* while the socket is open: TLS sends close_notify */
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
