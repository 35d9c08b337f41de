/* fuzz_addr.c - the address parser and formatter (src/addr.c).
 *
 * Text inputs (first byte not NUL; the text ends at the first NUL): parsed
 * with ss_addr_parse and ss_addr_resolve, which must agree; every address
 * they return must format (ss_addr_format) to text that parses back to the
 * same bytes and formats to the same text again; formatting into every
 * smaller buffer must give -ENOSPC and a NUL-terminated prefix.
 * Raw inputs (first byte NUL): the bytes become an ss_addr_t, as a kernel
 * call might fill one; formatting must stay in bounds whatever they hold.
 * Both kinds also go through ss__addr_format_safe (the event mode's
 * async-signal-safe form), which must give ss_addr_format's text (with an
 * IPv6 scope as its number), or "" when the buffer is too small.
 *
 * No name is ever resolved: the target is linked with --wrap=getaddrinfo and
 * the wrapper below answers numeric hosts only, plus "localhost" as
 * /etc/hosts usually has it, so the fuzzer neither waits on DNS nor depends
 * on the machine's resolver. */
#include "fuzz.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#define MAX_RESOLVE 4

int __real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);

/* Appends the list b to the list a (each freed by freeaddrinfo node by node). */
static struct addrinfo *chain(struct addrinfo *a, struct addrinfo *b)
{
    if (!a) return b;
    struct addrinfo *t = a;
    while (t->ai_next) t = t->ai_next;
    t->ai_next = b;
    return a;
}

/* "localhost" is 127.0.0.1 then ::1, filtered by the hints' family. */
static int localhost(const char *service, const struct addrinfo *h, struct addrinfo **res)
{
    struct addrinfo *v4 = NULL, *v6 = NULL;
    int g4 =
        h->ai_family == AF_INET6 ? EAI_NONAME : __real_getaddrinfo("127.0.0.1", service, h, &v4);
    int g6 = h->ai_family == AF_INET ? EAI_NONAME : __real_getaddrinfo("::1", service, h, &v6);
    if (g4 != 0 && g6 != 0) return g4;
    *res = chain(v4, v6);
    return 0;
}

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res)
{
    struct addrinfo h = hints ? *hints : (struct addrinfo){.ai_family = AF_UNSPEC};
    h.ai_flags |= AI_NUMERICHOST;
    if (node && strcmp(node, "localhost") == 0) return localhost(service, &h, res);
    return __real_getaddrinfo(node, service, &h, res);
}

static int same_addr(const ss_addr_t *a, const ss_addr_t *b)
{
    return a->transport == b->transport && a->len == b->len && memcmp(&a->sa, &b->sa, a->len) == 0;
}

/* Formatting into each buffer smaller than the text: -ENOSPC and the text's
 * prefix, NUL-terminated, in exactly cap bytes (a heap block of that size, so
 * AddressSanitizer sees one byte too many). */
static void check_small_buffers(const ss_addr_t *a, const char *text, int len)
{
    for (int cap = 1; cap <= len + 1; cap++) {
        char *buf = malloc((size_t)cap);
        FUZZ_CHECK(buf != NULL, "out of memory");
        int rc = ss_addr_format(a, buf, (size_t)cap);
        if (cap <= len) {
            FUZZ_CHECK(rc == -ENOSPC, "cap %d of %d: %d", cap, len, rc);
            FUZZ_CHECK(strlen(buf) == (size_t)cap - 1 && memcmp(buf, text, (size_t)cap - 1) == 0,
                       "cap %d: \"%s\" is not a prefix of \"%s\"", cap, buf, text);
        } else {
            FUZZ_CHECK(rc == len && strcmp(buf, text) == 0, "cap %d: %d \"%s\"", cap, rc, buf);
        }
        free(buf);
    }
}

/* The async-signal-safe form (ss__addr_format_safe) into exactly cap bytes:
 * the whole text if it fits, else "". */
static void safe_into(const ss_addr_t *a, size_t cap, char *out, size_t outcap)
{
    char *buf = malloc(cap);
    FUZZ_CHECK(buf != NULL, "out of memory");
    ss__addr_format_safe(a, buf, cap);
    size_t n = strnlen(buf, cap);
    FUZZ_CHECK(n < cap, "safe form not terminated in %zu bytes", cap);
    FUZZ_CHECK(n < outcap, "safe form of %zu bytes", n);
    memcpy(out, buf, n + 1);
    free(buf);
}

/* The safe form is ss_addr_format's text (text, len; len < 0 if it has none),
 * except that an IPv6 scope is its number; "" in a buffer too small. */
static void check_safe(const ss_addr_t *a, const char *text, int len)
{
    char safe[SS_ADDRSTRLEN], want[SS_ADDRSTRLEN];
    safe_into(a, sizeof safe, safe, sizeof safe);
    if (len < 0) return; /* no reference: bounds only */
    snprintf(want, sizeof want, "%s", text);
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->sa;
    char *pct = strchr(want, '%'), *end = pct ? strchr(pct, ']') : NULL;
    if (a->sa.ss_family == AF_INET6 && pct && end) { /* "%lo]:80" -> "%1]:80" */
        char tail[SS_ADDRSTRLEN];
        snprintf(tail, sizeof tail, "%s", end);
        snprintf(pct, sizeof want - (size_t)(pct - want), "%%%u%s", (unsigned)in6->sin6_scope_id,
                 tail);
    }
    FUZZ_CHECK(strcmp(safe, want) == 0, "safe form \"%s\", ss_addr_format \"%s\"", safe, text);
    /* An abstract name with a NUL inside is written whole, NUL and all, so
     * it needs more room than its visible text: no cut to compare there. */
    const struct sockaddr_un *un = (const struct sockaddr_un *)&a->sa;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    size_t plen = a->len > off ? a->len - off : 0;
    if (plen > sizeof un->sun_path) plen = sizeof un->sun_path;
    if (a->sa.ss_family == AF_UNIX && plen > 1 && un->sun_path[0] == '\0' &&
        memchr(un->sun_path + 1, '\0', plen - 1))
        return;
    size_t n = strlen(want);
    for (size_t cap = 1; cap <= n + 1; cap++) {
        char got[SS_ADDRSTRLEN];
        safe_into(a, cap, got, sizeof got);
        FUZZ_CHECK(cap <= n ? got[0] == '\0' : strcmp(got, want) == 0,
                   "safe form in %zu bytes: \"%s\"", cap, got);
    }
}

/* A parsed address: format, parse the text, compare, format again. */
static void round_trip(const ss_addr_t *a, const char *input)
{
    char text[SS_ADDRSTRLEN], again[SS_ADDRSTRLEN];
    int len = ss_addr_format(a, text, sizeof text);
    FUZZ_CHECK(len > 0 && (size_t)len == strlen(text), "\"%s\" parsed but formats to %d (%s)",
               input, len, len < 0 ? ss_strerror(len) : text);
    ss_addr_t b;
    int rc = ss_addr_parse(text, &b);
    FUZZ_CHECK(rc == 0, "\"%s\" formats to \"%s\", which does not parse: %s", input, text,
               ss_errmsg());
    FUZZ_CHECK(same_addr(a, &b), "\"%s\" -> \"%s\" parses to another address", input, text);
    FUZZ_CHECK(ss_addr_format(&b, again, sizeof again) == len && strcmp(text, again) == 0,
               "\"%s\" -> \"%s\" -> \"%s\"", input, text, again);
    int port = ss_addr_port(a);
    int fam = a->sa.ss_family;
    FUZZ_CHECK(fam == AF_UNIX ? port == -1 : port >= 0 && port <= 65535, "port %d", port);
    FUZZ_CHECK((fam == AF_UNIX) == (a->transport == SS_UNIX || a->transport == SS_UNIXGRAM),
               "family %d for transport %d", fam, (int)a->transport);
    check_small_buffers(a, text, len);
    check_safe(a, text, len);
}

static void text_input(const char *text)
{
    ss_addr_t one, many[MAX_RESOLVE];
    int rc = ss_addr_parse(text, &one);
    int n = ss_addr_resolve(text, many, MAX_RESOLVE);
    if (rc < 0) {
        FUZZ_CHECK(rc == SS_EADDR || rc == SS_ERESOLVE, "\"%s\": %d", text, rc);
        FUZZ_CHECK(n == rc, "\"%s\": parse %d, resolve %d", text, rc, n);
        FUZZ_CHECK(strlen(ss_errmsg()) > 0, "\"%s\": no message", text);
        return;
    }
    FUZZ_CHECK(n >= 1 && n <= MAX_RESOLVE, "\"%s\": resolve gave %d", text, n);
    /* parse's one address (IPv4 first) is among resolve's, whose order is
     * RFC 8305's: the first only when it is also the first IPv4 one. */
    int found = 0;
    for (int i = 0; i < n; i++) found |= same_addr(&one, &many[i]);
    FUZZ_CHECK(found || n == MAX_RESOLVE, "\"%s\": parse's address not among resolve's", text);
    round_trip(&one, text);
    for (int i = 1; i < n; i++) {
        FUZZ_CHECK(many[i].transport == one.transport &&
                       ss_addr_port(&many[i]) == ss_addr_port(&one),
                   "\"%s\": result %d differs in transport or port", text, i);
        round_trip(&many[i], text);
    }
}

/* Raw bytes as an address: byte 1 the transport, 2-3 the length, then the
 * sockaddr (its family field included). Only bounds are checked: such bytes
 * need not describe an address that text can name. */
static void raw_input(const uint8_t *data, size_t size)
{
    if (size < 4) return;
    ss_addr_t a;
    memset(&a, 0, sizeof a);
    a.transport = (ss_transport_t)(data[1] % 6); /* 5: an unknown transport */
    a.len = (socklen_t)(((size_t)data[2] << 8 | data[3]) % (sizeof a.sa + 1));
    size_t n = size - 4 < sizeof a.sa ? size - 4 : sizeof a.sa;
    memcpy(&a.sa, data + 4, n);
    char text[SS_ADDRSTRLEN];
    int len = ss_addr_format(&a, text, sizeof text);
    FUZZ_CHECK(len < (int)sizeof text, "raw: %d", len);
    check_safe(&a, text, len);
    if (len < 0) return;
    FUZZ_CHECK((size_t)len == strlen(text), "raw: %d but \"%s\"", len, text);
    check_small_buffers(&a, text, len);
    /* The library never pairs an IP transport with a unix family or the
     * reverse; such a pair formats to text that names another address. */
    int unix_fam = a.sa.ss_family == AF_UNIX;
    if (unix_fam != (a.transport == SS_UNIX || a.transport == SS_UNIXGRAM)) return;
    ss_addr_t b;
    if (ss_addr_parse(text, &b) == 0) { /* what parses formats as it was read */
        char again[SS_ADDRSTRLEN];
        FUZZ_CHECK(ss_addr_format(&b, again, sizeof again) == len && strcmp(text, again) == 0,
                   "raw: \"%s\" -> \"%s\"", text, again);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    if (data[0] == '\0') {
        raw_input(data, size);
        return 0;
    }
    size_t n = strnlen((const char *)data, size);
    char *text = malloc(n + 1);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, n);
    text[n] = '\0';
    text_input(text);
    free(text);
    return 0;
}
