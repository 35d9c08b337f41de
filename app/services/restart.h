/* restart.h - restart without loss (restart.c): on SIGHUP the process that
 * was started runs its binary again, from the same path with the same
 * arguments, as a new generation that inherits the listeners, and retires
 * the old one once the new one serves. The started process stays the one
 * to signal: it keeps the listeners and becomes the generations' master. */
#ifndef SS_APP_RESTART_H
#define SS_APP_RESTART_H

#include "socketserver.h"

/* Before the options are parsed (getopt permutes argv): the whole command
 * line, argv[0] included, and the path of the running binary
 * (/proc/self/exe as it is now: later it may name a deleted file). */
void restart_save_argv(int argc, char **argv);

/* In a generation (the environment says so, and is cleaned): its number,
 * 1 or more; 0 in the process that was started. */
int restart_generation(void);

/* In a generation: tells the master it serves (one byte on the pipe it
 * inherited). Once; a no-op elsewhere. */
void restart_ready(void);

/* Sets up the self-pipe the signal handler writes to. Before any signal
 * handler that calls restart_signal. Returns 0 or a negative errno. */
int restart_init(void);

/* From a signal handler (async-signal-safe): SIGHUP asks for a
 * restart, SIGINT and SIGTERM for the end. */
void restart_signal(int sig);

/* Starts the master's thread: hold keeps the listeners (and their socket
 * files) for every generation; serve is the started process's own server
 * (generation 0), serving duplicates of them, shut down when generation 1
 * is ready; stats_fd, --stats's listener (or -1), goes to each generation
 * too. Returns 0 or a negative errno. */
int restart_start(ss_server_t *hold, ss_server_t *serve, int stats_fd);

/* In a generation: the --stats listener its master handed on, or -1. */
int restart_stats_fd(void);

/* In a child the modes fork (a fork-mode session, a prefork worker): closes
 * its copies of what the master keeps for the generations, so that the
 * listening sockets close when the master closes them, however long a
 * session runs, and a worker holds only the sockets it serves. Not in a
 * generation being started: those copies are its listeners. */
void restart_after_fork(void);

/* From a signal handler: passes sig on to the serving generation, when it
 * is a child (SIGUSR1's log line, SIGUSR2's log reopening). */
void restart_forward(int sig);

/* Whether generation 0 was shut down for a newer one (not by a signal). */
int restart_handed_over(void);

/* After generation 0's server returned and was drained: waits until a
 * signal ends the newer generations (or none is running), then closes
 * hold. Returns the exit status: 0, or EXIT_SOFTWARE when the serving
 * generation died on its own. */
int restart_finish(ss_server_t *hold);

#endif
