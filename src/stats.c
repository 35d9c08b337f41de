/* stats.c - the server's counters: refusals by reason, kept in the shared
 * page (ss__shared) so fork and prefork children count into the parent's
 * view, with relaxed atomics (a counter orders nothing); and the sessions,
 * their bytes and failed handlers. */
#include "internal.h"

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

const char *ss_refusal_name(ss_refusal_t why)
{
    if ((unsigned)why >= SS_REFUSED__COUNT) return "?";
    return refusal_names[why];
}

void ss__stats_refused(ss_server_t *s, ss_refusal_t why)
{
    if ((unsigned)why >= SS_REFUSED__COUNT || !s->shared) return;
    atomic_fetch_add_explicit(&s->shared->refused[why], 1, memory_order_relaxed);
}

void ss__stats_session(ss_server_t *s, const ss_conn_t *c, int rc)
{
    ss__shared *sh = s->shared;
    if (!sh) return;
    atomic_fetch_add_explicit(&sh->requests, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sh->bytes_in, c->bytes_in, memory_order_relaxed);
    atomic_fetch_add_explicit(&sh->bytes_out, c->bytes_out, memory_order_relaxed);
    if (rc < 0 && rc != -ECONNABORTED)
        atomic_fetch_add_explicit(&sh->handler_errors, 1, memory_order_relaxed);
}
