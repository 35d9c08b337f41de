/* stats_http.c - the HTTP/1.1 listener of `serve --stats` (RFC 9112), on one
 * thread of the serving process that shares nothing with the service but
 * ss_server_stats: its own listener, its own poll(2) loop over non-blocking
 * sockets, at most STATS_HTTP_CONNS clients (the rest wait in the backlog),
 * buffers made once per slot, so that a scrape, a browser or a hostile
 * client costs the service nothing. One request per connection
 * ("Connection: close", RFC 9112 section 9.6). The same thread writes the
 * snapshot to the log when SIGUSR1 asks. */
#include "stats_http.h"

#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

typedef enum { SLOT_FREE, SLOT_READ, SLOT_WRITE, SLOT_LINGER } slot_state;

typedef struct slot {
    int fd;
    slot_state state;
    int64_t deadline; /* ss_now_ms time: the head, the answer, the linger */
    int linger;       /* after the answer, read what the client still sends */
    size_t in_len, out_len, out_off;
    char *in;  /* STATS_HTTP_HEAD_MAX */
    char *out; /* STATS_HTTP_OUT_MAX */
} slot;

struct stats_http {
    int fd;      /* the listener; -1 without */
    int wake_fd; /* eventfd: SIGUSR1's log request */
    int stop_fd; /* eventfd: stats_http_stop */
    atomic_int draining;
    int started;          /* the thread runs */
    int64_t paused_until; /* accept failed for want of descriptors: not polled until */
    pthread_t thread;
    ss_server_t *server;
    stats_info_t info;
    char address[SS_ADDRSTRLEN];
    char path[108]; /* the unix socket file we made, "" for none */
    dev_t dev;
    ino_t ino;
    slot slots[STATS_HTTP_CONNS];
};

/* ------------------------------------------------------------ listener */

/* A stale socket file (no server behind it) is replaced; a live one is
 * another server's, never stolen. */
static int unix_stale(const struct sockaddr_un *un, socklen_t len)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    int refused = connect(fd, (const struct sockaddr *)un, len) < 0 && errno == ECONNREFUSED;
    close(fd);
    return refused;
}

static int bind_listen(stats_http_t *h, const ss_addr_t *a)
{
    int family = a->sa.ss_family;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    int one = 1;
    if (family != AF_UNIX) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const struct sockaddr_un *un = (const struct sockaddr_un *)&a->sa;
    int rc = bind(fd, (const struct sockaddr *)&a->sa, a->len);
    if (rc < 0 && errno == EADDRINUSE && family == AF_UNIX && un->sun_path[0] &&
        unix_stale(un, a->len)) {
        unlink(un->sun_path);
        rc = bind(fd, (const struct sockaddr *)&a->sa, a->len);
    }
    if (rc < 0 || listen(fd, 64) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    struct stat st;
    if (family == AF_UNIX && un->sun_path[0] && stat(un->sun_path, &st) == 0) {
        snprintf(h->path, sizeof h->path, "%s", un->sun_path);
        h->dev = st.st_dev;
        h->ino = st.st_ino;
    }
    h->fd = fd;
    return 0;
}

/* The address bound, port 0 resolved, as ss_addr_parse reads it. */
static void bound_address(stats_http_t *h, const ss_addr_t *asked)
{
    ss_addr_t b = *asked;
    b.len = sizeof b.sa;
    if (getsockname(h->fd, (struct sockaddr *)&b.sa, &b.len) < 0 || asked->transport == SS_UNIX)
        b = *asked;
    if (ss_addr_format(&b, h->address, sizeof h->address) < 0)
        snprintf(h->address, sizeof h->address, "?");
}

static int open_listener(stats_http_t *h, const char *address)
{
    ss_addr_t a;
    int rc = ss_addr_parse(address, &a);
    if (rc == SS_ERESOLVE) {
        cli_error("serve", "--stats: %s", ss_errmsg());
        return EXIT_NOHOST;
    }
    if (rc < 0) return cli_usage("serve", "--stats: %s", ss_errmsg());
    if (a.transport != SS_TCP && a.transport != SS_UNIX)
        return cli_usage("serve", "--stats \"%.60s\": tcp://HOST:PORT or unix:PATH", address);
    rc = bind_listen(h, &a);
    if (rc < 0) {
        cli_error("serve", "--stats: bind %.80s: %s", address, ss_strerror(rc));
        return EXIT_OSERR;
    }
    bound_address(h, &a);
    return 0;
}

/* Every slot's buffers, made before the thread starts: it allocates
 * nothing while it serves (fork mode forks beside it, and a child must not
 * inherit an allocator lock the thread held). Pages untouched stay
 * virtual. */
static int slot_buffers(stats_http_t *h)
{
    for (int i = 0; i < STATS_HTTP_CONNS; i++) {
        slot *sl = &h->slots[i];
        sl->in = malloc(STATS_HTTP_HEAD_MAX);
        sl->out = malloc(STATS_HTTP_OUT_MAX);
        if (!sl->in || !sl->out) return -1;
    }
    return 0;
}

int stats_http_open(const char *address, stats_http_t **out)
{
    *out = NULL;
    stats_http_t *h = calloc(1, sizeof *h);
    if (!h) return EXIT_OSERR;
    h->fd = -1;
    for (int i = 0; i < STATS_HTTP_CONNS; i++) h->slots[i].fd = -1;
    h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    h->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int rc = h->wake_fd < 0 || h->stop_fd < 0 ? EXIT_OSERR : 0;
    if (rc) cli_error("serve", "eventfd: %s", ss_strerror(-errno));
    if (rc == 0 && address && slot_buffers(h) < 0) {
        cli_error("serve", "--stats: out of memory");
        rc = EXIT_OSERR;
    }
    if (rc == 0 && address) rc = open_listener(h, address);
    if (rc) {
        stats_http_stop(h);
        return rc;
    }
    *out = h;
    return 0;
}

int stats_http_adopt(int fd, stats_http_t **out)
{
    int rc = stats_http_open(NULL, out);
    if (rc) {
        close(fd);
        return rc;
    }
    stats_http_t *h = *out;
    if (slot_buffers(h) < 0) {
        cli_error("serve", "--stats: out of memory");
        stats_http_stop(h);
        *out = NULL;
        close(fd);
        return EXIT_OSERR;
    }
    h->fd = fd;
    ss_addr_t a = {.len = sizeof a.sa};
    if (getsockname(fd, (struct sockaddr *)&a.sa, &a.len) < 0) a.len = 0;
    a.transport = a.sa.ss_family == AF_UNIX ? SS_UNIX : SS_TCP;
    if (a.len == 0 || ss_addr_format(&a, h->address, sizeof h->address) < 0)
        snprintf(h->address, sizeof h->address, "?");
    return 0;
}

int stats_http_fd(const stats_http_t *h)
{
    return h ? h->fd : -1;
}

void stats_http_forget_file(stats_http_t *h)
{
    if (h) h->path[0] = '\0';
}

const char *stats_http_address(const stats_http_t *h)
{
    return h->address;
}

const char *stats_http_socket_file(const stats_http_t *h)
{
    return h->path[0] ? h->path : NULL;
}

/* ------------------------------------------------------------ answers */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

/* The answer with its body in the slot's out buffer: the head is written
 * in front of the body, which was made first (stats_buf into out +
 * room). */
static void respond(slot *sl, int status, const char *type, const char *body, size_t len,
                    int head_only)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
                     status, reason_phrase(status), type, len,
                     status == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (head_only) len = 0;
    if (n < 0 || (size_t)n + len > STATS_HTTP_OUT_MAX) {
        status = 500;
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n");
        len = 0;
    }
    memmove(sl->out + n, body, len);
    memcpy(sl->out, head, (size_t)n);
    sl->out_len = (size_t)n + len;
    sl->out_off = 0;
    sl->state = SLOT_WRITE;
    sl->deadline = ss_now_ms() + STATS_HTTP_WRITE_MS;
    sl->linger = status >= 400;
}

static void respond_text(slot *sl, int status, const char *text, int head_only)
{
    respond(sl, status, "text/plain; charset=utf-8", text, strlen(text), head_only);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A page or the metrics, made in the slot's buffer after room for the head. */
static void respond_stats(stats_http_t *h, slot *sl, int page, int head_only)
{
    enum { ROOM = 512 };
    ss_stats_t st;
    ss_server_stats(h->server, &st);
    h->info.draining = atomic_load(&h->draining);
    stats_buf_t b = {sl->out + ROOM, STATS_HTTP_OUT_MAX - ROOM, 0, 0};
    if (page)
        stats_html(&b, &st, &h->info, now_s());
    else
        stats_metrics(&b, &st, &h->info);
    if (b.overflow) {
        respond_text(sl, 500, "too large\n", head_only);
        return;
    }
    respond(sl, 200, page ? "text/html; charset=utf-8" : "text/plain; version=0.0.4; charset=utf-8",
            b.p, b.len, head_only);
}

static const char *error_text(int status)
{
    switch (status) {
    case 405:
        return "only GET and HEAD\n";
    case 414:
        return "request line too long\n";
    case 431:
        return "request head too large\n";
    default:
        return "bad request\n";
    }
}

/* A complete head (stats_req.c) gets its answer. */
static void answer(stats_http_t *h, slot *sl, const stats_req_t *rq)
{
    if (rq->status) {
        respond_text(sl, rq->status, error_text(rq->status), 0);
        return;
    }
    switch (rq->route) {
    case STATS_ROUTE_METRICS:
        respond_stats(h, sl, 0, rq->head);
        break;
    case STATS_ROUTE_PAGE:
        respond_stats(h, sl, 1, rq->head);
        break;
    case STATS_ROUTE_HEALTH:
        if (atomic_load(&h->draining))
            respond_text(sl, 503, "draining\n", rq->head);
        else
            respond_text(sl, 200, "ok\n", rq->head);
        break;
    default:
        respond_text(sl, 404, "not found: try /, /metrics or /healthz\n", rq->head);
    }
}

/* ------------------------------------------------------------ the loop */

static void slot_close(slot *sl)
{
    if (sl->fd >= 0) close(sl->fd);
    sl->fd = -1;
    sl->state = SLOT_FREE;
}

static void slot_read(stats_http_t *h, slot *sl)
{
    if (sl->state == SLOT_LINGER) {
        char junk[4096];
        ssize_t n = recv(sl->fd, junk, sizeof junk, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) slot_close(sl);
        return;
    }
    ssize_t n = recv(sl->fd, sl->in + sl->in_len, STATS_HTTP_HEAD_MAX - sl->in_len, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        slot_close(sl); /* gone before asking anything */
        return;
    }
    if (n < 0) return;
    sl->in_len += (size_t)n;
    stats_req_t rq;
    if (stats_http_parse(sl->in, sl->in_len, &rq)) answer(h, sl, &rq);
}

/* Once the answer is out: closed, or (after an error, with the client maybe
 * still sending) our side shut and its bytes read for a moment first, so
 * that closing with unread data does not reset the connection before the
 * client read the answer (RFC 9112 section 9.6, "lingering close"). */
static void slot_write(slot *sl)
{
    while (sl->out_off < sl->out_len) {
        ssize_t n = send(sl->fd, sl->out + sl->out_off, sl->out_len - sl->out_off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (n <= 0) {
            slot_close(sl);
            return;
        }
        sl->out_off += (size_t)n;
    }
    shutdown(sl->fd, SHUT_WR);
    if (!sl->linger) {
        slot_close(sl);
        return;
    }
    sl->state = SLOT_LINGER;
    sl->deadline = ss_now_ms() + STATS_HTTP_LINGER_MS;
}

/* A slot whose time is up: a head not finished gets 408, the rest close. */
static void slot_expire(stats_http_t *h, slot *sl, int64_t now)
{
    if (sl->state == SLOT_FREE || now < sl->deadline) return;
    if (sl->state == SLOT_READ) {
        respond_text(sl, 408, "request timeout\n", 0);
        slot_write(sl);
    } else {
        slot_close(sl);
    }
}

static void accept_some(stats_http_t *h)
{
    for (int i = 0; i < STATS_HTTP_CONNS; i++) {
        slot *sl = &h->slots[i];
        if (sl->state != SLOT_FREE) continue;
        int fd = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            /* Out of descriptors, the client stays in the backlog and the
             * listener readable: not polled for a while, or we would spin. */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                h->paused_until = ss_now_ms() + 100;
            return; /* EAGAIN, or a client already gone */
        }
        *sl = (slot){.fd = fd,
                     .state = SLOT_READ,
                     .in = sl->in,
                     .out = sl->out,
                     .deadline = ss_now_ms() + STATS_HTTP_READ_MS};
    }
}

static void log_snapshot(stats_http_t *h)
{
    eventfd_t v;
    eventfd_read(h->wake_fd, &v);
    ss_stats_t st;
    char line[480];
    ss_server_stats(h->server, &st);
    stats_line(line, sizeof line, &st);
    ss_server_log(h->server, SS_LOG_INFO, "%s", line);
}

static int poll_timeout(const stats_http_t *h, int64_t now)
{
    int64_t next = 0;
    for (int i = 0; i < STATS_HTTP_CONNS; i++) {
        const slot *sl = &h->slots[i];
        if (sl->state != SLOT_FREE && (next == 0 || sl->deadline < next)) next = sl->deadline;
    }
    if (h->paused_until && (next == 0 || h->paused_until < next)) next = h->paused_until;
    if (next == 0) return -1;
    return next <= now ? 0 : (int)(next - now);
}

/* The poll set: stop and log eventfds, the listener while a slot is free,
 * each client for what its state waits for. idx maps entries to slots. */
static int poll_set(stats_http_t *h, struct pollfd *pfd, int *idx)
{
    int n = 0, free_slots = 0;
    pfd[n++] = (struct pollfd){.fd = h->stop_fd, .events = POLLIN};
    pfd[n++] = (struct pollfd){.fd = h->wake_fd, .events = POLLIN};
    for (int i = 0; i < STATS_HTTP_CONNS; i++) {
        slot *sl = &h->slots[i];
        if (sl->state == SLOT_FREE) {
            free_slots++;
            continue;
        }
        idx[n] = i;
        pfd[n++] =
            (struct pollfd){.fd = sl->fd, .events = sl->state == SLOT_WRITE ? POLLOUT : POLLIN};
    }
    if (h->paused_until && ss_now_ms() >= h->paused_until) h->paused_until = 0;
    if (h->fd >= 0 && free_slots && !h->paused_until) {
        idx[n] = -1;
        pfd[n++] = (struct pollfd){.fd = h->fd, .events = POLLIN};
    }
    return n;
}

static void *run(void *arg)
{
    stats_http_t *h = arg;
    struct pollfd pfd[STATS_HTTP_CONNS + 3];
    int idx[STATS_HTTP_CONNS + 3];
    for (;;) {
        int n = poll_set(h, pfd, idx);
        int rc = poll(pfd, (nfds_t)n, poll_timeout(h, ss_now_ms()));
        if (rc < 0 && errno != EINTR) break;
        if (pfd[0].revents) break; /* stop */
        if (pfd[1].revents) log_snapshot(h);
        for (int i = 2; rc > 0 && i < n; i++) {
            if (!pfd[i].revents) continue;
            if (idx[i] < 0) {
                accept_some(h);
                continue;
            }
            slot *sl = &h->slots[idx[i]];
            if (sl->state == SLOT_WRITE) {
                slot_write(sl);
            } else {
                slot_read(h, sl);
                if (sl->state == SLOT_WRITE) slot_write(sl); /* the answer made just now */
            }
        }
        int64_t now = ss_now_ms();
        for (int i = 0; i < STATS_HTTP_CONNS; i++) slot_expire(h, &h->slots[i], now);
    }
    return NULL;
}

/* ------------------------------------------------------------ lifecycle */

static void listeners_text(ss_server_t *s, char *buf, size_t cap)
{
    stats_buf_t b = {buf, cap, 0, 0};
    buf[0] = '\0';
    for (int i = 0; i < ss_server_listener_count(s); i++) {
        ss_addr_t a;
        char text[SS_ADDRSTRLEN];
        if (ss_server_address(s, i, &a) < 0 || ss_addr_format(&a, text, sizeof text) < 0) continue;
        stats_buf_printf(&b, "%s%s", i ? "\n" : "", text);
    }
}

int stats_http_start(stats_http_t *h, ss_server_t *s, const char *service)
{
    h->server = s;
    h->info.service = service;
    h->info.mode = ss_mode_name(ss_server_config(s)->mode);
    h->info.pid = (int)getpid();
    h->info.started = now_s();
    listeners_text(s, h->info.listeners, sizeof h->info.listeners);
    /* Running before the modes fork (prefork's workers): cli_thread_start. */
    int rc = cli_thread_start(&h->thread, run, h);
    if (rc < 0) return rc;
    h->started = 1;
    return 0;
}

void stats_http_log_request(stats_http_t *h)
{
    if (h) eventfd_write(h->wake_fd, 1);
}

void stats_http_draining(stats_http_t *h)
{
    if (h) atomic_store(&h->draining, 1);
}

/* The socket file goes only if it is still the one we made. */
static void remove_socket_file(const stats_http_t *h)
{
    struct stat st;
    if (h->path[0] && stat(h->path, &st) == 0 && st.st_dev == h->dev && st.st_ino == h->ino)
        unlink(h->path);
}

void stats_http_stop(stats_http_t *h)
{
    if (!h) return;
    if (h->started) {
        eventfd_write(h->stop_fd, 1);
        pthread_join(h->thread, NULL);
    }
    for (int i = 0; i < STATS_HTTP_CONNS; i++) {
        slot_close(&h->slots[i]);
        free(h->slots[i].in);
        free(h->slots[i].out);
    }
    if (h->fd >= 0) {
        close(h->fd);
        remove_socket_file(h);
    }
    if (h->wake_fd >= 0) close(h->wake_fd);
    if (h->stop_fd >= 0) close(h->stop_fd);
    free(h);
}
