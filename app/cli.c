/* cli.c - the usage, help and version scaffolding of the three commands
 * (cli.h): one place decides how a bad command line is reported (exit 64,
 * one line on stderr naming the problem) and how help and version print. */
#include "cli.h"

#include "opts.h"

#include <stdarg.h>

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
