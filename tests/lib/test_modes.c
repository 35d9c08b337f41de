/* test_modes.c - what only the pool and prefork modes promise: a busy pool
 * makes new clients wait (never refused, never dropped); prefork workers are
 * replaced when they die, with a back-off when they keep dying, leave nothing
 * behind when their parent is killed, and drain on SIGTERM. And reuse_port
 * in the prefork and event modes: a listening socket per worker or loop,
 * each serving clients.
 * Usage: test_modes CASE (ctest registers each case). */
#include "harness.h"

#include <ctype.h>
#include <errno.h>
#include <sys/prctl.h>

/* What the server process and its workers note for the test (MAP_SHARED). */
typedef struct notes {
    _Atomic int verify_pid; /* the process verify_request ran in */
    _Atomic int ndelays;    /* respawn delays the parent announced */
    _Atomic int delays[16];
} notes;

static shared_counts *counts;
static notes *seen;
static ss_config_t cfg;
static running srv;

/* ------------------------------------------------------------ the handler */

static int mh_setup(ss_conn_t *c, void *ctx)
{
    (void)c, (void)ctx;
    counts->setups++;
    counts->in_handler++;
    return 0;
}

static void mh_finish(ss_conn_t *c, void *ctx)
{
    (void)c, (void)ctx;
    counts->finished++;
    counts->in_handler--;
}

static int note(int rc)
{
    if (rc == -ECANCELED) counts->cancelled++;
    return rc;
}

static void upcase(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (char)toupper((unsigned char)p[i]);
}

/* PID: the serving process; TASK: the serving process and thread name (an
 * event loop's is ss-loop-N); SLEEP ms; HOLD: wait for the client; else the
 * line uppercased. */
static int mh_line(ss_conn_t *c, char *line, size_t n)
{
    long v;
    if (strncmp(line, "PID", 3) == 0) return ss_printf(c, "%d\n", (int)getpid());
    if (strncmp(line, "TASK", 4) == 0) {
        char name[16] = "";
        pthread_getname_np(pthread_self(), name, sizeof name);
        return ss_printf(c, "%d %s\n", (int)getpid(), name);
    }
    if (sscanf(line, "SLEEP %ld", &v) == 1) {
        int rc = note(ss_sleep_until(ss_now_ms() + v));
        return rc < 0 ? rc : ss_puts(c, "SLEPT\n");
    }
    if (strncmp(line, "HOLD", 4) == 0) {
        char b[16];
        ssize_t r = note((int)ss_read(c, b, sizeof b));
        return r < 0 ? (int)r : 1;
    }
    upcase(line, n);
    return ss_write(c, line, n);
}

static int mh_datagram(ss_conn_t *c)
{
    char pkt[512];
    ssize_t n = ss_read(c, pkt, sizeof pkt - 1);
    if (n < 0) return (int)n;
    pkt[n] = '\0';
    long v;
    if (sscanf(pkt, "SLEEP %ld", &v) == 1) {
        int rc = note(ss_sleep_until(ss_now_ms() + v));
        return rc < 0 ? rc : ss_puts(c, "SLEPT");
    }
    upcase(pkt, (size_t)n);
    return ss_write(c, pkt, (size_t)n);
}

static int mh_handle(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    counts->handled++;
    if (ss_conn_is_datagram(c)) return mh_datagram(c);
    char line[128];
    for (;;) {
        ssize_t n = ss_readline(c, line, sizeof line);
        if (n < 0) return note((int)n);
        if (n == 0 || strcmp(line, "\n") == 0) return 0;
        int rc = mh_line(c, line, (size_t)n);
        if (rc != 0) return rc < 0 ? rc : 0;
    }
}

static void mh_error(ss_server_t *s, ss_conn_t *c, int err, void *ctx)
{
    (void)s, (void)c, (void)ctx;
    counts->errors++;
    counts->last_error = err;
}

static int verify_note(ss_server_t *s, const ss_addr_t *peer, void *ctx)
{
    (void)s, (void)peer, (void)ctx;
    seen->verify_pid = (int)getpid();
    return 0; /* serve */
}

/* Notes "the next in N ms" (the parent's back-off) and drops the rest. */
static void log_delays(ss_log_level_t level, const char *msg, void *ctx)
{
    (void)level, (void)ctx;
    const char *p = strstr(msg, "the next in ");
    int ms, i = seen->ndelays;
    if (p && sscanf(p, "the next in %d ms", &ms) == 1 && i < 16) {
        seen->delays[i] = ms;
        seen->ndelays = i + 1;
    }
}

static const ss_handler_t mh = {mh_setup, mh_handle, mh_finish, NULL};

/* ------------------------------------------------------------ client side */

static ss_conn_t *dial(void)
{
    ss_conn_t *c;
    ASSERT_OK(ss_dial(srv.addr, ss_now_ms() + 5000, &c));
    ss_set_deadline(c, ss_now_ms() + 10000);
    return c;
}

static void say(ss_conn_t *c, const char *line, const char *want)
{
    char buf[128];
    ASSERT_OK(ss_puts(c, line));
    ASSERT_OK(ss_readline(c, buf, sizeof buf));
    ASSERT_STR_EQ(buf, want);
}

static void quit(ss_conn_t *c)
{
    ASSERT_OK(ss_puts(c, "\n"));
    harness_expect_closed(c);
    ss_conn_close(c);
}

/* Nothing arrives on c for ms: no answer, no end of stream, no reset. */
static void expect_nothing(ss_conn_t *c, int64_t ms)
{
    char b[16];
    ss_set_deadline(c, ss_now_ms() + ms);
    ASSERT_EQ(ss_read(c, b, sizeof b), -ETIMEDOUT);
    ss_set_deadline(c, ss_now_ms() + 10000);
}

static void wait_in_handler(int n)
{
    int64_t end = ss_now_ms() + 5000;
    while (counts->in_handler != n) {
        ASSERT_LT(ss_now_ms(), end);
        ss_sleep_until(ss_now_ms() + 2);
    }
}

/* Until the server itself counts n requests (ss_server_active, published by
 * the harness's service_actions). */
static void wait_active(int n)
{
    int64_t end = ss_now_ms() + 5000;
    while (counts->active != n) {
        ASSERT_LT(ss_now_ms(), end);
        ss_sleep_until(ss_now_ms() + 2);
    }
}

/* SIGTERM sent already: the server must exit 0 (harness_clean passed). */
static void expect_clean_exit(pid_t pid)
{
    int status;
    ASSERT_EQ(wait_server(pid, &status), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        FAIL_AT("server ended with status 0x%x (3 fds, 4 threads, 5 children left)", status);
}

/* ------------------------------------------------------ processes in /proc */

/* The state letter and parent of pid from /proc/PID/stat (proc(5)); the
 * command name may hold spaces and parentheses, so parse after its last ')'. */
static int proc_stat(pid_t pid, char *state, pid_t *ppid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    int pp;
    if (!p || sscanf(p + 1, " %c %d", state, &pp) != 2) return -1;
    *ppid = pp;
    return 0;
}

/* The children of parent: the live ones into pids (up to max), returning
 * their count; zombies counted into *zombies. */
static int children_of(pid_t parent, pid_t *pids, int max, int *zombies)
{
    DIR *d = opendir("/proc");
    ASSERT(d != NULL);
    int n = 0, z = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        pid_t pid = (pid_t)atoi(e->d_name);
        char st;
        pid_t pp;
        if (pid <= 0 || proc_stat(pid, &st, &pp) < 0 || pp != parent) continue;
        if (st == 'Z')
            z++;
        else if (n < max)
            pids[n++] = pid;
        else
            n++;
    }
    closedir(d);
    if (zombies) *zombies = z;
    return n;
}

static int contains(const pid_t *pids, int n, pid_t pid)
{
    for (int i = 0; i < n; i++)
        if (pids[i] == pid) return 1;
    return 0;
}

/* Until the server has exactly n live workers, none of them old, and no
 * zombie child. Returns the time it took. */
static int64_t wait_workers(int n, pid_t *pids, pid_t old, int64_t limit_ms)
{
    int64_t t0 = ss_now_ms();
    for (;;) {
        int z;
        int k = children_of(srv.pid, pids, 64, &z);
        if (k == n && z == 0 && !contains(pids, k, old)) return ss_now_ms() - t0;
        if (ss_now_ms() - t0 > limit_ms)
            FAIL_AT("want %d workers (without %d), have %d and %d zombies", n, (int)old, k, z);
        ss_sleep_until(ss_now_ms() + 2);
    }
}

static int count_tasks(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    return count_dir(path);
}

/* ------------------------------------------------------------ pool cases */

/* workers=2: two clients hold both workers; a third connects (the kernel's
 * backlog completes the handshake) but is not accepted: it is neither
 * refused nor dropped, and is served as soon as one of the two leaves. */
static void case_pool_busy(void)
{
    cfg.workers = 2;
    start_server(&srv, &cfg, &mh, "tcp4", counts);
    ss_conn_t *a = dial(), *b = dial();
    say(a, "a\n", "A\n");
    say(b, "b\n", "B\n");
    ss_conn_t *c = dial();
    ASSERT_OK(ss_puts(c, "c\n"));
    ASSERT_OK(ss_flush(c));
    expect_nothing(c, 300);
    ASSERT_EQ(counts->in_handler, 2);
    ASSERT_EQ(counts->active, 2); /* waiting in the backlog, not in a queue of ours */
    quit(a);
    int64_t t0 = ss_now_ms();
    char buf[32];
    ASSERT_OK(ss_readline(c, buf, sizeof buf));
    ASSERT_STR_EQ(buf, "C\n");
    ASSERT_LT(ss_now_ms() - t0, 3000); /* bounded, not a speed claim */
    quit(b);
    quit(c);
    stop_server(&srv);
    ASSERT_EQ(counts->handled, 3);
    ASSERT_EQ(counts->errors, 0);
}

/* The same over UDP: while the only worker sleeps, a second datagram waits
 * in the socket's receive buffer and is answered afterwards. */
static void case_pool_busy_dgram(void)
{
    cfg.workers = 1;
    start_server(&srv, &cfg, &mh, "udp4", counts);
    ss_conn_t *a = dial(), *b = dial();
    ASSERT_OK(ss_puts(a, "SLEEP 400"));
    ASSERT_OK(ss_flush(a));
    wait_in_handler(1);
    char buf[32];
    ssize_t n = ss_request(b, "late", 4, buf, sizeof buf - 1, ss_now_ms() + 3000, 1);
    ASSERT_EQ(n, 4);
    ASSERT_MEM_EQ(buf, "LATE", 4);
    ASSERT_EQ(counts->handled, 2);
    ss_conn_close(a);
    ss_conn_close(b);
    stop_server(&srv);
}

/* Threads live as long as the server: after the first clients the server
 * has 1 + workers threads, and more clients add none. */
static void case_pool_threads(void)
{
    cfg.workers = 3;
    start_server(&srv, &cfg, &mh, "tcp4", counts);
    int before = 0;
    for (int i = 0; i < 12; i++) {
        if (i == 4) before = count_tasks(srv.pid);
        ss_conn_t *c = dial();
        say(c, "x\n", "X\n");
        quit(c);
    }
    int after = count_tasks(srv.pid);
    ASSERT_EQ(after, before);
    if (!SS_TSAN) ASSERT_EQ(after, 1 + 3);
    stop_server(&srv);
    ASSERT_EQ(counts->handled, 12);
}

/* max_connections below workers: the pool has max_connections threads and a
 * client beyond it is closed at once (as in every mode); capacity returns. */
static void case_pool_maxconn(void)
{
    cfg.workers = 4;
    cfg.max_connections = 2;
    start_server(&srv, &cfg, &mh, "tcp4", counts);
    ss_conn_t *a = dial(), *b = dial();
    say(a, "a\n", "A\n");
    say(b, "b\n", "B\n");
    ss_conn_t *c = dial();
    harness_expect_closed(c);
    ss_conn_close(c);
    quit(a);
    wait_active(1); /* a's worker is done (it closes before it counts down) */
    c = dial();
    say(c, "c\n", "C\n");
    quit(c);
    quit(b);
    if (!SS_TSAN) ASSERT_EQ(count_tasks(srv.pid), 1 + 2);
    stop_server(&srv);
    ASSERT_EQ(counts->handled, 3);
}

static void *one_client(void *arg)
{
    const char *addr = arg;
    ss_conn_t *c;
    ASSERT_OK(ss_dial(addr, ss_now_ms() + 5000, &c));
    ss_set_deadline(c, ss_now_ms() + 5000);
    say(c, "hi\n", "HI\n");
    quit(c);
    return NULL;
}

/* handle_request hands one request to the pool and returns. */
static void case_pool_handle_request(void)
{
    ss_server_t *s;
    cfg.workers = 2;
    ASSERT_OK(ss_server_create(&cfg, &mh, &s));
    ASSERT_OK(ss_server_listen(s, "tcp://127.0.0.1:0"));
    ss_addr_t a;
    ASSERT_OK(ss_server_address(s, 0, &a));
    ss_addr_format(&a, srv.addr, sizeof srv.addr);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, one_client, srv.addr), 0);
    ASSERT_EQ(ss_server_handle_request(s, ss_now_ms() + 5000), 0);
    pthread_join(t, NULL);
    ss_server_close(s);
    ASSERT_EQ(counts->handled, 1);
    ASSERT_EQ(counts->finished, 1);
}

/* --------------------------------------------------------- prefork cases */

/* A worker killed with SIGKILL is reaped (no zombie) and replaced; the
 * server keeps serving. */
static void case_prefork_replace(void)
{
    pid_t pids[64];
    cfg.workers = 3;
    start_server(&srv, &cfg, &mh, "tcp4", counts);
    wait_workers(3, pids, 0, 5000);
    pid_t victim = pids[1];
    ASSERT_EQ(kill(victim, SIGKILL), 0);
    wait_workers(3, pids, victim, 5000);
    for (int i = 0; i < 6; i++) {
        ss_conn_t *c = dial();
        say(c, "still\n", "STILL\n");
        quit(c);
    }
    stop_server(&srv);
    ASSERT_EQ(counts->handled, 6);
}

/* Workers that keep dying young are replaced after a growing pause (0, 100,
 * 200, 400 ms ...), not in a tight fork loop. The pauses are read from the
 * parent's log; the clock only bounds them from below (a loaded machine
 * makes every gap longer, never shorter). */
static void case_prefork_backoff(void)
{
    pid_t pids[64];
    int64_t gap[4];
    cfg.workers = 1;
    cfg.log = log_delays;
    cfg.log_level = SS_LOG_WARN;
    start_server(&srv, &cfg, &mh, "tcp4", counts);
    wait_workers(1, pids, 0, 5000);
    for (int i = 0; i < 4; i++) {
        pid_t victim = pids[0];
        ASSERT_EQ(kill(victim, SIGKILL), 0);
        gap[i] = wait_workers(1, pids, victim, 5000);
    }
    fprintf(stderr, "respawn gaps: %lld %lld %lld %lld ms\n", (long long)gap[0], (long long)gap[1],
            (long long)gap[2], (long long)gap[3]);
    ASSERT_EQ(seen->ndelays, 3); /* the first death is replaced at once, unannounced */
    ASSERT_EQ(seen->delays[0], 100);
    ASSERT_EQ(seen->delays[1], 200);
    ASSERT_EQ(seen->delays[2], 400);
    ASSERT_GE(gap[1], 100);
    ASSERT_GE(gap[3], 400);
    ss_conn_t *c = dial();
    say(c, "alive\n", "ALIVE\n");
    quit(c);
    stop_server(&srv);
}

/* SIGKILL to the parent: its workers see the life pipe end; idle ones exit at
 * once, a busy one cancels its session after drain_timeout_ms and exits.
 * This process becomes their reaper (PR_SET_CHILD_SUBREAPER) so it can
 * watch them go. */
static void case_prefork_parent_killed(void)
{
    pid_t pids[64];
    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    cfg.workers = 3;
    cfg.drain_timeout_ms = 300;
    start_server(&srv, &cfg, &mh, "tcp4", counts);
    wait_workers(3, pids, 0, 5000);
    ss_conn_t *a = dial();
    say(a, "x\n", "X\n");
    ASSERT_OK(ss_puts(a, "HOLD\n"));
    ASSERT_OK(ss_flush(a));
    wait_in_handler(1);
    ASSERT_EQ(kill(srv.pid, SIGKILL), 0);
    ASSERT_EQ(waitpid(srv.pid, NULL, 0), srv.pid);
    int64_t t0 = ss_now_ms();
    int reaped = 0;
    for (;;) {
        pid_t r = waitpid(-1, NULL, WNOHANG);
        if (r > 0) ASSERT(contains(pids, 3, r));
        if (r > 0) reaped++;
        if (r < 0 && errno == ECHILD) break;
        if (ss_now_ms() - t0 > 3000) {
            for (int i = 0; i < 3; i++) kill(pids[i], SIGKILL); /* not to outlive the test */
            FAIL_AT("workers still alive 3 s after their parent was killed");
        }
        if (r == 0) ss_sleep_until(ss_now_ms() + 5);
    }
    int64_t took = ss_now_ms() - t0;
    fprintf(stderr, "workers gone %lld ms after the parent\n", (long long)took);
    ASSERT_EQ(reaped, 3);
    ASSERT_GE(took, 250); /* the busy one drained first */
    harness_expect_closed(a);
    ss_conn_close(a);
    ASSERT_EQ(counts->cancelled, 1);
    ASSERT_EQ(counts->finished, 1);
}

typedef struct sleeper_job {
    ss_conn_t *c;
    char reply[32];
    ssize_t n;
} sleeper_job;

static void *sleeper(void *arg)
{
    sleeper_job *j = arg;
    ss_puts(j->c, "SLEEP 600\n");
    j->n = ss_readline(j->c, j->reply, sizeof j->reply);
    ss_puts(j->c, "\n");
    ss_flush(j->c);
    return NULL;
}

/* Dials until the server refuses; a client that still connects (the
 * parent's listener not closed yet) must not be served: the idle worker has
 * stopped accepting too. */
static void expect_refused_soon(void)
{
    int64_t end = ss_now_ms() + 3000;
    for (;;) {
        ss_conn_t *c;
        int rc = ss_dial(srv.addr, ss_now_ms() + 1000, &c);
        if (rc == -ECONNREFUSED) return;
        ASSERT_OK(rc);
        ss_set_deadline(c, ss_now_ms() + 5000);
        if (ss_puts(c, "late\n") == 0 && ss_flush(c) == 0) harness_expect_closed(c);
        ss_conn_close(c);
        ASSERT_LT(ss_now_ms(), end);
        ss_sleep_until(ss_now_ms() + 20);
    }
}

/* SIGTERM to the parent: no new client is served (refused once the
 * listeners close), the sessions in flight in two workers finish while the
 * third, idle, worker exits, and the server exits clean (every worker
 * reaped: no zombie, no child left). */
static void case_prefork_drain(void)
{
    pid_t pids[64];
    cfg.workers = 3;
    start_server(&srv, &cfg, &mh, "tcp4", counts);
    wait_workers(3, pids, 0, 5000);
    sleeper_job j[2] = {{.c = dial()}, {.c = dial()}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) ASSERT_EQ(pthread_create(&t[i], NULL, sleeper, &j[i]), 0);
    wait_in_handler(2);
    ASSERT_EQ(kill(srv.pid, SIGTERM), 0);
    ss_sleep_until(ss_now_ms() + 100);
    expect_refused_soon();
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        ASSERT_OK(j[i].n);
        ASSERT_STR_EQ(j[i].reply, "SLEPT\n");
        ss_conn_close(j[i].c);
    }
    expect_clean_exit(srv.pid);
    ASSERT_EQ(counts->handled, 2);
    ASSERT_EQ(counts->finished, 2);
    ASSERT_EQ(counts->cancelled, 0);
}

/* SIGTERM to one worker retires it: its session goes on to the end, then a
 * new worker takes its place. */
static void case_prefork_worker_term(void)
{
    pid_t pids[64];
    char buf[32];
    cfg.workers = 2;
    start_server(&srv, &cfg, &mh, "tcp4", counts);
    wait_workers(2, pids, 0, 5000);
    ss_conn_t *a = dial();
    ASSERT_OK(ss_puts(a, "PID\n"));
    ASSERT_OK(ss_readline(a, buf, sizeof buf));
    pid_t w = (pid_t)atoi(buf);
    ASSERT(contains(pids, 2, w));
    ASSERT_EQ(kill(w, SIGTERM), 0);
    ss_sleep_until(ss_now_ms() + 100);
    say(a, "still here\n", "STILL HERE\n");
    quit(a);
    wait_workers(2, pids, w, 5000);
    ss_conn_t *c = dial();
    say(c, "next\n", "NEXT\n");
    quit(c);
    stop_server(&srv);
    ASSERT_EQ(counts->errors, 0);
}

/* verify_request runs in the worker that accepted the client (service_actions
 * runs in the parent: the harness publishes ss_server_active from it);
 * handle_request is not a prefork call. */
static void case_prefork_hooks(void)
{
    pid_t pids[64];
    cfg.workers = 2;
    cfg.verify_request = verify_note;
    start_server(&srv, &cfg, &mh, "tcp4", counts);
    wait_workers(2, pids, 0, 5000);
    ss_conn_t *c = dial();
    say(c, "v\n", "V\n");
    wait_active(1); /* the parent counts the request its worker runs */
    quit(c);
    ASSERT(contains(pids, 2, (pid_t)seen->verify_pid));
    stop_server(&srv);

    ss_server_t *s;
    cfg.verify_request = NULL;
    ASSERT_OK(ss_server_create(&cfg, &mh, &s));
    ASSERT_OK(ss_server_listen(s, "tcp://127.0.0.1:0"));
    ASSERT_EQ(ss_server_handle_request(s, ss_now_ms() + 10), SS_EMODE);
    ss_server_close(s);
}

/* --------------------------------------------------------- reuse_port */

/* TCP sockets listening on port (any address, any process): the LISTEN
 * (0A) lines of /proc/net/tcp (proc(5)). */
static int listening_on(unsigned port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    ASSERT(f != NULL);
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned lport, st;
        if (sscanf(line, " %*u: %*x:%x %*x:%*x %x", &lport, &st) == 2 && lport == port &&
            st == 0x0A)
            n++;
    }
    fclose(f);
    return n;
}

static unsigned srv_port(void)
{
    const char *colon = strrchr(srv.addr, ':');
    ASSERT(colon != NULL);
    return (unsigned)atoi(colon + 1);
}

/* Until want sockets listen on the server's port: the loops and workers
 * make theirs as they start. */
static void wait_listening(int want)
{
    int64_t end = ss_now_ms() + 5000;
    while (listening_on(srv_port()) != want) {
        ASSERT_LT(ss_now_ms(), end);
        ss_sleep_until(ss_now_ms() + 5);
    }
}

/* 24 clients one after another, each asking who serves it (cmd: PID or
 * TASK): the kernel hashes each (its own port differs) to one of the two
 * sockets, so both serve some (all 24 on one: a chance of 2^-23). Counts
 * the replies that were want0 and want1; any other reply fails. */
static void spread(const char *cmd, const char *want0, const char *want1, int *n0, int *n1)
{
    char buf[64];
    *n0 = *n1 = 0;
    for (int i = 0; i < 24; i++) {
        ss_conn_t *c = dial();
        ASSERT_OK(ss_puts(c, cmd));
        ASSERT_OK(ss_readline(c, buf, sizeof buf));
        if (strcmp(buf, want0) == 0)
            (*n0)++;
        else if (strcmp(buf, want1) == 0)
            (*n1)++;
        else
            FAIL_AT("reply [%s]: neither [%s] nor [%s]", buf, want0, want1);
        quit(c);
    }
}

/* Prefork with reuse_port: two sockets listen, one per worker (worker 0
 * accepts on the server's own, which the parent holds too), and each worker
 * serves clients; without reuse_port, one shared socket. */
static void case_prefork_reuse_port(void)
{
    pid_t pids[64];
    cfg.workers = 2;
    cfg.reuse_port = 1;
    start_server(&srv, &cfg, &mh, "tcp4", counts);
    wait_workers(2, pids, 0, 5000);
    wait_listening(2);
    char w0[32], w1[32];
    snprintf(w0, sizeof w0, "%d\n", (int)pids[0]);
    snprintf(w1, sizeof w1, "%d\n", (int)pids[1]);
    int n0, n1;
    spread("PID\n", w0, w1, &n0, &n1);
    printf("prefork reuse_port: worker %d served %d, worker %d served %d\n", (int)pids[0], n0,
           (int)pids[1], n1);
    ASSERT(n0 > 0 && n1 > 0);
    stop_server(&srv);
    ASSERT_EQ(counts->errors, 0);

    cfg.reuse_port = 0;
    start_server(&srv, &cfg, &mh, "tcp4", counts);
    wait_workers(2, pids, 0, 5000);
    ASSERT_EQ(listening_on(srv_port()), 1);
    stop_server(&srv);
}

/* Event mode with reuse_port: a socket per loop, both loops serving; the
 * harness checks that the server process ends with the descriptors and
 * threads it started with (the loops' own sockets closed). Without it, one
 * shared socket. */
static void case_event_reuse_port(void)
{
    cfg.workers = 2;
    cfg.reuse_port = 1;
    start_server(&srv, &cfg, &mh, "tcp4", counts);
    wait_listening(2);
    char l0[48], l1[48];
    snprintf(l0, sizeof l0, "%d ss-loop-0\n", (int)srv.pid);
    snprintf(l1, sizeof l1, "%d ss-loop-1\n", (int)srv.pid);
    int n0, n1;
    spread("TASK\n", l0, l1, &n0, &n1);
    printf("event reuse_port: loop 0 served %d, loop 1 served %d\n", n0, n1);
    ASSERT(n0 > 0 && n1 > 0);
    stop_server(&srv);
    ASSERT_EQ(counts->errors, 0);

    cfg.reuse_port = 0;
    start_server(&srv, &cfg, &mh, "tcp4", counts);
    ss_conn_t *c = dial(); /* the loops run once a client is served */
    say(c, "x\n", "X\n");
    quit(c);
    ASSERT_EQ(listening_on(srv_port()), 1);
    stop_server(&srv);
}

/* ------------------------------------------------------------------ main */

static const test_case cases[] = {
    {"pool_busy", case_pool_busy},
    {"pool_busy_dgram", case_pool_busy_dgram},
    {"pool_threads", case_pool_threads},
    {"pool_maxconn", case_pool_maxconn},
    {"pool_handle_request", case_pool_handle_request},
    {"prefork_replace", case_prefork_replace},
    {"prefork_backoff", case_prefork_backoff},
    {"prefork_parent_killed", case_prefork_parent_killed},
    {"prefork_drain", case_prefork_drain},
    {"prefork_worker_term", case_prefork_worker_term},
    {"prefork_hooks", case_prefork_hooks},
    {"prefork_reuse_port", case_prefork_reuse_port},
    {"event_reuse_port", case_event_reuse_port},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    counts = shared_counts_new();
    seen = mmap(NULL, sizeof *seen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT(seen != MAP_FAILED);
    ss_config_init(&cfg);
    cfg.handle_error = mh_error;
    cfg.log_level = getenv("SS_TEST_LOG") ? SS_LOG_DEBUG : SS_LOG_ERROR;
    cfg.mode = argc > 1 && strncmp(argv[1], "prefork", 7) == 0 ? SS_MODE_PREFORK
               : argc > 1 && strncmp(argv[1], "event", 5) == 0 ? SS_MODE_EVENT
                                                               : SS_MODE_POOL;
    return test_main(cases, argc, argv);
}
