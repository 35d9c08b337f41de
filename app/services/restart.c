/* restart.c - restart without loss, on SIGHUP. The design is nginx's and
 * HAProxy's master-worker, made lazy: the process that was started serves
 * (generation 0) and keeps its listeners in a second server that never
 * serves ("hold"). On SIGHUP a thread of it forks and executes the binary
 * now at the path it was started from, with the same arguments, handing it
 * the listeners by sd_listen_fds(3)'s protocol (LISTEN_FDS, LISTEN_PID: the
 * adoption of socket activation, sd.c) and a pipe to say it serves. Only
 * then is the older generation told to stop accepting and drain (generation
 * 0 by ss_server_shutdown, a child by SIGTERM): the listening sockets are
 * never closed, so a client in the backlog is accepted by the new
 * generation, and none is refused. The started process stays the one to
 * signal (and systemd's MAINPID); its SIGTERM drains every generation.
 * Unix socket files belong to hold, so no generation's end removes them. */
#include "restart.h"

#include "cli.h"
#include "sd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READY_TIMEOUT_MS 30000 /* a new generation that is not serving by then is killed */
#define TICK_MS          100   /* how often the master reaps retired generations */
#define MAX_OLD          32    /* retired generations still draining */

static struct {
    char exe[PATH_MAX]; /* /proc/self/exe at start */
    char **argv;        /* the command line, NULL-terminated */
    int pipe[2];        /* the signal handler's bytes: 'H' restart, 'T' end */
    int ready_fd;       /* in a generation: the master's pipe; -1 */
    pid_t master;       /* in a generation: the master's PID */
    atomic_int handed_over;
    pthread_t thread;
    int running;
    ss_server_t *hold, *serve;
    atomic_int spawning; /* the master thread is forking a generation */
    int stats_fd;        /* the master's --stats listener, or -1; in a generation, its copy */
    /* The master thread's own state. */
    _Atomic(pid_t) current; /* the serving generation's PID; 0: generation 0
                               (this process); -1: none. Read by
                               restart_forward in a signal handler */
    int gen;                /* its number */
    pid_t starting;         /* a generation being started; 0: none */
    int starting_fd, starting_gen;
    int64_t starting_deadline;
    pid_t old[MAX_OLD]; /* retired, draining, to reap */
    int nold;
    int stopping;
    int status; /* the exit status restart_finish returns */
} rs = {.pipe = {-1, -1}, .ready_fd = -1, .stats_fd = -1};

/* ------------------------------------------------------------ setup */

void restart_save_argv(int argc, char **argv)
{
    rs.argv = calloc((size_t)argc + 1, sizeof *rs.argv);
    if (rs.argv) memcpy(rs.argv, argv, (size_t)argc * sizeof *argv);
    ssize_t n = readlink("/proc/self/exe", rs.exe, sizeof rs.exe - 1);
    rs.exe[n > 0 ? n : 0] = '\0';
}

/* A variable of ours, read and removed at start, before any thread:
 * NOLINTBEGIN(concurrency-mt-unsafe) */
static int env_int(const char *name, int min)
{
    const char *v = getenv(name);
    long n = -1;
    if (v && *v) {
        char *end;
        long x = strtol(v, &end, 10);
        if (!*end && x >= min && x <= INT_MAX) n = x;
    }
    unsetenv(name);
    return (int)n;
}
/* NOLINTEND(concurrency-mt-unsafe) */

int restart_generation(void)
{
    int gen = env_int("SS_GENERATION", 1);
    int fd = env_int("SS_READY_FD", 3);
    int stats = env_int("SS_STATS_FD", 3);
    if (gen < 1) return 0;
    if (stats >= 0 && fcntl(stats, F_SETFD, FD_CLOEXEC) == 0) rs.stats_fd = stats;
    rs.master = getppid();
    if (fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) == 0) rs.ready_fd = fd;
    return gen;
}

/* Also re-arms the parent-death signal, which dropping privileges cleared
 * (prctl(2)): a generation whose master is gone must not serve on. */
void restart_ready(void)
{
    if (rs.ready_fd < 0) return;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != rs.master) _exit(EXIT_SOFTWARE);
    ssize_t n = write(rs.ready_fd, "1", 1);
    (void)n; /* a master that is gone learns nothing either way */
    close(rs.ready_fd);
    rs.ready_fd = -1;
}

int restart_init(void)
{
    if (pipe2(rs.pipe, O_CLOEXEC | O_NONBLOCK) < 0) return -errno;
    return 0;
}

void restart_signal(int sig)
{
    if (rs.pipe[1] < 0) return;
    int saved = errno;
    char c = sig == SIGHUP ? 'H' : 'T';
    ssize_t n = write(rs.pipe[1], &c, 1);
    (void)n; /* a full pipe already holds the same news */
    errno = saved;
}

void restart_after_fork(void)
{
    if (rs.spawning || !rs.hold) return;
    for (int i = 0; i < ss_server_listener_count(rs.hold); i++) {
        int fd = ss_server_listener_fd(rs.hold, i);
        if (fd >= 0) close(fd);
    }
    if (rs.stats_fd >= 0) close(rs.stats_fd);
}

void restart_forward(int sig)
{
    pid_t pid = rs.current;
    if (pid > 0) kill(pid, sig);
}

int restart_stats_fd(void)
{
    return rs.stats_fd;
}

int restart_handed_over(void)
{
    return atomic_load(&rs.handed_over);
}

/* ------------------------------------------------------------ spawning */

/* The new generation's environment, made before fork (only
 * async-signal-safe calls after it): ours without the variables that
 * describe this process, plus the listeners', the generation's, and a
 * LISTEN_PID the child fills in. */
typedef struct child_env {
    char **envp;
    char pid[32], fds[32], names[SD_MAX_FDS * 10 + 20], gen[40], ready[40], stats[40];
} child_env;

static int dropped(const char *e)
{
    static const char *const names[] = {"LISTEN_",        "NOTIFY_SOCKET=", "WATCHDOG_",
                                        "SS_GENERATION=", "SS_READY_FD=",   "SS_STATS_FD="};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strncmp(e, names[i], strlen(names[i])) == 0) return 1;
    return 0;
}

/* LISTEN_FDNAMES: each listener's transport, "tls" telling sd.c that a
 * TCP socket speaks TLS (it cannot be seen on the socket). */
static void listener_names(child_env *ce, int n)
{
    static const char *const t[] = {"tcp", "udp", "unix", "unixgram", "tls"};
    size_t used = (size_t)snprintf(ce->names, sizeof ce->names, "LISTEN_FDNAMES=");
    for (int i = 0; i < n && used < sizeof ce->names; i++) {
        ss_addr_t a;
        ss_server_address(rs.hold, i, &a);
        int k = (int)a.transport >= 0 && (int)a.transport <= 4 ? (int)a.transport : 0;
        used +=
            (size_t)snprintf(ce->names + used, sizeof ce->names - used, "%s%s", i ? ":" : "", t[k]);
    }
}

static int make_env(child_env *ce, int n, int gen)
{
    size_t count = 0;
    while (environ[count]) count++;
    ce->envp = calloc(count + 7, sizeof *ce->envp);
    if (!ce->envp) return -ENOMEM;
    size_t j = 0;
    for (size_t i = 0; i < count; i++)
        if (!dropped(environ[i])) ce->envp[j++] = environ[i];
    snprintf(ce->pid, sizeof ce->pid, "LISTEN_PID=");
    snprintf(ce->fds, sizeof ce->fds, "LISTEN_FDS=%d", n);
    listener_names(ce, n);
    snprintf(ce->gen, sizeof ce->gen, "SS_GENERATION=%d", gen);
    snprintf(ce->ready, sizeof ce->ready, "SS_READY_FD=%d", SD_LISTEN_FDS_START + n);
    ce->envp[j++] = ce->pid;
    ce->envp[j++] = ce->fds;
    ce->envp[j++] = ce->names;
    ce->envp[j++] = ce->gen;
    ce->envp[j++] = ce->ready;
    snprintf(ce->stats, sizeof ce->stats, "SS_STATS_FD=%d", SD_LISTEN_FDS_START + n + 1);
    if (rs.stats_fd >= 0) ce->envp[j++] = ce->stats;
    return 0;
}

/* Decimal digits of v after the text in buf: async-signal-safe. */
static void put_pid(char *buf, size_t cap, long v)
{
    char digits[24];
    int n = 0;
    do digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0 && n < (int)sizeof digits);
    size_t at = strlen(buf);
    while (n > 0 && at + 1 < cap) buf[at++] = digits[--n];
    buf[at] = '\0';
}

/* In the child, between fork and exec: async-signal-safe calls only (the
 * master may have threads). The listeners go to 3 .. 3 + n - 1, the ready
 * pipe next, then --stats's listener if any; everything else is closed. Its own process group: a
 * Ctrl-C at the terminal reaches the master, which passes one SIGTERM on. */
static void child_exec(const int *fds, int n, int ready_w, child_env *ce, pid_t parent)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* NOLINT(concurrency-mt-unsafe): one thread here */
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(EXIT_SOFTWARE);
    int last = n + (rs.stats_fd >= 0); /* the last index moved */
    int base = SD_LISTEN_FDS_START + last + 1, tmp[SD_MAX_FDS + 2];
    for (int i = 0; i <= last; i++) {
        tmp[i] = fcntl(i < n ? fds[i] : i == n ? ready_w : rs.stats_fd, F_DUPFD, base);
        if (tmp[i] < 0) _exit(EXIT_OSERR);
    }
    for (int i = 0; i <= last; i++)
        if (dup2(tmp[i], SD_LISTEN_FDS_START + i) < 0) _exit(EXIT_OSERR);
    close_range((unsigned)base, ~0U, 0);
    put_pid(ce->pid, sizeof ce->pid, (long)getpid());
    execve(rs.exe, rs.argv, ce->envp);
    _exit(127);
}

/* Starts generation gen. Returns its PID with *ready_fd to read, or a
 * negative errno. */
static pid_t spawn(int gen, int *ready_fd)
{
    int n = ss_server_listener_count(rs.hold), fds[SD_MAX_FDS];
    if (n > SD_MAX_FDS || !rs.argv || !rs.exe[0]) return -EINVAL;
    for (int i = 0; i < n; i++)
        if ((fds[i] = ss_server_listener_fd(rs.hold, i)) < 0) return fds[i];
    child_env ce;
    int p[2];
    if (make_env(&ce, n, gen) < 0) return -ENOMEM;
    if (pipe2(p, O_CLOEXEC) < 0) {
        free(ce.envp);
        return -errno;
    }
    pid_t parent = getpid();
    rs.spawning = 1;
    pid_t pid = fork();
    rs.spawning = 0;
    if (pid == 0) child_exec(fds, n, p[1], &ce, parent);
    int err = errno;
    close(p[1]);
    free(ce.envp);
    if (pid < 0) {
        close(p[0]);
        return -err;
    }
    *ready_fd = p[0];
    return pid;
}

/* ------------------------------------------------------------ the master */

static void say(ss_log_level_t level, const char *fmt, ...) SS_PRINTF(2, 3);
static void say(ss_log_level_t level, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ss_server_log(rs.hold ? rs.hold : rs.serve, level, "%s", msg);
}

static void retire(pid_t pid)
{
    if (pid <= 0) return;
    if (rs.nold < MAX_OLD)
        rs.old[rs.nold++] = pid;
    else
        waitpid(pid, NULL, 0); /* never in practice: MAX_OLD restarts in a drain */
}

/* --reuse-port: a retiring generation's own sockets (one per prefork worker
 * or event loop) close with the clients queued on them, which the kernel
 * resets unless it moves them to the sockets left in the group
 * (net.ipv4.tcp_migrate_req, Linux 5.14; ip-sysctl.rst). Said at each
 * restart, where it matters. */
static void warn_reuse_port(void)
{
    if (!ss_server_config(rs.hold)->reuse_port) return;
    char c = '?';
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_migrate_req", "re");
    if (f) {
        c = (char)fgetc(f);
        fclose(f);
    }
    if (c != '1')
        say(SS_LOG_WARN,
            "restart with --reuse-port: clients queued on the old generation's own sockets are "
            "reset unless net.ipv4.tcp_migrate_req is 1 (it is %s)",
            c == '0' ? "0" : "not available");
}

static void on_hup(void)
{
    if (rs.stopping) return;
    if (rs.starting) {
        say(SS_LOG_WARN, "SIGHUP: generation %d is still starting; ignored", rs.starting_gen);
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    sd_notify_send("RELOADING=1\nMONOTONIC_USEC=%lld\nSTATUS=starting generation %d",
                   (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000, rs.gen + 1);
    warn_reuse_port();
    int fd = -1;
    pid_t pid = spawn(rs.gen + 1, &fd);
    if (pid < 0) {
        say(SS_LOG_ERROR, "restart: %s %s: %s; generation %d goes on", rs.exe,
            rs.argv && rs.argv[1] ? rs.argv[1] : "", ss_strerror(pid), rs.gen);
        return;
    }
    rs.starting = pid;
    rs.starting_fd = fd;
    rs.starting_gen = rs.gen + 1;
    rs.starting_deadline = ss_now_ms() + READY_TIMEOUT_MS;
    say(SS_LOG_INFO, "restart: starting generation %d (pid %d) from %s", rs.starting_gen, (int)pid,
        rs.exe);
}

/* The new generation said it serves (or died, or is too late). */
static void on_started(int timed_out)
{
    char c = 0;
    ssize_t n = timed_out ? 0 : read(rs.starting_fd, &c, 1);
    close(rs.starting_fd);
    pid_t pid = rs.starting;
    rs.starting = 0;
    if (n != 1) {
        if (timed_out) kill(pid, SIGKILL);
        retire(pid);
        say(SS_LOG_ERROR, "restart: generation %d (pid %d) %s; generation %d goes on",
            rs.starting_gen, (int)pid,
            timed_out ? "was not serving after 30 s" : "exited before serving", rs.gen);
        sd_notify_send("READY=1\nSTATUS=restart failed; generation %d serving", rs.gen);
        return;
    }
    if (rs.current == 0) {
        atomic_store(&rs.handed_over, 1);
        ss_server_shutdown(rs.serve); /* generation 0 stops accepting, drains */
    } else if (rs.current > 0) {
        kill(rs.current, SIGTERM);
        retire(rs.current);
    }
    say(SS_LOG_INFO, "restart: generation %d (pid %d) serving; generation %d draining",
        rs.starting_gen, (int)pid, rs.gen);
    rs.current = pid;
    rs.gen = rs.starting_gen;
    sd_notify_send("READY=1\nSTATUS=generation %d (pid %d) serving", rs.gen, (int)pid);
}

/* SIGTERM, SIGINT: every generation drains; the listeners close at once,
 * so that new clients are refused rather than left in a backlog. */
static void on_term(void)
{
    if (rs.stopping) return;
    rs.stopping = 1;
    if (restart_handed_over()) sd_notify_send("STOPPING=1\nSTATUS=draining");
    if (rs.current > 0) kill(rs.current, SIGTERM);
    if (rs.starting) kill(rs.starting, SIGTERM);
    ss_server_close(rs.hold);
    rs.hold = NULL;
}

static void reap(void)
{
    for (int i = 0; i < rs.nold;) {
        if (waitpid(rs.old[i], NULL, WNOHANG) != 0)
            rs.old[i] = rs.old[--rs.nold];
        else
            i++;
    }
    int st;
    if (rs.current > 0 && waitpid(rs.current, &st, WNOHANG) == rs.current) {
        if (!rs.stopping) {
            say(SS_LOG_ERROR, "generation %d (pid %d) %s %d while serving: stopping", rs.gen,
                (int)rs.current, WIFSIGNALED(st) ? "died of signal" : "exited with status",
                WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
            rs.status = EXIT_SOFTWARE;
            on_term();
        }
        rs.current = -1;
    }
}

static int master_done(void)
{
    return rs.stopping && rs.current <= 0 && !rs.starting && rs.nold == 0;
}

static void *master_main(void *arg)
{
    (void)arg;
    while (!master_done()) {
        struct pollfd p[2] = {{.fd = rs.pipe[0], .events = POLLIN},
                              {.fd = rs.starting ? rs.starting_fd : -1, .events = POLLIN}};
        int rc = poll(p, 2, TICK_MS);
        if (rc > 0 && p[0].revents) {
            char buf[16];
            ssize_t n = read(rs.pipe[0], buf, sizeof buf);
            for (ssize_t i = 0; i < n; i++) {
                if (buf[i] == 'H')
                    on_hup();
                else
                    on_term();
            }
        }
        if (rs.starting && (p[1].revents || ss_now_ms() >= rs.starting_deadline))
            on_started(!p[1].revents);
        reap();
    }
    return NULL;
}

/* Waits until the thread runs its own code: a fork (prefork's workers, the
 * moment serving starts) while another thread is still being set up can
 * leave the child with a lock held for ever (seen with ASan's thread
 * registry: a worker asleep on a futex). */
int restart_start(ss_server_t *hold, ss_server_t *serve, int stats_fd)
{
    rs.hold = hold;
    rs.serve = serve;
    /* A copy of its own: generation 0's --stats goes when it retires. */
    rs.stats_fd = stats_fd >= 0 ? fcntl(stats_fd, F_DUPFD_CLOEXEC, 3) : -1;
    rs.current = 0;
    if (rs.pipe[0] < 0) return -EBADF;
    /* The master thread takes no signal (the serving thread's handler
     * does, as before there was a master), and runs before the mode forks. */
    int rc = cli_thread_start(&rs.thread, master_main, NULL);
    if (rc < 0) return rc;
    rs.running = 1;
    return 0;
}

int restart_finish(ss_server_t *hold)
{
    if (rs.running) {
        pthread_join(rs.thread, NULL);
        rs.running = 0;
        hold = rs.hold; /* NULL: the thread closed it */
    }
    ss_server_close(hold);
    if (rs.stats_fd >= 0) close(rs.stats_fd);
    rs.stats_fd = -1;
    return rs.status;
}
