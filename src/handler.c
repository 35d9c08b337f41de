/* handler.c - running one request's handler on the connection the intake
 * built: the listener's layers started, BaseRequestHandler's setup / handle /
 * finish, the final flush (for a datagram: the reply), and handle_error when
 * the request fails. Shared by every mode. */
#include "internal.h"

#include <errno.h>

/* A peer that went away (reset, or a write after it closed: tcp(7), EPIPE in
 * send(2)) is the client's doing and routine under load: info, so that a
 * benchmark's 10,000 closing clients do not flood a --quiet log. Anything
 * else (a timeout, a protocol error, a cancellation) is a warning. */
void ss__report_error(ss_server_t *s, ss_conn_t *c, int err)
{
    const char *msg = c->errmsg[0] ? c->errmsg : ss_strerror(err);
    int level = err == -ECONNRESET || err == -EPIPE ? SS_LOG_INFO : SS_LOG_WARN;
    ss__log(s, level, "request from %s failed: %s", ss_conn_peername(c), msg);
}

/* handle_error, or the default report. */
static void report(ss_server_t *s, ss_conn_t *c, int err)
{
    if (s->cfg.handle_error)
        s->cfg.handle_error(s, c, err, s->cfg.hook_ctx);
    else
        ss__report_error(s, c, err);
}

/* The listener's layers, made and started before setup (a handshake, a
 * PROXY header), under the connection's deadlines. A failure ends the
 * connection with a log line; no hook of the handler runs. A listener that
 * admits late (a PROXY header) then runs verify_request on the address its
 * header gave (ss__intake_admit_peer): a refusal ends it the same way. */
static int start_layers(ss_server_t *s, ss_conn_t *c)
{
    const ss__listener *l = c->listener;
    int rc = 0;
    for (int i = 0; l && i < l->nlayers && rc == 0; i++)
        rc = l->layers[i].push(c, l->layers[i].arg);
    if (rc == 0) rc = ss__conn_start(c);
    if (rc < 0) {
        if (c->failed) ss__stats_refused(s, (ss_refusal_t)c->failed->refusal);
        report(s, c, rc);
    }
    return rc;
}

/* The admission of the address a PROXY header gave (allow, deny,
 * verify_request, its source's limits): a refusal is the session's result
 * (the access log's "refused", with the reason admission set). */
static int refused_late(ss_server_t *s, ss_conn_t *c)
{
    if (ss__intake_admit_peer(s, c)) return 1;
    c->result = SS__RESULT_REFUSED;
    c->result_err = -ECONNABORTED;
    return 0;
}

int ss__run_handler(ss_server_t *s, ss_conn_t *c)
{
    ss__ctx *ctx = ss__ctx_get();
    int saved_cancel = ctx->cancel_fd;
    ctx->cancel_fd = s->cancel_fd;
    if (s->cfg.request_timeout_ms > 0) c->deadline = ss_now_ms() + s->cfg.request_timeout_ms;
    if (c->listener && c->listener->nlayers &&
        (start_layers(s, c) < 0 || (c->listener->admit_late && !refused_late(s, c)))) {
        ctx->cancel_fd = saved_cancel;
        c->flags |= SS__C_REFUSED;
        ss__stats_session(s, c, -ECONNABORTED);
        ss__alog_session(s, c, -ECONNABORTED);
        return -ECONNABORTED;
    }
    void *hc = s->h.ctx;
    int rc = 0;
    int go = s->h.setup ? s->h.setup(c, hc) : 0;
    if (go < 0) rc = go;
    if (go == 0) rc = s->h.handle(c, hc);
    if (s->h.finish) s->h.finish(c, hc);
    /* What a stream handler wrote before it failed is still sent (a reply
     * then an over-long line: the reply must not depend on how the client's
     * bytes were split, found by fuzz/fuzz_svc.c); a failed datagram
     * handler sends no half-built reply; a cancelled one sends nothing. */
    int stream_failed = rc < 0 && rc != -ECANCELED && !(c->flags & SS__C_DGRAM);
    if ((rc >= 0 || stream_failed) && !(c->flags & SS__C_FAILED)) {
        int f = ss_flush(c);
        if (f < 0 && rc >= 0) rc = f;
    }
    if (rc < 0) report(s, c, rc);
    ctx->cancel_fd = saved_cancel;
    ss__stats_session(s, c, rc);
    ss__alog_session(s, c, rc);
    return rc;
}
