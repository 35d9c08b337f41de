/* jsonq.c - `ss_jsonq FILE [PATH...]`: checks that FILE ("-": stdin) holds one
 * valid JSON document and prints the value at each dotted PATH on a line of
 * its own (strings without their quotes). bench/run.sh reads the generator's
 * --json with it, so the suite needs neither python nor jq.
 * Exit status: 0, 1 for invalid JSON or an unreadable file, 2 for a missing
 * path. */
#include "json_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(FILE *f, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *p = realloc(buf, cap *= 2);
        if (!p) free(buf);
        buf = p;
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("usage: ss_jsonq FILE|- [PATH...]\n", stderr);
        return 64;
    }
    FILE *f = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    size_t len, off;
    char *text = slurp(f, &len);
    if (f != stdin) fclose(f);
    if (!text) return 1;
    if (jc_validate(text, len, &off) < 0) {
        fprintf(stderr, "ss_jsonq: %s: invalid JSON at byte %zu\n", argv[1], off);
        free(text);
        return 1;
    }
    int code = 0;
    for (int i = 2; i < argc; i++) {
        size_t n;
        const char *v = jc_find(text, len, argv[i], &n);
        if (!v) {
            fprintf(stderr, "ss_jsonq: %s: no %s\n", argv[1], argv[i]);
            code = 2;
            continue;
        }
        if (*v == '"') v++, n -= 2;
        printf("%.*s\n", (int)n, v);
    }
    free(text);
    return code;
}
