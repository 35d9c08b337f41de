/* privs.c - dropping root after binding (privs.h): looking up the user and
 * group before anything is bound, giving the unix socket files to them, and
 * the drop itself in the order setuid(2) imposes, checked afterwards. */
#include "privs.h"

#include "socketserver.h" /* ss_strerror: thread-safe, unlike strerror(3) */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NSS_BUF 16384 /* getpwnam_r's buffer: far above any real entry */

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && cap) vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* A decimal id ("65534"), or -1 when text is a name. */
static long numeric_id(const char *text)
{
    long v = 0;
    if (!*text) return -1;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9' || v > 0x7fffffffL / 10) return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

static int find_user(const char *text, uid_t *uid, gid_t *gid)
{
    struct passwd pw, *res = NULL;
    char buf[NSS_BUF];
    long id = numeric_id(text);
    int rc = id >= 0 ? getpwuid_r((uid_t)id, &pw, buf, sizeof buf, &res)
                     : getpwnam_r(text, &pw, buf, sizeof buf, &res);
    if (rc != 0 || !res) return -1;
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    return 0;
}

static int find_group(const char *text, gid_t *gid)
{
    struct group gr, *res = NULL;
    char buf[NSS_BUF];
    long id = numeric_id(text);
    int rc = id >= 0 ? getgrgid_r((gid_t)id, &gr, buf, sizeof buf, &res)
                     : getgrnam_r(text, &gr, buf, sizeof buf, &res);
    if (rc != 0 || !res) return -1;
    *gid = gr.gr_gid;
    return 0;
}

int privs_resolve(privs_t *p, const char *user, const char *group, char *err, size_t cap)
{
    memset(p, 0, sizeof *p);
    if (user) {
        if (find_user(user, &p->uid, &p->gid) < 0)
            return fail(err, cap, "--user \"%.40s\": no such user", user);
        p->set_user = p->set_group = 1;
        snprintf(p->name, sizeof p->name, "%s", user);
    }
    if (group) {
        if (find_group(group, &p->gid) < 0)
            return fail(err, cap, "--group \"%.40s\": no such group", group);
        p->set_group = 1;
        if (!user) snprintf(p->name, sizeof p->name, "group %s", group);
    }
    return 0;
}

int privs_wanted(const privs_t *p)
{
    return p->set_user || p->set_group;
}

int privs_give_socket(const privs_t *p, const char *path)
{
    if (!privs_wanted(p)) return 0;
    /* O_PATH | O_NOFOLLOW names the file itself, never a symlink's target,
     * and fchownat on that descriptor changes exactly the inode checked:
     * no window in which the path could be swapped for another file. */
    int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat st;
    int rc = fstat(fd, &st) < 0 ? -errno : 0;
    if (rc == 0 && !S_ISSOCK(st.st_mode)) rc = -EINVAL;
    if (rc == 0 && fchownat(fd, "", p->set_user ? p->uid : (uid_t)-1,
                            p->set_group ? p->gid : (gid_t)-1, AT_EMPTY_PATH) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* In a child that has dropped to the user: may it unlink path? access(2)
 * answers with the real ids, the whole path and any ACL considered; a
 * sticky directory (/tmp) also wants the file or the directory to be ours.
 * Only calls that are safe after fork in a threaded process. */
static int child_may_remove(const privs_t *p, const char *path)
{
    char dir[4096];
    size_t n = strlen(path);
    if (n >= sizeof dir) return 0;
    memcpy(dir, path, n + 1);
    while (n > 0 && dir[n - 1] != '/') n--;
    if (n == 0) {
        dir[0] = '.';
        n = 1;
    } else if (n > 1) {
        n--; /* the slash ending the directory, but keep "/" */
    }
    dir[n] = '\0';
    struct stat d, f;
    if (privs_drop(p, NULL, 0) < 0 || access(dir, W_OK | X_OK) < 0) return 0;
    if (stat(dir, &d) < 0 || lstat(path, &f) < 0) return 0;
    uid_t me = geteuid();
    return !(d.st_mode & S_ISVTX) || me == 0 || f.st_uid == me || d.st_uid == me;
}

int privs_may_remove(const privs_t *p, const char *path)
{
    if (!privs_wanted(p)) return 1;
    pid_t pid = fork();
    if (pid == 0) _exit(child_may_remove(p, path) ? 0 : 1);
    if (pid < 0) return 1; /* cannot tell: no warning */
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return 1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int check_dropped(const privs_t *p, char *err, size_t cap)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0)
        return fail(err, cap, "getresuid: %s", ss_strerror(-errno));
    if (p->set_group && (rg != p->gid || eg != p->gid || sg != p->gid))
        return fail(err, cap, "the group is still %d after setresgid(%d)", (int)eg, (int)p->gid);
    if (p->set_user && (r != p->uid || e != p->uid || s != p->uid))
        return fail(err, cap, "the user is still %d after setresuid(%d)", (int)e, (int)p->uid);
    /* As OpenSSH's permanently_set_uid does: root must be out of reach. */
    if (p->set_user && p->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
        return fail(err, cap, "could become root again after dropping to uid %d", (int)p->uid);
    return 0;
}

/* The message of a failed set*id call: the call, the cause, and the usual
 * reason for EPERM. */
static int drop_failed(char *err, size_t cap, const char *call, long id)
{
    int e = errno;
    return fail(err, cap, "%s(%ld): %s%s", call, id, ss_strerror(-e),
                e == EPERM ? " (dropping privileges needs root)" : "");
}

int privs_drop(const privs_t *p, char *err, size_t cap)
{
    if (!privs_wanted(p)) return 0;
    /* Supplementary groups first (root's would stay otherwise); only root
     * may set them, and a non-root caller has none of root's to lose. */
    if (geteuid() == 0 && setgroups(0, NULL) < 0) return drop_failed(err, cap, "setgroups", 0);
    if (p->set_group && setresgid(p->gid, p->gid, p->gid) < 0)
        return drop_failed(err, cap, "setresgid", (long)p->gid);
    if (p->set_user && setresuid(p->uid, p->uid, p->uid) < 0)
        return drop_failed(err, cap, "setresuid", (long)p->uid);
    return check_dropped(p, err, cap);
}
