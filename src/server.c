/* server.c - BaseServer: configuration, listeners, serve_forever and
 * handle_request (each mode's loop, or the poll loop), service_actions,
 * shutdown, and server_close with its drain. Requests come in through the
 * intake (intake.c); modes plug in through ss__mode_ops (mode_*.c). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
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
}

static int check_config(const ss_config_t *c)
{
    if (c->max_connections < 0) return ss__fail(-EINVAL, "config: max_connections < 0");
    if (c->workers < 0) return ss__fail(-EINVAL, "config: workers < 0");
    if (c->idle_timeout_ms < 0 || c->request_timeout_ms < 0 || c->drain_timeout_ms < 0)
        return ss__fail(-EINVAL, "config: negative timeout");
    if (c->max_line == 0 || c->buffer_size < 64 || c->max_datagram == 0)
        return ss__fail(-EINVAL, "config: max_line, buffer_size (>= 64), max_datagram");
    if (c->max_datagram > 16 * 1024 * 1024)
        return ss__fail(-EINVAL, "config: max_datagram above 16 MiB");
    if (c->unix_mode > 0777)
        return ss__fail(-EINVAL, "config: unix_mode %#o is not permission bits (at most 0777)",
                        c->unix_mode);
    return 0;
}

/* ------------------------------------------------------------- logging */

static void default_log(ss_log_level_t level, const char *msg, void *ctx)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    (void)ctx;
    fprintf(stderr, "socketserver: %s: %s\n", names[level & 3], msg);
}

SS_PRINTF(3, 0)
static void vlog(ss_server_t *s, ss_log_level_t level, const char *fmt, va_list ap)
{
    if (level > s->cfg.log_level) return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (s->cfg.log)
        s->cfg.log(level, msg, s->cfg.hook_ctx);
    else
        default_log(level, msg, NULL);
}

void ss__log(ss_server_t *s, ss_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(s, level, fmt, ap);
    va_end(ap);
}

void ss_server_log(ss_server_t *s, ss_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(s, level, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------- lifecycle */

void ss__eventfd_signal(int fd)
{
    uint64_t one = 1;
    ssize_t w = write(fd, &one, sizeof one); /* write(2) is async-signal-safe */
    (void)w;
}

void ss__eventfd_drain(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof v) > 0) {
    }
}

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
    rc = make_fds(s);
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

static int add_listener(ss_server_t *s, int fd, const ss_addr_t *bound)
{
    if (s->nls == s->capls) {
        int cap = s->capls ? s->capls * 2 : 4;
        ss__listener *ls = realloc(s->ls, (size_t)cap * sizeof *ls);
        if (!ls) {
            close(fd);
            return ss__fail(-ENOMEM, "listen");
        }
        s->ls = ls;
        s->capls = cap;
    }
    ss__listener *l = &s->ls[s->nls];
    memset(l, 0, sizeof *l); /* no layers: a plain socket */
    l->fd = fd;
    l->transport = bound->transport;
    l->addr = *bound;
    return s->nls++;
}

int ss_server_listen_addr(ss_server_t *s, const ss_addr_t *addr)
{
    ss_addr_t bound;
    int fd = ss__listen_socket(addr, &s->cfg, &bound);
    if (fd < 0) {
        memcpy(s->errmsg, ss_errmsg(), sizeof s->errmsg);
        return fd;
    }
    int i = add_listener(s, fd, &bound);
    if (i < 0) return i;
    const struct sockaddr_un *un = (const struct sockaddr_un *)&bound.sa;
    struct stat st;
    if (bound.sa.ss_family == AF_UNIX && un->sun_path[0] != '\0' && fstat(fd, &st) == 0 &&
        lstat(un->sun_path, &st) == 0) {
        s->ls[i].owns_path = 1;
        s->ls[i].dev = st.st_dev;
        s->ls[i].ino = st.st_ino;
    }
    return i;
}

int ss_server_listen(ss_server_t *s, const char *address)
{
    ss_addr_t a;
    int rc = ss_addr_parse(address, &a);
    if (rc < 0) return rc;
    return ss_server_listen_addr(s, &a);
}

int ss_server_listen_fd(ss_server_t *s, int fd, ss_transport_t transport)
{
    ss_addr_t bound;
    int rc = ss__local_addr(fd, transport, &bound);
    if (rc == 0) rc = ss__set_nonblock(fd);
    if (rc < 0) return ss__fail(rc, "adopt listener fd %d", fd);
    return add_listener(s, fd, &bound);
}

int ss__listener_add_layer(ss_server_t *s, int i, int (*push)(ss_conn_t *c, void *arg), void *arg)
{
    if (i < 0 || i >= s->nls || ss__is_dgram(s->ls[i].transport) || !push) return -EINVAL;
    ss__listener *l = &s->ls[i];
    if (l->nlayers == SS__LAYERS_MAX) return -ENOSPC;
    l->layers[l->nlayers++] = (ss__layer_spec){.push = push, .arg = arg};
    return 0;
}

int ss_server_listener_count(const ss_server_t *s)
{
    return s->nls;
}

int ss_server_address(const ss_server_t *s, int i, ss_addr_t *out)
{
    if (i < 0 || i >= s->nls) return -EINVAL;
    *out = s->ls[i].addr;
    return 0;
}

int ss_server_active(const ss_server_t *s)
{
    if (s->mode && s->mode->active) return s->mode->active(s);
    return atomic_load(&s->active);
}

const ss_config_t *ss_server_config(const ss_server_t *s)
{
    return &s->cfg;
}

int ss_server_serve(ss_server_t *s)
{
    if (s->nls == 0) return ss__fail_into(s->errmsg, SS_EUSAGE, "serve: no listener");
    s->last_actions = ss_now_ms();
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

int64_t ss__actions_deadline(const ss_server_t *s, int64_t deadline)
{
    if (s->cfg.service_interval_ms <= 0) return deadline;
    return ss__min_deadline(deadline, s->last_actions + s->cfg.service_interval_ms);
}

/* One rule in every mode (the header's ss_actions_fn): after requests were
 * taken in (the intake's note in s->shared, wherever they were taken), and
 * whenever service_interval_ms has passed since the last call. */
void ss__actions_run(ss_server_t *s, int force)
{
    int64_t now = ss_now_ms();
    int due = force || atomic_exchange(&s->shared->actions_due, 0);
    if (s->cfg.service_interval_ms > 0 && now >= s->last_actions + s->cfg.service_interval_ms)
        due = 1;
    if (!due) return;
    s->last_actions = now;
    if (s->cfg.service_actions) s->cfg.service_actions(s, s->cfg.hook_ctx);
}

int ss_server_shutdown(ss_server_t *s)
{
    atomic_store(&s->shutdown, 1);
    ss__eventfd_signal(s->wake_fd);
    return 0;
}

static void close_listener(ss_server_t *s, ss__listener *l)
{
    if (l->fd < 0) return;
    close(l->fd);
    l->fd = -1;
    /* Only the process that bound the file removes it (not a fork child). */
    if (!l->owns_path || getpid() != s->pid) return;
    int rc = ss__unlink_unix(&l->addr, l->dev, l->ino);
    if (rc < 0) {
        /* Say so: a file left behind is replaced by the next server (a stale
         * socket), but whoever looks for it should know why it is there. */
        char text[SS_ADDRSTRLEN];
        ss_addr_format(&l->addr, text, sizeof text);
        ss__log(s, SS_LOG_WARN, "remove %s: %s; the socket file is left behind", text,
                ss_strerror(rc));
    }
}

/* Stream listeners close at once: a new client is refused, not left in a
 * backlog nobody serves. A datagram listener is also the socket handlers
 * send their replies from, so it stays open (unread) until they are done. */
void ss__close_listeners(ss_server_t *s)
{
    if (atomic_exchange(&s->closed, 1)) return;
    for (int i = 0; i < s->nls; i++)
        if (!ss__is_dgram(s->ls[i].transport)) close_listener(s, &s->ls[i]);
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

void ss_server_close(ss_server_t *s)
{
    if (!s) return;
    ss__close_listeners(s);
    int left = drain(s);
    if (left > 0) {
        /* Handlers stuck outside the library still use the server: keep it
         * (a bounded leak) rather than free memory they will touch. */
        ss__log(s, SS_LOG_ERROR, "close: %d handler(s) did not return; server leaked", left);
        return;
    }
    for (int i = 0; i < s->nls; i++) close_listener(s, &s->ls[i]);
    if (s->mode && s->mode->destroy) s->mode->destroy(s);
    ss__intake_free(s);
    int fds[] = {s->wake_fd, s->cancel_fd};
    for (unsigned i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0) close(fds[i]);
    if (s->shared) munmap(s->shared, sizeof(ss__shared));
    ss__dgram_batch_free(s->batch);
    free(s->batch);
    free(s->ls);
    free(s->pfd);
    free(s);
}

int ss__at_capacity(const ss_server_t *s)
{
    return s->cfg.max_connections > 0 && ss_server_active(s) >= s->cfg.max_connections;
}

/* Blocking workers spend most of a request waiting for the peer, so a few
 * per core keep the cores busy; a handler that computes gains nothing from
 * more. Four per core is that compromise; long idle sessions want more, and
 * say so with workers. */
int ss__workers(const ss_config_t *cfg)
{
    if (cfg->workers > SS__WORKERS_MAX)
        return ss__fail(-EINVAL, "config: workers %d above %d", cfg->workers, SS__WORKERS_MAX);
    if (cfg->workers > 0) return cfg->workers;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long n = (cores > 0 ? cores : 1) * SS__WORKERS_PER_CORE;
    if (n < 4) n = 4;
    return n > SS__WORKERS_MAX ? SS__WORKERS_MAX : (int)n;
}
