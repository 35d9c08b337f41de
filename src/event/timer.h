/* timer.h - a binary min-heap of deadlines (absolute ms, monotonic), one per
 * loop: O(log n) add and cancel, O(1) earliest. Timers are embedded in their
 * owners (no allocation per timer); equal deadlines fire in insertion order. */
#ifndef SS_EVENT_TIMER_H
#define SS_EVENT_TIMER_H

#include <stddef.h>
#include <stdint.h>

typedef struct ss__timer {
    int64_t deadline;
    uint64_t seq; /* insertion order, breaks ties */
    size_t index; /* position in the heap + 1; 0 = not armed */
} ss__timer;

typedef struct ss__timer_heap {
    ss__timer **v;
    size_t n, cap;
    uint64_t seq;
} ss__timer_heap;

void ss__timer_heap_init(ss__timer_heap *h);
void ss__timer_heap_free(ss__timer_heap *h); /* the array; timers are the owners' */

/* Makes room for n timers, so that arming up to n never allocates (the loop
 * reserves a slot per task: a park cannot then fail for want of memory).
 * Returns 0 or -ENOMEM. */
int ss__timer_reserve(ss__timer_heap *h, size_t n);
/* Arms t for deadline (re-arms it if armed). Returns 0, or -ENOMEM when the
 * heap had to grow beyond what was reserved and could not. */
int ss__timer_add(ss__timer_heap *h, ss__timer *t, int64_t deadline);
/* Disarms t; a no-op when it is not armed. */
void ss__timer_cancel(ss__timer_heap *h, ss__timer *t);
static inline int ss__timer_armed(const ss__timer *t)
{
    return t->index != 0;
}
/* The earliest deadline, or 0 when the heap is empty. */
int64_t ss__timer_next(const ss__timer_heap *h);
/* Removes and returns the earliest timer if its deadline is <= now, else
 * returns NULL. */
ss__timer *ss__timer_pop_expired(ss__timer_heap *h, int64_t now);

#endif /* SS_EVENT_TIMER_H */
