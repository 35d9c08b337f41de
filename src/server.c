/* server.c - BaseServer: configuration, creation, serve_forever and
 * handle_request (each mode's loop, or the poll loop), shutdown, and
 * server_close with its drain. Listeners are in listener.c. Requests come in through the
 * intake (intake.c); modes plug in through ss__mode_ops (mode_*.c). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define CANCEL_GRACE_MS 2000 /* after cancelling, how long handlers get to unwind */

void ss_config_init(ss_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = SS_MODE_SYNC;
    cfg->max_connections = 1024;
    cfg->drain_timeout_ms = 10000;
    cfg->max_line = 8192;
    cfg->max_datagram = 65536;
    cfg->buffer_size = 4096;
    cfg->backlog = SOMAXCONN;
    cfg->tcp_nodelay = 1;
    cfg->log_level = SS_LOG_INFO;
    cfg->line_timeout_ms = 60000; /* why 60 s: socketserver.h, line_timeout_ms */
    cfg->source_prefix_v4 = 32;
    cfg->source_prefix_v6 = 64; /* RFC 4291: one /64 is one link, one subscriber */
    cfg->udp_budget = 1024 * 1024;
}

static int check_config(const ss_config_t *c)
{
    if (c->max_connections < 0) return ss__fail(-EINVAL, "config: max_connections < 0");
    if (c->workers < 0) return ss__fail(-EINVAL, "config: workers < 0");
    if (c->idle_timeout_ms < 0 || c->request_timeout_ms < 0 || c->drain_timeout_ms < 0 ||
        c->line_timeout_ms < 0 || c->min_rate_grace_ms < 0)
        return ss__fail(-EINVAL, "config: negative timeout");
    if (c->allow_uid_count < 0 || c->allow_uid_count > SS_PEER_IDS_MAX || c->allow_gid_count < 0 ||
        c->allow_gid_count > SS_PEER_IDS_MAX)
        return ss__fail(-EINVAL, "config: allow_uid_count, allow_gid_count (0 to %d)",
                        SS_PEER_IDS_MAX);
    if (c->max_line == 0 || c->buffer_size < 64 || c->max_datagram == 0)
        return ss__fail(-EINVAL, "config: max_line, buffer_size (>= 64), max_datagram");
    if (c->max_datagram > 16 * 1024 * 1024)
        return ss__fail(-EINVAL, "config: max_datagram above 16 MiB");
    if (c->unix_mode > 0777)
        return ss__fail(-EINVAL, "config: unix_mode %#o is not permission bits (at most 0777)",
                        c->unix_mode);
    return 0;
}

/* ------------------------------------------------------------- lifecycle */

static int make_fds(ss_server_t *s)
{
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd < 0 || s->cancel_fd < 0) return ss__fail(ss__errno(), "eventfd");
    /* The cancel flag lives in a shared page: fork children and prefork
     * workers see the parent set it, and a handler that never waits (a
     * chargen writing to a fast reader) still sees it at its next write. */
    void *p =
        mmap(NULL, sizeof(ss__shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return ss__fail(ss__errno(), "mmap");
    s->shared = p;
    atomic_init(&s->shared->cancelled, 0);
    atomic_init(&s->shared->actions_due, 0);
    return 0;
}

int ss_server_create(const ss_config_t *cfg, const ss_handler_t *h, ss_server_t **out)
{
    if (!out || !cfg || !h || !h->handle) return ss__fail(SS_EUSAGE, "ss_server_create");
    *out = NULL;
    int rc = check_config(cfg);
    if (rc < 0) return rc;
    const ss__mode_ops *ops = ss__mode_ops_for(cfg->mode);
    if (!ops)
        return ss__fail(SS_EMODE, "mode %s",
                        ss_mode_name(cfg->mode) ? ss_mode_name(cfg->mode) : "?");
    ss_server_t *s = calloc(1, sizeof *s);
    if (!s) return ss__fail(-ENOMEM, "ss_server_create");
    s->cfg = *cfg;
    if (s->cfg.backlog <= 0) s->cfg.backlog = SOMAXCONN;
    s->h = *h;
    s->mode = ops;
    s->pid = getpid();
    s->wake_fd = s->cancel_fd = s->notify_fd = -1;
    rc = ss__pin_plan(s);
    /* TLS files are read here, once, before any listener, thread or child:
     * a bad file fails creation, naming it, and children inherit the keys. */
    if (rc == 0 && cfg->tls.cert_file) rc = ss__tls_server_new(&cfg->tls, &s->tls);
    if (rc == 0) rc = ss__proxy_new(cfg, &s->proxy);
    if (rc == 0) rc = make_fds(s);
    if (rc == 0) rc = ss__alog_new(s, ss_mode_name(cfg->mode), &s->alog);
    if (rc == 0) rc = ss__admit_new(s);
    if (rc == 0) rc = ss__intake_init(s);
    if (rc == 0 && ops->init) rc = ops->init(s);
    if (rc < 0) {
        s->mode = NULL; /* init failed: nothing of the mode to destroy */
        ss_server_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

const ss_config_t *ss_server_config(const ss_server_t *s)
{
    return &s->cfg;
}

int ss_server_serve(ss_server_t *s)
{
    if (s->nls == 0) return ss__fail_into(s->errmsg, SS_EUSAGE, "serve: no listener");
    s->last_actions = ss_now_ms();
    ss__alog_start(s->alog);
    int rc = s->mode->serve ? s->mode->serve(s) : ss__poll_serve(s);
    atomic_store(&s->shutdown, 0); /* serve may be called again (socketserver.py) */
    return rc;
}

int ss_server_handle_request(ss_server_t *s, int64_t deadline)
{
    if (s->mode->flags & SS__MODE_NO_HANDLE_REQUEST)
        return ss__fail_into(s->errmsg, SS_EMODE, "handle_request: not available in %s mode",
                             ss_mode_name(s->mode->mode));
    if (s->nls == 0) return ss__fail_into(s->errmsg, SS_EUSAGE, "handle_request: no listener");
    return ss__poll_handle_request(s, deadline);
}

int ss_server_serve_conn(ss_server_t *s, int fd, int tls)
{
    if (s->cfg.mode != SS_MODE_SYNC) {
        close(fd);
        return ss__fail_into(s->errmsg, SS_EMODE, "serve_conn: sync mode only, not %s",
                             ss_mode_name(s->cfg.mode));
    }
    int i = ss__listener_for_conn(s, fd, tls);
    if (i < 0) {
        close(fd);
        return i;
    }
    int rc = ss__set_nonblock(fd);
    if (rc < 0) {
        close(fd);
        return ss__fail_into(s->errmsg, rc, "serve_conn: descriptor %d", fd);
    }
    ss__request req;
    if (ss__intake_conn(s, &s->ls[i], fd, &req) != 1) return 0; /* refused, closed */
    return s->mode->process(s, &req);
}

int ss_server_active(const ss_server_t *s)
{
    return ss__active(s);
}

int ss_server_stats(const ss_server_t *s, ss_stats_t *out)
{
    if (!s || !out) return ss__fail(SS_EUSAGE, "ss_server_stats");
    ss__stats_sum(s, out);
    int active = ss__active(s);
    out->active = active > 0 ? (uint64_t)active : 0;
    return 0;
}

int ss_server_shutdown(ss_server_t *s)
{
    atomic_store(&s->shutdown, 1);
    ss__eventfd_signal(s->wake_fd);
    return 0;
}

/* Waits for running handlers, then cancels the rest: their blocked calls
 * return -ECANCELED (the cancel eventfd is in every wait), and they unwind. */
static int drain(ss_server_t *s)
{
    if (!s->mode || !s->mode->drain) return 0;
    int left = s->mode->drain(s, ss_now_ms() + s->cfg.drain_timeout_ms);
    if (left > 0) {
        ss__log(s, SS_LOG_INFO, "drain: cancelling %d running handler(s)", left);
        atomic_store(&s->shared->cancelled, 1);
        ss__eventfd_signal(s->cancel_fd);
        left = s->mode->drain(s, ss_now_ms() + CANCEL_GRACE_MS);
    }
    if (left > 0 && s->mode->force) left = s->mode->force(s);
    return left;
}

int ss_server_drain(ss_server_t *s)
{
    if (!s) return 0;
    if (!s->drained) {
        ss__close_listeners(s);
        s->drain_left = drain(s);
        s->drained = 1;
    }
    return s->drain_left;
}

void ss_server_close(ss_server_t *s)
{
    if (!s) return;
    int left = ss_server_drain(s);
    if (left > 0) {
        /* Handlers stuck outside the library still use the server: keep it
         * (a bounded leak) rather than free memory they will touch. */
        ss__log(s, SS_LOG_ERROR, "close: %d handler(s) did not return; server leaked", left);
        ss__alog_flush(s->alog);
        return;
    }
    ss__free_listeners(s);
    if (s->mode && s->mode->destroy) s->mode->destroy(s);
    ss__intake_free(s);
    ss__alog_free(s->alog);
    ss__admit_free(s);
    ss__tls_free(s->tls);
    free(s->proxy);
    int fds[] = {s->wake_fd, s->cancel_fd};
    for (unsigned i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0) close(fds[i]);
    if (s->shared) munmap(s->shared, sizeof(ss__shared));
    ss__dgram_batch_free(s->batch);
    free(s->batch);
    free(s->pfd);
    free(s);
}
