/* privs.c - dropping root after binding (privs.h): looking up the user and
 * group before anything is bound, giving the unix socket files to them, and
 * the drop itself, in the order setuid(2) imposes, checked afterwards.
 *
 * The order: supplementary groups, then the group, then the user. Each of
 * the first two needs privilege (setgroups(2), setgid(2): CAP_SETGID), which
 * setuid(2) from root to another user takes away for good, so the user goes
 * last. Supplementary groups are replaced even with --group alone, or root's
 * (0 and whatever it is in) would stay. With --user they become the user's
 * own, as initgroups(3) sets them. initgroups is done here in its two halves:
 * getgrouplist(3), the lookup (it reads /etc/group or asks NSS, perhaps
 * over the network), at start, before anything is bound, so that its
 * failures come early; setgroups(2) at the drop, which then makes system
 * calls only (also safe in privs_may_remove's forked child). setresgid(2)
 * and setresuid(2) set the real, effective and saved IDs at once, leaving no
 * saved root ID to go back to (setuid(2) as root does the same, but only as
 * root); that root is out of reach is then checked, as OpenSSH's
 * permanently_set_uid does. */
#include "privs.h"

#include "cli.h"
#include "socketserver.h" /* ss_strerror: thread-safe, unlike strerror(3) */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NSS_MIN 1024      /* getpwnam_r's first buffer; ERANGE doubles it */
#define NSS_MAX (1 << 22) /* a group of some 100000 members still fits */

static int fail(char *err, size_t cap, const char *fmt, ...) SS_PRINTF(3, 4);

static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && cap) vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* ------------------------------------------------------------ lookups */

/* A decimal ID ("65534"), or -1 for anything else. (uid_t)-1 is no ID:
 * setresuid(2) reads it as "unchanged". */
static long long numeric_id(const char *text)
{
    long long v = 0;
    if (!*text) return -1;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
        if (v >= 0xffffffffLL) return -1;
    }
    return v;
}

/* The ways getpwnam_r(3) and its kin say "no such entry" (RETURN VALUE):
 * 0 with no entry, or one of these errors. */
static int not_found(int rc)
{
    return rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM;
}

typedef struct nss_buf {
    char *p;
    size_t cap;
} nss_buf;

/* The buffer's size is known only from ERANGE: each turn doubles it.
 * Returns 0 or an errno value. */
static int nss_grow(nss_buf *b)
{
    size_t cap = b->cap ? b->cap * 2 : NSS_MIN;
    if (cap > NSS_MAX) return ERANGE;
    char *p = realloc(b->p, cap);
    if (!p) return ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* By name, then, for a number, by ID: a user named "100" is that user, as
 * chown(1) has it. Returns 0 (*res NULL: no such user) or an errno value. */
static int get_user(const char *text, struct passwd *pw, nss_buf *b, struct passwd **res)
{
    long long id = numeric_id(text);
    int rc = ERANGE;
    *res = NULL;
    while (rc == ERANGE && (rc = nss_grow(b)) == 0) {
        rc = getpwnam_r(text, pw, b->p, b->cap, res);
        if (!*res && not_found(rc) && id >= 0) rc = getpwuid_r((uid_t)id, pw, b->p, b->cap, res);
    }
    return *res || not_found(rc) ? 0 : rc;
}

static int get_group(const char *text, struct group *gr, nss_buf *b, struct group **res)
{
    long long id = numeric_id(text);
    int rc = ERANGE;
    *res = NULL;
    while (rc == ERANGE && (rc = nss_grow(b)) == 0) {
        rc = getgrnam_r(text, gr, b->p, b->cap, res);
        if (!*res && not_found(rc) && id >= 0) rc = getgrgid_r((gid_t)id, gr, b->p, b->cap, res);
    }
    return *res || not_found(rc) ? 0 : rc;
}

/* The supplementary groups initgroups(3) would give user with group gid:
 * gid and every group that lists the user (getgrouplist(3), which says how
 * many there are when the array is too small). Returns 0 or an errno. */
static int user_groups(privs_t *p, const char *user)
{
    long max = sysconf(_SC_NGROUPS_MAX);
    int n = 16;
    for (;;) {
        gid_t *g = realloc(p->groups, (size_t)n * sizeof *g);
        if (!g) return ENOMEM;
        p->groups = g;
        int want = n;
        if (getgrouplist(user, p->gid, g, &want) >= 0) {
            p->ngroups = want;
            return 0;
        }
        if (want <= n) return EIO;               /* it did not say how many */
        if (max > 0 && want > max) return E2BIG; /* more than setgroups(2) takes */
        n = want;
    }
}

/* --user: its IDs, and its name for getgrouplist (strdup'ed into *login:
 * --user may have been a number). */
static int resolve_user(privs_t *p, const char *user, char **login, char *err, size_t cap)
{
    struct passwd pw, *res;
    nss_buf b = {NULL, 0};
    int rc = get_user(user, &pw, &b, &res);
    if (rc == 0 && res) {
        p->uid = pw.pw_uid;
        p->gid = pw.pw_gid;
        if (!(*login = strdup(pw.pw_name))) rc = ENOMEM;
    }
    if (rc) fail(err, cap, "--user \"%.40s\": looking it up: %s", user, ss_strerror(-rc));
    if (rc == 0 && !res) fail(err, cap, "--user \"%.40s\": no such user", user);
    free(b.p);
    return rc ? EXIT_OSERR : res ? 0 : EXIT_NOUSER;
}

static int resolve_group(privs_t *p, const char *group, char *err, size_t cap)
{
    struct group gr, *res;
    nss_buf b = {NULL, 0};
    int rc = get_group(group, &gr, &b, &res);
    if (rc == 0 && res) p->gid = gr.gr_gid;
    if (rc) fail(err, cap, "--group \"%.40s\": looking it up: %s", group, ss_strerror(-rc));
    if (rc == 0 && !res) fail(err, cap, "--group \"%.40s\": no such group", group);
    free(b.p);
    return rc ? EXIT_OSERR : res ? 0 : EXIT_NOUSER;
}

/* The user's groups, once the group is known (--group's or the user's). */
static int resolve_groups(privs_t *p, const char *user, const char *login, char *err, size_t cap)
{
    int rc = user_groups(p, login);
    if (rc) fail(err, cap, "--user \"%.40s\": its groups: %s", user, ss_strerror(-rc));
    return rc ? EXIT_OSERR : 0;
}

int privs_resolve(privs_t *p, const char *user, const char *group, char *err, size_t cap)
{
    memset(p, 0, sizeof *p);
    char *login = NULL;
    int rc = 0;
    if (user) rc = resolve_user(p, user, &login, err, cap);
    if (rc == 0 && group) rc = resolve_group(p, group, err, cap);
    if (rc == 0 && user) rc = resolve_groups(p, user, login, err, cap);
    free(login);
    if (rc) return rc;
    p->set_user = user != NULL;
    p->set_group = user || group;
    snprintf(p->name, sizeof p->name, "%s%.40s%s%s%.40s", user ? "user " : "", user ? user : "",
             user && group ? ", " : "", group ? "group " : "", group ? group : "");
    return 0;
}

void privs_release(privs_t *p)
{
    free(p->groups);
    p->groups = NULL;
    p->ngroups = 0;
}

int privs_wanted(const privs_t *p)
{
    return p->set_user || p->set_group;
}

/* ------------------------------------------------------------ checks */

static int in_list(gid_t g, const gid_t *list, int n)
{
    for (int i = 0; i < n; i++)
        if (list[i] == g) return 1;
    return 0;
}

/* Whether every supplementary group of the process is one of p's (none for
 * --group alone). */
static int groups_within(const privs_t *p)
{
    int n = getgroups(0, NULL);
    if (n <= 0) return n == 0;
    gid_t *g = malloc((size_t)n * sizeof *g);
    int ok = g && (n = getgroups(n, g)) >= 0;
    for (int i = 0; ok && i < n; i++) ok = in_list(g[i], p->groups, p->ngroups);
    free(g);
    return ok;
}

/* Whether the process already runs as p asks (all three IDs, and for --user
 * no group beyond the user's): then a caller without root has nothing to
 * change, and the drop only sets what already is. */
static int already(const privs_t *p)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0) return 0;
    if (p->set_user && (r != p->uid || e != p->uid || s != p->uid)) return 0;
    if (p->set_group && (rg != p->gid || eg != p->gid || sg != p->gid)) return 0;
    return !p->set_user || groups_within(p);
}

int privs_check(const privs_t *p, char *err, size_t cap)
{
    if (!privs_wanted(p) || geteuid() == 0 || already(p)) return 0;
    fail(err, cap, "switching to %s needs root (running as uid %d, gid %d)", p->name,
         (int)geteuid(), (int)getegid());
    return EXIT_NOPERM;
}

/* After the drop: the IDs are those asked for, no group beyond them is
 * left, and when root dropped to another user, root is out of reach. */
static int check_dropped(const privs_t *p, int was_root, char *err, size_t cap)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0)
        return fail(err, cap, "getresuid: %s", ss_strerror(-errno));
    if (p->set_group && (rg != p->gid || eg != p->gid || sg != p->gid))
        return fail(err, cap, "the group is still %d after setresgid(%d)", (int)eg, (int)p->gid);
    if (p->set_user && (r != p->uid || e != p->uid || s != p->uid))
        return fail(err, cap, "the user is still %d after setresuid(%d)", (int)e, (int)p->uid);
    if (was_root && !groups_within(p))
        return fail(err, cap, "supplementary groups beyond %s's are left", p->name);
    if (!was_root || !p->set_user || p->uid == 0) return 0;
    if (setuid(0) == 0 || seteuid(0) == 0)
        return fail(err, cap, "could become root again after dropping to uid %d", (int)p->uid);
    if (p->gid != 0 && (setgid(0) == 0 || setegid(0) == 0))
        return fail(err, cap, "could take group 0 again after dropping to gid %d", (int)p->gid);
    return 0;
}

/* The message of a failed set*id call, and its exit status: EPERM is a
 * lack of privilege (EXIT_NOPERM), anything else a system error. */
static int drop_failed(char *err, size_t cap, const char *call, long id)
{
    int e = errno;
    fail(err, cap, "%s(%ld): %s%s", call, id, ss_strerror(-e),
         e == EPERM ? " (dropping privileges needs root)" : "");
    return e == EPERM ? EXIT_NOPERM : EXIT_OSERR;
}

int privs_drop(const privs_t *p, char *err, size_t cap)
{
    if (!privs_wanted(p)) return 0;
    int was_root = geteuid() == 0;
    /* Without root, privs_check found that nothing is to change: the calls
     * below then set what already is, and setgroups is root's alone. */
    int n = p->set_user ? p->ngroups : 0;
    if (was_root && setgroups((size_t)n, n ? p->groups : NULL) < 0)
        return drop_failed(err, cap, "setgroups", n);
    if (p->set_group && setresgid(p->gid, p->gid, p->gid) < 0)
        return drop_failed(err, cap, "setresgid", (long)p->gid);
    if (p->set_user && setresuid(p->uid, p->uid, p->uid) < 0)
        return drop_failed(err, cap, "setresuid", (long)p->uid);
    return check_dropped(p, was_root, err, cap) < 0 ? EXIT_OSERR : 0;
}

/* ------------------------------------------------------------ socket files */

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
 * The server has no other thread yet (the drop precedes serving), so the
 * child may call anything. */
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
    if (privs_drop(p, NULL, 0) != 0 || access(dir, W_OK | X_OK) < 0) return 0;
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
