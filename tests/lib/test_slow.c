/* test_slow.c - slow and hostile peers, in the library: min_rate's sliding
 * window (ss__rate, rate.c) as a unit and as a property over random
 * chunkings of steady rates; the line deadline and the minimum rate on a
 * connection over a socket pair (the errors and their messages, what they
 * spare); ss_conn_peer_cred on unix and other connections; and, as root,
 * a client that runs as nobody seen with its true uid by a handler, then
 * refused by allow_uid on the intake path. */
#include "harness.h"
#include "internal.h"

#include <grp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define W SS_MIN_RATE_WINDOW_MS

/* ------------------------------------------------------- the rate window */

static void rate_window(void)
{
    ss__rate r = {0};
    ASSERT_EQ(ss__rate_low(&r, 100), 0); /* nothing measured: no verdict */
    ss__rate_add(&r, W / 4, 0);
    ASSERT_EQ(ss__rate_low(&r, 100), 0); /* a quarter window: too little */
    ss__rate_add(&r, W / 4, 0);
    ASSERT_EQ(ss__rate_low(&r, 100), 1); /* half a window, no byte */
    ASSERT_EQ(ss__rate_low(&r, 0), 0);   /* off */
    /* A burst now lifts the window above the rate. */
    ss__rate_add(&r, 1, 1000);
    ASSERT_EQ(ss__rate_low(&r, 100), 0);
    /* It slides: long slow waiting after the burst brings it down again. */
    for (int i = 0; i < 3 * W / 100; i++) ss__rate_add(&r, 100, 1);
    ASSERT_EQ(ss__rate_low(&r, 100), 1);
    ASSERT_EQ(ss__rate_low(&r, 5), 0); /* 10 bytes/s is above 5 */
    /* And fast bytes after slow ones lift it within a window. */
    for (int i = 0; i < W / 100; i++) ss__rate_add(&r, 100, 50);
    ASSERT_EQ(ss__rate_low(&r, 100), 0);
    /* One wait longer than the window is scaled, never overflows. */
    ss__rate_add(&r, 10 * W, 1);
    ASSERT_EQ(ss__rate_low(&r, 1), 1);
    ss__rate_add(&r, 0, UINT64_MAX / 2); /* saturates */
    ASSERT_EQ(ss__rate_low(&r, 1000000), 0);
}

/* Property: a steady rate, cut into random waits, is judged low when it is
 * clearly below the minimum (under half) and never when clearly above
 * (over twice), once a whole window has been measured. */
static void rate_property(void)
{
    unsigned seed = 16;
    for (int trial = 0; trial < 2000; trial++) {
        uint64_t rate = 1 + (uint64_t)(rand_r(&seed) % 20000); /* bytes/s */
        uint64_t min = 1 + (uint64_t)(rand_r(&seed) % 20000);
        if (rate * 2 > min && rate < min * 2) continue; /* too close to call */
        ss__rate r = {0};
        int64_t total = 0;
        double owed = 0;
        while (total < 3 * W) {
            int64_t ms = 1 + rand_r(&seed) % 700;
            owed += (double)rate * (double)ms / 1000.0;
            uint64_t bytes = (uint64_t)owed;
            owed -= (double)bytes;
            ss__rate_add(&r, ms, bytes);
            total += ms;
        }
        int low = ss__rate_low(&r, min);
        if (low != (rate < min))
            FAIL_AT("trial %d: rate %llu, min %llu: judged %s", trial, (unsigned long long)rate,
                    (unsigned long long)min, low ? "low" : "fine");
    }
}

/* ------------------------------------------------ a connection on a pair */

typedef struct pair {
    ss_conn_t c;
    int peer; /* the other end, written by the test */
} pair;

static void pair_open(pair *p, const ss_config_t *cfg, ss_transport_t t)
{
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    ss__conn_init(&p->c, sv[0], t, cfg);
    p->peer = sv[1];
}

static void pair_close(pair *p)
{
    ss__conn_release(&p->c);
    close(p->c.fd);
    close(p->peer);
}

static void put(int fd, const char *s)
{
    ASSERT_EQ(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void line_deadline(void)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    ASSERT_EQ(cfg.line_timeout_ms, 60000); /* on by default */
    cfg.line_timeout_ms = 200;
    pair p;
    pair_open(&p, &cfg, SS_UNIX);
    char buf[64];
    /* A whole line, then one that begins and never ends. */
    put(p.peer, "ok\nab");
    ASSERT_EQ(ss_readline(&p.c, buf, sizeof buf), 3);
    int64_t t0 = ss_now_ms();
    ASSERT_EQ(ss_readline(&p.c, buf, sizeof buf), -ETIMEDOUT);
    int64_t took = ss_now_ms() - t0;
    ASSERT_GE(took, 190);
    ASSERT_LT(took, 1000);
    ASSERT(strstr(ss_conn_errmsg(&p.c), "line not ended within 200 ms (line_timeout)"));
    /* Waiting for a line to begin is not bounded by it: the connection's
     * deadline rules there. */
    ss_set_deadline(&p.c, ss_now_ms() + 500);
    t0 = ss_now_ms();
    ASSERT_EQ(ss_readline(&p.c, buf, sizeof buf), -ETIMEDOUT);
    ASSERT_GE(ss_now_ms() - t0, 450);
    ASSERT(!strstr(ss_conn_errmsg(&p.c), "line_timeout"));
    pair_close(&p);

    /* 0 turns it off. */
    cfg.line_timeout_ms = 0;
    pair_open(&p, &cfg, SS_UNIX);
    put(p.peer, "ab");
    ss_set_deadline(&p.c, ss_now_ms() + 400);
    t0 = ss_now_ms();
    ASSERT_EQ(ss_readline(&p.c, buf, sizeof buf), -ETIMEDOUT);
    ASSERT_GE(ss_now_ms() - t0, 350);
    pair_close(&p);
}

static atomic_int trickle_stop;

/* A byte every 100 ms, 30 in all, never a newline (a trickle), until told
 * to stop. */
static void *trickler(void *arg)
{
    int fd = *(int *)arg;
    for (int i = 0; i < 30 && !atomic_load(&trickle_stop); i++) {
        if (send(fd, "a", 1, MSG_NOSIGNAL) != 1) break;
        usleep(100 * 1000);
    }
    return NULL;
}

static void min_rate(void)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.line_timeout_ms = 0;
    cfg.min_rate = 100;
    pair p;
    pair_open(&p, &cfg, SS_UNIX);
    p.c.rate_from = ss_now_ms() + 300; /* the grace, as the intake sets it */
    char buf[64];
    /* Lines that come whole are never measured, however long the pause. */
    put(p.peer, "one\n");
    ASSERT_EQ(ss_readline(&p.c, buf, sizeof buf), 4);
    usleep(1500 * 1000);
    put(p.peer, "two\n");
    ASSERT_EQ(ss_readline(&p.c, buf, sizeof buf), 4);
    /* A trickle inside a line is ended after the grace and half a window. */
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, trickler, &p.peer), 0);
    int64_t t0 = ss_now_ms();
    ASSERT_EQ(ss_readline(&p.c, buf, sizeof buf), -ETIMEDOUT);
    int64_t took = ss_now_ms() - t0;
    ASSERT_GE(took, W / 2 - 100);
    ASSERT_LT(took, W + 1000);
    ASSERT(strstr(ss_conn_errmsg(&p.c), "peer sends under 100 bytes/s (min_rate)"));
    atomic_store(&trickle_stop, 1);
    pthread_join(t, NULL);
    pair_close(&p);
}

/* -------------------------------------------------------- peer credentials */

static void peer_cred(void)
{
    pair p;
    pair_open(&p, NULL, SS_UNIX);
    pid_t pid = 0;
    uid_t uid = 1;
    gid_t gid = 1;
    ASSERT_EQ(ss_conn_peer_cred(&p.c, &pid, &uid, &gid), 0);
    ASSERT_EQ(pid, getpid());
    ASSERT_EQ(uid, geteuid());
    ASSERT_EQ(gid, getegid());
    ASSERT_EQ(ss_conn_peer_cred(&p.c, NULL, NULL, NULL), 0);
    pair_close(&p);
    pair_open(&p, NULL, SS_TCP); /* what the transport says rules */
    ASSERT_EQ(ss_conn_peer_cred(&p.c, &pid, &uid, &gid), -ENOTSUP);
    pair_close(&p);
    pair_open(&p, NULL, SS_UNIXGRAM);
    ASSERT_EQ(ss_conn_peer_cred(&p.c, NULL, &uid, NULL), -ENOTSUP);
    pair_close(&p);
    ASSERT_EQ(ss_conn_peer_cred(NULL, NULL, NULL, NULL), SS_EUSAGE);
}

/* The handler tells the client who it is. */
static int tell_cred(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    uid_t uid;
    gid_t gid;
    int rc = ss_conn_peer_cred(c, NULL, &uid, &gid);
    if (rc < 0) return rc;
    return ss_printf(c, "%u %u\n", (unsigned)uid, (unsigned)gid);
}

/* In a child that drops to nobody (65534): dials addr and reads one line.
 * Exits 0 when the line is want (NULL: when the server closes without a
 * line, refused), else 1. */
static void as_nobody(const char *addr, const char *want)
{
    fflush(NULL);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0) _exit(3);
        ss_conn_t *c;
        char buf[64] = "";
        if (ss_dial(addr, ss_now_ms() + 2000, &c) < 0) _exit(4);
        ss_set_deadline(c, ss_now_ms() + 3000);
        ssize_t n = ss_readline(c, buf, sizeof buf);
        ss_conn_close(c);
        if (!want) _exit(n <= 0 && n != -ETIMEDOUT ? 0 : 1);
        if (n <= 0 || strcmp(buf, want) != 0) {
            fprintf(stderr, "nobody read [%s] (%zd), want [%s]\n", buf, n, want);
            _exit(1);
        }
        _exit(0);
    }
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
}

/* Dials addr as ourselves and reads the one line the handler sends unasked
 * (a roundtrip's write could meet the closed socket: EPIPE on unix). */
static void as_self(const char *addr, const char *want)
{
    ss_conn_t *c;
    ASSERT_OK(ss_dial(addr, ss_now_ms() + 2000, &c));
    ss_set_deadline(c, ss_now_ms() + 5000);
    harness_expect_line(c, want);
    ss_conn_close(c);
}

static void serve_unix(running *r, ss_config_t *cfg, shared_counts *counts)
{
    ss_handler_t h = {.handle = tell_cred};
    cfg->unix_mode = 0777;
    start_server(r, cfg, &h, "unix", counts);
    ASSERT_EQ(chmod(r->dir, 0755), 0); /* nobody may reach the socket */
}

static void peer_cred_root(void)
{
    if (geteuid() != 0) {
        printf("skipped: not root\n");
        fflush(stdout);
        _exit(77); /* ctest's SKIP_RETURN_CODE; _exit: no atexit handler to run */
    }
    shared_counts *counts = shared_counts_new();
    ss_config_t cfg;
    ss_config_init(&cfg);
    running r;
    serve_unix(&r, &cfg, counts);
    as_nobody(r.addr, "65534 65534\n"); /* its true uid, not ours */
    as_self(r.addr, "0 0\n");
    stop_server(&r);

    /* allow_uid 0: nobody is refused at the intake, root is served. */
    cfg.allow_uid[0] = 0;
    cfg.allow_uid_count = 1;
    serve_unix(&r, &cfg, counts);
    as_nobody(r.addr, NULL);
    as_self(r.addr, "0 0\n");
    stop_server(&r);

    /* allow_gid 65534 lets nobody in again. */
    cfg.allow_gid[0] = 65534;
    cfg.allow_gid_count = 1;
    serve_unix(&r, &cfg, counts);
    as_nobody(r.addr, "65534 65534\n");
    stop_server(&r);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        {"rate_window", rate_window},
        {"rate_property", rate_property},
        {"line_deadline", line_deadline},
        {"min_rate", min_rate},
        {"peer_cred", peer_cred},
        {"peer_cred_root", peer_cred_root},
        {NULL, NULL},
    };
    return test_main(cases, argc, argv);
}
