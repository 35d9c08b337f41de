/* inetd.c - `serve --inetd SERVICE`: the service on standard input, as
 * inetd(8) starts a program (and systemd with Accept=yes, or
 * systemd-socket-activate --inetd). inetd.conf's wait/nowait decides what
 * descriptor 0 is, and it is read from the socket itself:
 *   a connected stream socket ("nowait"): that one session, then exit;
 *   a datagram socket, or a listening stream socket ("wait"): requests from
 *     it until none came for the idle time (--idle-timeout, 10 s when not
 *     given), then exit, so that inetd watches the socket again.
 * Anything else (a pipe, a terminal, a file) is refused: the library serves
 * sockets. Logs go to syslog(3): stderr may be the client's socket. */
#include "inetd.h"

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define INETD_IDLE_MS 10000 /* "wait": exit after this long without a request */

static ss_server_t *volatile inetd_server; /* read by the signal handler */

static void on_signal(int sig)
{
    (void)sig;
    ss_server_t *s = inetd_server;
    if (s) ss_server_shutdown(s);
}

static void log_syslog(ss_log_level_t level, const char *msg, void *ctx)
{
    (void)ctx;
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    syslog(prio[level <= SS_LOG_DEBUG ? level : SS_LOG_DEBUG], "%s", msg);
}

/* An error before anything is served: syslog, and stderr too when it is
 * not the socket (a person who ran --inetd by hand reads it there). */
SS_PRINTF(2, 3)
static int refuse(int code, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    syslog(LOG_ERR, "%s", msg);
    struct stat st;
    if (fstat(2, &st) == 0 && !S_ISSOCK(st.st_mode)) cli_error("serve", "%s", msg);
    return code;
}

/* What descriptor 0 is: -1 not a socket, else its type, with *listening. */
static int stdin_kind(int *domain, int *listening)
{
    struct stat st;
    int type = 0;
    socklen_t len = sizeof type;
    if (fstat(0, &st) < 0 || !S_ISSOCK(st.st_mode)) return -1;
    if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return -1;
    len = sizeof *domain;
    if (getsockopt(0, SOL_SOCKET, SO_DOMAIN, domain, &len) < 0) return -1;
    len = sizeof *listening;
    if (getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, listening, &len) < 0) return -1;
    return type;
}

/* The session's socket moves off 0 and 1 (and 2, when inetd put it there
 * too, as openbsd-inetd does): the session's end must close the last copy
 * for the peer to see it. /dev/null takes their places. */
static int take_stdin(void)
{
    int fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return -1;
    int null = open("/dev/null", O_RDWR);
    struct stat st;
    int err_is_socket = fstat(2, &st) == 0 && S_ISSOCK(st.st_mode);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
        (err_is_socket && dup2(null, 2) < 0)) {
        close(fd);
        fd = -1;
    }
    if (null > 2) close(null);
    return fd;
}

static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) return -1;
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

/* "nowait": the one connection. */
static int serve_one(ss_server_t *s, int tls)
{
    int fd = take_stdin();
    if (fd < 0) return refuse(EXIT_OSERR, "standard input: %s", ss_strerror(-errno));
    int rc = ss_server_serve_conn(s, fd, tls);
    if (rc < 0)
        return refuse(rc == SS_EUSAGE || rc == SS_EMODE ? EXIT_USAGE : EXIT_OSERR, "%s",
                      ss_errmsg());
    return 0;
}

/* "wait": requests until idle for idle_ms, or a signal. */
static int serve_idle(ss_server_t *s, ss_transport_t t, int64_t idle_ms)
{
    int fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
    if (fd < 0 || ss_server_listen_fd(s, fd, t) < 0)
        return refuse(EXIT_OSERR, "standard input: %s", fd < 0 ? ss_strerror(-errno) : ss_errmsg());
    int null = open("/dev/null", O_RDWR);
    if (null > 0) {
        (void)dup2(null, 0); /* a stray read of standard input sees nothing */
        close(null);
    }
    for (;;) {
        int rc = ss_server_handle_request(s, ss_now_ms() + idle_ms);
        if (rc == -ETIMEDOUT) {
            ss_server_log(s, SS_LOG_DEBUG, "idle for %lld ms: exiting", (long long)idle_ms);
            return 0;
        }
        if (rc == -ECANCELED) return 0;
        if (rc < 0) return refuse(EXIT_OSERR, "%s", ss_errmsg());
    }
}

int inetd_serve(const serve_opts_t *o, const svc_t *svc)
{
    openlog("socketserver", LOG_PID, LOG_DAEMON);
    int domain = 0, listening = 0;
    int type = stdin_kind(&domain, &listening);
    if (type < 0)
        return refuse(EXIT_USAGE, "%s",
                      "--inetd: standard input is not a socket (a pipe, terminal or file): "
                      "inetd or systemd (Accept=yes) passes one");
    int inet = domain == AF_INET || domain == AF_INET6;
    if ((!inet && domain != AF_UNIX) || (type != SOCK_STREAM && type != SOCK_DGRAM))
        return refuse(EXIT_USAGE, "%s", "--inetd: standard input is not a TCP, UDP or unix socket");
    /* One process, one session at a time: the modes' threads and workers
     * have nothing to share out (inetd itself is the concurrency). */
    ss_config_t cfg = o->cfg;
    cfg.mode = SS_MODE_SYNC;
    cfg.workers = 0;
    cfg.cpu_affinity = SS_CPU_AFFINITY_NONE;
    cfg.log = log_syslog;
    ss_server_t *s;
    int rc = ss_server_create(&cfg, &svc->handler, &s);
    if (rc < 0) {
        int code = rc == SS_ETLS                                     ? EXIT_DATAERR
                   : rc == -ENOENT || rc == -EACCES || rc == -EISDIR ? EXIT_NOINPUT
                                                                     : EXIT_USAGE;
        return refuse(code, "%s", ss_errmsg());
    }
    inetd_server = s;
    int tls = cfg.tls.cert_file != NULL;
    if (install_signals() < 0)
        rc = refuse(EXIT_OSERR, "sigaction: %s", ss_strerror(-errno));
    else if (type == SOCK_STREAM && !listening)
        rc = serve_one(s, tls);
    else {
        ss_transport_t t = type == SOCK_DGRAM ? (inet ? SS_UDP : SS_UNIXGRAM)
                                              : (!inet ? SS_UNIX
                                                 : tls ? SS_TLS
                                                       : SS_TCP);
        rc = serve_idle(s, t, o->cfg.idle_timeout_ms > 0 ? o->cfg.idle_timeout_ms : INETD_IDLE_MS);
    }
    inetd_server = NULL;
    ss_server_close(s);
    closelog();
    return rc;
}
