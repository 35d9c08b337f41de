/* clock.c - the monotonic millisecond clock every deadline is measured on,
 * and the arithmetic of deadlines (0: none). */
#include "internal.h"

#include <limits.h>
#include <time.h>

int64_t ss_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ss__min_deadline(int64_t a, int64_t b)
{
    if (a <= 0) return b;
    if (b <= 0) return a;
    return a < b ? a : b;
}

int ss__poll_timeout(int64_t deadline)
{
    if (deadline <= 0) return -1;
    int64_t left = deadline - ss_now_ms();
    if (left <= 0) return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}
