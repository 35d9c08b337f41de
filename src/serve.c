/* serve.c - the common serving loop of the blocking modes (sync, thread,
 * fork, pool): wait on the listeners, the shutdown eventfd and the mode's own
 * descriptors; take one request (accept, or receive a datagram); check it
 * (verify_request, max_connections); hand it to the mode. Prefork's parent
 * and workers reuse its pieces (ss__take, ss__service_actions...). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_BATCH 16  /* accepts per readiness, so one listener can't starve others */
#define BACKOFF_MS   100 /* pause after ENOMEM/ENOBUFS, or an EMFILE we could not shed */

static void backoff(ss_server_t *s, int err, const ss__listener *l)
{
    char text[SS_ADDRSTRLEN];
    ss_addr_format(&l->addr, text, sizeof text);
    if (s->backoff_until == 0 || ss_now_ms() >= s->backoff_until)
        ss__log(s, SS_LOG_WARN, "accept %s: %s; pausing %d ms", text, ss_strerror(err), BACKOFF_MS);
    s->backoff_until = ss_now_ms() + BACKOFF_MS;
}

/* Out of descriptors: give back the reserve, accept the waiting client and
 * close it at once (it is refused, not left hanging), take the reserve
 * again. If the reserve cannot be had, back off instead of spinning. */
static int shed_one(ss_server_t *s, const ss__listener *l, int err)
{
    if (s->reserve_fd < 0) {
        backoff(s, err, l);
        return -1;
    }
    close(s->reserve_fd);
    int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) close(fd);
    s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || s->reserve_fd < 0) backoff(s, err, l);
    ss__log(s, SS_LOG_WARN, "accept: %s; refused a client", ss_strerror(err));
    return fd < 0 ? -1 : 0;
}

static int refuse(ss_server_t *s, ss__request *req, const char *why)
{
    char text[SS_ADDRSTRLEN];
    ss_addr_format(&req->peer, text, sizeof text);
    ss__log(s, SS_LOG_DEBUG, "refused %s: %s", text, why);
    if (!ss__is_dgram(req->transport)) close(req->fd);
    return 0;
}

static int admit(ss_server_t *s, ss__request *req)
{
    if (s->cfg.verify_request && !s->cfg.verify_request(s, &req->peer, s->cfg.hook_ctx))
        return refuse(s, req, "verify_request");
    if (ss__at_capacity(s)) {
        /* Beyond max_connections a client is closed at once (DESIGN.md),
         * never queued without bound nor left waiting. */
        char text[SS_ADDRSTRLEN];
        ss_addr_format(&req->peer, text, sizeof text);
        ss__log(s, SS_LOG_WARN, "max_connections (%d) reached: refused %s", s->cfg.max_connections,
                text);
        if (!ss__is_dgram(req->transport)) close(req->fd);
        return 0;
    }
    return 1;
}

static int dispatch(ss_server_t *s, ss__request *req)
{
    if (!admit(s, req)) return 0;
    int owned = 0;
    if (req->packet && s->mode->wants_packet_copy) {
        char *copy = malloc(req->len ? req->len : 1);
        if (!copy) {
            ss__log(s, SS_LOG_WARN, "out of memory: dropped a datagram");
            return 0;
        }
        memcpy(copy, req->packet, req->len);
        req->packet = copy;
        owned = 1;
    }
    int rc = s->mode->process(s, req, owned);
    if (rc < 0) ss__log(s, SS_LOG_ERROR, "%s", ss_errmsg());
    return 1;
}

static int accept_one(ss_server_t *s, const ss__listener *l)
{
    ss__request req = {.transport = l->transport};
    req.peer.transport = req.local.transport = l->transport;
    req.peer.len = sizeof req.peer.sa;
    int fd = accept4(l->fd, (struct sockaddr *)&req.peer.sa, &req.peer.len,
                     SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        int err = ss__errno();
        if (err == -EAGAIN || err == -EINTR) return -1;
        if (err == -EMFILE || err == -ENFILE) return shed_one(s, l, err);
        if (err == -ENOBUFS || err == -ENOMEM) {
            backoff(s, err, l);
            return -1;
        }
        /* ECONNABORTED, EPROTO, EPERM (firewall) and network errors belong
         * to that one client (accept(2)): go on with the next. */
        return 0;
    }
    if (l->transport == SS_TCP && s->cfg.tcp_nodelay) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (l->transport == SS_UNIX) req.peer = l->addr; /* unix clients are mostly unnamed */
    req.fd = fd;
    req.local = l->addr;
    return dispatch(s, &req);
}

/* One datagram. MSG_TRUNC makes recvfrom return the real size, so a packet
 * larger than max_datagram is reported and dropped, never cut (unix(7),
 * udp(7)). */
static int recv_one(ss_server_t *s, const ss__listener *l)
{
    ss__request req = {.transport = l->transport, .fd = l->fd, .local = l->addr};
    req.peer.transport = l->transport;
    req.peer.len = sizeof req.peer.sa;
    ssize_t n = recvfrom(l->fd, s->rxbuf, s->cfg.max_datagram + 1, MSG_TRUNC,
                         (struct sockaddr *)&req.peer.sa, &req.peer.len);
    if (n < 0) {
        int err = ss__errno();
        if (err != -EAGAIN && err != -EINTR)
            ss__log(s, SS_LOG_WARN, "recvfrom: %s", ss_strerror(err));
        return -1;
    }
    if ((size_t)n > s->cfg.max_datagram) {
        char text[SS_ADDRSTRLEN];
        ss_addr_format(&req.peer, text, sizeof text);
        ss__log(s, SS_LOG_WARN, "datagram from %s truncated: %zd bytes > max_datagram %zu", text, n,
                s->cfg.max_datagram);
        return 0;
    }
    req.packet = s->rxbuf;
    req.len = (size_t)n;
    return dispatch(s, &req);
}

/* The mode has no room for a request now (pool: every worker busy). */
static int mode_full(const ss_server_t *s)
{
    return s->mode->full && s->mode->full(s);
}

int ss__take(ss_server_t *s, int i, int max)
{
    int done = 0;
    for (int k = 0; k < max && s->ls[i].fd >= 0 && s->backoff_until == 0 && !mode_full(s); k++) {
        const ss__listener *l = &s->ls[i];
        int rc = ss__is_dgram(l->transport) ? recv_one(s, l) : accept_one(s, l);
        if (rc < 0) break;
        done += rc;
    }
    return done;
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

static int build_pollset(ss_server_t *s, int *nlisten)
{
    int extra = s->mode->poll_fds ? atomic_load(&s->active) + 16 : 0;
    if (grow_pfd(s, 1 + s->nls + extra) < 0) return -ENOMEM;
    int n = 0;
    s->pfd[n++] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};
    if (s->backoff_until && ss_now_ms() >= s->backoff_until) s->backoff_until = 0;
    for (int i = 0; i < s->nls; i++)
        s->pfd[n++] =
            (struct pollfd){.fd = (s->backoff_until || atomic_load(&s->closed)) ? -1 : s->ls[i].fd,
                            .events = POLLIN};
    if (mode_full(s))
        for (int i = 0; i < s->nls; i++) s->pfd[1 + i].fd = -1;
    *nlisten = s->nls;
    if (s->mode->poll_fds) n += s->mode->poll_fds(s, s->pfd + n, s->cappfd - n);
    return n;
}

int64_t ss__loop_deadline(const ss_server_t *s, int64_t deadline)
{
    if (s->backoff_until) deadline = ss__min_deadline(deadline, s->backoff_until);
    if (s->cfg.service_interval_ms > 0)
        deadline = ss__min_deadline(deadline, s->last_actions + s->cfg.service_interval_ms);
    if (s->mode->wake_deadline) deadline = ss__min_deadline(deadline, s->mode->wake_deadline(s));
    return deadline;
}

void ss__drain_wake(ss_server_t *s)
{
    uint64_t v;
    while (read(s->wake_fd, &v, sizeof v) > 0) {
    }
}

/* One turn: waits until deadline (0: none) for activity. Returns the number
 * of requests dispatched (0 on timeout or other activity), -ECANCELED after
 * a shutdown, or an error. */
static int turn(ss_server_t *s, int64_t deadline)
{
    if (atomic_load(&s->shutdown)) return -ECANCELED;
    int nl = 0;
    int n = build_pollset(s, &nl);
    if (n < 0) {
        /* Out of memory for the poll set: a pause, not the end of serving
         * (found by the fault walk, tests/lib/test_faults.c). */
        ss__log(s, SS_LOG_WARN, "serve: %s; pausing %d ms", ss_strerror(n), BACKOFF_MS);
        (void)ss__poll_wait(s->wake_fd, POLLIN, ss_now_ms() + BACKOFF_MS, -1);
        return 0;
    }
    int rc = poll(s->pfd, (nfds_t)n, ss__poll_timeout(ss__loop_deadline(s, deadline)));
    if (rc < 0) return errno == EINTR ? 0 : ss__fail(ss__errno(), "poll");
    if (s->pfd[0].revents) ss__drain_wake(s);
    if (atomic_load(&s->shutdown)) return -ECANCELED;
    if (s->mode->poll_ready && (n > 1 + nl || s->mode->wake_deadline))
        s->mode->poll_ready(s, s->pfd + 1 + nl, n - 1 - nl);
    int done = 0;
    for (int i = 0; i < nl; i++)
        if (s->pfd[1 + i].revents) done += ss__take(s, i, ACCEPT_BATCH);
    return done;
}

void ss__service_actions(ss_server_t *s)
{
    s->last_actions = ss_now_ms();
    if (s->cfg.service_actions) s->cfg.service_actions(s, s->cfg.hook_ctx);
}

int ss_server_serve(ss_server_t *s)
{
    if (s->mode->serve) return s->mode->serve(s);
    if (s->nls == 0) return ss__fail_into(s->errmsg, SS_EUSAGE, "serve: no listener");
    for (;;) {
        int rc = turn(s, 0);
        if (rc == -ECANCELED) break;
        if (rc < 0) return rc;
        ss__service_actions(s);
    }
    atomic_store(&s->shutdown, 0); /* serve may be called again (socketserver.py) */
    return 0;
}

int ss_server_handle_request(ss_server_t *s, int64_t timeout_ms)
{
    if (s->mode->no_handle_request)
        return ss__fail_into(s->errmsg, SS_EMODE, "handle_request: not available in %s mode",
                             ss_mode_name(s->mode->mode));
    if (s->nls == 0) return ss__fail_into(s->errmsg, SS_EUSAGE, "handle_request: no listener");
    int64_t deadline = timeout_ms < 0 ? 0 : ss_now_ms() + timeout_ms;
    for (;;) {
        int rc = turn(s, deadline);
        if (rc != 0) return rc < 0 ? rc : 0;
        if (deadline > 0 && ss_now_ms() >= deadline) {
            if (s->cfg.handle_timeout) s->cfg.handle_timeout(s, s->cfg.hook_ctx);
            return -ETIMEDOUT;
        }
    }
}
