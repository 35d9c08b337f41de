/* stats_http.h - `serve --stats ADDRESS`: the server's counters over HTTP/1.1
 * on a listener of its own (GET /metrics, /healthz, /), served by one thread
 * of the serving process that never blocks and holds at most
 * STATS_HTTP_CONNS clients; and the snapshot written to the log on SIGUSR1.
 * stats_page.c formats what it serves. */
#ifndef SS_APP_STATS_HTTP_H
#define SS_APP_STATS_HTTP_H

#include "socketserver.h"

#include <stddef.h>
#include <stdint.h>

#define STATS_HTTP_CONNS     16          /* clients at once; more wait in the backlog */
#define STATS_HTTP_HEAD_MAX  8192        /* request head; beyond: 431 */
#define STATS_HTTP_LINE_MAX  4096        /* one header line; beyond: 431 (request line: 414) */
#define STATS_HTTP_READ_MS   3000        /* the whole head must come within; else 408 */
#define STATS_HTTP_WRITE_MS  10000       /* the whole answer must go within; else closed */
#define STATS_HTTP_LINGER_MS 1000        /* reading what a refused client still sends */
#define STATS_HTTP_OUT_MAX   (64 * 1024) /* an answer, at most */

/* What the page and the metrics say besides the counters. */
typedef struct stats_info {
    const char *service;
    const char *mode;
    char listeners[1024]; /* the service's listeners, one per line */
    double started;       /* process start, seconds since the epoch */
    int pid;
    int draining;
} stats_info_t;

/* A growing text in a fixed buffer: what does not fit sets overflow. */
typedef struct stats_buf {
    char *p;
    size_t cap, len;
    int overflow;
} stats_buf_t;

void stats_buf_printf(stats_buf_t *b, const char *fmt, ...) SS_PRINTF(2, 3);

/* stats_page.c. The Prometheus text exposition format 0.0.4 of st, every
 * sample labelled with service and mode. */
void stats_metrics(stats_buf_t *b, const ss_stats_t *st, const stats_info_t *info);
/* The HTML status page: the counters, the listeners, a live chart. */
void stats_html(stats_buf_t *b, const ss_stats_t *st, const stats_info_t *info, double now);
/* One log line: "stats: accepted N, active N, ...". */
void stats_line(char *buf, size_t cap, const ss_stats_t *st);

/* stats_req.c. What a complete request head asks. */
typedef enum {
    STATS_ROUTE_NONE,    /* 404 */
    STATS_ROUTE_PAGE,    /* GET / */
    STATS_ROUTE_METRICS, /* GET /metrics */
    STATS_ROUTE_HEALTH   /* GET /healthz */
} stats_route_t;
typedef struct stats_req {
    int status; /* 0: serve route; else the error to answer (400, 405, 414, 431) */
    int head;   /* HEAD: the answer without its body */
    stats_route_t route;
} stats_req_t;
/* Judges the head received so far, buf[0..len) (len at most
 * STATS_HTTP_HEAD_MAX): 0 while it is incomplete and within bounds, else 1
 * with *out filled. Lines end in CRLF or a bare LF; empty lines before the
 * request line are ignored (RFC 9112 section 2.2). A NUL in it is a 400, a
 * request line over STATS_HTTP_LINE_MAX a 414, a header line over it or a
 * head of STATS_HTTP_HEAD_MAX bytes without its end a 431, a method other
 * than GET and HEAD a 405. Pure. */
int stats_http_parse(const char *buf, size_t len, stats_req_t *out);

typedef struct stats_http stats_http_t;

/* Binds address (tcp://HOST:PORT or unix:PATH; NULL: no listener, only the
 * SIGUSR1 log) before privileges are dropped. Returns 0, or an exit status
 * with the message printed. *out is the service's to stats_http_stop. */
int stats_http_open(const char *address, stats_http_t **out);
/* The same with a listening socket already bound, fd (owned from then on):
 * a restarted generation's, from its master (restart.c). Its socket file,
 * if any, is the master's: never removed here. */
int stats_http_adopt(int fd, stats_http_t **out);
/* The listener's descriptor, still h's, for a restart to hand on; -1. */
int stats_http_fd(const stats_http_t *h);
/* From now on, stats_http_stop leaves the socket file (a newer generation
 * serves on it). */
void stats_http_forget_file(stats_http_t *h);
/* The bound address (for the "stats ADDRESS" line), "" without one. */
const char *stats_http_address(const stats_http_t *h);
/* The unix socket file of the listener, or NULL. */
const char *stats_http_socket_file(const stats_http_t *h);
/* Starts the thread serving s (service and mode for the labels). The
 * listener lines are read from s now. Returns 0 or -errno. */
int stats_http_start(stats_http_t *h, ss_server_t *s, const char *service);
/* Asks the thread to log the snapshot (async-signal-safe: an eventfd). */
void stats_http_log_request(stats_http_t *h);
/* From now on /healthz answers 503 (async-signal-safe; NULL: no-op). */
void stats_http_draining(stats_http_t *h);
/* Stops and joins the thread, closes the listener and its clients,
 * removes the socket file, frees h. NULL is a no-op. */
void stats_http_stop(stats_http_t *h);

#endif
