/* alpn.c - the ALPN option's text ("h2,http/1.1") in the wire format that
 * OpenSSL takes, RFC 7301 section 3.1: a list of protocol names, each
 * prefixed with its one-byte length; a name is 1 to 255 bytes, and an empty
 * one is forbidden. Names here are printable ASCII without the comma that
 * separates them, so a typo is an error rather than a protocol nobody
 * speaks. Pure (no OpenSSL), so that it builds, and is fuzzed, everywhere. */
#include "internal.h"

#include <errno.h>
#include <string.h>

/* One name of len bytes at p: printable, no comma (the separator). */
static int valid_name(const char *p, size_t len)
{
    if (len == 0 || len > 255) return 0;
    for (size_t i = 0; i < len; i++)
        if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == ',') return 0;
    return 1;
}

int ss__alpn_wire(const char *list, unsigned char *out, size_t cap)
{
    if (!list || !*list) return 0;
    size_t used = 0;
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        if (!valid_name(p, len)) return -EINVAL;
        if (len + 1 > cap - used) return -ENOSPC;
        out[used++] = (unsigned char)len;
        memcpy(out + used, p, len);
        used += len;
        if (p[len] == '\0') break;
        p += len + 1;
    }
    return (int)used;
}
