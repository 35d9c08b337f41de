/* svc_chargen.c - the character generator (RFC 864): a stream gets the
 * rotating 72-character lines until it closes (its input is ignored); a
 * datagram is answered with a random length of the pattern. */
#include "services.h"

#include <sys/random.h>

#define DGRAM_MAX 512 /* "a random number (between 0 and 512) of characters" */

#define CHECK_EVERY_MS 100 /* how often a session that never waits looks for a cancel */

/* Writes lines until the client goes away. A write that has to wait for the
 * client ends on the idle timeout or the server's cancel, like every wait.
 * But a client that reads as fast as we write never makes us wait, and then
 * nothing would ever tell this loop that the server is draining: so every
 * CHECK_EVERY_MS it sleeps a millisecond, a wait that returns -ECANCELED
 * once the drain deadline has passed. */
static int chargen_stream(ss_conn_t *c)
{
    char line[SVC_CHARGEN_LINE];
    int64_t next_check = ss_now_ms() + CHECK_EVERY_MS;
    for (uint64_t i = 0;; i = (i + 1) % SVC_CHARGEN_PERIOD) {
        svc_chargen_fill(line, sizeof line, i * SVC_CHARGEN_LINE);
        int rc = ss_write(c, line, sizeof line);
        if (rc < 0) return svc_peer_gone(rc) ? 0 : rc; /* a close is the normal end */
        if (i % 32 == 0 && ss_now_ms() >= next_check) {
            rc = ss_sleep(1);
            if (rc < 0) return rc;
            next_check = ss_now_ms() + CHECK_EVERY_MS;
        }
    }
}

/* 1 to 512: RFC 864 allows 0, but an empty reply cannot be told from a lost
 * one, and the library sends nothing for a reply with no bytes. */
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
