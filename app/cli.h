/* cli.h - what the three commands of the socketserver program share: their
 * entry points, the exit codes, and the scaffolding around their options (a
 * usage error, --help, --version), written once in cli.c so that every
 * command reports the same way. */
#ifndef SS_APP_CLI_H
#define SS_APP_CLI_H

#include "socketserver.h"

#include <pthread.h>
#include <stdio.h>

/* Exit codes from sysexits(3). */
#define EXIT_USAGE       64 /* EX_USAGE: bad command line */
#define EXIT_DATAERR     65 /* EX_DATAERR: a TLS file that is not a certificate or key */
#define EXIT_NOINPUT     66 /* EX_NOINPUT: a TLS file missing or unreadable */
#define EXIT_NOUSER      67 /* EX_NOUSER: --user or --group does not exist */
#define EXIT_NOHOST      68 /* EX_NOHOST: name does not resolve */
#define EXIT_UNAVAILABLE 69 /* EX_UNAVAILABLE: peer unreachable, no reply */
#define EXIT_SOFTWARE    70 /* EX_SOFTWARE: internal error */
#define EXIT_OSERR       71 /* EX_OSERR: system error (bind, fork, ...) */
#define EXIT_CANTCREAT   73 /* EX_CANTCREAT: the access log cannot be opened */
#define EXIT_PROTOCOL    76 /* EX_PROTOCOL: the TLS handshake or verification failed */
#define EXIT_NOPERM      77 /* EX_NOPERM: --user or --group without root */

/* Each takes the arguments after the subcommand's name (argv[0] is the
 * subcommand) and returns the process exit code. */
int cmd_serve(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* What cli_options returns when the command is to run. */
#define CLI_RUN (-1)

/* Prints one line on stderr, "socketserver CMD: MESSAGE" ("socketserver:
 * MESSAGE" when cmd is NULL), for a failure the caller gives its own exit
 * code. */
void cli_error(const char *cmd, const char *fmt, ...) SS_PRINTF(2, 3);

/* The same line for a bad command line; returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) SS_PRINTF(2, 3);

/* Prints "socketserver VERSION" on stdout; returns 0. */
int cli_version(void);

/* Acts on what an opts_parse_* function returned (opts.h): --help prints
 * help(stdout) and --version the version, both returning 0; a usage error
 * prints err with cli_usage and returns EXIT_USAGE; success returns CLI_RUN. */
int cli_options(const char *cmd, int parsed, const char *err, void (*help)(FILE *));

/* Starts fn(arg) on a thread of the program's own (the restart master, the
 * watchdog, the --stats listener) with every signal blocked in it, so that
 * the serving thread's handlers take them, and returns only once the thread
 * runs fn: a fork (fork mode, prefork workers) while a thread is still being
 * set up can leave the child a lock held for ever (a prefork worker was
 * found asleep on ASan's allocator mutex). Returns 0 or a negative errno. */
int cli_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
