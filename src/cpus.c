/* cpus.c - how many CPUs the process may use: its affinity mask, lowered to
 * its cgroup's CPU quota (found through /proc/self/cgroup and mountinfo); the
 * loop and worker counts that follow from it; and the pinning of event loops
 * and prefork workers to CPUs (ss_config_t.cpu_affinity). */
#include "internal.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PATH_CAP    1024            /* a cgroup path; kubepods' are near 250 bytes */
#define LINE_CAP    1024            /* a line of /proc/self/cgroup or mountinfo */
#define USEC_MAX    1000000000000LL /* 11.6 days: quotas saturate here, so products fit */
#define MIN_WORKERS 4
#define NBITS       (SS_CPU_LIST_WORDS * 64)

/* cpu_list covers what a cpu_set_t does. */
_Static_assert(NBITS == CPU_SETSIZE, "cpu_list and cpu_set_t differ");

/* ------------------------------------------------------------ reading */

/* Reads a small file (cpu.max, cpu.cfs_*) into buf, NUL-terminated, its
 * first line only. Returns 0, or a negative errno (-ENOENT: no such file,
 * as in a root group, which has no limit files). */
static int read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ss__errno();
    ssize_t n = read(fd, buf, cap - 1);
    int err = n < 0 ? ss__errno() : 0;
    close(fd);
    if (err) return err;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* A decimal count, strict (digits only), saturating at USEC_MAX so that
 * two of them multiply without overflow. Returns 0, or -1 for garbage. */
static int parse_usec(const char *s, int64_t *out)
{
    int64_t v = 0;
    if (!*s) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v >= USEC_MAX ? USEC_MAX : v * 10 + (*s - '0');
    }
    *out = v > USEC_MAX ? USEC_MAX : v;
    return 0;
}

/* Reads the next line of f into buf without its newline. A line longer than
 * buf (an overlay mount's options) is skipped whole: none we look for is
 * that long. Returns 1, or 0 at the end. */
static int next_line(FILE *f, char *buf, size_t cap)
{
    while (fgets(buf, (int)cap, f)) {
        size_t n = strcspn(buf, "\n");
        if (buf[n] == '\n' || feof(f)) {
            buf[n] = '\0';
            return 1;
        }
        int ch = 0;
        while (ch != EOF && ch != '\n') ch = fgetc(f);
    }
    return 0;
}

static FILE *open_under(const char *root, const char *name, char *path, size_t cap)
{
    snprintf(path, cap, "%s%s", root, name);
    return fopen(path, "re");
}

/* ------------------------------------------------------ the cgroup path */

/* Where the process is in each hierarchy: cgroups(7), /proc/[pid]/cgroup,
 * lines "ID:CONTROLLERS:PATH"; cgroup v2's is "0::PATH". */
typedef struct groups {
    char v1[PATH_CAP]; /* the hierarchy with the cpu controller; "" none */
    char v2[PATH_CAP]; /* the unified hierarchy; "" none */
} groups;

/* Whether a comma-separated list ("cpu,cpuacct", "rw,cpu") has "cpu". */
static int names_cpu(const char *list)
{
    size_t n = strlen(list);
    for (const char *p = list; p < list + n; p += strcspn(p, ",") + 1)
        if (strcspn(p, ",") == 3 && strncmp(p, "cpu", 3) == 0) return 1;
    return 0;
}

/* One line of /proc/self/cgroup into g. Returns 0, or -1 for garbage. */
static int group_line(char *line, groups *g)
{
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || c2[1] != '/' || strlen(c2 + 1) >= PATH_CAP) return -1;
    *c1 = *c2 = '\0';
    if (strcmp(line, "0") == 0 && c1[1] == '\0') snprintf(g->v2, PATH_CAP, "%s", c2 + 1);
    if (names_cpu(c1 + 1)) snprintf(g->v1, PATH_CAP, "%s", c2 + 1);
    return 0;
}

/* Returns 1 when the process is in some hierarchy, 0 when the file is
 * missing (no /proc), -1 for garbage (why says so). */
static int own_groups(const char *root, groups *g, char *why, size_t cap)
{
    char path[PATH_CAP], line[LINE_CAP];
    FILE *f = open_under(root, "/proc/self/cgroup", path, sizeof path);
    g->v1[0] = g->v2[0] = '\0';
    if (!f) return 0;
    int rc = 1;
    while (rc == 1 && next_line(f, line, sizeof line))
        if (group_line(line, g) < 0) rc = -1;
    fclose(f);
    if (rc < 0) snprintf(why, cap, "%s: a line is not \"ID:CONTROLLERS:/PATH\"", path);
    return rc;
}

/* ------------------------------------------------------ the mount point */

/* Undoes mountinfo's octal escapes (a space is "\040"), in place. */
static void unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

/* A mount of the hierarchy: its root (the group mounted there) and its
 * mount point, both as mountinfo shows them, unescaped. */
typedef struct mount {
    char *root, *point;
} mount;

/* Splits one line of mountinfo (proc(5): "ID PARENT MAJ:MIN ROOT POINT
 * OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER") in place. Returns 1 if it
 * mounts the hierarchy wanted (v1: a "cgroup" whose super options name the
 * cpu controller; v2: "cgroup2"), 0 for another, -1 for garbage. */
static int mount_line(char *line, int v1, mount *m)
{
    char *tok[32], *save = NULL;
    int n = 0, dash = -1;
    for (char *t = strtok_r(line, " ", &save); t && n < 32; t = strtok_r(NULL, " ", &save)) {
        if (dash < 0 && n >= 6 && strcmp(t, "-") == 0) dash = n;
        tok[n++] = t;
    }
    if (dash < 0 && n == 32) return 0; /* optional fields beyond counting: not ours */
    if (dash < 0 || n < dash + 4) return -1;
    const char *type = tok[dash + 1];
    int wanted =
        v1 ? strcmp(type, "cgroup") == 0 && names_cpu(tok[dash + 3]) : strcmp(type, "cgroup2") == 0;
    if (!wanted) return 0;
    unescape(tok[3]);
    unescape(tok[4]);
    m->root = tok[3];
    m->point = tok[4];
    return 1;
}

/* The path of group below a mount whose root is mroot: "" for the root
 * itself, NULL when the group is not under that mount (another bind mount
 * of the hierarchy may hold it). */
static const char *below(const char *group, const char *mroot)
{
    size_t n = strlen(mroot);
    if (strcmp(mroot, "/") == 0) return strcmp(group, "/") == 0 ? "" : group;
    if (strncmp(group, mroot, n) != 0 || (group[n] != '\0' && group[n] != '/')) return NULL;
    return group + n;
}

/* The directory of a group and how much of it is the mount point, above
 * which the walk up the hierarchy stops. */
typedef struct hier {
    int v1;
    char dir[PATH_CAP * 2];
    size_t top;
} hier;

/* h->dir: root, the mount point, then the group's path below the mount.
 * Returns 1, or 0 when it does not fit (a limit we cannot see). */
static int set_dir(hier *h, const char *root, const char *point, const char *rest)
{
    int n = snprintf(h->dir, sizeof h->dir, "%s%s", root, strcmp(point, "/") ? point : "");
    if (n < 0 || (size_t)n >= sizeof h->dir) return 0;
    h->top = (size_t)n;
    n = snprintf(h->dir + h->top, sizeof h->dir - h->top, "%s", rest);
    return n >= 0 && (size_t)n < sizeof h->dir - h->top;
}

/* Finds the mount of h->v1's hierarchy that holds group and sets h->dir to
 * the group's directory under root. Returns 1, 0 when there is none (no
 * cgroup file system, or the group is outside what is mounted: a limit we
 * cannot see), -1 for garbage. */
static int find_dir(const char *root, const char *group, hier *h, char *why, size_t cap)
{
    char path[PATH_CAP], line[LINE_CAP];
    FILE *f = open_under(root, "/proc/self/mountinfo", path, sizeof path);
    if (!f) return 0;
    int rc = 0;
    mount m;
    while (rc == 0 && next_line(f, line, sizeof line)) {
        rc = mount_line(line, h->v1, &m);
        const char *rest = rc == 1 ? below(group, m.root) : NULL;
        if (rc == 1 && !rest) rc = 0;
        if (rc == 1) rc = set_dir(h, root, m.point, rest);
    }
    fclose(f);
    if (rc < 0) snprintf(why, cap, "%s: a line without \" - FSTYPE SOURCE OPTIONS\"", path);
    return rc;
}

/* ---------------------------------------------------------- the limit */

/* cgroup v2's cpu.max: "QUOTA PERIOD" in microseconds, QUOTA "max" for no
 * limit (the kernel's Documentation/admin-guide/cgroup-v2.rst, "CPU
 * Interface Files"). Returns 1 with the limit, 0 for none, -1 for garbage. */
static int parse_cpu_max(const char *text, int64_t *quota, int64_t *period)
{
    char q[32];
    const char *sp = strchr(text, ' ');
    if (!sp || sp == text || (size_t)(sp - text) >= sizeof q) return -1;
    memcpy(q, text, (size_t)(sp - text));
    q[sp - text] = '\0';
    if (parse_usec(sp + 1, period) < 0 || *period == 0) return -1;
    if (strcmp(q, "max") == 0) return 0;
    return parse_usec(q, quota) < 0 || *quota == 0 ? -1 : 1;
}

/* cgroup v1's CFS bandwidth files (the kernel's
 * Documentation/scheduler/sched-bwc.rst): cpu.cfs_quota_us, -1 for no
 * limit, over cpu.cfs_period_us. Same returns as parse_cpu_max. */
static int parse_cfs(const char *quota_text, const char *period_text, int64_t *quota,
                     int64_t *period)
{
    if (parse_usec(period_text, period) < 0 || *period == 0) return -1;
    if (strcmp(quota_text, "-1") == 0) return 0;
    return parse_usec(quota_text, quota) < 0 || *quota == 0 ? -1 : 1;
}

/* The limit set on the group at h->dir: 1, 0 (none, or no files: the root
 * group has none), -1 for garbage with why naming the file. */
static int group_limit(const hier *h, int64_t *quota, int64_t *period, char *why, size_t cap)
{
    char path[PATH_CAP * 2 + 32], qt[64], pt[64] = "";
    snprintf(path, sizeof path, "%s/%s", h->dir, h->v1 ? "cpu.cfs_quota_us" : "cpu.max");
    if (read_small(path, qt, sizeof qt) < 0) return 0;
    if (h->v1) {
        char p2[sizeof path];
        snprintf(p2, sizeof p2, "%s/cpu.cfs_period_us", h->dir);
        if (read_small(p2, pt, sizeof pt) < 0) return 0;
    }
    int rc = h->v1 ? parse_cfs(qt, pt, quota, period) : parse_cpu_max(qt, quota, period);
    if (rc < 0) snprintf(why, cap, "%s: \"%.40s\" is not a quota", path, qt);
    return rc;
}

/* Walks from the group up to the mount point: a group's quota bounds every
 * group below it, so the smallest on the way is the process's (cgroups(7)).
 * Returns 1 with the smallest, 0 when none has a limit, -1 for garbage. */
static int walk_up(hier *h, int64_t *quota, int64_t *period, char *why, size_t cap)
{
    int found = 0;
    for (;;) {
        int64_t q = 0, p = 1;
        int rc = group_limit(h, &q, &p, why, cap);
        if (rc < 0) return -1;
        if (rc > 0 && (!found || q * *period < *quota * p)) {
            *quota = q;
            *period = p;
            found = 1;
        }
        char *slash = strrchr(h->dir + h->top, '/');
        if (!slash) return found;
        *slash = '\0';
    }
}

/* Tries one hierarchy (v1 or v2) for the process in group; *mounted says
 * whether it is mounted where we can see the group. */
static int quota_in(const char *root, int v1, const char *group, int64_t *quota, int64_t *period,
                    int *mounted, char *why, size_t cap)
{
    hier h = {.v1 = v1};
    int rc = find_dir(root, group, &h, why, cap);
    *mounted = rc > 0;
    return rc <= 0 ? rc : walk_up(&h, quota, period, why, cap);
}

int ss__cgroup_quota(const char *root, int64_t *quota, int64_t *period, char *why, size_t cap)
{
    groups g;
    int mounted = 0, rc = own_groups(root, &g, why, cap);
    if (rc <= 0) return rc < 0 ? -EINVAL : 0;
    /* Hybrid systems mount v1 controllers and an empty v2 hierarchy too: a
     * controller is in one hierarchy at a time, so v1's cpu, when mounted,
     * is the one that limits, and v2 is read only without it. */
    rc = 0;
    if (g.v1[0]) rc = quota_in(root, 1, g.v1, quota, period, &mounted, why, cap);
    if (rc == 0 && !mounted && g.v2[0])
        rc = quota_in(root, 0, g.v2, quota, period, &mounted, why, cap);
    return rc < 0 ? -EINVAL : rc;
}

/* ------------------------------------------------------------ the count */

static void set_why(ss__cpus *out, const char *fmt, ...) SS_PRINTF(2, 3);
static void set_why(ss__cpus *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->why, sizeof out->why, fmt, ap);
    va_end(ap);
}

/* SS_CPUS, when it is a count, is the answer. Returns 1 then. */
static int from_env(const char *env, ss__cpus *out)
{
    int64_t v = 0;
    if (!env || !*env) return 0;
    if (parse_usec(env, &v) < 0 || v < 1 || v > SS__WORKERS_MAX) {
        snprintf(out->note, sizeof out->note, "SS_CPUS=\"%.40s\" ignored: not a count from 1 to %d",
                 env, SS__WORKERS_MAX);
        return 0;
    }
    out->n = (int)v;
    set_why(out, "SS_CPUS=%d", out->n);
    return 1;
}

void ss__cpus_probe(const char *root, const char *env, int allowed, ss__cpus *out)
{
    memset(out, 0, sizeof *out);
    if (from_env(env, out)) return;
    out->n = allowed > 0 ? allowed : 1;
    set_why(out, "%d CPU%s in the affinity mask", out->n, out->n == 1 ? "" : "s");
    int64_t q = 0, p = 1;
    char why[sizeof out->note - 40];
    int rc = ss__cgroup_quota(root, &q, &p, why, sizeof why);
    if (rc < 0) snprintf(out->note, sizeof out->note, "cgroup CPU quota ignored: %s", why);
    if (rc <= 0 || (q + p - 1) / p >= out->n) return;
    /* A quota of 0.5 CPU still needs one loop: rounded up, as Go 1.25 sizes
     * GOMAXPROCS and nginx's worker_processes auto does under a quota. */
    out->n = (int)((q + p - 1) / p);
    set_why(out, "cgroup CPU quota %.3g", (double)q / (double)p);
}

int ss__cpus_allowed(uint64_t mask[SS_CPU_LIST_WORDS])
{
    cpu_set_t set;
    int n = 0;
    memset(mask, 0, SS_CPU_LIST_WORDS * sizeof *mask);
    CPU_ZERO(&set);
    /* EINVAL: the kernel's mask is wider than a cpu_set_t (more than 1024
     * CPUs, sched_getaffinity(2)); the online count stands in for it. */
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int c = 0; c < NBITS; c++)
            if (CPU_ISSET(c, &set)) {
                mask[c / 64] |= UINT64_C(1) << (c % 64);
                n++;
            }
    if (n > 0) return n;
    long on = sysconf(_SC_NPROCESSORS_ONLN);
    n = on < 1 ? 1 : on > NBITS ? NBITS : (int)on;
    for (int c = 0; c < n; c++) mask[c / 64] |= UINT64_C(1) << (c % 64);
    return n;
}

void ss__cpus_get(ss__cpus *out)
{
    uint64_t mask[SS_CPU_LIST_WORDS];
    /* Read once per server start, before any thread of the server runs;
     * nothing in the library sets the environment.
     * NOLINTNEXTLINE(concurrency-mt-unsafe) */
    ss__cpus_probe("", getenv("SS_CPUS"), ss__cpus_allowed(mask), out);
}

int ss__scaled(ss_server_t *s, const char *what, const char *unit, int per_cpu, int min, int max)
{
    int n = s->cfg.workers;
    if (n > 0) {
        n = n > max ? max : n;
        ss__log(s, SS_LOG_INFO, "%s: %d %s%s: set by workers", what, n, unit, n == 1 ? "" : "s");
        return n;
    }
    ss__cpus c;
    ss__cpus_get(&c);
    if (c.note[0]) ss__log(s, SS_LOG_DEBUG, "%s", c.note);
    long v = (long)c.n * per_cpu;
    n = v < min ? min : v > max ? max : (int)v;
    if (per_cpu == 1)
        ss__log(s, SS_LOG_INFO, "%s: %d %s%s: %s", what, n, unit, n == 1 ? "" : "s", c.why);
    else
        ss__log(s, SS_LOG_INFO, "%s: %d %ss, %d per CPU, at least %d: %s", what, n, unit, per_cpu,
                min, c.why);
    return n;
}

/* Blocking workers spend most of a request waiting for the peer, so a few
 * per CPU keep the CPUs busy; a handler that computes gains nothing from
 * more. Four per CPU is that compromise, and it scales with the CPUs the
 * process may use (a container limited to one CPU gets 4, not 4 per core of
 * the node). The floor of 4 stays: it is about waiting, not computing, so a
 * one-CPU server still serves a few slow clients at once. Long idle
 * sessions want more, and say so with workers. */
int ss__workers(ss_server_t *s, const char *what)
{
    if (s->cfg.workers > SS__WORKERS_MAX)
        return ss__fail(-EINVAL, "config: workers %d above %d", s->cfg.workers, SS__WORKERS_MAX);
    return ss__scaled(s, what, "worker", SS__WORKERS_PER_CPU, MIN_WORKERS, SS__WORKERS_MAX);
}

/* ------------------------------------------------------------- pinning */

static int bit(const uint64_t *mask, int c)
{
    return (int)(mask[c / 64] >> (c % 64) & 1);
}

/* "0-3,6": a mask as a CPU list, for messages (truncated to fit). */
static void list_text(const uint64_t *mask, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int c = 0; c < NBITS && used < cap; c++) {
        if (!bit(mask, c)) continue;
        int e = c;
        while (e + 1 < NBITS && bit(mask, e + 1)) e++;
        int k = e > c ? snprintf(buf + used, cap - used, "%s%d-%d", used ? "," : "", c, e)
                      : snprintf(buf + used, cap - used, "%s%d", used ? "," : "", c);
        used += k > 0 ? (size_t)k : 0;
        c = e;
    }
}

/* A list may name only CPUs the process may use: pinning a loop to another
 * would either fail (a cpuset forbids it: EINVAL from sched_setaffinity(2))
 * or leave the mask the operator gave with taskset. */
static int check_list(const uint64_t *list, const uint64_t *allowed)
{
    for (int c = 0; c < NBITS; c++) {
        if (!bit(list, c) || bit(allowed, c)) continue;
        char may[128];
        list_text(allowed, may, sizeof may);
        return ss__fail_plain(-EINVAL,
                              "config: cpu_list names CPU %d, which this process may not use "
                              "(it may use %s)",
                              c, may);
    }
    return 0;
}

int ss__pin_plan(ss_server_t *s)
{
    const ss_config_t *c = &s->cfg;
    uint64_t allowed[SS_CPU_LIST_WORDS];
    memset(s->pin, 0, sizeof s->pin);
    s->npin = 0;
    if (c->cpu_affinity == SS_CPU_AFFINITY_NONE) return 0;
    if (c->cpu_affinity != SS_CPU_AFFINITY_AUTO && c->cpu_affinity != SS_CPU_AFFINITY_LIST)
        return ss__fail_plain(-EINVAL, "config: cpu_affinity %d is not a setting",
                              (int)c->cpu_affinity);
    ss__cpus_allowed(allowed);
    if (c->cpu_affinity == SS_CPU_AFFINITY_LIST) {
        int rc = check_list(c->cpu_list, allowed);
        if (rc < 0) return rc;
    }
    memcpy(s->pin, c->cpu_affinity == SS_CPU_AFFINITY_AUTO ? allowed : c->cpu_list, sizeof s->pin);
    for (int i = 0; i < NBITS; i++) s->npin += bit(s->pin, i);
    if (s->npin == 0)
        return ss__fail_plain(-EINVAL, "config: cpu_affinity is a list, and cpu_list is empty");
    return 0;
}

/* The k-th CPU of the plan, in ascending order. */
static int nth_cpu(const uint64_t *mask, int k)
{
    for (int c = 0; c < NBITS; c++)
        if (bit(mask, c) && k-- == 0) return c;
    return 0;
}

void ss__pin(ss_server_t *s, int i, const char *what)
{
    if (s->npin == 0) return;
    int cpu = nth_cpu(s->pin, i % s->npin);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    /* pid 0 is the calling thread (sched_setaffinity(2)): a loop pins its
     * own thread, a prefork worker its whole (single-threaded) process. */
    if (sched_setaffinity(0, sizeof set, &set) < 0)
        ss__log(s, SS_LOG_WARN, "%s %d: pinning to CPU %d: %s", what, i, cpu,
                ss_strerror(ss__errno()));
    else
        ss__log(s, SS_LOG_DEBUG, "%s %d on CPU %d", what, i, cpu);
}
