/* hist.c - the generator's latency histogram: log-linear buckets, as in
 * Gil Tene's HdrHistogram, so that percentiles cost a fixed 18 KiB per thread
 * and stay within 1.6% of the true value from nanoseconds to minutes. */
#include "bench.h"

#include <string.h>

#define SUB  (1u << BENCH_HIST_SUB_BITS)
#define VMAX ((UINT64_C(1) << BENCH_HIST_MAX_EXP) - 1)

void bench_hist_init(bench_hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

/* Values below SUB map to themselves. Above, the exponent e (position of the
 * top bit) picks a row of SUB buckets and the next SUB_BITS bits pick one. */
unsigned bench_hist_index(uint64_t v)
{
    if (v > VMAX) v = VMAX;
    if (v < SUB) return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = e - BENCH_HIST_SUB_BITS;
    return SUB + shift * SUB + (unsigned)((v >> shift) - SUB);
}

uint64_t bench_hist_lowest(unsigned i)
{
    if (i < SUB) return i;
    unsigned shift = (i - SUB) / SUB;
    uint64_t m = SUB + (i - SUB) % SUB;
    return m << shift;
}

static uint64_t bucket_width(unsigned i)
{
    return i < 2 * SUB ? 1 : UINT64_C(1) << ((i - SUB) / SUB);
}

void bench_hist_record(bench_hist_t *h, uint64_t ns)
{
    h->bucket[bench_hist_index(ns)]++;
    h->count++;
    h->sum += ns;
    if (ns < h->min) h->min = ns;
    if (ns > h->max) h->max = ns;
}

void bench_hist_merge(bench_hist_t *dst, const bench_hist_t *src)
{
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) dst->bucket[i] += src->bucket[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
}

uint64_t bench_hist_quantile(const bench_hist_t *h, double q)
{
    if (h->count == 0) return 0;
    if (q <= 0.0) return h->min;
    if (q >= 1.0) return h->max;
    /* The rank of the q-quantile, 1-based: ceil(q * count), at least 1. */
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count || rank == 0) rank++;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen < rank) continue;
        uint64_t v = bench_hist_lowest(i) + bucket_width(i) / 2;
        if (v < h->min) v = h->min;
        if (v > h->max) v = h->max;
        return v;
    }
    return h->max;
}
