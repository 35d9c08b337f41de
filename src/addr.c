/* addr.c - address text: "tcp://HOST:PORT", "udp://HOST:PORT",
 * "tls://HOST:PORT" (TCP underneath), "unix:PATH", "unixgram:PATH". Parsing is strict: every
 * malformed text gets SS_EADDR and a message saying what is wrong, never a silently different
 * address. */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static const struct {
    const char *prefix;
    ss_transport_t t;
} schemes[] = {
    {"tcp://", SS_TCP}, {"udp://", SS_UDP},
    {"tls://", SS_TLS}, {"unixgram:", SS_UNIXGRAM}, /* before "unix:", which is its prefix */
    {"unix:", SS_UNIX},
};

int ss__is_dgram(ss_transport_t t)
{
    return t == SS_UDP || t == SS_UNIXGRAM;
}

int ss__sock_type(ss_transport_t t)
{
    return ss__is_dgram(t) ? SOCK_DGRAM : SOCK_STREAM;
}

static int bad(const char *text, const char *why)
{
    ss__fail(SS_EADDR, "address \"%.100s\": %s", text, why);
    return SS_EADDR; /* literally, so every error path is plainly negative (clang-analyzer) */
}

static int parse_unix(ss_addr_t *out, const char *text, const char *path)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;
    size_t n = strlen(path);
    if (n == 0) return bad(text, "empty socket path");
    /* sun_path holds 108 bytes with the NUL (unix(7)); an abstract name
     * ('@' stands for the leading NUL) has the same room without the NUL. */
    if (n >= sizeof un->sun_path) return bad(text, "socket path longer than 107 bytes");
    memset(un, 0, sizeof *un);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n);
    if (path[0] == '@') {
        if (n == 1) return bad(text, "empty abstract socket name");
        un->sun_path[0] = '\0';
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        out->len = (socklen_t)sizeof *un;
    }
    return 0;
}

/* A port: 1-5 decimal digits, 0-65535, nothing else. */
static int parse_port(const char *text, const char *p, int *port)
{
    if (*p == '\0') return bad(text, "missing port after ':'");
    long v = 0;
    for (const char *q = p; *q; q++) {
        if (*q < '0' || *q > '9') return bad(text, "port must be a number 0-65535");
        v = v * 10 + (*q - '0');
        if (v > 65535 || q - p >= 5) return bad(text, "port out of range 0-65535");
    }
    *port = (int)v;
    return 0;
}

/* Splits "HOST:PORT" or "[V6]:PORT" into host (unbracketed) and port. */
static int split_hostport(const char *text, const char *hp, char *host, size_t cap, int *port)
{
    const char *colon;
    const char *h = hp;
    size_t hl;
    if (*hp == '[') {
        const char *close = strchr(hp, ']');
        if (!close) return bad(text, "missing ']' after IPv6 address");
        if (close[1] != ':') return bad(text, "missing ':PORT' after ']'");
        h = hp + 1;
        hl = (size_t)(close - h);
        if (hl == 0) return bad(text, "empty IPv6 address in brackets");
        colon = close + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon) return bad(text, "missing ':PORT'");
        hl = (size_t)(colon - hp);
        if (memchr(hp, ':', hl)) return bad(text, "IPv6 address must be in brackets");
    }
    if (hl >= cap) return bad(text, "host name too long");
    memcpy(host, h, hl);
    host[hl] = '\0';
    return parse_port(text, colon + 1, port);
}

/* Rejects hosts getaddrinfo(3) would read in a surprising way: inet_aton(3)
 * forms such as "127.1" or "2130706433", and characters no name may hold. */
static int check_host(const char *text, const char *host, int bracketed)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (bracketed) {
        char tmp[256];
        size_t n = strcspn(host, "%");
        if (n >= sizeof tmp) return bad(text, "invalid IPv6 address");
        memcpy(tmp, host, n);
        tmp[n] = '\0';
        if (inet_pton(AF_INET6, tmp, buf) != 1) return bad(text, "invalid IPv6 address");
        return 0;
    }
    if (host[strspn(host, "0123456789.")] == '\0' && host[0]) {
        if (inet_pton(AF_INET, host, buf) != 1) return bad(text, "invalid IPv4 address");
        return 0;
    }
    for (const char *p = host; *p; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '.' || *p == '-' || *p == '_';
        if (!ok) return bad(text, "invalid character in host name");
    }
    return 0;
}

static int from_ai(ss_addr_t *out, const struct addrinfo *ai, ss_transport_t t)
{
    memset(out, 0, sizeof *out);
    out->transport = t;
    out->len = ai->ai_addrlen;
    memcpy(&out->sa, ai->ai_addr, ai->ai_addrlen);
    return 0;
}

/* getaddrinfo(3) as a job for ss_offload: a name lookup blocks for as long as
 * DNS takes, which in event mode would stop every session of the loop. */
typedef struct gai_job {
    const char *host, *serv;
    const struct addrinfo *hints;
    struct addrinfo *res;
    int rc, err; /* err: the helper thread's errno, for EAI_SYSTEM */
} gai_job;

static void gai_run(void *arg)
{
    gai_job *j = arg;
    j->rc = getaddrinfo(j->host, j->serv, j->hints, &j->res);
    j->err = errno;
}

/* A literal address is parsed in place (AI_NUMERICHOST never blocks); only
 * a name goes off the loop. */
static int lookup(const char *host, const char *serv, const struct addrinfo *hints,
                  struct addrinfo **res)
{
    struct addrinfo numeric = *hints;
    numeric.ai_flags |= AI_NUMERICHOST;
    int g = getaddrinfo(host, serv, &numeric, res);
    if (g != EAI_NONAME || !host) return g;
    gai_job j = {.host = host, .serv = serv, .hints = hints};
    int rc = ss_offload(gai_run, &j);
    if (rc < 0) {
        errno = -rc;
        return EAI_SYSTEM;
    }
    *res = j.res;
    if (j.rc == EAI_SYSTEM) errno = j.err;
    return j.rc;
}

/* The next entry of family fam from ai on, or NULL. */
static const struct addrinfo *next_of(const struct addrinfo *ai, int fam)
{
    while (ai && ai->ai_family != fam) ai = ai->ai_next;
    return ai;
}

/* The first IPv4 or IPv6 entry from ai on, or NULL. */
static const struct addrinfo *next_ip(const struct addrinfo *ai)
{
    while (ai && ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ai = ai->ai_next;
    return ai;
}

/* One address: the first IPv4 one, else the first IPv6 one, as Go's net
 * package listens on a name (net/ipsock.go, first IPv4). The resolver's
 * order between the families depends on /etc/hosts, /etc/gai.conf and the
 * interfaces configured (RFC 6724 puts ::1 before 127.0.0.1), so taking its
 * first answer would make the same text name different sockets on different
 * machines. */
static int pick_one(const struct addrinfo *res, const struct addrinfo **out)
{
    const struct addrinfo *ai = next_of(res, AF_INET);
    if (!ai) ai = next_of(res, AF_INET6);
    if (!ai) return 0;
    out[0] = ai;
    return 1;
}

/* Every address, ordered as RFC 8305 section 4 says: the resolver's order
 * (RFC 6724) within each family, the families interleaved one by one,
 * starting with the family of the resolver's first answer. */
static int interleave(const struct addrinfo *res, const struct addrinfo **out, int max)
{
    const struct addrinfo *first = next_ip(res);
    if (!first) return 0;
    int fam[2] = {first->ai_family, first->ai_family == AF_INET ? AF_INET6 : AF_INET};
    const struct addrinfo *cur[2] = {first, next_of(res, fam[1])};
    int n = 0;
    for (int k = 0; n < max && (cur[0] || cur[1]); k ^= 1) {
        if (!cur[k]) continue;
        out[n++] = cur[k];
        cur[k] = next_of(cur[k]->ai_next, fam[k]);
    }
    return n;
}

int ss__addr_order(const struct addrinfo *res, ss__addr_pick_t pick, const struct addrinfo **out,
                   int max)
{
    if (max < 1) return 0;
    return pick == SS__ADDR_ONE ? pick_one(res, out) : interleave(res, out, max);
}

/* Copies the addresses ss__addr_order picks from res into out; the
 * pointer array is as long as the list, so max bounds nothing else. */
static int fill(const struct addrinfo *res, ss_transport_t t, ss__addr_pick_t pick, ss_addr_t *out,
                int max)
{
    int len = 0;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) len++;
    /* An array of pointers into res, one per entry. */
    const struct addrinfo **picked =
        malloc(sizeof *picked * (size_t)(len ? len : 1)); // NOLINT(bugprone-sizeof-expression)
    if (!picked) return -ENOMEM;
    int n = ss__addr_order(res, pick, picked, max < len ? max : len);
    for (int i = 0; i < n; i++) from_ai(&out[i], picked[i], t);
    free(picked);
    return n;
}

static int resolve_ip(const char *text, const char *hp, ss_transport_t t, ss__addr_pick_t pick,
                      ss_addr_t *out, int max)
{
    char host[256];
    int port = 0;
    int rc = split_hostport(text, hp, host, sizeof host, &port);
    if (rc < 0) return rc;
    rc = check_host(text, host, *hp == '[');
    if (rc < 0) return rc;
    char serv[8];
    snprintf(serv, sizeof serv, "%d", port);
    struct addrinfo hints = {.ai_socktype = ss__sock_type(t),
                             .ai_flags = AI_NUMERICSERV | (host[0] ? 0 : AI_PASSIVE)};
    hints.ai_family = host[0] ? AF_UNSPEC : AF_INET;
    struct addrinfo *res = NULL;
    int g = lookup(host[0] ? host : NULL, serv, &hints, &res);
    if (g != 0) {
        if (g == EAI_SYSTEM) return ss__fail(ss__errno(), "resolve \"%.100s\"", host);
        return ss__fail_plain(SS_ERESOLVE, "resolve \"%.100s\": %s", host, gai_strerror(g));
    }
    int n = fill(res, t, pick, out, max);
    freeaddrinfo(res);
    if (n < 0) return ss__fail(n, "resolve \"%.100s\"", host);
    if (n == 0) return ss__fail(SS_ERESOLVE, "resolve \"%.100s\": no IPv4 or IPv6 address", host);
    return n;
}

static int resolve(const char *text, ss__addr_pick_t pick, ss_addr_t *out, int max)
{
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t pl = strlen(schemes[i].prefix);
        if (strncmp(text, schemes[i].prefix, pl) != 0) continue;
        const char *rest = text + pl;
        ss_transport_t t = schemes[i].t;
        if (t == SS_UNIX || t == SS_UNIXGRAM) {
            memset(out, 0, sizeof *out);
            out->transport = t;
            int rc = parse_unix(out, text, rest);
            return rc < 0 ? rc : 1;
        }
        return resolve_ip(text, rest, t, pick, out, max);
    }
    return bad(text, "expected tcp://HOST:PORT, udp://HOST:PORT, tls://HOST:PORT, unix:PATH or "
                     "unixgram:PATH");
}

int ss_addr_resolve(const char *text, ss_addr_t *out, int max)
{
    if (!text || !out || max < 1) return ss__fail(SS_EUSAGE, "ss_addr_resolve");
    return resolve(text, SS__ADDR_ALL, out, max);
}

int ss_addr_parse(const char *text, ss_addr_t *out)
{
    if (!text || !out) return ss__fail(SS_EUSAGE, "ss_addr_parse");
    int n = resolve(text, SS__ADDR_ONE, out, 1);
    return n < 0 ? n : 0;
}

static const char *scheme_of(ss_transport_t t)
{
    switch (t) {
    case SS_TCP:
        return "tcp://";
    case SS_UDP:
        return "udp://";
    case SS_UNIX:
        return "unix:";
    case SS_UNIXGRAM:
        return "unixgram:";
    case SS_TLS:
        return "tls://";
    }
    return NULL;
}

static int finish_fmt(int n, size_t cap)
{
    if (n < 0) return SS_EADDR;
    return (size_t)n >= cap ? -ENOSPC : n;
}

static int format_unix(const ss_addr_t *a, const char *scheme, char *buf, size_t cap)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)&a->sa;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    size_t n = a->len > off ? a->len - off : 0;
    if (n > sizeof un->sun_path) n = sizeof un->sun_path;
    if (n > 0 && un->sun_path[0] == '\0') /* abstract: '@' and exactly n-1 bytes */
        return finish_fmt(snprintf(buf, cap, "%s@%.*s", scheme, (int)(n - 1), un->sun_path + 1),
                          cap);
    return finish_fmt(
        snprintf(buf, cap, "%s%.*s", scheme, (int)strnlen(un->sun_path, n), un->sun_path), cap);
}

int ss_addr_format(const ss_addr_t *a, char *buf, size_t cap)
{
    const char *scheme = a ? scheme_of(a->transport) : NULL;
    if (!scheme || !buf || cap == 0) return SS_EADDR;
    int fam = a->sa.ss_family;
    if (fam == AF_UNIX) return format_unix(a, scheme, buf, cap);
    /* IPv4, and IPv6 without a scope: our own text (RFC 5952, the same as
     * getnameinfo(3)'s: tests/lib/test_extra.c compares them on 20,000
     * addresses, fuzz/fuzz_addr.c on any), at a fraction of getnameinfo's
     * cost, which a log or access-log line paid twice. A scope is named by
     * its interface: getnameinfo's. The lengths are getnameinfo's checks. */
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->sa;
    if ((fam == AF_INET && a->len >= sizeof(struct sockaddr_in)) ||
        (fam == AF_INET6 && a->len >= sizeof *in6 && in6->sin6_scope_id == 0)) {
        char text[SS_ADDRSTRLEN];
        ss__addr_format_safe(a, text, sizeof text);
        if (text[0]) return finish_fmt(snprintf(buf, cap, "%s", text), cap);
    }
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    char serv[8];
    int g = getnameinfo((const struct sockaddr *)&a->sa, a->len, host, sizeof host, serv,
                        sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
    if (g != 0) {
        buf[0] = '\0';
        return SS_EADDR;
    }
    if (fam == AF_INET6)
        return finish_fmt(snprintf(buf, cap, "%s[%s]:%s", scheme, host, serv), cap);
    return finish_fmt(snprintf(buf, cap, "%s%s:%s", scheme, host, serv), cap);
}

/* ------------------------------------------------ async-signal-safe form */

typedef struct outbuf {
    char *p;
    size_t n, cap;
    int full;
} outbuf;

static void out_str(outbuf *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (o->n + 1 >= o->cap) {
            o->full = 1;
            return;
        }
        o->p[o->n++] = s[i];
    }
}

static void out_num(outbuf *o, unsigned long v, unsigned base)
{
    char d[24];
    size_t k = sizeof d;
    do d[--k] = "0123456789abcdef"[v % base];
    while ((v /= base) != 0 && k > 0);
    out_str(o, d + k, sizeof d - k);
}

static void out_ipv4(outbuf *o, const unsigned char *b)
{
    for (int i = 0; i < 4; i++) {
        if (i) out_str(o, ".", 1);
        out_num(o, b[i], 10);
    }
}

/* RFC 5952's text, as inet_ntop(3) writes it: lower-case hexadecimal, the
 * longest run of two or more zero groups (the first of equals) as "::",
 * and the IPv4 tail of ::ffff:a.b.c.d and ::a.b.c.d. */
static void out_ipv6(outbuf *o, const unsigned char *b)
{
    unsigned w[8];
    for (int i = 0; i < 8; i++) w[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
    int best = -1, bestlen = 0;
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && w[j] == 0) j++;
        if (j - i > bestlen && j - i >= 2) best = i, bestlen = j - i;
        i = j > i ? j : i + 1;
    }
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            out_str(o, "::", i == 0 ? 2 : 1);
            i += bestlen - 1;
            continue;
        }
        if (i == 6 && best == 0 && (bestlen == 6 || (bestlen == 5 && w[5] == 0xffff))) {
            out_ipv4(o, b + 12);
            return;
        }
        out_num(o, w[i], 16);
        if (i < 7) out_str(o, ":", 1);
    }
}

void ss__addr_format_safe(const ss_addr_t *a, char *buf, size_t cap)
{
    if (!buf || cap == 0) return;
    buf[0] = '\0';
    const char *scheme = a ? scheme_of(a->transport) : NULL;
    if (!scheme) return;
    outbuf o = {.p = buf, .cap = cap};
    out_str(&o, scheme, strlen(scheme));
    int fam = a->sa.ss_family;
    if (fam == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->sa;
        out_ipv4(&o, (const unsigned char *)&in->sin_addr);
        out_str(&o, ":", 1);
        out_num(&o, ntohs(in->sin_port), 10);
    } else if (fam == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->sa;
        out_str(&o, "[", 1);
        out_ipv6(&o, in6->sin6_addr.s6_addr);
        if (in6->sin6_scope_id) {
            out_str(&o, "%", 1);
            out_num(&o, in6->sin6_scope_id, 10);
        }
        out_str(&o, "]:", 2);
        out_num(&o, ntohs(in6->sin6_port), 10);
    } else if (fam == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)&a->sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t n = a->len > off ? a->len - off : 0;
        if (n > sizeof un->sun_path) n = sizeof un->sun_path;
        if (n > 0 && un->sun_path[0] == '\0') {
            out_str(&o, "@", 1);
            out_str(&o, un->sun_path + 1, n - 1);
        } else {
            out_str(&o, un->sun_path, strnlen(un->sun_path, n));
        }
    } else {
        o.full = 1;
    }
    buf[o.full ? 0 : o.n] = '\0';
}

int ss_addr_port(const ss_addr_t *a)
{
    if (a->sa.ss_family == AF_INET) return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
    if (a->sa.ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
    return -1;
}

int ss__is_tcp(ss_transport_t t)
{
    return t == SS_TCP || t == SS_TLS;
}
