/* example.c - the helpers of example.h. Nothing here is needed to use the
 * library; it only keeps the examples short. */
#define _POSIX_C_SOURCE 200809L /* sigaction, ctime_r, getline, isatty */

#include "example.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int example_usage(const char *text)
{
    fprintf(stderr, "usage: %s\n", text);
    return 64;
}

int example_fail(ss_server_t *s, const char *prog)
{
    fprintf(stderr, "%s: %s\n", prog, ss_errmsg());
    ss_server_close(s);
    return 1;
}

/* Prints "listening ADDRESS" for each listener, flushed. */
static void announce(const ss_server_t *s)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < ss_server_listener_count(s); i++) {
        ss_addr_t bound;
        char text[SS_ADDRSTRLEN];
        if (ss_server_address(s, i, &bound) == 0 && ss_addr_format(&bound, text, sizeof text) > 0)
            printf("listening %s\n", text);
    }
    fflush(stdout);
}

/* The server the signal handler stops. Set once, before the handler is
 * installed, and only read by it. */
static ss_server_t *serving;

/* ss_server_shutdown is async-signal-safe (it sets a flag and writes to an
 * eventfd), so the handler may call it: serve_forever then returns. */
static void on_signal(int sig)
{
    (void)sig;
    ss_server_shutdown(serving);
}

int example_serve(ss_server_t *s)
{
    serving = s;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* SA_RESETHAND: a second Ctrl-C kills at once, should a client keep
     * the server draining. */
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    announce(s);
    int rc = ss_server_serve(s);
    if (rc < 0) fprintf(stderr, "serve: %s\n", ss_errmsg());
    ss_server_close(s);
    return rc < 0 ? 1 : 0;
}

ssize_t example_input(const char *prompt, char **line, size_t *cap)
{
    if (isatty(STDIN_FILENO)) fputs(prompt, stdout);
    fflush(stdout); /* what was printed shows before the wait for input */
    ssize_t n = getline(line, cap, stdin);
    if (n < 0) return -1;
    while (n > 0 && ((*line)[n - 1] == '\n' || (*line)[n - 1] == '\r')) (*line)[--n] = '\0';
    return n;
}

void example_ctime(char *buf, size_t cap)
{
    char text[26]; /* ctime_r(3) needs 26 bytes */
    time_t now = time(NULL);
    if (!ctime_r(&now, text)) text[0] = '\0';
    text[strcspn(text, "\n")] = '\0';
    snprintf(buf, cap, "%s", text);
}

void example_upper(char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) data[i] = (char)toupper((unsigned char)data[i]);
}
