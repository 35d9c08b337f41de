/* stats.c - the server's counters (ss_server_stats): connections accepted,
 * refusals by reason, requests, bytes, failed and timed-out handlers and a
 * session-duration histogram.
 *
 * The design. Every mode counts on its hot path (an event loop, a pool
 * thread, a fork child, a prefork worker), and one reader sums now and then
 * (a scrape of /metrics): so the counters are striped, as Linux's percpu
 * counters and Java's LongAdder are. The server's shared mapping
 * (ss__shared, MAP_SHARED, so that fork and prefork children count into
 * what the parent reads) holds SS__STATS_STRIPES blocks of counters, each
 * on cache lines of its own. A thread picks its stripe once, from its
 * thread id (gettid(2): unique across the threads and processes that run
 * at once, and consecutive for threads made one after another, so event
 * loops and pool threads land on different stripes); a forked child picks
 * again (pthread_atfork), since it is a new thread id. A thread then adds
 * only to its own stripe: no lock, no line bouncing between loops. Adds are
 * relaxed atomics (a counter orders nothing), so two threads that happen to
 * share a stripe still count exactly; and a child killed in the middle of
 * one leaves every counter whole: an atomic add either happened or did not,
 * and there is no lock a death could leave held. The reader sums the
 * stripes, each counter exact, the snapshot not one instant (requests run
 * while it reads). */
#include "internal.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

static const char *const refusal_names[SS_REFUSED__COUNT] = {
    [SS_REFUSED_MAX_CONNECTIONS] = "max_connections",
    [SS_REFUSED_PER_SOURCE] = "per_source",
    [SS_REFUSED_RATE] = "rate",
    [SS_REFUSED_DENY] = "deny",
    [SS_REFUSED_EMFILE] = "emfile",
    [SS_REFUSED_PROXY] = "proxy",
    [SS_REFUSED_TLS] = "tls",
    [SS_REFUSED_VERIFY] = "verify",
    [SS_REFUSED_PEER_CRED] = "peer_cred",
    [SS_REFUSED_UDP_BUDGET] = "udp_budget",
};

/* The histogram's upper bounds in milliseconds: Prometheus's default
 * buckets (client_golang's DefBuckets, 5 ms to 10 s) widened to 1 ms below
 * and 60 s above, since a session may be one fast datagram or a long chat;
 * the last is +Inf. */
static const uint64_t bucket_ms[SS_STATS_BUCKETS] = {
    1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, UINT64_MAX};

const char *ss_refusal_name(ss_refusal_t why)
{
    if ((unsigned)why >= SS_REFUSED__COUNT) return "?";
    return refusal_names[why];
}

/* ------------------------------------------------------------ counting */

static _Thread_local int my_stripe = -1;

/* A forked child is a new thread id: it picks a stripe of its own. */
static void forget_stripe(void)
{
    my_stripe = -1;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, forget_stripe);
}

static ss__stripe *stripe(ss_server_t *s)
{
    if (my_stripe < 0) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, register_atfork);
        my_stripe = (int)((unsigned)gettid() % SS__STATS_STRIPES);
    }
    return &s->shared->stats[my_stripe];
}

static void add(atomic_ulong *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

void ss__stats_refused(ss_server_t *s, ss_refusal_t why)
{
    if ((unsigned)why >= SS_REFUSED__COUNT || !s->shared) return;
    add(&stripe(s)->refused[why], 1);
}

void ss__stats_accepted(ss_server_t *s)
{
    if (s->shared) add(&stripe(s)->accepted, 1);
}

static int bucket_of(uint64_t ms)
{
    int i = 0;
    while (ms > bucket_ms[i]) i++; /* the last bound is UINT64_MAX */
    return i;
}

/* A session that its layers or the late admission refused was counted as a
 * refusal there: only its bytes (a TLS alert, a PROXY header) count here.
 * A timeout is a handler error too, one with a counter of its own. */
void ss__stats_session(ss_server_t *s, const ss_conn_t *c, int rc)
{
    if (!s->shared) return;
    ss__stripe *st = stripe(s);
    if (c->bytes_in) add(&st->bytes_in, c->bytes_in);
    if (c->bytes_out) add(&st->bytes_out, c->bytes_out);
    if (c->flags & SS__C_REFUSED) return;
    int64_t took = ss_now_ms() - c->started_ms;
    uint64_t ms = took > 0 ? (uint64_t)took : 0;
    add(&st->requests, 1);
    add(&st->duration[bucket_of(ms)], 1);
    add(&st->duration_sum_ms, ms);
    if (rc < 0 && rc != -ECONNABORTED) add(&st->handler_errors, 1);
    if (rc == -ETIMEDOUT) add(&st->timeouts, 1);
    add(&st->ended[ss__session_result(c, rc)], 1);
}

void ss__stats_dropped(ss_server_t *s, ss__result_t result)
{
    if (s->shared && (unsigned)result < SS__RESULT__COUNT) add(&stripe(s)->ended[result], 1);
}

_Static_assert(SS__RESULT__COUNT <= SS_STATS_RESULTS, "ss_stats_t.ended too small");

const char *ss_stats_result_name(int i)
{
    /* NONE is never a session's result; REFUSED is counted in refused[]. */
    if (i <= SS__RESULT_NONE || i >= SS__RESULT__COUNT || i == SS__RESULT_REFUSED) return NULL;
    return ss__result_name(i);
}

/* ------------------------------------------------------------ reading */

static uint64_t get(const atomic_ulong *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

static void sum_stripe(const ss__stripe *st, ss_stats_t *out)
{
    out->accepted += get(&st->accepted);
    out->requests += get(&st->requests);
    out->bytes_in += get(&st->bytes_in);
    out->bytes_out += get(&st->bytes_out);
    out->handler_errors += get(&st->handler_errors);
    out->timeouts += get(&st->timeouts);
    out->duration_sum_ms += get(&st->duration_sum_ms);
    for (int i = 0; i < SS_REFUSED__COUNT; i++) out->refused[i] += get(&st->refused[i]);
    for (int i = 0; i < SS_STATS_BUCKETS; i++) out->duration_bucket[i] += get(&st->duration[i]);
    for (int i = 0; i < SS_STATS_RESULTS; i++) out->ended[i] += get(&st->ended[i]);
}

void ss__stats_sum(const ss_server_t *s, ss_stats_t *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; s->shared && i < SS__STATS_STRIPES; i++) sum_stripe(&s->shared->stats[i], out);
    /* Cumulative, as Prometheus's le buckets are. */
    for (int i = 0; i < SS_STATS_BUCKETS; i++) {
        out->duration_le_ms[i] = bucket_ms[i];
        if (i > 0) out->duration_bucket[i] += out->duration_bucket[i - 1];
    }
}
