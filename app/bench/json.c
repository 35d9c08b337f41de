/* json.c - a small streaming writer for the --json report (RFC 8259):
 * two-space indentation, escaped strings, null for numbers JSON cannot hold. */
#include "bench.h"

#include <inttypes.h>
#include <math.h>

void bench_json_init(bench_json_t *j, FILE *f)
{
    j->f = f;
    j->depth = 0;
    j->count[0] = 0;
}

static void indent(bench_json_t *j)
{
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++) fputs("  ", j->f);
}

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* Writes the separator, the indentation and the key of the next member. */
static void member(bench_json_t *j, const char *key)
{
    if (j->depth == 0) return; /* the top-level value */
    if (j->count[j->depth]++ > 0) fputc(',', j->f);
    indent(j);
    if (key) {
        put_string(j->f, key);
        fputs(": ", j->f);
    }
}

static void open(bench_json_t *j, const char *key, char c)
{
    member(j, key);
    fputc(c, j->f);
    j->closer[j->depth] = c == '{' ? '}' : ']';
    if (j->depth + 1 < BENCH_JSON_DEPTH) j->depth++;
    j->count[j->depth] = 0;
}

void bench_json_object(bench_json_t *j, const char *key)
{
    open(j, key, '{');
}

void bench_json_array(bench_json_t *j, const char *key)
{
    open(j, key, '[');
}

void bench_json_end(bench_json_t *j)
{
    if (j->depth == 0) return;
    int had = j->count[j->depth];
    j->depth--;
    if (had) indent(j);
    fputc(j->closer[j->depth], j->f);
}

void bench_json_str(bench_json_t *j, const char *key, const char *value)
{
    member(j, key);
    put_string(j->f, value ? value : "");
}

void bench_json_int(bench_json_t *j, const char *key, int64_t value)
{
    member(j, key);
    fprintf(j->f, "%" PRId64, value);
}

void bench_json_uint(bench_json_t *j, const char *key, uint64_t value)
{
    member(j, key);
    fprintf(j->f, "%" PRIu64, value);
}

void bench_json_num(bench_json_t *j, const char *key, double value)
{
    member(j, key);
    if (isfinite(value))
        fprintf(j->f, "%.3f", value);
    else
        fputs("null", j->f);
}

void bench_json_bool(bench_json_t *j, const char *key, int value)
{
    member(j, key);
    fputs(value ? "true" : "false", j->f);
}

void bench_json_finish(bench_json_t *j)
{
    while (j->depth > 0) bench_json_end(j);
    fputc('\n', j->f);
    fflush(j->f);
}
