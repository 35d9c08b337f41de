/* fuzz_alpn.c - the ALPN list option's parser (src/alpn.c), the one text
 * the library parses for TLS itself.
 *
 * The input is the list's text (up to the first NUL). Invariants: the
 * result is -EINVAL, -ENOSPC or a length within the buffer; a length is a
 * well-formed RFC 7301 protocol list (each name 1-255 bytes, the lengths
 * adding up exactly) whose names, joined with commas, give the text back;
 * and a buffer one byte short of that length gives -ENOSPC. */
#include "fuzz.h"

#include <errno.h>
#include <string.h>

/* Rebuilds the comma-separated text from the wire form; 0 if malformed. */
static int unwire(const unsigned char *w, int n, char *out, size_t cap)
{
    size_t used = 0;
    for (int i = 0; i < n;) {
        int len = w[i++];
        if (len == 0 || i + len > n || used + (size_t)len + 2 > cap) return 0;
        if (used) out[used++] = ',';
        memcpy(out + used, w + i, (size_t)len);
        used += (size_t)len;
        i += len;
    }
    out[used] = '\0';
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[1024];
    if (size >= sizeof text) size = sizeof text - 1;
    memcpy(text, data, size);
    text[size] = '\0';
    unsigned char wire[512];
    int n = ss__alpn_wire(text, wire, sizeof wire);
    FUZZ_CHECK(n == -EINVAL || n == -ENOSPC || (n >= 0 && (size_t)n <= sizeof wire), "rc %d", n);
    if (n <= 0) return 0;
    char back[1024];
    FUZZ_CHECK(unwire(wire, n, back, sizeof back), "malformed wire form of \"%s\"", text);
    FUZZ_CHECK(strcmp(back, text) == 0, "\"%s\" came back as \"%s\"", text, back);
    FUZZ_CHECK(ss__alpn_wire(text, wire, (size_t)n - 1) == -ENOSPC, "no -ENOSPC one byte short");
    return 0;
}
