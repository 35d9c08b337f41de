/* serve.c - `socketserver serve SERVICE [ADDRESS ...]`: one service of
 * the table on every address, in the mode asked for, until SIGINT or SIGTERM;
 * then the listeners close at once, sessions in flight get --drain-timeout to
 * finish, unix socket files are removed and the exit status is 0. A second
 * signal ends the process (and fork-mode children) at once. */
#include "cli.h"
#include "inetd.h"
#include "opts.h"
#include "privs.h"
#include "restart.h"
#include "sd.h"
#include "services.h"
#include "stats_http.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char *const default_addrs[] = {"tcp://127.0.0.1:2345", "udp://127.0.0.1:2345"};

/* ------------------------------------------------------------ help */

static void print_services(FILE *f)
{
    for (const svc_t *s = svc_table; s->name; s++)
        fprintf(f, "  %-10s %-8s %s\n", s->name, s->standard, s->summary);
}

static void print_modes(FILE *f)
{
    for (int avail = 1; avail >= 0; avail--) {
        int n = 0;
        for (int m = SS_MODE_SYNC; m <= SS_MODE_EVENT; m++)
            if (ss_mode_available((ss_mode_t)m) == avail)
                fprintf(f, "%s%s", n++ ? ", " : (avail ? " " : "; not in this build: "),
                        ss_mode_name((ss_mode_t)m));
    }
    fputc('\n', f);
}

static void print_help(FILE *f)
{
    fputs("Usage: socketserver serve SERVICE [ADDRESS ...] [OPTIONS]\n"
          "       socketserver serve --inetd SERVICE [OPTIONS]\n"
          "Serve SERVICE on each ADDRESS (default: tcp://127.0.0.1:2345 and\n"
          "udp://127.0.0.1:2345; under systemd socket activation, LISTEN_FDS) until\n"
          "SIGINT or SIGTERM; SIGHUP restarts it from its binary without losing a client.\n"
          "\nServices:\n",
          f);
    print_services(f);
    fputs("\nModes (--mode):", f);
    print_modes(f);
    fputs("\nAddresses: tcp://HOST:PORT  udp://HOST:PORT  tls://HOST:PORT  unix:PATH\n"
          "  unixgram:PATH (HOST: IPv4, [IPv6] or a name; PORT 0: any free port;\n"
          "  unix:@NAME: abstract; tls: TLS 1.2/1.3 over TCP, needs --tls-cert)\n"
          "\nOptions:\n"
          "  -m, --mode MODE          what runs each session (default sync)\n"
          "  -w, --workers N          pool, prefork, event: workers (default: from the\n"
          "                           CPUs the process may use: affinity, cgroup quota,\n"
          "                           SS_CPUS; prefork and pool 4 per CPU, event 1)\n"
          "      --cpu-affinity WHICH event loop or prefork worker i on the i-th CPU:\n"
          "                           auto (those the process may use), a LIST such as\n"
          "                           0,2-3, or none (the default)\n"
          "      --poller WHICH       event mode: auto (the default: epoll, or SS_POLLER),\n"
          "                           epoll or io_uring\n"
          "      --reuse-port         SO_REUSEPORT on TCP and UDP listeners: several\n"
          "                           serve instances may share a port; event loops and\n"
          "                           prefork workers each accept on a TCP socket of\n"
          "                           their own, among which the kernel spreads clients\n"
          "      --max-connections N  sessions at once; beyond, a client is closed at\n"
          "                           once (default 1024, 0: no limit)\n"
          "      --idle-timeout S     end a session silent for S seconds (default 0: never)\n"
          "      --line-timeout S     a line must end within S seconds of its first byte\n"
          "                           (default 60: beyond anyone typing; 0: off)\n"
          "      --min-rate BYTES/S[:GRACE]  after GRACE seconds (default 5), end a\n"
          "                           session whose client sends under BYTES/S while a\n"
          "                           line is waited for (default: off)\n"
          "      --request-timeout S  end a whole session after S seconds (default 0:\n"
          "                           never)\n"
          "      --max-line BYTES     longest line, ending included (default 8192)\n"
          "      --drain-timeout S    on SIGINT/SIGTERM, wait up to S seconds for sessions\n"
          "                           in flight (default 10)\n"
          "      --user USER          once the listeners are bound, run as USER (a name or\n"
          "                           a uid), with its group and supplementary groups:\n"
          "                           ports below 1024 need root only at start\n"
          "      --group GROUP        once bound, run as GROUP (a name or a gid; default\n"
          "                           with --user: the user's primary group); alone, it\n"
          "                           changes the group only\n"
          "      --socket-mode MODE   permissions of the unix and unixgram socket files, in\n"
          "                           octal (660, 0600; at most 0777); with --user/--group\n"
          "                           the files are theirs\n"
          "      --allow-uid UID,...  unix listeners: admit only clients running as one\n"
          "                           of these user IDs (or a group of --allow-gid)\n"
          "      --allow-gid GID,...  unix listeners: admit clients of these group IDs\n",
          f);
    fputs("      --allow CIDR,...     admit only IP clients in these networks (at most 64)\n"
          "      --deny CIDR,...      refuse IP clients in these networks (deny wins)\n"
          "      --max-per-source N   connections at once from one source (default 0:\n"
          "                           no limit)\n"
          "      --rate R[:BURST]     new connections per second from one source, a token\n"
          "                           bucket of BURST (default R rounded up; 0: no limit)\n"
          "      --source-prefix V4BITS,V6BITS  what one source is for the per-source\n"
          "                           limits: an address cut to these prefixes (default\n"
          "                           32,64); a unix client: its user ID\n"
          "      --source-table N     entries of the per-source table, its memory bound\n"
          "                           (default 65536, 40 bytes each)\n"
          "      --udp-budget BYTES/S datagram reply bytes per second to one source; more\n"
          "                           are dropped (default 1M; 0: no budget)\n"
          "      --udp-amplification N  datagram replies to one source at most N times\n"
          "                           the bytes it sent in the last second (default 0: off)\n"
          "      --tls-cert FILE      tls:// listeners: the certificate chain (PEM)\n"
          "      --tls-key FILE       its private key (PEM; default: in --tls-cert)\n"
          "      --tls-client-ca FILE require client certificates these CAs verify\n"
          "                           (mutual TLS)\n"
          "      --proxy-protocol V   stream listeners: each connection starts with a\n"
          "                           PROXY protocol header of version V (v1, v2 or any),\n"
          "                           read within 5 s; its address is the client's\n"
          "      --proxy-from CIDR,...  the proxies trusted to send it (default\n"
          "                           127.0.0.0/8,::1); others are closed\n"
          "      --inetd              serve the socket on standard input, as inetd starts\n"
          "                           a program (nowait: the one connection; wait: until\n"
          "                           --idle-timeout, default 10 s, without a request);\n"
          "                           logs to syslog\n",
          f);
    fputs("      --stats ADDRESS      serve HTTP on ADDRESS (tcp://HOST:PORT or unix:PATH):\n"
          "                           /metrics (Prometheus), /healthz (503 while\n"
          "                           draining), / (a status page); SIGUSR1 logs the\n"
          "                           counters, with or without it\n"
          "      --access-log PATH    one JSON line per session, refusal and dropped\n"
          "                           datagram, appended to PATH (- : standard error);\n"
          "                           SIGUSR2 reopens it (log rotation)\n"
          "  -v, --verbose            log debug messages too\n"
          "  -q, --quiet              log warnings and errors only\n"
          "  -h, --help               show this help\n"
          "  -V, --version            show the version\n"
          "\nDurations are seconds (1.5, 0.25) or milliseconds (500ms); sizes take\n"
          "k, M, G (1024-based). Each bound listener prints \"listening ADDRESS\" on\n"
          "stdout (--stats: \"stats ADDRESS\"); logs go to stderr. A second signal exits\n"
          "at once.\n"
          "Exit status: 0 after a signal, 64 bad usage (or tls:// in a build without\n"
          "TLS), 65 a TLS file that is not a certificate or key, or a key that does not\n"
          "match, 66 a TLS file missing or unreadable, 67 unknown user or group,\n"
          "68 unknown host, 70 the serving generation died after a SIGHUP restart,\n"
          "71 system error (such as an address in use), 73 the --access-log file\n"
          "cannot be opened, 77 --user or --group without root.\n",
          f);
}

/* ------------------------------------------------------------ signals */

static ss_server_t *volatile the_server; /* read by the signal handler */
static stats_http_t *volatile the_stats; /* SIGUSR1's: the thread that logs */
static pid_t serve_pid;
static volatile sig_atomic_t signals_seen;

/* The first signal asks the server to stop (it closes its listeners, and so
 * removes its socket files, at once), and the restart master (restart.c)
 * to stop every generation; a second one leaves without waiting for the
 * sessions in flight. SIGHUP asks the master for a new generation. Only
 * async-signal-safe calls. */
static void on_signal(int sig)
{
    if (sig == SIGUSR1) {
        stats_http_log_request(the_stats); /* an eventfd write */
        restart_forward(sig);
        return;
    }
    if (sig == SIGHUP) {
        restart_signal(sig);
        return;
    }
    if (signals_seen++ > 0) _exit(128 + sig);
    ss_server_t *s = the_server;
    if (s) ss_server_shutdown(s);   /* a flag and an eventfd write */
    stats_http_draining(the_stats); /* a lock-free atomic store: /healthz 503 */
    restart_signal(sig);
}

/* SIGUSR2: logrotate renamed the access log; every process of the server
 * reopens it before its next write. An atomic store, safe here. */
static void on_reopen(int sig)
{
    ss_server_t *s = the_server;
    if (s) ss_server_reopen_logs(s);
    restart_forward(sig); /* a generation started by SIGHUP has its own */
}

/* In a generation, SIGHUP is ignored: the process to signal is the
 * master, which started it. */
static int install_signals(int generation)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGHUP);
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
        sigaction(SIGUSR1, &sa, NULL) < 0)
        return -1;
    if (generation) sa.sa_handler = SIG_IGN;
    if (sigaction(SIGHUP, &sa, NULL) < 0) return -1;
    sa.sa_handler = on_reopen;
    if (sigaction(SIGUSR2, &sa, NULL) < 0) return -1;
    /* stdout may be a pipe its reader closed: a write error, not a death. */
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

/* ------------------------------------------------------------ handler */

static ss_handler_t service; /* the service's own handler */

/* Runs before each session. In a process of its own (a fork-mode child, a
 * prefork worker), sessions must not outlive the server: PR_SET_PDEATHSIG
 * kills the process if the server exits at once on a second signal. Once
 * per process (a prefork worker serves many sessions). The parent may
 * already be gone: check after. */
static pid_t self_pid; /* getpid(), kept by after_fork: not a syscall a request */

static void after_fork(void)
{
    self_pid = getpid();
    restart_after_fork();
}

static int serve_setup(ss_conn_t *c, void *ctx)
{
    static pid_t armed; /* the process that has set it */
    pid_t me = self_pid;
    if (me != serve_pid && me != armed) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != serve_pid) _exit(1);
        armed = me;
    }
    return service.setup ? service.setup(c, ctx) : 0;
}

/* ------------------------------------------------------------ serving */

static void service_names(char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const svc_t *s = svc_table; s->name; s++) {
        int n = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", s->name);
        if (n < 0 || (size_t)n >= cap - used) break;
        used += (size_t)n;
    }
}

/* Parses every address before anything is bound, so a typo in the last one
 * leaves no listener behind. Returns 0 or an exit code. */
static int parse_addrs(const serve_opts_t *o, ss_addr_t *addrs, int *n)
{
    int count = o->naddrs ? o->naddrs : 2;
    for (int i = 0; i < count; i++) {
        const char *text = o->naddrs ? o->addrs[i] : default_addrs[i];
        int rc = ss_addr_parse(text, &addrs[i]);
        if (rc == SS_ERESOLVE) {
            cli_error("serve", "%s", ss_errmsg());
            return EXIT_NOHOST;
        }
        if (rc < 0) return cli_usage("serve", "%s", ss_errmsg());
    }
    *n = count;
    return 0;
}

/* tls:// needs a build with TLS and a certificate, checked before anything
 * is read or bound. Returns 0 or an exit code. */
static int check_tls(const serve_opts_t *o, const ss_addr_t *addrs, int n)
{
    int tls = 0;
    for (int i = 0; i < n; i++) tls += addrs[i].transport == SS_TLS;
    if ((tls || o->cfg.tls.cert_file) && !ss_tls_available())
        return cli_usage("serve", "tls: built without TLS (OpenSSL 3 was not found)");
    if (tls && !o->cfg.tls.cert_file)
        return cli_usage("serve", "tls:// addresses need --tls-cert FILE (and --tls-key FILE)");
    if (!tls && o->cfg.tls.cert_file)
        cli_error(NULL, "warning: --tls-cert has no effect without a tls:// address");
    return 0;
}

/* A server that could not be made: a TLS file missing or unreadable (66),
 * not a certificate or key (65); ss_errmsg() names it. */
static int create_error(int rc)
{
    cli_error("serve", "%s", ss_errmsg());
    if (rc == SS_ETLS) return EXIT_DATAERR;
    if (strncmp(ss_errmsg(), "access log", 10) == 0) return EXIT_CANTCREAT;
    if (rc == -ENOENT || rc == -EACCES || rc == -EISDIR || rc == -ENOTDIR || rc == -ELOOP)
        return EXIT_NOINPUT;
    return rc == SS_EMODE || rc == SS_EUSAGE ? EXIT_USAGE : EXIT_OSERR;
}

/* Binds every listener. With --socket-mode the socket files are created
 * with that mode already (the umask says so while binding), so that none
 * exists, even for a moment, with looser permissions than asked: the
 * library's chmod(2) comes before listen(2), but after bind(2), when a
 * datagram could already arrive. No thread exists yet to mind the umask. */
static int listen_all(ss_server_t *s, const ss_addr_t *addrs, int n, unsigned unix_mode)
{
    mode_t old = 0;
    if (unix_mode) old = umask((mode_t)(~unix_mode & 0777));
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (ss_server_listen_addr(s, &addrs[i]) < 0) {
            cli_error("serve", "%s", ss_errmsg());
            rc = EXIT_OSERR;
        }
    }
    if (unix_mode) umask(old);
    return rc;
}

/* Socket activation (sd.c): the supervisor's listeners, bound already.
 * Adopted, they are the library's like its own, but for their files: a
 * unix socket file is the supervisor's and stays when serve exits. */
static int adopt_all(ss_server_t *s, const sd_fds_t *f)
{
    for (int i = 0; i < f->n; i++) {
        int rc = ss_server_listen_fd(s, f->fd[i], f->transport[i]);
        if (rc < 0) {
            cli_error("serve", "%s", ss_errmsg());
            return rc == SS_EUSAGE || rc == SS_EMODE ? EXIT_USAGE : EXIT_OSERR;
        }
        ss_addr_t a;
        char text[SS_ADDRSTRLEN];
        ss_server_address(s, rc, &a);
        if (ss_addr_format(&a, text, sizeof text) < 0) snprintf(text, sizeof text, "?");
        ss_server_log(s, SS_LOG_INFO, "adopted %s (descriptor %d, name \"%s\")", text, f->fd[i],
                      f->name[i]);
    }
    return 0;
}

/* The listening lines, once the server is ready (bound, and running as
 * --user): scripts wait for them to learn the ports, so they are flushed. */
static void announce(const ss_server_t *s)
{
    for (int i = 0; i < ss_server_listener_count(s); i++) {
        ss_addr_t bound;
        char text[SS_ADDRSTRLEN];
        ss_server_address(s, i, &bound);
        if (ss_addr_format(&bound, text, sizeof text) < 0) snprintf(text, sizeof text, "?");
        printf("listening %s\n", text);
    }
    fflush(stdout);
}

/* The file of a unix listener, or NULL (other transports, abstract names). */
static const char *socket_file(const ss_addr_t *a)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)&a->sa;
    if ((a->transport != SS_UNIX && a->transport != SS_UNIXGRAM) || un->sun_path[0] == '\0')
        return NULL;
    return un->sun_path;
}

/* --user, --group: the socket files become the user's (so that the
 * operator's clients in that group may connect under --socket-mode 660),
 * then root is dropped. The server removes its socket files at exit as that
 * user, which needs write permission on their directory: when it lacks it,
 * the file is left behind at exit, with a warning and exit status 0 (a
 * later server replaces a stale socket file), and this is said now rather
 * than discovered then. Returns 0 or an exit status. */
static int drop_privileges(ss_server_t *s, const privs_t *pv)
{
    if (!privs_wanted(pv)) return 0;
    for (int i = 0; i < ss_server_listener_count(s); i++) {
        ss_addr_t a;
        ss_server_address(s, i, &a);
        const char *path = socket_file(&a);
        if (!path) continue;
        int rc = privs_give_socket(pv, path);
        if (rc < 0) {
            cli_error("serve", "chown %s: %s", path, ss_strerror(rc));
            return EXIT_OSERR;
        }
        if (!privs_may_remove(pv, path))
            ss_server_log(s, SS_LOG_WARN,
                          "%s: %s may not remove it from its directory: the socket file will "
                          "be left behind at exit",
                          path, pv->name);
    }
    char err[200];
    int rc = privs_drop(pv, err, sizeof err);
    if (rc) cli_error("serve", "dropping privileges to %s: %s", pv->name, err);
    return rc;
}

static int run(ss_server_t *s, const svc_t *svc)
{
    const ss_config_t *cfg = ss_server_config(s);
    ss_server_log(s, SS_LOG_INFO, "serving %s in %s mode (pid %d)", svc->name,
                  ss_mode_name(cfg->mode), (int)getpid());
    /* sd_notify(3): ready once the listeners are bound and the privileges
     * dropped; clients that come before the mode's workers run wait in the
     * listeners' backlogs. MAINPID: this process, the one to signal. */
    sd_notify_send("READY=1\nMAINPID=%d\nSTATUS=serving %s in %s mode on %d listener(s)",
                   (int)getpid(), svc->name, ss_mode_name(cfg->mode), ss_server_listener_count(s));
    restart_ready(); /* a generation: its master retires the one before */
    int rc = ss_server_serve(s);
    if (rc < 0) {
        ss_server_log(s, SS_LOG_ERROR, "%s", ss_errmsg());
        return EXIT_OSERR;
    }
    int active = ss_server_active(s);
    if (restart_handed_over()) {
        ss_server_log(s, SS_LOG_INFO, "generation 0 retired: %d session(s) in flight", active);
        return 0;
    }
    sd_notify_send("STOPPING=1\nSTATUS=draining %d session(s)", active);
    if (active > 0)
        ss_server_log(s, SS_LOG_INFO, "stopping: %d session(s) in flight, waiting up to %.3g s",
                      active, (double)cfg->drain_timeout_ms / 1000);
    return 0;
}

static void warn_unused(const ss_config_t *cfg, const ss_addr_t *addrs, int n)
{
    int pooled =
        cfg->mode == SS_MODE_POOL || cfg->mode == SS_MODE_PREFORK || cfg->mode == SS_MODE_EVENT;
    if (cfg->workers > 0 && !pooled)
        cli_error(NULL, "warning: --workers has no effect in %s mode", ss_mode_name(cfg->mode));
    if (cfg->cpu_affinity != SS_CPU_AFFINITY_NONE && cfg->mode != SS_MODE_PREFORK &&
        cfg->mode != SS_MODE_EVENT)
        cli_error(NULL, "warning: --cpu-affinity has no effect in %s mode",
                  ss_mode_name(cfg->mode));
    int files = 0;
    for (int i = 0; i < n; i++) files += socket_file(&addrs[i]) != NULL;
    if (cfg->unix_mode && !files)
        cli_error(NULL, "warning: --socket-mode has no effect without a unix or unixgram socket "
                        "file (abstract names have none)");
}

/* --user, --group: looked up and checked before anything is bound, so that
 * an unknown user (67) or a caller without root (77) leaves nothing behind,
 * and the server never serves as root on behalf of a user who does not
 * exist. Returns 0 or an exit status. */
static int prepare_privs(const serve_opts_t *o, privs_t *pv)
{
    char err[200];
    int rc = privs_resolve(pv, o->user, o->group, err, sizeof err);
    if (rc == 0) rc = privs_check(pv, err, sizeof err);
    if (rc) cli_error("serve", "%s", err);
    return rc;
}

/* -EINVAL: the options make a configuration the library refuses, such as
 * --cpu-affinity naming a CPU the process may not use (its check: the
 * affinity mask is the library's to read). A usage error, named by its
 * option. Returns the exit status. */
static int create_failed(const serve_opts_t *o, int err)
{
    if (err != -EINVAL) return create_error(err); /* TLS files: 65, 66 */
    if (o->cpus && strstr(ss_errmsg(), "config: cpu_"))
        return cli_usage("serve", "--cpu-affinity \"%.40s\": %s", o->cpus, ss_errmsg());
    return cli_usage("serve", "%s", ss_errmsg());
}

/* --stats: its unix socket file is the --user's too (as drop_privileges
 * does for the service's), so that it can remove it at exit. */
static int give_stats_socket(const stats_http_t *h, const privs_t *pv)
{
    const char *path = h ? stats_http_socket_file(h) : NULL;
    if (!path || !privs_wanted(pv)) return 0;
    int rc = privs_give_socket(pv, path);
    if (rc < 0) {
        cli_error("serve", "chown %s: %s", path, ss_strerror(rc));
        return EXIT_OSERR;
    }
    return 0;
}

/* The thread of --stats (and of SIGUSR1's log line, which runs without
 * --stats too). Returns 0 or an exit status. */
static int start_stats(ss_server_t *s, const svc_t *svc, stats_http_t *h)
{
    int rc = stats_http_start(h, s, svc->name);
    if (rc < 0) {
        cli_error("serve", "--stats: pthread_create: %s", ss_strerror(rc));
        return EXIT_OSERR;
    }
    the_stats = h;
    return 0;
}

static void announce_stats(const stats_http_t *h)
{
    if (!stats_http_address(h)[0]) return;
    printf("stats %s\n", stats_http_address(h));
    fflush(stdout);
}

/* --stats: bound here; in a generation, adopted from its master, whose
 * listener it is (the same address, bound once). */
static int open_stats(const serve_opts_t *o, stats_http_t **stats)
{
    int fd = restart_stats_fd();
    if (o->stats && fd >= 0) return stats_http_adopt(fd, stats);
    return stats_http_open(o->stats, stats);
}

/* Binds the addresses, or adopts what a supervisor passed. */
static int take_listeners(ss_server_t *s, const serve_opts_t *o, const ss_addr_t *addrs, int n,
                          const sd_fds_t *fds)
{
    if (fds->n > 0) return adopt_all(s, fds);
    return listen_all(s, addrs, n, o->cfg.unix_mode);
}

/* The started process serves from duplicates of the listeners, which hold
 * keeps (and their files) for the generations a SIGHUP starts. */
static int adopt_copies(ss_server_t *s, ss_server_t *hold)
{
    for (int i = 0; i < ss_server_listener_count(hold); i++) {
        ss_addr_t a;
        ss_server_address(hold, i, &a);
        int fd = fcntl(ss_server_listener_fd(hold, i), F_DUPFD_CLOEXEC, 3);
        if (fd < 0 || ss_server_listen_fd(s, fd, a.transport) < 0) {
            cli_error("serve", "listener copy: %s", fd < 0 ? ss_strerror(-errno) : ss_errmsg());
            return EXIT_OSERR;
        }
    }
    return 0;
}

/* Binding (or adoption), privileges, then the restart master: hold owns
 * the listeners, s serves copies. A generation started by a restart has no
 * hold: its master keeps the listeners, and it runs as the user already
 * when --user was given (root only in a master started as root). */
static int prepare(const serve_opts_t *o, ss_server_t *s, ss_server_t *hold, const ss_addr_t *addrs,
                   int n, const sd_fds_t *fds, const privs_t *pv, stats_http_t **stats)
{
    ss_server_t *first = hold ? hold : s;
    int rc = take_listeners(first, o, addrs, n, fds);
    if (rc == 0) rc = open_stats(o, stats);
    if (rc == 0) rc = give_stats_socket(*stats, pv);
    if (rc == 0 && (hold || geteuid() == 0)) rc = drop_privileges(first, pv);
    if (rc == 0 && hold) rc = adopt_copies(s, hold);
    if (rc == 0 && hold && restart_start(hold, s, *stats ? stats_http_fd(*stats) : -1) < 0)
        ss_server_log(s, SS_LOG_WARN, "SIGHUP: cannot start the restart thread: no restarts");
    if (rc == 0 && sd_watchdog_start() < 0)
        ss_server_log(s, SS_LOG_WARN, "WATCHDOG_USEC: cannot start the watchdog thread");
    return rc;
}

static int serve_on(const serve_opts_t *o, const svc_t *svc, const ss_addr_t *addrs, int n,
                    const sd_fds_t *fds, const privs_t *pv, int generation)
{
    service = svc->handler;
    ss_handler_t h = service;
    h.setup = serve_setup;
    serve_pid = self_pid = getpid();
    pthread_atfork(NULL, NULL, after_fork); /* the modes' children: fork(2) */
    ss_server_t *s, *hold = NULL;
    ss_config_t cfg = o->cfg;
    cfg.service = o->service; /* the access log's "service" */
    int created = ss_server_create(&cfg, &h, &s);
    /* hold never serves: no mode's threads or workers, nothing to plan,
     * no access log, no admission state. */
    ss_config_t hold_cfg = cfg;
    hold_cfg.mode = SS_MODE_SYNC;
    hold_cfg.workers = 0;
    hold_cfg.cpu_affinity = SS_CPU_AFFINITY_NONE;
    hold_cfg.access_log = NULL;
    hold_cfg.allow = hold_cfg.deny = NULL; /* and no admission table */
    hold_cfg.max_per_source = 0;
    hold_cfg.rate = 0;
    hold_cfg.udp_budget = 0;
    hold_cfg.udp_amplification = 0;
    if (created == 0 && !generation && (created = ss_server_create(&hold_cfg, &h, &hold)) < 0)
        ss_server_close(s);
    if (created < 0) return create_failed(o, created);
    the_server = s;
    int rc = 0;
    if ((!generation && restart_init() < 0) || install_signals(generation) < 0) {
        perror("socketserver serve: sigaction");
        rc = EXIT_OSERR;
    }
    /* Root is needed to bind (a port below 1024, a root-owned directory),
     * and dropped before ss_server_serve() starts the threads (pool,
     * thread, event) and processes (fork, prefork) that serve: none of
     * them ever runs as root. */
    stats_http_t *stats = NULL;
    if (rc == 0) rc = prepare(o, s, hold, addrs, n, fds, pv, &stats);
    if (rc == 0) rc = start_stats(s, svc, stats);
    if (rc == 0) {
        if (!generation) {
            announce(hold);
            announce_stats(stats);
        }
        rc = run(s, svc);
    }
    /* Retired for a newer generation, which serves the status now: this
     * one's goes at once (a /healthz 503 from it would flap a probe), and
     * its unix socket file stays, the master's to remove at the very end.
     * Otherwise the status stays up while the sessions in flight drain,
     * saying so (/healthz 503); it goes before the server is freed. */
    int retired = restart_handed_over();
    char stats_file[108] = "";
    if (retired && stats) {
        the_stats = NULL;
        if (stats_http_socket_file(stats))
            snprintf(stats_file, sizeof stats_file, "%s", stats_http_socket_file(stats));
        stats_http_forget_file(stats);
        stats_http_stop(stats);
        stats = NULL;
    }
    stats_http_draining(stats);
    the_server = NULL; /* a signal from now on must not touch what close frees */
    /* Not retired for a newer generation: the end, for every one. */
    if (hold && !retired) restart_signal(SIGTERM);
    ss_server_drain(s);
    the_stats = NULL;
    stats_http_stop(stats);
    ss_server_close(s); /* frees; the drain removed the socket files */
    if (hold) {
        int status = restart_finish(hold);
        if (rc == 0) rc = status;
    }
    if (stats_file[0]) unlink(stats_file);
    sd_notify_close();
    return rc;
}

/* The supervisor's side, read before anything else: inherited listeners
 * (an error in them is the whole command's) and the notify socket (an
 * error there costs only the notifications). With addresses on the command
 * line, inherited listeners are not served: closed, with a warning; but a
 * generation's are its master's, bound from those very addresses. */
static int supervisor(const serve_opts_t *o, sd_fds_t *fds, int generation)
{
    char err[200];
    int rc = sd_listen_fds_read(fds, err, sizeof err);
    if (rc) {
        cli_error("serve", "%s", err);
        return rc;
    }
    if (fds->n > 0 && o->naddrs > 0 && !generation) {
        cli_error(NULL, "warning: ADDRESS given: the %d listener(s) of LISTEN_FDS are not served",
                  fds->n);
        for (int i = 0; i < fds->n; i++) close(fds->fd[i]);
        fds->n = 0;
    }
    if (sd_notify_open(err, sizeof err) < 0) cli_error(NULL, "warning: %s", err);
    return 0;
}

static int serve(const serve_opts_t *o, const svc_t *svc)
{
    ss_addr_t addrs[OPTS_MAX_ADDRS];
    int n = 0;
    privs_t pv = {0};
    sd_fds_t fds;
    int generation = restart_generation();
    int rc = supervisor(o, &fds, generation);
    if (rc == 0 && fds.n == 0) rc = parse_addrs(o, addrs, &n);
    if (rc == 0 && fds.n == 0) rc = check_tls(o, addrs, n);
    if (rc == 0) rc = prepare_privs(o, &pv);
    if (rc == 0) {
        if (!generation) warn_unused(&o->cfg, addrs, n);
        rc = serve_on(o, svc, addrs, n, &fds, &pv, generation);
    }
    privs_release(&pv);
    return rc;
}

int cmd_serve(int argc, char **argv)
{
    /* main's argv from its program name on: argv[-1] (main.c passes
     * argv + 1), before getopt_long permutes it. */
    restart_save_argv(argc + 1, argv - 1);
    serve_opts_t o;
    char err[256];
    int rc =
        cli_options("serve", opts_parse_serve(argc, argv, &o, err, sizeof err), err, print_help);
    if (rc != CLI_RUN) return rc;
    const svc_t *svc = svc_find(o.service);
    if (!svc) {
        char names[160];
        service_names(names, sizeof names);
        return cli_usage("serve", "unknown service \"%.40s\" (%s)", o.service, names);
    }
    return o.inetd ? inetd_serve(&o, svc) : serve(&o, svc);
}
