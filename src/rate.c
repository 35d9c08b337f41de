/* rate.c - the sliding window of ss_config_t.min_rate: how many bytes a
 * peer sent over the last SS_MIN_RATE_WINDOW_MS of the time a handler spent
 * waiting for them. Two buckets approximate the window, as a sliding-window
 * rate limiter does: the current one, and the one before it weighted by the
 * share of the window it still covers. A few counters in the connection, no
 * system call, no allocation; pure, so tests/lib/test_rate.c drives it. */
#include "internal.h"

#define RATE_WINDOW    SS_MIN_RATE_WINDOW_MS
#define RATE_BYTES_MAX 1000000000000000ULL /* saturation: products stay in range */

void ss__rate_add(ss__rate *r, int64_t waited_ms, uint64_t bytes)
{
    if (waited_ms < 0) waited_ms = 0;
    if (bytes > RATE_BYTES_MAX) bytes = RATE_BYTES_MAX;
    if (waited_ms >= RATE_WINDOW) {
        /* One wait as long as the window fills it alone: what came before
         * has slid out of it. */
        r->prev_bytes = bytes * RATE_WINDOW / (uint64_t)waited_ms;
        r->prev_ms = RATE_WINDOW;
        r->cur_ms = 0;
        r->cur_bytes = 0;
        return;
    }
    r->cur_ms += waited_ms;
    r->cur_bytes = r->cur_bytes + bytes > RATE_BYTES_MAX ? RATE_BYTES_MAX : r->cur_bytes + bytes;
    if (r->cur_ms < RATE_WINDOW) return;
    /* The current bucket is full: it becomes the previous one, scaled to
     * one window's length when one long wait overran it. */
    r->prev_bytes = r->cur_bytes * RATE_WINDOW / (uint64_t)r->cur_ms;
    r->prev_ms = RATE_WINDOW;
    r->cur_ms = 0;
    r->cur_bytes = 0;
}

int ss__rate_low(const ss__rate *r, uint64_t min)
{
    /* The previous bucket counts for the part of the window the current one
     * does not cover yet. */
    uint64_t left = (uint64_t)(RATE_WINDOW - r->cur_ms);
    uint64_t ms = (uint64_t)r->cur_ms + (uint64_t)r->prev_ms * left / RATE_WINDOW;
    uint64_t bytes = r->cur_bytes + r->prev_bytes * left / RATE_WINDOW;
    /* Too little waiting measured to judge: a short pause inside a line of
     * an otherwise fast peer is not a rate. */
    if (min == 0 || ms < RATE_WINDOW / 2) return 0;
    return bytes * 1000 < min * ms;
}
