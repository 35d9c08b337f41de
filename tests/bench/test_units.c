/* test_units.c - unit tests of the generator's parts that need no network:
 * the log-linear histogram, the request bytes and their check, and the JSON
 * checker that the other tests and bench/run.sh rely on. */
#include "bench.h"
#include "json_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)
#define ASSERT_U64(a, op, b)                                                                       \
    do {                                                                                           \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);             \
        if (!(a_ op b_)) FAIL("%s %s %s: %llu vs %llu", #a, #op, #b, a_, b_);                      \
    } while (0)

/* Every value lands in a bucket whose range holds it, no wider than 1/64 of
 * it, and buckets are in increasing order. */
static void test_hist_buckets(void)
{
    for (uint64_t v = 0; v < (UINT64_C(1) << 39); v = v < 4096 ? v + 1 : v + v / 97 + 1) {
        unsigned i = bench_hist_index(v);
        ASSERT_U64(i, <, BENCH_HIST_BUCKETS);
        ASSERT_U64(bench_hist_lowest(i), <=, v);
        ASSERT_U64(bench_hist_lowest(i + 1), >, v);
        ASSERT_U64((bench_hist_lowest(i + 1) - bench_hist_lowest(i)) * 64, <=, v > 64 ? v : 64);
    }
    ASSERT_U64(bench_hist_index(UINT64_MAX), ==, BENCH_HIST_BUCKETS - 1);
}

static void test_hist_quantiles(void)
{
    static bench_hist_t h, g;
    bench_hist_init(&h);
    ASSERT_U64(bench_hist_quantile(&h, 0.5), ==, 0);
    for (uint64_t v = 1; v <= 100000; v++) bench_hist_record(&h, v * 1000); /* 1 us .. 100 ms */
    uint64_t p50 = bench_hist_quantile(&h, 0.5), p99 = bench_hist_quantile(&h, 0.99);
    ASSERT_U64(p50, >=, 50000000 - 50000000 / 64);
    ASSERT_U64(p50, <=, 50000000 + 50000000 / 64);
    ASSERT_U64(p99, >=, 99000000 - 99000000 / 64);
    ASSERT_U64(p99, <=, 99000000 + 99000000 / 64);
    ASSERT_U64(bench_hist_quantile(&h, 1.0), ==, 100000000);
    ASSERT_U64(bench_hist_quantile(&h, 0.0), ==, 1000);
    ASSERT_U64(h.count, ==, 100000);
    bench_hist_init(&g);
    bench_hist_record(&g, 7);
    bench_hist_merge(&g, &h);
    ASSERT_U64(g.count, ==, 100001);
    ASSERT_U64(g.min, ==, 7);
    ASSERT_U64(g.max, ==, 100000000);
}

/* A stream of requests checks, and any changed, missing or moved byte fails. */
static void test_verify(void)
{
    size_t size = 10;
    bench_pattern_init(size);
    char stream[50];
    for (int r = 0; r < 5; r++) {
        memcpy(stream + r * 10, bench_body(bench_shift(3, (uint64_t)r)), 9);
        stream[r * 10 + 9] = '\n';
    }
    if (!bench_verify(3, 0, stream, 50, size)) FAIL("the whole stream");
    for (size_t cut = 1; cut < 50; cut++) /* in pieces at every offset */
        if (!bench_verify(3, 0, stream, cut, size) ||
            !bench_verify(3, cut, stream + cut, 50 - cut, size))
            FAIL("split at %zu", cut);
    if (bench_verify(4, 0, stream, 50, size)) FAIL("another connection's bytes");
    if (bench_verify(3, 10, stream, 40, size)) FAIL("a reply one request late");
    stream[23] ^= 1;
    if (bench_verify(3, 0, stream, 50, size)) FAIL("a changed byte");
    if (memchr(stream, '\n', 9)) FAIL("a newline inside a request");
}

static int valid(const char *s)
{
    return jc_validate(s, strlen(s), NULL) == 0;
}

static void test_json_check(void)
{
    const char *good[] = {"{}",
                          "[]",
                          "0",
                          "-1.5e+3",
                          "\"a\\u00e9\\n\"",
                          "true",
                          " null ",
                          "{\"a\": [1, {\"b\": false}], \"c\": \"\"}"};
    const char *bad[] = {"",      "{",       "[1,]",     "{\"a\":}", "01",  "1.", "nan",
                         "{a:1}", "[1] [2]", "\"\x01\"", "\"\\x\"",  "tru", "-",  "{\"a\" 1}"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!valid(good[i])) FAIL("rejected valid %s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (valid(bad[i])) FAIL("accepted invalid %s", bad[i]);
    char deep[2 * 65 + 2]; /* nested deeper than the limit of 64 */
    memset(deep, '[', 65);
    deep[65] = '1';
    memset(deep + 66, ']', 65);
    deep[131] = '\0';
    if (valid(deep)) FAIL("accepted 65 levels of nesting");
    memset(deep, '[', 64); /* and exactly at it */
    deep[64] = '1';
    memset(deep + 65, ']', 64);
    deep[129] = '\0';
    if (!valid(deep)) FAIL("rejected 64 levels of nesting");
    const char *doc = "{\"end\": {\"n\": 42, \"s\": \"x\"}, \"iv\": [{\"r\": 1}, {\"r\": 2.5}]}";
    double v;
    if (jc_number(doc, strlen(doc), "end.n", &v) || v != 42) FAIL("end.n");
    if (jc_number(doc, strlen(doc), "iv.1.r", &v) || v != 2.5) FAIL("iv.1.r");
    if (jc_number(doc, strlen(doc), "end.s", &v) == 0) FAIL("a string is no number");
    if (jc_number(doc, strlen(doc), "iv.2.r", &v) == 0) FAIL("no third element");
    if (jc_count(doc, strlen(doc), "iv") != 2 || jc_count(doc, strlen(doc), "end") != 2)
        FAIL("counts");
}

/* The generator's own JSON writer produces what the checker accepts. */
static void test_json_writer(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    bench_json_t j;
    bench_json_init(&j, f);
    bench_json_object(&j, NULL);
    bench_json_str(&j, "s", "quote \" backslash \\ tab \t newline \n");
    bench_json_array(&j, "a");
    bench_json_array(&j, NULL);
    bench_json_end(&j);
    bench_json_object(&j, NULL);
    bench_json_end(&j);
    bench_json_num(&j, NULL, 1.0 / 0.0);
    bench_json_int(&j, NULL, -5);
    bench_json_end(&j);
    bench_json_bool(&j, "b", 1);
    bench_json_finish(&j);
    fclose(f);
    size_t off;
    if (jc_validate(text, len, &off) < 0) FAIL("invalid at %zu: %s", off, text);
    if (jc_count(text, len, "a") != 4) FAIL("four elements: %s", text);
    free(text);
}

int main(void)
{
    test_hist_buckets();
    test_hist_quantiles();
    test_verify();
    test_json_check();
    test_json_writer();
    puts("ok");
    return 0;
}
