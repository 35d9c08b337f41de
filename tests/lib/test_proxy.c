/* test_proxy.c - the PROXY protocol receiver (src/layer_proxy.c,
 * src/proxy_parse.c; HAProxy's proxy-protocol.txt) in every mode, over a
 * real loopback server. The handler answers each line with the peer and
 * local addresses it sees. Cases:
 *   parse      the parser alone: headers of both versions, whole, split,
 *              malformed and oversized
 *   config     proxy_from's networks: checked, matched; bad settings fail
 *              ss_server_create with -EINVAL naming the entry
 *   v1         v1 headers (IPv4, IPv6, UNKNOWN): the handler sees the
 *              header's addresses; bytes sent with the header reach it
 *   v2         v2 headers (IPv4, IPv6, with TLVs), the same; the TLS TLV
 *              reaches the handler (ss_conn_proxy_tls_version, _cn)
 *   verify     verify_request judges the header's address, not the proxy's
 *   bad        no header, garbage, a v2 header to a v1 listener, truncated,
 *              oversized v1 and v2, a broken TLV: each closed before setup
 *              and reported; the next client is served
 *   untrusted  a header from a source outside proxy_from: closed
 *   silent     a client that sends nothing is closed at the header's
 *              deadline (shortened here to 300 ms)
 *   local      a v2 LOCAL command is served with the proxy's own address
 *   flood      200 garbage headers in a row: each refused, the server serves
 *              on (and, as after every case, its descriptors are back)
 *   tls        a tls:// listener: the header in clear, then the handshake
 * Usage: test_proxy CASE MODE TRANSPORT. */
#include "harness.h"
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>

/* What the server processes saw, shared with the test. */
typedef struct proxy_seen {
    _Atomic int setups, errors, verified;
    char verify_peer[SS_ADDRSTRLEN]; /* the last address verify_request saw */
} proxy_seen;

static proxy_seen *S;

/* ------------------------------------------------------------ headers */

static const unsigned char sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* A v2 header (section 2.2): cmd, family byte, address block, TLVs. */
static size_t v2(unsigned char *out, int cmd, int fam, const void *addrs, size_t alen,
                 const void *tlvs, size_t tlen)
{
    memcpy(out, sig, 12);
    out[12] = (unsigned char)(0x20 | cmd);
    out[13] = (unsigned char)fam;
    out[14] = (unsigned char)((alen + tlen) >> 8);
    out[15] = (unsigned char)(alen + tlen);
    if (alen) memcpy(out + 16, addrs, alen);
    if (tlen) memcpy(out + 16 + alen, tlvs, tlen);
    return 16 + alen + tlen;
}

/* A v2 PROXY header for TCP over IPv4 (fam 0x11) or IPv6 (0x21). */
static size_t v2_tcp(unsigned char *out, const char *src, int sport, const char *dst, int dport,
                     const void *tlvs, size_t tlen)
{
    unsigned char a[36];
    int six = strchr(src, ':') != NULL;
    size_t w = six ? 16 : 4;
    ASSERT_EQ(inet_pton(six ? AF_INET6 : AF_INET, src, a), 1);
    ASSERT_EQ(inet_pton(six ? AF_INET6 : AF_INET, dst, a + w), 1);
    a[2 * w] = (unsigned char)(sport >> 8);
    a[2 * w + 1] = (unsigned char)sport;
    a[2 * w + 2] = (unsigned char)(dport >> 8);
    a[2 * w + 3] = (unsigned char)dport;
    return v2(out, 1, six ? 0x21 : 0x11, a, 2 * w + 4, tlvs, tlen);
}

/* PP2_TYPE_SSL with a version and a CN (section 2.2.5), then a NOOP. */
static const unsigned char tls_tlvs[] = {
    0x20, 0x00, 0x15, 0x07, 0,   0,   0,    0,                 /* SSL: client bits, verify */
    0x21, 0x00, 0x07, 'T',  'L', 'S', 'v',  '1',  '.',  '3',   /* SSL_VERSION */
    0x22, 0x00, 0x03, 'b',  'o', 'b', 0x04, 0x00, 0x02, 0,   0 /* CN, NOOP */
};

/* CRC-32C, the test's own (checked against the standard check value of
 * "123456789", RFC 3720 section B.4's polynomial). */
static uint32_t crc32c(const unsigned char *p, size_t n)
{
    uint32_t crc = ~0u;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

/* A v2 TCP4 header with a PP2_TYPE_CRC32C TLV (section 2.2.2), its value
 * the checksum of the header with the value zeroed; then the SSL TLVs. */
static size_t v2_crc(unsigned char *out)
{
    unsigned char t[7 + sizeof tls_tlvs] = {0x03, 0x00, 0x04, 0, 0, 0, 0};
    memcpy(t + 7, tls_tlvs, sizeof tls_tlvs);
    size_t n = v2_tcp(out, "10.9.8.7", 1234, "10.0.0.1", 80, t, sizeof t);
    uint32_t c = crc32c(out, n);
    size_t at = 16 + 12 + 3;
    out[at] = (unsigned char)(c >> 24);
    out[at + 1] = (unsigned char)(c >> 16);
    out[at + 2] = (unsigned char)(c >> 8);
    out[at + 3] = (unsigned char)c;
    return n;
}

static void case_crc(void)
{
    const unsigned any = SS__PROXY_ACCEPT_V1 | SS__PROXY_ACCEPT_V2;
    ASSERT_EQ(crc32c((const unsigned char *)"123456789", 9), 0xE3069283u);
    unsigned char b[SS__PROXY_V2_MAX + 64];
    ss__proxy_hdr h;
    char why[80];
    size_t n = v2_crc(b);
    ASSERT_EQ(ss__proxy_parse(b, n, any, &h, why, sizeof why), (int)n);
    ASSERT_STR_EQ(h.ssl_cn, "bob");
    /* Any byte changed is refused, but the length (then the header is
     * another size) and the CRC TLV's type (then there is no checksum). */
    for (size_t i = 0; i < n; i++) {
        if (i == 14 || i == 15 || i == 16 + 12) continue;
        b[i] ^= 0x40;
        int rc = ss__proxy_parse(b, n, SS__PROXY_ACCEPT_V2, &h, why, sizeof why);
        if (rc != -EPROTO) FAIL_AT("byte %zu flipped: %d (%s)", i, rc, why);
        b[i] ^= 0x40;
    }
    ASSERT_EQ(ss__proxy_parse(b, n, any, &h, why, sizeof why), (int)n);
    b[16 + 12 + 3] ^= 1;
    ASSERT_EQ(ss__proxy_parse(b, n, any, &h, why, sizeof why), -EPROTO);
    ASSERT_STR_EQ(why, "v2: CRC32C mismatch");
    b[16 + 12 + 3] ^= 1;
    b[16 + 12 + 2] = 3; /* a CRC32C TLV of 3 bytes */
    ASSERT_EQ(ss__proxy_parse(b, n, any, &h, why, sizeof why), -EPROTO);
}

/* ---------------------------------------------------------- the server */

static int verify(ss_server_t *s, const ss_addr_t *peer, void *ctx)
{
    (void)s, (void)ctx;
    ss_addr_format(peer, S->verify_peer, sizeof S->verify_peer);
    S->verified++;
    return strstr(S->verify_peer, "203.0.113.66") ? -EACCES : 0;
}

static void on_error(ss_server_t *s, ss_conn_t *c, int err, void *ctx)
{
    (void)ctx;
    ss__report_error(s, c, err);
    S->errors++;
}

static int count_setup(ss_conn_t *c, void *ctx)
{
    (void)c, (void)ctx;
    S->setups++;
    return 0;
}

/* "PEER LOCAL: line" for each line, "PEER LOCAL tls=VERSION/CN: line"
 * when the header had a TLS TLV. */
static int show(ss_conn_t *c, void *ctx)
{
    (void)ctx;
    char line[128], local[SS_ADDRSTRLEN], tls[200] = "";
    ssize_t n;
    ss_addr_format(ss_conn_local(c), local, sizeof local);
    if (ss_conn_proxy_tls_version(c))
        snprintf(tls, sizeof tls, " tls=%s/%s", ss_conn_proxy_tls_version(c),
                 ss_conn_proxy_tls_cn(c));
    while ((n = ss_readline(c, line, sizeof line)) > 0) {
        int rc = ss_printf(c, "%s %s%s: %s", ss_conn_peername(c), local, tls, line);
        if (rc < 0) return rc;
    }
    return (int)n;
}

static const ss_handler_t handler = {count_setup, show, NULL, NULL};

/* ------------------------------------------------------------- clients */

static ss_conn_t *dial(const char *addr)
{
    ss_conn_t *c;
    char tcp[SS_ADDRSTRLEN];
    if (strncmp(addr, "tls://", 6) == 0) /* the header goes in clear */
        snprintf(tcp, sizeof tcp, "tcp://%s", addr + 6);
    else
        snprintf(tcp, sizeof tcp, "%s", addr);
    ASSERT_OK(ss_dial(tcp, ss_now_ms() + 3000, &c));
    ss_set_deadline(c, ss_now_ms() + 8000);
    return c;
}

static void send_bytes(ss_conn_t *c, const void *p, size_t n)
{
    ASSERT_OK(ss_write(c, p, n));
    ASSERT_OK(ss_flush(c));
}

/* One header (and a line sent in the same write), one answer. */
static void through(const char *addr, const void *hdr, size_t n, const char *want)
{
    ss_conn_t *c = dial(addr);
    char buf[512];
    ASSERT(n + 4 < sizeof buf);
    memcpy(buf, hdr, n);
    memcpy(buf + n, "one\n", 5); /* sent without its NUL */
    send_bytes(c, buf, n + 4);
    char line[300];
    snprintf(line, sizeof line, "%s: one\n", want);
    harness_expect_line(c, line);
    ASSERT_OK(ss_puts(c, "two\n"));
    snprintf(line, sizeof line, "%s: two\n", want);
    harness_expect_line(c, line);
    ss_conn_close(c);
}

/* A header the server must refuse: closed, before setup, reported. */
static void refused(const char *addr, const void *hdr, size_t n, int close_write)
{
    int errors = S->errors;
    ss_conn_t *c = dial(addr);
    if (n) send_bytes(c, hdr, n);
    if (close_write) ASSERT_OK(ss_close_write(c));
    harness_expect_closed(c);
    ss_conn_close(c);
    harness_wait_for(&S->errors, errors + 1);
}

/* ---------------------------------------------------------------- cases */

static void parse_is(const char *text, size_t n, unsigned accept, int want)
{
    ss__proxy_hdr h;
    char why[80];
    int rc = ss__proxy_parse((const unsigned char *)text, n, accept, &h, why, sizeof why);
    if (rc != want) FAIL_AT("\"%.*s\": %d, not %d (%s)", (int)n, text, rc, want, why);
}

static void case_parse(void)
{
    const unsigned any = SS__PROXY_ACCEPT_V1 | SS__PROXY_ACCEPT_V2;
    const char *ok = "PROXY TCP4 1.2.3.4 5.6.7.8 1 65535\r\n";
    size_t len = strlen(ok);
    for (size_t i = 0; i < len; i++) parse_is(ok, i, any, 0); /* every prefix: need more */
    parse_is(ok, len, any, (int)len);
    parse_is("PROXY TCP6 ::1 2001:db8::2 80 443\r\nxyz", 38, any, 35);
    parse_is("PROXY UNKNOWN\r\n", 15, any, 15);
    parse_is("PROXY UNKNOWN whatever 1 2\r\n", 28, any, 28);
    parse_is("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 32, SS__PROXY_ACCEPT_V2, -EPROTO);
    parse_is("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", 33, any, -EPROTO);    /* leading zero */
    parse_is("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", 36, any, -EPROTO); /* port range */
    parse_is("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", 28, any, -EPROTO);         /* family */
    parse_is("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", 33, any, -EPROTO);    /* two spaces */
    parse_is("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 31, any, -EPROTO);       /* no CR */
    parse_is("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", 34, any, -EPROTO);   /* seven */
    parse_is("GET / HTTP/1.0\r\n", 16, any, -EPROTO);
    char big[200];
    memset(big, 'x', sizeof big);
    memcpy(big, "PROXY x", 8); /* a NUL is no line end either */
    parse_is(big, 106, any, 0);
    parse_is(big, 107, any, -EMSGSIZE);
    unsigned char b[SS__PROXY_V2_MAX + 64];
    size_t n = v2_tcp(b, "10.1.2.3", 4000, "10.0.0.1", 80, tls_tlvs, sizeof tls_tlvs);
    for (size_t i = 0; i < n; i++) parse_is((char *)b, i, SS__PROXY_ACCEPT_V2, 0);
    ss__proxy_hdr h;
    char why[80];
    ASSERT_EQ(ss__proxy_parse(b, n, any, &h, why, sizeof why), (int)n);
    ASSERT(h.ssl && h.ssl_client == 7);
    ASSERT_STR_EQ(h.ssl_version, "TLSv1.3");
    ASSERT_STR_EQ(h.ssl_cn, "bob");
    ASSERT_EQ(ntohs(((struct sockaddr_in *)&h.src.sa)->sin_port), 4000);
    parse_is((char *)b, n, SS__PROXY_ACCEPT_V1, -EPROTO);
    b[14] = 0x08; /* 2048 + 16: the most */
    b[15] = 0x01;
    parse_is((char *)b, 16, any, -EMSGSIZE);
    n = v2_tcp(b, "10.1.2.3", 1, "10.0.0.1", 2, tls_tlvs, sizeof tls_tlvs);
    b[16 + 12 + 2] = 0x40; /* the SSL TLV claims more than the header holds */
    parse_is((char *)b, n, any, -EPROTO);
    n = v2(b, 2, 0x11, NULL, 0, NULL, 0); /* command 2 */
    parse_is((char *)b, n, any, -EPROTO);
    n = v2(b, 1, 0x11, "abcd", 4, NULL, 0); /* INET with 4 address bytes */
    parse_is((char *)b, n, any, -EPROTO);
    b[12] = 0x11; /* version 1 */
    parse_is((char *)b, 16, any, -EPROTO);
    n = v2(b, 0, 0x00, NULL, 0, NULL, 0); /* LOCAL */
    ASSERT_EQ(ss__proxy_parse(b, n, any, &h, why, sizeof why), 16);
    ASSERT(h.local);
}

static void case_v1(const char *addr)
{
    const char *h4 = "PROXY TCP4 192.0.2.10 198.51.100.1 4321 80\r\n";
    through(addr, h4, strlen(h4), "tcp://192.0.2.10:4321 tcp://198.51.100.1:80");
    const char *h6 = "PROXY TCP6 2001:db8::7 2001:db8::1 5555 443\r\n";
    through(addr, h6, strlen(h6), "tcp://[2001:db8::7]:5555 tcp://[2001:db8::1]:443");
    ASSERT_EQ(S->errors, 0);
}

static void case_v2(const char *addr)
{
    unsigned char b[256];
    size_t n = v2_tcp(b, "192.0.2.20", 6000, "198.51.100.2", 8080, NULL, 0);
    through(addr, b, n, "tcp://192.0.2.20:6000 tcp://198.51.100.2:8080");
    n = v2_tcp(b, "2001:db8::20", 7, "2001:db8::2", 9, tls_tlvs, sizeof tls_tlvs);
    through(addr, b, n, "tcp://[2001:db8::20]:7 tcp://[2001:db8::2]:9 tls=TLSv1.3/bob");
    b[n - sizeof tls_tlvs + 7] = 1; /* the proxy did not verify the certificate */
    through(addr, b, n, "tcp://[2001:db8::20]:7 tcp://[2001:db8::2]:9 tls=TLSv1.3/");
    ASSERT_EQ(S->errors, 0);
}

static void case_verify(const char *addr)
{
    const char *ok = "PROXY TCP4 203.0.113.5 198.51.100.1 1000 80\r\n";
    through(addr, ok, strlen(ok), "tcp://203.0.113.5:1000 tcp://198.51.100.1:80");
    ASSERT_STR_EQ(S->verify_peer, "tcp://203.0.113.5:1000");
    int setups = S->setups;
    ss_conn_t *c = dial(addr);
    const char *no = "PROXY TCP4 203.0.113.66 198.51.100.1 1000 80\r\nhi\n";
    send_bytes(c, no, strlen(no));
    harness_expect_closed(c);
    ss_conn_close(c);
    ASSERT_STR_EQ(S->verify_peer, "tcp://203.0.113.66:1000");
    ASSERT_EQ(S->setups, setups);
    ASSERT_EQ(S->verified, 2); /* once per client: not at accept too */
}

static void case_bad(const char *addr)
{
    refused(addr, "hello\n", 6, 0);
    refused(addr, "\x01\x02garbage\r\n", 11, 0);
    unsigned char b[SS__PROXY_V2_MAX + 64];
    size_t n = v2_tcp(b, "192.0.2.1", 1, "192.0.2.2", 2, NULL, 0);
    refused(addr, b, n, 0);                          /* a v2 header to a v1 listener */
    refused(addr, "PROXY TCP4 192.0.2.1 19", 23, 1); /* truncated */
    char big[300];
    memset(big, '1', sizeof big);
    memcpy(big, "PROXY TCP4 1", 13);
    refused(addr, big, sizeof big, 0); /* no CRLF in 107 bytes */
    refused(addr, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 31, 0);
    refused(addr, "", 0, 1); /* nothing, then the end */
    ASSERT_EQ(S->setups, 0);
    const char *h = "PROXY TCP4 192.0.2.9 192.0.2.1 9 7\r\n";
    through(addr, h, strlen(h), "tcp://192.0.2.9:9 tcp://192.0.2.1:7");
}

static void case_bad2(const char *addr)
{
    unsigned char b[SS__PROXY_V2_MAX + 64];
    size_t n = v2(b, 1, 0x11, NULL, 0, NULL, 0);
    b[14] = 0x10; /* 4096 bytes announced: oversized */
    refused(addr, b, n, 0);
    n = v2_tcp(b, "192.0.2.1", 1, "192.0.2.2", 2, tls_tlvs, sizeof tls_tlvs);
    b[16 + 12 + 2] = 0x40; /* a TLV past the end */
    refused(addr, b, n, 0);
    n = v2_tcp(b, "192.0.2.1", 1, "192.0.2.2", 2, NULL, 0);
    refused(addr, b, n - 3, 1);                                 /* truncated */
    refused(addr, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 32, 0); /* v1 to a v2 listener */
    ASSERT_EQ(S->setups, 0);
    n = v2_tcp(b, "192.0.2.3", 3, "192.0.2.4", 4, NULL, 0);
    through(addr, b, n, "tcp://192.0.2.3:3 tcp://192.0.2.4:4");
}

static void case_untrusted(const char *addr)
{
    const char *h = "PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n";
    refused(addr, h, strlen(h), 0);
    refused(addr, h, strlen(h), 0);
    ASSERT_EQ(S->setups, 0);
}

static void case_silent(const char *addr)
{
    ss_conn_t *c = dial(addr);
    int64_t t0 = ss_now_ms();
    harness_expect_closed(c); /* the header's deadline (300 ms here) */
    int64_t took = ss_now_ms() - t0;
    ASSERT_GE(took, 250);
    ASSERT_LT(took, 4000);
    ss_conn_close(c);
    harness_wait_for(&S->errors, 1);
    ASSERT_EQ(S->setups, 0);
    const char *h = "PROXY TCP4 192.0.2.5 192.0.2.6 5 6\r\n";
    through(addr, h, strlen(h), "tcp://192.0.2.5:5 tcp://192.0.2.6:6");
}

static void case_local(const char *addr)
{
    unsigned char b[64];
    size_t n = v2(b, 0, 0x00, NULL, 0, NULL, 0);
    ss_conn_t *c = dial(addr);
    char buf[80];
    memcpy(buf, b, n);
    memcpy(buf + n, "hi\n", 4); /* sent without its NUL */
    send_bytes(c, buf, n + 3);
    char line[256], want[128];
    ss_addr_format(ss_conn_local(c), want, sizeof want); /* the proxy's own */
    ASSERT_OK(ss_readline(c, line, sizeof line));
    ASSERT(strncmp(line, want, strlen(want)) == 0);
    ASSERT_STR_EQ(S->verify_peer, want);
    ss_conn_close(c);
    const char *u = "PROXY UNKNOWN\r\n";
    c = dial(addr);
    send_bytes(c, u, strlen(u));
    ASSERT_OK(ss_puts(c, "hi\n"));
    ss_addr_format(ss_conn_local(c), want, sizeof want);
    ASSERT_OK(ss_readline(c, line, sizeof line));
    ASSERT(strncmp(line, want, strlen(want)) == 0);
    ss_conn_close(c);
}

static void case_flood(const char *addr)
{
    for (int i = 0; i < 200; i++) {
        ss_conn_t *c = dial(addr);
        send_bytes(c, "\r\n\r\n\0\r\nQUIT\n\x99", 13); /* a v2 signature, version 9 */
        ss_conn_close(c);
    }
    harness_wait_for(&S->errors, 200);
    ASSERT_EQ(S->setups, 0);
    unsigned char b[64];
    size_t n = v2_tcp(b, "192.0.2.8", 8, "192.0.2.9", 9, NULL, 0);
    through(addr, b, n, "tcp://192.0.2.8:8 tcp://192.0.2.9:9");
}

/* The header in clear on TCP, then TLS over the same connection. */
static void case_tls(const char *addr)
{
    ss_conn_t *c = dial(addr);
    const char *h = "PROXY TCP4 192.0.2.77 192.0.2.1 77 443\r\n";
    send_bytes(c, h, strlen(h));
    ss_tls_config_t t = {.insecure = 1};
    ss__tls *tls;
    ASSERT_OK(ss__tls_client_new(&t, &tls));
    ASSERT_OK(ss__tls_push_client(c, tls, "127.0.0.1"));
    ASSERT_OK(ss__conn_start(c));
    ASSERT_STR_EQ(ss_conn_tls_version(c), "TLSv1.3");
    ASSERT_OK(ss_puts(c, "sec\n"));
    harness_expect_line(c, "tls://192.0.2.77:77 tls://192.0.2.1:443: sec\n");
    ss_conn_close(c);
    ss__tls_free(tls);
    /* A TLS client that sends no header is refused, and the server goes on. */
    ss_conn_t *d;
    ASSERT(ss_dial_tls(addr, &t, ss_now_ms() + 3000, &d) < 0);
    harness_wait_for(&S->errors, 1);
}

typedef struct proxy_case {
    const char *name;
    void (*run)(const char *addr);
    ss_proxy_protocol_t version;
    const char *from;
} proxy_case;

static const proxy_case cases[] = {
    {"v1", case_v1, SS_PROXY_V1, NULL},
    {"v2", case_v2, SS_PROXY_V2, NULL},
    {"verify", case_verify, SS_PROXY_ANY, NULL},
    {"bad", case_bad, SS_PROXY_V1, NULL},
    {"bad2", case_bad2, SS_PROXY_V2, NULL},
    {"untrusted", case_untrusted, SS_PROXY_ANY, "10.0.0.0/8,2001:db8::/32"},
    {"silent", case_silent, SS_PROXY_ANY, NULL},
    {"local", case_local, SS_PROXY_ANY, NULL},
    {"flood", case_flood, SS_PROXY_V2, NULL},
    {"tls", case_tls, SS_PROXY_ANY, NULL},
};

/* ss_server_create refuses a bad proxy_from or proxy_protocol, naming
 * the entry; ss_proxy_from_check counts the networks. */
static void create_fails(ss_proxy_protocol_t v, const char *from, const char *msg)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.proxy_protocol = v;
    cfg.proxy_from = from;
    ss_server_t *s = NULL;
    ASSERT_EQ(ss_server_create(&cfg, &handler, &s), -EINVAL);
    ASSERT(s == NULL);
    if (!strstr(ss_errmsg(), msg)) FAIL_AT("\"%s\" lacks \"%s\"", ss_errmsg(), msg);
}

static void case_config(void)
{
    ASSERT_EQ(ss_proxy_from_check("10.0.0.0/8"), 1);
    ASSERT_EQ(ss_proxy_from_check("10.0.0.0/8,192.0.2.7,::1,2001:db8::/32,0.0.0.0/0,::/0"), 6);
    ASSERT_EQ(ss_proxy_from_check("10.0.0.0/33"), -EINVAL);
    ASSERT(strstr(ss_errmsg(), "\"10.0.0.0/33\""));
    ASSERT_EQ(ss_proxy_from_check(""), -EINVAL);
    ASSERT_EQ(ss_proxy_from_check("1.2.3.4,"), -EINVAL);
    ASSERT_EQ(ss_proxy_from_check("::1/129"), -EINVAL);
    ASSERT_EQ(ss_proxy_from_check("1.2.3.4/"), -EINVAL);
    ASSERT_EQ(ss_proxy_from_check("1.2.3.4/+8"), -EINVAL);
    ASSERT_EQ(ss_proxy_from_check("localhost"), -EINVAL);
    create_fails(SS_PROXY_V1, "10.0.0.0/8,bogus", "\"bogus\" is not an address");
    create_fails(SS_PROXY_NONE, "300.0.0.1", "\"300.0.0.1\"");
    create_fails((ss_proxy_protocol_t)7, NULL, "proxy_protocol 7");
    /* The networks match as CIDR says, IPv4-mapped IPv6 as IPv4. */
    ss__cidr n[4];
    char why[80];
    ASSERT_EQ(ss__cidr_list_parse("10.1.0.0/15,2001:db8::/33,127.0.0.1", n, 4, why, sizeof why), 3);
    ss_addr_t a;
    ASSERT_OK(ss_addr_parse("tcp://10.0.255.255:1", &a));
    ASSERT_EQ(ss__cidr_match(n, 3, &a), 1);
    ASSERT_OK(ss_addr_parse("tcp://10.2.0.0:1", &a));
    ASSERT_EQ(ss__cidr_match(n, 3, &a), 0);
    ASSERT_OK(ss_addr_parse("tcp://[2001:db8:7fff::1]:1", &a));
    ASSERT_EQ(ss__cidr_match(n, 3, &a), 1);
    ASSERT_OK(ss_addr_parse("tcp://[2001:db8:8000::1]:1", &a));
    ASSERT_EQ(ss__cidr_match(n, 3, &a), 0);
    ASSERT_OK(ss_addr_parse("tcp://[::ffff:127.0.0.1]:1", &a));
    ASSERT_EQ(ss__cidr_match(n, 3, &a), 1);
    ASSERT_OK(ss_addr_parse("tcp://127.0.0.2:1", &a));
    ASSERT_EQ(ss__cidr_match(n, 3, &a), 0);
    ASSERT_EQ(ss__cidr_list_parse("1.1.1.1,2.2.2.2", n, 1, why, sizeof why), -EINVAL);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "parse") == 0) {
        case_parse();
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "crc") == 0) {
        case_crc();
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "config") == 0) {
        case_config();
        return 0;
    }
    ss_mode_t mode;
    if (argc < 4 || ss_mode_parse(argv[2], &mode) < 0) {
        fprintf(stderr, "usage: test_proxy parse | config | CASE MODE TRANSPORT\n");
        return 2;
    }
    if (!ss_mode_available(mode)) return 77;
    S = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT(S != MAP_FAILED);
    memset(S, 0, sizeof *S);
    const proxy_case *pc = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(argv[1], cases[i].name) == 0) pc = &cases[i];
    if (!pc) return 2;
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.mode = mode;
    cfg.workers = 2;
    cfg.log_level = SS_LOG_ERROR;
    cfg.proxy_protocol = pc->version;
    cfg.proxy_from = pc->from;
    cfg.verify_request = verify;
    cfg.handle_error = on_error;
    if (pc->run == case_silent) ss__proxy_header_ms = 300;
    running r;
    start_server(&r, &cfg, &handler, argv[3], shared_counts_new());
    pc->run(r.addr);
    stop_server(&r);
    return 0;
}
