/* tls_none.c - the TLS calls of a build without OpenSSL 3: each fails with
 * SS_EMODE and says so, so that a tls:// address is refused with a clear
 * reason rather than served or dialled in plain text. */
#include "internal.h"

int ss_tls_available(void)
{
    return 0;
}

static int without(void)
{
    return ss__fail_plain(SS_EMODE, "tls: built without TLS (OpenSSL 3 was not found)");
}

int ss__tls_server_new(const ss_tls_config_t *cfg, ss__tls **out)
{
    (void)cfg;
    *out = NULL;
    return without();
}

int ss__tls_client_new(const ss_tls_config_t *cfg, ss__tls **out)
{
    (void)cfg;
    *out = NULL;
    return without();
}

void ss__tls_free(ss__tls *t)
{
    (void)t;
}

int ss__tls_push_server(ss_conn_t *c, void *arg)
{
    (void)arg;
    return ss__conn_fail(c, SS_EMODE, "tls");
}

int ss__tls_push_client(ss_conn_t *c, ss__tls *t, const char *host)
{
    (void)t, (void)host;
    return ss__conn_fail(c, SS_EMODE, "tls");
}
