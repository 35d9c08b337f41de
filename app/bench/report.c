/* report.c - what `socketserver bench` measured: a summary on stdout, or
 * with --json one document in iperf3's shape (start, intervals, end). */
#include "bench.h"

#include <stdio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* The names the report and the options use (run.c parses --pattern). */
const char *bench_pattern_name(bench_pattern_t p)
{
    static const char *const names[] = {"echo", "connect", "udp", "idle"};
    return names[p];
}

const char *bench_reply_name(bench_reply_t r)
{
    static const char *const names[] = {"echo", "none", "unasked"};
    return names[r];
}

const char *bench_err_name(int kind)
{
    static const char *const names[BERR_KINDS] = {"connect",  "refused", "timeout", "reset", "eof",
                                                  "mismatch", "lost",    "io",      "tls"};
    return names[kind];
}

uint64_t bench_total_errors(const bench_result_t *t)
{
    uint64_t n = 0;
    for (int k = 0; k < BERR_KINDS; k++) n += t->errors[k];
    return n;
}

static double tv_seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* The generator's own CPU over the measured window, in seconds. */
static void cpu_used(const bench_run_t *r, double *user, double *sys)
{
    *user = tv_seconds(r->ru_end.ru_utime) - tv_seconds(r->ru_start.ru_utime);
    *sys = tv_seconds(r->ru_end.ru_stime) - tv_seconds(r->ru_start.ru_stime);
}

static double per_second(uint64_t n, double secs)
{
    return secs > 0 ? (double)n / secs : 0;
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static void describe(const bench_opts_t *o, char *buf, size_t cap)
{
    char loop[64] = "closed loop";
    if (o->rate > 0) snprintf(loop, sizeof loop, "open loop at %g req/s", o->rate);
    const char *what = "";
    if (o->pattern == BENCH_CONNECT && o->reply == BENCH_REPLY_NONE)
        what = " (the server never answers: connection setup)";
    else if (o->pattern == BENCH_CONNECT && o->reply == BENCH_REPLY_UNASKED)
        what = " (the server speaks unasked: read, close)";
    snprintf(buf, cap, "%s%s%s, %d connection%s, %d thread%s, %zu-byte requests, pipeline %d, %s",
             bench_pattern_name(o->pattern), o->tls ? " over TLS" : "", what, o->connections,
             o->connections == 1 ? "" : "s", o->threads, o->threads == 1 ? "" : "s", o->size,
             o->pipeline, loop);
}

static void print_errors(const bench_result_t *t)
{
    uint64_t n = bench_total_errors(t);
    printf("  errors      %llu", (unsigned long long)n);
    if (n) {
        const char *sep = " (";
        for (int k = 0; k < BERR_KINDS; k++) {
            if (!t->errors[k]) continue;
            printf("%s%s %llu", sep, bench_err_name(k), (unsigned long long)t->errors[k]);
            sep = ", ";
        }
        printf("); first: %s", t->first_error);
    }
    putchar('\n');
}

void bench_report_text(const bench_run_t *r, const bench_result_t *t)
{
    const bench_opts_t *o = r->o;
    char what[256];
    double user, sys;
    cpu_used(r, &user, &sys);
    describe(o, what, sizeof what);
    printf("socketserver bench %s: %s\n", o->target, what);
    printf("  duration    %.2f s measured after %.2f s of warmup\n", r->seconds, o->warmup);
    printf("  requests    %llu, %.1f/s\n", (unsigned long long)t->requests,
           per_second(t->requests, r->seconds));
    printf("  bytes       %llu sent, %llu received, %.2f MB/s received\n",
           (unsigned long long)t->bytes_sent, (unsigned long long)t->bytes_received,
           per_second(t->bytes_received, r->seconds) / 1e6);
    const bench_hist_t *h = &t->hist;
    printf("  latency us  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f\n",
           us(bench_hist_quantile(h, 0.5)), us(bench_hist_quantile(h, 0.9)),
           us(bench_hist_quantile(h, 0.99)), us(bench_hist_quantile(h, 0.999)), us(h->max),
           h->count ? us(h->sum / h->count) : 0.0);
    printf("  connects    %llu\n", (unsigned long long)t->connects);
    if (o->tls)
        printf("  tls         %llu handshakes, %llu of them resumed\n",
               (unsigned long long)t->handshakes, (unsigned long long)t->resumed);
    if (t->late)
        printf("  late        %llu UDP replies after their timeout\n", (unsigned long long)t->late);
    print_errors(t);
    printf("  generator   %.2f us CPU per request (user %.2f s, system %.2f s)\n",
           t->requests ? (user + sys) * 1e6 / (double)t->requests : 0.0, user, sys);
    fflush(stdout);
}

static void json_start(bench_json_t *j, const bench_opts_t *o)
{
    struct utsname u;
    char when[64] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    bench_json_object(j, "start");
    bench_json_str(j, "version", "socketserver " SS_VERSION_STRING);
    if (uname(&u) == 0) {
        char sys[4 * 65 + 4];
        snprintf(sys, sizeof sys, "%s %s %s %s", u.sysname, u.nodename, u.release, u.machine);
        bench_json_str(j, "system_info", sys);
    }
    bench_json_object(j, "timestamp");
    bench_json_str(j, "time", when);
    bench_json_int(j, "timesecs", (int64_t)now);
    bench_json_end(j);
    bench_json_object(j, "connecting_to");
    bench_json_str(j, "address", o->target);
    bench_json_end(j);
    bench_json_object(j, "test_start");
    bench_json_str(j, "pattern", bench_pattern_name(o->pattern));
    if (o->pattern == BENCH_CONNECT) bench_json_str(j, "connect_reply", bench_reply_name(o->reply));
    bench_json_bool(j, "tls", o->tls != NULL);
    bench_json_int(j, "connections", o->connections);
    bench_json_int(j, "threads", o->threads);
    bench_json_uint(j, "size", o->size);
    bench_json_int(j, "pipeline", o->pipeline);
    bench_json_num(j, "rate", o->rate);
    bench_json_bool(j, "open_loop", o->rate > 0);
    bench_json_num(j, "duration", o->duration);
    bench_json_num(j, "warmup", o->warmup);
    bench_json_num(j, "timeout", o->timeout);
    bench_json_num(j, "interval", o->interval);
    bench_json_end(j);
    bench_json_int(j, "cpus", sysconf(_SC_NPROCESSORS_ONLN));
    bench_json_end(j);
}

static void json_intervals(bench_json_t *j, const bench_run_t *r)
{
    bench_json_array(j, "intervals");
    for (size_t i = 0; i < r->niv; i++) {
        const bench_interval_t *iv = &r->iv[i];
        double secs = iv->end - iv->start;
        bench_json_object(j, NULL);
        bench_json_num(j, "start", iv->start);
        bench_json_num(j, "end", iv->end);
        bench_json_num(j, "seconds", secs);
        bench_json_uint(j, "requests", iv->requests);
        bench_json_num(j, "requests_per_second", per_second(iv->requests, secs));
        bench_json_uint(j, "bytes", iv->bytes);
        bench_json_num(j, "bytes_per_second", per_second(iv->bytes, secs));
        bench_json_uint(j, "errors", iv->errors);
        bench_json_int(j, "connections", iv->open);
        bench_json_end(j);
    }
    bench_json_end(j);
}

static void json_latency(bench_json_t *j, const bench_hist_t *h)
{
    bench_json_object(j, "latency_us");
    bench_json_num(j, "min", h->count ? us(h->min) : 0);
    bench_json_num(j, "mean", h->count ? us(h->sum / h->count) : 0);
    bench_json_num(j, "p50", us(bench_hist_quantile(h, 0.5)));
    bench_json_num(j, "p90", us(bench_hist_quantile(h, 0.9)));
    bench_json_num(j, "p99", us(bench_hist_quantile(h, 0.99)));
    bench_json_num(j, "p999", us(bench_hist_quantile(h, 0.999)));
    bench_json_num(j, "max", us(h->max));
    bench_json_end(j);
}

static void json_errors(bench_json_t *j, const bench_result_t *t)
{
    bench_json_object(j, "errors");
    bench_json_uint(j, "total", bench_total_errors(t));
    for (int k = 0; k < BERR_KINDS; k++) bench_json_uint(j, bench_err_name(k), t->errors[k]);
    bench_json_str(j, "first", t->first_error);
    bench_json_end(j);
}

static void json_end(bench_json_t *j, const bench_run_t *r, const bench_result_t *t)
{
    double user, sys;
    cpu_used(r, &user, &sys);
    bench_json_object(j, "end");
    bench_json_num(j, "seconds", r->seconds);
    bench_json_uint(j, "requests", t->requests);
    bench_json_num(j, "requests_per_second", per_second(t->requests, r->seconds));
    bench_json_uint(j, "requests_with_warmup", t->requests_all);
    bench_json_uint(j, "bytes_sent", t->bytes_sent);
    bench_json_uint(j, "bytes_received", t->bytes_received);
    bench_json_num(j, "bytes_per_second", per_second(t->bytes_received, r->seconds));
    json_latency(j, &t->hist);
    json_errors(j, t);
    bench_json_uint(j, "connects", t->connects);
    bench_json_uint(j, "late_replies", t->late);
    if (r->o->tls) {
        bench_json_object(j, "tls");
        bench_json_uint(j, "handshakes", t->handshakes);
        bench_json_uint(j, "resumed", t->resumed);
        bench_json_end(j);
    }
    bench_json_object(j, "cpu");
    bench_json_num(j, "user_seconds", user);
    bench_json_num(j, "system_seconds", sys);
    bench_json_num(j, "utilization_percent", r->seconds > 0 ? (user + sys) * 100 / r->seconds : 0);
    bench_json_num(j, "us_per_request", t->requests ? (user + sys) * 1e6 / (double)t->requests : 0);
    bench_json_end(j);
    bench_json_end(j);
}

void bench_report_json(const bench_run_t *r, const bench_result_t *t, const char *error)
{
    bench_json_t j;
    bench_json_init(&j, stdout);
    bench_json_object(&j, NULL);
    json_start(&j, r->o);
    if (error) {
        bench_json_array(&j, "intervals");
        bench_json_end(&j);
        bench_json_object(&j, "end");
        bench_json_end(&j);
        bench_json_str(&j, "error", error);
    } else {
        json_intervals(&j, r);
        json_end(&j, r, t);
    }
    bench_json_finish(&j);
}
