/* sock.c - socket creation and options: listeners (with unix socket file
 * care), non-blocking connect, local addresses. Every descriptor is created
 * close-on-exec and non-blocking: waits go through the seam (wait.c). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int ss__set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return ss__errno();
    return 0;
}

static int new_socket(const ss_addr_t *a)
{
    int fd = socket(a->sa.ss_family, ss__sock_type(a->transport) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    return fd < 0 ? ss__errno() : fd;
}

static int setopt(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof value) < 0 ? ss__errno() : 0;
}

int ss__local_addr(int fd, ss_transport_t t, ss_addr_t *out)
{
    memset(out, 0, sizeof *out);
    out->transport = t;
    out->len = sizeof out->sa;
    if (getsockname(fd, (struct sockaddr *)&out->sa, &out->len) < 0) return ss__errno();
    return 0;
}

/* SO_PEERCRED (unix(7)): the credentials the peer had at connect(2), kept
 * by the kernel with the socket; one getsockopt(2). */
int ss__peer_cred(int fd, pid_t *pid, uid_t *uid, gid_t *gid)
{
    struct ucred u;
    socklen_t len = sizeof u;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &u, &len) < 0) return ss__errno();
    if (pid) *pid = u.pid;
    if (uid) *uid = u.uid;
    if (gid) *gid = u.gid;
    return 0;
}

static const char *unix_path(const ss_addr_t *a)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)&a->sa;
    if (a->sa.ss_family != AF_UNIX || un->sun_path[0] == '\0') return NULL;
    return un->sun_path;
}

/* A unix socket file is in the way of bind. If it is a socket no server
 * answers on (connect gets ECONNREFUSED), it is stale: remove it. Anything
 * else (a live server, a regular file, a symlink) is left alone. lstat(2)
 * so a symlink is never followed. */
static int clear_stale_unix(const ss_addr_t *a)
{
    const char *path = unix_path(a);
    struct stat st;
    if (!path || lstat(path, &st) < 0) return 0;
    if (!S_ISSOCK(st.st_mode)) return -EADDRINUSE;
    int fd = socket(AF_UNIX, ss__sock_type(a->transport) | SOCK_CLOEXEC, 0);
    if (fd < 0) return ss__errno();
    int rc = connect(fd, (const struct sockaddr *)&a->sa, a->len);
    int err = errno;
    close(fd);
    if (rc == 0 || err != ECONNREFUSED) return -EADDRINUSE;
    if (unlink(path) < 0 && errno != ENOENT) return ss__errno();
    return 0;
}

static int configure_listener(int fd, const ss_addr_t *a, const ss_config_t *cfg)
{
    int rc = 0;
    int fam = a->sa.ss_family;
    /* SO_REUSEADDR lets a restarted server bind while old connections sit
     * in TIME_WAIT (Stevens, UNP 7.5). Only for TCP: on UDP it would let two
     * servers share a port. */
    if (ss__is_tcp(a->transport)) rc = setopt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (rc == 0 && cfg->reuse_port && fam != AF_UNIX) rc = setopt(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    /* An IPv6 listener serves IPv6 only; listen on an IPv4 address too for
     * both, so that "[::]" never silently means two families. */
    if (rc == 0 && fam == AF_INET6) rc = setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    return rc;
}

static int bind_unix(int fd, const ss_addr_t *a)
{
    int rc = bind(fd, (const struct sockaddr *)&a->sa, a->len);
    if (rc < 0 && errno == EADDRINUSE && unix_path(a)) {
        int c = clear_stale_unix(a);
        if (c < 0) return c;
        rc = bind(fd, (const struct sockaddr *)&a->sa, a->len);
    }
    return rc < 0 ? ss__errno() : 0;
}

/* Gives the socket file bind(2) just created the mode asked for (0: leave
 * the umask's), before listen(2): until then a stream client's connect(2) is
 * refused, so none connects under the wrong mode. By path, not with
 * fchmod(2) on the descriptor: on Linux that changes the socket's inode in
 * sockfs and returns 0, but not the file's mode, which is what connect(2)
 * and sendto(2) check (unix(7), "Pathname socket ownership and
 * permissions"; POSIX leaves fchmod on a socket unspecified). And with
 * AT_SYMLINK_NOFOLLOW (fchmodat(2)): should the file have been swapped for a
 * symbolic link since bind, it is refused rather than followed, so a server
 * running as root never changes another file's mode. */
static int chmod_socket_file(const char *path, unsigned mode)
{
    if (!path || mode == 0) return 0;
    return fchmodat(AT_FDCWD, path, (mode_t)mode, AT_SYMLINK_NOFOLLOW) < 0 ? ss__errno() : 0;
}

int ss__listen_socket(const ss_addr_t *a, const ss_config_t *cfg, ss_addr_t *bound)
{
    char text[SS_ADDRSTRLEN];
    ss_addr_format(a, text, sizeof text);
    int fd = new_socket(a);
    if (fd < 0) return ss__fail(fd, "socket %s", text);
    int rc = configure_listener(fd, a, cfg);
    if (rc < 0) {
        close(fd);
        return ss__fail(rc, "setsockopt %s", text);
    }
    if (a->sa.ss_family == AF_UNIX)
        rc = bind_unix(fd, a);
    else
        rc = bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0 ? ss__errno() : 0;
    if (rc < 0) {
        close(fd);
        return ss__fail(rc, "bind %s", text);
    }
    const char *path = unix_path(a);
    /* The file bind made, so that a failure below removes that file only
     * (ss__unlink_unix), never one that replaced it meanwhile. */
    struct stat made;
    int ours = path && lstat(path, &made) == 0 && S_ISSOCK(made.st_mode);
    const char *op = "chmod";
    rc = chmod_socket_file(path, cfg->unix_mode);
    if (rc == 0) op = "listen";
    if (rc == 0 && !ss__is_dgram(a->transport) && listen(fd, cfg->backlog) < 0) rc = ss__errno();
    if (rc == 0) rc = ss__local_addr(fd, a->transport, bound);
    if (rc < 0) {
        if (ours) (void)ss__unlink_unix(a, made.st_dev, made.st_ino);
        close(fd);
        return ss__fail(rc, "%s %s", op, text);
    }
    return fd;
}

int ss__unlink_unix(const ss_addr_t *a, dev_t dev, ino_t ino)
{
    const char *path = unix_path(a);
    struct stat st;
    if (!path) return 0;
    if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : ss__errno();
    /* Only the file we bound: a later server may have replaced it. */
    if (S_ISSOCK(st.st_mode) && st.st_dev == dev && st.st_ino == ino && unlink(path) < 0 &&
        errno != ENOENT)
        return ss__errno();
    return 0;
}

static int connect_result(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return ss__errno();
    return -err;
}

/* Linux autobind (unix(7)): binding with only the family gives the socket a
 * unique abstract name, so a unixgram server has an address to reply to.
 * The length covers the family alone, but the whole sockaddr_un is zeroed:
 * valgrind reads sun_path as a string whatever the length says. */
static int autobind_unixgram(int fd)
{
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    return bind(fd, (const struct sockaddr *)&un, sizeof(sa_family_t)) < 0 ? ss__errno() : 0;
}

int ss__connect(const ss_addr_t *a, int64_t deadline)
{
    int fd = new_socket(a);
    if (fd < 0) return fd;
    int rc = 0;
    if (a->transport == SS_UNIXGRAM) rc = autobind_unixgram(fd);
    if (rc == 0 && connect(fd, (const struct sockaddr *)&a->sa, a->len) < 0) {
        rc = ss__errno();
        /* Non-blocking connect: wait for writability, then read SO_ERROR
         * (connect(2), EINPROGRESS). A unix stream socket whose backlog is
         * full says EAGAIN instead: wait and retry the connect. */
        while (rc == -EINPROGRESS || rc == -EINTR) {
            rc = ss__wait(fd, POLLOUT, deadline, ss__ctx_get()->cancel_fd);
            if (rc == 0) rc = connect_result(fd);
        }
        /* A unix stream socket whose listener's backlog is full says EAGAIN
         * and cannot be polled for it: retry a few milliseconds later. */
        while (rc == -EAGAIN && a->sa.ss_family == AF_UNIX) {
            int64_t t = ss__min_deadline(deadline, ss_now_ms() + 5);
            rc = ss__wait(-1, 0, t, ss__ctx_get()->cancel_fd);
            if (rc == -ETIMEDOUT && (deadline <= 0 || ss_now_ms() < deadline)) rc = 0;
            if (rc == 0)
                rc = connect(fd, (const struct sockaddr *)&a->sa, a->len) < 0 ? ss__errno() : 0;
        }
    }
    if (rc < 0) {
        ss__fd_closing(fd);
        close(fd);
        return rc;
    }
    return fd;
}
