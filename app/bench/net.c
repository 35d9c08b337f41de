/* net.c - what the generator's workers and its start share: the request
 * bytes and their check, the non-blocking connect, and the probe that makes a
 * dead or silent target fail in --timeout rather than hang the run. */
#include "bench.h"
#include "proxy_hdr.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
#define NALPHA (sizeof alphabet - 1)

/* The alphabet repeated over size + NALPHA bytes: every request body is a
 * window of it, so building or checking one is a memcpy or memcmp. */
static char *template_bytes;

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bench_pattern_init(size_t size)
{
    free(template_bytes);
    template_bytes = malloc(size + NALPHA);
    if (!template_bytes) abort();
    for (size_t i = 0; i < size + NALPHA; i++) template_bytes[i] = alphabet[i % NALPHA];
}

unsigned bench_shift(uint32_t id, uint64_t r)
{
    return (unsigned)(((uint64_t)id + r) % NALPHA);
}

const char *bench_body(unsigned shift)
{
    return template_bytes + shift;
}

int bench_verify(uint32_t id, uint64_t off, const char *buf, size_t n, size_t size)
{
    while (n > 0) {
        uint64_t r = off / size;
        size_t o = (size_t)(off % size);
        if (o == size - 1) {
            if (*buf != '\n') return 0;
            buf++, n--, off++;
            continue;
        }
        size_t len = size - 1 - o < n ? size - 1 - o : n;
        if (memcmp(buf, bench_body(bench_shift(id, r)) + o, len) != 0) return 0;
        buf += len, n -= len, off += len;
    }
    return 1;
}

/* A unixgram client needs an address of its own for the reply to come back:
 * binding with only the family asks Linux to autobind an abstract name
 * (unix(7), "Autobind feature"). */
static int autobind(int fd)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_family = AF_UNIX;
    return bind(fd, (struct sockaddr *)&ss, sizeof(sa_family_t));
}

int bench_socket_connect(const ss_addr_t *a, int *in_progress)
{
    int stream = a->transport == SS_TCP || a->transport == SS_TLS || a->transport == SS_UNIX;
    int type = (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
    int fd = socket(a->sa.ss_family, type, 0);
    if (fd < 0) return -errno;
    int one = 1;
    /* Small requests, possibly pipelined: Nagle would hold them back. */
    if (a->transport == SS_TCP || a->transport == SS_TLS)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (a->transport == SS_UNIXGRAM && autobind(fd) < 0) goto fail;
    *in_progress = 0;
    if (connect(fd, (const struct sockaddr *)&a->sa, a->len) == 0) return fd;
    if (errno == EINPROGRESS) {
        *in_progress = 1;
        return fd;
    }
fail:;
    int err = -errno;
    close(fd);
    return err;
}

/* ------------------------------------------------------------- the probe */

static int64_t ms_left(int64_t deadline_ns)
{
    int64_t left = (deadline_ns - bench_now_ns() + 999999) / 1000000;
    return left > 0 ? left : 0;
}

/* Waits for events on fd until the deadline: 1 ready, 0 timed out. */
static int wait_fd(int fd, short events, int64_t deadline_ns)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)ms_left(deadline_ns));
        if (n >= 0) return n;
        if (errno != EINTR) return -errno;
    }
}

static int connected(int fd, int in_progress, int64_t deadline)
{
    if (!in_progress) return 0;
    int r = wait_fd(fd, POLLOUT, deadline);
    if (r <= 0) return r == 0 ? -ETIMEDOUT : r;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
    return -err;
}

static void request_bytes(char *buf, size_t size)
{
    memcpy(buf, bench_body(bench_shift(0, 0)), size - 1);
    buf[size - 1] = '\n';
}

/* The probe's stream: a socket, or a TLS session on it. */
typedef struct pstream {
    int fd;
    void *ssl;
    char *msg; /* a TLS failure's text */
    size_t cap;
} pstream_t;

/* As send(2) and recv(2): bytes, 0 (recv: the end), or a negative errno
 * (-EAGAIN to wait; SS_ETLS with msg filled). */
static ssize_t ps_send(pstream_t *p, const char *buf, size_t n)
{
    if (p->ssl) return bench_tls_write(p->ssl, buf, n, p->msg, p->cap);
    ssize_t w = send(p->fd, buf, n, MSG_NOSIGNAL);
    return w >= 0 ? w : errno == EINTR ? -EAGAIN : -errno;
}

static ssize_t ps_recv(pstream_t *p, char *buf, size_t n)
{
    if (p->ssl) return bench_tls_read(p->ssl, buf, n, p->msg, p->cap);
    ssize_t r = recv(p->fd, buf, n, 0);
    return r >= 0 ? r : errno == EINTR ? -EAGAIN : -errno;
}

/* The TLS handshake within the deadline. 0, or a negative errno / SS_ETLS
 * with msg filled. */
static int probe_handshake(pstream_t *p, int64_t deadline)
{
    for (;;) {
        int r = bench_tls_handshake(p->ssl, p->msg, p->cap);
        if (r != 0) return r > 0 ? 0 : r;
        r = wait_fd(p->fd, POLLIN | POLLOUT, deadline);
        if (r <= 0) {
            snprintf(p->msg, p->cap, "TLS handshake: no answer within the timeout");
            return r == 0 ? -ETIMEDOUT : r;
        }
    }
}

/* Sends one request and reads until the whole reply, end of stream or the
 * deadline, into buf (size + 1 bytes). Reading it all lets the probe end
 * with an orderly close rather than a reset that the server would log.
 * Returns the bytes received (0: the server closed without a word, or said
 * nothing before the deadline with *silent set) or a negative errno. */
static int probe_stream(pstream_t *p, const bench_opts_t *o, char *buf, int64_t deadline,
                        int *silent)
{
    request_bytes(buf, o->size);
    size_t sent = 0, got = 0;
    *silent = 0;
    while (sent < o->size) {
        ssize_t n = ps_send(p, buf + sent, o->size - sent);
        if (n > 0)
            sent += (size_t)n;
        else if (n == -EAGAIN) {
            if (wait_fd(p->fd, POLLOUT | POLLIN, deadline) == 0) return -ETIMEDOUT;
        } else
            return n == 0 ? -EPIPE : (int)n;
    }
    while (got < o->size) {
        ssize_t n = ps_recv(p, buf + got, o->size - got);
        if (n == 0) return (int)got;
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n != -EAGAIN) return (int)n;
        int r = wait_fd(p->fd, POLLIN, deadline);
        if (r < 0) return r;
        if (r == 0) {
            *silent = got == 0;
            return (int)got;
        }
    }
    return (int)got;
}

/* What the connect pattern will measure, from the probe's one exchange: a
 * server that sent back the request answers (echo), one that said
 * something else speaks unasked (daytime, time), one that said nothing
 * within --timeout never answers (discard). */
static bench_reply_t classify(const bench_opts_t *o, const char *buf, int got, int silent)
{
    if (silent) return BENCH_REPLY_NONE;
    if ((size_t)got == o->size && bench_verify(0, 0, buf, (size_t)got, o->size))
        return BENCH_REPLY_ECHO;
    return BENCH_REPLY_UNASKED;
}

/* Datagrams may be lost: three tries, each a third of the timeout. */
static int probe_dgram(int fd, const bench_opts_t *o, char *buf, int64_t deadline)
{
    int64_t start = bench_now_ns();
    int64_t slice = (deadline - start) / 3;
    for (int i = 1; i <= 3; i++) {
        request_bytes(buf, o->size);
        if (send(fd, buf, o->size, 0) < 0 && errno != EAGAIN) return -errno;
        int r = wait_fd(fd, POLLIN, i == 3 ? deadline : start + i * slice);
        if (r < 0) return r;
        if (r == 0) continue;
        ssize_t n = recv(fd, buf, o->size + 1, 0);
        if (n >= 0) return n > 0 ? (int)n : 1;
        if (errno != EAGAIN && errno != EINTR) return -errno;
    }
    return -ETIMEDOUT;
}

static int probe_fail(const bench_opts_t *o, char *msg, size_t cap, int err, const char *what)
{
    if (err == SS_ETLS || (*msg && strncmp(msg, "TLS ", 4) == 0)) {
        char why[256];
        snprintf(why, sizeof why, "%s", msg);
        snprintf(msg, cap, "%s %s: %s", what, o->target, why);
    } else if (err == -ETIMEDOUT)
        snprintf(msg, cap, "%s %s: no answer within %g s", what, o->target, o->timeout);
    else
        snprintf(msg, cap, "%s %s: %s", what, o->target, ss_strerror(err));
    return err;
}

int bench_send_proxy(int fd, const bench_opts_t *o)
{
    if (!o->proxy) return 0;
    struct sockaddr_storage src, dst;
    socklen_t sl = sizeof src, dl = sizeof dst;
    if (getsockname(fd, (struct sockaddr *)&src, &sl) < 0 ||
        getpeername(fd, (struct sockaddr *)&dst, &dl) < 0)
        return -errno;
    unsigned char h[PROXY_HDR_MAX];
    int n = proxy_header(o->proxy, &src, &dst, h, sizeof h);
    if (n < 0) return n;
    ssize_t w = send(fd, h, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) return -errno;
    return w == n ? 0 : -EAGAIN;
}

int bench_probe(bench_opts_t *o, char *msg, size_t cap)
{
    int64_t deadline = bench_now_ns() + (int64_t)(o->timeout * 1e9);
    *msg = '\0';
    int in_progress = 0;
    int fd = bench_socket_connect(&o->addr, &in_progress);
    if (fd < 0) return probe_fail(o, msg, cap, fd, "connect");
    int r = connected(fd, in_progress, deadline);
    if (r < 0) {
        close(fd);
        return probe_fail(o, msg, cap, r, "connect");
    }
    r = bench_send_proxy(fd, o);
    if (r < 0) {
        close(fd);
        return probe_fail(o, msg, cap, r, "PROXY header to");
    }
    pstream_t p = {.fd = fd, .msg = msg, .cap = cap};
    if (o->tls) {
        p.ssl = bench_tls_new(o, fd, NULL);
        r = p.ssl ? probe_handshake(&p, deadline) : -ENOMEM;
        if (r < 0) {
            bench_tls_close(p.ssl, BENCH_TLS_ABORT);
            close(fd);
            return probe_fail(o, msg, cap, r, "connect");
        }
    }
    char *buf = malloc(o->size + 1);
    if (!buf) abort();
    int silent = 0;
    if (o->pattern == BENCH_UDP)
        r = probe_dgram(fd, o, buf, deadline);
    else
        r = probe_stream(&p, o, buf, deadline, &silent);
    if (o->pattern == BENCH_CONNECT && r >= 0) {
        o->reply = classify(o, buf, r, silent);
        if (silent) r = 1; /* a server that never answers: measured by its setup */
    }
    free(buf);
    bench_tls_close(p.ssl, r > 0 ? BENCH_TLS_NOTIFY : BENCH_TLS_ABORT);
    close(fd);
    if (r == 0 && silent) r = -ETIMEDOUT;
    if (r == 0) {
        snprintf(msg, cap, "%s closed the connection without replying", o->target);
        return -ECONNRESET;
    }
    return r < 0 ? probe_fail(o, msg, cap, r, "request to") : 0;
}
