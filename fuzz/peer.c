/* peer.c - the scripted far end of a stream connection (fuzz.h), and the
 * helpers that read an input's header. The peer acts only inside the
 * connection's waits, so every session is one thread and repeatable. */
#include "fuzz.h"

#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

size_t fuzz_strip(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (in[i] != FUZZ_SEP) out[k++] = in[i];
    return k;
}

size_t fuzz_max_line(uint8_t b)
{
    if (b == 0) return 8192;
    return b < 128 ? b : (size_t)(b - 127) * 64;
}

size_t fuzz_buffer_size(uint8_t b, int server)
{
    if (b == 0) return 4096;
    return server ? (size_t)b + 63 : b;
}

static void keep(fuzz_peer *p, const char *buf, size_t n)
{
    if (p->outlen + n > p->outcap) {
        size_t cap = p->outcap ? p->outcap : 4096;
        while (cap < p->outlen + n) cap *= 2;
        uint8_t *o = realloc(p->out, cap);
        FUZZ_CHECK(o != NULL, "out of memory");
        p->out = o;
        p->outcap = cap;
    }
    memcpy(p->out + p->outlen, buf, n);
    p->outlen += n;
}

/* Sends the next non-empty chunk of the script (what fits of it: the rest
 * goes at the next wait), or SHUT_WR after the last. Returns 1 if it did. */
static int send_next(fuzz_peer *p)
{
    if (p->fd < 0) return 0;
    while (p->pos < p->len && p->script[p->pos] == FUZZ_SEP) p->pos++;
    if (p->pos < p->len) {
        const uint8_t *end = memchr(p->script + p->pos, FUZZ_SEP, p->len - p->pos);
        size_t n = end ? (size_t)(end - p->script) - p->pos : p->len - p->pos;
        ssize_t w = send(p->fd, p->script + p->pos, n, MSG_NOSIGNAL);
        FUZZ_CHECK(w > 0, "peer send: %s", strerror(errno));
        p->pos += (size_t)w;
        return 1;
    }
    if (p->shut) return 0;
    FUZZ_CHECK(shutdown(p->fd, SHUT_WR) == 0, "peer shutdown: %s", strerror(errno));
    p->shut = 1;
    return 1;
}

/* Reads at least read_step bytes if there are that many. Returns how many. */
static size_t read_some(fuzz_peer *p)
{
    char buf[8192];
    size_t got = 0;
    while (p->fd >= 0 && got < p->read_step) {
        size_t want = p->read_step - got < sizeof buf ? p->read_step - got : sizeof buf;
        ssize_t r = recv(p->fd, buf, want, 0);
        if (r <= 0) {
            /* A unix stream socket closed with unread input resets its peer
             * (after the data it sent): the end, as a FIN would be. */
            if (r < 0 && errno == ECONNRESET) p->reset = 1;
            FUZZ_CHECK(r == 0 || errno == EAGAIN || p->reset, "peer recv: %s", strerror(errno));
            break;
        }
        keep(p, buf, (size_t)r);
        got += (size_t)r;
        if (p->budget && p->outlen >= p->budget) {
            close(p->fd); /* enough: the connection's next send fails (EPIPE) */
            p->fd = -1;
        }
    }
    return got;
}

static int peer_wait(void *self, int fd, int events, int64_t deadline, int cancel_fd)
{
    fuzz_peer *p = self;
    (void)deadline;
    (void)cancel_fd;
    p->waits++;
    if (fd < 0) return 0; /* a sleep: time is not what is under test */
    FUZZ_CHECK(p->conn_fd >= 0, "a wait (fd %d) where nothing may wait", fd);
    FUZZ_CHECK(fd == p->conn_fd, "wait on fd %d, not the connection's %d", fd, p->conn_fd);
    if ((events & POLLOUT) && (p->fd < 0 || read_some(p) > 0)) return 0;
    if ((events & POLLIN) && send_next(p)) return 0;
    return -ETIMEDOUT; /* nothing can change: a real peer would never answer */
}

/* ------------------------------------------------------------ buffer cache */

static void *cache_get(void *self, size_t min, size_t *size)
{
    fuzz_peer *p = self;
    FUZZ_CHECK(p->nblocks < FUZZ_MAX_BLOCKS, "a connection holds %d blocks", p->nblocks);
    size_t n = min + p->extra;
    void *b = malloc(n ? n : 1);
    if (!b) return NULL;
    for (int i = 0; i < p->nblocks; i++) /* an old entry whose block realloc freed */
        if (p->blocks[i].p == b) p->blocks[i] = p->blocks[--p->nblocks];
    p->blocks[p->nblocks].p = b;
    p->blocks[p->nblocks].size = n;
    p->nblocks++;
    *size = n;
    return b;
}

/* A block put back is any malloc'd block with its real size (internal.h):
 * one of ours, or one the connection grew with realloc (perhaps in place) or
 * made itself. The event loop's cache hands a block of its size out again,
 * so the size must not overstate the block (malloc_usable_size is exact
 * under ASan); nor may it understate one of ours, which lost track of it. */
static void cache_put(void *self, void *b, size_t size)
{
    fuzz_peer *p = self;
    FUZZ_CHECK(malloc_usable_size(b) >= size, "block of %zu bytes put back as %zu",
               malloc_usable_size(b), size);
    for (int i = 0; i < p->nblocks; i++) {
        if (p->blocks[i].p != b) continue;
        FUZZ_CHECK(size >= p->blocks[i].size, "block of %zu bytes put back as %zu",
                   p->blocks[i].size, size);
        p->blocks[i] = p->blocks[--p->nblocks];
        break;
    }
    free(b);
}

void fuzz_peer_cache(fuzz_peer *p, size_t extra)
{
    p->extra = extra;
    p->waiter.buf_get = cache_get;
    p->waiter.buf_put = cache_put;
}

/* ------------------------------------------------------------ open, close */

void fuzz_peer_none(fuzz_peer *p)
{
    memset(p, 0, sizeof *p);
    p->fd = p->conn_fd = -1;
    p->read_step = 1;
    p->waiter = (ss__waiter){.wait = peer_wait, .self = p};
    p->ctx = (ss__ctx){.cancel_fd = -1, .waiter = &p->waiter};
}

void fuzz_peer_open(fuzz_peer *p, const uint8_t *script, size_t len, size_t read_step,
                    size_t budget, int sndbuf)
{
    int sv[2];
    memset(p, 0, sizeof *p);
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0,
               "socketpair: %s", strerror(errno));
    p->conn_fd = sv[0];
    p->fd = sv[1];
    p->script = script;
    p->len = len;
    p->read_step = read_step ? read_step : 1;
    p->budget = budget;
    if (sndbuf > 0) setsockopt(p->conn_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    p->waiter = (ss__waiter){.wait = peer_wait, .self = p};
    p->ctx = (ss__ctx){.cancel_fd = -1, .waiter = &p->waiter};
}

void fuzz_peer_attach(fuzz_peer *p)
{
    p->prev = ss__ctx_swap(&p->ctx);
}

void fuzz_peer_detach(fuzz_peer *p)
{
    ss__ctx_swap(p->prev);
}

void fuzz_peer_drain(fuzz_peer *p)
{
    while (p->fd >= 0) {
        size_t step = p->read_step;
        p->read_step = 65536;
        size_t got = read_some(p);
        p->read_step = step;
        if (got == 0) break; /* end of stream (the other end is closed) */
    }
}

void fuzz_peer_close(fuzz_peer *p)
{
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
    free(p->out);
    p->out = NULL;
    p->outlen = p->outcap = 0;
}
