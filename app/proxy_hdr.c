/* proxy_hdr.c - what a load balancer sends first on each connection it
 * makes to a server speaking the PROXY protocol (HAProxy's
 * proxy-protocol.txt): send --proxy and bench --proxy write it with the
 * connection's own addresses, so that `serve --proxy-protocol` can be
 * tried, tested and measured without a balancer. */
#include "proxy_hdr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Section 2.2: the 12 bytes that start every v2 header. */
static const unsigned char v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* An address's bytes (4 or 16, 0 for another family) and its port in
 * network order. */
static size_t addr_bytes(const struct sockaddr_storage *a, const void **bytes, const void **port)
{
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)a;
        *bytes = &in->sin_addr;
        *port = &in->sin_port;
        return 4;
    }
    if (a->ss_family != AF_INET6) return 0;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
    *bytes = &in6->sin6_addr;
    *port = &in6->sin6_port;
    return 16;
}

static unsigned port_of(const void *p)
{
    const unsigned char *b = p;
    return (unsigned)b[0] << 8 | b[1];
}

/* Section 2.1: "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n". */
static int v1(size_t w, const void *sb, const void *sp, const void *db, const void *dp,
              unsigned char *out, size_t cap)
{
    int af = w == 4 ? AF_INET : AF_INET6;
    char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
    if (!inet_ntop(af, sb, s, sizeof s) || !inet_ntop(af, db, d, sizeof d)) return -EAFNOSUPPORT;
    int n = snprintf((char *)out, cap, "PROXY %s %s %s %u %u\r\n", w == 4 ? "TCP4" : "TCP6", s, d,
                     port_of(sp), port_of(dp));
    return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

/* Section 2.2: the signature, version 2 and PROXY (0x21), TCP over IPv4
 * (0x11) or IPv6 (0x21), the length, then the addresses and the ports. */
static int v2(size_t w, const void *sb, const void *sp, const void *db, const void *dp,
              unsigned char *out, size_t cap)
{
    size_t len = 2 * w + 4;
    if (cap < 16 + len) return -ENOSPC;
    memcpy(out, v2_sig, sizeof v2_sig);
    out[12] = 0x21;
    out[13] = w == 4 ? 0x11 : 0x21;
    out[14] = 0;
    out[15] = (unsigned char)len;
    memcpy(out + 16, sb, w);
    memcpy(out + 16 + w, db, w);
    memcpy(out + 16 + 2 * w, sp, 2);
    memcpy(out + 18 + 2 * w, dp, 2);
    return (int)(16 + len);
}

int proxy_header(int version, const struct sockaddr_storage *src,
                 const struct sockaddr_storage *dst, unsigned char *out, size_t cap)
{
    const void *sb = NULL, *db = NULL, *sp = NULL, *dp = NULL;
    size_t w = addr_bytes(src, &sb, &sp);
    if (w == 0 || addr_bytes(dst, &db, &dp) != w) return -EAFNOSUPPORT;
    return version == 1 ? v1(w, sb, sp, db, dp, out, cap) : v2(w, sb, sp, db, dp, out, cap);
}
