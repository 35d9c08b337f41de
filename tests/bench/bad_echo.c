/* bad_echo.c - deliberately wrong servers for the generator's tests: the
 * generator must catch a wrong reply and must not hang on a silent target.
 *
 * Usage: ss_bad_echo MODE ADDRESS   (prints "listening ADDRESS" when ready)
 *   corrupt  echo each read back with its first byte changed (tcp, udp)
 *   silent   accept (or receive) and never answer
 *   close    accept and close at once without a word (tcp)
 * One thread per connection: small, and fast enough for a test.
 */
#include <socketserver.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *mode;

static void corrupt(char *buf, ssize_t n)
{
    if (n > 0) buf[0] = buf[0] == 'x' ? 'y' : 'x';
}

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[65536];
    ssize_t n;
    if (strcmp(mode, "corrupt") == 0) {
        while ((n = read(fd, buf, sizeof buf)) > 0) {
            corrupt(buf, n);
            if (write(fd, buf, (size_t)n) != n) break;
        }
    } else if (strcmp(mode, "silent") == 0) {
        while (read(fd, buf, sizeof buf) > 0) continue;
    }
    close(fd);
    return NULL;
}

static void serve_stream(int lfd)
{
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            perror("accept");
            exit(71);
        }
        pthread_t t;
        if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}

static void serve_dgram(int fd)
{
    char buf[65536];
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
        if (n < 0 || strcmp(mode, "silent") == 0) continue;
        corrupt(buf, n);
        sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, len);
    }
}

int main(int argc, char **argv)
{
    ss_addr_t a, bound;
    char text[SS_ADDRSTRLEN];
    if (argc != 3 || ss_addr_parse(argv[2], &a) < 0) {
        fputs("usage: ss_bad_echo corrupt|silent|close tcp://HOST:PORT|udp://HOST:PORT\n", stderr);
        return 64;
    }
    mode = argv[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    int stream = a.transport == SS_TCP;
    int fd = socket(a.sa.ss_family, stream ? SOCK_STREAM : SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a.sa, a.len) < 0 ||
        (stream && listen(fd, 128) < 0)) {
        perror("ss_bad_echo: bind");
        return 71;
    }
    bound = a;
    bound.len = sizeof bound.sa;
    getsockname(fd, (struct sockaddr *)&bound.sa, &bound.len);
    ss_addr_format(&bound, text, sizeof text);
    printf("listening %s\n", text);
    fflush(stdout);
    if (!stream) serve_dgram(fd);
    for (;;) {
        if (strcmp(mode, "close") != 0) serve_stream(fd);
        int c = accept(fd, NULL, NULL);
        if (c >= 0) close(c);
    }
}
