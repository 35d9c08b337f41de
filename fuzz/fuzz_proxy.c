/* fuzz_proxy.c - the PROXY protocol header parser (src/proxy_parse.c;
 * HAProxy's proxy-protocol.txt, sections 2.1 and 2.2), the one parser that
 * reads what any client on the network sends first.
 *
 * The input is [accept] then the bytes received: accept's two low bits
 * are the versions accepted (bit 0 v1, bit 1 v2; 0 means both).
 * Invariants: the result is 0, -EPROTO, -EMSGSIZE or a length within the
 * input, and never more than the largest header; a header found is found
 * again, with the same length, with one byte more after it; every shorter
 * prefix of it asks for more bytes (a header is never decided early); the
 * addresses of a non-local header are IPv4 or IPv6, of one family. */
#include "fuzz.h"
#include "proxy.h"

#include <errno.h>
#include <string.h>

static void check_header(const uint8_t *buf, size_t n, unsigned accept, int len,
                         const ss__proxy_hdr *h)
{
    FUZZ_CHECK(h->version == 1 || h->version == 2, "version %d", h->version);
    FUZZ_CHECK((size_t)len <= (h->version == 1 ? SS__PROXY_V1_MAX : SS__PROXY_V2_MAX), "len %d",
               len);
    if (!h->local) {
        int f = h->src.sa.ss_family;
        FUZZ_CHECK((f == AF_INET || f == AF_INET6) && f == h->dst.sa.ss_family, "family %d", f);
    }
    ss__proxy_hdr again;
    char why[80];
    for (size_t i = 0; i < (size_t)len; i++) {
        int r = ss__proxy_parse(buf, i, accept, &again, why, sizeof why);
        FUZZ_CHECK(r == 0, "prefix of %zu bytes of a %d-byte header: %d (%s)", i, len, r, why);
    }
    if ((size_t)len < n) return;
    uint8_t *more = malloc(n + 1);
    FUZZ_CHECK(more != NULL, "malloc");
    memcpy(more, buf, n);
    more[n] = 'x';
    int r = ss__proxy_parse(more, n + 1, accept, &again, why, sizeof why);
    free(more);
    FUZZ_CHECK(r == len, "a byte after the header changed %d into %d", len, r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned accept = data[0] & 3u;
    if (accept == 0) accept = SS__PROXY_ACCEPT_V1 | SS__PROXY_ACCEPT_V2;
    const uint8_t *buf = data + 1;
    size_t n = size - 1;
    if (n > SS__PROXY_V2_MAX + 16) n = SS__PROXY_V2_MAX + 16;
    ss__proxy_hdr h;
    char why[80];
    int len = ss__proxy_parse(buf, n, accept, &h, why, sizeof why);
    FUZZ_CHECK(len == 0 || len == -EPROTO || len == -EMSGSIZE || (len > 0 && (size_t)len <= n),
               "rc %d", len);
    FUZZ_CHECK(len >= 0 || why[0] != '\0', "an error without a reason");
    if (len > 0) check_header(buf, n, accept, len, &h);
    return 0;
}
