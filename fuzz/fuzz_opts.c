/* fuzz_opts.c - the command-line parser of the program (app/opts.c).
 *
 * Input: the arguments after the command name, separated by NUL bytes (at
 * most MAX_ARGS). The same vector goes to opts_parse_serve as
 * "serve ARGS...", to opts_parse_send as "send ARGS..." and to
 * opts_parse_bench as "bench ARGS...", each on a fresh copy (getopt_long
 * permutes), twice: with a roomy error buffer and with a small one. Checks: a known result code; a
 * usage error has a one-line message that fits its buffer, and the small buffer holds a prefix of
 * it; a success leaves values inside the documented ranges and pointers into the vector. Each
 * argument also goes through the value parsers, compared with reference implementations written
 * independently below. */
#include "fuzz.h"

#include "opts.h"

#include <string.h>

#define MAX_ARGS 160
#define DAY_MS   (86400LL * 1000)
#define YEAR_MS  (365 * DAY_MS)

typedef struct argv_copy {
    char *argv[MAX_ARGS + 2];
    char *store; /* all the strings, NUL-separated */
    int argc;
} argv_copy;

static void argv_build(argv_copy *v, const char *cmd, const uint8_t *data, size_t size)
{
    size_t cl = strlen(cmd) + 1;
    v->store = malloc(cl + size + 1);
    FUZZ_CHECK(v->store != NULL, "out of memory");
    memcpy(v->store, cmd, cl);
    memcpy(v->store + cl, data, size);
    v->store[cl + size] = '\0';
    v->argc = 0;
    v->argv[v->argc++] = v->store;
    for (size_t i = cl; i < cl + size && v->argc <= MAX_ARGS; i += strlen(v->store + i) + 1)
        v->argv[v->argc++] = v->store + i;
    v->argv[v->argc] = NULL;
}

static int points_into(const argv_copy *v, const char *s)
{
    for (int i = 0; i < v->argc; i++)
        if (s >= v->argv[i] && s <= v->argv[i] + strlen(v->argv[i])) return 1;
    return 0;
}

static void check_message(int rc, const char *err, size_t cap)
{
    FUZZ_CHECK(rc == OPTS_OK || rc == OPTS_HELP || rc == OPTS_VERSION || rc == OPTS_USAGE,
               "result %d", rc);
    size_t n = strnlen(err, cap);
    FUZZ_CHECK(n < cap, "message not terminated in %zu bytes", cap);
    FUZZ_CHECK(rc != OPTS_USAGE || n > 0 || cap == 1, "usage error without a message");
    FUZZ_CHECK(rc == OPTS_USAGE || n == 0, "message \"%s\" with result %d", err, rc);
    for (size_t i = 0; i < n; i++) /* one line, no escape sequences: user text is escaped */
        FUZZ_CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f,
                   "control character 0x%02x in \"%s\"", (unsigned char)err[i], err);
}

static void check_serve(const argv_copy *v, const serve_opts_t *o)
{
    const ss_config_t *c = &o->cfg;
    FUZZ_CHECK(o->service && points_into(v, o->service), "service");
    FUZZ_CHECK(o->naddrs >= 0 && o->naddrs <= OPTS_MAX_ADDRS, "naddrs %d", o->naddrs);
    for (int i = 0; i < o->naddrs; i++) FUZZ_CHECK(points_into(v, o->addrs[i]), "addr %d", i);
    FUZZ_CHECK(ss_mode_available(c->mode), "mode %d", (int)c->mode);
    FUZZ_CHECK(c->workers >= 0 && c->workers <= 1024, "workers %d", c->workers);
    FUZZ_CHECK(c->max_connections >= 0 && c->max_connections <= 1000000, "max_connections");
    FUZZ_CHECK(c->idle_timeout_ms >= 0 && c->idle_timeout_ms <= YEAR_MS, "idle");
    FUZZ_CHECK(c->drain_timeout_ms >= 0 && c->drain_timeout_ms <= DAY_MS, "drain");
    FUZZ_CHECK(c->max_line >= 1 && c->max_line <= 16u << 20, "max_line %zu", c->max_line);
    FUZZ_CHECK(c->unix_mode <= 0777, "unix_mode %#o", c->unix_mode);
    FUZZ_CHECK(!o->user || (*o->user && points_into(v, o->user)), "user");
    FUZZ_CHECK(!o->group || (*o->group && points_into(v, o->group)), "group");
}

static void check_send(const argv_copy *v, const send_opts_t *o)
{
    FUZZ_CHECK(o->address && points_into(v, o->address), "address");
    FUZZ_CHECK(o->nmessages >= 0 && o->nmessages < v->argc, "nmessages %d", o->nmessages);
    for (int i = 0; i < o->nmessages; i++)
        FUZZ_CHECK(points_into(v, o->messages[i]), "message %d", i);
    FUZZ_CHECK(o->timeout_ms > 0 && o->timeout_ms <= DAY_MS, "timeout %lld",
               (long long)o->timeout_ms);
    FUZZ_CHECK(o->retries >= 0 && o->retries <= 100, "retries %d", o->retries);
    FUZZ_CHECK(o->max_bytes <= 1ULL << 50, "max_bytes");
    FUZZ_CHECK(!(o->no_reply && (o->time || o->max_bytes)), "--no-reply with --time");
}

static void check_bench(const argv_copy *v, const bench_args_t *o)
{
    FUZZ_CHECK(o->address && points_into(v, o->address), "address");
    FUZZ_CHECK(!o->pattern || points_into(v, o->pattern), "pattern");
    FUZZ_CHECK(o->connections >= 1 && o->connections <= 1000000, "connections %ld", o->connections);
    FUZZ_CHECK(o->threads >= 1 && o->threads <= 256, "threads %ld", o->threads);
    FUZZ_CHECK(o->pipeline >= 1 && o->pipeline <= 1024, "pipeline %ld", o->pipeline);
    FUZZ_CHECK(o->size >= 1 && o->size <= 1u << 20, "size %llu", (unsigned long long)o->size);
    FUZZ_CHECK(o->rate >= 0 && o->rate <= 1e9, "rate %g", o->rate);
    FUZZ_CHECK(o->duration_ms >= 1 && o->duration_ms <= BENCH_MAX_MS, "duration");
    FUZZ_CHECK(o->warmup_ms >= 0 && o->warmup_ms <= BENCH_MAX_MS, "warmup");
    FUZZ_CHECK(o->timeout_ms >= 1 && o->timeout_ms <= BENCH_MAX_MS, "timeout");
    FUZZ_CHECK(o->interval_ms >= 10 && o->interval_ms <= BENCH_MAX_MS, "interval");
}

/* Parses v as the command cmd into err (cap bytes) and checks the result
 * and, on success, the values. Returns the parser's result. */
static int parse_checked(const char *cmd, argv_copy *v, char *err, size_t cap)
{
    serve_opts_t so;
    send_opts_t se;
    bench_args_t be;
    int rc;
    if (strcmp(cmd, "send") == 0) {
        rc = opts_parse_send(v->argc, v->argv, &se, err, cap);
        if (rc == OPTS_OK) check_send(v, &se);
    } else if (strcmp(cmd, "bench") == 0) {
        rc = opts_parse_bench(v->argc, v->argv, &be, err, cap);
        if (rc == OPTS_OK) check_bench(v, &be);
    } else {
        rc = opts_parse_serve(v->argc, v->argv, &so, err, cap);
        if (rc == OPTS_OK) check_serve(v, &so);
    }
    check_message(rc, err, cap);
    return rc;
}

/* One command line, parsed with error buffers of cap and of small bytes. */
static void parse_both(const char *cmd, const uint8_t *data, size_t size, size_t small)
{
    char big_err[256];
    char *small_err = malloc(small); /* exactly small: overflows are ASan's */
    FUZZ_CHECK(small_err != NULL, "out of memory");
    int rc[2];
    for (int k = 0; k < 2; k++) {
        argv_copy v;
        argv_build(&v, cmd, data, size);
        rc[k] = k == 0 ? parse_checked(cmd, &v, big_err, sizeof big_err)
                       : parse_checked(cmd, &v, small_err, small);
        free(v.store);
    }
    FUZZ_CHECK(rc[0] == rc[1], "%s: %d, then %d with a smaller buffer", cmd, rc[0], rc[1]);
    FUZZ_CHECK(strncmp(big_err, small_err, small - 1) == 0 && strlen(small_err) < small,
               "\"%s\" cut to %zu is \"%s\"", big_err, small, small_err);
    free(small_err);
}

/* ------------------------------------------------------------ references */

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return n > 0;
}

/* A decimal number of n digits, or UINT64_MAX if it exceeds cap. */
static uint64_t decimal(const char *s, size_t n, uint64_t cap)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > cap) return UINT64_MAX;
    }
    return v;
}

static void check_count(const char *t, long min, long max)
{
    long got = -1;
    char why[64];
    int rc = opts_count(t, min, max, &got, why, sizeof why);
    size_t n = strlen(t);
    uint64_t v = all_digits(t, n) ? decimal(t, n, (uint64_t)max) : UINT64_MAX;
    int ok = v != UINT64_MAX && v >= (uint64_t)min;
    FUZZ_CHECK((rc == 0) == ok, "opts_count(\"%s\", %ld, %ld): %d", t, min, max, rc);
    FUZZ_CHECK(!ok || (uint64_t)got == v, "opts_count(\"%s\"): %ld, not %llu", t, got,
               (unsigned long long)v);
}

static uint64_t unit_of(const char *u)
{
    static const char *const names[][3] = {
        {"", "", ""}, {"k", "K", "KiB"}, {"m", "M", "MiB"}, {"g", "G", "GiB"}};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            if (strcmp(u, names[i][j]) == 0) return 1ULL << (10 * i);
    return 0;
}

static void check_size(const char *t, uint64_t min, uint64_t max)
{
    uint64_t got = 0;
    char why[64];
    int rc = opts_size(t, min, max, &got, why, sizeof why);
    size_t d = strspn(t, "0123456789");
    uint64_t mul = unit_of(t + d);
    uint64_t v = d > 0 && mul ? decimal(t, d, max) : UINT64_MAX;
    if (v != UINT64_MAX) v = v > max / mul ? UINT64_MAX : v * mul;
    int ok = v != UINT64_MAX && v >= min;
    FUZZ_CHECK((rc == 0) == ok, "opts_size(\"%s\", %llu, %llu): %d", t, (unsigned long long)min,
               (unsigned long long)max, rc);
    FUZZ_CHECK(!ok || got == v, "opts_size(\"%s\"): %llu, not %llu", t, (unsigned long long)got,
               (unsigned long long)v);
}

/* W[.F][s|ms]: the exact value rounded up to whole milliseconds. */
static void check_duration(const char *t, int64_t max)
{
    int64_t got = -1;
    char why[96];
    int rc = opts_duration_ms(t, max, &got, why, sizeof why);
    size_t w = strspn(t, "0123456789"), f = 0;
    const char *u = t + w;
    int form = w > 0;
    if (*u == '.') {
        f = strspn(u + 1, "0123456789");
        form = f > 0;
        u += 1 + f;
    }
    int ms = strcmp(u, "ms") == 0;
    form = form && (ms || strcmp(u, "") == 0 || strcmp(u, "s") == 0);
    const char *frac = t + w + 1;
    uint64_t v = decimal(t, w, (uint64_t)max);
    uint64_t part = 0; /* the fraction in the unit's thousandths, rounded up */
    int tail = 0;      /* digits beyond the third: any non-zero rounds up */
    for (size_t i = 0; i < f; i++) {
        if (i < 3) part += (uint64_t)(frac[i] - '0') * (i == 0 ? 100 : i == 1 ? 10 : 1);
        if (i >= 3 && frac[i] != '0') tail = 1;
    }
    part += (uint64_t)tail;
    if (v != UINT64_MAX) {
        if (ms)
            v += part > 0;
        else
            v = v > (uint64_t)max / 1000 ? UINT64_MAX : v * 1000 + part;
    }
    int ok = form && v <= (uint64_t)max;
    FUZZ_CHECK((rc == 0) == ok, "opts_duration_ms(\"%s\", %lld): %d", t, (long long)max, rc);
    FUZZ_CHECK(!ok || (uint64_t)got == v, "opts_duration_ms(\"%s\"): %lld, not %llu", t,
               (long long)got, (unsigned long long)v);
}

static void check_values(const uint8_t *data, size_t size)
{
    argv_copy v;
    argv_build(&v, "", data, size);
    for (int i = 1; i < v.argc; i++) {
        const char *t = v.argv[i];
        check_count(t, 0, 1024);
        check_count(t, 1, 1000000);
        check_size(t, 1, 16u << 20);
        check_size(t, 0, 1ULL << 50);
        check_duration(t, DAY_MS);
        check_duration(t, YEAR_MS);
    }
    free(v.store);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t small = 1 + size % 48;
    parse_both("serve", data, size, small);
    parse_both("send", data, size, small);
    parse_both("bench", data, size, small);
    check_values(data, size);
    return 0;
}
