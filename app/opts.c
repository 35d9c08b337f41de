/* opts.c - parsing the command lines of `serve`, `send` and `bench` (opts.h):
 * strict value parsers, and one getopt_long(3) loop driven by each command's
 * tables. Nothing here prints or exits; a bad value yields one line naming
 * the option and the problem. */
#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A magnitude above every limit we accept (the largest is --max-bytes' 2^50,
 * about 1.1e15): digits saturate here, so a longer number stays too large
 * instead of becoming BIG. Below UINT64_MAX / 10, so scanning cannot wrap. */
#define BIG     1000000000000000000ULL
#define DAY_MS_ (86400LL * 1000) /* the longest grace of --min-rate */

static int fail(char *why, size_t cap, const char *fmt, ...) SS_PRINTF(3, 4);

static int fail(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (why && cap) vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9'; /* not isdigit(3): no locale may widen it */
}

/* Reads decimal digits into *v (saturating at BIG). Returns how many. */
static int scan_digits(const char **p, uint64_t *v)
{
    int n = 0;
    for (; is_digit(**p); (*p)++, n++) *v = *v >= BIG ? BIG : *v * 10 + (uint64_t)(**p - '0');
    return n;
}

/* ------------------------------------------------------------ values */

/* "W[.F]": whole part and the fraction in milliseconds, rounded up. */
static int scan_seconds(const char **p, uint64_t *whole, uint64_t *milli)
{
    int n = scan_digits(p, whole);
    *milli = 0;
    if (**p != '.') return n;
    (*p)++;
    int k = 0, rest = 0;
    for (; is_digit(**p); (*p)++, k++) {
        if (k < 3)
            *milli = *milli * 10 + (uint64_t)(**p - '0');
        else
            rest |= **p != '0';
    }
    if (k == 0) return 0; /* "1." is not accepted */
    for (int i = k; i < 3; i++) *milli *= 10;
    *milli += (uint64_t)rest;
    return n + k;
}

int opts_duration_ms(const char *text, int64_t max_ms, int64_t *out, char *why, size_t cap)
{
    static const char form[] = "not a duration (seconds, such as 2, 0.5 or 500ms)";
    if (!text || !*text) return fail(why, cap, "empty value");
    if (*text == '-') return fail(why, cap, "must not be negative");
    const char *p = text;
    uint64_t whole = 0, milli = 0;
    if (scan_seconds(&p, &whole, &milli) == 0) return fail(why, cap, form);
    uint64_t ms;
    if (strcmp(p, "") == 0 || strcmp(p, "s") == 0)
        ms = whole >= BIG / 1000 ? BIG : whole * 1000 + milli;
    else if (strcmp(p, "ms") == 0)
        ms = whole + (milli > 0); /* a fraction of a millisecond rounds up */
    else
        return fail(why, cap, form);
    if (ms > (uint64_t)max_ms)
        return fail(why, cap, "too large (at most %lld s)", (long long)(max_ms / 1000));
    *out = (int64_t)ms;
    return 0;
}

static int size_unit(const char *u, uint64_t *mul)
{
    static const struct {
        const char *a, *b, *c;
        uint64_t mul;
    } units[] = {
        {"", "", "", 1},
        {"k", "K", "KiB", 1024},
        {"m", "M", "MiB", 1024 * 1024},
        {"g", "G", "GiB", 1024 * 1024 * 1024},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (!strcmp(u, units[i].a) || !strcmp(u, units[i].b) || !strcmp(u, units[i].c)) {
            *mul = units[i].mul;
            return 0;
        }
    }
    return -1;
}

int opts_size(const char *text, uint64_t min, uint64_t max, uint64_t *out, char *why, size_t cap)
{
    static const char form[] = "not a size (bytes, such as 8192, 64k or 1M)";
    if (!text || !*text) return fail(why, cap, "empty value");
    if (*text == '-') return fail(why, cap, "must not be negative");
    const char *p = text;
    uint64_t v = 0, mul = 1;
    if (scan_digits(&p, &v) == 0 || size_unit(p, &mul) < 0) return fail(why, cap, form);
    v = v >= BIG / mul ? BIG : v * mul;
    if (v < min) return fail(why, cap, "too small (at least %llu)", (unsigned long long)min);
    if (v > max) return fail(why, cap, "too large (at most %llu)", (unsigned long long)max);
    *out = v;
    return 0;
}

int opts_count(const char *text, long min, long max, long *out, char *why, size_t cap)
{
    if (!text || !*text) return fail(why, cap, "empty value");
    if (*text == '-') return fail(why, cap, "must not be negative");
    const char *p = text;
    uint64_t v = 0;
    if (scan_digits(&p, &v) == 0 || *p) return fail(why, cap, "not a whole number");
    if (v < (uint64_t)min) return fail(why, cap, "too small (at least %ld)", min);
    if (v > (uint64_t)max) return fail(why, cap, "too large (at most %ld)", max);
    *out = (long)v;
    return 0;
}

int opts_mode(const char *text, unsigned *out, char *why, size_t cap)
{
    static const char form[] = "not an octal file mode (such as 660 or 0600)";
    if (!text || !*text) return fail(why, cap, "empty value");
    unsigned v = 0;
    int n = 0;
    for (const char *p = text; *p; p++, n++) {
        if (*p < '0' || *p > '7' || n >= 4) return fail(why, cap, form);
        v = v * 8 + (unsigned)(*p - '0');
    }
    if (v > 0777) return fail(why, cap, "only permission bits (at most 0777)");
    /* The library reads 0 as "leave the umask's": taking it here would
     * silently do nothing, and a mode of 0 has no use for a socket. */
    if (v == 0) return fail(why, cap, "0 would let nobody but root connect");
    *out = v;
    return 0;
}

/* One item of a CPU list, "N" or "N-M", into list. Returns 0 or -1. */
static int cpu_item(const char **p, uint64_t *list, char *why, size_t cap)
{
    static const char form[] = "not a CPU list (auto, none, or CPUs such as 0,2-3)";
    const int top = SS_CPU_LIST_WORDS * 64 - 1;
    uint64_t lo = 0, hi = 0;
    if (scan_digits(p, &lo) == 0) return fail(why, cap, form);
    hi = lo;
    if (**p == '-') {
        (*p)++;
        hi = 0; /* scan_digits adds to what it is given */
        if (scan_digits(p, &hi) == 0) return fail(why, cap, form);
    }
    if (**p && **p != ',') return fail(why, cap, form);
    if (hi > (uint64_t)top) return fail(why, cap, "CPU %llu above %d", (unsigned long long)hi, top);
    if (lo > hi)
        return fail(why, cap, "range %llu-%llu runs backwards", (unsigned long long)lo,
                    (unsigned long long)hi);
    for (uint64_t c = lo; c <= hi; c++) list[c / 64] |= UINT64_C(1) << (c % 64);
    return 0;
}

/* --poller auto|epoll|io_uring (ss_poller_t). */
static int opts_poller(const char *text, ss_poller_t *out, char *why, size_t cap)
{
    static const char *const names[] = {"auto", "epoll", "io_uring"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (ss_poller_t)i;
            return 0;
        }
    }
    return fail(why, cap, "not auto, epoll or io_uring");
}

int opts_cpu_affinity(const char *text, ss_config_t *cfg, char *why, size_t cap)
{
    if (!text || !*text) return fail(why, cap, "empty value");
    memset(cfg->cpu_list, 0, sizeof cfg->cpu_list);
    cfg->cpu_affinity = SS_CPU_AFFINITY_NONE;
    if (strcmp(text, "none") == 0) return 0;
    if (strcmp(text, "auto") == 0) {
        cfg->cpu_affinity = SS_CPU_AFFINITY_AUTO;
        return 0;
    }
    uint64_t list[SS_CPU_LIST_WORDS] = {0};
    for (const char *p = text;; p++) { /* p++: past the comma */
        if (*p == ',' || !*p) return fail(why, cap, "an empty item in the CPU list");
        if (cpu_item(&p, list, why, cap) < 0) return -1;
        if (!*p) break;
    }
    memcpy(cfg->cpu_list, list, sizeof list);
    cfg->cpu_affinity = SS_CPU_AFFINITY_LIST;
    return 0;
}

int opts_min_rate(const char *text, uint64_t *rate, int64_t *grace_ms, char *why, size_t cap)
{
    static const char form[] = "not a rate (BYTES/S[:GRACE], such as 100 or 1k:10)";
    if (!text || !*text) return fail(why, cap, "empty value");
    char num[32];
    const char *colon = strchr(text, ':');
    size_t n = colon ? (size_t)(colon - text) : strlen(text);
    if (n == 0 || n >= sizeof num) return fail(why, cap, form);
    memcpy(num, text, n);
    num[n] = '\0';
    if (opts_size(num, 1, 1ULL << 40, rate, why, cap) < 0) return -1;
    *grace_ms = 0;
    if (!colon) return 0;
    if (opts_duration_ms(colon + 1, DAY_MS_, grace_ms, why, cap) < 0) return -1;
    return *grace_ms > 0 ? 0 : fail(why, cap, "a grace of 0 would judge the first byte alone");
}

int opts_id_list(const char *text, unsigned *ids, int max, int *count, char *why, size_t cap)
{
    static const char form[] = "not a list of numeric IDs (such as 0 or 1000,1001)";
    if (!text || !*text) return fail(why, cap, "empty value");
    int n = 0;
    for (const char *p = text;; p++) { /* p++: past the comma */
        uint64_t v = 0;
        if (scan_digits(&p, &v) == 0 || (*p && *p != ',')) return fail(why, cap, form);
        if (v >= 0xffffffffULL)
            return fail(why, cap, "ID %llu out of range", (unsigned long long)v);
        if (n == max) return fail(why, cap, "more than %d IDs", max);
        ids[n++] = (unsigned)v;
        if (!*p) break;
    }
    *count = n;
    return 0;
}

int opts_rate(const char *text, double *rate, int *burst, char *why, size_t cap)
{
    static const char form[] = "not a rate (R[:BURST], such as 10, 0.5 or 100:20)";
    if (!text || !*text) return fail(why, cap, "empty value");
    const char *p = text;
    uint64_t whole = 0, milli = 0;
    if (scan_seconds(&p, &whole, &milli) == 0 || (*p && *p != ':')) return fail(why, cap, form);
    if (whole > 1000000 || (whole == 1000000 && milli > 0))
        return fail(why, cap, "too large (at most 1000000 per second)");
    /* scan_seconds rounds a fraction up to thousandths: 0.0001 is 0.001. */
    *rate = (double)whole + (double)milli / 1000.0;
    *burst = 0;
    if (!*p) return 0;
    long b = 0;
    if (opts_count(p + 1, 1, 1000000, &b, why, cap) < 0) return -1;
    *burst = (int)b;
    return 0;
}

int opts_prefixes(const char *text, int *v4, int *v6, char *why, size_t cap)
{
    static const char form[] = "not V4BITS,V6BITS (such as 32,64 or 24,48)";
    if (!text || !*text) return fail(why, cap, "empty value");
    const char *p = text;
    uint64_t a = 0, b = 0;
    if (scan_digits(&p, &a) == 0 || *p != ',') return fail(why, cap, form);
    p++;
    if (scan_digits(&p, &b) == 0 || *p) return fail(why, cap, form);
    if (a > 32) return fail(why, cap, "IPv4 prefix %llu above 32", (unsigned long long)a);
    if (b > 128) return fail(why, cap, "IPv6 prefix %llu above 128", (unsigned long long)b);
    *v4 = (int)a;
    *v6 = (int)b;
    return 0;
}

/* A file name of an option: any non-empty text (the file is read later,
 * by the call that names it in its message). */
static int file_name(const char *v, const char **out, char *why, size_t cap)
{
    *out = v;
    return *v ? 0 : fail(why, cap, "empty file name");
}

/* ------------------------------------------------------------ getopt */

/* Resets getopt_long's globals so each parse starts afresh (GNU: optind 0
 * reinitializes) and silences its own messages: ours name the command. */
static void getopt_reset(void)
{
    optind = 0;
    opterr = 0;
}

static const char *long_name(const struct option *lo, int val)
{
    for (; lo->name; lo++)
        if (lo->val == val) return lo->name;
    return NULL;
}

/* What the user typed, for a message: its first max bytes, control
 * characters written as \xNN, so that the message stays one line (opts.h)
 * and cannot carry terminal escape sequences. Returns buf (cap > 4). */
static const char *shown(const char *text, size_t max, char *buf, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < max && text[i] && n + 5 < cap; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch < 0x20 || ch == 0x7f)
            n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", ch);
        else
            buf[n++] = (char)ch;
    }
    buf[n] = '\0';
    return buf;
}

/* The message for getopt_long's ':' (missing value) and '?' (unknown). */
static int getopt_failure(int c, const struct option *lo, char **argv, char *err, size_t cap)
{
    const char *name = long_name(lo, optopt);
    const char *given = optind > 0 ? argv[optind - 1] : "";
    char buf[256];
    if (c == ':' && name) return fail(err, cap, "option --%s needs a value", name);
    if (c == ':') return fail(err, cap, "option -%c needs a value", optopt);
    if (optopt && !name) {
        char opt[2] = {(char)optopt, '\0'};
        return fail(err, cap, "unknown option -%s (see --help)", shown(opt, 1, buf, sizeof buf));
    }
    return fail(err, cap, "unknown or malformed option \"%s\" (see --help)",
                shown(given, 60, buf, sizeof buf));
}

/* Prefixes a value parser's phrase with the option and the value. */
static int bad_value(const char *opt, const char *text, const char *why, char *err, size_t cap)
{
    char buf[256];
    return fail(err, cap, "--%s \"%s\": %s", opt, shown(text, 40, buf, sizeof buf), why);
}

/* One command's options: getopt_long's tables, and the function that takes
 * an option (c, getopt_long's value for it) with its value v into the
 * command's structure o. take returns 0, or -1 with the whole message in
 * err (bad_value's, mostly). */
typedef struct opts_spec {
    const char *shortopts; /* with ':' first: a missing value is ':', not '?' */
    const struct option *longopts;
    int (*take)(void *o, int c, const char *v, char *err, size_t cap);
} opts_spec_t;

/* The loop every command shares: takes each option in turn, stops at --help
 * or --version. Returns OPTS_OK with the operands from optind on, or
 * OPTS_HELP, OPTS_VERSION or OPTS_USAGE. */
static int parse_options(const opts_spec_t *spec, void *o, int argc, char **argv, char *err,
                         size_t cap)
{
    if (err && cap) err[0] = '\0';
    getopt_reset();
    int c;
    /* getopt's state is global (MT-Unsafe), but options are parsed before
     * any thread starts. NOLINTNEXTLINE(concurrency-mt-unsafe) */
    while ((c = getopt_long(argc, argv, spec->shortopts, spec->longopts, NULL)) != -1) {
        if (c == 'h') return OPTS_HELP;
        if (c == 'V') return OPTS_VERSION;
        if (c == ':' || c == '?') return getopt_failure(c, spec->longopts, argv, err, cap);
        if (spec->take(o, c, optarg, err, cap) < 0) return OPTS_USAGE;
    }
    return OPTS_OK;
}

int opts_proxy_version(const char *text, int allow_any, int *out, char *why, size_t cap)
{
    static const char *const names[] = {"v1", "v2", "any"};
    for (int i = 0; i < (allow_any ? 3 : 2); i++)
        if (strcmp(text, names[i]) == 0) {
            *out = i + 1; /* SS_PROXY_V1, SS_PROXY_V2, SS_PROXY_ANY */
            return 0;
        }
    return fail(why, cap, "%s", allow_any ? "not v1, v2 or any" : "not v1 or v2");
}

/* The library checks the list (ss_proxy_from_check) and names a bad entry. */
static int cidr_list(const char *v, const char **out, char *why, size_t cap)
{
    if (ss_proxy_from_check(v) < 0) {
        const char *msg = ss_errmsg();
        const char *p = strstr(msg, "proxy_from: ");
        return fail(why, cap, "%s", p ? p + 12 : msg);
    }
    *out = v;
    return 0;
}

/* ------------------------------------------------------------ serve */

enum {
    SO_MAXCONN = 256,
    SO_IDLE,
    SO_LINE,
    SO_DRAIN,
    SO_USER,
    SO_GROUP,
    SO_SOCKMODE,
    SO_CPUAFF,
    SO_POLLER,
    SO_TLS_CERT,
    SO_TLS_KEY,
    SO_TLS_CLIENT_CA,
    SO_PROXY,
    SO_PROXY_FROM,
    SO_LINE_TIMEOUT,
    SO_MIN_RATE,
    SO_REQUEST_TIMEOUT,
    SO_ALLOW_UID,
    SO_ALLOW_GID,
    SO_STATS,
    SO_REUSE_PORT,
    SO_ACCESS_LOG,
    SO_MAX_PER_SOURCE,
    SO_RATE,
    SO_ALLOW,
    SO_DENY,
    SO_SOURCE_PREFIX,
    SO_SOURCE_TABLE,
    SO_UDP_BUDGET,
    SO_UDP_AMPLIFICATION,
    SO_INETD,
};

static const struct option serve_longopts[] = {
    {"mode", required_argument, NULL, 'm'},
    {"workers", required_argument, NULL, 'w'},
    {"max-connections", required_argument, NULL, SO_MAXCONN},
    {"idle-timeout", required_argument, NULL, SO_IDLE},
    {"max-line", required_argument, NULL, SO_LINE},
    {"drain-timeout", required_argument, NULL, SO_DRAIN},
    {"user", required_argument, NULL, SO_USER},
    {"group", required_argument, NULL, SO_GROUP},
    {"socket-mode", required_argument, NULL, SO_SOCKMODE},
    {"cpu-affinity", required_argument, NULL, SO_CPUAFF},
    {"poller", required_argument, NULL, SO_POLLER},
    {"tls-cert", required_argument, NULL, SO_TLS_CERT},
    {"tls-key", required_argument, NULL, SO_TLS_KEY},
    {"tls-client-ca", required_argument, NULL, SO_TLS_CLIENT_CA},
    {"proxy-protocol", required_argument, NULL, SO_PROXY},
    {"proxy-from", required_argument, NULL, SO_PROXY_FROM},
    {"line-timeout", required_argument, NULL, SO_LINE_TIMEOUT},
    {"min-rate", required_argument, NULL, SO_MIN_RATE},
    {"request-timeout", required_argument, NULL, SO_REQUEST_TIMEOUT},
    {"allow-uid", required_argument, NULL, SO_ALLOW_UID},
    {"allow-gid", required_argument, NULL, SO_ALLOW_GID},
    {"stats", required_argument, NULL, SO_STATS},
    {"reuse-port", no_argument, NULL, SO_REUSE_PORT},
    {"access-log", required_argument, NULL, SO_ACCESS_LOG},
    {"max-per-source", required_argument, NULL, SO_MAX_PER_SOURCE},
    {"rate", required_argument, NULL, SO_RATE},
    {"allow", required_argument, NULL, SO_ALLOW},
    {"deny", required_argument, NULL, SO_DENY},
    {"source-prefix", required_argument, NULL, SO_SOURCE_PREFIX},
    {"source-table", required_argument, NULL, SO_SOURCE_TABLE},
    {"udp-budget", required_argument, NULL, SO_UDP_BUDGET},
    {"udp-amplification", required_argument, NULL, SO_UDP_AMPLIFICATION},
    {"inetd", no_argument, NULL, SO_INETD},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

#define DAY_MS  (86400LL * 1000)
#define YEAR_MS (365 * DAY_MS)

static void available_modes(char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int m = SS_MODE_SYNC; m <= SS_MODE_EVENT; m++) {
        if (!ss_mode_available((ss_mode_t)m)) continue;
        int n =
            snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", ss_mode_name((ss_mode_t)m));
        if (n < 0 || (size_t)n >= cap - used) break;
        used += (size_t)n;
    }
}

static int set_mode(ss_config_t *cfg, const char *text, char *err, size_t cap)
{
    ss_mode_t m;
    if (ss_mode_parse(text, &m) < 0) {
        char buf[256];
        return fail(err, cap, "unknown mode \"%s\" (sync, thread, fork, pool, prefork, event)",
                    shown(text, 40, buf, sizeof buf));
    }
    if (!ss_mode_available(m)) {
        char list[80];
        available_modes(list, sizeof list);
        return fail(err, cap, "mode \"%s\" is not available in this build (available: %s)",
                    ss_mode_name(m), list);
    }
    cfg->mode = m;
    return 0;
}

/* One option of serve with its value. */
static int serve_option(void *p, int c, const char *v, char *err, size_t cap)
{
    serve_opts_t *o = p;
    ss_config_t *cfg = &o->cfg;
    char why[96];
    int version = 0;
    long n = 0;
    uint64_t z = 0;
    int rc = 0;
    const char *name = long_name(serve_longopts, c);
    switch (c) {
    case 'm':
        return set_mode(cfg, v, err, cap);
    case 'w':
        rc = opts_count(v, 0, 1024, &n, why, sizeof why);
        cfg->workers = (int)n;
        break;
    case SO_MAXCONN:
        rc = opts_count(v, 0, 1000000, &n, why, sizeof why);
        cfg->max_connections = (int)n;
        break;
    case SO_IDLE:
        rc = opts_duration_ms(v, YEAR_MS, &cfg->idle_timeout_ms, why, sizeof why);
        break;
    case SO_DRAIN:
        rc = opts_duration_ms(v, DAY_MS, &cfg->drain_timeout_ms, why, sizeof why);
        break;
    case SO_LINE:
        rc = opts_size(v, 1, 16u << 20, &z, why, sizeof why);
        cfg->max_line = (size_t)z;
        break;
    case SO_USER:
    case SO_GROUP:
        /* Looked up by the caller, before anything is bound (privs.c). */
        if (!*v) rc = fail(why, sizeof why, "empty value");
        *(c == SO_USER ? &o->user : &o->group) = v;
        break;
    case SO_SOCKMODE:
        rc = opts_mode(v, &cfg->unix_mode, why, sizeof why);
        break;
    case SO_POLLER:
        rc = opts_poller(v, &cfg->poller, why, sizeof why);
        break;
    case SO_CPUAFF:
        o->cpus = v;
        rc = opts_cpu_affinity(v, cfg, why, sizeof why);
        break;
    case SO_TLS_CERT:
    case SO_TLS_KEY:
    case SO_TLS_CLIENT_CA:
        /* Read by the caller (ss_server_create), which names a bad file. */
        rc = file_name(v,
                       c == SO_TLS_CERT  ? &cfg->tls.cert_file
                       : c == SO_TLS_KEY ? &cfg->tls.key_file
                                         : &cfg->tls.ca_file,
                       why, sizeof why);
        break;
    case SO_PROXY:
        rc = opts_proxy_version(v, 1, &version, why, sizeof why);
        cfg->proxy_protocol = (ss_proxy_protocol_t)version;
        break;
    case SO_PROXY_FROM:
        rc = cidr_list(v, &cfg->proxy_from, why, sizeof why);
        break;
    case SO_LINE_TIMEOUT:
        rc = opts_duration_ms(v, DAY_MS, &cfg->line_timeout_ms, why, sizeof why);
        break;
    case SO_REQUEST_TIMEOUT:
        rc = opts_duration_ms(v, YEAR_MS, &cfg->request_timeout_ms, why, sizeof why);
        break;
    case SO_MIN_RATE:
        rc = opts_min_rate(v, &cfg->min_rate, &cfg->min_rate_grace_ms, why, sizeof why);
        break;
    case SO_ALLOW_UID:
        rc = opts_id_list(v, cfg->allow_uid, SS_PEER_IDS_MAX, &cfg->allow_uid_count, why,
                          sizeof why);
        break;
    case SO_ALLOW_GID:
        rc = opts_id_list(v, cfg->allow_gid, SS_PEER_IDS_MAX, &cfg->allow_gid_count, why,
                          sizeof why);
        break;
    case SO_STATS:
        /* Parsed and bound by the caller (stats_http.c), which resolves it. */
        if (strncmp(v, "tcp://", 6) != 0 && strncmp(v, "unix:", 5) != 0)
            rc = fail(why, sizeof why, "tcp://HOST:PORT or unix:PATH");
        o->stats = v;
        break;
    case SO_REUSE_PORT:
        cfg->reuse_port = 1;
        break;
    case SO_ACCESS_LOG:
        /* Opened by the caller (ss_server_create), which names a bad path;
         * "-" is standard error. */
        rc = file_name(v, &cfg->access_log, why, sizeof why);
        break;
    case SO_MAX_PER_SOURCE:
        rc = opts_count(v, 0, 1000000, &n, why, sizeof why);
        cfg->max_per_source = (int)n;
        break;
    case SO_RATE:
        rc = opts_rate(v, &cfg->rate, &cfg->rate_burst, why, sizeof why);
        break;
    case SO_ALLOW:
    case SO_DENY:
        rc = cidr_list(v, c == SO_ALLOW ? &cfg->allow : &cfg->deny, why, sizeof why);
        break;
    case SO_SOURCE_PREFIX:
        rc = opts_prefixes(v, &cfg->source_prefix_v4, &cfg->source_prefix_v6, why, sizeof why);
        break;
    case SO_SOURCE_TABLE:
        rc = opts_count(v, 64, 1 << 24, &n, why, sizeof why);
        cfg->source_table_size = (int)n;
        break;
    case SO_UDP_BUDGET:
        rc = opts_size(v, 0, 1ULL << 40, &cfg->udp_budget, why, sizeof why);
        break;
    case SO_UDP_AMPLIFICATION:
        rc = opts_count(v, 0, 1000, &n, why, sizeof why);
        cfg->udp_amplification = (unsigned)n;
        break;
    case SO_INETD:
        o->inetd = 1;
        break;
    case 'v':
        cfg->log_level = SS_LOG_DEBUG;
        break;
    case 'q':
        cfg->log_level = SS_LOG_WARN;
        break;
    default:
        return fail(err, cap, "internal: unhandled option %d", c);
    }
    return rc < 0 ? bad_value(name, v, why, err, cap) : 0;
}

/* --proxy-from needs --proxy-protocol: trusting proxies means nothing when
 * no header is read. */
static int serve_proxy(const ss_config_t *cfg, char *err, size_t cap)
{
    if (cfg->proxy_from && cfg->proxy_protocol == SS_PROXY_NONE)
        return fail(err, cap, "--proxy-from needs --proxy-protocol");
    return 0;
}

/* The TLS options go together: a key or a client CA needs a certificate. */
static int serve_tls(const ss_config_t *cfg, char *err, size_t cap)
{
    if ((cfg->tls.key_file || cfg->tls.ca_file) && !cfg->tls.cert_file)
        return fail(err, cap, "--tls-key and --tls-client-ca need --tls-cert");
    return 0;
}

static int serve_operands(serve_opts_t *o, int argc, char **argv, char *err, size_t cap)
{
    if (optind >= argc) return fail(err, cap, "missing SERVICE (see --help for the list)");
    o->service = argv[optind++];
    if (argc - optind > OPTS_MAX_ADDRS)
        return fail(err, cap, "too many addresses (at most %d)", OPTS_MAX_ADDRS);
    while (optind < argc) o->addrs[o->naddrs++] = argv[optind++];
    if (o->inetd && o->naddrs)
        return fail(err, cap, "--inetd takes no ADDRESS (the socket is standard input)");
    if (o->inetd && (o->user || o->group))
        return fail(err, cap,
                    "--user and --group do not go with --inetd (inetd.conf's user field, or "
                    "User= in the unit, says who runs it)");
    return 0;
}

int opts_parse_serve(int argc, char **argv, serve_opts_t *o, char *err, size_t errcap)
{
    static const opts_spec_t spec = {":m:w:vqhV", serve_longopts, serve_option};
    memset(o, 0, sizeof *o);
    ss_config_init(&o->cfg);
    int rc = parse_options(&spec, o, argc, argv, err, errcap);
    if (rc != OPTS_OK) return rc;
    if (serve_tls(&o->cfg, err, errcap) < 0 || serve_proxy(&o->cfg, err, errcap) < 0)
        return OPTS_USAGE;
    return serve_operands(o, argc, argv, err, errcap) < 0 ? OPTS_USAGE : OPTS_OK;
}

/* ------------------------------------------------- TLS client options */

/* The TLS client options `send` and `bench` share: --tls-ca, --insecure,
 * --tls-cert, --tls-key and --sni, each setting one ss_tls_config_t field. */
enum { TLS_CA = 200, TLS_INSECURE, TLS_CERT, TLS_KEY, TLS_SNI };

/* One option a line, as in the arrays they go in. */
// clang-format off
#define TLS_CLIENT_LONGOPTS                                                                        \
    {"tls-ca", required_argument, NULL, TLS_CA},                                                   \
    {"insecure", no_argument, NULL, TLS_INSECURE},                                                 \
    {"tls-cert", required_argument, NULL, TLS_CERT},                                               \
    {"tls-key", required_argument, NULL, TLS_KEY},                                                 \
    {"sni", required_argument, NULL, TLS_SNI}
// clang-format on

/* Sets the field of option c. Returns 1 when c is a TLS option (0 done, or
 * -1 with why filled through *rc), 0 when it is not one of them. */
static int tls_client_option(ss_tls_config_t *t, int c, const char *v, int *rc, char *why,
                             size_t cap)
{
    switch (c) {
    case TLS_CA:
        *rc = file_name(v, &t->ca_file, why, cap);
        return 1;
    case TLS_INSECURE:
        t->insecure = 1;
        return 1;
    case TLS_CERT:
        *rc = file_name(v, &t->cert_file, why, cap);
        return 1;
    case TLS_KEY:
        *rc = file_name(v, &t->key_file, why, cap);
        return 1;
    case TLS_SNI:
        *rc = file_name(v, &t->server_name, why, cap);
        if (*rc == 0 && strlen(v) > 253) *rc = fail(why, cap, "longer than a host name");
        return 1;
    default:
        return 0;
    }
}

/* --insecure verifies nothing, so a CA to verify with contradicts it; a key
 * goes with its certificate. TLS options need a tls:// address. */
static int tls_client_check(const ss_tls_config_t *t, const char *address, char *err, size_t cap)
{
    int any = t->ca_file || t->insecure || t->cert_file || t->key_file || t->server_name;
    if (t->insecure && t->ca_file)
        return fail(err, cap, "--insecure and --tls-ca exclude each other");
    if (t->key_file && !t->cert_file) return fail(err, cap, "--tls-key needs --tls-cert");
    if (any && strncmp(address, "tls://", 6) != 0)
        return fail(err, cap, "the TLS options need a tls:// address");
    return OPTS_OK;
}

/* ------------------------------------------------------------ send */

enum {
    SE_TIME = 256,
    SE_RAW,
    SE_MAXBYTES,
    SE_PROXY,
};

static const struct option send_longopts[] = {
    {"timeout", required_argument, NULL, 't'},
    {"retries", required_argument, NULL, 'r'},
    {"no-reply", no_argument, NULL, 'n'},
    {"crlf", no_argument, NULL, 'C'},
    {"time", no_argument, NULL, SE_TIME},
    {"raw", no_argument, NULL, SE_RAW},
    {"max-bytes", required_argument, NULL, SE_MAXBYTES},
    TLS_CLIENT_LONGOPTS,
    {"proxy", required_argument, NULL, SE_PROXY},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int send_option(void *p, int c, const char *v, char *err, size_t cap)
{
    send_opts_t *o = p;
    char why[96];
    long n = 0;
    int rc = 0;
    if (tls_client_option(&o->tls, c, v, &rc, why, sizeof why))
        return rc < 0 ? bad_value(long_name(send_longopts, c), v, why, err, cap) : 0;
    switch (c) {
    case 't':
        rc = opts_duration_ms(v, DAY_MS, &o->timeout_ms, why, sizeof why);
        if (rc == 0 && o->timeout_ms == 0) rc = fail(why, sizeof why, "must be above 0");
        break;
    case 'r':
        rc = opts_count(v, 0, 100, &n, why, sizeof why);
        o->retries = (int)n;
        break;
    case 'n':
        o->no_reply = 1;
        break;
    case 'C':
        o->crlf = 1;
        break;
    case SE_TIME:
        o->time = 1;
        break;
    case SE_RAW:
        o->raw = 1;
        break;
    case SE_MAXBYTES:
        rc = opts_size(v, 1, 1ULL << 50, &o->max_bytes, why, sizeof why);
        break;
    case SE_PROXY:
        rc = opts_proxy_version(v, 0, &o->proxy, why, sizeof why);
        break;
    default:
        return fail(err, cap, "internal: unhandled option %d", c);
    }
    return rc < 0 ? bad_value(long_name(send_longopts, c), v, why, err, cap) : 0;
}

int opts_parse_send(int argc, char **argv, send_opts_t *o, char *err, size_t errcap)
{
    static const opts_spec_t spec = {":t:r:nChV", send_longopts, send_option};
    memset(o, 0, sizeof *o);
    o->timeout_ms = SEND_DEFAULT_TIMEOUT_MS;
    o->retries = SEND_DEFAULT_RETRIES;
    int rc = parse_options(&spec, o, argc, argv, err, errcap);
    if (rc != OPTS_OK) return rc;
    if (optind >= argc) return fail(err, errcap, "missing ADDRESS (see --help)");
    o->address = argv[optind++];
    o->messages = argv + optind;
    o->nmessages = argc - optind;
    if (o->no_reply && (o->time || o->max_bytes))
        return fail(err, errcap, "--no-reply cannot be combined with --time or --max-bytes");
    if (o->proxy && strncmp(o->address, "tcp://", 6) != 0)
        return fail(err, errcap, "--proxy needs a tcp:// address");
    return tls_client_check(&o->tls, o->address, err, errcap);
}

/* ------------------------------------------------------------ bench */

enum { BE_PROXY = 256, BE_PROGRESS };

static const struct option bench_longopts[] = {
    {"pattern", required_argument, NULL, 'p'},
    {"connections", required_argument, NULL, 'c'},
    {"threads", required_argument, NULL, 't'},
    {"duration", required_argument, NULL, 'd'},
    {"warmup", required_argument, NULL, 'w'},
    {"size", required_argument, NULL, 's'},
    {"pipeline", required_argument, NULL, 'P'},
    {"rate", required_argument, NULL, 'r'},
    {"timeout", required_argument, NULL, 'T'},
    {"interval", required_argument, NULL, 'i'},
    {"json", no_argument, NULL, 'j'},
    {"proxy", required_argument, NULL, BE_PROXY},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"progress", no_argument, NULL, BE_PROGRESS},
    TLS_CLIENT_LONGOPTS,
    {NULL, 0, NULL, 0},
};

/* A duration of bench, which has a floor: a run of 0 s measures nothing,
 * and an interval below 10 ms would be mostly the clock's own noise. */
static int bench_seconds(const char *v, int64_t min_ms, int64_t *out, char *why, size_t cap)
{
    if (opts_duration_ms(v, BENCH_MAX_MS, out, why, cap) < 0) return -1;
    if (*out < min_ms) return fail(why, cap, "too small (at least %lld ms)", (long long)min_ms);
    return 0;
}

/* A rate in requests/s: any decimal form strtod(3) reads, 0 to 1e9. */
static int bench_rate(const char *v, double *out, char *why, size_t cap)
{
    char *end;
    errno = 0;
    double r = strtod(v, &end);
    if (errno || end == v || *end || !(r >= 0 && r <= 1e9))
        return fail(why, cap, "not a rate (requests/s, 0 to 1e9)");
    *out = r;
    return 0;
}

static int bench_option(void *p, int c, const char *v, char *err, size_t cap)
{
    bench_args_t *o = p;
    char why[96];
    int rc = 0;
    if (tls_client_option(&o->tls, c, v, &rc, why, sizeof why))
        return rc < 0 ? bad_value(long_name(bench_longopts, c), v, why, err, cap) : 0;
    switch (c) {
    case 'p':
        o->pattern = v; /* checked by the caller, against the address too */
        break;
    case 'c':
        rc = opts_count(v, 1, 1000000, &o->connections, why, sizeof why);
        break;
    case 't':
        rc = opts_count(v, 1, 256, &o->threads, why, sizeof why);
        break;
    case 'P':
        rc = opts_count(v, 1, 1024, &o->pipeline, why, sizeof why);
        break;
    case 's':
        rc = opts_size(v, 1, 1u << 20, &o->size, why, sizeof why);
        break;
    case 'd':
        rc = bench_seconds(v, 1, &o->duration_ms, why, sizeof why);
        break;
    case 'w':
        rc = bench_seconds(v, 0, &o->warmup_ms, why, sizeof why);
        break;
    case 'T':
        rc = bench_seconds(v, 1, &o->timeout_ms, why, sizeof why);
        break;
    case 'i':
        rc = bench_seconds(v, 10, &o->interval_ms, why, sizeof why);
        break;
    case 'r':
        rc = bench_rate(v, &o->rate, why, sizeof why);
        break;
    case 'j':
        o->json = 1;
        break;
    case BE_PROXY:
        rc = opts_proxy_version(v, 0, &o->proxy, why, sizeof why);
        break;
    case 'q':
        o->quiet = 1;
        break;
    case BE_PROGRESS:
        o->progress = 1;
        break;
    default:
        return fail(err, cap, "internal: unhandled option %d", c);
    }
    return rc < 0 ? bad_value(long_name(bench_longopts, c), v, why, err, cap) : 0;
}

int opts_parse_bench(int argc, char **argv, bench_args_t *o, char *err, size_t errcap)
{
    static const opts_spec_t spec = {":p:c:t:d:w:s:P:r:T:i:jqhV", bench_longopts, bench_option};
    *o = (bench_args_t){.connections = 16,
                        .threads = 1,
                        .pipeline = 1,
                        .size = 64,
                        .duration_ms = 10000,
                        .timeout_ms = 2000,
                        .interval_ms = 1000};
    int rc = parse_options(&spec, o, argc, argv, err, errcap);
    if (rc != OPTS_OK) return rc;
    if (optind >= argc) return fail(err, errcap, "missing ADDRESS (see --help)");
    o->address = argv[optind++];
    if (optind < argc) {
        char buf[256];
        return fail(err, errcap, "unexpected argument \"%s\" (bench takes one ADDRESS)",
                    shown(argv[optind], 40, buf, sizeof buf));
    }
    if (o->quiet && o->progress)
        return fail(err, errcap, "--quiet and --progress exclude each other");
    return tls_client_check(&o->tls, o->address, err, errcap);
}
