/* mode_fork.c - ForkingMixIn: a new process per request. The parent watches
 * one pidfd per child (pidfd_open(2)) in its poll set, so each child is
 * reaped as soon as it exits: no zombie lingers, and the library installs no
 * SIGCHLD handler of its own. A child that dies of a signal is reported with
 * its client's address; the server keeps serving. */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct child {
    pid_t pid;
    int pidfd; /* -1 if pidfd_open failed: then swept with waitpid */
    char peer[SS_ADDRSTRLEN];
} child;

typedef struct fork_state {
    child *kids;
    int n, cap;
} fork_state;

static int fork_init(ss_server_t *s)
{
    s->mode_state = calloc(1, sizeof(fork_state));
    return s->mode_state ? 0 : ss__fail(-ENOMEM, "fork mode");
}

int ss__pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
    /* pidfds are close-on-exec from birth (pidfd_open(2)). */
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    return -1;
#endif
}

/* sigdescr_np, not strsignal(3): the library may share the process with
 * other threads, and strsignal is MT-Unsafe (glibc, attributes(7)). */
static void report_exit(ss_server_t *s, const child *k, int status)
{
    if (!WIFSIGNALED(status)) return;
    const char *d = sigdescr_np(WTERMSIG(status));
    ss__log(s, SS_LOG_ERROR, "child %d serving %s killed by signal %d (%s)", (int)k->pid, k->peer,
            WTERMSIG(status), d ? d : "unknown signal");
}

static void forget(fork_state *f, int i)
{
    if (f->kids[i].pidfd >= 0) close(f->kids[i].pidfd);
    f->kids[i] = f->kids[--f->n];
}

/* Reaps child i if it has exited. Returns 1 if it was reaped. */
static int try_reap(ss_server_t *s, int i, int options)
{
    fork_state *f = s->mode_state;
    int status;
    pid_t r = waitpid(f->kids[i].pid, &status, options);
    if (r == 0 || (r < 0 && errno == EINTR)) return 0;
    if (r > 0) report_exit(s, &f->kids[i], status);
    forget(f, i);
    atomic_fetch_sub(&s->active, 1);
    return 1;
}

static void sweep(ss_server_t *s)
{
    fork_state *f = s->mode_state;
    for (int i = f->n - 1; i >= 0; i--) try_reap(s, i, WNOHANG);
}

/* In the child: drop what belongs to the parent (listeners, so a closed
 * server refuses new clients even while children live), run, exit. The
 * cancel eventfd is shared with the parent on purpose: cancelling reaches
 * every child. _exit skips the parent's atexit handlers and stdio buffers. */
static void child_main(ss_server_t *s, const ss__request *req)
{
    for (int i = 0; i < s->nls; i++)
        if (s->ls[i].fd >= 0 && s->ls[i].fd != req->fd) close(s->ls[i].fd);
    ss_conn_t c = {0};
    ss__conn_for_request(s, &c, req);
    int rc = ss__run_handler(s, &c);
    _exit(rc < 0 ? 1 : 0);
}

static int add_child(ss_server_t *s, pid_t pid, const ss_addr_t *peer)
{
    fork_state *f = s->mode_state;
    if (f->n == f->cap) {
        int cap = f->cap ? f->cap * 2 : 16;
        child *k = realloc(f->kids, (size_t)cap * sizeof *k);
        if (!k) return -ENOMEM;
        f->kids = k;
        f->cap = cap;
    }
    child *k = &f->kids[f->n++];
    k->pid = pid;
    k->pidfd = ss__pidfd_open(pid);
    ss_addr_format(peer, k->peer, sizeof k->peer);
    atomic_fetch_add(&s->active, 1);
    return 0;
}

static int fork_process(ss_server_t *s, ss__request *req)
{
    sweep(s);
    fflush(NULL); /* or the child's exit could repeat buffered output */
    pid_t pid = fork();
    if (pid == 0) child_main(s, req);
    ss__request_drop(req); /* the child has its own copies */
    if (pid < 0) return ss__fail(ss__errno(), "fork");
    if (add_child(s, pid, &req->peer) < 0) {
        /* No room to track it: wait for it here rather than leave a zombie. */
        waitpid(pid, NULL, 0);
        return ss__fail(-ENOMEM, "fork: track child");
    }
    return 0;
}

static int fork_poll_fds(ss_server_t *s, struct pollfd *pfd, int max)
{
    fork_state *f = s->mode_state;
    int n = 0;
    for (int i = 0; i < f->n && n < max; i++)
        if (f->kids[i].pidfd >= 0)
            pfd[n++] = (struct pollfd){.fd = f->kids[i].pidfd, .events = POLLIN};
    return n;
}

#define SWEEP_MS 20 /* how often children without a pidfd are looked at */

/* A child whose pidfd could not be had (pidfd_open(2) failed: EMFILE at the
 * descriptor limit, a kernel before 5.3, valgrind) never wakes the loop by
 * exiting: the loop then wakes every SWEEP_MS to reap it, or it would stay a
 * zombie, counted against max_connections, until the next client came. */
static int64_t fork_wake_deadline(const ss_server_t *s)
{
    const fork_state *f = s->mode_state;
    for (int i = 0; i < f->n; i++)
        if (f->kids[i].pidfd < 0) return ss_now_ms() + SWEEP_MS;
    return 0;
}

/* The poll loop watches one pidfd per child, and wakes to sweep those
 * without one. */
static int fork_watch(ss_server_t *s, struct pollfd *pfd, int max, int64_t *deadline, int *room)
{
    (void)room;
    *deadline = ss__min_deadline(*deadline, fork_wake_deadline(s));
    return fork_poll_fds(s, pfd, max);
}

static void fork_ready(ss_server_t *s, const struct pollfd *pfd, int n)
{
    int any = 0;
    for (int i = 0; i < n; i++) any |= pfd[i].revents != 0;
    if (any || fork_wake_deadline(s)) sweep(s);
}

static int fork_drain(ss_server_t *s, int64_t deadline)
{
    fork_state *f = s->mode_state;
    for (;;) {
        sweep(s);
        if (f->n == 0 || ss_now_ms() >= deadline) return f->n;
        struct pollfd pfd[64];
        int n = fork_poll_fds(s, pfd, 64);
        int64_t d = ss__min_deadline(deadline, ss_now_ms() + 50);
        if (n < f->n) d = ss__min_deadline(d, ss_now_ms() + 10); /* some lack a pidfd */
        poll(pfd, (nfds_t)n, ss__poll_timeout(d));
    }
}

static int fork_force(ss_server_t *s)
{
    fork_state *f = s->mode_state;
    for (int i = 0; i < f->n; i++) kill(f->kids[i].pid, SIGKILL);
    while (f->n > 0) try_reap(s, f->n - 1, 0);
    return 0;
}

static void fork_destroy(ss_server_t *s)
{
    fork_state *f = s->mode_state;
    if (!f) return;
    fork_force(s);
    free(f->kids);
    free(f);
    s->mode_state = NULL;
}

static const ss__poll_hooks fork_hooks = {.watch = fork_watch, .ready = fork_ready};

const ss__mode_ops ss__mode_fork = {
    .mode = SS_MODE_FORK,
    .init = fork_init,
    .process = fork_process,
    .poll = &fork_hooks,
    .drain = fork_drain,
    .force = fork_force,
    .destroy = fork_destroy,
};
