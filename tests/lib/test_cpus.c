/* test_cpus.c - "how many CPUs may I use" (src/cpus.c) on fixture trees of
 * /proc/self/cgroup, /proc/self/mountinfo and the cgroup files (v1, v2,
 * hybrid, nested, no limit, fractional quotas, garbage), SS_CPUS, and the
 * plan and act of pinning (cpu_affinity). The real system's counts are
 * checked from /proc by tests/cli/cpus.sh. */
#include "internal.h"
#include "test.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ fixtures */

static char root[256];

/* mkdir -p of path's parent directories. */
static void parents(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST) FAIL_AT("mkdir %s: errno %d", buf, errno);
        *p = '/';
    }
}

/* Writes text to root/rel, making its directories. */
static void put(const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    parents(path);
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void fresh_root(void)
{
    snprintf(root, sizeof root, "%s/ss-cpus.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ASSERT(mkdtemp(root) != NULL);
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

/* rm -rf of the fixture, deepest first. */
static void remove_root(void)
{
    ASSERT_EQ(nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* A mountinfo with the usual company around the cgroup lines. */
static void mountinfo(const char *cgroup_lines)
{
    char text[2048];
    snprintf(text, sizeof text,
             "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
             "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
             "%s"
             "40 22 0:40 / /tmp rw,nosuid,nodev shared:20 - tmpfs tmpfs rw,size=1024k\n",
             cgroup_lines);
    put("proc/self/mountinfo", text);
}

#define V2_MOUNT                                                                                   \
    "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "      \
    "rw,nsdelegate,memory_recursiveprot\n"

/* ss__cgroup_quota on the fixture: its result, the quota in thousandths of
 * a CPU in *milli (0 without one), and the message in why. */
static char why[256];
static int quota_milli(int64_t *milli)
{
    int64_t q = 0, p = 1;
    why[0] = '\0';
    int rc = ss__cgroup_quota(root, &q, &p, why, sizeof why);
    *milli = rc == 1 ? q * 1000 / p : 0;
    return rc;
}

/* The whole answer on the fixture, for a process with `allowed` CPUs. */
static ss__cpus probe(const char *env, int allowed)
{
    ss__cpus c;
    ss__cpus_probe(root, env, allowed, &c);
    return c;
}

/* ------------------------------------------------------------ cgroup v2 */

/* A Kubernetes container: limits.cpu 1.5 on its pod's group, nothing on
 * its own (containerd writes it there too; here only above, to show the
 * walk). */
static void test_v2(void)
{
    int64_t m;
    fresh_root();
    put("proc/self/cgroup", "0::/kubepods/pod1/ctr\n");
    mountinfo(V2_MOUNT);
    put("sys/fs/cgroup/kubepods/cpu.max", "max 100000\n");
    put("sys/fs/cgroup/kubepods/pod1/cpu.max", "150000 100000\n");
    put("sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "max 100000\n");
    ASSERT_EQ(quota_milli(&m), 1);
    ASSERT_EQ(m, 1500);
    ss__cpus c = probe(NULL, 8);
    ASSERT_EQ(c.n, 2); /* 1.5 rounded up */
    ASSERT_STR_EQ(c.why, "cgroup CPU quota 1.5");
    ASSERT_STR_EQ(c.note, "");
    /* A quota above the mask: the mask is the reason. */
    c = probe(NULL, 1);
    ASSERT_EQ(c.n, 1);
    ASSERT_STR_EQ(c.why, "1 CPU in the affinity mask");
    remove_root();
}

/* Nested groups: the smallest quota on the way up counts, wherever it is. */
static void test_nested(void)
{
    int64_t m;
    fresh_root();
    put("proc/self/cgroup", "0::/a/b/c\n");
    mountinfo(V2_MOUNT);
    put("sys/fs/cgroup/a/cpu.max", "300000 100000\n");
    put("sys/fs/cgroup/a/b/cpu.max", "50000 100000\n");
    put("sys/fs/cgroup/a/b/c/cpu.max", "200000 100000\n");
    ASSERT_EQ(quota_milli(&m), 1);
    ASSERT_EQ(m, 500);
    ss__cpus c = probe(NULL, 4);
    ASSERT_EQ(c.n, 1);
    ASSERT_STR_EQ(c.why, "cgroup CPU quota 0.5");
    /* Periods differ: 60 ms of 50 (1.2) against 150 of 100 (1.5). */
    put("sys/fs/cgroup/a/b/cpu.max", "150000 100000\n");
    put("sys/fs/cgroup/a/cpu.max", "60000 50000\n");
    ASSERT_EQ(quota_milli(&m), 1);
    ASSERT_EQ(m, 1200);
    remove_root();
}

/* "max": no limit anywhere; the affinity count stands. */
static void test_max(void)
{
    int64_t m;
    fresh_root();
    put("proc/self/cgroup", "0::/user.slice/session-1.scope\n");
    mountinfo(V2_MOUNT);
    put("sys/fs/cgroup/user.slice/cpu.max", "max 100000\n");
    put("sys/fs/cgroup/user.slice/session-1.scope/cpu.max", "max 100000\n");
    ASSERT_EQ(quota_milli(&m), 0);
    ss__cpus c = probe(NULL, 2);
    ASSERT_EQ(c.n, 2);
    ASSERT_STR_EQ(c.why, "2 CPUs in the affinity mask");
    ASSERT_STR_EQ(c.note, "");
    /* The root group of a cgroup namespace ("0::/") has no cpu.max. */
    put("proc/self/cgroup", "0::/\n");
    ASSERT_EQ(quota_milli(&m), 0);
    remove_root();
}

/* Fractional quotas round up: 0.25 is one CPU, 2.5 three. */
static void test_fractional(void)
{
    int64_t m;
    fresh_root();
    put("proc/self/cgroup", "0::/svc\n");
    mountinfo(V2_MOUNT);
    put("sys/fs/cgroup/svc/cpu.max", "25000 100000\n");
    ASSERT_EQ(quota_milli(&m), 1);
    ASSERT_EQ(m, 250);
    ss__cpus c = probe(NULL, 64);
    ASSERT_EQ(c.n, 1);
    ASSERT_STR_EQ(c.why, "cgroup CPU quota 0.25");
    put("sys/fs/cgroup/svc/cpu.max", "250000 100000\n");
    c = probe(NULL, 64);
    ASSERT_EQ(c.n, 3);
    ASSERT_STR_EQ(c.why, "cgroup CPU quota 2.5");
    /* A quota of one period exactly is one CPU, not two. */
    put("sys/fs/cgroup/svc/cpu.max", "100000 100000\n");
    ASSERT_EQ(probe(NULL, 64).n, 1);
    remove_root();
}

/* ------------------------------------------------------------ cgroup v1 */

/* Docker without a cgroup namespace: the mount's root is the container's
 * own group, so the group's path maps to the mount point itself. */
static void test_v1(void)
{
    int64_t m;
    fresh_root();
    put("proc/self/cgroup", "12:memory:/docker/abc\n"
                            "4:cpu,cpuacct:/docker/abc\n"
                            "3:cpuset:/docker/abc\n"
                            "1:name=systemd:/docker/abc\n");
    mountinfo("35 25 0:31 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup "
              "rw,cpu,cpuacct\n"
              "36 25 0:32 /docker/abc /sys/fs/cgroup/cpuset ro,nosuid - cgroup cgroup rw,cpuset\n");
    put("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "100000\n");
    put("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
    ASSERT_EQ(quota_milli(&m), 1);
    ASSERT_EQ(m, 1000);
    ss__cpus c = probe(NULL, 4);
    ASSERT_EQ(c.n, 1);
    ASSERT_STR_EQ(c.why, "cgroup CPU quota 1");
    /* -1: no limit. */
    put("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
    ASSERT_EQ(quota_milli(&m), 0);
    /* A group outside what is mounted: its limit cannot be seen. */
    put("proc/self/cgroup", "4:cpu,cpuacct:/other\n");
    ASSERT_EQ(quota_milli(&m), 0);
    remove_root();
}

/* v1 nested, with the whole hierarchy mounted (a host): the walk stops at
 * the mount point. */
static void test_v1_nested(void)
{
    int64_t m;
    fresh_root();
    put("proc/self/cgroup", "2:cpu:/a/b\n");
    mountinfo("32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n");
    put("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n");
    put("sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
    put("sys/fs/cgroup/cpu/a/cpu.cfs_quota_us", "30000\n");
    put("sys/fs/cgroup/cpu/a/cpu.cfs_period_us", "10000\n");
    put("sys/fs/cgroup/cpu/a/b/cpu.cfs_quota_us", "-1\n");
    put("sys/fs/cgroup/cpu/a/b/cpu.cfs_period_us", "100000\n");
    ASSERT_EQ(quota_milli(&m), 1);
    ASSERT_EQ(m, 3000);
    remove_root();
}

/* Hybrid (v1 controllers and an empty v2 hierarchy, as systemd's
 * "hybrid" sets up): the v1 cpu controller limits; a cpu.max in the
 * unified hierarchy (which cannot have the controller then) is not read.
 * And a v1 cpu line whose hierarchy is not mounted falls through to v2. */
static void test_hybrid(void)
{
    int64_t m;
    fresh_root();
    put("proc/self/cgroup", "9:name=systemd:/grp\n1:cpu:/grp\n0::/grp\n");
    mountinfo("31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
              "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
              "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
    put("sys/fs/cgroup/cpu/grp/cpu.cfs_quota_us", "200000\n");
    put("sys/fs/cgroup/cpu/grp/cpu.cfs_period_us", "100000\n");
    put("sys/fs/cgroup/unified/grp/cpu.max", "50000 100000\n");
    ASSERT_EQ(quota_milli(&m), 1);
    ASSERT_EQ(m, 2000);
    mountinfo("41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
    ASSERT_EQ(quota_milli(&m), 1);
    ASSERT_EQ(m, 500);
    remove_root();
}

/* mountinfo escapes a space as \040 (proc(5)). */
static void test_escaped(void)
{
    int64_t m;
    fresh_root();
    put("proc/self/cgroup", "0::/g\n");
    mountinfo("30 23 0:26 / /sys/fs/cg\\040two rw shared:4 - cgroup2 cgroup2 rw\n");
    put("sys/fs/cg two/g/cpu.max", "70000 100000\n");
    ASSERT_EQ(quota_milli(&m), 1);
    ASSERT_EQ(m, 700);
    remove_root();
}

/* No /proc, no cgroup file system, no cpu controller: no limit, no note. */
static void test_none(void)
{
    int64_t m;
    fresh_root();
    ASSERT_EQ(quota_milli(&m), 0);
    put("proc/self/cgroup", "3:memory:/x\n");
    ASSERT_EQ(quota_milli(&m), 0);
    put("proc/self/cgroup", "0::/x\n");
    mountinfo(""); /* no cgroup2 mounted */
    ASSERT_EQ(quota_milli(&m), 0);
    ss__cpus c = probe(NULL, 3);
    ASSERT_EQ(c.n, 3);
    ASSERT_STR_EQ(c.note, "");
    remove_root();
}

/* ------------------------------------------------------------ garbage */

/* Garbage in a file: -EINVAL naming the file; the answer falls back to the
 * affinity count with a note (a debug line), never a failure. */
static void expect_garbage(const char *file_part)
{
    int64_t m;
    ASSERT_EQ(quota_milli(&m), -EINVAL);
    if (!strstr(why, file_part)) FAIL_AT("\"%s\" does not name %s", why, file_part);
    ss__cpus c = probe(NULL, 2);
    ASSERT_EQ(c.n, 2);
    ASSERT_STR_EQ(c.why, "2 CPUs in the affinity mask");
    if (!strstr(c.note, "cgroup CPU quota ignored") || !strstr(c.note, file_part))
        FAIL_AT("note \"%s\"", c.note);
}

static void test_garbage(void)
{
    static const char *const cpu_max[] = {
        "lots 100000", "50000",    "50000 0", "50000 x",      " 100000",
        "-5 100000",   "0 100000", "",        "\x01\x02\xff",
    };
    fresh_root();
    put("proc/self/cgroup", "0::/g\n");
    mountinfo(V2_MOUNT);
    for (unsigned i = 0; i < sizeof cpu_max / sizeof cpu_max[0]; i++) {
        put("sys/fs/cgroup/g/cpu.max", cpu_max[i]);
        expect_garbage("g/cpu.max");
    }
    /* v1's files. */
    put("proc/self/cgroup", "2:cpu:/g\n");
    mountinfo("32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n");
    put("sys/fs/cgroup/cpu/g/cpu.cfs_quota_us", "abc\n");
    put("sys/fs/cgroup/cpu/g/cpu.cfs_period_us", "100000\n");
    expect_garbage("cpu.cfs_quota_us");
    put("sys/fs/cgroup/cpu/g/cpu.cfs_quota_us", "50000\n");
    put("sys/fs/cgroup/cpu/g/cpu.cfs_period_us", "0\n");
    expect_garbage("cpu.cfs_quota_us");
    /* The process's groups, and the mounts. */
    put("proc/self/cgroup", "no colons here\n");
    expect_garbage("proc/self/cgroup");
    put("proc/self/cgroup", "0::relative/path\n");
    expect_garbage("proc/self/cgroup");
    put("proc/self/cgroup", "2:cpu:/g\n");
    put("proc/self/mountinfo", "this is not a mount table at all\n");
    expect_garbage("proc/self/mountinfo");
    remove_root();
}

/* Huge numbers saturate instead of overflowing: a limit beyond any machine. */
static void test_huge(void)
{
    int64_t m;
    fresh_root();
    put("proc/self/cgroup", "0::/g\n");
    mountinfo(V2_MOUNT);
    put("sys/fs/cgroup/g/cpu.max", "99999999999999999999999999 100000\n");
    ASSERT_EQ(quota_milli(&m), 1);
    ASSERT_EQ(probe(NULL, 4).n, 4);
    remove_root();
}

/* ------------------------------------------------------------ SS_CPUS */

static void test_env(void)
{
    fresh_root();
    put("proc/self/cgroup", "0::/g\n");
    mountinfo(V2_MOUNT);
    put("sys/fs/cgroup/g/cpu.max", "50000 100000\n");
    ss__cpus c = probe("3", 2); /* overrides the quota and the mask */
    ASSERT_EQ(c.n, 3);
    ASSERT_STR_EQ(c.why, "SS_CPUS=3");
    static const char *const bad[] = {"0", "-1", "two", "1.5", "2000", " 2"};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = probe(bad[i], 2);
        ASSERT_EQ(c.n, 1); /* the quota's */
        ASSERT(strstr(c.note, "SS_CPUS") != NULL);
    }
    c = probe("", 2); /* set but empty: as unset */
    ASSERT_STR_EQ(c.note, "");
    remove_root();
}

/* ------------------------------------------------------------ pinning */

static ss_server_t *fake_server(ss_cpu_affinity_t a)
{
    static ss_server_t s;
    memset(&s, 0, sizeof s);
    ss_config_init(&s.cfg);
    s.cfg.log_level = SS_LOG_ERROR;
    s.cfg.cpu_affinity = a;
    return &s;
}

static void *pin_thread(void *arg)
{
    ss_server_t *s = arg;
    ss__pin(s, 1, "test");
    cpu_set_t set;
    ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    ASSERT_EQ(CPU_COUNT(&set), 1);
    /* Index 1 of the plan: the second CPU the process may use, or the
     * first again on a one-CPU machine (going round). */
    uint64_t allowed[SS_CPU_LIST_WORDS];
    int n = ss__cpus_allowed(allowed);
    int want = -1;
    for (int c = 0, k = 0; c < SS_CPU_LIST_WORDS * 64; c++)
        if (allowed[c / 64] >> (c % 64) & 1 && k++ == 1 % n) want = c;
    ASSERT(CPU_ISSET(want, &set));
    return NULL;
}

static void test_pin(void)
{
    uint64_t allowed[SS_CPU_LIST_WORDS];
    int n = ss__cpus_allowed(allowed);
    ASSERT_GE(n, 1);
    ss_server_t *s = fake_server(SS_CPU_AFFINITY_NONE);
    ASSERT_OK(ss__pin_plan(s));
    ASSERT_EQ(s->npin, 0);
    ss__pin(s, 0, "test"); /* nothing to do */
    s = fake_server(SS_CPU_AFFINITY_AUTO);
    ASSERT_OK(ss__pin_plan(s));
    ASSERT_EQ(s->npin, n);
    ASSERT_MEM_EQ(s->pin, allowed, sizeof allowed);
    /* Pinned in a thread of its own: the test's other threads keep the mask. */
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, pin_thread, s), 0);
    pthread_join(t, NULL);
    cpu_set_t set;
    ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    ASSERT_EQ(CPU_COUNT(&set), n);
    /* A list of one allowed CPU. */
    int first = 0;
    while (!(allowed[first / 64] >> (first % 64) & 1)) first++;
    s = fake_server(SS_CPU_AFFINITY_LIST);
    s->cfg.cpu_list[first / 64] = UINT64_C(1) << (first % 64);
    ASSERT_OK(ss__pin_plan(s));
    ASSERT_EQ(s->npin, 1);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        {"v2", test_v2},         {"nested", test_nested},
        {"max", test_max},       {"fractional", test_fractional},
        {"v1", test_v1},         {"v1_nested", test_v1_nested},
        {"hybrid", test_hybrid}, {"escaped", test_escaped},
        {"none", test_none},     {"garbage", test_garbage},
        {"huge", test_huge},     {"env", test_env},
        {"pin", test_pin},       {NULL, NULL},
    };
    return test_main(cases, argc, argv);
}
