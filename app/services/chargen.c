/* chargen.c - the character generator (RFC 864): a stream gets the
 * rotating 72-character lines until it closes (its input is ignored); a
 * datagram is answered with a random length of the pattern. */
#include "services.h"

#include <sys/random.h>

#define DGRAM_MAX 512 /* "a random number (between 0 and 512) of characters" */

/* Writes lines until the client goes away. A client that reads as fast as
 * we write never makes a write wait; the drain still ends this loop: once
 * the server cancels its handlers, every ss_write fails with -ECANCELED. */
static int chargen_stream(ss_conn_t *c)
{
    char line[SVC_CHARGEN_LINE];
    for (uint64_t i = 0;; i = (i + 1) % SVC_CHARGEN_PERIOD) {
        svc_chargen_fill(line, sizeof line, i * SVC_CHARGEN_LINE);
        int rc = ss_write(c, line, sizeof line);
        if (rc < 0) return svc_peer_gone(rc) ? 0 : rc; /* a close is the normal end */
    }
}

/* 1 to 512: RFC 864 allows 0, but an empty reply cannot be told from a lost
 * one. */
static size_t random_length(void)
{
    unsigned short r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (unsigned short)(ss_now_ms() * 2654435761u >> 7);
    return 1 + r % DGRAM_MAX;
}

static int chargen_datagram(ss_conn_t *c)
{
    if (svc_loop_guard(c)) return 0;
    char buf[DGRAM_MAX];
    size_t n = random_length();
    svc_chargen_fill(buf, n, 0);
    return ss_write(c, buf, n);
}

int svc_chargen(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    return ss_conn_is_datagram(c) ? chargen_datagram(c) : chargen_stream(c);
}
