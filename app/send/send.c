/* send.c - `socketserver send ADDRESS [MESSAGE ...]`: the seed's tcpc1 and
 * udpc1 clients made safe. Each MESSAGE (or stdin line) goes out as a line or
 * a datagram and its reply is printed; every wait has a deadline and
 * datagrams are retried, so no reply is an error (exit 69), never a hang. */
#include "cli.h"
#include "opts.h"
#include "proxy_hdr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#define RFC868_OFFSET 2208988800u /* seconds from 1900-01-01 to 1970-01-01 (RFC 868) */
#define MAX_DATAGRAM  65536

static void print_help(FILE *f)
{
    fputs("Usage: socketserver send ADDRESS [MESSAGE ...] [OPTIONS]\n"
          "Send each MESSAGE (none: each line of stdin) to ADDRESS and print the replies.\n"
          "tcp and unix: a line each, then one reply line is read and printed.\n"
          "udp and unixgram: a datagram each, resent until a reply comes (--retries);\n"
          "a reply is printed with a newline added if it lacks one.\n"
          "No message at all (stdin empty): a stream is half-closed and everything the\n"
          "server sends is printed until it closes (daytime, time, chargen with\n"
          "--max-bytes); a datagram socket sends one empty datagram.\n"
          "tls: as tcp, over TLS 1.2/1.3; the server is verified against the system's\n"
          "CAs (or --tls-ca) and the address's host (or --sni).\n"
          "\nAddresses: tcp://HOST:PORT  udp://HOST:PORT  tls://HOST:PORT  unix:PATH\n"
          "  unixgram:PATH\n"
          "\nOptions:\n"
          "  -t, --timeout S      wait for a connection or a reply up to S seconds (default 2)\n"
          "  -r, --retries N      udp, unixgram: resend an unanswered datagram N times\n"
          "                       (default 2)\n"
          "  -n, --no-reply       send only, wait for nothing (discard)\n"
          "  -C, --crlf           end lines with CR LF instead of LF\n"
          "      --time           replies are RFC 868 times (4 bytes): print each as Unix\n"
          "                       seconds and UTC date, \"1764130434 2025-11-26T04:13:54Z\"\n"
          "      --raw            print replies exactly, adding no newline\n"
          "      --max-bytes N    stop after N bytes of replies (sizes take k, M, G)\n"
          "      --tls-ca FILE    tls: verify the server with these CAs (PEM), not the\n"
          "                       system's\n"
          "      --insecure       tls: do not verify the server (testing only)\n"
          "      --tls-cert FILE  tls: present this client certificate (mutual TLS)\n"
          "      --tls-key FILE   its private key (PEM; default: in --tls-cert)\n"
          "      --sni NAME       tls: send NAME as SNI and verify the server as NAME\n"
          "      --proxy v1|v2    tcp: send a PROXY protocol header first, naming this\n"
          "                       connection's own addresses (serve --proxy-protocol)\n"
          "  -h, --help           show this help\n"
          "  -V, --version        show the version\n"
          "\nExit status: 0 every reply came, 64 bad usage (or tls:// in a build without\n"
          "TLS), 65 a TLS file that is not a certificate or key, 66 a TLS file missing\n"
          "or unreadable, 68 unknown host, 69 refused, unreachable, closed early or no\n"
          "reply in time, 71 system error, 76 the TLS handshake failed (the server not\n"
          "verified: unknown CA, expired, another name; or this client refused).\n",
          f);
}

/* ------------------------------------------------------------ errors */

static int exit_code(int err)
{
    switch (err) {
    case SS_EADDR:
    case SS_EUSAGE:
    case SS_EMODE: /* tls:// in a build without TLS */
        return EXIT_USAGE;
    case SS_ERESOLVE:
        return EXIT_NOHOST;
    case -ECONNREFUSED:
    case -ECONNRESET:
    case -ECONNABORTED:
    case -EPIPE:
    case -ETIMEDOUT:
    case -EHOSTUNREACH:
    case -EHOSTDOWN:
    case -ENETUNREACH:
    case -ENETDOWN:
    case -ENOENT: /* a unix socket path nobody created */
    case SS_EEOF:
    case SS_ETRUNC:
        return EXIT_UNAVAILABLE;
    case SS_ETLS: /* after the handshake: refused by the server, a bad record */
        return EXIT_PROTOCOL;
    default:
        return EXIT_OSERR;
    }
}

/* Dialing: a TLS file of the options and a failed handshake have codes of
 * their own. A file's errno (-ENOENT, -EACCES) is told apart from a unix
 * socket path's by the message, which names the file ("tls ca FILE: ..."). */
static int dial_code(int err)
{
    int file =
        strncmp(ss_errmsg(), "tls ", 4) == 0 && strncmp(ss_errmsg(), "tls handshake", 13) != 0;
    if (err == SS_ETLS) return file ? EXIT_DATAERR : EXIT_PROTOCOL;
    if (file && err > -4096 && err < 0) return EXIT_NOINPUT;
    return exit_code(err);
}

static int fail(const send_opts_t *o, ss_conn_t *c, int err)
{
    const char *msg = c ? ss_conn_errmsg(c) : ss_errmsg();
    if (err == -ETIMEDOUT && c)
        cli_error("send", "no reply from %s within %.3g s", o->address,
                  (double)o->timeout_ms / 1000);
    else
        cli_error("send", "%s", *msg ? msg : ss_strerror(err));
    return exit_code(err);
}

/* ------------------------------------------------------------ input */

/* Where the messages come from: the command line, or stdin's lines. */
typedef struct source {
    const send_opts_t *o;
    int next;
    char *line; /* getline(3)'s buffer: a client may hold a line of any length */
    size_t cap;
    int failed;
} source;

/* The next message without its line ending. Returns 1, or 0 at the end. */
static int next_message(source *src, const char **msg, size_t *len)
{
    if (src->o->nmessages > 0) {
        if (src->next >= src->o->nmessages) return 0;
        *msg = src->o->messages[src->next++];
        *len = strlen(*msg);
        return 1;
    }
    ssize_t n = getline(&src->line, &src->cap, stdin);
    if (n < 0) {
        src->failed = ferror(stdin);
        return 0;
    }
    if (n > 0 && src->line[n - 1] == '\n') n--;
    if (n > 0 && src->line[n - 1] == '\r') n--;
    *msg = src->line;
    *len = (size_t)n;
    return 1;
}

/* ------------------------------------------------------------ output */

typedef struct sink {
    uint64_t max, done; /* --max-bytes, 0: none; bytes printed so far */
} sink;

/* Prints reply bytes. Returns 1 once --max-bytes is reached, else 0. */
static int emit(sink *k, const void *p, size_t n)
{
    if (k->max && n > k->max - k->done) n = (size_t)(k->max - k->done);
    fwrite(p, 1, n, stdout);
    k->done += n;
    return k->max && k->done >= k->max;
}

/* RFC 868's count wraps in 2036; a value below the offset is read as the
 * next era, as rdate does, so the answer stays right until 2104. */
static void print_time(sink *k, const unsigned char b[4])
{
    uint32_t v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    int64_t unix_s =
        v >= RFC868_OFFSET ? (int64_t)v - RFC868_OFFSET : (int64_t)v + 4294967296LL - RFC868_OFFSET;
    time_t t = (time_t)unix_s;
    struct tm tm;
    char line[64], date[32] = "?";
    if (gmtime_r(&t, &tm)) strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(line, sizeof line, "%lld %s\n", (long long)unix_s, date);
    emit(k, line, (size_t)n);
}

/* ------------------------------------------------------------ streams */

static int send_line(ss_conn_t *c, const send_opts_t *o, const char *msg, size_t len)
{
    int rc = ss_write(c, msg, len);
    if (rc == 0) rc = ss_puts(c, o->crlf ? "\r\n" : "\n");
    if (rc == 0) rc = ss_flush(c);
    return rc;
}

/* Reads one reply line (or, with --time, one 4-byte time) and prints it.
 * Returns 1 when a reply was printed, 0 when the stream ended first, 2 when
 * --max-bytes was reached, or an error. */
static int await_reply(ss_conn_t *c, const send_opts_t *o, sink *k)
{
    ss_set_deadline(c, ss_now_ms() + o->timeout_ms);
    if (o->time) {
        unsigned char b[4];
        ssize_t n = ss_read_full(c, b, sizeof b);
        if (n > 0) print_time(k, b);
        return n <= 0 ? (int)n : 1;
    }
    char buf[4096];
    size_t used = 0;
    for (;;) {
        ssize_t n = ss_read(c, buf + used, 1); /* buffered below us: a copy, not a syscall */
        if (n < 0) {
            emit(k, buf, used); /* what came of the line before the failure */
            return (int)n;
        }
        if (n > 0) used++;
        int end = n == 0 || buf[used - 1] == '\n';
        if (used == sizeof buf || end) {
            if (emit(k, buf, used)) return 2;
            if (end) return n == 0 && used == 0 ? 0 : 1;
            used = 0;
        }
    }
}

/* No message: the server speaks alone (daytime, time, chargen). Half-close
 * so a service reading until the end of our input can finish, then print
 * until it closes; --timeout bounds each silence. */
static int read_to_end(ss_conn_t *c, const send_opts_t *o, sink *k)
{
    int rc = ss_close_write(c);
    if (rc < 0) return fail(o, c, rc);
    for (;;) {
        ss_set_deadline(c, ss_now_ms() + o->timeout_ms);
        unsigned char buf[4096];
        ssize_t n = o->time ? ss_read_full(c, buf, 4) : ss_read(c, buf, sizeof buf);
        if (n == 0) return 0;
        if (n < 0) return fail(o, c, (int)n);
        if (o->time)
            print_time(k, buf);
        else if (emit(k, buf, (size_t)n))
            return 0;
        fflush(stdout);
    }
}

/* The server closed while a reply was awaited. After an empty line that is
 * the normal end of a line service's session (upper, the seed's tcps1), if
 * no message was to follow; otherwise the message went unanswered. */
static int closed_early(const send_opts_t *o, source *src, size_t len)
{
    const char *msg;
    size_t more;
    if (len == 0 && !next_message(src, &msg, &more)) return 0;
    cli_error("send", "%s closed the connection without a reply", o->address);
    return EXIT_UNAVAILABLE;
}

static int stream_session(ss_conn_t *c, const send_opts_t *o, source *src)
{
    sink k = {.max = o->max_bytes};
    const char *msg;
    size_t len;
    int any = 0;
    while (next_message(src, &msg, &len)) {
        any = 1;
        int rc = send_line(c, o, msg, len);
        if (rc < 0) return fail(o, c, rc);
        if (o->no_reply) continue;
        rc = await_reply(c, o, &k);
        fflush(stdout);
        if (rc < 0) return fail(o, c, rc);
        if (rc == 0) return closed_early(o, src, len);
        if (rc == 2) return 0;
    }
    if (!any && !o->no_reply) return read_to_end(c, o, &k);
    return 0;
}

/* ------------------------------------------------------------ datagrams */

static int print_datagram(const send_opts_t *o, sink *k, const char *p, ssize_t n)
{
    if (o->time) {
        if (n == 4) {
            print_time(k, (const unsigned char *)p);
            return 0;
        }
        cli_error("send", "reply of %zd bytes is not an RFC 868 time", n);
        return EXIT_UNAVAILABLE;
    }
    emit(k, p, (size_t)n);
    if (!o->raw && (n == 0 || p[n - 1] != '\n')) fputc('\n', stdout);
    return 0;
}

static int one_datagram(ss_conn_t *c, const send_opts_t *o, sink *k, const char *msg, size_t len)
{
    static char reply[MAX_DATAGRAM];
    int rc;
    if (o->no_reply) {
        rc = ss_write(c, msg, len);
        if (rc == 0) rc = ss_flush(c);
        return rc < 0 ? fail(o, c, rc) : 0;
    }
    ssize_t n = ss_request(c, msg, len, reply, sizeof reply,
                           ss_now_ms() + o->timeout_ms * (o->retries + 1), o->retries + 1);
    if (n == -ETIMEDOUT) {
        cli_error("send", "no reply from %s after %d attempt(s) of %.3g s", o->address,
                  o->retries + 1, (double)o->timeout_ms / 1000);
        return EXIT_UNAVAILABLE;
    }
    if (n < 0) return fail(o, c, (int)n);
    rc = print_datagram(o, k, reply, n);
    fflush(stdout);
    return rc;
}

static int datagram_session(ss_conn_t *c, const send_opts_t *o, source *src)
{
    sink k = {.max = o->max_bytes};
    const char *msg;
    size_t len;
    int any = 0;
    while (next_message(src, &msg, &len)) {
        any = 1;
        int rc = one_datagram(c, o, &k, msg, len);
        if (rc) return rc;
        if (k.max && k.done >= k.max) return 0;
    }
    return any ? 0 : one_datagram(c, o, &k, "", 0);
}

/* ------------------------------------------------------------ command */

/* --proxy: the header first, naming the connection's own addresses, as a
 * load balancer would name its client's. */
static int send_proxy(ss_conn_t *c, int version)
{
    unsigned char h[PROXY_HDR_MAX];
    int n = proxy_header(version, &ss_conn_local(c)->sa, &ss_conn_peer(c)->sa, h, sizeof h);
    int rc = n < 0 ? n : ss_write(c, h, (size_t)n);
    return rc < 0 ? rc : ss_flush(c);
}

static int run(const send_opts_t *o)
{
    ss_conn_t *c;
    int64_t deadline = ss_now_ms() + o->timeout_ms;
    int tls = strncmp(o->address, "tls://", 6) == 0;
    int rc =
        tls ? ss_dial_tls(o->address, &o->tls, deadline, &c) : ss_dial(o->address, deadline, &c);
    if (rc < 0) { /* ss_errmsg(): "connect ADDRESS: cause", or the TLS failure */
        cli_error("send", "%s", ss_errmsg());
        return dial_code(rc);
    }
    if (o->proxy && (rc = send_proxy(c, o->proxy)) < 0) {
        cli_error("send", "PROXY header to %s: %s", o->address, ss_strerror(rc));
        ss_conn_close(c);
        return dial_code(rc);
    }
    source src = {.o = o};
    rc = ss_conn_is_datagram(c) ? datagram_session(c, o, &src) : stream_session(c, o, &src);
    ss_conn_close(c);
    free(src.line);
    if (rc == 0 && src.failed) {
        perror("socketserver send: reading stdin");
        rc = EXIT_OSERR;
    }
    if (fflush(stdout) != 0 && rc == 0) {
        perror("socketserver send: writing stdout");
        rc = EXIT_OSERR;
    }
    return rc;
}

int cmd_send(int argc, char **argv)
{
    send_opts_t o;
    char err[256];
    int rc = cli_options("send", opts_parse_send(argc, argv, &o, err, sizeof err), err, print_help);
    return rc == CLI_RUN ? run(&o) : rc;
}
