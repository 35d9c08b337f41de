/* proxy_cidr.c - the PROXY protocol's trusted sources: who may send a
 * header (HAProxy's proxy-protocol.txt: a receiver must accept a
 * header only from the proxies it knows, its security considerations say,
 * or any client could claim any address). A list of networks in CIDR
 * notation (RFC 4632 section 3.1, RFC 4291 section 2.3), parsed once at
 * ss_server_create into the server's ss__proxy, and matched against each
 * connection's real address. */
#include "proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A prefix length: decimal, at most max. */
static int prefix_bits(const char *s, int max)
{
    if (!*s || strlen(s) > 3) return -1;
    int v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (*s - '0');
    }
    return v <= max ? v : -1;
}

/* One "ADDR" or "ADDR/BITS" (the text has no comma). */
static int parse_one(char *text, ss__cidr *out)
{
    char *slash = strchr(text, '/');
    if (slash) *slash = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, text, out->net) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, text, out->net) == 1)
        out->family = AF_INET6;
    else
        return -1;
    int max = out->family == AF_INET ? 32 : 128;
    out->bits = slash ? prefix_bits(slash + 1, max) : max;
    return out->bits < 0 ? -1 : 0;
}

int ss__cidr_list_parse(const char *text, ss__cidr *out, int max, char *why, size_t cap)
{
    int n = 0;
    const char *p = text ? text : "";
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char one[64];
        if (len == 0 || len >= sizeof one || n == max) {
            snprintf(why, cap, "%s", n == max ? "too many networks" : "an empty or too long entry");
            return -EINVAL;
        }
        memcpy(one, p, len);
        one[len] = '\0';
        if (parse_one(one, &out[n]) < 0) {
            snprintf(why, cap, "\"%.*s\" is not an address or a network (CIDR)", (int)len, p);
            return -EINVAL;
        }
        n++;
        if (!comma) return n;
        p = comma + 1;
    }
}

/* The address bytes of a (4 or 16) and its family; an IPv4-mapped IPv6
 * address (RFC 4291 section 2.5.5.2) is its IPv4 address. */
static const unsigned char *addr_bytes(const ss_addr_t *a, int *family)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (a->sa.ss_family == AF_INET) {
        *family = AF_INET;
        return (const unsigned char *)&((const struct sockaddr_in *)&a->sa)->sin_addr;
    }
    if (a->sa.ss_family != AF_INET6) return NULL;
    const unsigned char *b = ((const struct sockaddr_in6 *)&a->sa)->sin6_addr.s6_addr;
    *family = memcmp(b, mapped, 12) == 0 ? AF_INET : AF_INET6;
    return *family == AF_INET ? b + 12 : b;
}

static int in_net(const ss__cidr *n, const unsigned char *b)
{
    int full = n->bits / 8, rest = n->bits % 8;
    if (memcmp(n->net, b, (size_t)full) != 0) return 0;
    if (rest == 0) return 1;
    unsigned mask = (0xffu << (8 - rest)) & 0xffu;
    return ((n->net[full] ^ b[full]) & mask) == 0;
}

int ss__cidr_match(const ss__cidr *list, int n, const ss_addr_t *a)
{
    int family = 0;
    const unsigned char *b = addr_bytes(a, &family);
    if (!b) return 0;
    for (int i = 0; i < n; i++)
        if (list[i].family == family && in_net(&list[i], b)) return 1;
    return 0;
}

int ss_proxy_from_check(const char *list)
{
    ss__cidr *tmp = malloc(SS__PROXY_CIDRS_MAX * sizeof *tmp);
    if (!tmp) return ss__fail(-ENOMEM, "proxy_from");
    char why[128];
    int n = ss__cidr_list_parse(list, tmp, SS__PROXY_CIDRS_MAX, why, sizeof why);
    free(tmp);
    if (n < 0) return ss__fail_plain(n, "config: proxy_from: %s", why);
    return n;
}

int ss__proxy_new(const ss_config_t *cfg, ss__proxy **out)
{
    *out = NULL;
    if (cfg->proxy_protocol == SS_PROXY_NONE) /* a list given is still checked */
        return cfg->proxy_from && ss_proxy_from_check(cfg->proxy_from) < 0 ? -EINVAL : 0;
    if ((unsigned)cfg->proxy_protocol > SS_PROXY_ANY)
        return ss__fail(-EINVAL, "config: proxy_protocol %d", (int)cfg->proxy_protocol);
    ss__proxy *p = calloc(1, sizeof *p);
    if (!p) return ss__fail(-ENOMEM, "ss_server_create");
    p->accept = (unsigned)cfg->proxy_protocol; /* V1 = 1, V2 = 2, ANY = 3 */
    char why[128];
    const char *from = cfg->proxy_from ? cfg->proxy_from : SS__PROXY_FROM_DEFAULT;
    p->ncidr = ss__cidr_list_parse(from, p->cidr, SS__PROXY_CIDRS_MAX, why, sizeof why);
    if (p->ncidr < 0) {
        free(p);
        return ss__fail_plain(-EINVAL, "config: proxy_from: %s", why);
    }
    *out = p;
    return 0;
}
