/* internal.h - what the library's files share and nothing outside sees.
 * Names: ss__ for internal non-static symbols (libuv's rule). */
#ifndef SS_INTERNAL_H
#define SS_INTERNAL_H

#include "socketserver.h"

#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/types.h>

#define SS__ERRMSG_MAX 256

/* ------------------------------------------------------------ context */

/* Per thread (event mode: per coroutine) state: the last error message and
 * the seam through which every wait goes. The event runtime swaps ss__cur on
 * each context switch, so a coroutine keeps its own message and waiter. */
typedef struct ss__waiter {
    /* Waits until fd is ready for events (POLLIN and/or POLLOUT), the
     * deadline passes (-ETIMEDOUT) or cancel_fd becomes readable
     * (-ECANCELED). fd < 0 means just sleep until the deadline. */
    int (*wait)(void *self, int fd, int events, int64_t deadline, int cancel_fd);
    void *self;
    /* Optional (event mode): connection buffers from a cache of the waiter's
     * own. buf_get returns a malloc'd block of at least min bytes and sets
     * *size to its real size; buf_put takes one back (or frees it). With
     * them, a connection about to wait for input with nothing buffered gives
     * its buffers back, so that an idle connection holds none (DESIGN.md:
     * memory per idle connection) and a busy one reuses a warm block without
     * calling malloc. NULL: buffers are malloc'd once and kept. */
    void *(*buf_get)(void *self, size_t min, size_t *size);
    void (*buf_put)(void *self, void *p, size_t size);
    /* Optional (event mode): told after a transfer that did not wait, so a
     * task whose peer is always ready (chargen to a fast reader, a client
     * that never stops sending) yields now and then instead of keeping its
     * loop from every other task, shutdown's included. */
    void (*busy)(void *self);
    /* Optional (event mode): runs fn(arg) off the loop while the calling
     * task waits (ss_offload). NULL: fn is called in place. */
    int (*offload)(void *self, void (*fn)(void *), void *arg);
} ss__waiter;

typedef struct ss__ctx {
    int cancel_fd;               /* readable once handlers are cancelled; -1 none */
    const ss__waiter *waiter;    /* NULL: poll(2) in this thread */
    char errmsg[SS__ERRMSG_MAX]; /* last: every wait reads waiter, few read this */
} ss__ctx;

ss__ctx *ss__ctx_get(void);
/* Makes ctx current for this thread; returns the previous one. */
ss__ctx *ss__ctx_swap(ss__ctx *ctx);

/* THE seam between handler I/O and the mode (see DESIGN.md): every wait for
 * readiness or time in the library goes through here. */
int ss__wait(int fd, int events, int64_t deadline, int cancel_fd);

/* A descriptor that ss__wait may have seen is about to be closed by the
 * library outside a mode's own bookkeeping (dialed sockets): the event loop
 * of the calling thread, if any, forgets it, since the number may come back
 * as another descriptor that must be registered anew (each is registered
 * with epoll once, edge-triggered). No system call; a no-op elsewhere. */
void ss__fd_closing(int fd);
void ss__event_fd_closing(int fd); /* src/event/loop.c */

/* The blocking implementation: poll(2) on fd and cancel_fd. */
int ss__poll_wait(int fd, int events, int64_t deadline, int cancel_fd);

/* ------------------------------------------------------------- errors */

/* Stores "op: strerror(err)" style messages in the current context (and
 * returns err, so callers can write `return ss__fail(err, ...)`). */
int ss__fail(int err, const char *fmt, ...) SS_PRINTF(2, 3);
/* As ss__fail, also copying the message into dst (an object's own). */
int ss__fail_into(char *dst, int err, const char *fmt, ...) SS_PRINTF(3, 4);
/* As ss__fail, but the message already says the cause. */
int ss__fail_plain(int err, const char *fmt, ...) SS_PRINTF(2, 3);
/* Negative errno of the last failed libc call; never 0. */
int ss__errno(void);

/* ------------------------------------------------------------- time */

int64_t ss__min_deadline(int64_t a, int64_t b); /* 0 means none */
int ss__poll_timeout(int64_t deadline);         /* ms for poll(2), -1 for none */

/* ---------------------------------------------------------- addresses */

/* As ss_addr_format, but async-signal-safe (no getnameinfo, no stdio), for
 * the event mode's stack overflow report: numeric only (an IPv6 scope is its
 * interface number). Writes "" when the address cannot be shown. */
void ss__addr_format_safe(const ss_addr_t *a, char *buf, size_t cap);

/* Which of a name's addresses ss__addr_order picks (include/socketserver.h
 * states the rule at ss_addr_parse and ss_addr_resolve). */
typedef enum ss__addr_pick {
    SS__ADDR_ONE, /* listening, ss_addr_parse: first IPv4, else first IPv6 */
    SS__ADDR_ALL, /* ss_addr_resolve, ss_dial: all, RFC 8305 section 4 order */
} ss__addr_pick_t;

struct addrinfo;

/* Puts up to max entries of the getaddrinfo(3) list res into out, in the
 * order pick asks for; entries of other families than AF_INET and AF_INET6
 * are skipped. Pure (no lookup, no allocation), so that tests can feed it
 * lists in any order. Returns the count. */
int ss__addr_order(const struct addrinfo *res, ss__addr_pick_t pick, const struct addrinfo **out,
                   int max);

/* ------------------------------------------------------------- sockets */

int ss__sock_type(ss_transport_t t); /* SOCK_STREAM or SOCK_DGRAM */
int ss__is_dgram(ss_transport_t t);
int ss__set_nonblock(int fd);
/* Creates, configures, binds and (streams) listens. On success fills *bound
 * with the real address and returns the fd. */
int ss__listen_socket(const ss_addr_t *a, const ss_config_t *cfg, ss_addr_t *bound);
/* Removes a unix socket file if it is still the one with dev/ino. Returns 0
 * (removed, or not ours any more) or the unlink error (EACCES after the
 * program dropped its privileges, say). */
int ss__unlink_unix(const ss_addr_t *a, dev_t dev, ino_t ino);
/* Non-blocking connect with the wait seam. Returns fd or error. */
int ss__connect(const ss_addr_t *a, int64_t deadline);
/* Reads the local address of fd into out (transport set by caller). */
int ss__local_addr(int fd, ss_transport_t t, ss_addr_t *out);

/* ---------------------------------------------------------- connection */

enum {
    SS__C_DGRAM = 1u << 0,    /* datagram request or dialed datagram socket */
    SS__C_DIALED = 1u << 1,   /* made by ss_dial: owns fd, freed by ss_conn_close */
    SS__C_EOF = 1u << 2,      /* the peer closed its sending side */
    SS__C_DRAINED = 1u << 3,  /* last read was short: the socket is empty */
    SS__C_OWN_RBUF = 1u << 4, /* rbuf is malloc'd by the connection */
    SS__C_FAILED = 1u << 5,   /* a write failed: later writes fail fast */
    SS__C_REPLY = 1u << 6     /* datagram: a reply was written, even an empty one */
};

struct ss_conn {
    int fd;
    unsigned flags;
    ss_transport_t transport;
    ss_server_t *server; /* NULL when dialed */
    int64_t deadline;    /* absolute, 0 = none */
    int64_t idle_ms;     /* per wait, 0 = none */
    size_t max_line;
    size_t bufsize; /* stream buffer size */
    size_t max_dgram;
    char *rbuf;
    size_t rpos, rlen, rcap;
    char *wbuf;
    size_t wlen, wcap;
    int cancel_fd;
    atomic_int *cancelled; /* the server's cancel flag (shared across fork) */
    void *data;
    ss_addr_t peer, local;
    char peername[SS_ADDRSTRLEN];
    char errmsg[SS__ERRMSG_MAX];
};

/* Initializes c over fd. Limits come from cfg (NULL: library defaults). */
void ss__conn_init(ss_conn_t *c, int fd, ss_transport_t t, const ss_config_t *cfg);
/* Frees the connection's buffers (not the fd, not c). */
void ss__conn_release(ss_conn_t *c);
/* Gives a datagram request its packet (borrowed: not freed by the conn). */
void ss__conn_set_packet(ss_conn_t *c, char *packet, size_t len);
/* Records a failure on c (message "op PEER: cause") and returns err. */
int ss__conn_fail(ss_conn_t *c, int err, const char *op);

/* ---------------------------------------------------------- server */

typedef struct ss__listener {
    int fd;
    ss_transport_t transport;
    ss_addr_t addr; /* as bound (real port) */
    dev_t dev;      /* unix files we created: identity for removal */
    ino_t ino;
    int owns_path;
} ss__listener;

/* One request as the serving loop hands it to a mode. */
typedef struct ss__request {
    int fd; /* stream: accepted socket (owned); dgram: listener's */
    ss_transport_t transport;
    ss_addr_t peer, local;
    char *packet; /* dgram: the packet */
    size_t len;
} ss__request;

typedef struct ss__mode_ops {
    ss_mode_t mode;
    /* Prepares mode state. May be NULL. */
    int (*init)(ss_server_t *s);
    /* Runs or dispatches one request. Takes ownership of req->fd (streams)
     * and, when packet_owned, of req->packet. Returns 0 or an error that the
     * loop logs. */
    int (*process)(ss_server_t *s, ss__request *req, int packet_owned);
    /* Optional: extra descriptors the serving loop watches for the mode
     * (fork: one pidfd per child) and what to do when they fire. */
    int (*poll_fds)(ss_server_t *s, struct pollfd *pfd, int max);
    void (*poll_ready)(ss_server_t *s, const struct pollfd *pfd, int n);
    /* Waits until no handler runs or the deadline passes; returns how many
     * are still running. */
    int (*drain)(ss_server_t *s, int64_t deadline);
    /* Optional: ends handlers that outlived the cancel grace by force
     * (fork: SIGKILL and reap). Returns how many still run. */
    int (*force)(ss_server_t *s);
    /* Frees mode state; handlers are all gone (or abandoned) by then. */
    void (*destroy)(ss_server_t *s);
    /* Optional: a whole serving loop of the mode's own (prefork,
     * event); NULL uses the common loop in server.c. */
    int (*serve)(ss_server_t *s);
    /* Whether process() needs a packet it can keep (the common loop then
     * copies each datagram out of its receive buffer). */
    int wants_packet_copy;
    /* Optional: non-zero while the mode can take no request (pool: every
     * worker busy). The common loop then stops polling the listeners, so new
     * clients wait in the kernel's listen backlog (listen(2)) rather than in
     * a queue of ours; one of poll_fds must fire when room returns. */
    int (*full)(const ss_server_t *s);
    /* Optional: the requests running, when the mode counts them elsewhere
     * than s->active (prefork: every worker's, in shared memory). Used by
     * ss_server_active and the max_connections check. */
    int (*active)(const ss_server_t *s);
    /* Optional: called by reads and writes once a shutdown is flagged, for
     * modes whose handlers run inside ss_server_serve (sync): starts the
     * drain on first call; non-zero once the drain deadline has passed. */
    int (*check_cancel)(ss_server_t *s);
    /* Non-zero when ss_server_handle_request cannot work in the mode
     * (prefork: only worker processes take requests). */
    int no_handle_request;
    /* Optional: when the common loop must call poll_ready even if none of
     * the mode's descriptors fired (0: no need). Fork: children without a
     * pidfd (pidfd_open failed: EMFILE, an old kernel, valgrind) are reaped
     * by polling. */
    int64_t (*wake_deadline)(const ss_server_t *s);
} ss__mode_ops;

extern const ss__mode_ops ss__mode_sync;
extern const ss__mode_ops ss__mode_thread;
extern const ss__mode_ops ss__mode_fork;
extern const ss__mode_ops ss__mode_pool;
extern const ss__mode_ops ss__mode_prefork;
extern const ss__mode_ops ss__mode_event; /* with the event runtime (SS_HAVE_EVENT) */

/* Pool and prefork: workers when ss_config_t.workers is 0, and the most a
 * configuration may ask for (DESIGN.md: bounded worker counts). */
#define SS__WORKERS_PER_CORE 4
#define SS__WORKERS_MAX      1024
/* The worker count of cfg: cfg->workers, or SS__WORKERS_PER_CORE per online
 * core (at least 4). Fails with -EINVAL above SS__WORKERS_MAX. */
int ss__workers(const ss_config_t *cfg);

struct ss_server {
    ss_config_t cfg;
    ss_handler_t h;
    const ss__mode_ops *mode;
    void *mode_state;
    ss__listener *ls;
    int nls, capls;
    int wake_fd;            /* eventfd: shutdown wakes the serving loop */
    int cancel_fd;          /* eventfd: readable once handlers are cancelled */
    atomic_int *cancelled;  /* set with cancel_fd, in a MAP_SHARED page so that
                               fork children and workers see it: checked by
                               every read and write, even one that never waits */
    int reserve_fd;         /* spare descriptor for EMFILE (libuv's trick) */
    atomic_int shutdown;    /* set by ss_server_shutdown */
    atomic_int active;      /* running requests */
    atomic_int closed;      /* listeners closed */
    pid_t pid;              /* the process that created the server */
    int64_t backoff_until;  /* accept paused until then (EMFILE, ENOMEM) */
    int64_t drain_deadline; /* sync mode: when a handler running at shutdown is cancelled */
    int64_t last_actions;
    char *rxbuf;          /* datagram receive buffer, max_datagram + 1 */
    ss_conn_t *sync_conn; /* reused by sync mode */
    struct pollfd *pfd;
    int cappfd;
    char errmsg[SS__ERRMSG_MAX];
};

/* Runs one request's handler on c: deadline, setup, handle, finish,
 * handle_error, final flush (datagram: the reply). Returns handle's result. */
int ss__run_handler(ss_server_t *s, ss_conn_t *c);
/* Builds the connection for req in c (for modes that run it). */
void ss__conn_for_request(ss_server_t *s, ss_conn_t *c, ss__request *req);
/* Closes every listener (idempotent; unlinks unix files we created). */
void ss__close_listeners(ss_server_t *s);
/* Writes 1 to an eventfd (async-signal-safe). */
void ss__eventfd_signal(int fd);
/* Reports a failed request with the peer address (default handle_error). */
void ss__report_error(ss_server_t *s, ss_conn_t *c, int err);
void ss__log(ss_server_t *s, int level, const char *fmt, ...) SS_PRINTF(3, 4);
/* The mode's descriptor count limit reached? (max_connections) */
int ss__at_capacity(const ss_server_t *s);

/* serve.c: pieces of the common serving loop that modes with a loop of their
 * own (prefork's workers and parent) reuse. */
/* Takes up to max requests from ready listener i: accepts (or receives),
 * checks (verify_request, max_connections) and hands each to the mode's
 * process. Returns how many were dispatched. */
int ss__take(ss_server_t *s, int i, int max);
/* Empties the shutdown eventfd after it woke the loop. */
void ss__drain_wake(ss_server_t *s);
/* Calls service_actions (if set) and notes when. */
void ss__service_actions(ss_server_t *s);
/* deadline (0: none), moved sooner to the end of an accept back-off and to
 * the next service_actions due (service_interval_ms). */
int64_t ss__loop_deadline(const ss_server_t *s, int64_t deadline);

/* mode_fork.c: pidfd_open(2), close-on-exec; -1 when the kernel lacks it. */
int ss__pidfd_open(pid_t pid);

/* mode.c: the ops of a mode, NULL when this build lacks it. */
const ss__mode_ops *ss__mode_ops_for(ss_mode_t mode);

#endif /* SS_INTERNAL_H */
