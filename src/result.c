/* result.c - why a session ended, as one machine-readable label that the
 * access log and /metrics share (ss__result_t in internal.h). Pure: the
 * cause is recorded on the connection where it is decided (conn.c); this
 * file only names it, or reads it from the handler's error. */
#include "internal.h"

static const char *const result_names[SS__RESULT__COUNT] = {
    [SS__RESULT_NONE] = "none",
    [SS__RESULT_OK] = "ok",
    [SS__RESULT_CLOSED] = "closed",
    [SS__RESULT_IDLE_TIMEOUT] = "idle_timeout",
    [SS__RESULT_LINE_TIMEOUT] = "line_timeout",
    [SS__RESULT_MIN_RATE] = "min_rate",
    [SS__RESULT_REQUEST_TIMEOUT] = "request_timeout",
    [SS__RESULT_ERROR] = "error",
    [SS__RESULT_CANCELLED] = "cancelled",
    [SS__RESULT_LINE_TOO_LONG] = "line_too_long",
    [SS__RESULT_PROXY] = "proxy",
    [SS__RESULT_TLS] = "tls",
    [SS__RESULT_REFUSED] = "refused",
    [SS__RESULT_OVERSIZE] = "oversize",
};

const char *ss__result_name(int r)
{
    if (r < 0 || r >= SS__RESULT__COUNT) return "?";
    return result_names[r];
}

/* The handler's error alone, when the connection recorded no cause of its
 * own for it. A peer that went away mid-session (a reset, EPIPE, the end of
 * stream inside a record: SS_EEOF) is the peer's doing: "closed". */
static ss__result_t from_error(int rc)
{
    switch (rc) {
    case -ECANCELED:
        return SS__RESULT_CANCELLED;
    case -ECONNRESET:
    case -EPIPE:
    case -ENOTCONN:
    case SS_EEOF:
        return SS__RESULT_CLOSED;
    case -ETIMEDOUT:
        return SS__RESULT_IDLE_TIMEOUT;
    case SS_ELINE:
        return SS__RESULT_LINE_TOO_LONG;
    case SS_ETLS:
        return SS__RESULT_TLS;
    default:
        return SS__RESULT_ERROR;
    }
}

/* A handler that returned >= 0 ended well, whatever it met on the way (it
 * may have answered a timeout itself). Else the connection's own record
 * when it explains this error (the handler passed it on, as most do), or
 * the layers' failure (handler.c reports those as -ECONNABORTED); a
 * cancellation is always "cancelled", whatever the call it hit. */
ss__result_t ss__session_result(const ss_conn_t *c, int rc)
{
    /* A datagram whose reply its source's budget dropped (admit.c). */
    if (rc >= 0) return c->result == SS__RESULT_REFUSED ? SS__RESULT_REFUSED : SS__RESULT_OK;
    if (rc == -ECANCELED) return SS__RESULT_CANCELLED;
    if (c->result != SS__RESULT_NONE && (rc == c->result_err || rc == -ECONNABORTED))
        return (ss__result_t)c->result;
    return from_error(rc);
}
