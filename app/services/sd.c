/* sd.c - systemd's socket activation (sd_listen_fds(3)) and readiness
 * protocol (sd_notify(3)), written from their manual pages: both are a few
 * environment variables and, for notify, one datagram per message, so no
 * libsystemd is needed (nor wanted: the program runs under inetd, runit or
 * a terminal just as well). */
#include "sd.h"

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ activation */

int sd_listen_fds_present(void)
{
    return getenv("LISTEN_FDS") != NULL;
}

/* A strict decimal number between min and max, as the variables hold. */
static int env_number(const char *text, long min, long max, long *out)
{
    if (!text || *text < '0' || *text > '9') return -1;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

/* LISTEN_FDNAMES: names separated by ':', one per descriptor. A count that
 * does not match is a supervisor's mistake the names cannot be trusted
 * after; they are ignored with a warning rather than refusing to serve. */
static void read_names(sd_fds_t *f)
{
    for (int i = 0; i < f->n; i++) snprintf(f->name[i], sizeof f->name[i], "unknown");
    const char *names = getenv("LISTEN_FDNAMES");
    if (!names) return;
    int count = 1;
    for (const char *p = names; *p; p++) count += *p == ':';
    if (count != f->n) {
        cli_error(NULL, "warning: LISTEN_FDNAMES has %d name(s) for %d descriptor(s): ignored",
                  count, f->n);
        return;
    }
    const char *p = names;
    for (int i = 0; i < f->n; i++) {
        size_t len = strcspn(p, ":");
        if (len > 0)
            snprintf(f->name[i], sizeof f->name[i], "%.*s",
                     (int)(len < sizeof f->name[i] ? len : sizeof f->name[i] - 1), p);
        p += len + (p[len] == ':');
    }
}

static int sockopt(int fd, int opt, int *out)
{
    socklen_t len = sizeof *out;
    return getsockopt(fd, SOL_SOCKET, opt, out, &len);
}

/* The transport of a passed descriptor: SO_DOMAIN and SO_TYPE say which,
 * SO_ACCEPTCONN that a stream socket is a listener (socket(7)). A TCP
 * listener named "tls" (FileDescriptorName=tls in the .socket unit) is
 * adopted as tls://: the name is the one place a unit can say so. */
static int classify(sd_fds_t *f, int i, char *err, size_t cap)
{
    int fd = f->fd[i], domain = 0, type = 0, listening = 0;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, cap, "LISTEN_FDS: descriptor %d: %s", fd, ss_strerror(-errno));
        return errno == EBADF ? EXIT_USAGE : EXIT_OSERR;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, cap, "LISTEN_FDS: descriptor %d is not a socket", fd);
        return EXIT_USAGE;
    }
    if (sockopt(fd, SO_DOMAIN, &domain) < 0 || sockopt(fd, SO_TYPE, &type) < 0 ||
        sockopt(fd, SO_ACCEPTCONN, &listening) < 0) {
        snprintf(err, cap, "LISTEN_FDS: descriptor %d: getsockopt: %s", fd, ss_strerror(-errno));
        return EXIT_OSERR;
    }
    int inet = domain == AF_INET || domain == AF_INET6;
    if ((!inet && domain != AF_UNIX) || (type != SOCK_STREAM && type != SOCK_DGRAM)) {
        snprintf(err, cap,
                 "LISTEN_FDS: descriptor %d is a socket of domain %d, type %d (serve takes "
                 "TCP, UDP, unix stream and datagram sockets)",
                 fd, domain, type);
        return EXIT_USAGE;
    }
    if (type == SOCK_STREAM && !listening) {
        snprintf(err, cap,
                 "LISTEN_FDS: descriptor %d is a connected stream socket, not a listener "
                 "(Accept=yes units want serve --inetd)",
                 fd);
        return EXIT_USAGE;
    }
    if (type == SOCK_STREAM)
        f->transport[i] = !inet ? SS_UNIX : strcmp(f->name[i], "tls") == 0 ? SS_TLS : SS_TCP;
    else
        f->transport[i] = inet ? SS_UDP : SS_UNIXGRAM;
    return 0;
}

/* sd_listen_fds(3) with unset_environment: the variables describe this
 * process only, so they go before any child could read them. */
static void unset_listen_env(void)
{
    /* At start, before any thread. NOLINTBEGIN(concurrency-mt-unsafe) */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    /* NOLINTEND(concurrency-mt-unsafe) */
}

int sd_listen_fds_read(sd_fds_t *f, char *err, size_t cap)
{
    memset(f, 0, sizeof *f);
    const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
    if (!fds) return 0;
    long n = 0, owner = 0;
    if (!pid || env_number(pid, 1, INT_MAX, &owner) < 0) {
        snprintf(err, cap, "LISTEN_PID \"%.20s\" is not a process ID", pid ? pid : "");
        return EXIT_USAGE;
    }
    if (owner != (long)getpid()) return 0; /* meant for another process */
    if (env_number(fds, 0, SD_MAX_FDS, &n) < 0) {
        snprintf(err, cap, "LISTEN_FDS \"%.20s\" is not a count of descriptors (0 to %d)", fds,
                 SD_MAX_FDS);
        return EXIT_USAGE;
    }
    f->n = (int)n;
    read_names(f);
    for (int i = 0; i < f->n; i++) {
        f->fd[i] = SD_LISTEN_FDS_START + i;
        int rc = classify(f, i, err, cap);
        if (rc) return rc;
        /* Ours alone: a fork-mode child or a program a handler runs must
         * not hold the listener open. */
        int fl = fcntl(f->fd[i], F_GETFD);
        if (fl < 0 || fcntl(f->fd[i], F_SETFD, fl | FD_CLOEXEC) < 0) {
            snprintf(err, cap, "LISTEN_FDS: descriptor %d: fcntl: %s", f->fd[i],
                     ss_strerror(-errno));
            return EXIT_OSERR;
        }
    }
    unset_listen_env();
    return 0;
}

/* ------------------------------------------------------------ notify */

static struct {
    int fd;
    struct sockaddr_un addr;
    socklen_t len;
    int64_t watchdog_ms;
    pthread_t thread;
    int thread_running;
    pthread_mutex_t mu;
    pthread_cond_t stop_cv;
    int stop;
} notify = {.fd = -1, .mu = PTHREAD_MUTEX_INITIALIZER, .stop_cv = PTHREAD_COND_INITIALIZER};

/* NOTIFY_SOCKET: an absolute path, or '@' and an abstract name (unix(7):
 * a leading NUL byte, and an address length that counts the name only). */
static int notify_address(const char *text, char *err, size_t cap)
{
    size_t len = strlen(text);
    if ((text[0] != '/' && text[0] != '@') || len < 2 || len >= sizeof notify.addr.sun_path) {
        snprintf(err, cap,
                 "NOTIFY_SOCKET \"%.60s\" is not a unix socket path or @abstract name: "
                 "not notifying",
                 text);
        return -1;
    }
    memset(&notify.addr, 0, sizeof notify.addr);
    notify.addr.sun_family = AF_UNIX;
    memcpy(notify.addr.sun_path, text, len);
    if (text[0] == '@') notify.addr.sun_path[0] = '\0';
    notify.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    return 0;
}

/* WATCHDOG_USEC, for this process only when WATCHDOG_PID says so
 * (sd_watchdog_enabled(3)). */
static void read_watchdog(void)
{
    long usec = 0, pid = 0;
    const char *wpid = getenv("WATCHDOG_PID");
    int ours = !wpid || (env_number(wpid, 1, INT_MAX, &pid) == 0 && pid == (long)getpid());
    if (ours && env_number(getenv("WATCHDOG_USEC"), 1, LONG_MAX, &usec) == 0)
        notify.watchdog_ms = (int64_t)usec / 2000 > 0 ? (int64_t)usec / 2000 : 1;
    unsetenv("WATCHDOG_USEC"); /* NOLINT(concurrency-mt-unsafe): at start, no thread yet */
    unsetenv("WATCHDOG_PID");  /* NOLINT(concurrency-mt-unsafe) */
}

int sd_notify_open(char *err, size_t cap)
{
    const char *text = getenv("NOTIFY_SOCKET");
    if (!text) return 0;
    int rc = notify_address(text, err, cap);
    unsetenv("NOTIFY_SOCKET"); /* NOLINT(concurrency-mt-unsafe): at start, no thread yet */
    if (rc < 0) return -1;
    notify.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (notify.fd < 0) {
        snprintf(err, cap, "NOTIFY_SOCKET: socket: %s: not notifying", ss_strerror(-errno));
        return -1;
    }
    read_watchdog();
    return 0;
}

int sd_notify_enabled(void)
{
    return notify.fd >= 0;
}

int64_t sd_watchdog_ms(void)
{
    return notify.fd >= 0 ? notify.watchdog_ms : 0;
}

static int send_text(const char *text, size_t len)
{
    if (notify.fd < 0) return 0;
    ssize_t n = sendto(notify.fd, text, len, MSG_DONTWAIT | MSG_NOSIGNAL,
                       (const struct sockaddr *)&notify.addr, notify.len);
    return n < 0 ? -errno : 0;
}

int sd_notify_send(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return -EINVAL;
    return send_text(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* The watchdog's thread: WATCHDOG=1 at half the interval systemd waits,
 * on a condition variable so that sd_notify_close() ends it at once. */
static void *watchdog_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&notify.mu);
    while (!notify.stop) {
        struct timespec at;
        clock_gettime(CLOCK_MONOTONIC, &at);
        at.tv_sec += (time_t)(notify.watchdog_ms / 1000);
        at.tv_nsec += (long)(notify.watchdog_ms % 1000) * 1000000L;
        if (at.tv_nsec >= 1000000000L) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000L;
        }
        send_text("WATCHDOG=1", 10);
        while (!notify.stop &&
               pthread_cond_timedwait(&notify.stop_cv, &notify.mu, &at) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&notify.mu);
    return NULL;
}

int sd_watchdog_start(void)
{
    if (sd_watchdog_ms() <= 0 || notify.thread_running) return 0;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_destroy(&notify.stop_cv);
    pthread_cond_init(&notify.stop_cv, &ca);
    pthread_condattr_destroy(&ca);
    /* Running before the mode forks (cli_thread_start). */
    int rc = cli_thread_start(&notify.thread, watchdog_main, NULL);
    if (rc < 0) return rc;
    notify.thread_running = 1;
    return 0;
}

void sd_notify_close(void)
{
    if (notify.thread_running) {
        pthread_mutex_lock(&notify.mu);
        notify.stop = 1;
        pthread_cond_signal(&notify.stop_cv);
        pthread_mutex_unlock(&notify.mu);
        pthread_join(notify.thread, NULL);
        notify.thread_running = 0;
    }
    if (notify.fd >= 0) close(notify.fd);
    notify.fd = -1;
}
