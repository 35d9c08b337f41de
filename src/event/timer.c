/* timer.c - the loop's deadlines as a binary min-heap kept in an array
 * (Cormen et al., "Introduction to Algorithms", ch. 6). Each timer knows its
 * position, so cancelling one is a sift from there, not a search. */
#include "timer.h"

#include <errno.h>
#include <stdlib.h>

void ss__timer_heap_init(ss__timer_heap *h)
{
    *h = (ss__timer_heap){0};
}

void ss__timer_heap_free(ss__timer_heap *h)
{
    for (size_t i = 0; i < h->n; i++) h->v[i]->index = 0;
    free(h->v);
    ss__timer_heap_init(h);
}

static int before(const ss__timer *a, const ss__timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(ss__timer_heap *h, size_t i, ss__timer *t)
{
    h->v[i] = t;
    t->index = i + 1;
}

static void sift_up(ss__timer_heap *h, size_t i)
{
    ss__timer *t = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, h->v[parent])) break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(ss__timer_heap *h, size_t i)
{
    ss__timer *t = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && before(h->v[c + 1], h->v[c])) c++;
        if (!before(h->v[c], t)) break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, t);
}

static int grow(ss__timer_heap *h, size_t need)
{
    size_t cap = h->cap ? h->cap * 2 : 64;
    while (cap < need) cap *= 2;
    ss__timer **v = realloc(h->v, cap * sizeof(ss__timer *));
    if (!v) return -ENOMEM;
    h->v = v;
    h->cap = cap;
    return 0;
}

int ss__timer_reserve(ss__timer_heap *h, size_t n)
{
    return n <= h->cap ? 0 : grow(h, n);
}

int ss__timer_add(ss__timer_heap *h, ss__timer *t, int64_t deadline)
{
    ss__timer_cancel(h, t);
    if (h->n == h->cap && grow(h, h->n + 1) != 0) return -ENOMEM;
    t->deadline = deadline;
    t->seq = h->seq++;
    place(h, h->n++, t);
    sift_up(h, h->n - 1);
    return 0;
}

void ss__timer_cancel(ss__timer_heap *h, ss__timer *t)
{
    if (!t->index) return;
    size_t i = t->index - 1;
    t->index = 0;
    ss__timer *last = h->v[--h->n];
    if (i == h->n) return;
    place(h, i, last);
    if (i > 0 && before(last, h->v[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

int64_t ss__timer_next(const ss__timer_heap *h)
{
    return h->n ? h->v[0]->deadline : 0;
}

ss__timer *ss__timer_pop_expired(ss__timer_heap *h, int64_t now)
{
    if (!h->n || h->v[0]->deadline > now) return NULL;
    ss__timer *t = h->v[0];
    ss__timer_cancel(h, t);
    return t;
}
