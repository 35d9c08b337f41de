/* ref_tls_epoll.c - the benchmark's TLS reference: the smallest fast TLS
 * echo server we can write with OpenSSL, one thread, to show what one core
 * can do over TLS and so what the event mode costs on top of it.
 *
 * One edge-triggered epoll loop; each socket registered once for input and
 * output. Every connection is an SSL in non-blocking mode on its socket
 * (SSL_set_fd): SSL_do_handshake, then SSL_read until it wants the socket
 * (a record read may leave whole records behind, for which no edge comes)
 * and SSL_write of each piece at once, the rest kept for the next EPOLLOUT
 * edge. The same server settings as the library's tls:// listeners
 * (src/tls_ctx.c: TLS 1.2 at least, partial writes, read-ahead, a session
 * id context, OpenSSL's default session tickets), without its buffer
 * release, so that it is the limit and not a copy of us. Like `socketserver serve`, it
 * prints "listening ADDRESS" once ready and exits on SIGINT or SIGTERM.
 *
 * Usage: ss_tls_epoll_echo tls://HOST:PORT CERT.pem KEY.pem
 */
#include <socketserver.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 16384 /* one TLS record's plaintext at most */

static volatile sig_atomic_t stopping;
static char buf[BUF_SIZE];

/* A connection: its session and the output a slow reader left behind. */
typedef struct tconn {
    SSL *ssl;
    int open; /* the handshake is done */
    size_t off, len;
    char *out; /* BUF_SIZE bytes while output waits, else NULL */
} tconn_t;

static tconn_t *conns; /* by descriptor */
static size_t nconns;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void die(const char *what)
{
    fprintf(stderr, "ss_tls_epoll_echo: %s: %s\n", what, strerror(errno));
    exit(71);
}

static void die_tls(const char *what, const char *file)
{
    unsigned long e = ERR_get_error();
    fprintf(stderr, "ss_tls_epoll_echo: %s %s: %s\n", what, file,
            e ? ERR_reason_error_string(e) : "unusable");
    exit(65);
}

/* No SA_RESTART: the signal must interrupt epoll_wait. */
static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static SSL_CTX *make_ctx(const char *cert, const char *key)
{
    static const unsigned char sid[] = "ss_tls_epoll_echo";
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) die_tls("SSL_CTX_new", "");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_read_ahead(ctx, 1); /* one read(2) per request, not a header's and a body's */
    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) die_tls("certificate", cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) die_tls("key", key);
    if (SSL_CTX_check_private_key(ctx) != 1) die_tls("key does not match", key);
    return ctx;
}

static int open_listener(const ss_addr_t *a)
{
    int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0) die("bind");
    if (listen(fd, SOMAXCONN) < 0) die("listen");
    return fd;
}

/* Prints the bound address (the real port when 0 was asked). */
static void announce(int fd, const ss_addr_t *asked)
{
    ss_addr_t bound = *asked;
    char text[SS_ADDRSTRLEN];
    bound.len = sizeof bound.sa;
    if (getsockname(fd, (struct sockaddr *)&bound.sa, &bound.len) < 0) die("getsockname");
    if (ss_addr_format(&bound, text, sizeof text) < 0) die("ss_addr_format");
    printf("listening %s\n", text);
    fflush(stdout);
}

/* ---------------------------------------------------------- connections */

/* A peer that left or failed: no close_notify after a failure, one
 * without waiting otherwise (the socket's buffer takes the alert). */
static void close_conn(int fd, int sound)
{
    tconn_t *c = &conns[fd];
    if (sound && c->open) SSL_shutdown(c->ssl);
    ERR_clear_error();
    SSL_free(c->ssl);
    free(c->out);
    memset(c, 0, sizeof *c);
    close(fd); /* also removes it from the epoll set */
}

/* OpenSSL's queue must be empty before each call (SSL_get_error(3ssl));
 * peeking is much cheaper than clearing its 16 slots every time. */
static void before(void)
{
    if (ERR_peek_error()) ERR_clear_error();
}

/* 1 to go on, 0 to wait for the socket, -1 failed, -2 the peer's end. */
static int result(SSL *ssl, int ret)
{
    switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        return -2;
    default:
        return -1;
    }
}

/* Writes n bytes back. 1 all went out, 0 the rest waits for EPOLLOUT
 * (reading stops meanwhile: the client's own pace), < 0 failed. */
static int echo_back(tconn_t *c, const char *data, size_t n)
{
    size_t done = 0;
    while (done < n) {
        before();
        int w = SSL_write(c->ssl, data + done, (int)(n - done));
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        int r = result(c->ssl, w);
        if (r < 0) return r;
        if (!c->out && !(c->out = malloc(BUF_SIZE))) die("malloc");
        memcpy(c->out, data + done, n - done); /* n <= BUF_SIZE */
        c->off = 0, c->len = n - done;
        return 0;
    }
    return 1;
}

/* Sends what a slow reader left. 1 nothing is left, 0 wait, < 0 failed. */
static int flush_pending(tconn_t *c)
{
    while (c->off < c->len) {
        before();
        int w = SSL_write(c->ssl, c->out + c->off, (int)(c->len - c->off));
        if (w <= 0) return result(c->ssl, w);
        c->off += (size_t)w;
    }
    c->off = c->len = 0;
    return 1;
}

static void on_ready(int fd)
{
    tconn_t *c = &conns[fd];
    int r = 1;
    if (!c->open) {
        before();
        int h = SSL_do_handshake(c->ssl);
        if (h != 1) {
            r = result(c->ssl, h);
            if (r < 0) close_conn(fd, 0);
            return;
        }
        c->open = 1;
    }
    if (c->len) {
        r = flush_pending(c);
        if (r <= 0) {
            if (r < 0) close_conn(fd, r == -2);
            return;
        }
    }
    for (;;) {
        before();
        int n = SSL_read(c->ssl, buf, sizeof buf);
        if (n <= 0) {
            r = result(c->ssl, n);
            break;
        }
        r = echo_back(c, buf, (size_t)n);
        if (r <= 0) break;
    }
    if (r < 0) close_conn(fd, r == -2);
}

static void on_accept(int ep, int lfd, SSL_CTX *ctx)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return; /* EAGAIN; EMFILE is out of a reference's scope */
        }
        if ((size_t)fd >= nconns) {
            size_t n = (size_t)fd * 2 + 64;
            tconn_t *p = realloc(conns, n * sizeof *p);
            if (!p) die("realloc");
            memset(p + nconns, 0, (n - nconns) * sizeof *p);
            conns = p, nconns = n;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        tconn_t *c = &conns[fd];
        c->ssl = SSL_new(ctx);
        if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) die("SSL_new");
        SSL_set_accept_state(c->ssl);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) close_conn(fd, 0);
    }
}

static void serve(int lfd, SSL_CTX *ctx)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) die("epoll_ctl");
    struct epoll_event evs[512];
    while (!stopping) {
        int n = epoll_wait(ep, evs, 512, -1);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == lfd)
                on_accept(ep, lfd, ctx);
            else
                on_ready(evs[i].data.fd);
        }
    }
    for (size_t fd = 0; fd < nconns; fd++)
        if (conns[fd].ssl) close_conn((int)fd, 1);
    close(ep);
}

int main(int argc, char **argv)
{
    ss_addr_t a;
    if (argc != 4 || argv[1][0] == '-') {
        int help = argc == 2 && strcmp(argv[1], "--help") == 0;
        fputs("usage: ss_tls_epoll_echo tls://HOST:PORT CERT.pem KEY.pem\n",
              help ? stdout : stderr);
        return help ? 0 : 64;
    }
    if (ss_addr_parse(argv[1], &a) < 0 || (a.transport != SS_TLS && a.transport != SS_TCP)) {
        fprintf(stderr, "ss_tls_epoll_echo: %s: expected tls://HOST:PORT\n", argv[1]);
        return 64;
    }
    install_signals();
    SSL_CTX *ctx = make_ctx(argv[2], argv[3]);
    int fd = open_listener(&a);
    announce(fd, &a);
    serve(fd, ctx);
    close(fd);
    free(conns);
    SSL_CTX_free(ctx);
    return 0;
}
