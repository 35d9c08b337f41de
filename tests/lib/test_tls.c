/* test_tls.c - the TLS API beyond the matrix (which runs every mode over
 * tls://): what a handler and a client learn of the session, ALPN, mutual
 * TLS, and the errors of the calls. Cases:
 *   info      a handler sees TLSv1.3, the ALPN protocol agreed and the
 *             verified client's subject; the client sees the server's;
 *             a plain connection answers NULL
 *   alpn      a client offering only other protocols is refused; one
 *             offering none is served with ""
 *   errors    create: missing file (-ENOENT), malformed (SS_ETLS), key of
 *             another certificate (SS_ETLS), bad ALPN list (SS_EUSAGE);
 *             listen tls:// without a certificate (SS_EUSAGE); ss_dial_tls
 *             on a tcp:// address (SS_EUSAGE), to a plain server (fails)
 * Usage: test_tls CASE (skipped without TLS or the openssl program). */
#include "harness.h"

#include <errno.h>

static shared_counts *counts;
#define SEEN_MAX 256
static char *shared_seen; /* what the handler saw, in shared memory */

static int report(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    const char *v = ss_conn_tls_version(c), *a = ss_conn_tls_alpn(c), *p = ss_conn_tls_peer(c);
    snprintf(shared_seen, SEEN_MAX, "%s|%s|%s", v ? v : "NULL", a ? a : "NULL", p ? p : "NULL");
    counts->handled++;
    return ss_puts(c, "ok\n");
}

static const ss_handler_t handler = {NULL, report, NULL, NULL};

static void file(const char *name, char *buf)
{
    harness_tls_file(name, buf, 128);
}

static ss_conn_t *dial_with(const char *addr, const ss_tls_config_t *t)
{
    ss_conn_t *c = NULL;
    ASSERT_OK(ss_dial_tls(addr, t, ss_now_ms() + 5000, &c));
    ss_set_deadline(c, ss_now_ms() + 5000);
    return c;
}

static void read_ok(ss_conn_t *c)
{
    char line[16];
    ASSERT_OK(ss_readline(c, line, sizeof line));
    ASSERT_STR_EQ(line, "ok\n");
}

static void case_info(void)
{
    char cert[128], key[128], ca[128];
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.mode = SS_MODE_THREAD;
    file("ca.pem", ca);
    cfg.tls.ca_file = ca; /* mutual TLS */
    cfg.tls.alpn = "h2,http/1.1";
    running r;
    start_server(&r, &cfg, &handler, "tls", counts);
    file("client.pem", cert);
    file("client.key", key);
    ss_tls_config_t t = {.cert_file = cert, .key_file = key, .ca_file = ca, .alpn = "http/1.1,h2"};
    ss_conn_t *c = dial_with(r.addr, &t);
    ASSERT_STR_EQ(ss_conn_tls_version(c), "TLSv1.3");
    ASSERT_STR_EQ(ss_conn_tls_alpn(c), "h2"); /* the server's preference wins */
    ASSERT_STR_EQ(ss_conn_tls_peer(c), "CN=localhost");
    read_ok(c);
    ASSERT_STR_EQ(shared_seen, "TLSv1.3|h2|O=Example,CN=alice");
    ss_conn_close(c);
    stop_server(&r);
    /* A plain connection: NULL for each. */
    ss_config_init(&cfg);
    start_server(&r, &cfg, &handler, "tcp4", counts);
    ASSERT_OK(ss_dial(r.addr, ss_now_ms() + 5000, &c));
    read_ok(c);
    ASSERT(ss_conn_tls_version(c) == NULL && ss_conn_tls_alpn(c) == NULL);
    ASSERT_STR_EQ(shared_seen, "NULL|NULL|NULL");
    ss_conn_close(c);
    stop_server(&r);
}

static void case_alpn(void)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.tls.alpn = "h2";
    cfg.log_level = SS_LOG_ERROR;
    running r;
    start_server(&r, &cfg, &handler, "tls", counts);
    ss_tls_config_t other = {.alpn = "http/1.1"};
    ss_conn_t *c = NULL;
    ASSERT_EQ(ss_dial_tls(r.addr, &other, ss_now_ms() + 5000, &c), SS_ETLS);
    ASSERT(c == NULL);
    ASSERT(strstr(ss_errmsg(), "no application protocol") != NULL);
    c = dial_with(r.addr, NULL);
    read_ok(c);
    ASSERT_STR_EQ(ss_conn_tls_alpn(c), "");
    ss_conn_close(c);
    stop_server(&r);
    ASSERT_EQ(counts->handled, 1);
}

static void create_fails(const char *cert, const char *key, const char *alpn, int want,
                         const char *says)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.tls.cert_file = cert;
    cfg.tls.key_file = key;
    cfg.tls.alpn = alpn;
    ss_server_t *s = NULL;
    ASSERT_EQ(ss_server_create(&cfg, &handler, &s), want);
    ASSERT(s == NULL);
    if (!strstr(ss_errmsg(), says)) FAIL_AT("\"%s\" lacks \"%s\"", ss_errmsg(), says);
}

static void case_errors(void)
{
    char cert[128], key[128], other[128];
    file("server.pem", cert);
    file("server.key", key);
    file("client.key", other);
    create_fails("/nonexistent.pem", key, NULL, -ENOENT, "tls cert /nonexistent.pem");
    create_fails(key, key, NULL, SS_ETLS, "not a PEM certificate chain");
    create_fails(cert, other, NULL, SS_ETLS, "does not match the certificate");
    create_fails(cert, key, "h2,,x", SS_EUSAGE, "tls alpn");
    ss_config_t cfg;
    ss_config_init(&cfg);
    ss_server_t *s;
    ASSERT_OK(ss_server_create(&cfg, &handler, &s));
    ASSERT_EQ(ss_server_listen(s, "tls://127.0.0.1:0"), SS_EUSAGE);
    ASSERT_EQ(ss_server_listener_count(s), 0);
    ss_server_close(s);
    ss_conn_t *c = NULL;
    ASSERT_EQ(ss_dial_tls("tcp://127.0.0.1:1", NULL, ss_now_ms() + 1000, &c), SS_EUSAGE);
    /* A plain server: the handshake fails, bounded by the deadline. */
    running r;
    ss_config_init(&cfg);
    cfg.log_level = SS_LOG_ERROR;
    start_server(&r, &cfg, &handler, "tcp4", counts);
    char addr[sizeof r.addr]; /* "tls://" where "tcp://" was: the same length */
    int len = snprintf(addr, sizeof addr, "tls://%s", r.addr + 6);
    ASSERT(len > 0 && (size_t)len < sizeof addr);
    int64_t t0 = ss_now_ms();
    ASSERT(ss_dial_tls(addr, NULL, ss_now_ms() + 2000, &c) < 0);
    ASSERT(c == NULL);
    ASSERT_LT(ss_now_ms() - t0, 4000);
    stop_server(&r);
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    harness_tls_init(); /* exits 77 without TLS or openssl */
    counts = shared_counts_new();
    shared_seen = mmap(NULL, SEEN_MAX, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT(shared_seen != MAP_FAILED);
    if (strcmp(argv[1], "info") == 0)
        case_info();
    else if (strcmp(argv[1], "alpn") == 0)
        case_alpn();
    else if (strcmp(argv[1], "errors") == 0)
        case_errors();
    else
        return 2;
    return 0;
}
