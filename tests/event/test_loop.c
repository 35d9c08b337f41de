/* test_loop.c - the event loop: park and wake on a socketpair, the latched
 * edge, deadlines with thousands waiting, cancellation, offload, per-task
 * contexts, the library's wait seam, forgetting a descriptor, yield, a
 * task on a reused stack, the end of stream after a short read. */
#include "event/loop.h"
#include "event/sanitizer.h"
#include "internal.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

static ss__loop *loop;
static int sp[2];

static void setup(size_t stack)
{
    ASSERT_OK(ss__loop_create(&loop, stack));
    ASSERT(ss__loop_current() == loop);
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp));
}

static void teardown(void)
{
    ASSERT_EQ(ss__loop_count(loop), 0);
    ss__loop_destroy(loop);
    close(sp[0]);
    close(sp[1]);
}

/* Reads like the library does: try, on EAGAIN wait, retry. */
static ssize_t read_wait(int fd, char *buf, size_t n, int64_t deadline)
{
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0) return r;
        if (errno != EAGAIN) return -errno;
        int rc = ss__loop_wait(fd, POLLIN, deadline, -1);
        if (rc < 0) return rc;
    }
}

static char got[64];

static void reader(void *arg)
{
    (void)arg;
    ssize_t n = read_wait(sp[0], got, sizeof got - 1, ss_now_ms() + 5000);
    ASSERT_EQ(n, 5);
}

static void writer(void *arg)
{
    (void)arg;
    ASSERT_EQ(ss__loop_wait(-1, 0, ss_now_ms() + 20, -1), -ETIMEDOUT);
    ASSERT_EQ(write(sp[1], "hello", 5), 5);
}

static void test_socketpair(void)
{
    setup(0);
    ASSERT_OK(ss__loop_spawn(loop, reader, NULL));
    ASSERT_OK(ss__loop_spawn(loop, writer, NULL));
    int64_t t0 = ss_now_ms();
    ASSERT_OK(ss__loop_run(loop));
    ASSERT_GE(ss_now_ms() - t0, 20);
    ASSERT_STR_EQ(got, "hello");
    teardown();
}

/* The edge arrives while the reader is not parked (it is sleeping): its wait
 * afterwards must return at once, from the latched edge. */
static void latch_reader(void *arg)
{
    (void)arg;
    char c;
    ASSERT_EQ(read(sp[0], &c, 1), -1);                                        /* EAGAIN */
    ASSERT_EQ(ss__loop_wait(sp[0], POLLIN, ss_now_ms() + 1, -1), -ETIMEDOUT); /* registers */
    ASSERT_EQ(write(sp[1], "x", 1), 1);
    ASSERT_EQ(ss__loop_wait(-1, 0, ss_now_ms() + 20, -1), -ETIMEDOUT); /* loop sees the edge */
    int64_t t0 = ss_now_ms();
    ASSERT_EQ(ss__loop_wait(sp[0], POLLIN, ss_now_ms() + 2000, -1), 0);
    ASSERT_LT(ss_now_ms() - t0, 1000);
    ASSERT_EQ(read(sp[0], &c, 1), 1);
}

static void test_latch(void)
{
    setup(0);
    ASSERT_OK(ss__loop_spawn(loop, latch_reader, NULL));
    ASSERT_OK(ss__loop_run(loop));
    teardown();
}

/* TSan's fibers cost a few ms each to create: fewer of them there. */
#ifdef SS_TSAN
#define WAITERS 1000
#else
#define WAITERS 5000
#endif
static int64_t fired_at[WAITERS];
static int order[WAITERS], norder, nfired;
static int64_t base;

static void deadline_waiter(void *arg)
{
    int i = (int)(long)arg;
    int64_t deadline = base + 50 + (i * 37) % 200;
    int in_time = ss_now_ms() + 10 < deadline; /* margin: it parks before */
    int rc = ss__loop_wait(sp[0], POLLIN, deadline, -1);
    ASSERT_EQ(rc, -ETIMEDOUT);
    fired_at[i] = ss_now_ms();
    ASSERT_GE(fired_at[i], deadline);
    nfired++;
    if (in_time) order[norder++] = (i * 37) % 200; /* else it timed out at once */
}

static void test_many_deadlines(void)
{
    setup(16 * 1024);
    for (long i = 0; i < WAITERS; i++) ASSERT_OK(ss__loop_spawn(loop, deadline_waiter, (void *)i));
    int64_t t0 = base = ss_now_ms();
    ASSERT_OK(ss__loop_run(loop));
    ASSERT_EQ(nfired, WAITERS);
    ASSERT_GT(norder, WAITERS / 2);
    for (int i = 1; i < norder; i++) ASSERT_LE(order[i - 1], order[i]); /* by deadline */
    ASSERT_LT(ss_now_ms() - t0, 5000);
    teardown();
}

static int cancel_fd;
static int cancelled;

static void cancel_waiter(void *arg)
{
    (void)arg;
    ASSERT_EQ(ss__loop_wait(sp[0], POLLIN, 0, cancel_fd), -ECANCELED);
    /* Later waits fail at once. */
    ASSERT_EQ(ss__loop_wait(-1, 0, ss_now_ms() + 10000, cancel_fd), -ECANCELED);
    cancelled++;
}

static void canceller(void *arg)
{
    (void)arg;
    ASSERT_EQ(ss__loop_wait(-1, 0, ss_now_ms() + 20, -1), -ETIMEDOUT);
    uint64_t one = 1;
    ASSERT_EQ(write(cancel_fd, &one, sizeof one), (ssize_t)sizeof one);
}

static void test_cancel(void)
{
    setup(0);
    cancel_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ASSERT_GE(cancel_fd, 0);
    for (int i = 0; i < 100; i++) ASSERT_OK(ss__loop_spawn(loop, cancel_waiter, NULL));
    ASSERT_OK(ss__loop_spawn(loop, canceller, NULL));
    ASSERT_OK(ss__loop_run(loop));
    ASSERT_EQ(cancelled, 100);
    teardown();
    close(cancel_fd);
}

/* A cancel that happened before the loop ever saw the eventfd. */
static void test_cancel_late(void)
{
    setup(0);
    cancel_fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
    ASSERT_OK(ss__loop_spawn(loop, cancel_waiter, NULL));
    ASSERT_OK(ss__loop_run(loop));
    ASSERT_EQ(cancelled, 1);
    teardown();
    close(cancel_fd);
}

static int offload_value, ticks;

static void blocking(void *arg)
{
    usleep(100 * 1000);
    offload_value = *(int *)arg;
}

static void offloader(void *arg)
{
    (void)arg;
    int v = 42;
    ASSERT_OK(ss__loop_offload(blocking, &v));
    ASSERT_EQ(offload_value, 42);
    ASSERT_GE(ticks, 3); /* the loop went on meanwhile */
}

static void ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) {
        ASSERT_EQ(ss__loop_wait(-1, 0, ss_now_ms() + 10, -1), -ETIMEDOUT);
        ticks++;
    }
}

static void test_offload(void)
{
    setup(0);
    ASSERT_OK(ss__loop_spawn(loop, offloader, NULL));
    ASSERT_OK(ss__loop_spawn(loop, ticker, NULL));
    ASSERT_OK(ss__loop_run(loop));
    teardown();
}

/* Each task keeps its own error message across switches. */
static void ctx_task(void *arg)
{
    const char *name = arg;
    ss__fail(-EIO, "task %s", name);
    ss__loop_yield();
    ASSERT(strstr(ss_errmsg(), name) != NULL);
    ASSERT(ss__ctx_get()->waiter != NULL);
}

static void test_ctx(void)
{
    setup(0);
    ss__fail(-EIO, "main thread");
    static char alpha[] = "alpha", beta[] = "beta";
    ASSERT_OK(ss__loop_spawn(loop, ctx_task, alpha));
    ASSERT_OK(ss__loop_spawn(loop, ctx_task, beta));
    ASSERT_OK(ss__loop_run(loop));
    ASSERT(strstr(ss_errmsg(), "main thread") != NULL);
    ASSERT(ss__ctx_get()->waiter == NULL);
    teardown();
}

/* The library's own calls go through the loop: ss_sleep parks one task. */
static int slept;

static void seam_sleeper(void *arg)
{
    (void)arg;
    int64_t t0 = ss_now_ms();
    ASSERT_OK(ss_sleep_until(ss_now_ms() + 30));
    ASSERT_GE(ss_now_ms() - t0, 30);
    slept++;
}

static void seam_reader(void *arg)
{
    (void)arg;
    ASSERT_EQ(ss__wait(sp[0], POLLIN, ss_now_ms() + 5000, -1), 0);
}

static void seam_writer(void *arg)
{
    (void)arg;
    ASSERT_OK(ss_sleep_until(ss_now_ms() + 10));
    ASSERT_EQ(write(sp[1], "y", 1), 1);
}

static void test_seam(void)
{
    setup(0);
    for (int i = 0; i < 10; i++) ASSERT_OK(ss__loop_spawn(loop, seam_sleeper, NULL));
    ASSERT_OK(ss__loop_spawn(loop, seam_reader, NULL));
    ASSERT_OK(ss__loop_spawn(loop, seam_writer, NULL));
    int64_t t0 = ss_now_ms();
    ASSERT_OK(ss__loop_run(loop));
    ASSERT_EQ(slept, 10);
    ASSERT_LT(ss_now_ms() - t0, 1000); /* concurrent, not 10 x 30 ms in a row */
    teardown();
}

/* A closed descriptor's number comes back; the loop must watch the new one. */
static void forget_task(void *arg)
{
    (void)arg;
    int a[2], b[2];
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a));
    ASSERT_EQ(ss__loop_wait(a[0], POLLIN, ss_now_ms() + 1, -1), -ETIMEDOUT);
    ss__loop_forget(loop, a[0]);
    close(a[0]);
    close(a[1]);
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b));
    ASSERT_EQ(b[0], a[0]);
    ASSERT_EQ(ss__loop_wait(b[0], POLLIN, ss_now_ms() + 1, -1), -ETIMEDOUT);
    ASSERT_EQ(write(b[1], "z", 1), 1);
    ASSERT_EQ(ss__loop_wait(b[0], POLLIN, ss_now_ms() + 2000, -1), 0);
    ss__loop_forget(loop, b[0]);
    close(b[0]);
    close(b[1]);
}

static void test_forget(void)
{
    setup(0);
    ASSERT_OK(ss__loop_spawn(loop, forget_task, NULL));
    ASSERT_OK(ss__loop_run(loop));
    teardown();
}

static int trace[6], ntrace;

static void yielder(void *arg)
{
    for (int i = 0; i < 3; i++) {
        trace[ntrace++] = (int)(long)arg;
        ss__loop_yield();
    }
}

static void test_yield(void)
{
    setup(0);
    ASSERT_OK(ss__loop_spawn(loop, yielder, (void *)1L));
    ASSERT_OK(ss__loop_spawn(loop, yielder, (void *)2L));
    ASSERT_OK(ss__loop_run(loop));
    static const int want[6] = {1, 2, 1, 2, 1, 2};
    ASSERT_MEM_EQ(trace, want, sizeof want);
    teardown();
}

/* A task on a stack from the pool must not inherit the links of the task
 * that ran there before: `quick` dies while not the head of the task list
 * (its back link names `sleeper`); `late`, spawned on its stack, becomes the
 * head and dies first. With a stale back link the list then looped on
 * itself and kept a dead task as its head (a hang, found by the fault walk). */
static int late_ran;

static void quick(void *arg)
{
    (void)arg;
}

static void late(void *arg)
{
    (void)arg;
    late_ran++;
}

static void sleeper(void *arg)
{
    (void)arg;
    ASSERT_OK(ss__loop_spawn(loop, late, NULL));
    ASSERT_EQ(ss__loop_wait(-1, 0, ss_now_ms() + 20, -1), -ETIMEDOUT);
    ASSERT_EQ(ss__loop_count(loop), 1); /* just this one */
}

static void test_reused_stack(void)
{
    setup(0);
    for (int round = 0; round < 3; round++) {
        ASSERT_OK(ss__loop_spawn(loop, quick, NULL));
        ASSERT_OK(ss__loop_spawn(loop, sleeper, NULL));
        ASSERT_OK(ss__loop_run(loop));
        ASSERT_EQ(ss__loop_count(loop), 0);
    }
    ASSERT_EQ(late_ran, 3);
    teardown();
}

/* The peer's last data and its FIN in one edge: after a short read of the
 * data (conn.c then takes the socket for drained and waits before reading
 * again), the wait must still return, for the end of stream that no later
 * edge announces. */
static int rdhup_rc = 1;

static void rdhup_reader(void *arg)
{
    (void)arg;
    char buf[64];
    ASSERT_EQ(ss__loop_wait(sp[0], POLLIN, ss_now_ms() + 5000, -1), 0);
    ASSERT_EQ(read(sp[0], buf, sizeof buf), 3); /* short: "drained" */
    rdhup_rc = ss__loop_wait(sp[0], POLLIN, ss_now_ms() + 500, -1);
    ASSERT_EQ(read(sp[0], buf, sizeof buf), 0);
}

static void rdhup_writer(void *arg)
{
    (void)arg;
    ASSERT_EQ(ss__loop_wait(-1, 0, ss_now_ms() + 20, -1), -ETIMEDOUT);
    ASSERT_EQ(write(sp[1], "abc", 3), 3);
    ASSERT_OK(shutdown(sp[1], SHUT_WR));
}

static void test_rdhup(void)
{
    setup(0);
    ASSERT_OK(ss__loop_spawn(loop, rdhup_reader, NULL));
    ASSERT_OK(ss__loop_spawn(loop, rdhup_writer, NULL));
    ASSERT_OK(ss__loop_run(loop));
    ASSERT_EQ(rdhup_rc, 0); /* not -ETIMEDOUT */
    teardown();
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {{"socketpair", test_socketpair},
                                      {"latch", test_latch},
                                      {"many_deadlines", test_many_deadlines},
                                      {"cancel", test_cancel},
                                      {"cancel_late", test_cancel_late},
                                      {"offload", test_offload},
                                      {"ctx", test_ctx},
                                      {"seam", test_seam},
                                      {"forget", test_forget},
                                      {"yield", test_yield},
                                      {"reused_stack", test_reused_stack},
                                      {"rdhup", test_rdhup},
                                      {NULL, NULL}};
    return test_main(cases, argc, argv);
}
