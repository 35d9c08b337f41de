/* tls_ctx.c - TLS contexts (OpenSSL 3): one SSL_CTX per server, made by
 * ss_server_create before any listener, thread or child exists, so that
 * fork and prefork children inherit it read-only and no key is read again
 * per child; one per ss_dial_tls on the client side. The settings: TLS 1.2
 * at least (RFC 8446 obsoletes nothing below, but RFC 8996 deprecates 1.0
 * and 1.1), the certificate chain and its key, mutual TLS with a client CA
 * file, ALPN (RFC 7301), and the client's verification of the server. Each
 * error names the file and says what is wrong with it: a file that cannot be
 * read keeps its errno, one that OpenSSL cannot use is SS_ETLS. */
#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int ss_tls_available(void)
{
    return 1;
}

const char *ss__tls_reason(const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : fallback;
}

/* A file OpenSSL is about to read: its own errno if it cannot be opened,
 * -EISDIR for a directory (which fopen(3) opens, and PEM then rejects as
 * malformed, though nothing is wrong with its contents). */
static int readable(const char *what, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return ss__fail(ss__errno(), "tls %s %s", what, path);
    struct stat st;
    int dir = fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode);
    fclose(f);
    return dir ? ss__fail(-EISDIR, "tls %s %s", what, path) : 0;
}

static int unusable(const char *what, const char *path, const char *kind)
{
    const char *why = ss__tls_reason("unreadable");
    return ss__fail_plain(SS_ETLS, "tls %s %s: not %s (%s)", what, path, kind, why);
}

/* A key that does not match its certificate is reported as such, rather
 * than as OpenSSL's "key values mismatch" (X509_check_private_key(3ssl)). */
static int key_failed(const char *key, const char *cert)
{
    unsigned long e = ERR_peek_last_error();
    int r = ERR_GET_REASON(e);
    if (r == X509_R_KEY_VALUES_MISMATCH || r == X509_R_KEY_TYPE_MISMATCH) {
        ERR_clear_error();
        return ss__fail_plain(SS_ETLS, "tls key %s: does not match the certificate %s", key, cert);
    }
    return unusable("key", key, "a PEM private key");
}

/* The certificate chain and its key (SSL_CTX_use_certificate_chain_file(3ssl)). */
static int load_identity(SSL_CTX *ctx, const ss_tls_config_t *cfg)
{
    const char *key = cfg->key_file ? cfg->key_file : cfg->cert_file;
    int rc = readable("cert", cfg->cert_file);
    if (rc == 0) rc = readable("key", key);
    if (rc < 0) return rc;
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1)
        return unusable("cert", cfg->cert_file, "a PEM certificate chain");
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        return key_failed(key, cfg->cert_file);
    return 0;
}

/* Mutual TLS: every client must present a certificate these CAs verify
 * (SSL_CTX_set_verify(3ssl): SSL_VERIFY_FAIL_IF_NO_PEER_CERT), and the
 * server names them in its CertificateRequest. */
static int require_clients(SSL_CTX *ctx, const char *ca)
{
    int rc = readable("client-ca", ca);
    if (rc < 0) return rc;
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
    if (!names || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        return unusable("client-ca", ca, "PEM CA certificates");
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return 0;
}

/* The server picks the first protocol of its own list that the client
 * offers; a client that offers only others is refused with the
 * no_application_protocol alert (RFC 7301 section 3.2;
 * SSL_CTX_set_alpn_select_cb(3ssl), SSL_select_next_proto(3ssl)). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    const struct ss__tls *t = arg;
    unsigned char *chosen = NULL;
    if (SSL_select_next_proto(&chosen, outlen, t->alpn, (unsigned)t->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

static int set_alpn(struct ss__tls *t, const char *list)
{
    int n = ss__alpn_wire(list, t->alpn, sizeof t->alpn);
    if (n < 0)
        return ss__fail_plain(SS_EUSAGE, "tls alpn \"%.100s\": %s", list,
                              n == -ENOSPC ? "too long" : "not a comma-separated list of names");
    t->alpn_len = n;
    if (n == 0) return 0;
    if (t->server)
        SSL_CTX_set_alpn_select_cb(t->ctx, alpn_select, t);
    else if (SSL_CTX_set_alpn_protos(t->ctx, t->alpn, (unsigned)n) != 0) /* 0 is success */
        return ss__fail(-ENOMEM, "tls alpn");
    return 0;
}

/* The settings every context has. Partial writes: a TLS layer's send is a
 * send(2), and conn.c retries the rest (SSL_CTX_set_mode(3ssl)); buffers
 * released while idle, as conn.c's are. A peer that closes without
 * close_notify ends the stream like a TCP close would
 * (SSL_OP_IGNORE_UNEXPECTED_EOF): most clients do, and the handler reads
 * end of stream either way. Read-ahead: OpenSSL asks the layer below for
 * as much as its buffer holds, not a record's 5-byte header and then its
 * body, so a request costs one recv(2) and not two (strace of an echo-16
 * run: 3.1 recv per request before, as many as a plain socket's + 1
 * after; SSL_CTX_set_read_ahead(3ssl)). It is safe because conn.c always
 * reads before it waits on a TLS layer (no SS__LAYER_SHORT_READ_DRAINS):
 * records held in OpenSSL's buffer are read, never waited for. */
static struct ss__tls *new_tls(int server)
{
    struct ss__tls *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->server = server;
    t->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!t->ctx) {
        free(t);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                 SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_read_ahead(t->ctx, 1);
    return t;
}

void ss__tls_free(ss__tls *t)
{
    if (!t) return;
    SSL_CTX_free(t->ctx);
    free(t);
}

/* A session id context is required to resume sessions once client
 * certificates are verified (SSL_CTX_set_session_id_context(3ssl)). */
static int server_settings(struct ss__tls *t, const ss_tls_config_t *cfg)
{
    static const unsigned char sid[] = "socketserver";
    int rc = load_identity(t->ctx, cfg);
    if (rc == 0 && cfg->ca_file) rc = require_clients(t->ctx, cfg->ca_file);
    if (rc == 0) rc = set_alpn(t, cfg->alpn);
    if (rc == 0 && !SSL_CTX_set_session_id_context(t->ctx, sid, sizeof sid - 1))
        rc = ss__fail(-ENOMEM, "tls");
    return rc;
}

int ss__tls_server_new(const ss_tls_config_t *cfg, ss__tls **out)
{
    *out = NULL;
    if (!cfg->cert_file) return ss__fail(SS_EUSAGE, "tls: no certificate (tls.cert_file)");
    ERR_clear_error();
    struct ss__tls *t = new_tls(1);
    if (!t) return ss__fail(-ENOMEM, "tls");
    int rc = server_settings(t, cfg);
    if (rc < 0) {
        ss__tls_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* The client verifies the server unless told not to: against ca_file, or
 * the system's store (SSL_CTX_set_default_verify_paths(3ssl), which
 * SSL_CERT_FILE and SSL_CERT_DIR may redirect). The name is checked per
 * connection (ss__tls_push_client). */
static int client_settings(struct ss__tls *t, const ss_tls_config_t *cfg)
{
    int rc = 0;
    if (cfg->cert_file) rc = load_identity(t->ctx, cfg);
    if (rc == 0 && !cfg->insecure) {
        if (cfg->ca_file) {
            rc = readable("ca", cfg->ca_file);
            if (rc == 0 && SSL_CTX_load_verify_locations(t->ctx, cfg->ca_file, NULL) != 1)
                rc = unusable("ca", cfg->ca_file, "PEM CA certificates");
        } else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
            rc = ss__fail_plain(SS_ETLS, "tls: the system's CA store: %s",
                                ss__tls_reason("unreadable"));
        }
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    }
    t->insecure = cfg->insecure;
    if (cfg->server_name && strlen(cfg->server_name) >= sizeof t->server_name)
        rc = ss__fail(SS_EUSAGE, "tls server name too long");
    else if (cfg->server_name)
        snprintf(t->server_name, sizeof t->server_name, "%s", cfg->server_name);
    if (rc == 0) rc = set_alpn(t, cfg->alpn);
    return rc;
}

int ss__tls_client_new(const ss_tls_config_t *cfg, ss__tls **out)
{
    static const ss_tls_config_t defaults;
    *out = NULL;
    ERR_clear_error();
    struct ss__tls *t = new_tls(0);
    if (!t) return ss__fail(-ENOMEM, "tls");
    int rc = client_settings(t, cfg ? cfg : &defaults);
    if (rc < 0) {
        ss__tls_free(t);
        return rc;
    }
    *out = t;
    return 0;
}
