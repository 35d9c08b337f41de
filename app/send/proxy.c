/* proxy.c - send --proxy v1|v2: what a load balancer sends first on each
 * connection it makes to a server speaking the PROXY protocol (HAProxy's
 * proxy-protocol.txt), here with the connection's own addresses, so that
 * `serve --proxy-protocol` can be tried and tested without a balancer. */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Section 2.2: the 12 bytes that start every v2 header. */
static const unsigned char v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* An address's bytes (4 or 16) and its port in network order. */
static size_t addr_bytes(const ss_addr_t *a, const void **bytes, const void **port)
{
    if (a->sa.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->sa;
        *bytes = &in->sin_addr;
        *port = &in->sin_port;
        return 4;
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->sa;
    *bytes = &in6->sin6_addr;
    *port = &in6->sin6_port;
    return 16;
}

/* Section 2.1: "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n". */
static int send_v1(ss_conn_t *c, const ss_addr_t *src, const ss_addr_t *dst)
{
    const void *sb, *db, *sp, *dp;
    size_t w = addr_bytes(src, &sb, &sp);
    addr_bytes(dst, &db, &dp);
    int af = w == 4 ? AF_INET : AF_INET6;
    char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
    if (!inet_ntop(af, sb, s, sizeof s) || !inet_ntop(af, db, d, sizeof d)) return -EINVAL;
    return ss_printf(c, "PROXY %s %s %s %d %d\r\n", w == 4 ? "TCP4" : "TCP6", s, d,
                     ss_addr_port(src), ss_addr_port(dst));
}

/* Section 2.2: the signature, version 2 and PROXY (0x21), TCP over IPv4
 * (0x11) or IPv6 (0x21), the length, then the addresses and ports. */
static int send_v2(ss_conn_t *c, const ss_addr_t *src, const ss_addr_t *dst)
{
    unsigned char h[16 + 36];
    const void *sb, *db, *sp, *dp;
    size_t w = addr_bytes(src, &sb, &sp);
    addr_bytes(dst, &db, &dp);
    size_t len = 2 * w + 4;
    memcpy(h, v2_sig, sizeof v2_sig);
    h[12] = 0x21;
    h[13] = w == 4 ? 0x11 : 0x21;
    h[14] = 0;
    h[15] = (unsigned char)len;
    memcpy(h + 16, sb, w);
    memcpy(h + 16 + w, db, w);
    memcpy(h + 16 + 2 * w, sp, 2);
    memcpy(h + 18 + 2 * w, dp, 2);
    return ss_write(c, h, 16 + len);
}

int send_proxy_header(ss_conn_t *c, int version)
{
    const ss_addr_t *src = ss_conn_local(c), *dst = ss_conn_peer(c);
    if (src->sa.ss_family != dst->sa.ss_family ||
        (src->sa.ss_family != AF_INET && src->sa.ss_family != AF_INET6))
        return -EAFNOSUPPORT;
    int rc = version == 1 ? send_v1(c, src, dst) : send_v2(c, src, dst);
    return rc < 0 ? rc : ss_flush(c);
}
