/* mode_fork.c - ForkingMixIn: a new process per request. The parent watches
 * one pidfd per child (pidfd_open(2)) in its poll set, so each child is
 * reaped as soon as it exits: no zombie lingers, and the library installs no
 * SIGCHLD handler of its own. A child that dies of a signal is reported with
 * its client's address; the server keeps serving. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* A child and the client it serves, named in the report if it dies. */
typedef struct child {
    ss__child k;
    ss__ticket ticket; /* its client's count against its source, taken here */
    char peer[SS_ADDRSTRLEN];
} child;

#define SWEEP_MS 20 /* how often children without a pidfd are looked at */

static int fork_init(ss_server_t *s)
{
    ss__children *kids = calloc(1, sizeof *kids);
    if (!kids) return ss__fail(-ENOMEM, "fork mode");
    ss__children_init(kids, sizeof(child), SWEEP_MS, 0);
    s->mode_state = kids;
    return 0;
}

/* Only a child killed by a signal is reported: a handler that failed has
 * had handle_error run in the child before it exited with status 1. Its
 * client's count against its source ends here, however it ended: the one
 * taken at accept in this process, and one the child took itself after a
 * PROXY header (its lease). */
static void reaped(void *ctx, void *kid, const int *status)
{
    ss_server_t *s = ctx;
    child *k = kid;
    ss__child_report(s, status, 0, "child %d serving %s", (int)k->k.pid, k->peer);
    ss__admit_release(&k->ticket);
    ss__admit_reaped(s, k->k.pid);
    atomic_fetch_sub(&s->active, 1);
}

static void sweep(ss_server_t *s)
{
    ss__children_sweep(s->mode_state, reaped, s);
}

/* In the child: drop what belongs to the parent (listeners, so a closed
 * server refuses new clients even while children live), run, exit. The
 * cancel eventfd is shared with the parent on purpose: cancelling reaches
 * every child. _exit skips the parent's atexit handlers and stdio buffers. */
static void child_main(ss_server_t *s, const ss__request *req)
{
    ss__admit_in_child();
    for (int i = 0; i < s->nls; i++)
        if (s->ls[i].fd >= 0 && s->ls[i].fd != req->fd) close(s->ls[i].fd);
    ss_conn_t c = {0};
    ss__conn_for_request(s, &c, req);
    int rc = ss__run_handler(s, &c);
    ss__request_done(&c, req, 0); /* its layers end as in every mode (TLS: close_notify) */
    ss__alog_flush(s->alog);      /* the child's access log line: no flusher here */
    _exit(rc < 0 ? 1 : 0);
}

static int add_child(ss_server_t *s, pid_t pid, const ss_addr_t *peer, const ss__ticket *t)
{
    child *k = ss__children_add(s->mode_state, pid);
    if (!k) return -ENOMEM;
    k->ticket = *t;
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
    /* The count against its source stays taken while the child lives: it
     * is released when the child is reaped (the child's copy is not ours
     * to release, ss__admit_release). */
    ss__ticket t = req->ticket;
    req->ticket = (ss__ticket){0};
    ss__request_drop(req); /* the child has its own copies */
    if (pid < 0) {
        ss__admit_release(&t);
        return ss__fail(ss__errno(), "fork");
    }
    if (add_child(s, pid, &req->peer, &t) < 0) {
        /* No room to track it: wait for it here rather than leave a zombie. */
        waitpid(pid, NULL, 0);
        ss__admit_release(&t);
        ss__admit_reaped(s, pid);
        return ss__fail(-ENOMEM, "fork: track child");
    }
    return 0;
}

/* The poll loop watches one pidfd per child. A child without a pidfd never
 * wakes it by exiting: the loop then wakes every so often to reap it, or it
 * would stay a zombie, counted against max_connections, until the next
 * client came. */
static int fork_watch(ss_server_t *s, struct pollfd *pfd, int max, int64_t *deadline,
                      int *room) // NOLINT(readability-non-const-parameter): ss__poll_hooks
{
    (void)room; /* no limit of its own */
    *deadline = ss__min_deadline(*deadline, ss__children_deadline(s->mode_state));
    return ss__children_poll_fds(s->mode_state, pfd, max);
}

static void fork_ready(ss_server_t *s, const struct pollfd *pfd, int n)
{
    int any = 0;
    for (int i = 0; i < n; i++) any |= pfd[i].revents != 0;
    if (any || ss__children_blind(s->mode_state)) sweep(s);
}

static int fork_drain(ss_server_t *s, int64_t deadline)
{
    return ss__children_drain(s->mode_state, deadline, reaped, s);
}

static int fork_force(ss_server_t *s)
{
    ss__children_kill(s->mode_state, reaped, s);
    return 0;
}

static void fork_destroy(ss_server_t *s)
{
    ss__children *kids = s->mode_state;
    if (!kids) return;
    fork_force(s);
    ss__children_free(kids);
    free(kids);
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
