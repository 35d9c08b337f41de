/* socketserver.h - the one public header of libsocketserver.
 *
 * A C counterpart of Python's SocketServer: a request handler written once, in
 * plain blocking style, runs unchanged in every server mode (sync, thread, fork,
 * pool, prefork, event) over every transport (tcp, udp, unix, unixgram).
 * socketserver(7) explains the concepts; each function has a section 3 page.
 *
 * The rules every declaration below follows:
 *  1. Errors. A call that can fail returns an int (or ssize_t) that is >= 0 on
 *     success and, on failure, a negative errno value or one of the SS_E*
 *     codes (libuv's convention). ss_strerror() names a code; ss_errmsg()
 *     returns a message naming the operation, the address and the cause, such
 *     as "bind tcp://0.0.0.0:7: Address already in use".
 *  2. Time. Every call that may wait takes an absolute deadline: milliseconds
 *     on the monotonic clock of ss_now_ms(), in a parameter named deadline.
 *     SS_NO_DEADLINE (0) means no limit; a deadline already past means "do not
 *     wait" (the call does what it can at once, then fails with -ETIMEDOUT).
 *     So one deadline can bound a whole exchange (libdill, Go). Configuration
 *     fields are durations, named *_ms; 0 there turns the limit off.
 *  3. Arguments. The object a call acts on comes first, its inputs next, and
 *     what it produces (out-parameters) last; a buffer is followed by its
 *     capacity.
 *  4. Hooks. A hook that can say no returns 0 to go on; any other value stops
 *     (verify_request refuses the client, setup skips handle). A negative value
 *     is an error code: it is reported (setup's through handle_error, as
 *     handle's are; verify_request's in the log, as the refusal's reason).
 *  5. Callbacks have _fn types; enumerations are named; every type of the API
 *     ends in _t.
 *  6. Ownership, validity and the thread each hook runs in are stated on each
 *     declaration; "Hooks and threads" below sums up the last per mode.
 */
#ifndef SOCKETSERVER_H
#define SOCKETSERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SS_VERSION_MAJOR  0
#define SS_VERSION_MINOR  2
#define SS_VERSION_PATCH  0
#define SS_VERSION_STRING "0.2.0"

#if defined(__GNUC__)
#define SS_API          __attribute__((visibility("default")))
#define SS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SS_API
#define SS_PRINTF(f, a)
#endif

/* ---------------------------------------------------------------- errors */

/* Library error codes, in a range no errno value reaches. Returned as they
 * are (negative), like negated errno values. */
typedef enum ss_error {
    SS_EADDR = -20001,    /* malformed address text */
    SS_ERESOLVE = -20002, /* host name could not be resolved */
    SS_ELINE = -20003,    /* line longer than the limit (max_line) */
    SS_ETRUNC = -20004,   /* datagram larger than the buffer */
    SS_EEOF = -20005,     /* stream ended inside a record (ss_read_full) */
    SS_EMODE = -20006,    /* mode not available in this build or call */
    SS_EUSAGE = -20007,   /* invalid argument or call order */
    SS_ETLS = -20008      /* TLS: a failed handshake or verification, a bad
                             record, or a certificate or key file that is not
                             one (ss_errmsg() says which) */
} ss_error_t;

/* The name of an error code: ss_strerror(-ECONNRESET) is "Connection reset by
 * peer". Always a static string, never NULL. */
SS_API const char *ss_strerror(int err);

/* The message of the most recent failure in the calling thread (in event
 * mode: in the calling coroutine), such as
 * "connect tcp://127.0.0.1:9: Connection refused". Valid until the next
 * failing call of the library in the same thread or coroutine. */
SS_API const char *ss_errmsg(void);

/* ------------------------------------------------------------------ time */

/* Milliseconds on CLOCK_MONOTONIC, the clock of every deadline. */
SS_API int64_t ss_now_ms(void);

/* The deadline that sets no limit (rule 2). */
#define SS_NO_DEADLINE 0

/* Sleeps until the deadline. In event mode only the calling coroutine waits;
 * elsewhere the calling thread. Returns 0 once the deadline has passed (at
 * once for a past one or SS_NO_DEADLINE), or -ECANCELED when the server
 * cancels its handlers first. */
SS_API int ss_sleep_until(int64_t deadline);

/* ------------------------------------------------------------- addresses */

typedef enum ss_transport {
    SS_TCP = 0,  /* tcp://HOST:PORT        SOCK_STREAM over IPv4 or IPv6 */
    SS_UDP,      /* udp://HOST:PORT        SOCK_DGRAM over IPv4 or IPv6  */
    SS_UNIX,     /* unix:PATH              SOCK_STREAM, AF_UNIX           */
    SS_UNIXGRAM, /* unixgram:PATH         SOCK_DGRAM, AF_UNIX            */
    SS_TLS       /* tls://HOST:PORT       TLS 1.2 or 1.3 over TCP (see ss_tls_config_t) */
} ss_transport_t;

/* A parsed socket address with its transport. Plain data: copy it freely. */
typedef struct ss_addr {
    ss_transport_t transport;
    socklen_t len;              /* bytes of sa in use */
    struct sockaddr_storage sa; /* sockaddr_in, _in6 or _un */
} ss_addr_t;

/* Large enough for any text ss_addr_format() produces, with its NUL. */
#define SS_ADDRSTRLEN 160

/* Parses "tcp://HOST:PORT", "udp://HOST:PORT", "tls://HOST:PORT", "unix:PATH"
 * or "unixgram:PATH" (tls:// is parsed in every build; listening and dialing
 * on it need ss_tls_available()).
 * HOST is a dotted IPv4 address, a bracketed IPv6 address ("[::1]",
 * "[fe80::1%lo]"), a host name (resolved with getaddrinfo(3)) or empty for
 * the IPv4 wildcard ("tcp://:80"); PORT is 0-65535, 0 asking the system for
 * an ephemeral port when binding. A unix PATH starting with '@' names the
 * Linux abstract namespace (unix(7)).
 * A name with several addresses gives one: its first IPv4 address, else its
 * first IPv6 address (Go's rule for listening). The resolver's order between
 * the families varies from machine to machine (RFC 6724 puts ::1 before
 * 127.0.0.1 where /etc/hosts names both), so "tcp://localhost:80" is
 * 127.0.0.1 wherever localhost has that address. Literal addresses are taken
 * as written.
 * Returns 0, SS_EADDR for malformed text, SS_ERESOLVE for a name that does not
 * resolve; ss_errmsg() then says what is wrong. Blocks while resolving. */
SS_API int ss_addr_parse(const char *text, ss_addr_t *out);

/* Like ss_addr_parse() but returns up to max of all the IPv4 and IPv6
 * addresses a host name resolves to, in the order RFC 8305 section 4 gives
 * for connecting: getaddrinfo's (RFC 6724) order within each family, the two
 * families interleaved one by one, starting with the family of getaddrinfo's
 * first answer. out[0] is thus getaddrinfo's first answer, which need not
 * be ss_addr_parse()'s address. Returns the count (>= 1) or an error. */
SS_API int ss_addr_resolve(const char *text, ss_addr_t *out, int max);

/* Formats an address as ss_addr_parse() reads it ("tcp://[::1]:2345").
 * Returns the length, or -ENOSPC if cap is too small (buf then holds a
 * truncated, NUL-terminated text), or SS_EADDR for an unknown family, a NULL
 * buf or a cap of 0. */
SS_API int ss_addr_format(const ss_addr_t *a, char *buf, size_t cap);

/* The port of an IP address (host byte order), or -1 for a unix address. */
SS_API int ss_addr_port(const ss_addr_t *a);

/* ----------------------------------------------------------------- modes */

/* What runs a connection (or a datagram). One field of ss_config_t chooses;
 * the handler never knows which. */
typedef enum ss_mode {
    SS_MODE_SYNC = 0, /* the serving thread, one request at a time (TCPServer) */
    SS_MODE_THREAD,   /* a new thread per request (ThreadingMixIn)            */
    SS_MODE_FORK,     /* a new process per request (ForkingMixIn)             */
    SS_MODE_POOL,     /* one of N long-lived threads                          */
    SS_MODE_PREFORK,  /* one of N long-lived, supervised processes            */
    SS_MODE_EVENT     /* a stackful coroutine on an epoll loop per worker     */
} ss_mode_t;

/* Pool: the serving thread accepts and hands each request to an idle worker
 * thread; while every worker is busy it accepts nothing, so new clients wait
 * in the listen backlog (datagrams in the socket buffer), never refused nor
 * dropped. Prefork: worker processes accept on the shared listeners and run
 * one request at a time; the parent replaces a worker that dies (backing off
 * if they keep dying), and workers exit when the parent does, even if it is
 * killed with SIGKILL.
 *
 * Event: each session is a coroutine with its own stack (stack_size, 64 KiB
 * by default, a guard page below it) on one of `workers` epoll loops, each
 * loop a thread. The library's calls (ss_read, ss_write, ss_readline,
 * ss_dial, ss_request, ss_sleep_until, ...) park only the calling coroutine, with
 * the same results, errors and deadlines as in the blocking modes. What a
 * handler must NOT do in this mode is block its thread outside those calls:
 * no read/recv/accept/connect on its own blocking descriptors, no sleep(3),
 * no waiting on a mutex another session holds across a library call, no long
 * computation without a pause: every session on that loop would stop with
 * it. Run such work with ss_offload(). Deep recursion or large local arrays
 * need a larger stack_size; an overflow is reported with the peer's address,
 * then the process dies of the fault (no safe recovery exists from it). */

/* Runs fn(arg) where it may block: in event mode on a helper thread of the
 * calling loop while only the calling coroutine waits for it (a database
 * client, a file read, a blocking library); in every other mode, or outside
 * a handler, simply by calling it. fn must not call the library's I/O on the
 * handler's connection. The wait is not cancelled by a shutdown: the session
 * resumes when fn returns. Returns 0, or a negative error when no helper
 * thread could be started (fn has then not run). */
typedef void ss_offload_fn(void *arg);
SS_API int ss_offload(ss_offload_fn *fn, void *arg);

/* "sync", "thread", ... ; NULL for a value out of range. */
SS_API const char *ss_mode_name(ss_mode_t mode);

/* Parses a mode name. Returns 0, or SS_EUSAGE for an unknown name. */
SS_API int ss_mode_parse(const char *name, ss_mode_t *out);

/* 1 if this build of the library can run the mode, else 0. */
SS_API int ss_mode_available(ss_mode_t mode);

/* ----------------------------------------------------- handler and server */

typedef struct ss_server ss_server_t; /* opaque; one per server */
typedef struct ss_conn ss_conn_t;     /* opaque; a connection, or one datagram and its reply */

/* The request handler (BaseRequestHandler). setup and finish are optional.
 * setup: returns 0 to go on to handle; any other value skips handle (rule 4),
 *        and a negative one is an error reported through handle_error.
 * handle: does the request with blocking-style calls on c; returns 0, or a
 *         negative error that the server reports through handle_error.
 * finish: always runs once setup has run, even when setup or handle failed.
 * ctx is the handler's own pointer; the server passes it back untouched. The
 * same handler may run concurrently in several threads (thread, pool and event
 * modes), so anything ctx points to must then be safe to share. c is valid
 * from setup to the end of finish; the server owns and frees it. */
typedef int ss_setup_fn(ss_conn_t *c, void *ctx);
typedef int ss_handle_fn(ss_conn_t *c, void *ctx);
typedef void ss_finish_fn(ss_conn_t *c, void *ctx);

typedef struct ss_handler {
    ss_setup_fn *setup;
    ss_handle_fn *handle;
    ss_finish_fn *finish;
    void *ctx;
} ss_handler_t;

/* Server hooks (BaseServer's overridable methods). Each is optional; all get
 * ss_config_t.hook_ctx.
 *
 * Hooks and threads: where each hook runs, mode by mode.
 *   verify_request  where the client is taken in: the serving thread (the one
 *                   in ss_server_serve or ss_server_handle_request) in sync,
 *                   thread, fork and pool modes; in prefork, the worker process
 *                   that accepted the client; in event mode, the loop thread
 *                   that accepted it, so with several loops it runs on several
 *                   threads at once and must be thread-safe (it must not
 *                   block either: it runs on the loop). In event mode under
 *                   ss_server_handle_request, the serving thread. With
 *                   proxy_protocol set, on stream listeners: where the
 *                   request runs (as setup), once the PROXY header has
 *                   given the client's address.
 *   setup, handle, finish, handle_error
 *                   where the request runs: the serving thread (sync), the
 *                   request's own thread (thread), a child process (fork), a
 *                   pool thread (pool), a worker process (prefork), a
 *                   coroutine on a loop thread (event).
 *   handle_timeout  the thread in ss_server_handle_request.
 *   service_actions the serving thread (prefork: the supervising parent's),
 *                   never concurrently with itself.
 *   log             any of the above: it must be thread-safe.
 * In prefork mode, ss_server_shutdown called in a worker retires that worker
 * only. */

/* verify_request: return 0 to serve the client; any other value refuses it
 * (the connection is closed, the datagram dropped), and a negative one names
 * the reason in the log (debug level). */
typedef int ss_verify_fn(ss_server_t *s, const ss_addr_t *peer, void *ctx);
/* handle_error: a request failed with err: its handler (setup or handle),
 * its final flush, or, before setup, the start of a connection layer of its
 * listener (a handshake); the default logs the peer and ss_conn_errmsg(c).
 * The server keeps serving either way. */
typedef void ss_error_fn(ss_server_t *s, ss_conn_t *c, int err, void *ctx);
/* handle_timeout: the deadline of ss_server_handle_request() passed with no
 * request. */
typedef void ss_timeout_fn(ss_server_t *s, void *ctx);
/* service_actions: called after each turn in which requests were taken in
 * (accepted, received, or refused), in every mode, and also at least every
 * service_interval_ms when that is set. In event and prefork modes, where
 * loops or workers take requests in, a burst of requests may be reported by
 * one call. */
typedef void ss_actions_fn(ss_server_t *s, void *ctx);

/* Log levels and the log sink. The default writes
 * "socketserver: LEVEL: message" to stderr for levels up to SS_LOG_INFO. */
typedef enum ss_log_level {
    SS_LOG_ERROR = 0,
    SS_LOG_WARN = 1,
    SS_LOG_INFO = 2,
    SS_LOG_DEBUG = 3
} ss_log_level_t;
typedef void ss_log_fn(ss_log_level_t level, const char *msg, void *ctx);

/* What the event mode's loops wait with (ss_config_t.poller). */
typedef enum ss_poller {
    SS_POLLER_AUTO = 0, /* the SS_POLLER environment variable ("epoll",
                           "io_uring") when set, else epoll (socketserver(7),
                           "Pollers", says why); io_uring falls back to epoll
                           where the kernel refuses it */
    SS_POLLER_EPOLL,    /* epoll(7) */
    SS_POLLER_IO_URING  /* io_uring(7), multishot poll; ss_server_create fails
                           with SS_EMODE in a build without liburing, or with
                           the kernel's error where it refuses io_uring */
} ss_poller_t;

/* Which CPUs the event mode's loops and the prefork mode's workers run on
 * (sched_setaffinity(2)): loop or worker i on the i-th CPU of the set, in
 * ascending order, going round again when there are more of them than CPUs.
 * A prefork worker that is replaced gets its predecessor's CPU. The other
 * modes pin nothing. */
typedef enum ss_cpu_affinity {
    SS_CPU_AFFINITY_NONE = 0, /* pin nothing: the scheduler places them */
    SS_CPU_AFFINITY_AUTO,     /* the CPUs the process may use at ss_server_create
                                 (its affinity mask; nginx's worker_cpu_affinity
                                 auto) */
    SS_CPU_AFFINITY_LIST      /* the CPUs set in ss_config_t.cpu_list */
} ss_cpu_affinity_t;

/* cpu_list's size in 64-bit words: CPUs 0 to 1023. */
#define SS_CPU_LIST_WORDS 16

/* TLS settings (OpenSSL 3), of a server (ss_config_t.tls, for its tls://
 * listeners) or of a client (ss_dial_tls). Files are PEM. The strings are
 * read by the call that takes them (ss_server_create, ss_dial_tls), which
 * loads the files then, once; they are not used afterwards. Every session
 * negotiates TLS 1.2 or 1.3 (RFC 8446), never an older version. */
typedef struct ss_tls_config {
    const char *cert_file;   /* certificate chain, leaf first. A server needs
                                one for tls:// listeners; a client presents it
                                when the server asks (mutual TLS) */
    const char *key_file;    /* the private key of cert_file; NULL: in cert_file */
    const char *ca_file;     /* server: clients must present a certificate that
                                these CAs verify (mutual TLS); NULL: none is
                                asked for. Client: the CAs that verify the
                                server; NULL: the system's store */
    const char *alpn;        /* ALPN protocols (RFC 7301), comma-separated,
                                preferred first ("h2,http/1.1"); NULL: none.
                                A server picks the first of its own list that
                                the client offers, and refuses a client that
                                offers only others; a client offers them */
    const char *server_name; /* client: the name sent as SNI (RFC 6066) and
                                verified against the server's certificate;
                                NULL: the address's host (an IP address is
                                verified as an address, without SNI) */
    int insecure;            /* client: do not verify the server (testing only) */
} ss_tls_config_t;

/* 1 if this build of the library speaks TLS (it was built with OpenSSL 3),
 * else 0: tls:// listeners and dials then fail with SS_EMODE. */
SS_API int ss_tls_available(void);

/* The PROXY protocol (HAProxy's proxy-protocol.txt): which header the
 * stream listeners of a server expect before anything else on each
 * connection. socketserver(7), "PROXY protocol", tells the whole rule. */
typedef enum ss_proxy_protocol {
    SS_PROXY_NONE = 0, /* no header (the default) */
    SS_PROXY_V1,       /* the v1 text line ("PROXY TCP4 ...\r\n") */
    SS_PROXY_V2,       /* the v2 binary header */
    SS_PROXY_ANY       /* either, told apart by its first bytes */
} ss_proxy_protocol_t;

/* Checks a list of trusted PROXY sources as ss_config_t.proxy_from takes
 * it: networks in CIDR notation or single addresses, IPv4 or IPv6,
 * separated by commas ("10.0.0.0/8,192.0.2.7,::1"), at most 64. Returns
 * their count, or -EINVAL with ss_errmsg() naming the bad entry. */
SS_API int ss_proxy_from_check(const char *list);

/* The most user or group IDs ss_config_t.allow_uid or allow_gid holds. */
#define SS_PEER_IDS_MAX 16
/* The most networks ss_config_t.allow or deny holds. */
#define SS_ADMIT_CIDRS_MAX 64
/* The span of waiting time over which min_rate is measured. */
#define SS_MIN_RATE_WINDOW_MS 2000

typedef struct ss_config {
    ss_mode_t mode;              /* SS_MODE_SYNC by default */
    int workers;                 /* pool/prefork/event: 0 = a default from the CPUs
                                    the process may use (ss_config_init(3)): pool,
                                    prefork: 4 per CPU, at least 4; at most 1024,
                                    more is -EINVAL; event: one loop per CPU, at
                                    most 256 loops */
    int max_connections;         /* live requests at once; beyond it a client is
                                    closed at once. Default 1024; 0 = no limit.
                                    Pool: below workers, the pool has this many
                                    threads and refuses beyond; above, a full pool
                                    holds clients in the backlog first. Prefork:
                                    counted over all workers */
    int64_t idle_timeout_ms;     /* a read or write that waits longer fails with
                                    -ETIMEDOUT. Default 0 = none */
    int64_t request_timeout_ms;  /* a whole request's deadline (from before a
                                    connection layer's start, such as a TLS
                                    handshake, to the end of handle). Default
                                    0 = none */
    int64_t drain_timeout_ms;    /* ss_server_close waits this long for running
                                    handlers, then cancels them. Default 10000 */
    size_t max_line;             /* ss_readline's longest line. Default 8192 */
    size_t max_datagram;         /* largest datagram received or sent. Default 65536 */
    size_t buffer_size;          /* a stream's read and write buffers. Default 4096 */
    size_t stack_size;           /* thread and coroutine stacks; 0 = the mode's default */
    int backlog;                 /* listen(2) backlog. Default SOMAXCONN */
    int reuse_port;              /* SO_REUSEPORT on listeners. Default 0 */
    int tcp_nodelay;             /* TCP_NODELAY on accepted connections. Default 1 */
    unsigned unix_mode;          /* permission bits (at most 0777) of the files of
                                    unix and unixgram listeners, such as 0660;
                                    0 = leave what the umask gave. See
                                    ss_server_listen */
    int64_t service_interval_ms; /* also call service_actions at least this often;
                                    0 = only after requests */

    /* "The CPUs the process may use", which size workers' default: its
     * affinity mask (sched_getaffinity(2)) lowered to its cgroup's CPU quota
     * rounded up (cgroups(7)); the environment variable SS_CPUS, a count,
     * overrides them. cpu_affinity pins event loops and prefork workers to
     * CPUs. Default SS_CPU_AFFINITY_NONE */
    ss_cpu_affinity_t cpu_affinity;
    ss_poller_t poller; /* event mode: epoll or io_uring. Default auto */
    /* SS_CPU_AFFINITY_LIST: CPU n is bit n % 64 of cpu_list[n / 64]; at least
     * one, each one the process may use, else -EINVAL. Default: none */
    uint64_t cpu_list[SS_CPU_LIST_WORDS];

    ss_verify_fn *verify_request;
    ss_error_fn *handle_error;
    ss_timeout_fn *handle_timeout;
    ss_actions_fn *service_actions;
    ss_log_fn *log;           /* NULL: the default stderr logger */
    void *hook_ctx;           /* passed to every hook and to log */
    ss_log_level_t log_level; /* highest level logged. Default SS_LOG_INFO */
    ss_tls_config_t tls;      /* tls:// listeners: cert_file (required), key_file,
                                 ca_file (mutual TLS), alpn. Loaded once by
                                 ss_server_create, before any listener, so that
                                 fork and prefork children share the keys read
                                 once; server_name and insecure are ignored */
    /* PROXY protocol on every stream listener (tcp, tls, unix): each
     * connection must start with a header of that version, read within
     * 5 s, from a trusted source; its addresses are then the client's
     * (ss_conn_peer, ss_conn_local, verify_request, the log). A missing,
     * malformed, oversized or untrusted header closes the connection,
     * reported through handle_error before any hook of the handler. A
     * unix listener trusts every client (its file's mode admits them), and
     * the addresses its headers give are tcp:// ones.
     * Datagram listeners are not affected. Default SS_PROXY_NONE */
    ss_proxy_protocol_t proxy_protocol;
    const char *proxy_from; /* trusted sources (ss_proxy_from_check's syntax),
                               read by ss_server_create; NULL: 127.0.0.0/8
                               and ::1. A bad entry fails creation with
                               -EINVAL */

    /* Slow and hostile peers (socketserver(7)). A connection that sends a
     * byte at a time is never idle, so idle_timeout_ms alone cannot end it.
     *
     * line_timeout_ms: once the first byte of a line has arrived, ss_readline
     * must see the line's end within this time, else it fails with
     * -ETIMEDOUT and the session ends (handle returns the error). Default
     * 60000: nginx's client_header_timeout, and far beyond what a person
     * typing a line ever takes (a terminal in its usual canonical mode sends
     * a typed line whole when Enter is pressed; one in raw mode, a byte per
     * key), while 1,024 one-byte-a-second clients hold their slots a minute
     * at most. 0 = off. Computed into the deadline of the waits inside the
     * line: no system call is added. */
    int64_t line_timeout_ms;
    /* min_rate: after min_rate_grace_ms of a session, a peer that sent fewer
     * than min_rate bytes per second over a sliding window (the last
     * SS_MIN_RATE_WINDOW_MS of waiting) ends it with -ETIMEDOUT. Only time
     * spent waiting for the rest of a line (ss_readline) or of a record
     * (ss_read_full) counts: a client that pauses between lines or requests
     * is never measured while it pauses. For a peer that sends just enough
     * to dodge line_timeout_ms (Apache's mod_reqtimeout MinRate); a peer
     * that stops sending altogether is line_timeout_ms' and
     * idle_timeout_ms' (the rate is judged when bytes arrive). ss_read
     * alone is not measured: its wait may be a pause between requests.
     * Default 0 = off; min_rate_grace_ms 0 means 5000. */
    uint64_t min_rate;
    int64_t min_rate_grace_ms;
    /* Unix stream listeners only: with either list non-empty, a client is
     * admitted when the user ID of its credentials (SO_PEERCRED, unix(7):
     * taken at connect(2)) is in allow_uid or their group ID (the primary
     * one; supplementary groups are not known) is in allow_gid; any other
     * is closed at once, logged at debug with its uid. Other transports are
     * not checked (unixgram has no credentials per datagram). Default: no
     * lists, everyone is admitted. */
    int allow_uid_count; /* entries of allow_uid in use, 0 to SS_PEER_IDS_MAX */
    uid_t allow_uid[SS_PEER_IDS_MAX];
    int allow_gid_count;
    gid_t allow_gid[SS_PEER_IDS_MAX];

    /* The access log (ss_server_reopen_logs(3)): a path, opened by
     * ss_server_create with O_APPEND (created 0644 less the umask; a file
     * that cannot be opened fails creation with its errno), or "-" for
     * standard error. One JSON object per line for each session, refused
     * client and dropped datagram: time (RFC 3339, UTC, milliseconds), peer,
     * local, service, mode, duration_ms, bytes_in, bytes_out, result, and
     * for a refusal its reason (ss_refusal_name). Lines are buffered per
     * process and written whole within about 100 ms, in every mode.
     * service names the service in each line (NULL: null). Both strings
     * are read by ss_server_create. Default NULL: no access log */
    const char *access_log;
    const char *service;

    /* Admission by source (socketserver(7), "Admission"), judged at the
     * intake in every mode, on the client address a PROXY header gives
     * where proxy_protocol is on (else the socket's peer). A refused
     * client is closed at once, a refused datagram dropped; each refusal
     * is counted by reason (ss_refusal_t) and logged at debug, at most
     * one line per second per reason.
     *
     * allow, deny: networks in ss_proxy_from_check's syntax (at most
     * SS_ADMIT_CIDRS_MAX each), read by ss_server_create (a bad entry
     * fails it with -EINVAL). deny wins; a non-empty allow list refuses
     * every address outside it. Both judge IP clients (streams and
     * datagrams); unix peers are allow_uid's and allow_gid's. NULL: none */
    const char *allow;
    const char *deny;
    /* What one "source" is for every per-source limit below: an IPv4
     * client is keyed by its first source_prefix_v4 bits, an IPv6 one by
     * its first source_prefix_v6 (an attacker may own a whole /64). A unix
     * stream client is keyed by its user ID (SO_PEERCRED), a unixgram one
     * by the path it sent from. Defaults 32 and 64; 0 to 32, 0 to 128 */
    int source_prefix_v4;
    int source_prefix_v6;
    /* Stream connections at once from one source; 0 = no limit (default) */
    int max_per_source;
    /* New stream connections per second from one source, a token bucket
     * (GCRA) holding rate_burst; 0 = no limit (default). Every connection
     * that allow and deny let through takes a token. rate_burst 0 means
     * the rate rounded up, at least 1 */
    double rate;
    int rate_burst;
    /* Datagram replies: at most udp_budget bytes per second to one source
     * (a token bucket holding one second's worth), and with
     * udp_amplification N > 0 at most N times the bytes received from it
     * in the last second (QUIC's anti-amplification limit, RFC 9000
     * section 8.1, uses 3). A reply beyond either is dropped, not sent,
     * and counted as SS_REFUSED_UDP_BUDGET (the access log's result
     * "refused", reason "udp_budget"); the handler is not told.
     * Default udp_budget 1 MiB (1048576), 0 = no budget;
     * udp_amplification 0 = off */
    uint64_t udp_budget;
    unsigned udp_amplification;
    /* The per-source table's entries (a power of two is taken, at least
     * 64): the bound on its memory, 40 bytes an entry, in one shared
     * mapping that fork and prefork children use too. 0 = 65536 (2.5 MiB,
     * touched only as sources appear). A source that finds no free entry
     * (all those it may use hold live connections) is refused */
    int source_table_size;
} ss_config_t;

/* Fills cfg with the defaults above (no TLS). Call it first, then set what
 * differs. */
SS_API void ss_config_init(ss_config_t *cfg);

/* Creates a server (nothing is bound yet). cfg and h are copied. On success
 * *out holds the server, which the caller owns until ss_server_close().
 * Returns 0, SS_EMODE for a mode this build lacks, -EINVAL (see
 * ss_errmsg()) for a bad configuration, SS_EUSAGE for a NULL argument or a
 * handler without handle, or the error of a resource it could not have
 * (-ENOMEM, -EMFILE from eventfd(2), mmap(2)). With cfg.tls.cert_file set,
 * it loads the TLS files: a file that cannot be read fails with its errno
 * (-ENOENT, -EACCES), one that is not a certificate or key, or a key that
 * does not match the certificate, with SS_ETLS, ss_errmsg() naming the file
 * ("tls key /etc/k.pem: does not match the certificate"); a build without
 * TLS fails with SS_EMODE. */
SS_API int ss_server_create(const ss_config_t *cfg, const ss_handler_t *h, ss_server_t **out);

/* Binds one listener (ss_addr_parse syntax) and listens on it. May be called
 * for several addresses before ss_server_serve(). A unix socket path left by a
 * dead server is replaced; one that a live server answers on is not
 * (-EADDRINUSE). Returns the listener's index, or an error.
 *
 * Unix socket files: bind(2) creates the file with 0777 less the umask
 * (unix(7)); with cfg.unix_mode set, the file then gets exactly that mode
 * with chmod(2), before listen(2), so no stream client can connect while it
 * has the umask's. A symbolic link put at the path since bind(2) is refused
 * (-EOPNOTSUPP), never followed. A datagram can still arrive in the short
 * time between bind(2) and chmod(2): a program that must exclude that sets
 * a umask at least as strict around the call (socketserver serve does).
 * Abstract names (unix:@name) have no file, and no mode: unix_mode is
 * ignored for them. Linux checks write permission on the file to connect
 * or to send a datagram; other systems may ignore it.
 *
 * Host names: one listener, on the address ss_addr_parse() picks (the name's
 * first IPv4 address, else its first IPv6 one), not one per address as nginx
 * binds them. To listen on both 127.0.0.1 and ::1, call this once for each.
 *
 * TLS: a tls:// listener (or one adopted as SS_TLS) speaks TLS with the
 * server's cfg.tls; it fails with SS_EUSAGE when the server has no
 * certificate, SS_EMODE in a build without TLS. Each connection's handshake
 * runs where its request runs, before setup, under idle_timeout_ms and
 * request_timeout_ms, and never blocks other sessions; a failed one is
 * reported through handle_error and no hook of the handler runs. When a
 * session ends, the server sends close_notify (RFC 8446 section 6.1). */
SS_API int ss_server_listen(ss_server_t *s, const char *address);
SS_API int ss_server_listen_addr(ss_server_t *s, const ss_addr_t *addr);

/* Adopts a socket that is already bound (and, for streams, listening), as
 * inherited from a supervisor. The server owns fd from then on. */
SS_API int ss_server_listen_fd(ss_server_t *s, int fd, ss_transport_t transport);

/* Serves one connection accepted by someone else: a connected stream socket
 * (TCP or unix) as inetd passes it ("nowait") or systemd with Accept=yes.
 * It goes through what a listener's connection goes through: the admission
 * checks, then the PROXY header and TLS (tls nonzero: the server's cfg.tls)
 * where the configuration asks, then the handler, in the calling thread; the
 * call returns when the session has ended. Sync mode only (SS_EMODE in any
 * other: one connection is one session). The server owns fd from then on
 * and closes it; the caller closes its other descriptors of the same socket
 * first, or the peer never sees the end. Returns 0 (served, or refused by
 * an admission check, which is logged), -ENOTSOCK, -EINVAL for a socket that
 * is not a connected stream, or SS_EUSAGE as ss_server_listen_fd. */
SS_API int ss_server_serve_conn(ss_server_t *s, int fd, int tls);

/* The number of listeners, and the bound address of listener i: the real port
 * when port 0 was asked. Returns 0 or -EINVAL. */
SS_API int ss_server_listener_count(const ss_server_t *s);
SS_API int ss_server_address(const ss_server_t *s, int i, ss_addr_t *out);

/* The descriptor of listener i, still the server's (it closes it): for
 * handing the listener to another process, which gets a duplicate (dup(2),
 * or by fork and exec as sd_listen_fds(3) describes), as a restart without
 * loss does. Returns it, -EINVAL for no such listener, -EBADF once closed
 * (ss_server_shutdown closes stream listeners). */
SS_API int ss_server_listener_fd(const ss_server_t *s, int i);

/* serve_forever: serves until ss_server_shutdown(). Returns 0 after a
 * shutdown, or an error that stops the server (such as no listener). Call it
 * from one thread at a time. */
SS_API int ss_server_serve(ss_server_t *s);

/* handle_request: waits until the deadline (SS_NO_DEADLINE: without limit)
 * for one request and dispatches it in the server's mode, as Python's
 * handle_request does. Returns 0 as soon as a request was taken in, whether it
 * was dispatched or refused (verify_request, max_connections); -ETIMEDOUT
 * after calling handle_timeout when the deadline passed first; -ECANCELED
 * once ss_server_shutdown() was called (until ss_server_serve() runs and
 * returns again, which clears it); SS_EUSAGE without a listener; SS_EMODE in
 * prefork mode, where only the worker processes take requests. */
SS_API int ss_server_handle_request(ss_server_t *s, int64_t deadline);

/* shutdown: makes ss_server_serve() return promptly. Safe from any thread and
 * from a signal handler (it only stores a flag and writes to an eventfd).
 * Returns 0. Handlers that are running are not interrupted: see close. */
SS_API int ss_server_shutdown(ss_server_t *s);

/* server_close: closes the listeners at once (new clients are refused),
 * waits up to drain_timeout_ms for running handlers, then cancels the rest
 * (their blocked calls return -ECANCELED and they unwind) and waits for them
 * briefly; reaps every child, joins every thread, removes the unix socket files
 * this server created and frees everything. Call it from the thread that
 * serves, after ss_server_serve() has returned. NULL is a no-op. Should
 * handlers still run after the cancel (blocked outside the library's calls),
 * the server is logged and left allocated rather than freed under them. */
SS_API void ss_server_close(ss_server_t *s);

/* The first half of ss_server_close: closes the listeners and waits for
 * (then cancels) the running handlers exactly as it does, but frees
 * nothing, so that another thread may still read ss_server_stats and
 * ss_server_active while the drain runs (a status page saying "draining").
 * ss_server_close afterwards only frees. Call it from the thread that
 * serves, after ss_server_serve() has returned; once. Returns how many
 * handlers still run (0 when all ended). */
SS_API int ss_server_drain(ss_server_t *s);

/* Requests running now, in this process's view (fork: live children;
 * prefork: those of every worker, in the parent and in each worker). */
SS_API int ss_server_active(const ss_server_t *s);

/* Reopens the access log (ss_config_t.access_log) at its path, for log
 * rotation (logrotate's convention: the file was renamed, then the server
 * signalled): every process of the server (fork children, prefork workers)
 * opens the path anew before its next write, and looks for the request at
 * least once a second; no line is lost, each is in the old file or the new
 * one. Only an atomic store: safe from a signal handler and from any thread
 * or process of the server. Returns 0 (also without an access log), or
 * SS_EUSAGE for NULL. */
SS_API int ss_server_reopen_logs(ss_server_t *s);

/* Why a client was refused at the intake (closed at once; a datagram
 * dropped) or its connection ended before the handler ran. Each is counted
 * (ss__stats) and named in the log, the access log and /metrics. */
typedef enum {
    SS_REFUSED_MAX_CONNECTIONS, /* max_connections reached */
    SS_REFUSED_PER_SOURCE,      /* max_per_source reached for its source */
    SS_REFUSED_RATE,            /* its source's new-connection rate */
    SS_REFUSED_DENY,            /* deny list, or not on the allow list */
    SS_REFUSED_EMFILE,          /* out of descriptors: shed at accept */
    SS_REFUSED_PROXY,           /* PROXY header missing, bad or untrusted */
    SS_REFUSED_TLS,             /* TLS handshake failed */
    SS_REFUSED_VERIFY,          /* verify_request said no */
    SS_REFUSED_PEER_CRED,       /* allow_uid / allow_gid (unix peers) */
    SS_REFUSED_UDP_BUDGET,      /* a datagram reply over its source's budget */
    SS_REFUSED__COUNT
} ss_refusal_t;

/* The reason's label, as /metrics names it: "max_connections", "per_source",
 * "rate", "deny", "emfile", "proxy", "tls", "verify", "peer_cred",
 * "udp_budget"; "?" for a value out of range. */
SS_API const char *ss_refusal_name(ss_refusal_t why);

/* A snapshot of the server's counters (ss_server_stats): since
 * ss_server_create, summed over every thread, event loop and child process
 * (fork, prefork). Counters only grow; active is a gauge. */
#define SS_STATS_BUCKETS 15 /* session-duration buckets, the last one +Inf */
#define SS_STATS_RESULTS 16 /* slots of ss_stats_t.ended (ss_stats_result_name) */
typedef struct ss_stats {
    uint64_t accepted; /* stream connections accept(2) gave, refused ones included;
                          datagrams have none (each is a request) */
    uint64_t active;   /* requests running now (ss_server_active) */
    uint64_t refused[SS_REFUSED__COUNT]; /* clients refused, by ss_refusal_t */
    uint64_t requests;                   /* sessions a handler ran for: connections or datagrams */
    uint64_t bytes_in;                   /* payload bytes received (above TLS and PROXY) */
    uint64_t bytes_out;                  /* payload bytes sent */
    uint64_t handler_errors;             /* requests that ended in an error (timeouts included) */
    uint64_t timeouts;                   /* requests that ended in -ETIMEDOUT: idle, line,
                                            min_rate or request timeout */
    uint64_t duration_sum_ms;            /* the requests' durations, summed */
    /* Requests that lasted at most duration_le_ms[i] (cumulative, as
     * Prometheus's histogram buckets are): the last bucket, whose bound is
     * UINT64_MAX (+Inf), counts every request. */
    uint64_t duration_le_ms[SS_STATS_BUCKETS];
    uint64_t duration_bucket[SS_STATS_BUCKETS];
    /* Requests by how they ended, and datagrams dropped before a handler
     * (too large): ended[i] counts the result ss_stats_result_name(i) names
     * ("ok", "closed", "idle_timeout", "line_timeout", "min_rate",
     * "request_timeout", "error", "cancelled", "line_too_long", "oversize",
     * ...: the access log's "result"); a slot it names NULL stays 0.
     * Refused clients are in refused[], not here. */
    uint64_t ended[SS_STATS_RESULTS];
} ss_stats_t;

/* Fills *out with the server's counters now. The counters are kept without
 * a lock (each thread or process adds to a block of its own, in memory its
 * fork children share): the snapshot sums them, each exact, though the
 * fields are read one after another while requests run. Any thread, any
 * time between ss_server_create and ss_server_close. Returns 0, or
 * SS_EUSAGE for a NULL argument. */
SS_API int ss_server_stats(const ss_server_t *s, ss_stats_t *out);

/* The label of slot i of ss_stats_t.ended, as the access log's "result" and
 * /metrics's socketserver_sessions_ended_total{result=...} name it; NULL for
 * a slot that counts nothing (or i out of range). */
SS_API const char *ss_stats_result_name(int i);

/* The configuration the server runs with (defaults filled in). */
SS_API const ss_config_t *ss_server_config(const ss_server_t *s);

/* Logs through the server's log sink. */
SS_API void ss_server_log(ss_server_t *s, ss_log_level_t level, const char *fmt, ...)
    SS_PRINTF(3, 4);

/* ------------------------------------------------------------ connection */

/* All of a handler's I/O goes through these calls, never the raw descriptor:
 * that is what lets one handler run in every mode. Each call waits at most
 * until the connection's deadline (and the idle timeout), fails with
 * -ETIMEDOUT after it, and with -ECANCELED when the server cancels handlers.
 *
 * Streams: reads are buffered; writes are buffered too, and the write buffer
 * is flushed when it fills, by ss_flush(), before a read has to wait for the
 * peer, and when the handler returns.
 * Datagrams: reading yields the request packet as a stream of bytes (then 0
 * for end); writing builds the reply, sent as one datagram by ss_flush() or
 * when the handler returns; nothing is sent if nothing was written, and an
 * empty datagram if the handler wrote zero bytes (ss_write(c, "", 0)).
 *
 * Cancellation: once the server cancels its handlers (ss_server_close after
 * drain_timeout_ms), every call on c fails with -ECANCELED, including one that
 * would not have had to wait. */

/* Reads up to n bytes. Returns the count, 0 at end of stream, or an error. */
SS_API ssize_t ss_read(ss_conn_t *c, void *buf, size_t n);

/* Reads exactly n bytes. Returns n, 0 if the stream ended before any byte, or
 * SS_EEOF if it ended inside the n bytes, or an error. */
SS_API ssize_t ss_read_full(ss_conn_t *c, void *buf, size_t n);

/* Reads one line into buf, with its ending ("\n" or "\r\n"), NUL-terminated.
 * The last line of a stream may lack an ending. Returns the line's length
 * without the NUL, 0 at end of stream, or SS_ELINE when the line is longer
 * than the server's max_line or cap - 1 (the bytes of it read so far are
 * consumed), or an error. */
SS_API ssize_t ss_readline(ss_conn_t *c, char *buf, size_t cap);

/* Writes all n bytes (into the buffer, flushing as needed). Returns 0 or an
 * error; -EMSGSIZE when a datagram reply would exceed max_datagram. */
SS_API int ss_write(ss_conn_t *c, const void *buf, size_t n);

/* Writes a NUL-terminated string. */
SS_API int ss_puts(ss_conn_t *c, const char *s);

/* Formatted write (printf(3) syntax). Returns 0 or an error. */
SS_API int ss_printf(ss_conn_t *c, const char *fmt, ...) SS_PRINTF(2, 3);

/* Sends what is buffered (a datagram: the reply, now). Returns 0 or an error. */
SS_API int ss_flush(ss_conn_t *c);

/* Flushes, then shuts down the sending side (SHUT_WR): the peer reads end of
 * stream while this side can still read. Streams only. */
SS_API int ss_close_write(ss_conn_t *c);

/* Sets the absolute deadline (ss_now_ms() based) of every later call on c;
 * 0 removes it. The server sets request_timeout_ms' deadline before setup. */
SS_API void ss_set_deadline(ss_conn_t *c, int64_t deadline);
SS_API int64_t ss_deadline(const ss_conn_t *c);

/* The client and our end; behind a PROXY header (ss_config_t.proxy_protocol),
 * the header's source and destination addresses. */
SS_API const ss_addr_t *ss_conn_peer(const ss_conn_t *c);
SS_API const ss_addr_t *ss_conn_local(const ss_conn_t *c);
SS_API ss_transport_t ss_conn_transport(const ss_conn_t *c);
SS_API int ss_conn_is_datagram(const ss_conn_t *c);
/* The server running this request, or NULL on a dialed connection. */
SS_API ss_server_t *ss_conn_server(const ss_conn_t *c);
/* The message of the connection's last failure ("" if none). */
SS_API const char *ss_conn_errmsg(const ss_conn_t *c);
/* The peer address as text, for logs ("tcp://127.0.0.1:40312"). */
SS_API const char *ss_conn_peername(const ss_conn_t *c);

/* TLS sessions (tls:// listeners, ss_dial_tls). Each returns NULL on a
 * connection without TLS, and a string valid as long as c otherwise.
 * ss_conn_tls_version: the protocol negotiated, "TLSv1.2" or "TLSv1.3".
 * ss_conn_tls_alpn: the ALPN protocol agreed on ("h2"), "" if none.
 * ss_conn_tls_peer: the subject of the peer's certificate once verified, in
 * RFC 2253 form ("CN=alice,O=Example"): the client's under mutual TLS, the
 * server's for a dialed connection; "" when none was verified. */
SS_API const char *ss_conn_tls_version(const ss_conn_t *c);
SS_API const char *ss_conn_tls_alpn(const ss_conn_t *c);
SS_API const char *ss_conn_tls_peer(const ss_conn_t *c);

/* PROXY protocol (ss_config_t.proxy_protocol): what a v2 header's
 * PP2_TYPE_SSL TLV says of the client's own TLS session with the proxy
 * (HAProxy's proxy-protocol.txt, section 2.2.5), when the proxy ended TLS.
 * ss_conn_proxy_tls_version: the version it names ("TLSv1.3"), "" if none.
 * ss_conn_proxy_tls_cn: the common name of the client's certificate if the
 * proxy verified it, else "". Both return NULL when the header said no TLS
 * (a v1 header, no such TLV) or c has no PROXY header; the strings are
 * valid as long as c. */
SS_API const char *ss_conn_proxy_tls_version(const ss_conn_t *c);
SS_API const char *ss_conn_proxy_tls_cn(const ss_conn_t *c);

/* Who is on the other end of a unix stream connection: the process ID,
 * user ID and group ID the peer had when it connected (SO_PEERCRED,
 * unix(7)), which the kernel vouches for. Any out pointer may be NULL.
 * Returns 0, -ENOTSUP on any other transport (TCP, TLS, datagrams), or the
 * error of getsockopt(2). */
SS_API int ss_conn_peer_cred(const ss_conn_t *c, pid_t *pid, uid_t *uid, gid_t *gid);

/* A pointer the handler may attach to its connection (setup to finish). */
SS_API void ss_conn_set_data(ss_conn_t *c, void *data);
SS_API void *ss_conn_data(const ss_conn_t *c);

/* ------------------------------------------------------------ client side */

/* Connects to address before the deadline (SS_NO_DEADLINE: none) and puts in
 * *out a connection with the same calls as a handler's. tcp/unix: a stream. udp/unixgram: a
 * connected datagram socket (unixgram binds an autobound abstract address so
 * the server can reply); each ss_flush() sends one datagram and each wait for
 * input receives one.
 * A host name's addresses are tried in ss_addr_resolve()'s order (RFC 8305
 * section 4), one after another: one that refuses, is unreachable or resets
 * gives way to the next at once. With a deadline, each attempt but the last
 * may take the time left divided by the attempts left, so that an address
 * that never answers cannot use up the whole deadline. Attempts are
 * sequential, not raced 250 ms apart as full Happy Eyeballs (RFC 8305
 * section 5) would race them. A cancel (shutdown) stops at once. A datagram
 * socket's connect(2) sends nothing and cannot tell whether a server
 * answers, so udp:// and unixgram: names are dialled at the one address
 * ss_addr_parse() gives, the one a server listening on the same name has.
 * At most the first 16 addresses of a name are tried. When every attempt
 * fails, the last attempt's error is returned.
 * tls:// addresses are dialled as ss_dial_tls() with the default options.
 * On success *out is owned by the caller until ss_conn_close(); on failure
 * it is NULL. */
SS_API int ss_dial(const char *address, int64_t deadline, ss_conn_t **out);

/* ss_dial for tls:// addresses, with TLS options (tls NULL: the defaults,
 * the same as ss_dial): connects, then completes the handshake before the
 * deadline, verifying the server's certificate against tls->ca_file or the
 * system's store and its name against tls->server_name or the address's
 * host, unless tls->insecure. A client certificate (tls->cert_file) is sent
 * when the server asks. Returns 0 with *out as ss_dial does, SS_EUSAGE for
 * an address that is not tls://, SS_EMODE in a build without TLS, an
 * errno value for a file that cannot be read, or SS_ETLS when the handshake
 * or the verification fails (ss_errmsg() says why: "certificate has
 * expired", "hostname mismatch", "unable to get local issuer certificate"). */
SS_API int ss_dial_tls(const char *address, const ss_tls_config_t *tls, int64_t deadline,
                       ss_conn_t **out);

/* A datagram request: sends req (n bytes) on a dialed datagram connection
 * and waits for the reply, sending it up to tries times in all (at least
 * once) before the deadline, which bounds the whole exchange: each send waits
 * for its reply an even share of the time left to the sends that remain, as
 * resolvers do (resolv.conf(5), timeout and attempts). The deadline is
 * required (SS_NO_DEADLINE fails with SS_EUSAGE): a datagram's reply may
 * never come, and this call never hangs. Returns the reply's length (copied
 * into reply), -ETIMEDOUT when no reply came, SS_ETRUNC if it was larger than
 * cap, or an error: -ECONNREFUSED at once when the system reports that
 * nothing listens there (an ICMP port unreachable, udp(7)). */
SS_API ssize_t ss_request(ss_conn_t *c, const void *req, size_t n, void *reply, size_t cap,
                          int64_t deadline, int tries);

/* Flushes (best effort), closes and frees a dialed connection. NULL is a
 * no-op. Not for connections handed to a handler: the server owns those. */
SS_API void ss_conn_close(ss_conn_t *c);

#ifdef __cplusplus
}
#endif

#endif /* SOCKETSERVER_H */
