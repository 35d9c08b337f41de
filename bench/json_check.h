/* json_check.h - a small strict JSON (RFC 8259) validator with dotted-path
 * look-ups, so that the tests and bench/run.sh can read `socketserver bench
 * --json` on a machine without python or jq. */
#ifndef SS_BENCH_JSON_CHECK_H
#define SS_BENCH_JSON_CHECK_H

#include <stddef.h>

/* Checks that text[0..len) is exactly one JSON value, surrounded by nothing
 * but whitespace. Returns 0, or -1 with *err_off (if not NULL) set to the
 * offset where it stopped making sense. Nesting deeper than 64 fails. */
int jc_validate(const char *text, size_t len, size_t *err_off);

/* Finds the value at a dotted path in a valid document: object keys and
 * array indexes, such as "end.latency_us.p99" or "intervals.0.requests"; ""
 * is the whole document. Returns the value's first byte and sets *vlen to its
 * length, or NULL when the path does not exist. */
const char *jc_find(const char *text, size_t len, const char *path, size_t *vlen);

/* The number at path. Returns 0, or -1 if missing or not a number. */
int jc_number(const char *text, size_t len, const char *path, double *out);

/* The element count of the array (or member count of the object) at path,
 * or -1. */
int jc_count(const char *text, size_t len, const char *path);

#endif
