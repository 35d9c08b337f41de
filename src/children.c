/* children.c - the child processes of the fork and prefork modes: one pidfd
 * each (pidfd_open(2)) for the parent's poll set, so each child is reaped
 * as soon as it exits, with no SIGCHLD handler of the library's own; the
 * report of a child that did not end well; and the force kill at close. */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define DRAIN_TICK_MS  50 /* a drain's poll returns at least this often, */
#define DRAIN_BLIND_MS 10 /* and this often while some child has no pidfd */

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    /* pidfds are close-on-exec from birth (pidfd_open(2)). */
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    return -1;
#endif
}

static ss__child *entry(const ss__children *c, int i)
{
    return (ss__child *)(void *)(c->v + (size_t)i * c->size);
}

void *ss__children_at(const ss__children *c, int i)
{
    return entry(c, i);
}

int ss__children_count(const ss__children *c)
{
    return c->n;
}

static int grow(ss__children *c, int cap)
{
    char *v = realloc(c->v, (size_t)cap * c->size);
    struct pollfd *pfd = v ? realloc(c->pfd, (size_t)cap * sizeof *pfd) : NULL;
    if (v) c->v = v;
    if (!pfd) return -ENOMEM;
    c->pfd = pfd;
    c->cap = cap;
    return 0;
}

int ss__children_init(ss__children *c, size_t size, int sweep_ms, int cap)
{
    *c = (ss__children){.size = size, .sweep_ms = sweep_ms};
    return cap > 0 ? grow(c, cap) : 0;
}

/* Closes the pidfds and frees the set; the children are not waited for. */
void ss__children_free(ss__children *c)
{
    ss__children_abandon(c);
    free(c->v);
    free(c->pfd);
    c->v = NULL;
    c->pfd = NULL;
    c->cap = 0;
}

void *ss__children_add(ss__children *c, pid_t pid)
{
    if (c->n == c->cap && grow(c, c->cap ? c->cap * 2 : 16) < 0) return NULL;
    ss__child *k = entry(c, c->n++);
    memset(k, 0, c->size);
    k->pid = pid;
    k->pidfd = open_pidfd(pid);
    return k;
}

/* In a forked child: the entries are its parent's children, not its own. */
void ss__children_abandon(ss__children *c)
{
    for (int i = 0; i < c->n; i++)
        if (entry(c, i)->pidfd >= 0) close(entry(c, i)->pidfd);
    c->n = 0;
}

int ss__children_poll_fds(const ss__children *c, struct pollfd *pfd, int max)
{
    int n = 0;
    for (int i = 0; i < c->n && n < max; i++)
        if (entry(c, i)->pidfd >= 0)
            pfd[n++] = (struct pollfd){.fd = entry(c, i)->pidfd, .events = POLLIN};
    return n;
}

int ss__children_blind(const ss__children *c)
{
    for (int i = 0; i < c->n; i++)
        if (entry(c, i)->pidfd < 0) return 1;
    return 0;
}

/* A child whose pidfd could not be had (pidfd_open(2) failed: EMFILE at the
 * descriptor limit, a kernel before 5.3, valgrind) never wakes a poll by
 * exiting: it is looked at every sweep_ms instead, or it would stay a
 * zombie until something else woke the parent. */
int64_t ss__children_deadline(const ss__children *c)
{
    return ss__children_blind(c) ? ss_now_ms() + c->sweep_ms : 0;
}

/* Reaps child i if it has ended; ECHILD (the host reaped it, or ignores
 * SIGCHLD) ends it too, with no status to tell. The entry is given to
 * reaped before it is dropped. Returns 1 if it is gone. */
static int try_reap(ss__children *c, int i, int options, ss__reaped_fn *reaped, void *ctx)
{
    ss__child *k = entry(c, i);
    int status = 0;
    pid_t r = waitpid(k->pid, &status, options);
    if (r == 0 || (r < 0 && errno == EINTR)) return 0;
    reaped(ctx, k, r > 0 ? &status : NULL);
    if (k->pidfd >= 0) close(k->pidfd);
    c->n--;
    if (i != c->n) memcpy(k, entry(c, c->n), c->size);
    return 1;
}

void ss__children_sweep(ss__children *c, ss__reaped_fn *reaped, void *ctx)
{
    for (int i = c->n - 1; i >= 0; i--) try_reap(c, i, WNOHANG, reaped, ctx);
}

int ss__children_drain(ss__children *c, int64_t deadline, ss__reaped_fn *reaped, void *ctx)
{
    for (;;) {
        ss__children_sweep(c, reaped, ctx);
        if (c->n == 0 || ss_now_ms() >= deadline) return c->n;
        int n = ss__children_poll_fds(c, c->pfd, c->cap);
        int tick = n < c->n ? DRAIN_BLIND_MS : DRAIN_TICK_MS;
        poll(c->pfd, (nfds_t)n, ss__poll_timeout(ss__min_deadline(deadline, ss_now_ms() + tick)));
    }
}

/* SIGKILL cannot be caught or ignored (signal(7)), so each wait returns. */
void ss__children_kill(ss__children *c, ss__reaped_fn *reaped, void *ctx)
{
    for (int i = 0; i < c->n; i++) kill(entry(c, i)->pid, SIGKILL);
    while (c->n > 0) try_reap(c, c->n - 1, 0, reaped, ctx);
}

/* sigdescr_np, not strsignal(3): the library may share the process with
 * other threads, and strsignal is MT-Unsafe (glibc, attributes(7)). The
 * child's name is formatted only when there is something to say. */
void ss__child_report(ss_server_t *s, const int *status, int exits_too, const char *fmt, ...)
{
    int sig = status && WIFSIGNALED(*status) ? WTERMSIG(*status) : 0;
    int code = status && WIFEXITED(*status) ? WEXITSTATUS(*status) : 0;
    if (!sig && !(exits_too && code)) return;
    char who[SS_ADDRSTRLEN + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(who, sizeof who, fmt, ap);
    va_end(ap);
    const char *d = sig ? sigdescr_np(sig) : NULL;
    if (sig)
        ss__log(s, SS_LOG_ERROR, "%s killed by signal %d (%s)", who, sig, d ? d : "unknown signal");
    else
        ss__log(s, SS_LOG_WARN, "%s exited with status %d", who, code);
}
