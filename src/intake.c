/* intake.c - the one path a request takes into the server, whatever the
 * mode: accept(2) or recvmmsg(2) on a listener, the spare descriptor that
 * lets a server out of descriptors refuse a client instead of spinning, the
 * socket setup after accept, admission (verify_request, max_connections),
 * the datagram size check, and the note that wakes service_actions. The
 * poll loop (poll_loop.c), prefork's workers and event mode's acceptors call
 * it; what a mode does with an admitted request is its own (process). */
#include "internal.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DGRAM_BUFFERS (256 * 1024) /* a batch's buffers, at most (roughly) */

struct ss__intake {
    int reserve_fd;     /* spare descriptor for EMFILE (libuv's trick) */
    int shared;         /* several threads accept at once (event loops) */
    pthread_mutex_t mu; /* then guards reserve_fd and every accept */
};

int ss__intake_init(ss_server_t *s)
{
    struct ss__intake *in = calloc(1, sizeof *in);
    if (!in) return ss__fail(-ENOMEM, "ss_server_create");
    in->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pthread_mutex_init(&in->mu, NULL);
    s->in = in;
    return 0;
}

void ss__intake_free(ss_server_t *s)
{
    struct ss__intake *in = s->in;
    if (!in) return;
    if (in->reserve_fd >= 0) close(in->reserve_fd);
    pthread_mutex_destroy(&in->mu);
    free(in);
    s->in = NULL;
}

void ss__intake_shared(ss_server_t *s)
{
    s->in->shared = 1;
}

/* ------------------------------------------------------------ admission */

/* Requests running now: the mode's own count (prefork: every worker's) or
 * the server's. */
int ss__active(const ss_server_t *s)
{
    if (s->mode && s->mode->active) return s->mode->active(s);
    return atomic_load(&s->active);
}

static int at_capacity(const ss_server_t *s)
{
    return s->cfg.max_connections > 0 && ss__active(s) >= s->cfg.max_connections;
}

int64_t ss__actions_deadline(const ss_server_t *s, int64_t deadline)
{
    if (s->cfg.service_interval_ms <= 0) return deadline;
    return ss__min_deadline(deadline, s->last_actions + s->cfg.service_interval_ms);
}

/* One rule in every mode (the header's ss_actions_fn): after requests were
 * taken in (the intake's note in s->shared, wherever they were taken), and
 * whenever service_interval_ms has passed since the last call. */
void ss__actions_run(ss_server_t *s)
{
    int64_t now = ss_now_ms();
    int due = atomic_exchange(&s->shared->actions_due, 0);
    if (s->cfg.service_interval_ms > 0 && now >= s->last_actions + s->cfg.service_interval_ms)
        due = 1;
    if (!due) return;
    s->last_actions = now;
    if (s->cfg.service_actions) s->cfg.service_actions(s, s->cfg.hook_ctx);
}

/* A request was taken in: service_actions is due (ss__actions_run). Where
 * the serving loop is elsewhere (event loops, prefork workers), it is woken,
 * once per run of requests: only the first note since its last call writes
 * to the eventfd. Nothing at all without the hook. */
static void note_taken(ss_server_t *s)
{
    if (!s->cfg.service_actions) return;
    if (atomic_exchange(&s->shared->actions_due, 1) == 0 && s->notify_fd >= 0)
        ss__eventfd_signal(s->notify_fd);
}

static void log_refusal(ss_server_t *s, const ss_addr_t *peer, ss_log_level_t level,
                        const char *why)
{
    char text[SS_ADDRSTRLEN];
    ss_addr_format(peer, text, sizeof text);
    ss__log(s, level, "refused %s: %s", text, why);
}

static void refuse(ss_server_t *s, const ss__request *req, ss_refusal_t reason,
                   ss_log_level_t level, const char *why)
{
    ss__stats_refused(s, reason);
    ss__alog_refused(s, &req->peer, &req->local, SS__RESULT_REFUSED, reason);
    log_refusal(s, &req->peer, level, why);
    if (!ss__is_dgram(req->transport)) close(req->fd);
}

/* verify_request's verdict on peer (0 serves: the header's rule 4); a
 * refusal is logged with its reason. Returns 1 when refused. */
static int verify_refuses(ss_server_t *s, const ss_addr_t *peer)
{
    if (!s->cfg.verify_request) return 0;
    int v = s->cfg.verify_request(s, peer, s->cfg.hook_ctx);
    if (v == 0) return 0;
    ss__stats_refused(s, SS_REFUSED_VERIFY);
    log_refusal(s, peer, SS_LOG_DEBUG, v < 0 ? ss_strerror(v) : "verify_request");
    return 1;
}

static int id_listed(unsigned id, const unsigned *list, int n)
{
    for (int i = 0; i < n; i++)
        if (list[i] == id) return 1;
    return 0;
}

/* allow_uid and allow_gid (unix stream listeners): the peer's credentials,
 * which the kernel took at connect(2) (SO_PEERCRED, unix(7)), must name an
 * allowed user or group. Returns 1 to go on; else the client is closed. */
static int peer_allowed(ss_server_t *s, const ss__request *req)
{
    const ss_config_t *cfg = &s->cfg;
    if (req->transport != SS_UNIX || (cfg->allow_uid_count == 0 && cfg->allow_gid_count == 0))
        return 1;
    uid_t uid = 0;
    gid_t gid = 0;
    int rc = ss__peer_cred(req->fd, NULL, &uid, &gid);
    if (rc < 0) {
        refuse(s, req, SS_REFUSED_PEER_CRED, SS_LOG_DEBUG, ss_strerror(rc));
        return 0;
    }
    if (id_listed(uid, cfg->allow_uid, cfg->allow_uid_count) ||
        id_listed(gid, cfg->allow_gid, cfg->allow_gid_count))
        return 1;
    char why[96];
    snprintf(why, sizeof why, "peer uid %u gid %u not allowed (allow_uid, allow_gid)",
             (unsigned)uid, (unsigned)gid);
    refuse(s, req, SS_REFUSED_PEER_CRED, SS_LOG_DEBUG, why);
    return 0;
}

/* A client refused by a check that counted and logged it: its access log
 * line, and it is closed (a datagram dropped). Returns 0. */
static int refused_by(ss_server_t *s, const ss__request *req, ss_refusal_t why)
{
    ss__alog_refused(s, &req->peer, &req->local, SS__RESULT_REFUSED, why);
    if (!ss__is_dgram(req->transport)) close(req->fd);
    return 0;
}

/* The source's share (admit.c), where the peer is the client: a stream
 * takes a count against its source's rate and max_per_source, a datagram
 * gives its source udp_amplification's credit. Last, so that a client
 * refused before takes nothing. Returns 1 to go on. */
static int source_admits(ss_server_t *s, ss__request *req, ss_refusal_t *why)
{
    if (ss__is_dgram(req->transport)) {
        ss__admit_datagram(s, &req->peer, req->len);
        return 1;
    }
    return ss__admit_source(s, &req->peer, req->fd, &req->ticket, why);
}

/* The peer's credentials (unix listeners: their connection, never a PROXY
 * header's address), the allow and deny lists, verify_request, then
 * max_connections: a client beyond it is closed at once (docs/design.md),
 * never queued without bound nor left waiting; then its source's limits.
 * A listener that admits late (a PROXY header names the client) leaves
 * the lists, verify_request and the source to ss__intake_admit_peer.
 * Returns 1 to serve req; else the client is closed (a datagram dropped). */
static int admit(ss_server_t *s, ss__request *req)
{
    note_taken(s);
    if (!peer_allowed(s, req)) return 0;
    int now = !req->listener->admit_late;
    ss_refusal_t reason = SS_REFUSED_VERIFY;
    if (now && s->admit && !ss__admit_lists(s, &req->peer, &reason))
        return refused_by(s, req, reason);
    if (now && verify_refuses(s, &req->peer)) return refused_by(s, req, SS_REFUSED_VERIFY);
    if (at_capacity(s)) {
        char why[64];
        snprintf(why, sizeof why, "max_connections (%d) reached", s->cfg.max_connections);
        refuse(s, req, SS_REFUSED_MAX_CONNECTIONS, SS_LOG_WARN, why);
        return 0;
    }
    if (now && s->admit && !source_admits(s, req, &reason)) return refused_by(s, req, reason);
    return 1;
}

int ss__intake_admit_peer(ss_server_t *s, ss_conn_t *c)
{
    ss_refusal_t why = SS_REFUSED_VERIFY;
    int ok = (!s->admit || ss__admit_lists(s, &c->peer, &why)) && !verify_refuses(s, &c->peer) &&
             (!s->admit || ss__admit_source(s, &c->peer, c->fd, &c->ticket, &why));
    if (!ok) c->refusal = (unsigned char)why;
    return ok;
}

/* ------------------------------------------------------------ streams */

/* Out of descriptors: give back the reserve, accept the waiting client and
 * close it at once (it is refused, not left hanging), take the reserve
 * again. Where several threads accept, every accept holds the lock
 * (accept_fd): another thread's accept could otherwise take the slot freed
 * here, and the reserve would be lost with every client beyond the limit
 * left hanging in the backlog (the adversary's storm test). A reserve lost
 * all the same (to a handler's own descriptor) is taken again once
 * descriptors come back. Returns 0, or SS__INTAKE_PAUSE when no client could
 * be refused. */
static int shed_one(ss_server_t *s, const ss__listener *l, int err)
{
    struct ss__intake *in = s->in;
    int fd = -1;
    if (in->shared) pthread_mutex_lock(&in->mu);
    if (in->reserve_fd < 0) in->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (in->reserve_fd >= 0) {
        close(in->reserve_fd);
        fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) close(fd);
        in->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (in->shared) pthread_mutex_unlock(&in->mu);
    if (fd >= 0) {
        ss__stats_accepted(s);
        ss__stats_refused(s, SS_REFUSED_EMFILE);
        ss__alog_refused(s, NULL, &l->addr, SS__RESULT_REFUSED, SS_REFUSED_EMFILE);
        ss__log(s, SS_LOG_WARN, "accept: %s; refused a client", ss_strerror(err));
        return 0;
    }
    ss__log(s, SS_LOG_WARN, "accept: %s; pausing %d ms", ss_strerror(err), SS__BACKOFF_MS);
    return SS__INTAKE_PAUSE;
}

/* accept4(2), under the lock where several threads accept (see shed_one):
 * uncontended but for a shed, next to accept's system call. */
static int accept_fd(ss_server_t *s, const ss__listener *l, ss__request *req)
{
    struct ss__intake *in = s->in;
    if (in->shared) pthread_mutex_lock(&in->mu);
    int fd = accept4(l->fd, (struct sockaddr *)&req->peer.sa, &req->peer.len,
                     SOCK_CLOEXEC | SOCK_NONBLOCK);
    int err = fd < 0 ? ss__errno() : 0;
    if (in->shared) pthread_mutex_unlock(&in->mu);
    return fd >= 0 ? fd : err;
}

static int accept_failed(ss_server_t *s, const ss__listener *l, int err)
{
    if (err == -EAGAIN) return SS__INTAKE_EMPTY;
    if (err == -EMFILE || err == -ENFILE) return shed_one(s, l, err);
    if (err == -ENOBUFS || err == -ENOMEM) {
        char text[SS_ADDRSTRLEN];
        ss_addr_format(&l->addr, text, sizeof text);
        ss__log(s, SS_LOG_WARN, "accept %s: %s; pausing %d ms", text, ss_strerror(err),
                SS__BACKOFF_MS);
        return SS__INTAKE_PAUSE;
    }
    /* The listener itself is gone or wrong. */
    if (err == -EBADF || err == -EINVAL || err == -ENOTSOCK) return err;
    /* EINTR, ECONNABORTED, EPROTO, EPERM (a firewall) and network errors
     * belong to that one client (accept(2)): go on with the next. */
    return 0;
}

/* The socket setup every accepted connection gets. Unix stream clients are
 * mostly unnamed (unix(7)): the listener's path stands for them. */
static void setup_accepted(ss_server_t *s, const ss__listener *l, ss__request *req)
{
    if (ss__is_tcp(l->transport) && s->cfg.tcp_nodelay) {
        int one = 1;
        setsockopt(req->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (l->transport == SS_UNIX) req->peer = l->addr;
    req->local = l->addr;
}

int ss__intake_accept(ss_server_t *s, const ss__listener *l, ss__request *req)
{
    memset(req, 0, sizeof *req);
    req->transport = req->peer.transport = l->transport;
    req->listener = l;
    req->peer.len = sizeof req->peer.sa;
    int fd = accept_fd(s, l, req);
    if (fd < 0) return accept_failed(s, l, fd);
    ss__stats_accepted(s);
    req->fd = fd;
    setup_accepted(s, l, req);
    return admit(s, req);
}

int ss__intake_conn(ss_server_t *s, const ss__listener *l, int fd, ss__request *req)
{
    memset(req, 0, sizeof *req);
    req->transport = req->peer.transport = l->transport;
    req->listener = l;
    req->peer.len = sizeof req->peer.sa;
    ss__stats_accepted(s);
    req->fd = fd;
    if (getpeername(fd, (struct sockaddr *)&req->peer.sa, &req->peer.len) < 0)
        req->peer.len = 0; /* gone already: the session finds out */
    setup_accepted(s, l, req);
    return admit(s, req);
}

/* ---------------------------------------------------------- datagrams */

/* How many datagrams one recvmmsg takes: SS__DGRAM_BATCH small ones, fewer
 * when max_datagram is large, so a batch's buffer stays near DGRAM_BUFFERS. */
static int batch_count(size_t size)
{
    size_t n = DGRAM_BUFFERS / size;
    return n < 1 ? 1 : n > SS__DGRAM_BATCH ? SS__DGRAM_BATCH : (int)n;
}

int ss__dgram_batch_init(ss_server_t *s, ss__dgram_batch *b)
{
    memset(b, 0, sizeof *b);
    b->size = s->cfg.max_datagram + 1; /* one more: a larger datagram is seen */
    b->count = batch_count(b->size);
    b->buf = malloc(b->size * (size_t)b->count);
    return b->buf ? 0 : -ENOMEM;
}

void ss__dgram_batch_free(ss__dgram_batch *b)
{
    if (b) free(b->buf);
}

static void batch_prepare(ss__dgram_batch *b, int count)
{
    for (int i = 0; i < count; i++) {
        b->iov[i] = (struct iovec){.iov_base = b->buf + (size_t)i * b->size, .iov_len = b->size};
        b->msg[i] = (struct mmsghdr){0};
        b->msg[i].msg_hdr.msg_name = &b->peer[i].sa;
        b->msg[i].msg_hdr.msg_namelen = sizeof b->peer[i].sa;
        b->msg[i].msg_hdr.msg_iov = &b->iov[i];
        b->msg[i].msg_hdr.msg_iovlen = 1;
    }
}

/* recvmmsg(2) takes up to count datagrams in one system call; MSG_TRUNC
 * makes each length the datagram's real size (udp(7), unix(7)). */
int ss__intake_recv(ss_server_t *s, const ss__listener *l, ss__dgram_batch *b, int max)
{
    int count = max < b->count ? max : b->count;
    if (count < 1) count = 1;
    batch_prepare(b, count);
    int n = recvmmsg(l->fd, b->msg, (unsigned)count, MSG_DONTWAIT | MSG_TRUNC, NULL);
    if (n > 0) return b->n = n;
    int err = n < 0 ? ss__errno() : -EAGAIN;
    if (err == -EAGAIN || err == -EINTR) return SS__INTAKE_EMPTY;
    if (err == -EBADF || err == -ENOTSOCK) return err; /* the listener is gone */
    ss__log(s, SS_LOG_WARN, "recvmmsg: %s; pausing %d ms", ss_strerror(err), SS__BACKOFF_MS);
    return SS__INTAKE_PAUSE;
}

/* A copy the mode keeps after process returns (SS__MODE_COPY_PACKET). */
static int copy_packet(ss_server_t *s, ss__request *req)
{
    char *copy = malloc(req->len ? req->len : 1);
    if (!copy) {
        ss__log(s, SS_LOG_WARN, "out of memory: dropped a datagram");
        return 0;
    }
    memcpy(copy, req->packet, req->len);
    req->packet = copy;
    req->flags |= SS__REQ_PACKET_OWNED;
    return 1;
}

int ss__intake_datagram(ss_server_t *s, const ss__listener *l, ss__dgram_batch *b, int i,
                        ss__request *req)
{
    size_t n = b->msg[i].msg_len;
    memset(req, 0, sizeof *req);
    req->transport = l->transport;
    req->listener = l;
    req->fd = l->fd;
    req->local = l->addr;
    req->peer = b->peer[i];
    req->peer.transport = l->transport;
    req->peer.len = b->msg[i].msg_hdr.msg_namelen;
    if (n > s->cfg.max_datagram || (b->msg[i].msg_hdr.msg_flags & MSG_TRUNC)) {
        /* Dropped and said, never cut (docs/design.md: no silent truncation). */
        char text[SS_ADDRSTRLEN];
        ss_addr_format(&req->peer, text, sizeof text);
        ss__log(s, SS_LOG_WARN, "datagram from %s truncated: %zu bytes > max_datagram %zu", text, n,
                s->cfg.max_datagram);
        ss__stats_dropped(s, SS__RESULT_OVERSIZE);
        ss__alog_refused(s, &req->peer, &req->local, SS__RESULT_OVERSIZE, SS_REFUSED__COUNT);
        return 0;
    }
    req->packet = b->iov[i].iov_base;
    req->len = n;
    if (!admit(s, req)) return 0;
    return (s->mode->flags & SS__MODE_COPY_PACKET) ? copy_packet(s, req) : 1;
}

/* ------------------------------------------------------- the connection */

/* Where the mode runs an admitted request (its thread, child, coroutine or
 * worker), the request becomes a connection, and ends. */
void ss__conn_for_request(ss_server_t *s, ss_conn_t *c, const ss__request *req)
{
    /* Keep buffers a reused connection already has (sync mode). */
    char *rb = (c->flags & SS__C_OWN_RBUF) ? c->rbuf : NULL;
    size_t rcap = c->rcap;
    char *wb = c->wbuf;
    size_t wcap = c->wcap;
    ss__conn_init(c, req->fd, req->transport, &s->cfg);
    if (rb) {
        c->rbuf = rb;
        c->rcap = rcap;
        c->flags |= SS__C_OWN_RBUF;
    }
    c->wbuf = wb;
    c->wcap = wcap;
    c->server = s;
    c->cancel_fd = s->cancel_fd;
    c->cancelled = &s->shared->cancelled;
    c->listener = req->listener;
    c->peer = req->peer;
    c->local = req->local;
    c->ticket = req->ticket;
    if (req->packet && s->admit) c->reply_gate = ss__admit_gate(s);
    c->started_ms = ss_now_ms();
    if (s->cfg.min_rate > 0) {
        int64_t grace = s->cfg.min_rate_grace_ms > 0 ? s->cfg.min_rate_grace_ms : 5000;
        c->rate_from = ss_now_ms() + grace;
    }
    if (req->packet) ss__conn_set_packet(c, req->packet, req->len);
}

static void request_close(const ss__request *req)
{
    if (!ss__is_dgram(req->transport)) close(req->fd);
    if (req->flags & SS__REQ_PACKET_OWNED) free(req->packet);
}

void ss__request_drop(ss__request *req)
{
    ss__admit_release(&req->ticket);
    request_close(req);
}

void ss__request_done(ss_conn_t *c, const ss__request *req, int keep)
{
    if (keep) {
        ss__conn_drop_layers(c); /* the layers go; the buffers stay */
        if (!(c->flags & SS__C_OWN_RBUF)) {
            c->rbuf = NULL; /* the packet was borrowed */
            c->rcap = 0;
        }
    } else {
        ss__conn_release(c);
    }
    ss__admit_release(&c->ticket); /* the session's end (req's copy is the same count) */
    request_close(req);
}
