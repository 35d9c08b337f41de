/* fuzz.h - what the fuzz targets share: libFuzzer's entry point, a check that
 * names file and line before aborting, the reading of an input's header, and
 * the scripted peer of a stream connection (peer.c). */
#ifndef SS_FUZZ_H
#define SS_FUZZ_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer calls it once per input; the replay build's main (replay.c) calls
 * it once per corpus file. Returns 0; a broken invariant aborts. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: when it does not hold, the input is a
 * finding. abort() is what libFuzzer (and ctest) record as a crash. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The stream inputs mark chunk boundaries with this byte, which is therefore
 * never part of the data (README.md: input formats). */
#define FUZZ_SEP 0xFF

/* Copies in[0..n) without the separators into out (room for n bytes).
 * Returns the length of the data. */
size_t fuzz_strip(const uint8_t *in, size_t n, uint8_t *out);

/* Selectors read from an input's header bytes. */
size_t fuzz_max_line(uint8_t b); /* 0: 8192, else 1-127 or 64-step sizes up to 8192 */
/* 0: 4096, else 1-255 (below the server's minimum of 64: conn.c itself
 * must not depend on it) or, for a server, 64-318. */
size_t fuzz_buffer_size(uint8_t b, int server);

/* ------------------------------------------------------------ scripted peer */

/* The far end of a stream connection under test. It is driven through the
 * library's wait seam (internal.h, ss__waiter): whenever the connection would
 * wait, the peer does the one thing that lets it go on - sends the next chunk
 * of its script, ends the script with SHUT_WR, or reads some of the output
 * (closing for good once it has read its budget). So a whole session runs in
 * one thread, deterministically, through conn.c's real recv and send paths;
 * a wait that nothing can end fails with -ETIMEDOUT instead of hanging. */
/* Blocks a connection may take from the cache in one session: it holds two
 * (read and write buffers) at a time, and a block it grows with realloc is
 * no longer ours but stays in the table (no harm: it is only compared). */
#define FUZZ_MAX_BLOCKS 64

typedef struct fuzz_peer {
    int fd;                /* the peer's end (non-blocking); -1 once closed */
    int conn_fd;           /* the end for the connection (non-blocking) */
    const uint8_t *script; /* data bytes, FUZZ_SEP between chunks */
    size_t len, pos;       /* the script and how much of it is sent */
    int shut;              /* SHUT_WR sent: the connection reads end of stream */
    int reset;             /* the connection was closed with input unread */
    uint8_t *out;          /* what the peer read */
    size_t outlen, outcap;
    size_t read_step; /* bytes read (at least, if there) per wait for POLLOUT */
    size_t budget;    /* close after reading this much; 0: never */
    unsigned waits;   /* waits the connection made */
    size_t extra;     /* cache blocks are this much larger than asked */
    int nblocks;      /* cache blocks given and not put back */
    struct {
        void *p;
        size_t size;
    } blocks[FUZZ_MAX_BLOCKS];
    ss__waiter waiter;
    ss__ctx ctx, *prev;
} fuzz_peer;

/* Makes the socket pair. sndbuf > 0 shrinks the connection end's send buffer
 * so that writes wait (and are split) often. Aborts on failure. */
void fuzz_peer_open(fuzz_peer *p, const uint8_t *script, size_t len, size_t read_step,
                    size_t budget, int sndbuf);
/* A peer with no stream (a datagram request): any wait is a finding. */
void fuzz_peer_none(fuzz_peer *p);
/* Makes the waiter keep a buffer cache, as the event mode's does
 * (ss__waiter.buf_get, buf_put): blocks extra bytes larger than asked, to be
 * put back with their real size (release the connection while the peer is
 * attached, as the event loop does). Leaks are LeakSanitizer's to find. */
void fuzz_peer_cache(fuzz_peer *p, size_t extra);
/* Routes this thread's waits to the peer, and back. */
void fuzz_peer_attach(fuzz_peer *p);
void fuzz_peer_detach(fuzz_peer *p);
/* After the connection end is closed: reads what is left, up to the end. */
void fuzz_peer_drain(fuzz_peer *p);
/* Closes the peer's end and frees the output; checks the cache is whole. */
void fuzz_peer_close(fuzz_peer *p);

#endif /* SS_FUZZ_H */
