/* log.c - the server's log: one line per event, through the configured
 * sink (ss_config_t.log) or "socketserver: LEVEL: message" on stderr, for
 * levels up to log_level. Every file of the library logs through here. */
#include "internal.h"

#include <stdio.h>

static void default_log(ss_log_level_t level, const char *msg, void *ctx)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    (void)ctx;
    fprintf(stderr, "socketserver: %s: %s\n", names[level & 3], msg);
}

SS_PRINTF(3, 0)
static void vlog(ss_server_t *s, ss_log_level_t level, const char *fmt, va_list ap)
{
    if (level > s->cfg.log_level) return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (s->cfg.log)
        s->cfg.log(level, msg, s->cfg.hook_ctx);
    else
        default_log(level, msg, NULL);
}

void ss__log(ss_server_t *s, ss_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(s, level, fmt, ap);
    va_end(ap);
}

void ss_server_log(ss_server_t *s, ss_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(s, level, fmt, ap);
    va_end(ap);
}
