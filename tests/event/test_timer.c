/* test_timer.c - the deadline heap: order, ties, cancel, re-arm. */
#include "event/timer.h"
#include "socketserver.h"
#include "test.h"

#define N 2000

static ss__timer timers[N];

static void test_order(void)
{
    ss__timer_heap h;
    ss__timer_heap_init(&h);
    unsigned seed = 12345;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        ASSERT_OK(ss__timer_add(&h, &timers[i], 1 + (seed >> 8) % 100000));
    }
    ASSERT_EQ(h.n, N);
    int64_t last = 0;
    for (int i = 0; i < N; i++) {
        ss__timer *t = ss__timer_pop_expired(&h, INT64_MAX);
        ASSERT(t != NULL);
        ASSERT_GE(t->deadline, last);
        ASSERT(!ss__timer_armed(t));
        last = t->deadline;
    }
    ASSERT(ss__timer_pop_expired(&h, INT64_MAX) == NULL);
    ASSERT_EQ(ss__timer_next(&h), 0);
    ss__timer_heap_free(&h);
}

static void test_ties(void)
{
    ss__timer_heap h;
    ss__timer_heap_init(&h);
    for (int i = 0; i < 100; i++) ASSERT_OK(ss__timer_add(&h, &timers[i], 50));
    ASSERT_OK(ss__timer_add(&h, &timers[100], 10));
    ASSERT(ss__timer_pop_expired(&h, 9) == NULL);
    ASSERT(ss__timer_pop_expired(&h, 10) == &timers[100]);
    ASSERT(ss__timer_pop_expired(&h, 49) == NULL);
    for (int i = 0; i < 100; i++) ASSERT(ss__timer_pop_expired(&h, 50) == &timers[i]);
    ss__timer_heap_free(&h);
}

static void test_cancel(void)
{
    ss__timer_heap h;
    ss__timer_heap_init(&h);
    for (int i = 0; i < N; i++) ASSERT_OK(ss__timer_add(&h, &timers[i], (i * 7919) % N + 1));
    for (int i = 0; i < N; i += 3) ss__timer_cancel(&h, &timers[i]);
    ss__timer_cancel(&h, &timers[0]); /* twice: a no-op */
    int popped = 0;
    int64_t last = 0;
    ss__timer *t;
    while ((t = ss__timer_pop_expired(&h, INT64_MAX)) != NULL) {
        ASSERT_NE((t - timers) % 3, 0);
        ASSERT_GE(t->deadline, last);
        last = t->deadline;
        popped++;
    }
    ASSERT_EQ(popped, N - (N + 2) / 3);
    ss__timer_heap_free(&h);
}

static void test_rearm(void)
{
    ss__timer_heap h;
    ss__timer_heap_init(&h);
    ASSERT_OK(ss__timer_add(&h, &timers[0], 100));
    ASSERT_OK(ss__timer_add(&h, &timers[1], 200));
    ASSERT_OK(ss__timer_add(&h, &timers[0], 300)); /* moves, not duplicates */
    ASSERT_EQ(h.n, 2);
    ASSERT_EQ(ss__timer_next(&h), 200);
    ASSERT(ss__timer_pop_expired(&h, 1000) == &timers[1]);
    ASSERT(ss__timer_pop_expired(&h, 1000) == &timers[0]);
    ss__timer_heap_free(&h);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {{"order", test_order},
                                      {"ties", test_ties},
                                      {"cancel", test_cancel},
                                      {"rearm", test_rearm},
                                      {NULL, NULL}};
    return test_main(cases, argc, argv);
}
