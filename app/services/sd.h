/* sd.h - `serve` under a supervisor, by the two protocols of systemd that
 * need no libsystemd: socket activation (sd_listen_fds(3): LISTEN_PID,
 * LISTEN_FDS, LISTEN_FDNAMES) and readiness (sd_notify(3): NOTIFY_SOCKET,
 * WATCHDOG_USEC, WATCHDOG_PID). Both are environment variables read once,
 * at start, and removed from the environment so that no child (a fork-mode
 * session, a restarted generation) takes them for its own. */
#ifndef SS_APP_SD_H
#define SS_APP_SD_H

#include "socketserver.h"

#include <stddef.h>
#include <stdint.h>

#define SD_LISTEN_FDS_START 3  /* sd_listen_fds(3): the first passed descriptor */
#define SD_MAX_FDS          64 /* as many as serve takes addresses (OPTS_MAX_ADDRS) */

/* The listeners a supervisor passed: descriptors 3 .. 3 + n - 1, each with
 * its transport (from SO_DOMAIN, SO_TYPE) and its name (LISTEN_FDNAMES, or
 * "unknown" as systemd says when none is given). */
typedef struct sd_fds {
    int n;
    int fd[SD_MAX_FDS];
    ss_transport_t transport[SD_MAX_FDS];
    char name[SD_MAX_FDS][64];
} sd_fds_t;

/* Reads LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES. Returns 0 with f->n == 0
 * when there are none for this process (no LISTEN_FDS, or a LISTEN_PID
 * that is not getpid(): they were meant for another process, as
 * sd_listen_fds(3) says); 0 with the descriptors checked, made close-on-exec
 * and the variables unset; or an exit status with one line in err:
 * EXIT_USAGE when the variables are malformed or a descriptor is not a
 * socket this program can serve (a connected stream socket belongs to
 * --inetd), EXIT_OSERR when a descriptor cannot be examined. */
int sd_listen_fds_read(sd_fds_t *f, char *err, size_t cap);

/* Whether LISTEN_FDS is in the environment at all (for a warning when
 * addresses are given too). */
int sd_listen_fds_present(void);

/* ------------------------------------------------------------ notify */

/* Opens the NOTIFY_SOCKET datagram socket (a path, or an abstract name
 * written with a leading '@') and reads WATCHDOG_USEC (honoured only when
 * WATCHDOG_PID is unset or names this process); unsets all three. Returns 0
 * (nothing to notify when the variable is absent), or -1 with one line in
 * err for a value that cannot be used; serving goes on without it. */
int sd_notify_open(char *err, size_t cap);

/* Whether a NOTIFY_SOCKET is open. */
int sd_notify_enabled(void);

/* Sends one notification, "READY=1\nSTATUS=...": one datagram, never
 * blocking (MSG_DONTWAIT: a supervisor that does not read loses a status
 * line, the service goes on). Async-signal-safe when fmt has no
 * conversions. Returns 0 or a negative errno; nothing when disabled. */
int sd_notify_send(const char *fmt, ...) SS_PRINTF(1, 2);

/* The watchdog interval asked for: half of WATCHDOG_USEC in milliseconds,
 * as sd_watchdog_enabled(3) advises; 0 when no watchdog is asked. */
int64_t sd_watchdog_ms(void);

/* Starts a thread that sends WATCHDOG=1 every sd_watchdog_ms() until
 * sd_notify_close(). A no-op when no watchdog is asked. Returns 0 or a
 * negative errno. */
int sd_watchdog_start(void);

/* Stops the watchdog thread and closes the socket. */
void sd_notify_close(void);

#endif
