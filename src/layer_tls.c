/* layer_tls.c - a TLS session as a connection layer (internal.h, ss__layer;
 * OpenSSL 3). Its start is the handshake, recv and send are SSL_read and
 * SSL_write, shutdown sends close_notify. OpenSSL never touches the socket:
 * a BIO of ours reads and writes through the layer below (the socket, or a
 * PROXY-header layer under it), which never blocks; what it would wait for
 * comes back as SSL_ERROR_WANT_READ/WRITE (SSL_get_error(3ssl)), which this
 * layer returns as -EAGAIN with *events, and conn.c waits through the one
 * seam: the handshake never blocks an event loop, and runs under the
 * connection's deadlines and idle timeout like any read. TLS records make a
 * short read normal, so SS__LAYER_SHORT_READ_DRAINS is not set. */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tls_layer {
    ss__layer base; /* first: the layer is where its state is */
    SSL *ssl;
    int rd_events, wr_events; /* what the layer below waits for after -EAGAIN */
    int below_err;            /* the layer below's last error, not -EAGAIN */
    int failed;               /* a fatal error: no close_notify (SSL_shutdown(3ssl)) */
    char alpn[64];
    char peer[256];
    char why[192]; /* the last SS_ETLS failure, for the message */
} tls_layer;

/* ------------------------------------------------------------- the BIO */

/* The BIO's read and write call the layer below; -EAGAIN becomes a retry
 * (BIO_set_retry_read(3ssl)) that SSL_get_error reports as WANT_READ or
 * WANT_WRITE, and the events it asked for are kept for the wait. */
static int bio_read(BIO *b, char *buf, int n)
{
    tls_layer *t = BIO_get_data(b);
    ss__layer *below = t->base.below;
    int events = 0;
    BIO_clear_retry_flags(b);
    ssize_t r = below->ops->recv(below, buf, (size_t)n, &events);
    if (r >= 0) return (int)r;
    if (r == -EAGAIN) {
        t->rd_events = events ? events : POLLIN;
        BIO_set_retry_read(b);
    } else {
        t->below_err = (int)r;
    }
    return -1;
}

static int bio_write(BIO *b, const char *buf, int n)
{
    tls_layer *t = BIO_get_data(b);
    ss__layer *below = t->base.below;
    int events = 0;
    BIO_clear_retry_flags(b);
    ssize_t w = below->ops->send(below, buf, (size_t)n, &events);
    if (w >= 0) return (int)w;
    if (w == -EAGAIN) {
        t->wr_events = events ? events : POLLOUT;
        BIO_set_retry_write(b);
    } else {
        t->below_err = (int)w;
    }
    return -1;
}

/* Writes go straight down, so a flush has nothing to do; it must say it
 * succeeded, or the handshake fails (BIO_ctrl(3ssl), BIO_CTRL_FLUSH). */
static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void make_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ss_layer");
    if (!m) return;
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    bio_method = m;
}

/* ---------------------------------------------------------- the errors */

/* Why a session failed, as a person reads it: the verification's own
 * reason when the peer's certificate was refused (X509_STORE_CTX_get_error
 * (3ssl) through SSL_get_verify_result), else OpenSSL's reason. */
static int tls_failure(tls_layer *t)
{
    unsigned long e = ERR_peek_last_error();
    long v = SSL_get_verify_result(t->ssl);
    if (ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED && v != X509_V_OK) {
        snprintf(t->why, sizeof t->why, "certificate verify failed: %s",
                 X509_verify_cert_error_string(v));
        ERR_clear_error();
    } else {
        snprintf(t->why, sizeof t->why, "%s", ss__tls_reason("protocol error"));
    }
    return SS_ETLS;
}

/* The result of an SSL_* call that did not succeed, as a layer returns it
 * (SSL_get_error(3ssl)): WANT_READ/WRITE wait for what the layer below
 * asked; a close_notify received is the end of the stream; anything else is
 * fatal, the layer below's own error first (a reset peer is -ECONNRESET,
 * not a TLS failure). */
static int map_error(tls_layer *t, int ret, int *events)
{
    switch (SSL_get_error(t->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        *events = t->rd_events ? t->rd_events : POLLIN;
        return -EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        *events = t->wr_events ? t->wr_events : POLLOUT;
        return -EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        t->failed = 1;
        ERR_clear_error();
        return t->below_err ? t->below_err : -ECONNRESET;
    default:
        t->failed = 1;
        if (t->below_err) {
            ERR_clear_error();
            return t->below_err;
        }
        return tls_failure(t);
    }
}

/* Before each call: OpenSSL's queue must be empty (SSL_get_error(3ssl)).
 * It nearly always is (every failure path clears it), and ERR_peek_error
 * only reads the thread's queue, where ERR_clear_error writes all its 16
 * slots: 3.8 % of the server's CPU in a TLS echo-16 profile (perf). */
static void before(tls_layer *t)
{
    if (ERR_peek_error()) ERR_clear_error();
    t->below_err = 0;
}

/* ------------------------------------------------------------ the ops */

/* What the handshake agreed on, kept for the accessors: the ALPN protocol
 * (SSL_get0_alpn_selected(3ssl)) and the subject of a verified peer
 * certificate (RFC 2253, X509_NAME_print_ex(3ssl)). */
static void note_session(tls_layer *t)
{
    const unsigned char *p = NULL;
    unsigned int n = 0;
    SSL_get0_alpn_selected(t->ssl, &p, &n);
    if (n >= sizeof t->alpn) n = 0;
    if (n) memcpy(t->alpn, p, n);
    t->alpn[n] = '\0';
    X509 *cert = SSL_get0_peer_certificate(t->ssl);
    if (!cert || SSL_get_verify_result(t->ssl) != X509_V_OK) return;
    BIO *mem = BIO_new(BIO_s_mem());
    if (!mem) return;
    X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    int len = BIO_read(mem, t->peer, (int)sizeof t->peer - 1);
    t->peer[len > 0 ? len : 0] = '\0';
    BIO_free(mem);
}

/* A peer that closes during the handshake is gone, not a TLS failure. */
static int tls_start(ss__layer *l, ss_conn_t *c, int *events)
{
    (void)c;
    tls_layer *t = (tls_layer *)l;
    before(t);
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        note_session(t);
        return 0;
    }
    int rc = map_error(t, r, events);
    return rc == 0 ? -ECONNRESET : rc;
}

static ssize_t tls_recv(ss__layer *l, void *buf, size_t n, int *events)
{
    tls_layer *t = (tls_layer *)l;
    before(t);
    int r = SSL_read(t->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    return r > 0 ? r : map_error(t, r, events);
}

static ssize_t tls_send(ss__layer *l, const void *buf, size_t n, int *events)
{
    tls_layer *t = (tls_layer *)l;
    before(t);
    int w = SSL_write(t->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    if (w > 0) return w;
    int rc = map_error(t, w, events);
    return rc == 0 ? -EPIPE : rc; /* the peer's close_notify came: it reads no more */
}

/* close_notify (RFC 8446 section 6.1), then the socket's own shutdown, so
 * that a peer reading the TCP stream sees its end too. SSL_shutdown
 * returns 0 once ours is sent, before the peer's arrives: enough for a
 * half-close (SSL_shutdown(3ssl)). */
static int tls_shutdown(ss__layer *l, int *events)
{
    tls_layer *t = (tls_layer *)l;
    if (!t->failed && !(SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN)) {
        before(t);
        int r = SSL_shutdown(t->ssl);
        if (r < 0) {
            int rc = map_error(t, r, events);
            if (rc < 0) return rc;
        }
    }
    return l->below->ops->shutdown(l->below, events);
}

/* When the session ends: close_notify if none was sent and the session is
 * sound, without waiting (the socket's buffer takes a 24-byte alert), so a
 * peer that left costs nothing; then the session is freed. */
static void tls_close(ss__layer *l)
{
    tls_layer *t = (tls_layer *)l;
    if (!t->failed && SSL_is_init_finished(t->ssl) &&
        !(SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN)) {
        before(t);
        SSL_shutdown(t->ssl);
    }
    ERR_clear_error();
    SSL_free(t->ssl);
    free(t);
}

static const char *tls_info(const ss__layer *l, int what)
{
    const tls_layer *t = (const tls_layer *)l;
    switch (what) {
    case SS__INFO_TLS_VERSION:
        return SSL_get_version(t->ssl);
    case SS__INFO_TLS_ALPN:
        return t->alpn;
    case SS__INFO_TLS_PEER:
        return t->peer;
    case SS__INFO_ERROR:
        return t->why[0] ? t->why : NULL;
    default:
        return NULL;
    }
}

static const ss__layer_ops tls_ops = {
    .name = "tls handshake",
    .result = SS__RESULT_TLS,
    .start = tls_start,
    .recv = tls_recv,
    .send = tls_send,
    .shutdown = tls_shutdown,
    .close = tls_close,
    .info = tls_info,
    .refusal = SS_REFUSED_TLS,
};

/* ------------------------------------------------------------ pushing */

static tls_layer *new_layer(const ss__tls *tls)
{
    pthread_once(&bio_once, make_method);
    if (!bio_method) return NULL;
    tls_layer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->base.ops = &tls_ops;
    t->ssl = SSL_new(tls->ctx);
    BIO *b = t->ssl ? BIO_new(bio_method) : NULL;
    if (!b) {
        SSL_free(t->ssl);
        free(t);
        return NULL;
    }
    BIO_set_data(b, t);
    SSL_set_bio(t->ssl, b, b); /* one reference for both directions */
    return t;
}

int ss__tls_push_server(ss_conn_t *c, void *arg)
{
    tls_layer *t = new_layer(arg);
    if (!t) return ss__conn_fail(c, -ENOMEM, "tls");
    SSL_set_accept_state(t->ssl);
    ss__conn_push(c, &t->base);
    return 0;
}

/* An IP address is verified as one (RFC 6125 section 1.7.2's iPAddress),
 * and never sent as SNI, which carries host names only (RFC 6066 section
 * 3); a name is both (SSL_set1_host(3ssl)). */
static int name_server(tls_layer *t, const ss__tls *tls, const char *host)
{
    const char *name = tls->server_name[0] ? tls->server_name : host;
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    if (!is_ip && *name && !SSL_set_tlsext_host_name(t->ssl, name)) return -ENOMEM;
    if (tls->insecure) return 0;
    X509_VERIFY_PARAM *param = SSL_get0_param(t->ssl);
    if (is_ip) return X509_VERIFY_PARAM_set1_ip_asc(param, name) == 1 ? 0 : -EINVAL;
    return SSL_set1_host(t->ssl, name) == 1 ? 0 : -ENOMEM;
}

int ss__tls_push_client(ss_conn_t *c, ss__tls *tls, const char *host)
{
    tls_layer *t = new_layer(tls);
    if (!t) return ss__conn_fail(c, -ENOMEM, "tls");
    SSL_set_connect_state(t->ssl);
    int rc = name_server(t, tls, host);
    if (rc < 0) {
        ERR_clear_error();
        SSL_free(t->ssl);
        free(t);
        return ss__conn_fail(c, rc, "tls server name");
    }
    ss__conn_push(c, &t->base);
    return 0;
}
