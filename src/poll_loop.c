/* poll_loop.c - the serving loop of the blocking modes (sync, thread, fork,
 * pool; event mode's handle_request too): poll(2) on the listeners, the
 * shutdown eventfd and what the mode adds (ss__poll_hooks); each ready
 * listener's requests come in through the intake (intake.c) and go to the
 * mode's process. Prefork's workers take requests with ss__take. */
#include "internal.h"

#include <stdlib.h>

static void dispatch(ss_server_t *s, ss__request *req)
{
    if (s->mode->process(s, req) < 0) ss__log(s, SS_LOG_ERROR, "%s", ss_errmsg());
}

static int pause_intake(ss_server_t *s)
{
    s->backoff_until = ss_now_ms() + SS__BACKOFF_MS;
    return 0;
}

static int take_streams(ss_server_t *s, const ss__listener *l, int max)
{
    int taken = 0;
    while (taken < max && l->fd >= 0) {
        ss__request req;
        int rc = ss__intake_accept(s, l, &req);
        if (rc == 1) dispatch(s, &req);
        if (rc >= 0) {
            taken++;
            continue;
        }
        if (rc == SS__INTAKE_PAUSE) pause_intake(s);
        break; /* nothing waiting, or the listener failed: poll says when */
    }
    return taken;
}

/* Datagrams come in batches (recvmmsg), made at the first. */
static int take_datagrams(ss_server_t *s, const ss__listener *l, int max)
{
    if (!s->batch) {
        ss__dgram_batch *b = malloc(sizeof *b);
        if (!b || ss__dgram_batch_init(s, b) < 0) {
            free(b);
            ss__log(s, SS_LOG_WARN, "out of memory for datagrams; pausing %d ms", SS__BACKOFF_MS);
            return pause_intake(s);
        }
        s->batch = b;
    }
    int n = ss__intake_recv(s, l, s->batch, max);
    if (n == SS__INTAKE_PAUSE) pause_intake(s);
    for (int i = 0; i < n; i++) {
        ss__request req;
        if (ss__intake_datagram(s, l, s->batch, i, &req)) dispatch(s, &req);
    }
    return n > 0 ? n : 0;
}

int ss__take(ss_server_t *s, int i, int max)
{
    const ss__listener *l = &s->ls[i];
    if (l->fd < 0 || s->backoff_until || max <= 0) return 0;
    return ss__is_dgram(l->transport) ? take_datagrams(s, l, max) : take_streams(s, l, max);
}

static int grow_pfd(ss_server_t *s, int need)
{
    if (need <= s->cappfd) return 0;
    struct pollfd *p = realloc(s->pfd, (size_t)need * sizeof *p);
    if (!p) return -ENOMEM;
    s->pfd = p;
    s->cappfd = need;
    return 0;
}

/* The wake eventfd, the listeners (none while paused, closed or while the
 * mode has no room), then the mode's own descriptors. Sets *room and moves
 * *deadline sooner for the back-off, service_actions and the mode. */
static int build_pollset(ss_server_t *s, int64_t *deadline, int *room)
{
    const ss__poll_hooks *h = s->mode->poll;
    int extra = h ? atomic_load(&s->active) + 16 : 0;
    if (grow_pfd(s, 1 + s->nls + extra) < 0) return -ENOMEM;
    int n = 0;
    s->pfd[n++] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};
    if (s->backoff_until && ss_now_ms() >= s->backoff_until) s->backoff_until = 0;
    *room = 1 << 30;
    int added = h ? h->watch(s, s->pfd + 1 + s->nls, s->cappfd - 1 - s->nls, deadline, room) : 0;
    int off = s->backoff_until || atomic_load(&s->closed) || *room <= 0;
    for (int i = 0; i < s->nls; i++)
        s->pfd[n++] = (struct pollfd){.fd = off ? -1 : s->ls[i].fd, .events = POLLIN};
    *deadline = ss__min_deadline(*deadline, s->backoff_until);
    *deadline = ss__actions_deadline(s, *deadline);
    return n + added;
}

/* One turn: waits until deadline (0: none) for activity. Returns the number
 * of requests taken in (0 on timeout or other activity), -ECANCELED after a
 * shutdown, or an error. */
static int turn(ss_server_t *s, int64_t deadline)
{
    if (atomic_load(&s->shutdown)) return -ECANCELED;
    int room;
    int64_t wait_until = deadline;
    int n = build_pollset(s, &wait_until, &room);
    if (n < 0) {
        /* Out of memory for the poll set: a pause, not the end of serving
         * (found by the fault walk, tests/lib/test_faults.c). */
        ss__log(s, SS_LOG_WARN, "serve: %s; pausing %d ms", ss_strerror(n), SS__BACKOFF_MS);
        (void)ss__poll_wait(s->wake_fd, POLLIN, ss_now_ms() + SS__BACKOFF_MS, -1);
        return 0;
    }
    int rc = poll(s->pfd, (nfds_t)n, ss__poll_timeout(wait_until));
    if (rc < 0) return errno == EINTR ? 0 : ss__fail(ss__errno(), "poll");
    if (s->pfd[0].revents) ss__eventfd_drain(s->wake_fd);
    if (atomic_load(&s->shutdown)) return -ECANCELED;
    int nl = s->nls;
    if (s->mode->poll) s->mode->poll->ready(s, s->pfd + 1 + nl, n - 1 - nl);
    int done = 0;
    for (int i = 0; i < nl; i++) {
        if (!s->pfd[1 + i].revents) continue;
        int max = room < SS__ACCEPT_BATCH ? room : SS__ACCEPT_BATCH;
        int got = ss__take(s, i, max);
        done += got;
        room -= got;
    }
    return done;
}

int ss__poll_serve(ss_server_t *s)
{
    for (;;) {
        int rc = turn(s, 0);
        if (rc == -ECANCELED) break;
        if (rc < 0) return rc;
        ss__actions_run(s);
    }
    return 0;
}

int ss__poll_handle_request(ss_server_t *s, int64_t deadline)
{
    for (;;) {
        int rc = turn(s, deadline);
        if (rc != 0) return rc < 0 ? rc : 0;
        if (deadline > 0 && ss_now_ms() >= deadline) {
            if (s->cfg.handle_timeout) s->cfg.handle_timeout(s, s->cfg.hook_ctx);
            return -ETIMEDOUT;
        }
    }
}
