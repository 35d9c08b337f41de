/* admit.c - admission by source: the allow and deny lists, and the table of
 * per-source state behind max_per_source, rate and the datagram reply
 * budgets (ss_config_t, "Admission by source"). The table is one fixed-size
 * MAP_SHARED mapping made at ss_server_create, so threads, event loops,
 * fork children and prefork workers all count into the same entries, and
 * its size is the bound on memory however many sources appear.
 *
 * Only atomics touch it on the hot path: no lock a dead child could leave
 * held. A set of WAYS entries is locked only to give an entry to a new
 * source, by a word holding the owner's PID, which the next one to need it
 * takes over once that process is gone or a zombie (proc(5)). A
 * connection's count is a ticket (internal.h); a fork child or a prefork
 * worker also records it in a lease naming its PID, and the parent
 * releases a dead child's leases when it reaps it (ss__admit_reaped): a
 * count is never leaked by a crash. */
#include "internal.h"
#include "proxy.h"

#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define WAYS           8     /* entries a source may use (its set) */
#define TABLE_DEFAULT  65536 /* entries when source_table_size is 0 */
#define TABLE_MIN      64
#define TABLE_MAX      (1 << 24)
#define LEASES         8192 /* live counts held by child processes, at most */
#define LEASE_PROBES   16
#define EVICTING       INT_MIN /* an entry's active count while it is reused */
#define NS             1000000000ULL
#define AMP_WINDOW_MS  1000U /* udp_amplification's credit lapses after this */
#define QUIET_MS       1000  /* one refusal line per reason per second */
#define TOUCH_EVERY_MS 100   /* an entry's last use is written at most this often */

typedef struct entry {
    _Atomic uint64_t key;      /* the source's keyed hash; 0: free */
    _Atomic uint64_t conn_tat; /* rate: GCRA's theoretical arrival time, ns */
    _Atomic uint64_t udp_tat;  /* udp_budget: the same, for reply bytes */
    _Atomic uint64_t amp;      /* udp_amplification: ms stamp << 32 | credit */
    _Atomic int active;        /* live connections; EVICTING while reused */
    _Atomic uint32_t used;     /* last use, ss_now_ms() modulo 2^32 */
} entry;

typedef struct lease {
    _Atomic int pid;       /* the child holding a count; 0: free */
    _Atomic uint32_t slot; /* its entry + 1; 0: none (yet) */
} lease;

/* The rate-limited refusal log of one reason. */
typedef struct quiet {
    _Atomic int64_t last_ms;
    _Atomic uint64_t more; /* refusals not logged since */
} quiet;

struct ss__admit {
    /* Read-only after creation. */
    uint64_t k0, k1; /* SipHash key: sources cannot aim at one set */
    uint32_t nsets;
    int bits4, bits6;
    int max_per_source;
    uint64_t rate_ns, burst_ns; /* GCRA: ns per token, and the bucket */
    uint64_t udp_budget;
    unsigned amplification;
    int streams; /* max_per_source or rate: stream tickets are taken */
    int nallow, ndeny;
    ss__cidr allow[SS_ADMIT_CIDRS_MAX];
    ss__cidr deny[SS_ADMIT_CIDRS_MAX];
    size_t size; /* of the mapping */
    /* Shared state. */
    quiet quiet[SS_REFUSED__COUNT];
    lease leases[LEASES];
    _Atomic int *locks; /* nsets words: the creating process's PID, or 0 */
    entry *entries;     /* nsets * WAYS */
};

/* ------------------------------------------------------------- helpers */

/* This process's ID, cached: reset in a child by the atfork handler. */
static _Atomic pid_t cached_pid;
/* Set in a fork child or prefork worker (ss__admit_in_child): a process
 * its parent reaps, whose counts are leased. */
static _Atomic int in_child;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void pid_forget(void)
{
    atomic_store(&cached_pid, 0);
}

static void pid_init(void)
{
    pthread_atfork(NULL, NULL, pid_forget);
}

static pid_t my_pid(void)
{
    pthread_once(&pid_once, pid_init);
    pid_t p = atomic_load_explicit(&cached_pid, memory_order_relaxed);
    if (p == 0) {
        p = getpid();
        atomic_store_explicit(&cached_pid, p, memory_order_relaxed);
    }
    return p;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sipround(uint64_t v[4])
{
    v[0] += v[1], v[1] = ROTL(v[1], 13), v[1] ^= v[0], v[0] = ROTL(v[0], 32);
    v[2] += v[3], v[3] = ROTL(v[3], 16), v[3] ^= v[2];
    v[0] += v[3], v[3] = ROTL(v[3], 21), v[3] ^= v[0];
    v[2] += v[1], v[1] = ROTL(v[1], 17), v[1] ^= v[2], v[2] = ROTL(v[2], 32);
}

/* SipHash-2-4 (Aumasson and Bernstein, 2012) of n bytes, n a multiple of 8:
 * keyed, so that a client cannot choose addresses that all fall into one
 * set and push honest sources out of it. */
static uint64_t siphash(const struct ss__admit *a, const unsigned char *in, size_t n)
{
    uint64_t v[4] = {a->k0 ^ 0x736f6d6570736575ULL, a->k1 ^ 0x646f72616e646f6dULL,
                     a->k0 ^ 0x6c7967656e657261ULL, a->k1 ^ 0x7465646279746573ULL};
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t m;
        memcpy(&m, in + i, 8);
        v[3] ^= m;
        sipround(v), sipround(v);
        v[0] ^= m;
    }
    uint64_t b = (uint64_t)n << 56;
    v[3] ^= b;
    sipround(v), sipround(v);
    v[0] ^= b;
    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++) sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* The IP address bytes of a (an IPv4-mapped IPv6 address is its IPv4
 * address, RFC 4291 section 2.5.5.2) and their count, 4 or 16; 0 for
 * another family. */
static int ip_bytes(const ss_addr_t *a, const unsigned char **out)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (a->sa.ss_family == AF_INET) {
        *out = (const unsigned char *)&((const struct sockaddr_in *)&a->sa)->sin_addr;
        return 4;
    }
    if (a->sa.ss_family != AF_INET6) return 0;
    *out = ((const struct sockaddr_in6 *)&a->sa)->sin6_addr.s6_addr;
    if (memcmp(*out, mapped, 12) != 0) return 16;
    *out += 12;
    return 4;
}

static void mask_bits(unsigned char *b, int n, int bits)
{
    for (int i = 0; i < n; i++) {
        int keep = bits - 8 * i;
        b[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
    }
}

/* The key of a source: an IP address cut to its prefix; a unix stream
 * peer's user ID (SO_PEERCRED, unix(7): fd is its socket), or, for a
 * datagram, the path it sent from (an unnamed sender is one source). */
static uint64_t source_key(const struct ss__admit *a, const ss_addr_t *peer, int fd)
{
    unsigned char m[24] = {0};
    const unsigned char *ip;
    int n = ip_bytes(peer, &ip);
    if (n > 0) {
        m[0] = (unsigned char)n;
        memcpy(m + 8, ip, (size_t)n);
        mask_bits(m + 8, n, n == 4 ? a->bits4 : a->bits6);
    } else if (peer->transport == SS_UNIX) {
        uid_t uid = (uid_t)-1;
        ss__peer_cred(fd, NULL, &uid, NULL); /* failed: "unknown", one source */
        m[0] = 'U';
        memcpy(m + 8, &uid, sizeof uid);
    } else {
        const struct sockaddr_un *un = (const struct sockaddr_un *)&peer->sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t len = peer->len > off ? peer->len - off : 0;
        unsigned char path[sizeof un->sun_path + 8] = {0};
        memcpy(path, un->sun_path, len < sizeof un->sun_path ? len : sizeof un->sun_path);
        uint64_t h = siphash(a, path, sizeof path - sizeof path % 8);
        m[0] = 'G';
        memcpy(m + 8, &h, sizeof h);
    }
    uint64_t k = siphash(a, m, sizeof m);
    return k ? k : 1;
}

/* ------------------------------------------------------ the refusal log */

/* Counts a refusal and logs it at debug, at most one line per reason per
 * second with the count of those not logged since: a flood of refused
 * clients must not become a flood of log lines. */
static void refused(ss_server_t *s, ss_refusal_t why, const ss_addr_t *peer, const char *what)
{
    ss__stats_refused(s, why);
    if (s->cfg.log_level < SS_LOG_DEBUG) return;
    quiet *q = &s->admit->quiet[why];
    int64_t now = ss_now_ms();
    int64_t last = atomic_load_explicit(&q->last_ms, memory_order_relaxed);
    if (now - last < QUIET_MS ||
        !atomic_compare_exchange_strong_explicit(&q->last_ms, &last, now, memory_order_relaxed,
                                                 memory_order_relaxed)) {
        atomic_fetch_add_explicit(&q->more, 1, memory_order_relaxed);
        return;
    }
    unsigned long long more = atomic_exchange_explicit(&q->more, 0, memory_order_relaxed);
    char text[SS_ADDRSTRLEN], tail[80] = "";
    ss_addr_format(peer, text, sizeof text);
    if (more)
        snprintf(tail, sizeof tail, " (and %llu more refused for %s since the last line)", more,
                 ss_refusal_name(why));
    ss__log(s, SS_LOG_DEBUG, "refused %s: %s%s", text, what, tail);
}

/* ------------------------------------------------------------ creation */

static int check(const ss_config_t *c)
{
    if (c->source_prefix_v4 < 0 || c->source_prefix_v4 > 32 || c->source_prefix_v6 < 0 ||
        c->source_prefix_v6 > 128)
        return ss__fail_plain(-EINVAL, "config: source_prefix_v4 (0 to 32), source_prefix_v6 "
                                       "(0 to 128)");
    if (c->max_per_source < 0 || c->rate_burst < 0 || !(c->rate >= 0 && c->rate <= 1e9))
        return ss__fail_plain(-EINVAL, "config: max_per_source, rate (0 to 1e9), rate_burst "
                                       "must not be negative");
    if (c->source_table_size < 0 || c->source_table_size > TABLE_MAX)
        return ss__fail_plain(-EINVAL, "config: source_table_size (0 to %d)", TABLE_MAX);
    return 0;
}

static int parse_list(const char *name, const char *text, ss__cidr *out, int *n)
{
    char why[128];
    *n = 0;
    if (!text) return 0;
    int k = ss__cidr_list_parse(text, out, SS_ADMIT_CIDRS_MAX, why, sizeof why);
    if (k < 0) return ss__fail_plain(-EINVAL, "config: %s: %s", name, why);
    *n = k;
    return 0;
}

static uint32_t table_sets(const ss_config_t *c)
{
    uint32_t want = c->source_table_size > 0 ? (uint32_t)c->source_table_size : TABLE_DEFAULT;
    uint32_t n = TABLE_MIN;
    while (n < want && n < TABLE_MAX) n *= 2;
    return n / WAYS;
}

static void settings(struct ss__admit *a, const ss_config_t *c)
{
    a->bits4 = c->source_prefix_v4;
    a->bits6 = c->source_prefix_v6;
    a->max_per_source = c->max_per_source;
    if (c->rate > 0) {
        int burst = c->rate_burst;
        if (burst == 0) { /* the rate rounded up */
            burst = (int)c->rate;
            if (burst < c->rate) burst++;
        }
        a->rate_ns = (uint64_t)((double)NS / c->rate);
        if (a->rate_ns == 0) a->rate_ns = 1;
        a->burst_ns = a->rate_ns * (uint64_t)(burst > 0 ? burst : 1);
    }
    a->udp_budget = c->udp_budget;
    a->amplification = c->udp_amplification;
    a->streams = c->max_per_source > 0 || c->rate > 0;
}

int ss__admit_new(ss_server_t *s)
{
    const ss_config_t *c = &s->cfg;
    int rc = check(c);
    if (rc < 0) return rc;
    if (!c->allow && !c->deny && !c->max_per_source && !(c->rate > 0) && !c->udp_budget &&
        !c->udp_amplification)
        return 0; /* nothing to judge: no table */
    uint32_t nsets = table_sets(c);
    size_t head = (sizeof(struct ss__admit) + 63) & ~(size_t)63;
    size_t locks = ((size_t)nsets * sizeof(int) + 63) & ~(size_t)63;
    size_t size = head + locks + (size_t)nsets * WAYS * sizeof(entry);
    /* Shared, and zero-filled: pages are touched only as sources appear. */
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return ss__fail(ss__errno(), "mmap (source table)");
    struct ss__admit *a = p;
    a->size = size;
    a->nsets = nsets;
    a->locks = (void *)((char *)p + head); /* both 64-byte aligned */
    a->entries = (void *)((char *)p + head + locks);
    s->admit = a;
    if ((rc = parse_list("allow", c->allow, a->allow, &a->nallow)) < 0 ||
        (rc = parse_list("deny", c->deny, a->deny, &a->ndeny)) < 0) {
        ss__admit_free(s);
        return rc;
    }
    if (getrandom(&a->k0, sizeof a->k0, 0) != sizeof a->k0 ||
        getrandom(&a->k1, sizeof a->k1, 0) != sizeof a->k1)
        a->k0 = (uint64_t)now_ns() ^ (uint64_t)getpid() << 32, a->k1 = (uint64_t)(uintptr_t)p;
    settings(a, c);
    return 0;
}

void ss__admit_free(ss_server_t *s)
{
    if (!s->admit) return;
    munmap(s->admit, s->admit->size);
    s->admit = NULL;
}

/* ---------------------------------------------------------- the lists */

int ss__admit_lists(ss_server_t *s, const ss_addr_t *peer, ss_refusal_t *why)
{
    const struct ss__admit *a = s->admit;
    if (!a || (a->nallow == 0 && a->ndeny == 0)) return 1;
    const unsigned char *ip;
    if (ip_bytes(peer, &ip) == 0) return 1; /* unix peers: allow_uid's */
    if (a->ndeny && ss__cidr_match(a->deny, a->ndeny, peer)) {
        refused(s, SS_REFUSED_DENY, peer, "on the deny list");
        *why = SS_REFUSED_DENY;
        return 0;
    }
    if (a->nallow && !ss__cidr_match(a->allow, a->nallow, peer)) {
        refused(s, SS_REFUSED_DENY, peer, "not on the allow list");
        *why = SS_REFUSED_DENY;
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------ entries */

/* Whether process pid is gone: no such process (kill(2) with signal 0),
 * or a zombie (its state in /proc/PID/stat, proc(5)), which its parent may
 * not reap while it waits here for the lock the dead child held. */
static int pid_dead(int pid)
{
    if (kill(pid, 0) < 0) return errno == ESRCH;
    char path[48], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')'); /* the name may hold anything */
    return paren && (paren[2] == 'Z' || paren[2] == 'X');
}

/* The set's creation lock, taken over from a process that died holding it.
 * Held only for a few stores. */
static void set_lock(_Atomic int *l)
{
    int me = my_pid();
    for (unsigned i = 1;; i++) {
        int owner = 0;
        if (atomic_compare_exchange_weak(l, &owner, me)) return;
        if (i % 1024 == 0 && owner != 0 && owner != me && pid_dead(owner) &&
            atomic_compare_exchange_strong(l, &owner, me))
            return;
        if (i % 64 == 0) sched_yield();
    }
}

static void set_unlock(_Atomic int *l)
{
    atomic_store(l, 0);
}

/* Which entry to give a new source: a free one, else the least recently
 * used of those without a live connection, preferring full buckets (their
 * state is the same as a new entry's). -1 when every entry of the set holds
 * a live connection. */
static int pick_victim(const entry *set, uint64_t tnow, uint32_t mnow)
{
    int best = -1;
    uint64_t best_score = 0;
    for (int w = 0; w < WAYS; w++) {
        const entry *e = &set[w];
        if (atomic_load(&e->key) == 0) return w;
        if (atomic_load(&e->active) != 0) continue;
        uint64_t score = (uint32_t)(mnow - atomic_load_explicit(&e->used, memory_order_relaxed));
        if (atomic_load(&e->conn_tat) <= tnow && atomic_load(&e->udp_tat) <= tnow)
            score += 1ULL << 32;
        if (best < 0 || score > best_score) best = w, best_score = score;
    }
    return best;
}

/* Under the set's lock: entries left EVICTING by a process that died in
 * the middle of a reuse are whole again (only a lock holder sets it). */
static void repair(entry *set)
{
    for (int w = 0; w < WAYS; w++) {
        int v = EVICTING;
        atomic_compare_exchange_strong(&set[w].active, &v, 0);
    }
}

static int create(entry *set, uint64_t key, uint32_t mnow)
{
    for (int w = 0; w < WAYS; w++)
        if (atomic_load(&set[w].key) == key) return w; /* made meanwhile */
    for (int tries = 0; tries < WAYS; tries++) {
        int w = pick_victim(set, now_ns(), mnow);
        if (w < 0) return -1;
        entry *e = &set[w];
        int zero = 0;
        if (!atomic_compare_exchange_strong(&e->active, &zero, EVICTING)) continue;
        atomic_store(&e->conn_tat, 0);
        atomic_store(&e->udp_tat, 0);
        atomic_store(&e->amp, 0);
        atomic_store(&e->used, mnow);
        atomic_store(&e->key, key);
        atomic_store(&e->active, 0);
        return w;
    }
    return -1;
}

/* The entry of key, made (or another source's reused) if create is set.
 * Returns its index, or -1 (not found; or full: every entry of its set
 * holds a live connection). */
static long find(struct ss__admit *a, uint64_t key, int create_it)
{
    uint32_t set_i = (uint32_t)(key >> 20) & (a->nsets - 1);
    entry *set = &a->entries[(size_t)set_i * WAYS];
    uint32_t mnow = (uint32_t)ss_now_ms();
    for (int w = 0; w < WAYS; w++) {
        entry *e = &set[w];
        if (atomic_load_explicit(&e->key, memory_order_acquire) != key) continue;
        if ((uint32_t)(mnow - atomic_load_explicit(&e->used, memory_order_relaxed)) >
            TOUCH_EVERY_MS)
            atomic_store_explicit(&e->used, mnow, memory_order_relaxed);
        return (long)set_i * WAYS + w;
    }
    if (!create_it) return -1;
    set_lock(&a->locks[set_i]);
    repair(set);
    int w = create(set, key, mnow);
    set_unlock(&a->locks[set_i]);
    return w < 0 ? -1 : (long)set_i * WAYS + w;
}

/* GCRA (the ATM Forum's generic cell rate algorithm, a token bucket kept
 * as one timestamp): takes cost_ns of the bucket of burst_ns at *tat, or
 * returns 0 leaving it as it was. */
static int gcra_take(_Atomic uint64_t *tat, uint64_t now, uint64_t cost_ns, uint64_t burst_ns)
{
    uint64_t t = atomic_load_explicit(tat, memory_order_relaxed);
    for (;;) {
        uint64_t next = (t > now ? t : now) + cost_ns;
        if (next - now > burst_ns) return 0;
        if (atomic_compare_exchange_weak_explicit(tat, &t, next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return 1;
    }
}

/* One more live connection on e, unless it is at max (0 = no limit).
 * Returns 1, 0 at the limit, -1 when e was given to another source meanwhile
 * (look again). */
static int hold(entry *e, uint64_t key, int max)
{
    int v = atomic_load(&e->active);
    for (;;) {
        if (v < 0) return -1;
        if (max > 0 && v >= max) return 0;
        if (atomic_compare_exchange_weak(&e->active, &v, v + 1)) break;
    }
    if (atomic_load(&e->key) == key) return 1;
    atomic_fetch_sub(&e->active, 1);
    return -1;
}

/* ------------------------------------------------------------ leases */

static lease *lease_probe(struct ss__admit *a, pid_t pid, int i)
{
    return &a->leases[((unsigned)pid * 2654435761u + (unsigned)i) % LEASES];
}

/* A child process records the count it holds, for ss__admit_reaped. */
static int lease_take(struct ss__admit *a, pid_t me, uint32_t slot)
{
    for (int i = 0; i < LEASE_PROBES; i++) {
        lease *l = lease_probe(a, me, i);
        int free_pid = 0;
        if (atomic_compare_exchange_strong(&l->pid, &free_pid, me)) {
            atomic_store(&l->slot, slot);
            return (int)(l - a->leases) + 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ streams */

static int ticket(struct ss__admit *a, long idx, ss__ticket *t)
{
    pid_t me = my_pid();
    t->table = a;
    t->slot = (uint32_t)idx + 1;
    t->pid = me;
    t->lease = 0;
    if (!atomic_load_explicit(&in_child, memory_order_relaxed)) return 1;
    t->lease = lease_take(a, me, t->slot);
    return t->lease != 0;
}

int ss__admit_source(ss_server_t *s, const ss_addr_t *peer, int fd, ss__ticket *t,
                     ss_refusal_t *why)
{
    struct ss__admit *a = s->admit;
    if (!a || !a->streams) return 1;
    uint64_t key = source_key(a, peer, fd);
    for (int tries = 0; tries < 4; tries++) {
        long idx = find(a, key, 1);
        if (idx < 0) break;
        entry *e = &a->entries[idx];
        if (a->rate_ns && !gcra_take(&e->conn_tat, now_ns(), a->rate_ns, a->burst_ns)) {
            refused(s, SS_REFUSED_RATE, peer, "new connections over its source's rate");
            *why = SS_REFUSED_RATE;
            return 0;
        }
        int h = hold(e, key, a->max_per_source);
        if (h < 0) continue;
        if (h == 0) {
            char text[64];
            snprintf(text, sizeof text, "max_per_source (%d) reached", a->max_per_source);
            refused(s, SS_REFUSED_PER_SOURCE, peer, text);
            *why = SS_REFUSED_PER_SOURCE;
            return 0;
        }
        if (ticket(a, idx, t)) return 1;
        atomic_fetch_sub(&e->active, 1);
        *t = (ss__ticket){0};
        refused(s, SS_REFUSED_PER_SOURCE, peer, "no lease left for a child's count");
        *why = SS_REFUSED_PER_SOURCE;
        return 0;
    }
    refused(s, SS_REFUSED_PER_SOURCE, peer, "the source table's set is full of live sources");
    *why = SS_REFUSED_PER_SOURCE;
    return 0;
}

void ss__admit_in_child(void)
{
    atomic_store(&in_child, 1);
}

void ss__admit_release(ss__ticket *t)
{
    struct ss__admit *a = t->table;
    if (!a || t->slot == 0 || t->pid != my_pid()) return; /* none, or the parent's */
    if (t->lease) {
        lease *l = &a->leases[t->lease - 1];
        atomic_store(&l->slot, 0);
        atomic_store(&l->pid, 0);
    }
    atomic_fetch_sub(&a->entries[t->slot - 1].active, 1);
    *t = (ss__ticket){0};
}

void ss__admit_reaped(ss_server_t *s, pid_t pid)
{
    struct ss__admit *a = s->admit;
    if (!a || !a->streams || pid <= 0) return;
    for (int i = 0; i < LEASE_PROBES; i++) {
        lease *l = lease_probe(a, pid, i);
        if (atomic_load(&l->pid) != pid) continue;
        uint32_t slot = atomic_exchange(&l->slot, 0);
        if (slot) atomic_fetch_sub(&a->entries[slot - 1].active, 1);
        atomic_store(&l->pid, 0);
    }
}

/* ---------------------------------------------------------- datagrams */

/* udp_amplification's credit word: the ms of the last datagram received
 * (high half) and the bytes that may still be sent (low half), which lapse
 * AMP_WINDOW_MS after it. */
static uint64_t amp_credit(uint64_t w, uint32_t mnow)
{
    return (uint32_t)(mnow - (uint32_t)(w >> 32)) > AMP_WINDOW_MS ? 0 : (uint32_t)w;
}

void ss__admit_datagram(ss_server_t *s, const ss_addr_t *peer, size_t n)
{
    struct ss__admit *a = s->admit;
    if (!a || !a->amplification) return;
    long idx = find(a, source_key(a, peer, -1), 1);
    if (idx < 0) return;
    _Atomic uint64_t *amp = &a->entries[idx].amp;
    uint32_t mnow = (uint32_t)ss_now_ms();
    uint64_t w = atomic_load(amp);
    for (;;) {
        uint64_t c = amp_credit(w, mnow) + (uint64_t)a->amplification * n;
        if (c > UINT32_MAX) c = UINT32_MAX;
        if (atomic_compare_exchange_weak(amp, &w, (uint64_t)mnow << 32 | c)) return;
    }
}

static int amp_spend(_Atomic uint64_t *amp, size_t n)
{
    uint32_t mnow = (uint32_t)ss_now_ms();
    uint64_t w = atomic_load(amp);
    for (;;) {
        uint64_t c = amp_credit(w, mnow);
        if (c < n) return 0;
        uint64_t next = (w & 0xffffffff00000000ULL) | (c - n);
        if (atomic_compare_exchange_weak(amp, &w, next)) return 1;
    }
}

/* A reply dropped: counted and logged, and the session's result (the
 * access log's "refused", reason "udp_budget"). Returns 0. */
static int reply_dropped(ss_conn_t *c, const char *what)
{
    refused(c->server, SS_REFUSED_UDP_BUDGET, &c->peer, what);
    c->result = SS__RESULT_REFUSED;
    c->refusal = SS_REFUSED_UDP_BUDGET;
    return 0;
}

/* The reply gate of a datagram connection (ss_conn.reply_gate): 1 to send
 * n bytes to its peer, 0 to drop them. A reply larger than the whole
 * budget is never sent. */
static int reply_gate(ss_conn_t *c, size_t n)
{
    ss_server_t *s = c->server;
    struct ss__admit *a = s->admit;
    long idx = find(a, source_key(a, &c->peer, -1), 1);
    if (idx < 0) return 1; /* cannot happen: datagram entries are always reusable */
    entry *e = &a->entries[idx];
    if (a->udp_budget) {
        uint64_t cost = (uint64_t)n * NS / a->udp_budget;
        if (!gcra_take(&e->udp_tat, now_ns(), cost ? cost : 1, NS))
            return reply_dropped(c, "reply over its source's udp_budget");
    }
    if (a->amplification && !amp_spend(&e->amp, n))
        return reply_dropped(c, "reply over udp_amplification times what its source sent");
    return 1;
}

ss__reply_gate_fn *ss__admit_gate(const ss_server_t *s)
{
    const struct ss__admit *a = s->admit;
    return a && (a->udp_budget || a->amplification) ? reply_gate : NULL;
}
