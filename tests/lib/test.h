/* test.h - a tiny test runner in libuv's manner: typed asserts that print
 * both sides, one named case per ctest test (argv[1]), each in its own
 * process so a crash or hang fails that case alone. */
#ifndef SS_TEST_H
#define SS_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL_AT(...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) FAIL_AT("assertion failed: %s", #c);                                             \
    } while (0)

#define ASSERT_INT(a, op, b)                                                                       \
    do {                                                                                           \
        int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                                              \
        if (!(a_ op b_)) FAIL_AT("%s %s %s: %" PRId64 " vs %" PRId64, #a, #op, #b, a_, b_);        \
    } while (0)
#define ASSERT_EQ(a, b) ASSERT_INT(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_INT(a, <, b)
#define ASSERT_LE(a, b) ASSERT_INT(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_INT(a, >, b)
#define ASSERT_GE(a, b) ASSERT_INT(a, >=, b)
#define ASSERT_OK(x)                                                                               \
    do {                                                                                           \
        int64_t r_ = (int64_t)(x);                                                                 \
        if (r_ < 0) FAIL_AT("%s failed: %" PRId64 " (%s)", #x, r_, ss_errmsg());                   \
    } while (0)
#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (strcmp(a_, b_) != 0) FAIL_AT("%s == %s: \"%s\" vs \"%s\"", #a, #b, a_, b_);            \
    } while (0)
#define ASSERT_MEM_EQ(a, b, n)                                                                     \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0)                                                            \
            FAIL_AT("%s == %s (%zu bytes) differ", #a, #b, (size_t)(n));                           \
    } while (0)

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

/* Runs argv[1]'s case, or every case when none is named. */
static inline int test_main(const test_case *cases, int argc, char **argv)
{
    int ran = 0;
    for (const test_case *t = cases; t->name; t++) {
        if (argc > 1 && strcmp(argv[1], t->name) != 0) continue;
        t->fn();
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "(none)");
        return 2;
    }
    return 0;
}

#endif
