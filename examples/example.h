/* example.h - the chores every example shares, kept out of the way so that
 * each program reads like its slide: announcing a server's address, stopping
 * it on SIGINT/SIGTERM, reading a line like raw_input(), ctime(), upper(). */
#ifndef SS_EXAMPLE_H
#define SS_EXAMPLE_H

#include <socketserver.h>

#include <stddef.h>
#include <sys/types.h>

/* Prints "usage: TEXT" on stderr and returns 64 (EX_USAGE), for main. */
int example_usage(const char *text);

/* Prints "PROG: <what failed>" (ss_errmsg()) on stderr, closes s (NULL is
 * fine) and returns 1, for main. */
int example_fail(ss_server_t *s, const char *prog);

/* serve_forever, then server_close: installs SIGINT and SIGTERM handlers
 * that call ss_server_shutdown, prints "listening ADDRESS" for each listener
 * (the address really bound, so a test that asked for port 0 learns the
 * port), serves until a signal, closes. The line comes after the handlers, so
 * whoever reads it may send SIGTERM at once. stdout is made line-buffered
 * first, so every line reaches a pipe at once, even one printed by a forked
 * child that leaves with _exit(2) and flushes nothing. Returns main's exit
 * status: 0 after a signal. */
int example_serve(ss_server_t *s);

/* raw_input(prompt): reads one line of stdin into *line (grown by
 * getline(3); free it) without its "\n" or "\r\n". The prompt is shown only
 * on a terminal, so piped runs print nothing but answers; stdout is flushed
 * first, so a program driven through pipes shows each answer before it waits
 * for the next line. Returns the length, or -1 at the end of input. */
ssize_t example_input(const char *prompt, char **line, size_t *cap);

/* time.ctime(): the local time as "Thu Nov 26 04:13:54 2026", without the
 * newline ctime_r(3) adds. buf holds at least 26 bytes. */
void example_ctime(char *buf, size_t cap);

/* str.upper() on bytes: ASCII letters only, as Python 2 does for str. */
void example_upper(char *data, size_t n);

#endif /* SS_EXAMPLE_H */
