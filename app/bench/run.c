/* run.c - `socketserver bench`: its help, its options checked against the
 * address, and the run (probe, workers, intervals, the live line on stderr
 * when that is a terminal); report.c prints what the run measured. */
#include "bench.h"
#include "cli.h"
#include "opts.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "Usage: socketserver bench ADDRESS [OPTIONS]\n"
    "\n"
    "Generates load on a server and measures it: requests/s, bytes/s and the\n"
    "latency percentiles. Every reply is checked against its request.\n"
    "\n"
    "Patterns (--pattern):\n"
    "  echo      N persistent connections, each sending a SIZE-byte message and\n"
    "            reading the whole reply, --pipeline requests in flight (default\n"
    "            for tcp://, tls:// and unix: addresses); over TLS a connection\n"
    "            opened again resumes its last session\n"
    "  connect   the connection rate: connect, send one line, read the reply, close;\n"
    "            over TLS each is a full handshake (no session resumed). A server\n"
    "            that never answers (discard) is measured by the connection set up,\n"
    "            one that speaks unasked (daytime, time) by reading what it says;\n"
    "            the probe tells which (a silent one costs it --timeout)\n"
    "  udp       request and reply datagrams; a reply missing after --timeout is\n"
    "            counted lost (default for udp:// and unixgram: addresses)\n"
    "  idle      open N connections, check each with one request, then hold them\n"
    "\n"
    "Options:\n"
    "  -p, --pattern P        echo, connect, udp or idle\n"
    "  -c, --connections N    connections (udp: sockets) at once (default 16)\n"
    "  -t, --threads N        generator threads, each an epoll loop (default 1)\n"
    "  -d, --duration S       seconds measured (default 10)\n"
    "  -w, --warmup S         seconds run first and not measured (default 0)\n"
    "  -s, --size B           bytes per request, the last one a newline (default 64;\n"
    "                         k and M suffixes, 1024-based)\n"
    "  -P, --pipeline N       echo: requests in flight per connection (default 1)\n"
    "  -r, --rate R           open loop: R requests/s in all, on a fixed schedule;\n"
    "                         latency counts from when each was due (default:\n"
    "                         closed loop, each reply triggers the next request)\n"
    "  -T, --timeout S        connect and reply timeout (default 2)\n"
    "  -i, --interval S       seconds between intervals and progress lines (default 1)\n"
    "  -j, --json             print one JSON document (start, intervals, end)\n"
    "      --proxy v1|v2      tcp: a PROXY protocol header first on each connection,\n"
    "                         naming its own addresses (serve --proxy-protocol)\n"
    "      --tls-ca FILE      tls: verify the server with these CAs (PEM), not the\n"
    "                         system's\n"
    "      --insecure         tls: do not verify the server (testing only)\n"
    "      --tls-cert FILE    tls: present this client certificate (mutual TLS)\n"
    "      --tls-key FILE     its private key (PEM; default: in --tls-cert)\n"
    "      --sni NAME         tls: send NAME as SNI and verify the server as NAME\n"
    "  -q, --quiet            no progress line on stderr\n"
    "      --progress         the progress line even when stderr is not a terminal\n"
    "  -h, --help             show this help\n"
    "  -V, --version          show the version\n"
    "\n"
    "Addresses: tcp://HOST:PORT, tls://HOST:PORT, udp://HOST:PORT, unix:PATH,\n"
    "unixgram:PATH\n"
    "Durations are seconds (1.5, 0.25) or milliseconds (500ms). The summary goes\n"
    "to stdout; the progress line to stderr, only when that is a terminal.\n"
    "\n"
    "Exit status: 0 when every request was answered correctly, 1 when some\n"
    "failed (the errors are counted by kind), 64 for a usage error, 68 when the\n"
    "host does not resolve, 69 when the target does not answer, 71 for a\n"
    "system error; tls: 65 a TLS file that is not a certificate or key, 66 one\n"
    "missing or unreadable, 76 the probe's TLS handshake failed.\n";

static void print_help(FILE *f)
{
    fputs(usage_text, f);
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ------------------------------------------------------------- options */

static int parse_pattern(const char *s, bench_pattern_t *out)
{
    for (int p = BENCH_ECHO; p <= BENCH_IDLE; p++)
        if (strcmp(s, bench_pattern_name((bench_pattern_t)p)) == 0) {
            *out = (bench_pattern_t)p;
            return 0;
        }
    return -1;
}

static int parse_address(bench_opts_t *o, const char *text)
{
    snprintf(o->target, sizeof o->target, "%s", text);
    int r = ss_addr_parse(text, &o->addr);
    if (r == 0) return 0;
    cli_error("bench", "%s", ss_errmsg());
    return r == SS_ERESOLVE ? EXIT_NOHOST : EXIT_USAGE;
}

/* The options against each other and the address's transport. Returns 0,
 * or the exit code of a usage error. */
static int check_options(bench_opts_t *o, const bench_args_t *a)
{
    int dgram = o->addr.transport == SS_UDP || o->addr.transport == SS_UNIXGRAM;
    o->pattern = dgram ? BENCH_UDP : BENCH_ECHO;
    if (a->pattern && parse_pattern(a->pattern, &o->pattern) < 0)
        return cli_usage("bench", "--pattern: expected echo, connect, udp or idle, got '%s'",
                         a->pattern);
    if (dgram != (o->pattern == BENCH_UDP))
        return cli_usage("bench", "--pattern %s needs a %s address", bench_pattern_name(o->pattern),
                         dgram ? "tcp://, tls:// or unix:" : "udp:// or unixgram:");
    if (o->addr.transport == SS_TLS && !bench_tls_available())
        return cli_usage("bench", "%s: this socketserver was built without TLS", o->target);
    if (a->pipeline > 1 && o->pattern != BENCH_ECHO)
        return cli_usage("bench", "--pipeline applies to --pattern echo only, not %s",
                         bench_pattern_name(o->pattern));
    if (dgram && a->size > 65507)
        return cli_usage("bench", "--size: a datagram holds at most 65507 bytes");
    if (a->rate > 0 && o->pattern == BENCH_IDLE)
        return cli_usage("bench", "--rate does not apply to --pattern idle");
    if (a->proxy && o->addr.transport != SS_TCP)
        return cli_usage("bench", "--proxy needs a tcp:// address");
    return 0;
}

/* The run's settings from the command line: the address resolved, the
 * options checked against it, the durations in seconds. Returns 0 or an exit
 * code. */
static int settle(const bench_args_t *a, bench_opts_t *o)
{
    *o = (bench_opts_t){.rate = a->rate,
                        .duration = (double)a->duration_ms / 1000.0,
                        .warmup = (double)a->warmup_ms / 1000.0,
                        .timeout = (double)a->timeout_ms / 1000.0,
                        .interval = (double)a->interval_ms / 1000.0,
                        .json = a->json,
                        .proxy = a->proxy};
    int rc = parse_address(o, a->address);
    if (rc == 0) rc = check_options(o, a);
    if (rc) return rc;
    o->connections = (int)a->connections;
    o->threads = (int)(a->threads < a->connections ? a->threads : a->connections);
    o->pipeline = (int)a->pipeline;
    o->size = (size_t)a->size;
    o->progress = a->progress || (!a->quiet && !o->json && isatty(STDERR_FILENO));
    if (o->addr.transport == SS_TLS) {
        char msg[512];
        rc = bench_tls_setup(o, &a->tls, msg, sizeof msg);
        if (rc) cli_error("bench", "%s", msg);
    }
    return rc;
}

/* ---------------------------------------------------------------- setup */

/* Raises the descriptor limit to its hard maximum: 10000 connections need
 * 10000 descriptors, and the usual soft limit is 1024. */
static int raise_nofile(const bench_opts_t *o)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)o->connections + (rlim_t)o->threads * 2 + 32;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur >= need) return 0;
    fprintf(stderr,
            "socketserver bench: %d connections need %llu descriptors; the limit is %llu "
            "(ulimit -n)\n",
            o->connections, (unsigned long long)need, (unsigned long long)rl.rlim_cur);
    return EXIT_OSERR;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN; /* a peer's reset must not kill the generator */
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal;
    sa.sa_flags = (int)SA_RESETHAND; /* a second ^C ends it at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---------------------------------------------------------------- the run */

static void sum_live(const bench_run_t *r, uint64_t *req, uint64_t *bytes, uint64_t *errs,
                     int64_t *open, int64_t *ready)
{
    *req = *bytes = *errs = 0;
    *open = *ready = 0;
    for (int i = 0; i < r->o->threads; i++) {
        const bench_live_t *l = &r->workers[i].live;
        *req += atomic_load_explicit(&l->requests, memory_order_relaxed);
        *bytes += atomic_load_explicit(&l->bytes, memory_order_relaxed);
        *errs += atomic_load_explicit(&l->errors, memory_order_relaxed);
        *open += atomic_load_explicit(&l->open, memory_order_relaxed);
        *ready += atomic_load_explicit(&l->idle_ready, memory_order_relaxed);
    }
}

static void add_interval(bench_run_t *r, const bench_interval_t *iv)
{
    if (r->niv == r->cap_iv) {
        size_t cap = r->cap_iv ? r->cap_iv * 2 : 64;
        bench_interval_t *p = realloc(r->iv, cap * sizeof *p);
        if (!p) return; /* intervals are a nicety; the totals stay right */
        r->iv = p, r->cap_iv = cap;
    }
    r->iv[r->niv++] = *iv;
}

static void progress_line(const bench_run_t *r, const bench_interval_t *iv, double secs)
{
    if (!r->o->progress) return;
    double rps = secs > 0 ? (double)iv->requests / secs : 0;
    fprintf(stderr, "\r\033[K%7.1fs %12.0f req/s %10.2f MB/s  %lld open  %llu errors", iv->end, rps,
            secs > 0 ? (double)iv->bytes / secs / 1e6 : 0, (long long)iv->open,
            (unsigned long long)r->last_errors);
}

/* Closes an interval of measuring at `now`. */
static void tick(bench_run_t *r, int64_t now)
{
    uint64_t req, bytes, errs;
    int64_t open, ready;
    sum_live(r, &req, &bytes, &errs, &open, &ready);
    bench_interval_t iv = {.start = (double)(r->last_tick - r->clock.measure_start) / 1e9,
                           .end = (double)(now - r->clock.measure_start) / 1e9,
                           .requests = req - r->last_requests,
                           .bytes = bytes - r->last_bytes,
                           .errors = errs - r->last_errors,
                           .open = open};
    r->last_tick = now;
    r->last_requests = req, r->last_bytes = bytes, r->last_errors = errs;
    if (iv.end - iv.start < 1e-6) return;
    add_interval(r, &iv);
    progress_line(r, &iv, iv.end - iv.start);
}

/* The idle pattern says on stderr when all its connections are up, so that a
 * script can measure the server's memory then (bench/run.sh does). */
static void note_idle(bench_run_t *r)
{
    uint64_t req, bytes, errs;
    int64_t open, ready;
    if (r->o->pattern != BENCH_IDLE || r->idle_noted) return;
    sum_live(r, &req, &bytes, &errs, &open, &ready);
    if (ready < r->o->connections) return;
    r->idle_noted = 1;
    if (r->o->progress) fputs("\r\033[K", stderr);
    fprintf(stderr, "socketserver bench: all %d connections are open and idle\n",
            r->o->connections);
}

static void sleep_until(int64_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / 1000000000), .tv_nsec = (long)(t % 1000000000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL); /* EINTR: checked by caller */
}

/* The main thread's part: wakes every 100 ms (or at an interval's end) for
 * the idle note, the intervals and a ^C, until the measured window ends. */
static void monitor(bench_run_t *r)
{
    const int64_t step = 100000000;
    int64_t iv_ns = (int64_t)(r->o->interval * 1e9);
    int64_t next_iv = r->clock.measure_start + iv_ns;
    int started = 0;
    for (;;) {
        int64_t now = bench_now_ns();
        if (interrupted) atomic_store(&r->clock.stop, 1);
        if (!started && (now >= r->clock.measure_start || interrupted)) {
            started = 1;
            r->last_tick = r->clock.measure_start;
            getrusage(RUSAGE_SELF, &r->ru_start);
        }
        note_idle(r);
        if (now >= r->clock.measure_end || interrupted) break;
        if (started && now >= next_iv) {
            tick(r, next_iv);
            next_iv += iv_ns;
        }
        int64_t t = now + step;
        if (started && next_iv < t) t = next_iv;
        if (!started && r->clock.measure_start < t) t = r->clock.measure_start;
        if (r->clock.measure_end < t) t = r->clock.measure_end;
        sleep_until(t);
    }
    int64_t end = interrupted ? bench_now_ns() : r->clock.measure_end;
    if (end > r->clock.measure_end) end = r->clock.measure_end;
    if (started && end > r->last_tick) tick(r, end);
    getrusage(RUSAGE_SELF, &r->ru_end);
    r->seconds = end > r->clock.measure_start ? (double)(end - r->clock.measure_start) / 1e9 : 0;
    if (r->o->progress) fputs("\r\033[K", stderr);
}

static int start_workers(bench_run_t *r, pthread_t *tids)
{
    const bench_opts_t *o = r->o;
    int64_t start = bench_now_ns();
    r->clock.start = start;
    r->clock.measure_start = start + (int64_t)(o->warmup * 1e9);
    r->clock.measure_end = r->clock.measure_start + (int64_t)(o->duration * 1e9);
    for (int i = 0; i < o->threads; i++) {
        bench_worker_t *w = &r->workers[i];
        w->opts = o, w->clock = &r->clock, w->index = i;
        w->first_conn = (int)((long long)o->connections * i / o->threads);
        w->conns = (int)((long long)o->connections * (i + 1) / o->threads) - w->first_conn;
        w->rate = o->rate * w->conns / o->connections;
        bench_hist_init(&w->result.hist);
        int err = pthread_create(&tids[i], NULL, bench_worker_run, w);
        if (err) {
            atomic_store(&r->clock.stop, 1);
            for (int j = 0; j < i; j++) pthread_join(tids[j], NULL);
            fprintf(stderr, "socketserver bench: pthread_create: %s\n", ss_strerror(-err));
            return EXIT_OSERR;
        }
    }
    return 0;
}

/* Sums the workers' results into total; returns a worker's fatal error. */
static int merge(bench_run_t *r, bench_result_t *total)
{
    int fatal = 0;
    memset(total, 0, sizeof *total);
    bench_hist_init(&total->hist);
    for (int i = 0; i < r->o->threads; i++) {
        const bench_result_t *w = &r->workers[i].result;
        bench_hist_merge(&total->hist, &w->hist);
        total->requests += w->requests;
        total->requests_all += w->requests_all;
        total->bytes_sent += w->bytes_sent;
        total->bytes_received += w->bytes_received;
        total->connects += w->connects;
        total->handshakes += w->handshakes;
        total->resumed += w->resumed;
        total->late += w->late;
        for (int k = 0; k < BERR_KINDS; k++) total->errors[k] += w->errors[k];
        if (!total->first_error[0] && w->first_error[0])
            memcpy(total->first_error, w->first_error, sizeof total->first_error);
        if (r->workers[i].fatal && !fatal) fatal = r->workers[i].fatal;
    }
    return fatal;
}

/* A failure before any traffic: one line on stderr, and with --json the
 * document too (iperf3 does the same), so a script always has one. */
static int fail_early(const bench_run_t *r, int code, const char *msg)
{
    cli_error("bench", "%s", msg);
    if (r->o->json) bench_report_json(r, NULL, msg);
    return code;
}

static int run(bench_opts_t *o)
{
    bench_run_t r = {.o = o};
    char msg[512];
    int code = raise_nofile(o);
    if (code) return code;
    bench_pattern_init(o->size);
    int err = bench_probe(o, msg, sizeof msg);
    if (err < 0) return fail_early(&r, err == SS_ETLS ? EXIT_PROTOCOL : EXIT_UNAVAILABLE, msg);
    if (o->threads < 1) return fail_early(&r, EXIT_USAGE, "no generator thread");
    r.workers = calloc((size_t)o->threads, sizeof *r.workers);
    pthread_t *tids = calloc((size_t)o->threads, sizeof *tids);
    if (!r.workers || !tids) {
        free(r.workers);
        free(tids);
        r.workers = NULL;
        return fail_early(&r, EXIT_OSERR, "out of memory");
    }
    code = start_workers(&r, tids);
    if (code == 0) {
        monitor(&r);
        for (int i = 0; i < o->threads; i++) pthread_join(tids[i], NULL);
        bench_result_t total;
        int fatal = merge(&r, &total);
        if (fatal) {
            snprintf(msg, sizeof msg, "a worker failed: %s", ss_strerror(fatal));
            code = fail_early(&r, EXIT_OSERR, msg);
        } else {
            if (o->json)
                bench_report_json(&r, &total, NULL);
            else
                bench_report_text(&r, &total);
            code = bench_total_errors(&total) ? 1 : 0;
        }
    }
    free(tids);
    free(r.workers);
    free(r.iv);
    return code;
}

int cmd_bench(int argc, char **argv)
{
    bench_args_t a;
    bench_opts_t o;
    char err[256];
    int rc =
        cli_options("bench", opts_parse_bench(argc, argv, &a, err, sizeof err), err, print_help);
    if (rc != CLI_RUN) return rc;
    rc = settle(&a, &o);
    if (rc) return rc;
    install_signals();
    rc = run(&o);
    bench_tls_cleanup(&o);
    return rc;
}
