/* tls.h - what tls_ctx.c (the contexts) and layer_tls.c (the sessions)
 * share, with OpenSSL's types; only they include it. */
#ifndef SS_TLS_H
#define SS_TLS_H

#include "internal.h"

#include <openssl/ssl.h>

#define SS__ALPN_MAX 256 /* the wire form of an ALPN list we offer or accept */

struct ss__tls {
    SSL_CTX *ctx;
    int server;
    int insecure;                     /* client: no verification of the server */
    char server_name[256];            /* client: SNI and the name verified; "" the host */
    unsigned char alpn[SS__ALPN_MAX]; /* server: the protocols it accepts, wire form */
    int alpn_len;
};

/* The reason of OpenSSL's last queued error, for a message, and the queue
 * emptied (SSL_get_error(3ssl): it must be empty before the next call).
 * fallback when nothing is queued. */
const char *ss__tls_reason(const char *fallback);

#endif
