/* epoll_echo.c - the benchmark's reference: the smallest fast echo server we
 * can write, to show what one thread on one core can do and so what our modes
 * cost on top of it.
 *
 * Streams (tcp://, unix:): one thread, edge-triggered epoll, each socket
 * registered once for input and output; read until a short read (the socket
 * is then drained, so no read() is wasted on EAGAIN) and write back at once.
 * Datagrams (udp://, unixgram:): a plain blocking recvfrom/sendto loop.
 * Like `socketserver serve`, it prints "listening ADDRESS" once ready and
 * exits on SIGINT or SIGTERM.
 *
 * Usage: ss_epoll_echo ADDRESS
 */
#include <socketserver.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BUF_SIZE 65536

static volatile sig_atomic_t stopping;
static char buf[BUF_SIZE];

/* Output a slow reader left behind, per descriptor; NULL for nearly all. */
typedef struct pending {
    size_t off, len;
    char data[];
} pending_t;

static pending_t **pend;
static size_t npend;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void die(const char *what)
{
    fprintf(stderr, "ss_epoll_echo: %s: %s\n", what, strerror(errno));
    exit(71);
}

/* No SA_RESTART: the signal must interrupt epoll_wait and recvfrom. */
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

static int is_stream(const ss_addr_t *a)
{
    return a->transport == SS_TCP || a->transport == SS_UNIX;
}

static int open_listener(const ss_addr_t *a)
{
    int fd = socket(a->sa.ss_family, (is_stream(a) ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int one = 1;
    if (a->sa.ss_family != AF_UNIX) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0) die("bind");
    if (is_stream(a) && listen(fd, SOMAXCONN) < 0) die("listen");
    return fd;
}

/* Prints the bound address (the real port when 0 was asked). */
static void announce(int fd, const ss_addr_t *asked)
{
    ss_addr_t bound = *asked;
    char text[SS_ADDRSTRLEN];
    bound.len = sizeof bound.sa;
    if (asked->sa.ss_family != AF_UNIX &&
        getsockname(fd, (struct sockaddr *)&bound.sa, &bound.len) < 0)
        die("getsockname");
    if (ss_addr_format(&bound, text, sizeof text) < 0) die("ss_addr_format");
    printf("listening %s\n", text);
    fflush(stdout);
}

/* ------------------------------------------------------------- streams */

static void close_conn(int fd)
{
    if ((size_t)fd < npend && pend[fd]) {
        free(pend[fd]);
        pend[fd] = NULL;
    }
    close(fd); /* also removes it from the epoll set */
}

static void keep_pending(int fd, const char *data, size_t len)
{
    if ((size_t)fd >= npend) {
        size_t n = (size_t)fd * 2 + 64;
        pending_t **p = realloc(pend, n * sizeof *p);
        if (!p) die("realloc");
        memset(p + npend, 0, (n - npend) * sizeof *p);
        pend = p, npend = n;
    }
    pending_t *q = malloc(sizeof *q + len);
    if (!q) die("malloc");
    q->off = 0, q->len = len;
    memcpy(q->data, data, len);
    pend[fd] = q;
}

/* Writes n bytes back. Returns 1 when all went out, 0 when the rest waits
 * for EPOLLOUT (reading stops meanwhile: the client's own pace), -1 when
 * the connection failed. */
static int echo_back(int fd, const char *data, size_t n)
{
    ssize_t w = write(fd, data, n);
    if (w == (ssize_t)n) return 1;
    if (w < 0 && errno != EAGAIN) return -1;
    if (w < 0) w = 0;
    keep_pending(fd, data + w, n - (size_t)w);
    return 0;
}

/* Sends what a slow reader left. Returns 1 when nothing is left. */
static int flush_pending(int fd)
{
    pending_t *q = pend[fd];
    while (q->off < q->len) {
        ssize_t w = write(fd, q->data + q->off, q->len - q->off);
        if (w < 0) return errno == EAGAIN ? 0 : -1;
        q->off += (size_t)w;
    }
    free(q);
    pend[fd] = NULL;
    return 1;
}

static void on_ready(int fd, uint32_t events)
{
    if ((size_t)fd < npend && pend[fd]) {
        int r = flush_pending(fd);
        if (r <= 0) {
            if (r < 0) close_conn(fd);
            return;
        }
    }
    int hangup = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            int r = echo_back(fd, buf, (size_t)n);
            if (r < 0) break;
            if (r == 0) return;
            if ((size_t)n < sizeof buf && !hangup) return; /* drained */
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        break; /* end of stream or error */
    }
    close_conn(fd);
}

/* Accepts everything waiting. On EMFILE the listener would stay readable and
 * the loop would spin: a spare descriptor is given up to accept and close the
 * client at once (libev's and libuv's trick). */
static void on_accept(int ep, int lfd, int tcp, int *spare)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if ((errno == EMFILE || errno == ENFILE) && *spare >= 0) {
                close(*spare);
                close(accept(lfd, NULL, NULL));
                *spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
                continue;
            }
            return;
        }
        int one = 1;
        if (tcp) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) close(fd);
    }
}

static void serve_stream(int lfd, int tcp)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    int flags = fcntl(lfd, F_GETFL);
    fcntl(lfd, F_SETFL, flags | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) die("epoll_ctl");
    int spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    struct epoll_event evs[512];
    while (!stopping) {
        int n = epoll_wait(ep, evs, 512, -1);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == lfd)
                on_accept(ep, lfd, tcp, &spare);
            else
                on_ready(evs[i].data.fd, evs[i].events);
        }
    }
}

/* ----------------------------------------------------------- datagrams */

static void serve_dgram(int fd)
{
    while (!stopping) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("recvfrom");
        }
        /* A unixgram client that did not bind has no address to answer. */
        if (len > sizeof(sa_family_t)) sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, len);
    }
}

/* A unix socket file: removed before binding (a benchmark tool may take over
 * a stale path) and after serving. Abstract names ('@') have no file. */
static const char *unix_file(const ss_addr_t *a)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)&a->sa;
    if (a->sa.ss_family != AF_UNIX || un->sun_path[0] == '\0') return NULL;
    return un->sun_path;
}

int main(int argc, char **argv)
{
    ss_addr_t a;
    if (argc != 2 || argv[1][0] == '-') {
        int help = argc == 2 && strcmp(argv[1], "--help") == 0;
        fputs("usage: ss_epoll_echo ADDRESS   (tcp://HOST:PORT, udp://, unix:PATH, unixgram:)\n",
              help ? stdout : stderr);
        return help ? 0 : 64;
    }
    if (ss_addr_parse(argv[1], &a) < 0) {
        fprintf(stderr, "ss_epoll_echo: %s\n", ss_errmsg());
        return 64;
    }
    install_signals();
    const char *path = unix_file(&a);
    if (path) unlink(path);
    int fd = open_listener(&a);
    announce(fd, &a);
    if (is_stream(&a))
        serve_stream(fd, a.transport == SS_TCP);
    else
        serve_dgram(fd);
    if (path) unlink(path);
    return 0;
}
