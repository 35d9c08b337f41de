/* cli.c - the usage, help and version scaffolding of the three commands
 * (cli.h): one place decides how a bad command line is reported (exit 64,
 * one line on stderr naming the problem) and how help and version print. */
#include "cli.h"

#include "opts.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <unistd.h>

SS_PRINTF(2, 0)
static void vreport(const char *cmd, const char *fmt, va_list ap)
{
    fprintf(stderr, "socketserver%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    return EXIT_USAGE;
}

int cli_version(void)
{
    printf("socketserver %s\n", SS_VERSION_STRING);
    return 0;
}

int cli_options(const char *cmd, int parsed, const char *err, void (*help)(FILE *))
{
    switch (parsed) {
    case OPTS_OK:
        return CLI_RUN;
    case OPTS_HELP:
        help(stdout);
        return 0;
    case OPTS_VERSION:
        return cli_version();
    default:
        return cli_usage(cmd, "%s", err);
    }
}

/* What the new thread needs before it says it runs. */
typedef struct thread_start {
    void *(*fn)(void *);
    void *arg;
    int running; /* eventfd: written once the thread runs */
} thread_start;

static void *trampoline(void *p)
{
    thread_start st = *(thread_start *)p; /* the caller's copy goes once it is told */
    eventfd_write(st.running, 1);
    return st.fn(st.arg);
}

int cli_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    thread_start st = {.fn = fn, .arg = arg, .running = eventfd(0, EFD_CLOEXEC)};
    if (st.running < 0) return -errno;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* inherited by the new thread */
    int rc = pthread_create(t, NULL, trampoline, &st);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0) {
        eventfd_t v;
        while (eventfd_read(st.running, &v) < 0 && errno == EINTR)
            ;
    }
    close(st.running);
    return -rc;
}
