/* test_poller.c - the loop's two pollers under the same contract
 * (poller.h): edges in both directions and the peer's shutdown, a descriptor
 * that closes really closes (io_uring's requests hold their file), a number
 * reused by a new file reports only the new file's events, more
 * registrations in one turn than the submission ring holds, and the choice
 * (SS_POLLER, a kernel that refuses io_uring: io_uring_queue_init_params
 * fails by --wrap). Each case runs on the poller named by argv[2]. */
#include "event/poller.h"
#include "internal.h"
#include "test.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int kind = SS_POLLER_EPOLL;
#ifdef SS_HAVE_URING
#include <liburing.h>
static int refuse_uring; /* the wrapped setup fails with -EPERM */
int __real_io_uring_queue_init_params(unsigned entries, struct io_uring *ring,
                                      struct io_uring_params *p);
int __wrap_io_uring_queue_init_params(unsigned entries, struct io_uring *ring,
                                      struct io_uring_params *p);
int __wrap_io_uring_queue_init_params(unsigned entries, struct io_uring *ring,
                                      struct io_uring_params *p)
{
    if (refuse_uring) return -EPERM;
    return __real_io_uring_queue_init_params(entries, ring, p);
}
#endif

static ss__poller *make(void)
{
    ss__poller *p;
    ASSERT_OK(ss__poller_create(&p, 64, kind));
    ASSERT_STR_EQ(ss__poller_name(p), kind == SS_POLLER_IO_URING ? "io_uring" : "epoll");
    return p;
}

/* Waits up to 2 s for fd to report all of want; returns what it reported. */
static unsigned wait_for(ss__poller *p, int fd, unsigned want)
{
    unsigned got = 0;
    int64_t end = ss_now_ms() + 2000;
    while ((got & want) != want && ss_now_ms() < end) {
        const ss__poll_event *ev;
        int n = ss__poller_wait(p, 50, &ev);
        ASSERT(n >= 0);
        for (int i = 0; i < n; i++)
            if (ev[i].fd == fd) got |= ev[i].events;
    }
    return got;
}

/* Whatever comes for fd within ms, drained. */
static unsigned drain(ss__poller *p, int fd, int ms)
{
    unsigned got = 0;
    int64_t end = ss_now_ms() + ms;
    do {
        const ss__poll_event *ev;
        int n = ss__poller_wait(p, 10, &ev);
        ASSERT(n >= 0);
        for (int i = 0; i < n; i++)
            if (ev[i].fd == fd) got |= ev[i].events;
    } while (ss_now_ms() < end);
    return got;
}

static void pair(int sv[2])
{
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
}

/* Writable at once; readable when the peer writes (once per edge, not
 * again while nothing new comes); end of stream when the peer shuts down. */
static void edges(void)
{
    ss__poller *p = make();
    int sv[2];
    pair(sv);
    ASSERT_OK(ss__poller_add(p, sv[0], SS__POLLER_RW));
    ASSERT_EQ(ss__poller_add(p, sv[0], SS__POLLER_RW), -EEXIST);
    ASSERT(wait_for(p, sv[0], POLLOUT) & POLLOUT);
    ASSERT_EQ(write(sv[1], "x", 1), 1);
    ASSERT(wait_for(p, sv[0], POLLIN) & POLLIN);
    ASSERT_EQ(drain(p, sv[0], 100) & POLLIN, 0); /* edge-triggered: reported once */
    ASSERT_OK(shutdown(sv[1], SHUT_WR));
    unsigned got = wait_for(p, sv[0], POLLIN | POLLRDHUP);
    ASSERT(got & POLLRDHUP);
    ASSERT_OK(ss__poller_del(p, sv[0]));
    ASSERT_EQ(send(sv[1], "y", 1, MSG_NOSIGNAL), -1); /* shut down: EPIPE */
    close(sv[0]);
    close(sv[1]);
    ss__poller_destroy(p);
}

/* A watched descriptor that is closed (after closing) is closed for its
 * peer within a turn or two: the peer reads the end of stream. */
static void closing_closes(void)
{
    ss__poller *p = make();
    int sv[2];
    pair(sv);
    ASSERT_OK(ss__poller_add(p, sv[0], SS__POLLER_RW));
    ASSERT(wait_for(p, sv[0], POLLOUT) & POLLOUT);
    ss__poller_closing(p, sv[0]);
    close(sv[0]);
    char c;
    ssize_t r = -1;
    for (int turn = 0; turn < 20 && r != 0; turn++) {
        const ss__poll_event *ev;
        ASSERT(ss__poller_wait(p, 5, &ev) >= 0);
        r = read(sv[1], &c, 1);
    }
    ASSERT_EQ(r, 0);
    close(sv[1]);
    ss__poller_destroy(p);
}

/* The same number given to a new file: events of the old file's request
 * (still completing) are not reported as the new one's; the new one is
 * registered afresh and reports its own. */
static void reused_number(void)
{
    ss__poller *p = make();
    int a[2], b[2];
    pair(a);
    ASSERT_OK(ss__poller_add(p, a[0], SS__POLLER_RW));
    ASSERT(wait_for(p, a[0], POLLOUT) & POLLOUT);
    int num = a[0];
    ss__poller_closing(p, num);
    close(num);
    pair(b); /* takes num again: the lowest free number */
    int fresh = b[0] == num ? b[0] : b[1];
    int other = fresh == b[0] ? b[1] : b[0];
    ASSERT_EQ(fresh, num);
    ASSERT_OK(ss__poller_add(p, fresh, SS__POLLER_IN));
    /* The old file may live until the next wait (io_uring): what it gets
     * must not be reported as the new one's; then it is gone. */
    (void)send(a[1], "old", 3, MSG_NOSIGNAL);
    ASSERT_EQ(drain(p, fresh, 100) & POLLIN, 0);
    ASSERT_EQ(send(a[1], "old", 3, MSG_NOSIGNAL), -1);
    ASSERT_EQ(write(other, "new", 3), 3);
    ASSERT(wait_for(p, fresh, POLLIN) & POLLIN);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    ss__poller_destroy(p);
}

/* More registrations in one turn than the submission ring holds (256):
 * every one reports. */
static void many(void)
{
    enum { N = 600 };
    ss__poller *p = make();
    static int sv[N][2];
    for (int i = 0; i < N; i++) {
        pair(sv[i]);
        ASSERT_OK(ss__poller_add(p, sv[i][0], SS__POLLER_IN));
        ASSERT_EQ(write(sv[i][1], "x", 1), 1);
    }
    static char seen[N * 2 + 64];
    int count = 0;
    int64_t end = ss_now_ms() + 3000;
    while (count < N && ss_now_ms() < end) {
        const ss__poll_event *ev;
        int n = ss__poller_wait(p, 50, &ev);
        ASSERT(n >= 0);
        ASSERT_LE(n, 64); /* at most max_events per wait */
        for (int i = 0; i < n; i++) {
            ASSERT(ev[i].events & POLLIN);
            if (!seen[ev[i].fd]) count++;
            seen[ev[i].fd] = 1;
        }
    }
    ASSERT_EQ(count, N);
    for (int i = 0; i < N; i++) {
        close(sv[i][0]);
        close(sv[i][1]);
    }
    ss__poller_destroy(p);
}

/* What auto and the names resolve to, and a kernel that refuses io_uring:
 * auto falls back to epoll, a name fails with the kernel's error; a build
 * without liburing fails the name with SS_EMODE. */
static void choice(void)
{
    ss__poller *p;
    unsetenv("SS_POLLER");
    ASSERT_EQ(ss__poller_resolve(SS_POLLER_AUTO), SS_POLLER_EPOLL);
    ASSERT_EQ(ss__poller_resolve(SS_POLLER_IO_URING), SS_POLLER_IO_URING);
    setenv("SS_POLLER", "io_uring", 1);
    ASSERT_EQ(ss__poller_resolve(SS_POLLER_AUTO), SS_POLLER_IO_URING);
    ASSERT_EQ(ss__poller_resolve(SS_POLLER_EPOLL), SS_POLLER_EPOLL);
    setenv("SS_POLLER", "epoll", 1);
    ASSERT_EQ(ss__poller_resolve(SS_POLLER_AUTO), SS_POLLER_EPOLL);
    setenv("SS_POLLER", "io_uring", 1);
#ifdef SS_HAVE_URING
    refuse_uring = 1;
    ASSERT_EQ(ss__poller_create(&p, 8, SS_POLLER_IO_URING), -EPERM);
    ASSERT_OK(ss__poller_create(&p, 8, SS_POLLER_AUTO));
    ASSERT_STR_EQ(ss__poller_name(p), "epoll");
    ss__poller_destroy(p);
    refuse_uring = 0;
#else
    ASSERT_EQ(ss__poller_create(&p, 8, SS_POLLER_IO_URING), SS_EMODE);
    ASSERT_OK(ss__poller_create(&p, 8, SS_POLLER_AUTO));
    ASSERT_STR_EQ(ss__poller_name(p), "epoll");
    ss__poller_destroy(p);
#endif
}

static int nothing(ss_conn_t *c, void *ctx)
{
    (void)c;
    (void)ctx;
    return 0;
}

/* The server's side: ss_server_create refuses io_uring where it cannot
 * have it, naming why, and serves with it where it can. */
static void server_create(void)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.mode = SS_MODE_EVENT;
    cfg.poller = (ss_poller_t)7;
    ss_handler_t h = {.handle = nothing};
    ss_server_t *s = NULL;
    ASSERT(ss_server_create(&cfg, &h, &s) < 0);
    cfg.poller = SS_POLLER_IO_URING;
#ifdef SS_HAVE_URING
    refuse_uring = 1;
    ASSERT_EQ(ss_server_create(&cfg, &h, &s), -EPERM);
    ASSERT(strstr(ss_errmsg(), "io_uring") != NULL);
    refuse_uring = 0;
#else
    ASSERT_EQ(ss_server_create(&cfg, &h, &s), SS_EMODE);
    ASSERT(strstr(ss_errmsg(), "built without io_uring") != NULL);
#endif
}

/* Exits 77 (ctest's skip) when io_uring cannot be tested here. */
static void need_uring(void)
{
#ifndef SS_HAVE_URING
    printf("skipped: io_uring (built without liburing: liburing-dev not installed)\n");
    exit(77);
#else
    ss__poller *p;
    int rc = ss__poller_create(&p, 8, SS_POLLER_IO_URING);
    if (rc < 0) {
        printf("skipped: io_uring (the kernel refuses it: %s)\n", ss_strerror(rc));
        exit(77);
    }
    ss__poller_destroy(p);
#endif
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        {"edges", edges},
        {"closing_closes", closing_closes},
        {"reused_number", reused_number},
        {"many", many},
        {"choice", choice},
        {"server_create", server_create},
        {NULL, NULL},
    };
    if (argc > 1 && strcmp(argv[1], "available") == 0) { /* for scripts/test.sh */
        need_uring();
        return 0;
    }
    if (argc > 2 && strcmp(argv[2], "io_uring") == 0) {
        need_uring();
        kind = SS_POLLER_IO_URING;
    }
    return test_main(cases, argc > 1 ? 2 : argc, argv);
}
