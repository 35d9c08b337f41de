/* proxy_parse.c - the PROXY protocol header parser (HAProxy's
 * proxy-protocol.txt): the v1 text line (section 2.1) and the v2 binary
 * header with its TLVs (section 2.2). Pure: it reads a byte buffer and
 * says "need more", "a header of N bytes" or "malformed", never reading
 * past the n bytes it is given, so that it can be fuzzed (fuzz_proxy.c). */
#include "proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Section 2.2: the v2 signature, the 12 bytes that start every v2 header. */
static const unsigned char v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_sig[] = "PROXY ";

static int bad(int err, char *why, size_t cap, const char *text)
{
    if (cap) snprintf(why, cap, "%s", text);
    return err;
}

/* Whether the n bytes may still begin sig (len bytes long). */
static int prefix_of(const unsigned char *buf, size_t n, const void *sig, size_t len)
{
    return memcmp(buf, sig, n < len ? n : len) == 0;
}

/* ---------------------------------------------------------------- v1 */

/* Section 2.1: a port is a decimal number 0-65535 without leading zeros. */
static int v1_port(const char *s, in_port_t *out)
{
    size_t len = strlen(s);
    if (len == 0 || len > 5 || (len > 1 && s[0] == '0')) return -1;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535) return -1;
    *out = htons((in_port_t)v);
    return 0;
}

/* An address in the family the protocol field names, with its port. */
static int v1_addr(int family, const char *host, const char *port, ss_addr_t *a)
{
    in_port_t p;
    if (v1_port(port, &p) < 0) return -1;
    memset(a, 0, sizeof *a);
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&a->sa;
        if (inet_pton(AF_INET, host, &in->sin_addr) != 1) return -1;
        in->sin_family = AF_INET;
        in->sin_port = p;
        a->len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->sa;
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) return -1;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = p;
        a->len = sizeof *in6;
    }
    return 0;
}

/* Splits line at single spaces into up to max fields; -1 for an empty
 * field (two spaces, or one at either end) or too many. */
static int v1_fields(char *line, char **f, int max)
{
    int n = 0;
    for (char *p = line;;) {
        char *sp = strchr(p, ' ');
        if (n == max || (sp ? sp == p : *p == '\0')) return -1;
        f[n++] = p;
        if (!sp) return n;
        *sp = '\0';
        p = sp + 1;
    }
}

/* Section 2.1: "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n", or "PROXY
 * UNKNOWN" followed by anything up to the CRLF, which the receiver
 * ignores. Printable ASCII only. */
static int v1_line(char *line, ss__proxy_hdr *out, char *why, size_t cap)
{
    for (const char *p = line; *p; p++)
        if (*p < 0x20 || *p > 0x7e) return bad(-EPROTO, why, cap, "v1: a byte that is not text");
    if (strncmp(line, "PROXY UNKNOWN", 13) == 0 && (line[13] == '\0' || line[13] == ' ')) {
        out->local = 1;
        return 0;
    }
    char *f[6];
    if (v1_fields(line, f, 6) != 6) return bad(-EPROTO, why, cap, "v1: not six fields");
    int family = strcmp(f[1], "TCP4") == 0 ? AF_INET : strcmp(f[1], "TCP6") == 0 ? AF_INET6 : 0;
    if (!family) return bad(-EPROTO, why, cap, "v1: protocol is not TCP4, TCP6 or UNKNOWN");
    if (v1_addr(family, f[2], f[4], &out->src) < 0 || v1_addr(family, f[3], f[5], &out->dst) < 0)
        return bad(-EPROTO, why, cap, "v1: a malformed address or port");
    return 0;
}

static int parse_v1(const unsigned char *buf, size_t n, ss__proxy_hdr *out, char *why, size_t cap)
{
    size_t lim = n < SS__PROXY_V1_MAX ? n : SS__PROXY_V1_MAX;
    const unsigned char *lf = memchr(buf, '\n', lim);
    if (!lf) {
        if (n >= SS__PROXY_V1_MAX) return bad(-EMSGSIZE, why, cap, "v1: no CRLF in 107 bytes");
        return 0;
    }
    size_t len = (size_t)(lf - buf) + 1;
    if (len < 2 || buf[len - 2] != '\r') return bad(-EPROTO, why, cap, "v1: a line without CR");
    char line[SS__PROXY_V1_MAX];
    memcpy(line, buf, len - 2);
    line[len - 2] = '\0';
    if (strlen(line) != len - 2) return bad(-EPROTO, why, cap, "v1: a NUL byte");
    out->version = 1;
    int rc = v1_line(line, out, why, cap);
    return rc < 0 ? rc : (int)len;
}

/* ---------------------------------------------------------------- v2 */

static unsigned be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* Copies a TLV's value as a string if it fits, else leaves "". */
static void keep_text(char *dst, size_t cap, const unsigned char *v, size_t len)
{
    if (len >= cap || memchr(v, '\0', len)) return;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

/* Section 2.2.5: PP2_TYPE_SSL's value is a client byte, a 32-bit verify
 * result and sub-TLVs, of which PP2_SUBTYPE_SSL_VERSION (0x21) and
 * PP2_SUBTYPE_SSL_CN (0x22) are kept. */
static int v2_ssl(const unsigned char *v, size_t len, ss__proxy_hdr *out)
{
    if (len < 5) return -1;
    out->ssl = 1;
    out->ssl_client = v[0];
    out->ssl_verify = (uint32_t)v[1] << 24 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 8 | v[4];
    for (size_t i = 5; i < len;) {
        if (len - i < 3) return -1;
        size_t sl = be16(v + i + 1);
        if (len - i - 3 < sl) return -1;
        if (v[i] == 0x21) keep_text(out->ssl_version, sizeof out->ssl_version, v + i + 3, sl);
        if (v[i] == 0x22) keep_text(out->ssl_cn, sizeof out->ssl_cn, v + i + 3, sl);
        i += 3 + sl;
    }
    return 0;
}

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, RFC 3720 section
 * B.4) over n bytes, continuing from crc (~0 to start; the result is
 * complemented at the end by the caller). Bitwise: a header is at most a
 * couple of KiB and the checksum is optional, so no table is worth it. */
static uint32_t crc32c_update(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return crc;
}

/* Section 2.2.2: PP2_TYPE_CRC32C's value is the CRC-32C of the whole header
 * (TLVs included) computed with the value's own 4 bytes as zeros, in network
 * byte order. The receiver "MUST" check it and drop the connection on a
 * mismatch. at is the value's offset in the header of total bytes. */
static int crc_ok(const unsigned char *h, size_t total, size_t at)
{
    static const unsigned char zero[4] = {0};
    uint32_t crc = crc32c_update(~0u, h, at);
    crc = crc32c_update(crc, zero, 4);
    crc = ~crc32c_update(crc, h + at + 4, total - at - 4);
    uint32_t want =
        (uint32_t)h[at] << 24 | (uint32_t)h[at + 1] << 16 | (uint32_t)h[at + 2] << 8 | h[at + 3];
    return crc == want;
}

/* Section 2.2.x: TLVs follow the addresses, each a type, a 16-bit length
 * and that many bytes, up to the header's end; each is checked against
 * what is left, and those not known are skipped. h is the whole header
 * (total bytes), the TLVs start at off. -1: malformed; -2: a checksum
 * that does not match. */
static int v2_tlvs(const unsigned char *h, size_t total, size_t off, ss__proxy_hdr *out)
{
    const unsigned char *p = h + off;
    size_t len = total - off;
    for (size_t i = 0; i < len;) {
        if (len - i < 3) return -1;
        size_t vl = be16(p + i + 1);
        if (len - i - 3 < vl) return -1;
        if (p[i] == 0x20 && v2_ssl(p + i + 3, vl, out) < 0) return -1;
        if (p[i] == 0x03 && (vl != 4 || !crc_ok(h, total, off + i + 3))) return vl != 4 ? -1 : -2;
        i += 3 + vl;
    }
    return 0;
}

static void v2_inet(const unsigned char *p, ss_addr_t *src, ss_addr_t *dst)
{
    struct sockaddr_in *s = (struct sockaddr_in *)&src->sa, *d = (struct sockaddr_in *)&dst->sa;
    s->sin_family = d->sin_family = AF_INET;
    memcpy(&s->sin_addr, p, 4);
    memcpy(&d->sin_addr, p + 4, 4);
    memcpy(&s->sin_port, p + 8, 2);
    memcpy(&d->sin_port, p + 10, 2);
    src->len = dst->len = sizeof *s;
}

static void v2_inet6(const unsigned char *p, ss_addr_t *src, ss_addr_t *dst)
{
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&src->sa;
    struct sockaddr_in6 *d = (struct sockaddr_in6 *)&dst->sa;
    s->sin6_family = d->sin6_family = AF_INET6;
    memcpy(&s->sin6_addr, p, 16);
    memcpy(&d->sin6_addr, p + 16, 16);
    memcpy(&s->sin6_port, p + 32, 2);
    memcpy(&d->sin6_port, p + 34, 2);
    src->len = dst->len = sizeof *s;
}

/* Section 2.2: the address block's size by family (INET 12, INET6 36,
 * UNIX 216, UNSPEC 0); the transport protocol must be UNSPEC, STREAM or
 * DGRAM. The UNSPEC and UNIX families keep the connection's addresses. */
static int v2_addrs(const unsigned char *h, size_t len, ss__proxy_hdr *out, size_t *used)
{
    unsigned fam = h[13] >> 4, proto = h[13] & 0x0f;
    static const size_t need[4] = {0, 12, 36, 216};
    if (fam > 3 || proto > 2 || len < need[fam]) return -1;
    *used = need[fam];
    if (fam == 1) v2_inet(h + 16, &out->src, &out->dst);
    if (fam == 2) v2_inet6(h + 16, &out->src, &out->dst);
    out->local = fam == 0 || fam == 3;
    return 0;
}

/* Section 2.2: the 16-byte fixed part (signature, version and command,
 * family and protocol, length), then the length's bytes. A LOCAL command
 * (0x0) is the proxy's own connection (a health check): its addresses are
 * ignored; PROXY (0x1) carries the client's; any other is refused. */
static int parse_v2(const unsigned char *buf, size_t n, ss__proxy_hdr *out, char *why, size_t cap)
{
    if (n < 16) return 0;
    if (buf[12] >> 4 != 2) return bad(-EPROTO, why, cap, "v2: version is not 2");
    unsigned cmd = buf[12] & 0x0f;
    if (cmd > 1) return bad(-EPROTO, why, cap, "v2: command is neither LOCAL nor PROXY");
    size_t len = be16(buf + 14);
    if (16 + len > SS__PROXY_V2_MAX) return bad(-EMSGSIZE, why, cap, "v2: header too long");
    if (n < 16 + len) return 0;
    out->version = 2;
    if (cmd == 0) {
        out->local = 1;
        return (int)(16 + len);
    }
    size_t used = 0;
    if (v2_addrs(buf, len, out, &used) < 0)
        return bad(-EPROTO, why, cap, "v2: a bad family, protocol or address length");
    int t = v2_tlvs(buf, 16 + len, 16 + used, out);
    if (t == -2) return bad(-EPROTO, why, cap, "v2: CRC32C mismatch");
    if (t < 0) return bad(-EPROTO, why, cap, "v2: a TLV past the header's end or malformed");
    return (int)(16 + len);
}

int ss__proxy_parse(const unsigned char *buf, size_t n, unsigned accept, ss__proxy_hdr *out,
                    char *why, size_t cap)
{
    memset(out, 0, sizeof *out);
    if (cap) why[0] = '\0';
    if (n == 0) return 0;
    if ((accept & SS__PROXY_ACCEPT_V2) && prefix_of(buf, n, v2_sig, sizeof v2_sig))
        return n < sizeof v2_sig ? 0 : parse_v2(buf, n, out, why, cap);
    if ((accept & SS__PROXY_ACCEPT_V1) && prefix_of(buf, n, v1_sig, sizeof v1_sig - 1))
        return n < sizeof v1_sig - 1 ? 0 : parse_v1(buf, n, out, why, cap);
    return bad(-EPROTO, why, cap, "no PROXY header");
}
