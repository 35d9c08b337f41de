/* error.c - error codes, messages and the per-thread (per-coroutine) context
 * that carries the last message and the wait seam (internal.h). */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static _Thread_local ss__ctx thread_ctx = {.cancel_fd = -1};
static _Thread_local ss__ctx *current;

ss__ctx *ss__ctx_get(void)
{
    return current ? current : &thread_ctx;
}

ss__ctx *ss__ctx_swap(ss__ctx *ctx)
{
    ss__ctx *prev = ss__ctx_get();
    current = ctx;
    return prev;
}

const char *ss_strerror(int err)
{
    switch (err) {
    case 0:
        return "Success";
    case SS_EADDR:
        return "Malformed address";
    case SS_ERESOLVE:
        return "Host name not resolved";
    case SS_ELINE:
        return "Line too long";
    case SS_ETRUNC:
        return "Datagram truncated";
    case SS_EEOF:
        return "Unexpected end of stream";
    case SS_EMODE:
        return "Mode not available";
    case SS_EUSAGE:
        return "Invalid argument";
    case SS_ETLS:
        return "TLS failure";
    default:
        break;
    }
    if (err < 0 && err > -4096) {
        /* strerror(3) is not thread-safe in general; glibc's strerrordesc_np
         * returns a static string and is. */
        const char *d = strerrordesc_np(-err);
        if (d) return d;
    }
    return "Unknown error";
}

const char *ss_errmsg(void)
{
    return ss__ctx_get()->errmsg;
}

SS_PRINTF(3, 0)
static int vfail(char *dst, int err, const char *fmt, va_list ap)
{
    ss__ctx *ctx = ss__ctx_get();
    char *m = ctx->errmsg;
    int n = vsnprintf(m, sizeof ctx->errmsg, fmt, ap);
    if (n >= 0 && (size_t)n < sizeof ctx->errmsg)
        snprintf(m + n, sizeof ctx->errmsg - (size_t)n, ": %s", ss_strerror(err));
    if (dst && dst != m) memcpy(dst, m, sizeof ctx->errmsg);
    return err;
}

int ss__fail(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(NULL, err, fmt, ap);
    va_end(ap);
    return err;
}

int ss__fail_into(char *dst, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(dst, err, fmt, ap);
    va_end(ap);
    return err;
}

int ss__fail_plain(int err, const char *fmt, ...)
{
    ss__ctx *ctx = ss__ctx_get();
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
    va_end(ap);
    return err;
}

int ss__errno(void)
{
    return errno > 0 ? -errno : -EIO;
}
