/* bench.h - internals of `socketserver bench`, the load generator.
 *
 * The generator runs its own epoll loops (one per --threads) rather than the
 * library's server modes, so that it measures those modes and not itself.
 * run.c checks the options and runs; report.c prints the results; worker.c
 * runs the patterns; hist.c keeps latencies; json.c writes the --json
 * document; net.c holds what the workers and the probe share; tls.c is
 * the TLS client of both.
 */
#ifndef SS_APP_BENCH_H
#define SS_APP_BENCH_H

#include <socketserver.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>

/* ------------------------------------------------------------ histogram */

/* Log-linear buckets (HdrHistogram's layout): values below 2^SUB_BITS are
 * exact, above that each power of two is split into 2^SUB_BITS linear
 * buckets, so a recorded value is off by at most 1/64 (1.6%). Values are
 * nanoseconds; anything beyond 2^MAX_EXP ns (18 minutes) is clamped. */
#define BENCH_HIST_SUB_BITS 6
#define BENCH_HIST_MAX_EXP  40
#define BENCH_HIST_BUCKETS                                                                         \
    ((1u << BENCH_HIST_SUB_BITS) * (BENCH_HIST_MAX_EXP - BENCH_HIST_SUB_BITS + 1))

typedef struct bench_hist {
    uint64_t count;
    uint64_t sum; /* for the mean */
    uint64_t min, max;
    uint64_t bucket[BENCH_HIST_BUCKETS];
} bench_hist_t;

void bench_hist_init(bench_hist_t *h);
void bench_hist_record(bench_hist_t *h, uint64_t ns);
void bench_hist_merge(bench_hist_t *dst, const bench_hist_t *src);
/* The value at quantile q (0..1): the midpoint of the bucket holding that
 * rank, clamped to [min, max] so that p100 is the exact maximum. 0 if empty. */
uint64_t bench_hist_quantile(const bench_hist_t *h, double q);
/* Bucket index of a value and the smallest value of a bucket (for tests). */
unsigned bench_hist_index(uint64_t v);
uint64_t bench_hist_lowest(unsigned index);

/* ----------------------------------------------------------------- JSON */

/* A streaming writer of pretty-printed JSON. Keys are NULL inside arrays. */
#define BENCH_JSON_DEPTH 16
typedef struct bench_json {
    FILE *f;
    int depth;
    int count[BENCH_JSON_DEPTH];   /* members written at each level */
    char closer[BENCH_JSON_DEPTH]; /* '}' or ']' for each open level */
} bench_json_t;

void bench_json_init(bench_json_t *j, FILE *f);
void bench_json_object(bench_json_t *j, const char *key); /* opens {  */
void bench_json_array(bench_json_t *j, const char *key);  /* opens [  */
void bench_json_end(bench_json_t *j);                     /* closes either */
void bench_json_str(bench_json_t *j, const char *key, const char *value);
void bench_json_int(bench_json_t *j, const char *key, int64_t value);
void bench_json_uint(bench_json_t *j, const char *key, uint64_t value);
void bench_json_num(bench_json_t *j, const char *key, double value); /* NaN, inf: null */
void bench_json_bool(bench_json_t *j, const char *key, int value);
void bench_json_finish(bench_json_t *j); /* closes what is open, newline */

/* -------------------------------------------------------------- options */

typedef enum bench_pattern { BENCH_ECHO, BENCH_CONNECT, BENCH_UDP, BENCH_IDLE } bench_pattern_t;

/* What the target does with a connection, as the probe found it; the
 * connect pattern measures accordingly (the others expect BENCH_REPLY_ECHO):
 * ECHO     it answers each request: send one, read its reply, close
 * NONE     it never answers (discard): the connection set up (and its TLS
 *          handshake done) is the measurement; then close
 * UNASKED  it speaks first, unasked (daytime, time): read what it sends,
 *          then close */
typedef enum bench_reply { BENCH_REPLY_ECHO, BENCH_REPLY_NONE, BENCH_REPLY_UNASKED } bench_reply_t;

typedef struct bench_opts {
    ss_addr_t addr;
    char target[SS_ADDRSTRLEN]; /* the address as given, for reports */
    bench_pattern_t pattern;
    int connections;
    int threads;
    int pipeline;
    size_t size;
    double rate;     /* requests/s over all threads; 0 = closed loop */
    double duration; /* seconds measured */
    double warmup;   /* seconds run before measuring */
    double timeout;  /* connect, reply and probe timeout in seconds */
    double interval; /* seconds between progress lines and JSON intervals */
    int json;
    int progress;        /* a live line on stderr (only when it is a terminal) */
    int proxy;           /* a PROXY protocol header of this version first (0: none) */
    bench_reply_t reply; /* the connect pattern's target, found by the probe */
    void *tls;           /* tls:// targets: the client's SSL_CTX (tls.c); else NULL */
    char tls_name[256];  /* the name the server is verified as (and SNI) */
    int tls_insecure;    /* --insecure: verify nothing */
} bench_opts_t;

const char *bench_pattern_name(bench_pattern_t p);
const char *bench_reply_name(bench_reply_t r);

/* --proxy: writes the PROXY protocol header of version o->proxy on the
 * connected socket fd, naming its own addresses (getsockname, getpeername).
 * A new socket's buffer always has room for its few bytes, so it is one
 * send(2) that never waits. Returns 0 (nothing to do without --proxy) or a
 * negative errno (-EAGAIN for a short write). */
int bench_send_proxy(int fd, const bench_opts_t *o);

/* ---------------------------------------------------------------- errors */

/* What can go wrong with one request or connection, each counted apart. */
enum bench_err {
    BERR_CONNECT,  /* connect failed (other than refused or timed out) */
    BERR_REFUSED,  /* connection refused (or ICMP port unreachable on UDP) */
    BERR_TIMEOUT,  /* no connection or no (whole) reply within --timeout */
    BERR_RESET,    /* connection reset or broken pipe */
    BERR_EOF,      /* the server closed before the whole reply came */
    BERR_MISMATCH, /* the reply differs from the request */
    BERR_LOST,     /* UDP: no reply datagram within --timeout */
    BERR_IO,       /* any other read, write or socket error */
    BERR_TLS,      /* a TLS handshake (verification) or record failed */
    BERR_KINDS
};
const char *bench_err_name(int kind);

/* ------------------------------------------------------------- a worker */

/* Counters a worker publishes as it goes, read by the main thread for the
 * progress line and JSON intervals. One writer each: relaxed stores only. */
typedef struct bench_live {
    _Atomic uint64_t requests;  /* measured (inside the window) */
    _Atomic uint64_t bytes;     /* measured reply bytes */
    _Atomic uint64_t errors;    /* any kind, whole run */
    _Atomic int64_t open;       /* connections established now */
    _Atomic int64_t idle_ready; /* idle pattern: connections that answered */
} bench_live_t;

/* A worker's final results, merged by the main thread after join. */
typedef struct bench_result {
    bench_hist_t hist;           /* measured latencies */
    uint64_t requests;           /* measured */
    uint64_t requests_all;       /* answered, warmup included: for server CPU/request */
    uint64_t bytes_sent;         /* measured requests' bytes */
    uint64_t bytes_received;     /* measured replies' bytes */
    uint64_t errors[BERR_KINDS]; /* whole run, warmup included */
    uint64_t connects;           /* connections established, whole run */
    uint64_t late;               /* UDP replies that came after their timeout */
    uint64_t handshakes;         /* TLS handshakes completed, whole run */
    uint64_t resumed;            /* of them, resuming an earlier session */
    char first_error[160];       /* the first error's text, for the report */
} bench_result_t;

/* Timing shared by all workers: absolute CLOCK_MONOTONIC nanoseconds. */
typedef struct bench_clock {
    int64_t start;         /* traffic starts */
    int64_t measure_start; /* start + warmup */
    int64_t measure_end;   /* measure_start + duration */
    _Atomic int stop;      /* set on SIGINT: workers wind down at once */
} bench_clock_t;

typedef struct bench_worker {
    const bench_opts_t *opts;
    bench_clock_t *clock;
    int index;
    int first_conn; /* global index of its first connection */
    int conns;      /* how many it runs */
    double rate;    /* its share of --rate */
    bench_live_t live;
    bench_result_t result;
    int fatal; /* a system error stopped it (negative errno) */
} bench_worker_t;

/* Runs one worker until clock->measure_end or clock->stop; the pthread body. */
void *bench_worker_run(void *arg);

/* -------------------------------------------------------------- the run */

/* One interval of the measured window, for the progress line and --json. */
typedef struct bench_interval {
    double start, end; /* seconds from the start of measuring */
    uint64_t requests, bytes, errors;
    int64_t open;
} bench_interval_t;

/* A run as the main thread sees it: the workers, the intervals so far and
 * the generator's own CPU use, which run.c fills and report.c prints. */
typedef struct bench_run {
    bench_opts_t *o;
    bench_clock_t clock;
    bench_worker_t *workers;
    bench_interval_t *iv;
    size_t niv, cap_iv;
    struct rusage ru_start, ru_end;
    double seconds; /* measured, shorter if interrupted */
    int idle_noted;
    int64_t last_tick;
    uint64_t last_requests, last_bytes, last_errors;
} bench_run_t;

/* The errors of every kind, added up. */
uint64_t bench_total_errors(const bench_result_t *t);

/* The summary on stdout. */
void bench_report_text(const bench_run_t *r, const bench_result_t *t);

/* The --json document on stdout; with error set (t NULL), the document of a
 * run that failed before any traffic, naming why. */
void bench_report_json(const bench_run_t *r, const bench_result_t *t, const char *error);

/* -------------------------------------------------------- shared helpers */

int64_t bench_now_ns(void);

/* The request bytes: request r of connection id is `size` bytes, the
 * pattern's alphabet rotated by (id + r) and a final '\n', so a line-based
 * service (echo, upper) answers it unchanged and a reply meant for another
 * request or connection never matches. bench_pattern_init() fills the
 * shared template once. */
void bench_pattern_init(size_t size);
unsigned bench_shift(uint32_t id, uint64_t r);
const char *bench_body(unsigned shift); /* size - 1 bytes */

/* Checks that the n bytes at buf are the reply stream of connection id from
 * stream offset off on. Returns 1 when they match. */
int bench_verify(uint32_t id, uint64_t off, const char *buf, size_t n, size_t size);

/* The probe: one connection (or datagram exchange; over TLS, with its
 * handshake) and one request with --timeout, so that a dead or silent
 * target fails fast and clearly. For the connect pattern it sets o->reply:
 * what the target does with a connection (a silent one is no failure then).
 * Returns 0, or fills msg and returns a negative errno (SS_ETLS: the TLS
 * handshake failed). */
int bench_probe(bench_opts_t *o, char *msg, size_t cap);

/* Opens a non-blocking socket of the target's family and type, connected
 * (or connecting: *in_progress set). Returns the fd or a negative errno. */
int bench_socket_connect(const ss_addr_t *a, int *in_progress);

/* ------------------------------------------------------------------ TLS */

/* tls.c: the generator's TLS client, non-blocking over a worker's socket.
 * Messages (msg, cap) name what failed for the report. */
int bench_tls_available(void); /* 0 in a build without OpenSSL */
/* The client context of the run from --tls-ca, --insecure, --tls-cert,
 * --tls-key, --sni: 0, or msg filled and an exit code (66 a file missing or
 * unreadable, 65 one unusable, 64 a build without TLS). */
int bench_tls_setup(bench_opts_t *o, const ss_tls_config_t *cfg, char *msg, size_t cap);
void bench_tls_cleanup(bench_opts_t *o);
/* A client session on the connected socket fd. slot: where the connection
 * keeps its last session, offered for resumption and replaced by each new
 * one; NULL: full handshakes only. Returns the SSL, or NULL (no memory). */
void *bench_tls_new(const bench_opts_t *o, int fd, void **slot);
/* One step of the handshake: 1 done, 0 waiting for the socket, or a
 * negative errno or SS_ETLS with msg filled. */
int bench_tls_handshake(void *ssl, char *msg, size_t cap);
/* As read(2) and write(2) on the session: bytes, 0 (read: the end), -EAGAIN,
 * a negative errno, or SS_ETLS with msg filled. */
ssize_t bench_tls_read(void *ssl, void *buf, size_t n, char *msg, size_t cap);
ssize_t bench_tls_write(void *ssl, const void *buf, size_t n, char *msg, size_t cap);
int bench_tls_resumed(void *ssl); /* the handshake resumed a session */
/* Frees the session (NULL: nothing to do): how it ends, below. */
enum { BENCH_TLS_ABORT, BENCH_TLS_NOTIFY, BENCH_TLS_QUIET };
void bench_tls_close(void *ssl, int how);
void bench_tls_session_free(void *sess);

#endif
