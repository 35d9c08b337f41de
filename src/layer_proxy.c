/* layer_proxy.c - the PROXY protocol receiver as a connection layer
 * (internal.h, ss__layer; HAProxy's proxy-protocol.txt). It sits just above
 * the socket, below TLS, on every connection of a stream listener of a
 * server with ss_config_t.proxy_protocol set. Its start checks that the
 * connection comes from a trusted proxy (proxy_from), then reads the header
 * under its own deadline (ss__proxy_header_ms, 5 s), reading no more than
 * a v1 line's 107 bytes and, for a v2 header, exactly its length; bytes
 * read past the header are kept and given to the first reads above it
 * (section 2: the header is followed at once by the proxied data). The
 * header's addresses then become the connection's (ss_conn_peer,
 * ss_conn_local, the peer name of the log), and handler.c runs the
 * admission (verify_request) on them. After start, the layer only passes
 * bytes through. */
#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t ss__proxy_header_ms = 5000;

typedef struct proxy_layer {
    ss__layer base; /* first: the layer is where its state is */
    const ss__proxy *cfg;
    unsigned char head[128]; /* the header's first bytes; then those past it */
    unsigned char *big;      /* a longer v2 header while it is read */
    size_t have;             /* header bytes read */
    size_t rpos, rlen;       /* after start: head's bytes not yet read above */
    int checked;             /* the source was found trusted */
    char why[96];            /* the last failure, for the message */
    /* What PP2_TYPE_SSL said of the client's TLS session (section 2.2.5),
     * for ss_conn_proxy_tls_version and ss_conn_proxy_tls_cn. */
    int ssl;
    char ssl_version[32];
    char ssl_cn[128];
} proxy_layer;

static int fail(proxy_layer *p, int err, const char *why)
{
    snprintf(p->why, sizeof p->why, "%s", why);
    return err;
}

/* How many header bytes to hold: a v1 line's most until the header is
 * known to be v2 (section 2.2: 16 bytes and the length they give). */
static size_t header_want(const proxy_layer *p, const unsigned char *buf)
{
    if (p->have < 16 || buf[0] != 0x0D) return SS__PROXY_V1_MAX;
    size_t total = 16 + ((size_t)buf[14] << 8 | buf[15]);
    return total > SS__PROXY_V2_MAX ? SS__PROXY_V2_MAX : total;
}

/* A v2 header longer than head moves to a buffer of its own size. */
static unsigned char *header_buf(proxy_layer *p, size_t want)
{
    if (p->big || want <= sizeof p->head) return p->big ? p->big : p->head;
    p->big = malloc(want);
    if (p->big) memcpy(p->big, p->head, p->have);
    return p->big;
}

/* The header's addresses are the client's from now on; a LOCAL command
 * (or UNKNOWN, UNSPEC, UNIX) keeps the connection's own (section 2.2).
 * Behind a unix listener, the client's addresses are TCP ones. */
static void take_addresses(ss_conn_t *c, const ss__proxy_hdr *h)
{
    if (h->local) return;
    c->peer = h->src;
    c->local = h->dst;
    c->peer.transport = c->local.transport = c->transport == SS_UNIX ? SS_TCP : c->transport;
    c->peername[0] = '\0'; /* ss_conn_peername formats the new one */
}

/* The TLS TLV, kept for the accessors: the common name only of a client
 * certificate that the proxy verified (verify 0), as ss_conn_tls_peer
 * names only a verified peer. */
static void take_tls(proxy_layer *p, const ss__proxy_hdr *h)
{
    p->ssl = h->ssl && (h->ssl_client & SS__PP2_CLIENT_SSL);
    if (!p->ssl) return;
    memcpy(p->ssl_version, h->ssl_version, sizeof p->ssl_version);
    unsigned cert = SS__PP2_CLIENT_CERT_CONN | SS__PP2_CLIENT_CERT_SESS;
    if ((h->ssl_client & cert) && h->ssl_verify == 0)
        memcpy(p->ssl_cn, h->ssl_cn, sizeof p->ssl_cn);
}

/* Done: the bytes read past the header stay in head for recv. */
static int finish(proxy_layer *p, ss_conn_t *c, const ss__proxy_hdr *h, size_t n)
{
    take_addresses(c, h);
    take_tls(p, h);
    if (!p->big) {
        p->rlen = p->have - n;
        memmove(p->head, p->head + n, p->rlen);
    }
    free(p->big);
    p->big = NULL;
    return 0;
}

/* Only a known proxy may send a header, or any client could claim any
 * address (proxy-protocol.txt's security considerations; proxy_cidr.c). A
 * unix socket's clients are local, admitted by the file's permissions. */
static int trusted(const proxy_layer *p, const ss_conn_t *c)
{
    if (c->transport == SS_UNIX) return 1;
    return ss__cidr_match(p->cfg->cidr, p->cfg->ncidr, &c->peer);
}

static int proxy_start(ss__layer *l, ss_conn_t *c, int *events)
{
    proxy_layer *p = (proxy_layer *)l;
    if (!p->checked && !trusted(p, c)) return fail(p, -EPERM, "source not in proxy_from");
    p->checked = 1;
    for (;;) {
        unsigned char *buf = p->big ? p->big : p->head;
        size_t want = header_want(p, buf);
        if (!(buf = header_buf(p, want))) return fail(p, -ENOMEM, "out of memory");
        ssize_t r = l->below->ops->recv(l->below, buf + p->have, want - p->have, events);
        if (r < 0) return (int)r; /* -EAGAIN: wait for *events */
        if (r == 0) return p->have ? fail(p, -EPROTO, "truncated: the peer closed") : -ECONNRESET;
        p->have += (size_t)r;
        ss__proxy_hdr h;
        char why[80];
        int n = ss__proxy_parse(buf, p->have, p->cfg->accept, &h, why, sizeof why);
        if (n < 0) return fail(p, n, why);
        if (n > 0) return finish(p, c, &h, (size_t)n);
        if (p->have >= SS__PROXY_V2_MAX) return fail(p, -EMSGSIZE, "header too long");
    }
}

static ssize_t proxy_recv(ss__layer *l, void *buf, size_t n, int *events)
{
    proxy_layer *p = (proxy_layer *)l;
    if (p->rpos == p->rlen) return l->below->ops->recv(l->below, buf, n, events);
    size_t k = p->rlen - p->rpos < n ? p->rlen - p->rpos : n;
    memcpy(buf, p->head + p->rpos, k);
    p->rpos += k;
    return (ssize_t)k;
}

static ssize_t proxy_send(ss__layer *l, const void *buf, size_t n, int *events)
{
    return l->below->ops->send(l->below, buf, n, events);
}

static int proxy_shutdown(ss__layer *l, int *events)
{
    return l->below->ops->shutdown(l->below, events);
}

static void proxy_close(ss__layer *l)
{
    proxy_layer *p = (proxy_layer *)l;
    free(p->big);
    free(p);
}

static const char *proxy_info(const ss__layer *l, int what)
{
    const proxy_layer *p = (const proxy_layer *)l;
    return what == SS__INFO_ERROR && p->why[0] ? p->why : NULL;
}

/* No SS__LAYER_SHORT_READ_DRAINS: a read served from head says nothing of
 * the socket. */
static const ss__layer_ops proxy_ops = {
    .name = "proxy header",
    .result = SS__RESULT_PROXY,
    .start = proxy_start,
    .recv = proxy_recv,
    .send = proxy_send,
    .shutdown = proxy_shutdown,
    .close = proxy_close,
    .info = proxy_info,
    .refusal = SS_REFUSED_PROXY,
};

int ss__proxy_push(ss_conn_t *c, void *arg)
{
    proxy_layer *p = calloc(1, sizeof *p);
    if (!p) return ss__conn_fail(c, -ENOMEM, "proxy header");
    p->base.ops = &proxy_ops;
    p->cfg = arg;
    ss__conn_push(c, &p->base);
    p->base.deadline = ss_now_ms() + ss__proxy_header_ms;
    return 0;
}

/* ------------------------------------------------------- the accessors */

static const proxy_layer *find(const ss_conn_t *c)
{
    if (!c || (c->flags & SS__C_DGRAM)) return NULL;
    for (const ss__layer *l = c->top; l && l != &c->sock; l = l->below)
        if (l->ops == &proxy_ops) return (const proxy_layer *)l;
    return NULL;
}

const char *ss_conn_proxy_tls_version(const ss_conn_t *c)
{
    const proxy_layer *p = find(c);
    return p && p->ssl ? p->ssl_version : NULL;
}

const char *ss_conn_proxy_tls_cn(const ss_conn_t *c)
{
    const proxy_layer *p = find(c);
    return p && p->ssl ? p->ssl_cn : NULL;
}
