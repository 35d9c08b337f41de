/* services.h - the services of `socketserver serve`. Each is one request
 * handler, written once against the connection API, that serves stream
 * (tcp, unix) and datagram (udp, unixgram) requests in every mode. The table
 * (table.c) names them for the command line; common.c holds what several
 * share. Built into the ss_services library (tests, fuzzers). */
#ifndef SS_APP_SERVICES_H
#define SS_APP_SERVICES_H

#include "socketserver.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct svc {
    const char *name;     /* "echo": the SERVICE of `serve` */
    const char *standard; /* "RFC 862", or "" for ours */
    const char *summary;  /* one line for --help */
    ss_handler_t handler;
} svc_t;

/* Every service, in --help order, ended by an entry whose name is NULL. */
extern const svc_t svc_table[];

/* The service called name, or NULL. */
const svc_t *svc_find(const char *name);

/* ------------------------------------------------------------ handlers */

int svc_echo(ss_conn_t *c, void *ctx);      /* RFC 862 */
int svc_discard(ss_conn_t *c, void *ctx);   /* RFC 863 */
int svc_chargen(ss_conn_t *c, void *ctx);   /* RFC 864 */
int svc_daytime(ss_conn_t *c, void *ctx);   /* RFC 867 */
int svc_time(ss_conn_t *c, void *ctx);      /* RFC 868 */
int svc_upper(ss_conn_t *c, void *ctx);     /* the seed's tcps1/udps1 */
int svc_timestamp(ss_conn_t *c, void *ctx); /* the seed's tsTservSS */

/* ------------------------------------------------------------ shared */

/* The BSD inetd guard against reflection loops: 1 if a datagram from this
 * peer must not be answered, because its source port is a classic service
 * port (echo 7, daytime 13, chargen 19, time 37) whose server would answer
 * our answer, and so on for ever. 0 for every other peer and for streams.
 * (OpenBSD's inetd refuses every port below 1024, and 127.0.0.0/8 too.) */
int svc_loop_guard(ss_conn_t *c);

/* Whether err means the peer went away (EPIPE, ECONNRESET): the normal end
 * of a session that only writes, such as chargen's. */
int svc_peer_gone(int err);

/* After a stream reply that ends the session (daytime, time): sends FIN,
 * then reads and drops what the client sent, up to a short deadline, so
 * that closing with unread input does not turn into a reset that could
 * destroy the reply in flight (Apache's "lingering close"). */
int svc_linger(ss_conn_t *c);

/* A buffer for one line of c: max_line + 1 bytes, from the server's
 * configuration, never from what the client sends. Free it with free(3). */
char *svc_line_buffer(const ss_conn_t *c, size_t *cap);

/* ctime(3)'s 24 characters for t in local time, "Thu Nov 26 04:13:54 2026",
 * thread-safe. buf needs 25 bytes. Returns buf. */
char *svc_ctime(time_t t, char *buf, size_t cap);
#define SVC_CTIME_LEN 24

/* RFC 868: seconds since 1900-01-01 00:00 UTC, modulo 2^32. */
#define SVC_RFC868_OFFSET 2208988800u /* 1900 to 1970: 70 years, 17 leap days */
uint32_t svc_rfc868(time_t unix_seconds);

/* RFC 864's pattern: byte k of the endless stream of 72-character lines of
 * the 95 printable ASCII characters, each line starting one character
 * further, each ended by CR LF. Fills n bytes from stream offset off. */
#define SVC_CHARGEN_WIDTH  72
#define SVC_CHARGEN_LINE   (SVC_CHARGEN_WIDTH + 2)
#define SVC_CHARGEN_PERIOD 95
void svc_chargen_fill(char *buf, size_t n, uint64_t off);

#endif
