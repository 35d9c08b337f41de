/* fuzz_svc.c - one service of app/services/services.h (FUZZ_SERVICE, set by the
 * build: one target per service) run as the server runs it: a real server
 * (ss_server_create, nothing bound) and ss__conn_for_request +
 * ss__run_handler, over a stream or with a datagram.
 *
 * Input: 5 header bytes, then the payload.
 *   [0] bit 0: datagram.  Stream: bit 1 shrinks the send buffer so that
 *       writes wait and split often.  Datagram: bit 1 udp (else unixgram);
 *       bit 2 (udp) the peer's source port is the loop guard's port number
 *       bits 3-4 (7, 13, 19, 37).
 *   [1] max_line (fuzz_max_line)
 *   [2] stream: buffer_size (fuzz_buffer_size); datagram: max_datagram
 *       (0: 65536, else 1-255; a larger packet is skipped, as the server
 *       drops it)
 *   [3] stream: the peer reads 64 << (bits 0-2) bytes per wait; for
 *       chargen, which never stops, it closes after 1 + 512 * (bits 3-7)
 *       bytes of output
 *   [4] 0: buffers from malloc; else from a cache, as in event mode, whose
 *       blocks are [4] - 1 bytes larger than asked (fuzz_peer_cache)
 * Stream payload: the client's bytes, FUZZ_SEP between chunks (the scripted
 * peer of peer.c sends a chunk each time the handler waits for input, then
 * SHUT_WR). Datagram payload: the packet.
 *
 * Each reply is compared with what the service promises (man/man1/socketserver.1
 * and services.h), computed here from the input alone. */
#include "fuzz.h"

#include "services.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINGER_MAX_BYTES 4096 /* services/common.c: what a closing session drops at most */

#ifndef FUZZ_SERVICE
#error "FUZZ_SERVICE names the service under test"
#endif

/* 1: a failed stream session must still deliver every reply it wrote. Off
 * while src/handler.c drops a failed session's buffered output (README.md:
 * known findings); -DFUZZ_STRICT_FLUSH=1 shows it. */
#ifndef FUZZ_STRICT_FLUSH
#define FUZZ_STRICT_FLUSH 0
#endif

typedef struct session {
    const svc_t *svc;
    size_t max_line, max_dgram;
    int err;           /* what handle_error was given; 0 if not called */
    int guarded;       /* datagram from a port the loop guard refuses */
    time_t t0, t1;     /* the handler ran between these seconds */
    const uint8_t *in; /* what the client sent: stream bytes or the packet */
    size_t inlen;
    const uint8_t *out; /* what the client received */
    size_t outlen;
    int rc;    /* ss__run_handler's result */
    int reset; /* stream: the connection reset the client (input left unread) */
    int reply; /* datagram: a reply was received */
} session;

static session cur; /* the hooks find the session here */

static int is(const char *name)
{
    return strcmp(cur.svc->name, name) == 0;
}

static void quiet_log(ss_log_level_t level, const char *msg, void *ctx)
{
    (void)level;
    (void)msg;
    (void)ctx;
}

static void on_error(ss_server_t *s, ss_conn_t *c, int err, void *ctx)
{
    (void)s;
    (void)ctx;
    FUZZ_CHECK(err < 0, "handle_error with %d", err);
    FUZZ_CHECK(ss_conn_errmsg(c) != NULL, "no message");
    cur.err = err;
}

/* Runs before the server's final flush: a datagram the loop guard refuses
 * must have no reply pending (it would go to a port of this machine). */
static void on_finish(ss_conn_t *c, void *ctx)
{
    if (cur.svc->handler.finish) cur.svc->handler.finish(c, ctx);
    FUZZ_CHECK(!cur.guarded || !(c->flags & SS__C_REPLY),
               "%s answers a datagram from a guarded port", cur.svc->name);
}

static ss_server_t *make_server(size_t max_line, size_t buffer_size, size_t max_dgram)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.max_line = max_line;
    cfg.buffer_size = buffer_size;
    cfg.max_datagram = max_dgram;
    cfg.log = quiet_log;
    cfg.handle_error = on_error;
    ss_handler_t h = cur.svc->handler;
    h.finish = on_finish;
    ss_server_t *s;
    int rc = ss_server_create(&cfg, &h, &s);
    FUZZ_CHECK(rc == 0, "ss_server_create: %s", ss_errmsg());
    return s;
}

static int run(ss_server_t *s, ss__request *req)
{
    ss_conn_t c;
    memset(&c, 0, sizeof c); /* ss__conn_for_request keeps a reused conn's buffers */
    ss__conn_for_request(s, &c, req);
    cur.t0 = time(NULL);
    int rc = ss__run_handler(s, &c);
    cur.t1 = time(NULL);
    FUZZ_CHECK(rc == cur.err, "handler gave %d, handle_error %d", rc, cur.err);
    ss__conn_release(&c);
    return rc;
}

/* ------------------------------------------------------------ expectations */

/* Whether p[0..24) is ctime's text for a second the handler ran in. */
static int is_now(const uint8_t *p)
{
    for (time_t t = cur.t0; t <= cur.t1; t++) {
        char want[SVC_CTIME_LEN + 1];
        svc_ctime(t, want, sizeof want);
        if (strlen(want) == SVC_CTIME_LEN && memcmp(p, want, SVC_CTIME_LEN) == 0) return 1;
    }
    return 0;
}

static int is_rfc868_now(const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    for (time_t t = cur.t0; t <= cur.t1; t++)
        if (v == svc_rfc868(t)) return 1;
    return 0;
}

static int is_chargen(const uint8_t *p, size_t n)
{
    char buf[4096];
    for (size_t off = 0; off < n; off += sizeof buf) {
        size_t k = n - off < sizeof buf ? n - off : sizeof buf;
        svc_chargen_fill(buf, k, off);
        if (memcmp(p + off, buf, k) != 0) return 0;
    }
    return 1;
}

/* "[ctime] " for a second the handler ran in, or its first k bytes. */
static int is_stamp(const uint8_t *p, size_t k)
{
    for (time_t t = cur.t0; t <= cur.t1; t++) {
        char want[SVC_CTIME_LEN + 4];
        want[0] = '[';
        svc_ctime(t, want + 1, SVC_CTIME_LEN + 1);
        memcpy(want + 1 + SVC_CTIME_LEN, "] ", 3);
        if (memcmp(p, want, k) == 0) return 1;
    }
    return 0;
}

#define STAMP_LEN (SVC_CTIME_LEN + 3)

/* Consumes from the output at *at the reply e (n bytes), after a "[ctime] "
 * stamp if stamped. Returns 1 if it is there; 0 if the output differs or
 * ends first - then *at is where a cut output would end if it is a cut one,
 * else left as it was. */
static int expect(size_t *at, const uint8_t *e, size_t n, int stamped)
{
    const uint8_t *o = cur.out + *at;
    size_t left = cur.outlen - *at;
    size_t head = stamped ? STAMP_LEN : 0;
    size_t k = left < head ? left : head;
    if (stamped && !is_stamp(o, k)) return 0;
    size_t m = left - k < n ? left - k : n;
    if (memcmp(o + k, e, m) != 0) return 0;
    if (k + m == head + n) {
        *at += head + n;
        return 1;
    }
    *at += k + m; /* the output ends inside this reply */
    return 0;
}

static int is_empty_line(const uint8_t *p, size_t n)
{
    return (n == 1 && p[0] == '\n') || (n == 2 && p[0] == '\r' && p[1] == '\n');
}

/* upper and timestamp over a stream: line by line, as ss_readline frames it
 * (fuzz_readline checks that framing on its own), until an empty line
 * (upper), the end of the stream, or a line over max_line (SS_ELINE). */
static void expect_lines(void)
{
    int upper = is("upper");
    size_t pos = 0, at = 0;
    int want = 0, cut = 0;
    uint8_t *line = malloc(cur.max_line + 1);
    FUZZ_CHECK(line != NULL, "out of memory");
    while (pos < cur.inlen) {
        const uint8_t *nl = memchr(cur.in + pos, '\n', cur.inlen - pos);
        size_t n = nl ? (size_t)(nl - cur.in) - pos + 1 : cur.inlen - pos;
        if (n > cur.max_line) {
            want = SS_ELINE;
            break;
        }
        memcpy(line, cur.in + pos, n);
        pos += n;
        if (upper && is_empty_line(line, n)) break;
        for (size_t i = 0; upper && i < n; i++)
            if (line[i] >= 'a' && line[i] <= 'z') line[i] = (uint8_t)(line[i] - 'a' + 'A');
        if (cut || expect(&at, line, n, !upper)) continue;
        /* The output ends early. A session that failed may have lost the
         * replies it still buffered (src/handler.c flushes only after a
         * success): the output must then be a prefix of the replies. */
        FUZZ_CHECK(at == cur.outlen && cur.rc < 0 && !FUZZ_STRICT_FLUSH,
                   "%s: reply to the line at %zu differs (or is missing; result %d)", cur.svc->name,
                   pos - n, cur.rc);
        cut = 1;
    }
    free(line);
    FUZZ_CHECK(cur.rc == want, "%s: result %d (%s), expected %d", cur.svc->name, cur.rc,
               ss_strerror(cur.rc), want);
    FUZZ_CHECK(at == cur.outlen, "%s: %zu bytes more than expected", cur.svc->name,
               cur.outlen - at);
}

static void expect_stream(size_t budget)
{
    if (is("upper") || is("timestamp")) {
        expect_lines();
        return;
    }
    FUZZ_CHECK(cur.rc == 0, "%s: result %d (%s)", cur.svc->name, cur.rc, ss_strerror(cur.rc));
    /* daytime and time drop the client's input while they close, up to
     * LINGER_MAX_BYTES: only beyond that may the close reset the client. */
    FUZZ_CHECK(!cur.reset || !(is("daytime") || is("time")) || cur.inlen > LINGER_MAX_BYTES,
               "%s: reset after %zu bytes of input", cur.svc->name, cur.inlen);
    if (is("echo"))
        FUZZ_CHECK(cur.outlen == cur.inlen && memcmp(cur.out, cur.in, cur.inlen) == 0,
                   "echo: %zu bytes back for %zu", cur.outlen, cur.inlen);
    else if (is("discard"))
        FUZZ_CHECK(cur.outlen == 0, "discard answered %zu bytes", cur.outlen);
    else if (is("chargen"))
        FUZZ_CHECK(cur.outlen >= budget && is_chargen(cur.out, cur.outlen),
                   "chargen: %zu bytes, not the pattern", cur.outlen);
    else if (is("daytime"))
        FUZZ_CHECK(cur.outlen == SVC_CTIME_LEN + 2 && is_now(cur.out) &&
                       memcmp(cur.out + SVC_CTIME_LEN, "\r\n", 2) == 0,
                   "daytime: %zu bytes", cur.outlen);
    else if (is("time"))
        FUZZ_CHECK(cur.outlen == 4 && is_rfc868_now(cur.out), "time: %zu bytes", cur.outlen);
    else
        FUZZ_CHECK(0, "no expectation for service %s", cur.svc->name);
}

/* The reply a datagram should get: sets *n and returns 1, or 0 for none.
 * chargen's length is random: *n is then its upper bound. */
static int dgram_reply(size_t *n)
{
    if (cur.guarded || is("discard")) return 0;
    if (is("echo") || is("upper")) *n = cur.inlen;
    if (is("timestamp")) *n = SVC_CTIME_LEN + 3 + cur.inlen;
    if (is("daytime")) *n = SVC_CTIME_LEN + 2;
    if (is("time")) *n = 4;
    if (is("chargen")) *n = 512;
    return 1;
}

static void expect_datagram(void)
{
    size_t n = 0;
    if (!dgram_reply(&n)) {
        FUZZ_CHECK(cur.rc == 0 && !cur.reply, "%s: result %d, reply %d", cur.svc->name, cur.rc,
                   cur.reply);
        return;
    }
    if (is("chargen") && cur.reply) n = cur.outlen; /* 1-512, random */
    if (n > cur.max_dgram) {
        FUZZ_CHECK(cur.rc == -EMSGSIZE && !cur.reply, "%s: %zu bytes > max_datagram: %d",
                   cur.svc->name, n, cur.rc);
        return;
    }
    FUZZ_CHECK(cur.rc == 0, "%s: result %d (%s)", cur.svc->name, cur.rc, ss_strerror(cur.rc));
    FUZZ_CHECK(cur.reply, "%s: no reply to a datagram of %zu bytes", cur.svc->name, cur.inlen);
    FUZZ_CHECK(cur.outlen == n, "%s: reply of %zu bytes, not %zu", cur.svc->name, cur.outlen, n);
    size_t at = 0;
    int ok = 1;
    if (is("echo")) ok = expect(&at, cur.in, n, 0);
    if (is("timestamp")) ok = expect(&at, cur.in, cur.inlen, 1);
    for (size_t i = 0; is("upper") && i < n; i++) {
        uint8_t b = cur.in[i] >= 'a' && cur.in[i] <= 'z' ? (uint8_t)(cur.in[i] - 32) : cur.in[i];
        ok = ok && cur.out[i] == b;
    }
    if (is("daytime")) ok = is_now(cur.out) && memcmp(cur.out + SVC_CTIME_LEN, "\r\n", 2) == 0;
    if (is("time")) ok = is_rfc868_now(cur.out);
    if (is("chargen")) ok = n >= 1 && n <= 512 && is_chargen(cur.out, n);
    FUZZ_CHECK(ok, "%s: wrong reply (%zu bytes) to a datagram of %zu", cur.svc->name, n, cur.inlen);
}

/* ------------------------------------------------------------ sessions */

static void stream_session(const uint8_t *h, const uint8_t *script, size_t len)
{
    uint8_t *plain = malloc(len ? len : 1);
    FUZZ_CHECK(plain != NULL, "out of memory");
    cur.in = plain;
    cur.inlen = fuzz_strip(script, len, plain);
    size_t budget = is("chargen") ? 1 + 512 * (size_t)(h[3] >> 3) : 0; /* 0: never close */
    fuzz_peer p;
    fuzz_peer_open(&p, script, len, (size_t)64 << (h[3] & 7), budget, h[0] & 2 ? 4096 : 0);
    if (h[4]) fuzz_peer_cache(&p, (size_t)h[4] - 1);
    ss_server_t *s = make_server(cur.max_line, fuzz_buffer_size(h[2], 1), 65536);
    ss__request req = {.fd = p.conn_fd, .transport = SS_UNIX};
    req.peer.transport = req.local.transport = SS_UNIX;
    req.peer.sa.ss_family = req.local.sa.ss_family = AF_UNIX; /* unnamed, as accept(2) has it */
    req.peer.len = req.local.len = (socklen_t)sizeof(sa_family_t);
    fuzz_peer_attach(&p);
    cur.rc = run(s, &req);
    fuzz_peer_detach(&p);
    close(p.conn_fd);
    fuzz_peer_drain(&p);
    cur.out = p.out ? p.out : (const uint8_t *)""; /* memcmp's arguments: never NULL */
    cur.outlen = p.outlen;
    cur.reset = p.reset;
    expect_stream(budget);
    fuzz_peer_close(&p);
    ss_server_close(s);
    free(plain);
}

/* A datagram socket bound to an address of its own (udp: 127.0.0.1:0;
 * unixgram: autobind, unix(7)), its address in *a. */
static int dgram_socket(ss_transport_t t, ss_addr_t *a)
{
    memset(a, 0, sizeof *a);
    a->transport = t;
    struct sockaddr_in *in = (struct sockaddr_in *)&a->sa;
    socklen_t len = (socklen_t)sizeof(sa_family_t); /* unix: autobind */
    if (t == SS_UDP) {
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = (socklen_t)sizeof *in;
    } else {
        a->sa.ss_family = AF_UNIX;
    }
    int fd = socket(a->sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(fd >= 0, "socket: %s", strerror(errno));
    FUZZ_CHECK(bind(fd, (struct sockaddr *)&a->sa, len) == 0, "bind: %s", strerror(errno));
    a->len = sizeof a->sa;
    FUZZ_CHECK(getsockname(fd, (struct sockaddr *)&a->sa, &a->len) == 0, "getsockname");
    return fd;
}

static void datagram_session(const uint8_t *h, const uint8_t *packet, size_t len)
{
    static const int guarded_ports[] = {7, 13, 19, 37};
    ss_transport_t t = h[0] & 2 ? SS_UDP : SS_UNIXGRAM;
    if (len > cur.max_dgram || len > 60000) return; /* the server drops it; udp could not */
    ss_addr_t local, peer;
    int sfd = dgram_socket(t, &local);
    int cfd = dgram_socket(t, &peer);
    if (t == SS_UDP && (h[0] & 4)) {
        cur.guarded = 1;
        ((struct sockaddr_in *)&peer.sa)->sin_port = htons((uint16_t)guarded_ports[h[0] >> 3 & 3]);
    }
    char *copy = malloc(len ? len : 1); /* the server's own copy of the packet */
    FUZZ_CHECK(copy != NULL, "out of memory");
    if (len) memcpy(copy, packet, len);
    cur.in = packet;
    cur.inlen = len;
    ss_server_t *s = make_server(cur.max_line, 4096, cur.max_dgram);
    ss__request req = {.fd = sfd, .transport = t, .peer = peer, .local = local};
    req.packet = copy;
    req.len = len;
    fuzz_peer none; /* a datagram's reply never waits: one datagram, a roomy socket */
    fuzz_peer_none(&none);
    if (h[4]) fuzz_peer_cache(&none, (size_t)h[4] - 1);
    fuzz_peer_attach(&none);
    cur.rc = run(s, &req);
    fuzz_peer_detach(&none);
    fuzz_peer_close(&none);
    static uint8_t reply[65536 + 1];
    ssize_t r = recv(cfd, reply, sizeof reply, MSG_DONTWAIT | MSG_TRUNC);
    FUZZ_CHECK(r >= 0 || errno == EAGAIN, "recv: %s", strerror(errno));
    cur.reply = r >= 0;
    cur.out = reply;
    cur.outlen = r > 0 ? (size_t)r : 0;
    FUZZ_CHECK(recv(cfd, reply, 1, MSG_DONTWAIT) < 0, "more than one reply");
    expect_datagram();
    ss_server_close(s);
    close(sfd);
    close(cfd);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5) return 0;
    memset(&cur, 0, sizeof cur);
    cur.svc = svc_find(FUZZ_SERVICE);
    FUZZ_CHECK(cur.svc != NULL, "no service %s", FUZZ_SERVICE);
    cur.max_line = fuzz_max_line(data[1]);
    cur.max_dgram = data[2] == 0 ? 65536 : data[2];
    if (data[0] & 1)
        datagram_session(data, data + 5, size - 5);
    else
        stream_session(data, data + 5, size - 5);
    return 0;
}
