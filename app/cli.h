/* commands.h - the subcommands of the socketserver program, one file each. */
#ifndef SS_APP_COMMANDS_H
#define SS_APP_COMMANDS_H

/* Exit codes from sysexits(3). */
#define EXIT_USAGE       64 /* EX_USAGE: bad command line */
#define EXIT_NOUSER      67 /* EX_NOUSER: --user or --group does not exist */
#define EXIT_NOHOST      68 /* EX_NOHOST: name does not resolve */
#define EXIT_UNAVAILABLE 69 /* EX_UNAVAILABLE: peer unreachable, no reply */
#define EXIT_SOFTWARE    70 /* EX_SOFTWARE: internal error */
#define EXIT_OSERR       71 /* EX_OSERR: system error (bind, fork, ...) */
#define EXIT_NOPERM      77 /* EX_NOPERM: --user or --group without root */

/* Each takes the arguments after the subcommand's name (argv[0] is the
 * subcommand) and returns the process exit code. */
int cmd_serve(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
