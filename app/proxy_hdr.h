/* proxy_hdr.h - the PROXY protocol header that send --proxy and bench
 * --proxy write first on each connection. */
#ifndef SS_PROXY_HDR_H
#define SS_PROXY_HDR_H

#include <stddef.h>
#include <sys/socket.h>

/* The longest header proxy_header() makes: v1 over IPv6 (107 bytes, HAProxy's
 * proxy-protocol.txt, section 2.1) and v2's 16 + 36 fit. */
#define PROXY_HDR_MAX 108

/* Builds in out (cap bytes) a PROXY protocol header of version 1 or 2 for a
 * TCP connection from src to dst (both AF_INET or both AF_INET6), as a load
 * balancer in front of a server sends it. Returns its length, or
 * -EAFNOSUPPORT for other families, -ENOSPC when cap is too small. */
int proxy_header(int version, const struct sockaddr_storage *src,
                 const struct sockaddr_storage *dst, unsigned char *out, size_t cap);

#endif
