/* internal.h - what the library's files share and nothing outside sees.
 * Names: ss__ for internal non-static symbols (libuv's rule). */
#ifndef SS_INTERNAL_H
#define SS_INTERNAL_H

#include "socketserver.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/socket.h>
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
     * its buffers back, so that an idle connection holds none (docs/design.md:
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
    int (*offload)(void *self, ss_offload_fn *fn, void *arg);
    /* Optional (event mode): fd, which a wait may have seen, is about to be
     * closed by the library (a dialed socket): the loop forgets it, since
     * the number may come back as another descriptor that must be
     * registered anew (each is registered once, edge-triggered). */
    void (*closing)(void *self, int fd);
    /* Optional (sync mode, whose handlers run inside ss_server_serve): asked
     * by every read and write whether the handler is cancelled, beyond the
     * server's shared flag: after a shutdown, once the drain deadline has
     * passed. */
    int (*cancelled)(void *self);
} ss__waiter;

typedef struct ss__ctx {
    int cancel_fd;               /* readable once handlers are cancelled; -1 none */
    const ss__waiter *waiter;    /* NULL: poll(2) in this thread */
    char errmsg[SS__ERRMSG_MAX]; /* last: every wait reads waiter, few read this */
} ss__ctx;

ss__ctx *ss__ctx_get(void);
/* Makes ctx current for this thread; returns the previous one. */
ss__ctx *ss__ctx_swap(ss__ctx *ctx);

/* THE seam between handler I/O and the mode (see docs/design.md): every wait for
 * readiness or time in the library goes through here. */
int ss__wait(int fd, int events, int64_t deadline, int cancel_fd);

/* A descriptor that ss__wait may have seen is about to be closed by the
 * library outside a mode's own bookkeeping (dialed sockets): tells the
 * waiter (ss__waiter.closing). No system call; a no-op in blocking modes. */
void ss__fd_closing(int fd);
/* The waiter's verdict on cancellation (ss__waiter.cancelled); 0 without. */
int ss__wait_cancelled(void);

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

/* rate.c: ss_config_t.min_rate's sliding window over the time spent waiting
 * for input inside a line or a record (two buckets of
 * SS_MIN_RATE_WINDOW_MS). Zeroed: empty. */
typedef struct ss__rate {
    int64_t cur_ms, prev_ms;        /* waiting time in each bucket */
    uint64_t cur_bytes, prev_bytes; /* bytes received in each */
} ss__rate;
/* Counts waited_ms of waiting that brought bytes. */
void ss__rate_add(ss__rate *r, int64_t waited_ms, uint64_t bytes);
/* 1 when the window holds enough waiting to judge (half of it) and its bytes
 * are fewer than min per second of it; else 0 (always 0 for min 0). */
int ss__rate_low(const ss__rate *r, uint64_t min);

/* ---------------------------------------------------------- addresses */

/* A transport's socket type: SOCK_STREAM or SOCK_DGRAM (and is it one). */
int ss__sock_type(ss_transport_t t);
int ss__is_dgram(ss_transport_t t);
/* TCP underneath: tcp:// and tls:// (SO_REUSEADDR, TCP_NODELAY). */
int ss__is_tcp(ss_transport_t t);

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
/* The credentials of a unix stream socket's peer (SO_PEERCRED, unix(7));
 * any out pointer may be NULL. Returns 0 or the negative errno. */
int ss__peer_cred(int fd, pid_t *pid, uid_t *uid, gid_t *gid);
/* Reads the local address of fd into out (transport set by caller). */
int ss__local_addr(int fd, ss_transport_t t, ss_addr_t *out);

/* --------------------------------------------------- connection layers */

/* A connection layer: what sits between a stream connection's buffers
 * (conn.c) and its socket. The plain socket is the first layer, embedded in
 * every ss_conn; a PROXY-header reader or a TLS session is pushed above it by
 * the listener that took the connection in (ss__listener_add_layer), so that
 * no mode and no handler knows it is there. The shape is that of curl's
 * connection filters and of an OpenSSL BIO: calls that never block, which
 * say what they wait for, and the wait itself made by the caller through the
 * one seam (ss__wait). Datagrams have no layers (DTLS is out of scope). */
typedef struct ss__layer ss__layer;
typedef struct ss__layer_ops {
    const char *name;
    /* SS__LAYER_SHORT_READ_DRAINS: a read shorter than asked means the
     * source is empty, so the next read waits first instead of paying a
     * call that says EAGAIN (a socket; not TLS, whose reads stop at a
     * record's end). */
    unsigned flags;
    /* Optional: runs once before setup, bottom layer first (a handshake, a
     * header to read). 0 when done; -EAGAIN with *events set to what to wait
     * for (POLLIN, POLLOUT) to be called again; or an error that ends the
     * connection before setup. */
    int (*start)(ss__layer *l, ss_conn_t *c, int *events);
    /* Reads up to n bytes: the count, 0 at end of stream, -EAGAIN with
     * *events set, or an error. */
    ssize_t (*recv)(ss__layer *l, void *buf, size_t n, int *events);
    /* Writes up to n bytes (n > 0): the count, -EAGAIN with *events set, or
     * an error (-EPIPE once the peer is gone: never SIGPIPE). */
    ssize_t (*send)(ss__layer *l, const void *buf, size_t n, int *events);
    /* Ends the sending side (SHUT_WR, close_notify): 0, -EAGAIN, an error. */
    int (*shutdown)(ss__layer *l, int *events);
    /* Optional: frees the layer's own state. The socket is closed by the
     * connection's owner, never by a layer. */
    void (*close)(ss__layer *l);
    /* Optional: what the layer knows (ss__layer_info_t), or NULL if it
     * does not know that: the accessors ask each layer from the top. */
    const char *(*info)(const ss__layer *l, int what);
    /* With start: the ss_refusal_t a server counts when start fails (a
     * PROXY header, a TLS handshake). */
    int refusal;
    /* The result (ss__result_t) of a session whose start of this layer
     * failed: SS__RESULT_PROXY, SS__RESULT_TLS; 0 for none of its own. */
    unsigned char result;
} ss__layer_ops;

enum { SS__LAYER_SHORT_READ_DRAINS = 1u << 0 };

/* What a layer's info op may be asked. */
typedef enum ss__layer_info {
    SS__INFO_TLS_VERSION, /* ss_conn_tls_version */
    SS__INFO_TLS_ALPN,    /* ss_conn_tls_alpn */
    SS__INFO_TLS_PEER,    /* ss_conn_tls_peer */
    SS__INFO_ERROR        /* why its last SS_ETLS failure failed, for messages */
} ss__layer_info_t;

struct ss__layer {
    const ss__layer_ops *ops;
    ss__layer *below; /* NULL for the socket */
    int fd;           /* the socket: what every wait of every layer is on */
    int64_t deadline; /* start() must finish by then (0: the connection's) */
};

/* The socket itself, the bottom of every stream's stack. */
extern const ss__layer_ops ss__layer_socket;

/* Makes a layer the connection's top (l->below is set to the old top). The
 * connection owns it from then on (its close op runs at ss__conn_release). */
void ss__conn_push(ss_conn_t *c, ss__layer *l);
/* Runs every layer's start, bottom first, waiting through the seam under the
 * connection's deadlines. Returns 0 or the error that ends the session. */
int ss__conn_start(ss_conn_t *c);

/* ------------------------------------------------------------ results */

/* result.c: why a session ended, or a client or datagram was turned away,
 * as the access log and /metrics name it (ss__result_name). Set on the
 * connection where the cause is decided (conn.c: which deadline passed, a
 * line too long; a layer that failed to start), else told by the error the
 * handler returned (ss__session_result). Flat labels, one word each, so a
 * Prometheus label and a grep see the same value. */
typedef enum ss__result {
    SS__RESULT_NONE,            /* not decided yet (never logged: ok or error) */
    SS__RESULT_OK,              /* the handler returned >= 0 */
    SS__RESULT_CLOSED,          /* the peer reset or closed before the end */
    SS__RESULT_IDLE_TIMEOUT,    /* a wait outlasted idle_timeout_ms */
    SS__RESULT_LINE_TIMEOUT,    /* a line not ended within line_timeout_ms */
    SS__RESULT_MIN_RATE,        /* the peer sent under min_rate */
    SS__RESULT_REQUEST_TIMEOUT, /* the session's deadline (request_timeout_ms) */
    SS__RESULT_ERROR,           /* the handler failed otherwise */
    SS__RESULT_CANCELLED,       /* the drain ran out: cancelled by close */
    SS__RESULT_LINE_TOO_LONG,   /* a line over max_line */
    SS__RESULT_PROXY,           /* the PROXY header was missing, bad or late */
    SS__RESULT_TLS,             /* the TLS handshake failed */
    SS__RESULT_REFUSED,         /* refused (its ss_refusal_t says why) */
    SS__RESULT_OVERSIZE,        /* a datagram over max_datagram, dropped */
    SS__RESULT__COUNT
} ss__result_t;

/* The label of r ("ok", "idle_timeout", ...); "?" out of range. */
const char *ss__result_name(int r);
/* The result of a session whose handler (or layers) returned rc. */
ss__result_t ss__session_result(const ss_conn_t *c, int rc);
/* Counts a datagram dropped before any handler ran (stats.c): result says
 * why (SS__RESULT_OVERSIZE). */
void ss__stats_dropped(ss_server_t *s, ss__result_t result);

/* ---------------------------------------------------------- connection */

enum {
    SS__C_DGRAM = 1u << 0,    /* datagram request or dialed datagram socket */
    SS__C_DIALED = 1u << 1,   /* made by ss_dial: owns fd, freed by ss_conn_close */
    SS__C_EOF = 1u << 2,      /* the peer closed its sending side */
    SS__C_DRAINED = 1u << 3,  /* last read was short: the socket is empty */
    SS__C_OWN_RBUF = 1u << 4, /* rbuf is malloc'd by the connection */
    SS__C_FAILED = 1u << 5,   /* a write failed: later writes fail fast */
    SS__C_REPLY = 1u << 6,    /* datagram: a reply was written, even an empty one */
    SS__C_MEASURED = 1u << 7, /* inside a line or record: waits count for min_rate */
    SS__C_REFUSED = 1u << 8   /* ended before its handler ran: a layer's start or
                                 the late admission refused it (counted there) */
};

typedef struct ss__listener ss__listener;

/* admit.c: one live connection counted against its source
 * (max_per_source), released once where the session ends. Zeroed: none. A
 * ticket is released only by the process that took it: a fork child's
 * copy of its parent's is not (the parent releases it when it reaps the
 * child). */
typedef struct ss__ticket {
    struct ss__admit *table;
    uint32_t slot;  /* the entry + 1; 0: none */
    uint32_t lease; /* the lease + 1 (taken in a child process); 0: none */
    pid_t pid;      /* who took it */
} ss__ticket;

/* Says whether a datagram reply of n bytes may be sent (1) or is dropped
 * (0): the server's reply budgets (admit.c), set by the intake. */
typedef int ss__reply_gate_fn(ss_conn_t *c, size_t n);

struct ss_conn {
    int fd;
    unsigned flags;
    ss_transport_t transport;
    ss__layer *top;               /* the stream's top layer; &sock when none is pushed */
    ss_server_t *server;          /* NULL when dialed */
    const ss__listener *listener; /* the listener it came from (NULL: dialed) */
    int64_t deadline;             /* absolute, 0 = none */
    int64_t idle_ms;              /* per wait, 0 = none */
    int64_t line_ms;              /* line_timeout_ms, 0 = none */
    int64_t line_deadline;        /* the current line's end, 0 = none */
    uint64_t min_rate;            /* bytes per second, 0 = off */
    int64_t rate_from;            /* min_rate judges from then on (the grace's end) */
    int64_t waited_ms;            /* waiting not yet counted in rate */
    ss__rate rate;
    uint64_t bytes_in, bytes_out; /* the session's payload (above every layer) */
    int64_t started_ms;           /* when the intake built it (ss_now_ms) */
    const ss__layer_ops *failed;  /* the layer whose start failed (NULL: none) */
    unsigned char result;         /* ss__result_t: why it failed, where decided */
    unsigned char refusal;        /* ss_refusal_t, with SS__RESULT_REFUSED */
    int result_err;               /* the error that result explains */
    size_t max_line;
    size_t bufsize; /* stream buffer size */
    size_t max_dgram;
    char *rbuf;
    size_t rpos, rlen, rcap;
    char *wbuf;
    size_t wlen, wcap;
    int cancel_fd;
    atomic_int *cancelled;         /* the server's cancel flag (shared across fork) */
    ss__ticket ticket;             /* its count against its source (admit.c) */
    ss__reply_gate_fn *reply_gate; /* datagram replies: NULL sends all */
    void *data;
    ss__layer sock; /* the first layer: the socket */
    ss_addr_t peer, local;
    char peername[SS_ADDRSTRLEN];
    char errmsg[SS__ERRMSG_MAX];
};

/* Initializes c over fd. Limits come from cfg (NULL: library defaults). */
void ss__conn_init(ss_conn_t *c, int fd, ss_transport_t t, const ss_config_t *cfg);
/* Closes the layers pushed on c and frees the connection's buffers (not the
 * fd, not c). */
void ss__conn_release(ss_conn_t *c);
/* Closes the layers above the socket, top first (their close ops). */
void ss__conn_drop_layers(ss_conn_t *c);
/* Gives a datagram request its packet (borrowed: not freed by the conn). */
void ss__conn_set_packet(ss_conn_t *c, char *packet, size_t len);
/* Records a failure on c (message "op PEER: cause") and returns err. For
 * SS_ETLS the cause is the layer's own explanation (SS__INFO_ERROR). */
int ss__conn_fail(ss_conn_t *c, int err, const char *op);

/* ---------------------------------------------------------- server */

#define SS__LAYERS_MAX 4

/* How a listener makes one layer of a connection it took in: push makes the
 * layer (its state allocated where the request runs: a thread, a child
 * process, a coroutine) and gives it to ss__conn_push. Returns 0 or an
 * error that ends the connection before setup. */
typedef struct ss__layer_spec {
    int (*push)(ss_conn_t *c, void *arg);
    void *arg;
} ss__layer_spec;

struct ss__listener {
    int fd;
    ss_transport_t transport;
    ss_addr_t addr; /* as bound (real port) */
    dev_t dev;      /* unix files we created: identity for removal */
    ino_t ino;
    int owns_path;
    /* Its clients are admitted (verify_request) only once its layers have
     * started: a PROXY header names the client (ss__intake_admit_peer). */
    int admit_late;
    int nlayers;
    ss__layer_spec layers[SS__LAYERS_MAX]; /* bottom first */
};

/* Adds a layer to the stream connections listener i takes in from now on,
 * above those added before. Returns 0, -EINVAL (no such stream listener) or
 * -ENOSPC (SS__LAYERS_MAX). */
int ss__listener_add_layer(ss_server_t *s, int i, int (*push)(ss_conn_t *c, void *arg), void *arg);
/* A listener with no socket that stands for a connection accepted elsewhere
 * (ss_server_serve_conn): its address, transport and layers are those of
 * the connected socket fd's local end. Returns its index or an error. */
int ss__listener_for_conn(ss_server_t *s, int fd, int tls);

/* One request as the intake hands it to a mode. */
enum {
    SS__REQ_PACKET_OWNED = 1u << 0 /* packet is malloc'd: the mode frees it */
};
typedef struct ss__request {
    int fd; /* stream: accepted socket (owned); dgram: listener's */
    unsigned flags;
    ss_transport_t transport;
    const ss__listener *listener;
    ss_addr_t peer, local;
    char *packet; /* dgram: the packet */
    size_t len;
    ss__ticket ticket; /* its count against its source, taken at admission */
} ss__request;

/* Mode flags. */
enum {
    /* process() keeps the packet after it returns (thread, pool): the
     * intake hands it a malloc'd copy it owns (SS__REQ_PACKET_OWNED). */
    SS__MODE_COPY_PACKET = 1u << 0,
    /* Only worker processes take requests (prefork): handle_request fails. */
    SS__MODE_NO_HANDLE_REQUEST = 1u << 1
};

/* What a mode served by the poll loop (poll_loop.c) adds to it. */
typedef struct ss__poll_hooks {
    /* Adds up to max descriptors to watch (fork: one pidfd per child; pool:
     * its room eventfd), may move *deadline sooner (0: none), and sets *room
     * to how many requests the mode can take this turn (pool: its idle
     * workers; 0 keeps the listeners unpolled, so new clients wait in the
     * kernel's backlog, listen(2)). Returns how many it added. */
    int (*watch)(ss_server_t *s, struct pollfd *pfd, int max, int64_t *deadline, int *room);
    /* After the wait: pfd holds what watch added, with revents. */
    void (*ready)(ss_server_t *s, const struct pollfd *pfd, int n);
} ss__poll_hooks;

typedef struct ss__mode_ops {
    ss_mode_t mode;
    unsigned flags; /* SS__MODE_* */
    /* Prepares mode state. May be NULL. */
    int (*init)(ss_server_t *s);
    /* Runs or dispatches one admitted request. Takes ownership of req->fd
     * (streams) and of an owned packet. Returns 0 or an error that the loop
     * logs. */
    int (*process)(ss_server_t *s, ss__request *req);
    /* Optional: a serving loop of the mode's own (prefork, event); NULL runs
     * the poll loop (poll_loop.c) with the hooks below. */
    int (*serve)(ss_server_t *s);
    const ss__poll_hooks *poll; /* optional */
    /* Waits until no handler runs or the deadline passes; returns how many
     * are still running. */
    int (*drain)(ss_server_t *s, int64_t deadline);
    /* Optional: ends handlers that outlived the cancel grace by force
     * (fork, prefork: SIGKILL and reap). Returns how many still run. */
    int (*force)(ss_server_t *s);
    /* Frees mode state; handlers are all gone (or abandoned) by then. */
    void (*destroy)(ss_server_t *s);
    /* Optional: the requests running, when the mode counts them elsewhere
     * than s->active (prefork: every worker's, in shared memory). */
    int (*active)(const ss_server_t *s);
} ss__mode_ops;

extern const ss__mode_ops ss__mode_sync;
extern const ss__mode_ops ss__mode_thread;
extern const ss__mode_ops ss__mode_fork;
extern const ss__mode_ops ss__mode_pool;
extern const ss__mode_ops ss__mode_prefork;
extern const ss__mode_ops ss__mode_event; /* with the event runtime (SS_HAVE_EVENT) */

/* Pool and prefork: workers when ss_config_t.workers is 0, and the most a
 * configuration may ask for (docs/design.md: bounded worker counts). */
#define SS__WORKERS_PER_CPU 4
#define SS__WORKERS_MAX     1024
/* cpus.c: the worker count of pool and prefork (what: the mode's name, for
 * the log): cfg.workers, or SS__WORKERS_PER_CPU per CPU the process may use
 * (ss__cpus_get), at least 4; logged at info with the reason. Fails with
 * -EINVAL above SS__WORKERS_MAX. */
int ss__workers(ss_server_t *s, const char *what);
/* The count of what mode `what` runs `unit`s of ("loop", "worker"):
 * cfg.workers when set, else per_cpu per CPU the process may use, at least
 * min; at most max. Logs the count and its reason at info ("event: 1 loop:
 * cgroup CPU quota 0.5"), and at debug what was ignored on the way. */
int ss__scaled(ss_server_t *s, const char *what, const char *unit, int per_cpu, int min, int max);

/* How many CPUs the process may use, and why (cpus.c). */
typedef struct ss__cpus {
    int n;          /* at least 1 */
    char why[64];   /* "2 CPUs in the affinity mask", "cgroup CPU quota 0.5", "SS_CPUS=3" */
    char note[256]; /* what was ignored on the way (a file of garbage, a bad SS_CPUS),
                       for a debug line; "" when nothing was */
} ss__cpus;

/* The CPUs of the calling thread's affinity mask (sched_getaffinity(2)) as
 * bits (CPU n: bit n % 64 of mask[n / 64]); returns their count, at least 1.
 * When the mask cannot be read (more than 1024 CPUs), the online CPUs. */
int ss__cpus_allowed(uint64_t mask[SS_CPU_LIST_WORDS]);
/* The cgroup CPU quota of the process whose /proc is under root ("" for the
 * real one; a fixture tree in tests): cgroup v1's cpu.cfs_quota_us over
 * cpu.cfs_period_us or v2's cpu.max, of its group and each one above it up
 * to the hierarchy's mount point, the smallest. Returns 1 with *quota and
 * *period set, 0 when there is no limit (or no cgroup file system), or
 * -EINVAL with why naming the file of garbage. */
int ss__cgroup_quota(const char *root, int64_t *quota, int64_t *period, char *why, size_t cap);
/* The whole answer: env (SS_CPUS's value, NULL when unset) if it is a
 * count, else allowed (the affinity count) lowered to the quota under root
 * rounded up. Never fails: garbage is noted in out->note and ignored. */
void ss__cpus_probe(const char *root, const char *env, int allowed, ss__cpus *out);
/* ss__cpus_probe on the real system. */
void ss__cpus_get(ss__cpus *out);

/* Computes, at creation, which CPUs s's loops or workers are pinned to
 * (cfg.cpu_affinity) into s->pin. Returns 0, or -EINVAL (ss_errmsg says
 * why) for an unknown setting, a list naming no CPU or one the process may
 * not use. */
int ss__pin_plan(ss_server_t *s);
/* Pins the calling thread (an event loop) or process (a prefork worker,
 * single-threaded) to the plan's i-th CPU, going round; nothing without a
 * plan. A failure (the CPU went offline) is logged, never fatal. */
void ss__pin(ss_server_t *s, int i, const char *what);

typedef struct ss__dgram_batch ss__dgram_batch;

/* What the server shares with its fork children and prefork workers: one
 * MAP_SHARED page, so that they see the parent's writes and it sees theirs. */
/* stats.c: one block of counters (see the design at the top of stats.c).
 * A thread or process adds to its own stripe of SS__STATS_STRIPES; each
 * stripe fills whole cache lines, so that two stripes never share one. */
#define SS__STATS_STRIPES 64
#define SS__CACHE_LINE    64
typedef struct ss__stripe {
    _Alignas(SS__CACHE_LINE) atomic_ulong accepted;
    atomic_ulong requests, bytes_in, bytes_out, handler_errors, timeouts, duration_sum_ms;
    atomic_ulong refused[SS_REFUSED__COUNT];
    atomic_ulong duration[SS_STATS_BUCKETS]; /* per bucket, not cumulative */
    atomic_ulong ended[SS_STATS_RESULTS];    /* by ss__result_t */
} ss__stripe;

/* What the server shares with its fork children and prefork workers: one
 * MAP_SHARED mapping, so that they see the parent's writes and it sees theirs. */
typedef struct ss__shared {
    /* Set with cancel_fd: checked by every read and write, even one that
     * never waits (a chargen writing to a fast reader). */
    atomic_int cancelled;
    /* A request was taken in since service_actions last ran (set by event
     * loops and prefork workers, taken by the serving thread). */
    atomic_int actions_due;
    /* The counters (stats.c), summed by ss_server_stats. */
    ss__stripe stats[SS__STATS_STRIPES];
} ss__shared;

struct ss_server {
    ss_config_t cfg;
    ss_handler_t h;
    const ss__mode_ops *mode;
    void *mode_state;
    ss__listener *ls;
    int nls, capls;
    /* The PROXY protocol's settings (cfg.proxy_*), made by create; NULL: off. */
    struct ss__proxy *proxy;
    int wake_fd;             /* eventfd: shutdown wakes the serving loop */
    int notify_fd;           /* eventfd to wake the serving loop when requests are
                                taken in elsewhere (event loops, prefork workers);
                                -1 where the serving loop takes them itself */
    int cancel_fd;           /* eventfd: readable once handlers are cancelled */
    ss__shared *shared;      /* see ss__shared */
    atomic_int shutdown;     /* set by ss_server_shutdown */
    atomic_int active;       /* running requests */
    atomic_int closed;       /* listeners closed */
    pid_t pid;               /* the process that created the server */
    int64_t last_actions;    /* when service_actions last ran */
    struct ss__intake *in;   /* intake.c: the reserve descriptor and its lock */
    struct ss__tls *tls;     /* tls:// listeners' context (cfg.tls), made by create */
    struct ss__admit *admit; /* admit.c: lists and the source table; NULL: none */
    struct ss__alog *alog;   /* access_log.c: the access log (cfg.access_log); NULL: off */
    /* The poll loop's (poll_loop.c; prefork's workers take with it too). */
    int64_t backoff_until;           /* accepts paused until then (EMFILE, ENOMEM) */
    ss__dgram_batch *batch;          /* datagrams received, made at the first */
    uint64_t pin[SS_CPU_LIST_WORDS]; /* cpus.c: the CPUs loops or workers are pinned
                                        to, in ascending order; */
    int npin;                        /* how many (0: none) */
    struct pollfd *pfd;
    int cappfd;
    /* ss_server_drain has run, and how many handlers it left running. */
    int drained, drain_left;
    char errmsg[SS__ERRMSG_MAX];
};

/* handler.c: runs one request's handler on c: deadline, layers' start, setup,
 * handle, finish, handle_error, final flush (datagram: the reply). Returns
 * handle's result. */
int ss__run_handler(ss_server_t *s, ss_conn_t *c);
/* Reports a failed request with the peer address (default handle_error). */
void ss__report_error(ss_server_t *s, ss_conn_t *c, int err);

/* listener.c: a sibling of stream listener i with SO_REUSEPORT, for one
 * event loop or prefork worker: its descriptor, -EOPNOTSUPP when listener i
 * can have none, or another negative errno. The caller closes it. */
int ss__listener_sibling(ss_server_t *s, int i);
/* listener.c: closes every listener (idempotent; unlinks unix files we
 * created). */
void ss__close_listeners(ss_server_t *s);
/* ... and every one, datagram listeners too, and frees them (server_close). */
void ss__free_listeners(ss_server_t *s);
/* access_log.c: one JSON line per session, refusal or dropped datagram
 * (cfg.access_log), buffered per process and written in whole lines. new
 * opens it (mode: the mode's name for the lines); NULL *out when off.
 * Safe from every thread of every process the server forks. */
struct ss__alog;
int ss__alog_new(ss_server_t *s, const char *mode, struct ss__alog **out);
/* Starts this process's flusher thread, if it has none yet (ss_server_serve:
 * the serving process reopens the file after a rotation even if it writes
 * no line itself, such as fork's and prefork's parent). Else the first line
 * of a process starts it. */
void ss__alog_start(struct ss__alog *a);
/* Flushes, stops the flusher thread, closes and frees (server_close). */
void ss__alog_free(struct ss__alog *a);
/* Writes what this process buffered: before a child's _exit (fork, prefork). */
void ss__alog_flush(struct ss__alog *a);
/* A session ended with rc (handler.c). */
void ss__alog_session(ss_server_t *s, const ss_conn_t *c, int rc);
/* A client refused at the intake, or a datagram dropped (result
 * SS__RESULT_REFUSED with why, or SS__RESULT_OVERSIZE); peer may be NULL
 * (a client shed unseen at EMFILE). */
void ss__alog_refused(ss_server_t *s, const ss_addr_t *peer, const ss_addr_t *local,
                      ss__result_t result, ss_refusal_t why);
/* wait.c: writes 1 to an eventfd (async-signal-safe), and empties one. */
void ss__eventfd_signal(int fd);
void ss__eventfd_drain(int fd);
/* log.c */
void ss__log(ss_server_t *s, ss_log_level_t level, const char *fmt, ...) SS_PRINTF(3, 4);

/* --------------------------------------------------------------- TLS */

/* tls_ctx.c and layer_tls.c with OpenSSL 3, tls_none.c without (each call
 * then fails with SS_EMODE, "built without TLS"). An ss__tls is one
 * SSL_CTX with its settings: a server's is made once by ss_server_create,
 * before any listener or child exists, so fork and prefork children share
 * what was read once; a client's per ss_dial_tls. */
typedef struct ss__tls ss__tls;

/* Loads cfg's files into a new context. Returns 0, an errno value for a
 * file that cannot be read, SS_ETLS for one that is not a certificate or
 * key (or a key that does not match), SS_EMODE without TLS; the message
 * names the file. */
int ss__tls_server_new(const ss_tls_config_t *cfg, ss__tls **out);
int ss__tls_client_new(const ss_tls_config_t *cfg, ss__tls **out);
void ss__tls_free(ss__tls *t);
/* A listener's layer spec push (arg: the server's ss__tls): the server
 * side of a TLS session, whose start is the handshake. */
int ss__tls_push_server(ss_conn_t *c, void *arg);
/* The client side on a dialed connection, verifying the server as host
 * (a name, or an IP address as text) unless the context is insecure; the
 * handshake runs at ss__conn_start. */
int ss__tls_push_client(ss_conn_t *c, ss__tls *t, const char *host);

/* alpn.c: a comma-separated ALPN list ("h2,http/1.1") in the wire format
 * of RFC 7301 section 3.1 (each name prefixed with its length). Names are
 * 1 to 255 bytes of printable ASCII but the comma. Returns the wire length
 * (0 for an empty list), or -EINVAL for a malformed list, -ENOSPC when it
 * does not fit in cap. Pure: fuzz/fuzz_alpn.c drives it. */
int ss__alpn_wire(const char *list, unsigned char *out, size_t cap);

/* --------------------------------------------------- PROXY protocol */

/* proxy_cidr.c and layer_proxy.c (proxy.h has the rest). A server's PROXY
 * settings, made by ss_server_create from cfg: *out stays NULL when
 * proxy_protocol is SS_PROXY_NONE. Returns 0, -EINVAL (a bad value or
 * proxy_from network, ss_errmsg() says which) or -ENOMEM. */
typedef struct ss__proxy ss__proxy;
int ss__proxy_new(const ss_config_t *cfg, ss__proxy **out);
/* A listener's layer spec push (arg: the server's ss__proxy): reads the
 * header before setup, under its own deadline of ss__proxy_header_ms
 * (5000; tests shorten it). */
int ss__proxy_push(ss_conn_t *c, void *arg);
extern int64_t ss__proxy_header_ms;

/* ------------------------------------------------------------ intake */

/* intake.c: the one path from accept(2) or a received datagram to the mode,
 * for every mode: accepting, the spare descriptor for EMFILE, the socket
 * setup after accept, admission (verify_request, max_connections), the
 * datagram size check, and the building of the connection. */

#define SS__BACKOFF_MS   100 /* pause after ENOMEM/ENOBUFS, or an EMFILE not shed */
#define SS__ACCEPT_BATCH 16  /* accepts per readiness, so one listener can't starve others */

int ss__intake_init(ss_server_t *s);
/* Requests running now (ss_server_active). */
int ss__active(const ss_server_t *s);
/* service_actions for serving loops: ss__actions_deadline moves deadline
 * (0: none) sooner to the next call due by service_interval_ms;
 * ss__actions_run calls the hook if requests were taken in since its last
 * call or the interval is due. */
int64_t ss__actions_deadline(const ss_server_t *s, int64_t deadline);
void ss__actions_run(ss_server_t *s);
void ss__intake_free(ss_server_t *s);
/* Several threads take requests in at once (event mode's loops): the spare
 * descriptor is then handed back under a lock (see intake.c). */
void ss__intake_shared(ss_server_t *s);
/* Counts a refusal of reason why (stats.c). */
void ss__stats_refused(ss_server_t *s, ss_refusal_t why);
/* Counts a stream connection accept(2) gave (stats.c). */
void ss__stats_accepted(ss_server_t *s);
/* The counters summed over every stripe into *out (but out->active). */
void ss__stats_sum(const ss_server_t *s, ss_stats_t *out);
/* A session ended (handler.c, once per request a handler ran for, and for
 * one whose layers failed to start): rc is ss__run_handler's result. */
void ss__stats_session(ss_server_t *s, const ss_conn_t *c, int rc);

/* admit.c: admission by source (ss_config_t allow, deny, max_per_source,
 * rate, udp_budget, udp_amplification, source_prefix_*), in one shared
 * mapping (see admit.c). ss__admit_new checks the settings (-EINVAL) and
 * makes s->admit, left NULL when none is set. */
int ss__admit_new(ss_server_t *s);
void ss__admit_free(ss_server_t *s);
/* The allow and deny lists on an IP peer: 1 to go on, 0 refused (counted,
 * logged, *why set; the caller closes the client). */
int ss__admit_lists(ss_server_t *s, const ss_addr_t *peer, ss_refusal_t *why);
/* A stream client of peer (fd: its socket, for a unix peer's credentials)
 * against its source's rate and max_per_source: 1 with *t holding its
 * count, or 0 refused (counted, logged, *why set). 1 at once without those
 * limits. */
int ss__admit_source(ss_server_t *s, const ss_addr_t *peer, int fd, ss__ticket *t,
                     ss_refusal_t *why);
/* The session of t ended: its count goes (once; t is zeroed). */
void ss__admit_release(ss__ticket *t);
/* A child process was reaped: the counts it still held go. */
void ss__admit_reaped(ss_server_t *s, pid_t pid);
/* Called in a fork child or a prefork worker, a process its parent reaps:
 * the counts it takes from now on are also leased under its PID, so that
 * the parent's ss__admit_reaped gives them back however it dies. */
void ss__admit_in_child(void);
/* A datagram of n bytes came from peer: udp_amplification's credit. */
void ss__admit_datagram(ss_server_t *s, const ss_addr_t *peer, size_t n);
/* The reply gate for datagram connections, NULL without budgets. */
ss__reply_gate_fn *ss__admit_gate(const ss_server_t *s);

/* Outcomes of ss__intake_accept besides 1 (a request) and 0 (a client dealt
 * with: refused, shed or failed on its own; try the next). */
#define SS__INTAKE_EMPTY (-EAGAIN)  /* nothing waiting: wait for readiness */
#define SS__INTAKE_PAUSE (-ENOBUFS) /* out of memory or descriptors: pause SS__BACKOFF_MS */
/* Accepts one client from stream listener l and admits it: 1 with *req
 * filled (the mode owns req->fd), 0, SS__INTAKE_EMPTY, SS__INTAKE_PAUSE, or
 * another negative errno when the listener itself failed (EBADF: closed). */
int ss__intake_accept(ss_server_t *s, const ss__listener *l, ss__request *req);
/* The same for a connection accepted elsewhere (ss_server_serve_conn): fd,
 * owned from then on, taken in as l's. Returns 1 or 0 as above. */
int ss__intake_conn(ss_server_t *s, const ss__listener *l, int fd, ss__request *req);

/* The admission of a client whose address its listener's layers gave
 * (admit_late: a PROXY header), run where the request runs once they have
 * started: the allow and deny lists, verify_request and its source's
 * limits on c's peer (a count taken goes into c->ticket). max_connections
 * was judged at accept. Returns 1 to serve c; 0 when refused (counted,
 * logged, c->refusal saying why; the caller ends the connection). */
int ss__intake_admit_peer(ss_server_t *s, ss_conn_t *c);

/* Datagrams are received in batches: one recvmmsg(2) for up to
 * SS__DGRAM_BATCH of them. */
#define SS__DGRAM_BATCH 8
struct ss__dgram_batch {
    int count; /* datagrams one receive asks for */
    int n;     /* received by the last ss__intake_recv */
    size_t size;
    char *buf;
    struct mmsghdr msg[SS__DGRAM_BATCH];
    struct iovec iov[SS__DGRAM_BATCH];
    ss_addr_t peer[SS__DGRAM_BATCH];
};
/* Allocates b's buffers for the server's max_datagram. 0 or -ENOMEM. */
int ss__dgram_batch_init(ss_server_t *s, ss__dgram_batch *b);
void ss__dgram_batch_free(ss__dgram_batch *b);
/* Receives up to max datagrams (and at most the batch's count) from
 * datagram listener l: the count (> 0), SS__INTAKE_EMPTY, SS__INTAKE_PAUSE,
 * or another negative errno when the listener failed (EBADF: closed). */
int ss__intake_recv(ss_server_t *s, const ss__listener *l, ss__dgram_batch *b, int max);
/* Datagram i of the batch, checked (larger than max_datagram: dropped, never
 * cut) and admitted: 1 with *req filled (its packet points into the batch,
 * copied for SS__MODE_COPY_PACKET modes), else 0. */
int ss__intake_datagram(ss_server_t *s, const ss__listener *l, ss__dgram_batch *b, int i,
                        ss__request *req);

/* Builds the connection for req in c (for modes that run it). Keeps the
 * buffers c already has (a connection reused from request to request). */
void ss__conn_for_request(ss_server_t *s, ss_conn_t *c, const ss__request *req);
/* Ends a request's connection where the mode ran it: closes its layers, its
 * socket (streams) and an owned packet. Keeps c's buffers when keep is set
 * (sync, pool and prefork reuse one connection), else frees them. */
void ss__request_done(ss_conn_t *c, const ss__request *req, int keep);
/* Drops a request no handler will run (no thread for it, say): closes its
 * socket (streams) and frees an owned packet. */
void ss__request_drop(ss__request *req);

/* poll_loop.c: the serving loop of the blocking modes (sync, thread, fork,
 * pool, and handle_request in event mode). ss__take takes up to max requests
 * from listener i (accepts, or receives) and hands each admitted one to the
 * mode; after SS__INTAKE_PAUSE it sets s->backoff_until. Returns how many
 * were taken in (dispatched or refused). Prefork's workers use it too. */
int ss__take(ss_server_t *s, int i, int max);
int ss__poll_serve(ss_server_t *s);
int ss__poll_handle_request(ss_server_t *s, int64_t deadline);

/* mode.c: the ops of a mode, NULL when this build lacks it. */
const ss__mode_ops *ss__mode_ops_for(ss_mode_t mode);

/* ------------------------------------------------ condition variables */

/* cond.c: initializes cv to measure deadlines on CLOCK_MONOTONIC. */
void ss__cond_init(pthread_cond_t *cv);
/* Waits on cv (mu held) until signalled or deadline (ss_now_ms time; 0 =
 * none) passes. Returns 0, or -ETIMEDOUT once the deadline has passed. */
int ss__cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline);

/* The wait for a mode's running requests to end (event, pool, thread). The
 * mode counts them in an atomic_int of its own (s->active) and calls
 * ss__drainer_done when one ends instead of decrementing it. */
typedef struct ss__drainer {
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* broadcast by a request's end while a drain waits */
    atomic_int draining; /* drains waiting */
} ss__drainer;

void ss__drainer_init(ss__drainer *d);
void ss__drainer_destroy(ss__drainer *d);
/* A request ended: lowers *active and wakes a waiting drain (taking the
 * mutex only then). Returns *active's value before. */
int ss__drainer_done(ss__drainer *d, atomic_int *active);
/* Waits until *active is 0 or deadline (ss_now_ms time; 0 = none) passes.
 * Returns *active then: how many still run. */
int ss__drainer_wait(ss__drainer *d, atomic_int *active, int64_t deadline);

/* ------------------------------------------------------ child processes */

/* children.c: the child processes of fork and prefork mode. A set holds
 * entries of a mode's own type, each beginning with an ss__child. */
typedef struct ss__child {
    pid_t pid;
    int pidfd; /* -1 if pidfd_open(2) failed: then swept by polling */
} ss__child;

typedef struct ss__children {
    char *v;            /* n entries of size bytes */
    struct pollfd *pfd; /* cap entries: a drain's poll set */
    size_t size;        /* of an entry */
    int n, cap;
    int sweep_ms; /* how often children without a pidfd are looked at */
} ss__children;

/* Called with a child that is gone, before its entry is dropped; status is
 * its wait status, NULL when there is none (ECHILD). */
typedef void ss__reaped_fn(void *ctx, void *child, const int *status);

/* An empty set of entries of size bytes, with room for cap (0: grows as
 * needed). Returns 0 or -ENOMEM. */
int ss__children_init(ss__children *c, size_t size, int sweep_ms, int cap);
/* Closes the pidfds and frees the set (the children are not reaped). */
void ss__children_free(ss__children *c);
/* Adds child pid with its pidfd; returns its zeroed entry (but for the
 * ss__child) or NULL without memory (the child is then not tracked). */
void *ss__children_add(ss__children *c, pid_t pid);
/* In a forked child: closes the pidfds inherited and forgets every entry. */
void ss__children_abandon(ss__children *c);
void *ss__children_at(const ss__children *c, int i);
int ss__children_count(const ss__children *c);
/* Fills pfd with up to max pidfds (POLLIN once the child exits). */
int ss__children_poll_fds(const ss__children *c, struct pollfd *pfd, int max);
/* Whether some child has no pidfd, and when to sweep for it then (0: no
 * child lacks one). */
int ss__children_blind(const ss__children *c);
int64_t ss__children_deadline(const ss__children *c);
/* Reaps every child that has ended (waitpid WNOHANG), calling reaped. */
void ss__children_sweep(ss__children *c, ss__reaped_fn *reaped, void *ctx);
/* Reaps until none is left or deadline passes; returns how many are left. */
int ss__children_drain(ss__children *c, int64_t deadline, ss__reaped_fn *reaped, void *ctx);
/* SIGKILLs every child and reaps it. */
void ss__children_kill(ss__children *c, ss__reaped_fn *reaped, void *ctx);
/* Logs how a reaped child ended, fmt naming it ("child %d serving %s"):
 * killed by a signal (an error), or, with exits_too, a non-zero exit
 * status (a warning). Nothing when status is NULL or all went well. */
void ss__child_report(ss_server_t *s, const int *status, int exits_too, const char *fmt, ...)
    SS_PRINTF(4, 5);

#endif /* SS_INTERNAL_H */
