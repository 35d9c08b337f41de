/* test_coro.c - coroutines: switching, many at once, stack reuse, the
 * floating-point environment, the guard page and the stack overflow report. */
#include "event/coro.h"
#include "event/loop.h"
#include "event/sanitizer.h"
#include "socketserver.h"
#include "test.h"

#include <fenv.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static ss__coro main_co;
static ss__coro *other;
static long counter;

static void pingpong_fn(void *arg)
{
    long n = *(long *)arg;
    for (long i = 0; i < n; i++) {
        counter++;
        ss__coro_switch(other, &main_co);
    }
}

static void test_pingpong(void)
{
    ss__stack_pool pool;
    ss__stack_pool_init(&pool, 4);
    ss__coro_init_main(&main_co);
    long n = 100000;
    other = ss__coro_create(&pool, 0, sizeof(ss__coro), pingpong_fn, &n, &main_co);
    ASSERT(other != NULL);
    for (long i = 0; i < n; i++) {
        ss__coro_switch(&main_co, other);
        ASSERT_EQ(counter, i + 1);
    }
    ss__coro_switch(&main_co, other); /* lets pingpong_fn return */
    ASSERT(ss__coro_current() == &main_co);
    ss__coro_destroy(&pool, other);
    ss__stack_pool_drain(&pool);
}

#define MANY 1000
static ss__coro *many[MANY];
static int turns[MANY];

static void many_fn(void *arg)
{
    int i = (int)(long)arg;
    for (int k = 0; k < 3; k++) {
        volatile char frame[512]; /* touch a little stack in each */
        frame[0] = (char)k;
        turns[i] += 1 + frame[0] - k;
        ss__coro_switch(many[i], &main_co);
    }
}

static void test_many(void)
{
    ss__stack_pool pool;
    ss__stack_pool_init(&pool, 16);
    ss__coro_init_main(&main_co);
    for (long i = 0; i < MANY; i++) {
        many[i] = ss__coro_create(&pool, 32 * 1024, sizeof(ss__coro), many_fn, (void *)i, &main_co);
        ASSERT(many[i] != NULL);
    }
    for (int round = 0; round < 4; round++)
        for (int i = 0; i < MANY; i++) ss__coro_switch(&main_co, many[i]);
    for (int i = 0; i < MANY; i++) {
        ASSERT_EQ(turns[i], 3);
        ss__coro_destroy(&pool, many[i]);
    }
    ASSERT_EQ(pool.nfree, 16); /* the cap */
    ss__stack_pool_drain(&pool);
}

static void nop_fn(void *arg)
{
    (void)arg;
}

static void test_reuse(void)
{
    ss__stack_pool pool;
    ss__stack_pool_init(&pool, 2);
    ss__coro_init_main(&main_co);
    ss__coro *a = ss__coro_create(&pool, 0, sizeof(ss__coro), nop_fn, NULL, &main_co);
    ASSERT(a != NULL);
    ss__stack *st = a->stack;
    ss__coro_switch(&main_co, a);
    ss__coro_destroy(&pool, a);
    ASSERT_EQ(pool.nfree, 1);
    ss__coro *b = ss__coro_create(&pool, 0, sizeof(ss__coro), nop_fn, NULL, &main_co);
    ASSERT(b != NULL);
    ASSERT(b->stack == st); /* the same mapping, not a new mmap */
    ASSERT_EQ(pool.nfree, 0);
    ASSERT_GE(ss__stack_hi(st) - ss__stack_lo(st), SS__STACK_DEFAULT - 64); /* less the header */
    ss__coro_switch(&main_co, b);
    ss__coro_destroy(&pool, b);
    ss__stack_pool_drain(&pool);
    ASSERT_EQ(pool.nfree, 0);
}

/* Each coroutine keeps its own rounding mode: MXCSR and the x87 control word
 * are saved on the switch. */
static void fpenv_fn(void *arg)
{
    (void)arg;
    fesetround(FE_DOWNWARD);
    ss__coro_switch(other, &main_co);
    ASSERT_EQ(fegetround(), FE_DOWNWARD);
}

static void test_fpenv(void)
{
    ss__stack_pool pool;
    ss__stack_pool_init(&pool, 2);
    ss__coro_init_main(&main_co);
    ASSERT_EQ(fegetround(), FE_TONEAREST);
    other = ss__coro_create(&pool, 0, sizeof(ss__coro), fpenv_fn, NULL, &main_co);
    ASSERT(other != NULL);
    ss__coro_switch(&main_co, other);
    ASSERT_EQ(fegetround(), FE_TONEAREST);
    ss__coro_switch(&main_co, other);
    ASSERT_EQ(fegetround(), FE_TONEAREST);
    ss__coro_destroy(&pool, other);
    ss__stack_pool_drain(&pool);
}

/* Runs fn in a child with stderr captured; returns the wait status. */
static int run_child(void (*fn)(void), char *out, size_t cap)
{
    int p[2];
    ASSERT_OK(pipe(p));
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        fn();
        _exit(0);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(p[0], out + n, cap - 1 - n)) > 0) n += (size_t)r;
    out[n] = '\0';
    close(p[0]);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    return status;
}

/* The child died of SIGSEGV; under ASan and TSan, whose own handlers report
 * a fault and exit(3) instead, it exited with a report. */
static void expect_segv(int status, const char *out)
{
#if defined(SS_ASAN) || defined(SS_TSAN)
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 4 &&
        strstr(out, "SEGV") != NULL)
        return;
#endif
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV)
        FAIL_AT("child status %#x, stderr: %s", (unsigned)status, out);
}

/* Writes just below the stack's usable range, from the main context. */
static void touch_guard(void)
{
    ss__stack_pool pool;
    ss__stack_pool_init(&pool, 1);
    ss__stack *st = ss__stack_get(&pool, 0);
    if (!st) _exit(3);
    volatile char *below = ss__stack_lo(st) - 1;
    *below = 1;
    _exit(4); /* not reached: the guard page faults */
}

static void test_guard_page(void)
{
    char out[4096];
    int status = run_child(touch_guard, out, sizeof out);
    expect_segv(status, out);
}

static int recurse(int depth)
{
    volatile char frame[256];
    frame[0] = (char)depth;
    if (depth < 0) return 0; /* never: the recursion is unbounded */
    return recurse(depth + 1) + frame[0];
}

static void overflow_fn(void *arg)
{
    (void)arg;
    ss__loop_set_label("tcp://192.0.2.1:4242");
    recurse(0);
}

static void overflow_child(void)
{
    ss__loop *l;
    if (ss__loop_create(&l, 32 * 1024) != 0) _exit(3);
    if (ss__loop_spawn(l, overflow_fn, NULL) != 0) _exit(3);
    ss__loop_run(l);
    _exit(4);
}

static void test_overflow_report(void)
{
    char out[8192];
    int status = run_child(overflow_child, out, sizeof out);
#ifdef SS_ASAN
    /* ASan reports the overflow itself (guard.c). */
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 4);
    ASSERT(strstr(out, "stack-overflow") != NULL);
#else
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV)
        FAIL_AT("child status %#x, stderr: %s", (unsigned)status, out);
    if (!strstr(out, "socketserver: stack overflow in handler for tcp://192.0.2.1:4242"))
        FAIL_AT("no report in child's stderr: %s", out);
#endif
}

/* A fault that is not an overflow reaches the previous (default) action. */
static void null_child(void)
{
    ss__loop *l;
    if (ss__loop_create(&l, 0) != 0) _exit(3);
    volatile int *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) _exit(3);
    *p = 1;
    _exit(4);
}

static void test_other_fault(void)
{
    char out[8192];
    int status = run_child(null_child, out, sizeof out);
    expect_segv(status, out);
    ASSERT(strstr(out, "socketserver: stack overflow") == NULL);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {{"pingpong", test_pingpong},
                                      {"many", test_many},
                                      {"reuse", test_reuse},
                                      {"fpenv", test_fpenv},
                                      {"guard_page", test_guard_page},
                                      {"overflow_report", test_overflow_report},
                                      {"other_fault", test_other_fault},
                                      {NULL, NULL}};
    return test_main(cases, argc, argv);
}
