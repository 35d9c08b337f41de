/* json_check.c - a strict recursive-descent reader of JSON (RFC 8259): every
 * production of the grammar, UTF-8 passed through, no extensions (no NaN, no
 * trailing commas, no comments), nesting limited so hostile input cannot
 * exhaust the stack. */
#include "json_check.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct cur {
    const char *p, *end;
    int depth;
} cur_t;

static const char *value(cur_t *c);

static void skip_ws(cur_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int is_hex(char ch)
{
    return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* Consumes the literal word (true, false, null). */
static const char *literal(cur_t *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return NULL;
    c->p += n;
    return c->p;
}

static int digits(cur_t *c)
{
    const char *start = c->p;
    while (c->p < c->end && is_digit(*c->p)) c->p++;
    return c->p > start;
}

/* number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT ) */
static const char *number(cur_t *c)
{
    if (c->p < c->end && *c->p == '-') c->p++;
    if (c->p < c->end && *c->p == '0')
        c->p++;
    else if (!digits(c))
        return NULL;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (!digits(c)) return NULL;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
        if (!digits(c)) return NULL;
    }
    return c->p;
}

static const char *string(cur_t *c)
{
    if (c->p >= c->end || *c->p != '"') return NULL;
    for (c->p++; c->p < c->end; c->p++) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') return ++c->p;
        if (ch < 0x20) return NULL; /* control characters must be escaped */
        if (ch != '\\') continue;
        if (++c->p >= c->end) return NULL;
        if (*c->p == 'u') {
            for (int i = 0; i < 4; i++)
                if (++c->p >= c->end || !is_hex(*c->p)) return NULL;
        } else if (!strchr("\"\\/bfnrt", *c->p) || *c->p == '\0')
            return NULL;
    }
    return NULL;
}

/* Elements or members separated by commas up to the closing bracket. */
static const char *container(cur_t *c, char close, int members)
{
    if (++c->depth > MAX_DEPTH) return NULL;
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        c->depth--;
        return c->p;
    }
    for (;;) {
        if (members) {
            skip_ws(c);
            if (!string(c)) return NULL;
            skip_ws(c);
            if (c->p >= c->end || *c->p++ != ':') return NULL;
        }
        if (!value(c)) return NULL;
        skip_ws(c);
        if (c->p >= c->end) return NULL;
        if (*c->p == close) break;
        if (*c->p++ != ',') return NULL;
    }
    c->p++;
    c->depth--;
    return c->p;
}

static const char *value(cur_t *c)
{
    skip_ws(c);
    if (c->p >= c->end) return NULL;
    switch (*c->p) {
    case '{':
        return container(c, '}', 1);
    case '[':
        return container(c, ']', 0);
    case '"':
        return string(c);
    case 't':
        return literal(c, "true");
    case 'f':
        return literal(c, "false");
    case 'n':
        return literal(c, "null");
    default:
        return number(c);
    }
}

int jc_validate(const char *text, size_t len, size_t *err_off)
{
    cur_t c = {text, text + len, 0};
    if (value(&c)) {
        skip_ws(&c);
        if (c.p == c.end) return 0;
    }
    if (err_off) *err_off = (size_t)(c.p - text);
    return -1;
}

/* ------------------------------------------------------------- look-ups */

/* Whether the string token at p (quotes included, n bytes) spells key[0..klen).
 * Keys with escapes never match: the generator writes none. */
static int key_is(const char *p, size_t n, const char *key, size_t klen)
{
    return n == klen + 2 && memcmp(p + 1, key, klen) == 0;
}

/* Within the container at c->p, moves c->p to the value named by the path
 * step (a key, or an index for arrays). Returns 0 or -1. */
static int step(cur_t *c, const char *name, size_t nlen)
{
    int members = *c->p == '{';
    char close = members ? '}' : ']';
    long want = -1;
    if (!members) {
        char *e;
        want = strtol(name, &e, 10);
        if (e != name + nlen || want < 0) return -1;
    }
    c->p++;
    for (long i = 0;; i++) {
        skip_ws(c);
        if (*c->p == close) return -1;
        const char *k = c->p;
        if (members) {
            string(c);
            size_t klen = (size_t)(c->p - k);
            skip_ws(c);
            c->p++; /* ':' */
            skip_ws(c);
            if (key_is(k, klen, name, nlen)) return 0;
        } else if (i == want)
            return 0;
        value(c);
        skip_ws(c);
        if (*c->p == ',') c->p++;
    }
}

const char *jc_find(const char *text, size_t len, const char *path, size_t *vlen)
{
    if (jc_validate(text, len, NULL) < 0) return NULL;
    cur_t c = {text, text + len, 0};
    skip_ws(&c);
    while (*path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (*c.p != '{' && *c.p != '[') return NULL;
        if (step(&c, path, n) < 0) return NULL;
        path += n + (dot ? 1 : 0);
    }
    const char *start = c.p;
    value(&c);
    *vlen = (size_t)(c.p - start);
    return start;
}

int jc_number(const char *text, size_t len, const char *path, double *out)
{
    size_t n;
    const char *v = jc_find(text, len, path, &n);
    if (!v || !(*v == '-' || is_digit(*v))) return -1;
    char buf[64];
    if (n >= sizeof buf) return -1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    return 0;
}

int jc_count(const char *text, size_t len, const char *path)
{
    size_t n;
    const char *v = jc_find(text, len, path, &n);
    if (!v || (*v != '[' && *v != '{')) return -1;
    cur_t c = {v, v + n, 0};
    char close = *v == '{' ? '}' : ']';
    int count = 0;
    c.p++;
    skip_ws(&c);
    while (*c.p != close) {
        if (*v == '{') {
            string(&c);
            skip_ws(&c);
            c.p++;
        }
        value(&c);
        count++;
        skip_ws(&c);
        if (*c.p == ',') c.p++;
        skip_ws(&c);
    }
    return count;
}
