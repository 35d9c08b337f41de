/* tls.c - the generator's own TLS client (OpenSSL 3), non-blocking over the
 * workers' sockets. The library's ss_dial_tls blocks until the handshake is
 * done and owns its socket, so it cannot run inside a worker's epoll loop
 * with thousands of others; this is the same client settings (TLS 1.2 or
 * 1.3, verified against --tls-ca or the system's store, SNI) driven by the
 * worker's events instead.
 *
 * Sessions: the connect pattern makes a full handshake every time (it never
 * offers a session); the persistent patterns keep the last session ticket a
 * connection received and offer it when that connection is opened again
 * (RFC 8446 section 2.2; SSL_CTX_sess_set_new_cb(3ssl), SSL_set_session(3ssl)).
 * Built without OpenSSL, every entry point fails and run.c refuses tls://.
 */
#include "bench.h"
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifdef SS_BENCH_TLS

#include <arpa/inet.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

int bench_tls_available(void)
{
    return 1;
}

/* OpenSSL's last reason, as a phrase ("wrong version number"). */
static const char *reason(char *buf, size_t cap, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    snprintf(buf, cap, "%s", r ? r : fallback);
    ERR_clear_error();
    return buf;
}

/* A file option: missing or unreadable exits 66, not PEM of the right kind
 * 65, as `send` and `serve` do (sysexits.h). */
static int file_error(const char *what, const char *path, char *msg, size_t cap)
{
    if (access(path, R_OK) < 0) {
        snprintf(msg, cap, "tls %s %s: %s", what, path, ss_strerror(-errno));
        return EXIT_NOINPUT;
    }
    char r[128];
    snprintf(msg, cap, "tls %s %s: %s", what, path, reason(r, sizeof r, "unusable"));
    return EXIT_DATAERR;
}

/* A persistent connection's new session (a TLS 1.3 ticket, or a TLS 1.2
 * session) replaces the one it kept: the app data is where it keeps it
 * (NULL for the connect pattern, which resumes nothing). Returning 1 keeps
 * OpenSSL's reference for us. */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
    SSL_SESSION **slot = SSL_get_app_data(ssl);
    if (!slot) return 0;
    SSL_SESSION_free(*slot);
    *slot = sess;
    return 1;
}

/* The host the server is verified as and named by SNI: --sni, or the
 * address's host ("tls://[::1]:7" gives "::1"). */
static void server_name(bench_opts_t *o, const ss_tls_config_t *cfg)
{
    if (cfg->server_name) {
        snprintf(o->tls_name, sizeof o->tls_name, "%s", cfg->server_name);
        return;
    }
    const char *h = o->target + strlen("tls://");
    const char *colon = strrchr(h, ':');
    size_t n = colon ? (size_t)(colon - h) : strlen(h);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') h++, n -= 2;
    if (n >= sizeof o->tls_name) n = sizeof o->tls_name - 1;
    memcpy(o->tls_name, h, n);
    o->tls_name[n] = '\0';
}

static int load(SSL_CTX *ctx, const ss_tls_config_t *cfg, char *msg, size_t cap)
{
    if (cfg->cert_file) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1)
            return file_error("cert", cfg->cert_file, msg, cap);
        const char *key = cfg->key_file ? cfg->key_file : cfg->cert_file;
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
            return file_error("key", key, msg, cap);
        if (SSL_CTX_check_private_key(ctx) != 1) {
            snprintf(msg, cap, "tls key %s: does not match the certificate", key);
            return EXIT_DATAERR;
        }
    }
    if (cfg->insecure) return 0;
    if (cfg->ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1)
            return file_error("ca", cfg->ca_file, msg, cap);
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        char r[128];
        snprintf(msg, cap, "tls: the system's CA store: %s", reason(r, sizeof r, "unreadable"));
        return EXIT_DATAERR;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return 0;
}

int bench_tls_setup(bench_opts_t *o, const ss_tls_config_t *cfg, char *msg, size_t cap)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(msg, cap, "tls: out of memory");
        return EXIT_OSERR;
    }
    /* As the library's client: TLS 1.2 at least; partial writes, so that a
     * full socket buffer takes what fits and the rest is retried from the
     * same stream offset; a peer that closes without close_notify ends the
     * stream as a TCP close would. Read-ahead: one read(2) takes what the
     * socket has, not a record's header and then its body (two); the
     * worker reads until SSL_read wants the socket, so nothing is left in
     * OpenSSL's buffer waiting for an edge that will not come. */
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session);
    int rc = load(ctx, cfg, msg, cap);
    if (rc) {
        SSL_CTX_free(ctx);
        return rc;
    }
    o->tls = ctx;
    o->tls_insecure = cfg->insecure;
    server_name(o, cfg);
    return 0;
}

void bench_tls_cleanup(bench_opts_t *o)
{
    SSL_CTX_free(o->tls);
    o->tls = NULL;
}

/* An IP address is verified as one and never sent as SNI, which carries
 * host names only (RFC 6066 section 3); a name is both, as the library's
 * client does (layer_tls.c). */
static int name_server(SSL *ssl, const bench_opts_t *o)
{
    const char *name = o->tls_name;
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    if (!is_ip && *name && !SSL_set_tlsext_host_name(ssl, name)) return -1;
    if (o->tls_insecure) return 0;
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    if (is_ip) return X509_VERIFY_PARAM_set1_ip_asc(param, name) == 1 ? 0 : -1;
    return SSL_set1_host(ssl, name) == 1 ? 0 : -1;
}

void *bench_tls_new(const bench_opts_t *o, int fd, void **slot)
{
    SSL *ssl = SSL_new(o->tls);
    if (!ssl) return NULL;
    if (SSL_set_fd(ssl, fd) != 1 || name_server(ssl, o) < 0) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_connect_state(ssl);
    SSL_set_app_data(ssl, slot);
    if (slot && *slot) SSL_set_session(ssl, *slot); /* a stale one: a full handshake */
    return ssl;
}

/* Why a session failed, as a person reads it: the verification's own reason
 * when the server's certificate was refused, else OpenSSL's. */
static int failure(SSL *ssl, const char *what, char *msg, size_t cap)
{
    unsigned long e = ERR_peek_last_error();
    long v = SSL_get_verify_result(ssl);
    char r[128];
    if (ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED && v != X509_V_OK)
        snprintf(msg, cap, "%s: certificate verify failed: %s", what,
                 X509_verify_cert_error_string(v));
    else
        snprintf(msg, cap, "%s: %s", what, reason(r, sizeof r, "protocol error"));
    ERR_clear_error();
    return SS_ETLS;
}

/* SSL_get_error(3ssl) as this file's results: -EAGAIN to wait for the
 * socket (both directions are watched, edge-triggered, so which one does not
 * matter), 0 for the end of the stream, a negative errno for the socket's
 * own failure, SS_ETLS for TLS's. */
static int map(SSL *ssl, int ret, const char *what, char *msg, size_t cap)
{
    int err = errno;
    switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return -EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        return err ? -err : 0; /* 0: an end without close_notify */
    default:
        return failure(ssl, what, msg, cap);
    }
}

/* OpenSSL's queue must be empty before each call (SSL_get_error(3ssl));
 * peeking is much cheaper than clearing its slots every time. */
static void before(void)
{
    if (ERR_peek_error()) ERR_clear_error();
}

int bench_tls_handshake(void *ssl, char *msg, size_t cap)
{
    before();
    errno = 0;
    int r = SSL_do_handshake(ssl);
    if (r == 1) return 1;
    r = map(ssl, r, "TLS handshake", msg, cap);
    if (r == 0) { /* the server closed in the middle of it */
        snprintf(msg, cap, "TLS handshake: the server closed the connection");
        return -ECONNRESET;
    }
    if (r != -EAGAIN && r != SS_ETLS) snprintf(msg, cap, "TLS handshake: %s", ss_strerror(r));
    return r == -EAGAIN ? 0 : r;
}

ssize_t bench_tls_read(void *ssl, void *buf, size_t n, char *msg, size_t cap)
{
    before();
    errno = 0;
    int r = SSL_read(ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    return r > 0 ? r : map(ssl, r, "TLS read", msg, cap);
}

ssize_t bench_tls_write(void *ssl, const void *buf, size_t n, char *msg, size_t cap)
{
    before();
    errno = 0;
    int w = SSL_write(ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    if (w > 0) return w;
    int r = map(ssl, w, "TLS write", msg, cap);
    return r == 0 ? -EPIPE : r;
}

int bench_tls_resumed(void *ssl)
{
    return SSL_session_reused(ssl);
}

/* BENCH_TLS_NOTIFY: close_notify without waiting for the server's (a 24-byte
 * alert always fits a socket's buffer). BENCH_TLS_QUIET: nothing sent (the
 * peer is gone), but the session is marked shut down, since OpenSSL makes a
 * session freed otherwise unresumable (SSL_set_quiet_shutdown(3ssl)), and a
 * server that ended the connection is no reason not to resume. BENCH_TLS_ABORT:
 * a TLS failure; its session is not resumed. Then the SSL is freed; the
 * caller closes the socket. */
void bench_tls_close(void *ssl, int how)
{
    if (!ssl) return;
    if (how != BENCH_TLS_ABORT && SSL_is_init_finished((SSL *)ssl)) {
        if (how == BENCH_TLS_QUIET) SSL_set_quiet_shutdown(ssl, 1);
        SSL_shutdown(ssl);
    }
    ERR_clear_error();
    SSL_free(ssl);
}

void bench_tls_session_free(void *sess)
{
    SSL_SESSION_free(sess);
}

#else /* built without OpenSSL: run.c refuses tls:// before any of these */

int bench_tls_available(void)
{
    return 0;
}

int bench_tls_setup(bench_opts_t *o, const ss_tls_config_t *cfg, char *msg, size_t cap)
{
    (void)o, (void)cfg;
    snprintf(msg, cap, "tls://: this socketserver was built without TLS");
    return EXIT_USAGE;
}

void bench_tls_cleanup(bench_opts_t *o)
{
    (void)o;
}

void *bench_tls_new(const bench_opts_t *o, int fd, void **slot)
{
    (void)o, (void)fd, (void)slot;
    return NULL;
}

int bench_tls_handshake(void *ssl, char *msg, size_t cap)
{
    (void)ssl;
    snprintf(msg, cap, "built without TLS");
    return SS_EMODE;
}

ssize_t bench_tls_read(void *ssl, void *buf, size_t n, char *msg, size_t cap)
{
    (void)ssl, (void)buf, (void)n;
    snprintf(msg, cap, "built without TLS");
    return SS_EMODE;
}

ssize_t bench_tls_write(void *ssl, const void *buf, size_t n, char *msg, size_t cap)
{
    (void)ssl, (void)buf, (void)n;
    snprintf(msg, cap, "built without TLS");
    return SS_EMODE;
}

int bench_tls_resumed(void *ssl)
{
    (void)ssl;
    return 0;
}

void bench_tls_close(void *ssl, int how)
{
    (void)ssl, (void)how;
}

void bench_tls_session_free(void *sess)
{
    (void)sess;
}

#endif
