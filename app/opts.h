/* opts.h - the command lines of `serve`, `send` and `bench`, and the strict
 * value parsers under them (durations, sizes, counts). Every function here is
 * a pure function of its arguments (getopt_long's globals are reset on each
 * call), prints nothing and never exits, so a fuzzer can drive it. */
#ifndef SS_APP_OPTS_H
#define SS_APP_OPTS_H

#include "socketserver.h"

#include <stddef.h>
#include <stdint.h>

/* What a command-line parser returns. */
enum {
    OPTS_OK = 0,      /* run the command */
    OPTS_HELP = 1,    /* --help was given */
    OPTS_VERSION = 2, /* --version was given */
    OPTS_USAGE = -1   /* bad command line: err holds one line naming the problem */
};

#define OPTS_MAX_ADDRS 64 /* listeners of one `serve` */

/* ------------------------------------------------------------ values */

/* Each returns 0, or -1 with a phrase in why saying what is wrong ("not a
 * whole number", "too large (at most 1024)"), for the caller to prefix with
 * the option's name. Strict: no sign, no spaces, no exponent, no hex. */

/* Seconds with an optional fraction and unit: "2", "1.5", ".25", "0.5s",
 * "500ms". Rounded up to whole milliseconds; at most max_ms. */
int opts_duration_ms(const char *text, int64_t max_ms, int64_t *out, char *why, size_t cap);

/* Bytes with an optional binary suffix: "8192", "64k", "64KiB", "1M", "1MiB",
 * "1G". Between min and max. */
int opts_size(const char *text, uint64_t min, uint64_t max, uint64_t *out, char *why, size_t cap);

/* A decimal whole number between min and max (both >= 0). */
int opts_count(const char *text, long min, long max, long *out, char *why, size_t cap);

/* File permission bits in octal, as chmod(1) takes them: "660", "0600";
 * octal digits only, at most four. Between 1 and 0777 (no set-id or sticky
 * bits). */
int opts_mode(const char *text, unsigned *out, char *why, size_t cap);

/* --cpu-affinity: "none" (cfg->cpu_affinity SS_CPU_AFFINITY_NONE), "auto"
 * (SS_CPU_AFFINITY_AUTO) or a list of CPUs and ranges, "0,2-3"
 * (SS_CPU_AFFINITY_LIST with cfg->cpu_list). Whether the process may use the
 * CPUs listed is the library's check, at ss_server_create. */
int opts_cpu_affinity(const char *text, ss_config_t *cfg, char *why, size_t cap);

/* --proxy-protocol (allow_any: "v1", "v2" or "any") and send's --proxy
 * ("v1" or "v2"): the ss_proxy_protocol_t value as an int (1, 2, 3). */
int opts_proxy_version(const char *text, int allow_any, int *out, char *why, size_t cap);

/* --min-rate: "BYTES/S[:GRACE]", a size (1 to 2^40, k, M, G) then an
 * optional duration above 0 (at most a day); *grace_ms 0 when absent (the
 * library's default). */
int opts_min_rate(const char *text, uint64_t *rate, int64_t *grace_ms, char *why, size_t cap);

/* --rate: "R[:BURST]": new connections per second (0 to 1000000, a
 * fraction in thousandths allowed: 0.5) and an optional bucket (1 to
 * 1000000; *burst 0 when absent: the library's default). */
int opts_rate(const char *text, double *rate, int *burst, char *why, size_t cap);

/* --source-prefix: "V4BITS,V6BITS", 0 to 32 and 0 to 128. */
int opts_prefixes(const char *text, int *v4, int *v6, char *why, size_t cap);

/* --allow-uid, --allow-gid: decimal IDs separated by commas, at most max,
 * each below 2^32 - 1 ((uid_t) -1 names nobody). Sets *count. */
int opts_id_list(const char *text, unsigned *ids, int max, int *count, char *why, size_t cap);

/* ------------------------------------------------------------ serve */

typedef struct serve_opts {
    const char *service;
    const char *addrs[OPTS_MAX_ADDRS]; /* point into argv; none: the defaults */
    int naddrs;
    ss_config_t cfg; /* ss_config_init's defaults, then the options
                        (--socket-mode: cfg.unix_mode) */
    /* --tls-cert, --tls-key, --tls-client-ca: cfg.tls, pointing into argv;
     * --proxy-protocol, --proxy-from: cfg.proxy_protocol, cfg.proxy_from */
    const char *user;  /* --user: point into argv; NULL: not given */
    const char *group; /* --group */
    const char *cpus;  /* --cpu-affinity as given, for messages; NULL: not given */
    const char *stats; /* --stats ADDRESS (tcp:// or unix:), in argv; NULL: none */
    int inetd;         /* --inetd: serve standard input (inetd.c) */
} serve_opts_t;

/* Parses `serve SERVICE [ADDRESS ...] [options]` (argv[0] is "serve"). GNU
 * getopt_long rules: options and operands in any order, "--" ends options.
 * The service name and the addresses are checked by the caller (they need
 * the service table and the resolver); the mode is checked here, both that
 * it exists and that this build has it. argv may be permuted. */
int opts_parse_serve(int argc, char **argv, serve_opts_t *o, char *err, size_t errcap);

/* ------------------------------------------------------------ send */

typedef struct send_opts {
    const char *address;
    char **messages; /* point into argv */
    int nmessages;   /* 0: lines from stdin */
    int64_t timeout_ms;
    int retries;
    int no_reply;        /* send only, never wait for a reply (discard) */
    int crlf;            /* end stream lines with "\r\n" instead of "\n" */
    int time;            /* replies are RFC 868 times: print them decoded */
    int raw;             /* print replies exactly, adding no newline */
    uint64_t max_bytes;  /* stop after this many reply bytes; 0: no limit */
    ss_tls_config_t tls; /* --tls-ca, --insecure, --tls-cert, --tls-key, --sni */
    int proxy;           /* --proxy: 1 (v1) or 2 (v2) header first; 0 none */
} send_opts_t;

#define SEND_DEFAULT_TIMEOUT_MS 2000
#define SEND_DEFAULT_RETRIES    2

/* Parses `send ADDRESS [MESSAGE ...] [options]` (argv[0] is "send"). The
 * address is checked by the caller. argv may be permuted. */
int opts_parse_send(int argc, char **argv, send_opts_t *o, char *err, size_t errcap);

/* ------------------------------------------------------------ bench */

/* The bench command line as given. The pattern and the address are checked
 * by the caller, together: which patterns fit depends on the transport. */
typedef struct bench_args {
    const char *address; /* points into argv */
    const char *pattern; /* --pattern, pointing into argv; NULL: by the address */
    long connections;    /* 1 to 1000000 */
    long threads;        /* 1 to 256 */
    long pipeline;       /* 1 to 1024 */
    uint64_t size;       /* bytes per request, 1 to 1 MiB */
    double rate;         /* requests/s, 0 to 1e9; 0: closed loop */
    int64_t duration_ms; /* each at most BENCH_MAX_MS */
    int64_t warmup_ms;
    int64_t timeout_ms;
    int64_t interval_ms; /* at least 10 ms */
    int json;
    int quiet;
    int progress;        /* --progress: the live line even when stderr is no terminal */
    int proxy;           /* --proxy: 1 (v1) or 2 (v2) header first; 0 none */
    ss_tls_config_t tls; /* --tls-ca, --insecure, --tls-cert, --tls-key, --sni (as send) */
} bench_args_t;

#define BENCH_MAX_MS (366LL * 86400 * 1000) /* the longest duration bench takes */

/* Parses `bench ADDRESS [options]` (argv[0] is "bench"). argv may be
 * permuted. */
int opts_parse_bench(int argc, char **argv, bench_args_t *o, char *err, size_t errcap);

#endif
